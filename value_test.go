package shm_test

import (
	"fmt"
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
