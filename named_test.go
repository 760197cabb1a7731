package shm_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shmgo/shm"
)

var segSerial atomic.Int64

// newSegName returns a segment name that no other test, run or program on
// the machine uses.
func newSegName(tb testing.TB) string {
	tb.Helper()
	n := fmt.Sprintf("shm-test-%d-%s-%d", os.Getpid(), strings.ReplaceAll(tb.Name(), "/", "."), segSerial.Add(1))
	if len(n) > 255 {
		n = n[len(n)-255:]
	}
	return n
}

// removeLater removes the segment name when the test ends, if it exists.
func removeLater(tb testing.TB, name string) {
	tb.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			tb.Errorf("Remove: %v", err)
		}
	})
}

// createSeg creates a segment for the test, and closes and removes it when
// the test ends.
func createSeg(tb testing.TB, size int, opts ...shm.SegmentOption) *shm.Segment {
	tb.Helper()
	name := newSegName(tb)
	s, err := shm.Create(name, size, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	removeLater(tb, name)
	tb.Cleanup(func() { s.Close() })
	return s
}

// openSeg opens a segment for the test and closes it when the test ends.
func openSeg(tb testing.TB, name string) *shm.Segment {
	tb.Helper()
	s, err := shm.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// must returns a function that returns x, or fails the test on err:
// must(f())(t).
func must[T any](x T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return x
	}
}

type sample struct {
	X float64
	N [4]int32
}

func TestNamedPlaceAndLookUp(t *testing.T) {
	seg := createSeg(t, 1<<16)
	v := must(shm.NewValue[int64](7, shm.In(seg, "v")))(t)
	rv := must(shm.NewRawValue(sample{X: 1.5, N: [4]int32{1, 2, 3, 4}}, shm.In(seg, "rv")))(t)
	ra := must(shm.NewRawArrayFrom([]uint16{5, 6, 7}, shm.In(seg, "ra")))(t)
	a := must(shm.NewArray[float32](5, shm.In(seg, "a")))(t)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	z := must(shm.NewRawArray[int8](0, shm.In(seg, "empty")))(t)
	a.Store(4, 2.5)

	// A second Segment of the same file, as another program would open it.
	seg2 := openSeg(t, seg.Name())
	if seg2.ReadOnly() {
		t.Fatal("the creator's user opened its segment read-only")
	}
	v2 := must(shm.LookupValue[int64](seg2, "v"))(t)
	if v2.Update(func(x int64) int64 { return x + 1 }) != 8 || v.Load() != 8 {
		t.Fatalf("Value through two look-ups: %d, %d", v2.Load(), v.Load())
	}
	if v2.Raw().Ptr() != v.Raw().Ptr() || v2.Mutex() != v.Mutex() {
		t.Fatal("one file is mapped twice in one process")
	}
	if got := must(shm.LookupRawValue[sample](seg2, "rv"))(t); got.Load() != rv.Load() {
		t.Fatalf("RawValue = %v, want %v", got.Load(), rv.Load())
	}
	if got := must(shm.LookupRawArray[uint16](seg2, "ra"))(t); !slices.Equal(got.Slice(), ra.Slice()) {
		t.Fatalf("RawArray = %v", got.Slice())
	}
	if got := must(shm.LookupArray[float32](seg2, "a"))(t); got.Len() != 5 || got.Load(4) != 2.5 || got.Mutex() != a.Mutex() {
		t.Fatalf("Array = %v", got.Snapshot())
	}
	if got := must(shm.LookupRawArray[int8](seg2, "empty"))(t); got.Len() != 0 || got != z {
		t.Fatalf("empty RawArray: len %d", got.Len())
	}
	if got := must(shm.LookupMutex(seg2, "m"))(t); got != m {
		t.Fatal("Mutex looked up elsewhere")
	}
	// A Value's and an Array's raw parts can be found as RawValue and RawArray.
	if got := must(shm.LookupRawValue[int64](seg2, "v"))(t); got.Load() != 8 {
		t.Fatalf("Value read as a RawValue: %d", got.Load())
	}
	if got := must(shm.LookupRawArray[float32](seg2, "a"))(t); got.Load(4) != 2.5 {
		t.Fatalf("Array read as a RawArray: %v", got.Slice())
	}

	objs := must(seg2.Objects())(t)
	var names []string
	for _, o := range objs {
		names = append(names, o.Name+":"+o.Kind+":"+o.Type+":"+strconv.Itoa(o.Len))
	}
	want := []string{
		"v:Value:int64:1",
		"rv:RawValue:struct {X float64 @0; N [4]int32 @8}:1",
		"ra:RawArray:uint16:3",
		"a:Array:float32:5",
		"m:Mutex:shm.Mutex:1",
		"empty:RawArray:int8:0",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("Objects:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if objs[2].Size != 6 || !bytes.Equal(objs[2].Data, []byte{5, 0, 6, 0, 7, 0}) {
		t.Fatalf("RawArray's data: %d bytes %v", objs[2].Size, objs[2].Data)
	}
	if string(objs[0].Descriptor) != `{"kind":"int64","size":8,"align":8}` || objs[0].Lock == 0 {
		t.Fatalf("Value's descriptor %s, lock at %d", objs[0].Descriptor, objs[0].Lock)
	}

	st := must(seg2.Stat())(t)
	if st.Name != seg.Name() || st.Size != 1<<16 || st.Objects != 6 || st.Raw || st.Mode != 0o600 ||
		st.CreatorPid != os.Getpid() || st.CreatorUid != os.Geteuid() || !st.CreatorKnown || !st.CreatorAlive ||
		st.Used <= 4096 || st.Used > st.Size || st.Created.IsZero() {
		t.Fatalf("Stat = %+v", st)
	}
}

func TestNamedStructLayout(t *testing.T) {
	type inner struct {
		A bool
		B [2]uint64
	}
	type outer struct {
		_  [0]int64
		I  inner
		C  complex64
		At atomic.Int32
		F  atomic.Bool
		M  shm.Mutex
		U  uint
	}
	seg := createSeg(t, 1<<14)
	must(shm.NewRawValue(outer{}, shm.In(seg, "o")))(t)
	objs := must(seg.Objects())(t)
	wantDesc := `{"kind":"struct","size":56,"align":8,"fields":[` +
		`{"name":"I","offset":0,"type":{"kind":"struct","size":24,"align":8,"fields":[{"name":"A","offset":0,"type":{"kind":"bool","size":1,"align":1}},{"name":"B","offset":8,"type":{"kind":"array","size":16,"align":8,"len":2,"elem":{"kind":"uint64","size":8,"align":8}}}]}},` +
		`{"name":"C","offset":24,"type":{"kind":"complex64","size":8,"align":4}},` +
		`{"name":"At","offset":32,"type":{"kind":"int32","size":4,"align":4,"atomic":true}},` +
		`{"name":"F","offset":36,"type":{"kind":"uint32","size":4,"align":4,"atomic":true}},` +
		`{"name":"M","offset":40,"type":{"kind":"mutex","size":8,"align":8}},` +
		`{"name":"U","offset":48,"type":{"kind":"uint64","size":8,"align":8}}]}`
	if got := string(objs[0].Descriptor); got != wantDesc {
		t.Fatalf("descriptor\n%s\nwant\n%s", got, wantDesc)
	}
	wantType := "struct {I struct {A bool @0; B [2]uint64 @8} @0; C complex64 @24; At atomic int32 @32; F atomic uint32 @36; M shm.Mutex @40; U uint64 @48}"
	if objs[0].Type != wantType {
		t.Fatalf("Type\n%s\nwant\n%s", objs[0].Type, wantType)
	}
}
