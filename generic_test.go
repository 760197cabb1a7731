package shm_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

// describe writes its argument's type and value; typeName writes its type
// argument, which its signature does not show.
func describe[T any](out *shm.RawValue[[32]byte], x T) {
	copy(out.Ptr()[:], fmt.Sprintf("%T %v", x, x))
}

func typeName[T any](out *shm.RawValue[[32]byte]) {
	var x T
	copy(out.Ptr()[:], fmt.Sprintf("%T", x))
}

type celsius float64

func init() {
	shm.Register(describe[int])
	shm.Register(describe[string])
	shm.Register(typeName[int])
	shm.Register(typeName[string])
}

// TestGenericInstantiations starts two instantiations of one generic function
// each: every one must run, itself and not the other.
func TestGenericInstantiations(t *testing.T) {
	out, err := shm.NewRawValue([32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fn   any
		args []any
		want string
	}{
		{describe[int], []any{7}, "int 7"},
		{describe[string], []any{"seven"}, "string seven"},
		{typeName[int], nil, "int"},
		{typeName[string], nil, "string"},
	}
	for _, c := range cases {
		out.Store([32]byte{})
		join(t, start(t, c.fn, append([]any{out}, c.args...)...))
		v := out.Load()
		if got := string(bytes.TrimRight(v[:], "\x00")); got != c.want {
			t.Errorf("child wrote %q, want %q", got, c.want)
		}
	}
}

// TestGenericNotRegistered checks that the hint in Start's error is Go that
// registers the very instantiation, as its own package writes it.
func TestGenericNotRegistered(t *testing.T) {
	out, err := shm.NewRawValue([32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		fn   any
		args []any
		want string
	}{
		{describe[float64], []any{out, 1.5}, "shm.Register(describe[float64])"},
		{describe[celsius], []any{out, celsius(1.5)}, "shm.Register(describe[celsius])"},
		{typeName[map[string][]int], []any{out}, "shm.Register(typeName[map[string][]int])"},
		{typeName[strings.Builder], []any{out}, "shm.Register(typeName[strings.Builder])"},
	} {
		_, err := shm.Start(c.fn, c.args...)
		if err == nil || !strings.Contains(err.Error(), "not registered; call "+c.want+" in an init function") {
			t.Errorf("Start = %v, want the hint %s", err, c.want)
		}
	}
	noChildren(t)
}
