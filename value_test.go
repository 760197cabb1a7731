package shm_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

// useObjects is a target that takes a Value and an Array.
func useObjects(v *shm.Value[int64], a *shm.Array[int64]) {}

func init() { shm.Register(useObjects) }

// TestZeroObjects: a Value or an Array declared rather than made by its
// constructor has no shared memory behind it. Each method must say so in its
// panic, not dereference nil.
func TestZeroObjects(t *testing.T) {
	var v shm.Value[int64]
	a := new(shm.Array[int64])
	inc := func(x int64) int64 { return x + 1 }
	for name, c := range map[string]struct {
		f    func()
		want string
	}{
		"Value.Load":     {func() { v.Load() }, "Value.Load"},
		"Value.Store":    {func() { v.Store(1) }, "Value.Store"},
		"Value.Update":   {func() { v.Update(inc) }, "Value.Update"},
		"Value.Mutex":    {func() { v.Mutex() }, "Value.Mutex"},
		"Value.Raw":      {func() { v.Raw() }, "Value.Raw"},
		"Array.Len":      {func() { a.Len() }, "Array.Len"},
		"Array.Load":     {func() { a.Load(0) }, "Array.Load"},
		"Array.Store":    {func() { a.Store(0, 1) }, "Array.Store"},
		"Array.Update":   {func() { a.Update(0, inc) }, "Array.Update"},
		"Array.Snapshot": {func() { a.Snapshot() }, "Array.Snapshot"},
		"Array.Mutex":    {func() { a.Mutex() }, "Array.Mutex"},
		"Array.Raw":      {func() { a.Raw() }, "Array.Raw"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := fmt.Sprint(recover())
				ctor := "NewValue"
				if strings.HasPrefix(name, "Array") {
					ctor = "NewArray"
				}
				if !strings.HasPrefix(r, "shm: "+c.want+": ") || !strings.Contains(r, "zero") || !strings.Contains(r, ctor) {
					t.Fatalf("recovered %q, want a panic that names %s, says the object is a zero one and points to %s", r, c.want, ctor)
				}
			}()
			c.f()
		})
	}
}

// TestStartZeroObjects: Start refuses a zero Value or Array, naming the
// argument and the constructor to use.
func TestStartZeroObjects(t *testing.T) {
	v, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := shm.NewArray[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v    *shm.Value[int64]
		a    *shm.Array[int64]
		want string
	}{
		{new(shm.Value[int64]), a, "argument 1 (*shm.Value[int64]): a zero Value: make it with NewValue"},
		{v, new(shm.Array[int64]), "argument 2 (*shm.Array[int64]): a zero Array: make it with NewArray"},
	} {
		p, err := shm.Start(useObjects, c.v, c.a)
		if err == nil {
			p.Join()
			t.Fatalf("Start with a zero object succeeded")
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Start: %v; want it to say %q", err, c.want)
		}
	}
}

// TestUpdatePanicUnlocks: a panic in Update's f that is recovered, as net/http
// recovers a handler's, must leave the lock free and the value as it was;
// so must a goroutine that f ends with runtime.Goexit, as t.FailNow does.
// TryLock, not Lock, shows it, so that a lock left held fails the test
// instead of hanging it; each case has objects of its own, so that one
// failure does not hang the next.
func TestUpdatePanicUnlocks(t *testing.T) {
	type boom struct{ n int64 }
	type object struct {
		update func(f func(int64) int64) int64
		load   func() int64
		m      *shm.Mutex
	}
	makers := map[string]func(t *testing.T) object{
		"Value": func(t *testing.T) object {
			v, err := shm.NewValue[int64](7)
			if err != nil {
				t.Fatal(err)
			}
			return object{v.Update, v.Load, v.Mutex()}
		},
		"Array": func(t *testing.T) object {
			a, err := shm.NewArray[int64](3)
			if err != nil {
				t.Fatal(err)
			}
			a.Store(1, 7)
			return object{func(f func(int64) int64) int64 { return a.Update(1, f) }, func() int64 { return a.Load(1) }, a.Mutex()}
		},
	}
	for name, mk := range makers {
		for _, end := range []string{"panic", "Goexit"} {
			t.Run(name+"/"+end, func(t *testing.T) {
				o := mk(t)
				recovered := make(chan any, 1)
				go func() {
					defer func() { recovered <- recover() }()
					o.update(func(x int64) int64 {
						if end == "Goexit" {
							runtime.Goexit()
						}
						panic(boom{x})
					})
				}()
				r := <-recovered
				if want := (boom{7}); end == "panic" && r != want {
					t.Fatalf("recovered %v, want f's own panic value %v", r, want)
				}
				if !o.m.TryLock() {
					t.Fatalf("the lock is still held after f ended with %s", end)
				}
				o.m.Unlock()
				if got := o.update(func(x int64) int64 { return x + 1 }); got != 8 {
					t.Fatalf("Update after the %s = %d, want 8: the value changed", end, got)
				}
				if got := o.load(); got != 8 {
					t.Fatalf("Load = %d, want 8", got)
				}
			})
		}
	}
}
