package shm_test

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/shmgo/shm"
)

type reading struct {
	Sensor int32
	Names  [2]string
}

type inner struct {
	OK   [4]uint16
	Tags []byte
}

type middle struct {
	Count int
	Inner inner
}

type outer struct {
	ID     uint64
	Middle middle
}

func TestRefusedTypes(t *testing.T) {
	cases := []struct {
		name  string
		make  func() error
		field string
		bad   string
	}{
		{"string", refuse[string], "string", "string"},
		{"slice", refuse[[]int], "[]int", "[]int"},
		{"map", refuse[map[string]int], "map[string]int", "map[string]int"},
		{"pointer", refuse[*int], "*int", "*int"},
		{"interface", refuse[any], "interface {}", "interface {}"},
		{"chan", refuse[chan int], "chan int", "chan int"},
		{"func", refuse[func()], "func()", "func()"},
		{"unsafe.Pointer", refuse[unsafe.Pointer], "Pointer", "unsafe.Pointer"},
		{"string in array in struct", refuse[reading], "reading.Names[0]", "string"},
		{"slice at depth 2", refuse[outer], "outer.Middle.Inner.Tags", "[]uint8"},
		{"atomic.Pointer", refuse[atomic.Pointer[int]], "Pointer[int].v", "unsafe.Pointer"},
		{"atomic.Value", refuse[atomic.Value], "Value.v", "interface {}"},
		{"array of maps", refuse[[3]map[int]int], "[3]map[int]int[0]", "map[int]int"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.make()
			var te *shm.TypeError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *TypeError", err)
			}
			if !errors.Is(err, shm.ErrNotShareable) {
				t.Errorf("%v does not wrap ErrNotShareable", err)
			}
			if te.Field != c.field || te.Bad.String() != c.bad {
				t.Errorf("Field %q, Bad %s; want %q, %s", te.Field, te.Bad, c.field, c.bad)
			}
			if !strings.HasPrefix(err.Error(), "shm: "+c.field+": "+c.bad+" cannot live in shared memory") {
				t.Errorf("message %q", err)
			}
		})
	}
}

type syncConfig struct {
	N  int64
	Mu sync.Mutex
}

type syncNested struct {
	Stats struct {
		Count atomic.Int64
		Ready [2]struct {
			Flag bool
			Once sync.Once
		}
	}
}

type syncEmbedded struct {
	sync.RWMutex
	N int
}

type syncCond struct {
	Mu   shm.Mutex
	Cond sync.Cond
}

// myMutex has sync.Mutex's layout without its name.
type myMutex sync.Mutex

type syncDefined struct{ M myMutex }

// TestRefusedSyncTypes: the sync types hold no Go pointers (or not only), but
// they lock and wait only within one process, so they must be refused with
// the field that holds them and what to use instead.
func TestRefusedSyncTypes(t *testing.T) {
	cases := []struct {
		name  string
		make  func() error
		field string
		bad   string
		say   string
	}{
		{"Mutex field", refuse[syncConfig], "syncConfig.Mu", "sync.Mutex", "locks only within one process; use shm.Mutex"},
		{"Mutex", refuse[sync.Mutex], "Mutex", "sync.Mutex", "locks only within one process; use shm.Mutex"},
		{"embedded RWMutex", refuse[syncEmbedded], "syncEmbedded.RWMutex", "sync.RWMutex", "locks only within one process; use shm.Mutex"},
		{"array of WaitGroups", refuse[[2]sync.WaitGroup], "[2]sync.WaitGroup[0]", "sync.WaitGroup", "use shm.Mutex"},
		{"Once in array in struct", refuse[syncNested], "syncNested.Stats.Ready[0].Once", "sync.Once", "use shm.Mutex"},
		{"Cond", refuse[syncCond], "syncCond.Cond", "sync.Cond", "use shm.Mutex"},
		{"Map", refuse[sync.Map], "Map", "sync.Map", "only within one process"},
		{"Pool", refuse[sync.Pool], "Pool", "sync.Pool", "only within one process"},
		{"defined from Mutex", refuse[syncDefined], "syncDefined.M.mu", "sync.Mutex", "locks only within one process; use shm.Mutex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.make()
			var te *shm.TypeError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *TypeError", err)
			}
			if !errors.Is(err, shm.ErrNotShareable) {
				t.Errorf("%v does not wrap ErrNotShareable", err)
			}
			if te.Field != c.field || te.Bad.String() != c.bad {
				t.Errorf("Field %q, Bad %s; want %q, %s", te.Field, te.Bad, c.field, c.bad)
			}
			prefix := "shm: " + c.field + ": " + c.bad + " "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, c.say) {
				t.Errorf("message %q, want it to start %q and say %q", msg, prefix, c.say)
			}
		})
	}
	if _, err := shm.NewValue(syncConfig{}); err == nil || err.Error() != "shm: syncConfig.Mu: sync.Mutex locks only within one process; use shm.Mutex" {
		t.Errorf("NewValue(syncConfig{}) = %v", err)
	}
}

