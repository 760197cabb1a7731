package dist

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shmgo/shm"
)

type inner struct {
	B bool
	I int
	F [2]float32
}

type outer struct {
	_   [0]func() // holds nothing, left out
	A   int8
	U   uint16
	In  inner
	C   complex128
	U64 uint64
	UP  uintptr
	I32 [3]int32
	c64 complex64
}

func roundTrip[T any](t *testing.T, x T) {
	t.Helper()
	c := codecFor[T]()
	if c.err != nil {
		t.Fatal(c.err)
	}
	b := appendValue(c, nil, &x)
	if len(b) != c.size {
		t.Fatalf("%T encodes to %d bytes, its codec says %d", x, len(b), c.size)
	}
	var y T
	if err := decodeValue(c, b, &y); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("round trip of %+v gave %+v", x, y)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	roundTrip(t, int64(-5))
	roundTrip(t, true)
	roundTrip(t, 3.25)
	roundTrip(t, [4]byte{1, 2, 3, 4})
	roundTrip(t, outer{A: -3, U: 65000, In: inner{B: true, I: -1 << 40, F: [2]float32{1.5, -2}}, C: 1 + 2i, U64: 1<<64 - 1, UP: 77, I32: [3]int32{-1, 0, 1}, c64: 3 - 4i})
}

// The encoding is fixed: little-endian, packed, int as 64 bits. These bytes
// are what any machine writes and reads.
func TestCodecBytes(t *testing.T) {
	type rec struct {
		A int8
		B int // 8 bytes on every machine
		C uint16
		D bool
		E float32
	}
	x := rec{A: -2, B: 0x0102030405060708, C: 0xabcd, D: true, E: 1}
	c := codecFor[rec]()
	got := appendValue(c, nil, &x)
	want := []byte{0xfe, 8, 7, 6, 5, 4, 3, 2, 1, 0xcd, 0xab, 1, 0, 0, 0x80, 0x3f}
	if string(got) != string(want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	if l := "struct {A int8; B int64; C uint16; D bool; E float32}"; c.layout != l {
		t.Fatalf("layout %q, want %q", c.layout, l)
	}
	if err := decodeValue(c, got[1:], &x); err == nil || !strings.Contains(err.Error(), "15 bytes, not the 16") {
		t.Fatalf("a short value: %v", err)
	}
}

func TestCodecRefuses(t *testing.T) {
	type withString struct {
		N     int
		Names [2]struct{ S string }
	}
	type withAtomic struct{ N atomic.Int64 }
	type withMutex struct{ M shm.Mutex }
	type withSync struct{ M sync.Mutex }
	for _, tc := range []struct {
		t     reflect.Type
		field string
	}{
		{reflect.TypeFor[withString](), "withString.Names[0].S"},
		{reflect.TypeFor[withAtomic](), "withAtomic.N"},
		{reflect.TypeFor[withMutex](), "withMutex.M"},
		{reflect.TypeFor[withSync](), "withSync.M"},
		{reflect.TypeFor[*int](), "*int"},
		{reflect.TypeFor[[]int](), "[]int"},
		{reflect.TypeFor[map[int]int](), "map[int]int"},
	} {
		err := codecOf(tc.t).err
		var te *TypeError
		if !errors.As(err, &te) || te.Field != tc.field || !errors.Is(err, shm.ErrNotShareable) {
			t.Errorf("%s: %v, want a TypeError at %s", tc.t, err, tc.field)
			continue
		}
		if !strings.HasPrefix(err.Error(), "dist: "+tc.field+": ") {
			t.Errorf("%s: %q", tc.t, err)
		}
	}
}
