package dist_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
)

// incrementElems adds 1 to every element of the Array "a" of n elements,
// rounds times, with Update.
func incrementElems(endpoint, ns string, n, rounds int) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	a, err := dist.NewArray[int32](ctx, c, "a", n)
	if err != nil {
		return err
	}
	for range rounds {
		for i := range n {
			if _, err := a.Update(ctx, i, func(x int32) int32 { return x + 1 }); err != nil {
				return err
			}
		}
	}
	return nil
}

func init() { shm.Register(incrementElems) }

func TestArray(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	type point struct{ X, Y float64 }
	a, err := dist.NewArray[point](ctx, c, "pts", 4)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 4 {
		t.Fatalf("Len = %d", a.Len())
	}
	if p, err := a.Load(ctx, 2); p != (point{}) || err != nil {
		t.Fatalf("Load of a new element = %v, %v", p, err)
	}
	if err := a.Store(ctx, 1, point{1, 2}); err != nil {
		t.Fatal(err)
	}
	p, err := a.Update(ctx, 3, func(p point) point { p.X += 5; return p })
	if p != (point{5, 0}) || err != nil {
		t.Fatalf("Update = %v, %v", p, err)
	}
	// Another Client (another process) sees the same elements.
	b, err := dist.NewArray[point](ctx, connect(t), "pts", 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Snapshot(ctx)
	if want := []point{{}, {1, 2}, {}, {5, 0}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Snapshot = %v, %v; want %v", got, err, want)
	}
	if p, err := b.Update(ctx, 1, func(p point) point { p.Y *= 10; return p }); p != (point{1, 20}) || err != nil {
		t.Fatalf("Update through the other Client = %v, %v", p, err)
	}
	if p, err := a.Update(ctx, 1, func(p point) point { p.X++; return p }); p != (point{2, 20}) || err != nil {
		t.Fatalf("Update of an element another Client changed = %v, %v", p, err)
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "index out of range") {
				t.Fatalf("Load(4) of 4 elements: panic %v", r)
			}
		}()
		a.Load(ctx, 4)
	}()
}

func TestArrayLayout(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	if _, err := dist.NewArray[int32](ctx, c, "a", 4); err != nil {
		t.Fatal(err)
	}
	for _, open := range []func() error{
		func() error { _, err := dist.NewArray[int32](ctx, c, "a", 5); return err },
		func() error { _, err := dist.NewArray[int64](ctx, c, "a", 4); return err },
	} {
		err := open()
		var le *dist.LayoutError
		if !errors.As(err, &le) || le.Have != "[4]int32" {
			t.Fatalf("open with another layout: %v", err)
		}
		t.Log(err)
	}
	if _, err := dist.NewArray[string](ctx, c, "s", 1); err == nil {
		t.Fatal("NewArray[string] succeeded")
	}
	if _, err := dist.NewArray[int](ctx, c, "n", -1); err == nil {
		t.Fatal("NewArray of -1 elements succeeded")
	}
}

// TestArrayProcesses: 3 processes increment every element 50 times.
func TestArrayProcesses(t *testing.T) {
	c := connect(t)
	const procs, n, rounds = 3, 4, 50
	runChildren(t, procs, incrementElems, endpoint, namespace(t), n, rounds)
	a, err := dist.NewArray[int32](bounded(t), c, "a", n)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Snapshot(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range got {
		if x != procs*rounds {
			t.Fatalf("element %d = %d, want %d (all: %v)", i, x, procs*rounds, got)
		}
	}
}