// TestTypeErrorFields: a TypeError made with only the fields it had at first
// still explains itself.
func TestTypeErrorFields(t *testing.T) {
	err := &shm.TypeError{Type: reflect.TypeFor[reading](), Field: "reading.Names[0]", Bad: reflect.TypeFor[string]()}
	if got, want := err.Error(), "shm: reading.Names[0]: string cannot live in shared memory (a string points to its bytes; use a fixed-size byte array)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// refuse tries every constructor with T and checks that all refuse it alike.
func refuse[T any]() error {
	_, err := shm.NewRawValue(*new(T))
	errs := []error{err}
	_, err = shm.NewValue(*new(T))
	errs = append(errs, err)
	_, err = shm.NewRawArray[T](3)
	errs = append(errs, err)
	_, err = shm.NewArray[T](3)
	errs = append(errs, err)
	_, err = shm.NewArrayFrom([]T{*new(T)})
	errs = append(errs, err)
	_, err = shm.NewRawArrayFrom([]T{*new(T)})
	errs = append(errs, err)
	for _, e := range errs[1:] {
		if e == nil || errs[0] == nil || e.Error() != errs[0].Error() {
			return errors.New("constructors disagree: " + errString(errs))
		}
	}
	return errs[0]
}

func errString(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("\n\t")
		if e == nil {
			b.WriteString("<nil>")
		} else {
			b.WriteString(e.Error())
		}
	}
	return b.String()
}

type everything struct {
	B   bool
	I   int
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	U   uint
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
	UP  uintptr
	F32 float32
	F64 float64
	C64 complex64
	C   complex128
	A   [3][2]int16
	S   struct{ X, Y float64 }
	At  atomic.Int64
	AtU atomic.Uint32
	AtB atomic.Bool
	Mu  shm.Mutex
	E   struct{}
	Z   [0]*int
}

func TestAcceptedTypes(t *testing.T) {
	v, err := shm.NewRawValue(everything{I: -1, F64: 2.5, C: 1i, A: [3][2]int16{{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	got := v.Ptr()
	if got.I != -1 || got.F64 != 2.5 || got.C != 1i || got.A[0][1] != 2 {
		t.Fatalf("initial value not stored: %+v", got)
	}
	got.At.Add(5)
	got.Mu.Lock()
	got.Mu.Unlock()
	if got.At.Load() != 5 {
		t.Fatal("atomic in a shared struct does not work")
	}
	if _, err := shm.NewValue(struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.NewRawArray[complex128](0); err != nil {
		t.Fatal(err)
	}
}

func TestObjectsAreZeroedAndAligned(t *testing.T) {
	for i := 0; i < 100; i++ {
		b, err := shm.NewRawValue([3]byte{})
		if err != nil {
			t.Fatal(err)
		}
		if b.Load() != [3]byte{} {
			t.Fatal("not zeroed")
		}
		b.Store([3]byte{1, 2, 3}) // a neighbour would see it if objects overlapped
		a, err := shm.NewRawArray[int64](i)
		if err != nil {
			t.Fatal(err)
		}
		for j, x := range a.Slice() {
			if x != 0 {
				t.Fatalf("array %d element %d = %d", i, j, x)
			}
		}
		for _, p := range []uintptr{uintptr(unsafe.Pointer(b.Ptr())), uintptr(unsafe.Pointer(unsafe.SliceData(a.Slice())))} {
			if p%64 != 0 {
				t.Fatalf("object at %#x is not aligned to a cache line", p)
			}
		}
	}
}

func TestFingerprintTypesDiffer(t *testing.T) {
	// A child decoding an argument as a different type must refuse it; the
	// fingerprint is what it checks, so distinct layouts must not collide.
	ts := []reflect.Type{reflect.TypeFor[int64](), reflect.TypeFor[uint64](), reflect.TypeFor[float64](), reflect.TypeFor[[8]byte](), reflect.TypeFor[struct{ A int64 }]()}
	seen := map[uint64]reflect.Type{}
	for _, ty := range ts {
		fp := shm.Fingerprint(ty)
		if other, dup := seen[fp]; dup {
			t.Fatalf("%s and %s share fingerprint %#x", ty, other, fp)
		}
		seen[fp] = ty
	}
}
