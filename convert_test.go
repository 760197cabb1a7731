package shm_test

import (
	"math"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

type numbers struct {
	I32 int32
	U8  uint8
	F32 float32
	F64 float64
	C   celsius
	I64 int64
}

func takeNumbers(out *shm.RawValue[numbers], i32 int32, u8 uint8, f32 float32, f64 float64, c celsius, i64 int64) {
	out.Store(numbers{i32, u8, f32, f64, c, i64})
}

func init() { shm.Register(takeNumbers) }

// TestStartConvertsNumbers passes untyped constants, which become int and
// float64 in Start's ...any, to parameters of other numeric types: each value
// that the parameter's type holds exactly must arrive.
func TestStartConvertsNumbers(t *testing.T) {
	out, err := shm.NewRawValue(numbers{})
	if err != nil {
		t.Fatal(err)
	}
	join(t, start(t, takeNumbers, out, 5, 255, 0.5, 7, 20.5, int32(-3)))
	if got, want := out.Load(), (numbers{5, 255, 0.5, 7, 20.5, -3}); got != want {
		t.Fatalf("child got %+v, want %+v", got, want)
	}
	join(t, start(t, takeNumbers, out, 3.0, uint(0), float32(1.25), 1<<53, -2, uint64(1<<63-1)))
	if got, want := out.Load(), (numbers{3, 0, 1.25, 1 << 53, -2, 1<<63 - 1}); got != want {
		t.Fatalf("child got %+v, want %+v", got, want)
	}
}

// TestStartRefusesInexactNumbers checks that a number that its parameter's
// type cannot hold exactly is refused, with both types and the value, and
// that a number of a named type is not converted, as Go would not.
func TestStartRefusesInexactNumbers(t *testing.T) {
	out, err := shm.NewRawValue(numbers{})
	if err != nil {
		t.Fatal(err)
	}
	good := []any{out, 1, 2, 3, 4, 5, 6}
	cases := []struct {
		arg  int // index into good
		v    any
		want string
	}{
		{1, 3.5, "argument 2 (int32): got 3.5 (float64), which int32 cannot hold exactly"},
		{1, 1 << 40, "argument 2 (int32): got 1099511627776 (int), which int32 cannot hold exactly"},
		{1, math.NaN(), "argument 2 (int32): got NaN (float64), which int32 cannot hold exactly"},
		{2, -1, "argument 3 (uint8): got -1 (int), which uint8 cannot hold exactly"},
		{2, 256, "argument 3 (uint8): got 256 (int), which uint8 cannot hold exactly"},
		{3, 0.1, "argument 4 (float32): got 0.1 (float64), which float32 cannot hold exactly"},
		{3, 1e300, "argument 4 (float32): got 1e+300 (float64), which float32 cannot hold exactly"},
		{4, 1<<53 + 1, "argument 5 (float64): got 9007199254740993 (int), which float64 cannot hold exactly"},
		{4, celsius(7), "argument 5 (float64): got shm_test.celsius"},
		{5, math.Inf(1), ""}, // +Inf is a float64 that celsius holds exactly
		{6, uint64(1 << 63), "argument 7 (int64): got 9223372036854775808 (uint64), which int64 cannot hold exactly"},
		{6, "6", "argument 7 (int64): got string"},
	}
	for _, c := range cases {
		args := append([]any(nil), good...)
		args[c.arg] = c.v
		p, err := shm.Start(takeNumbers, args...)
		if c.want == "" {
			if err != nil {
				t.Errorf("%v: Start: %v", c.v, err)
				continue
			}
			join(t, p)
			continue
		}
		if err == nil {
			p.Kill()
			p.Join()
			t.Errorf("%v (%T): Start succeeded", c.v, c.v)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q does not say %q", err, c.want)
		}
	}
	noChildren(t)
}
