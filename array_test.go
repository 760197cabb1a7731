package shm_test

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

type station struct {
	ID       int32
	Readings [4]float64
	Status   struct {
		OK    bool
		Count uint16
	}
}

func updateStation(s *shm.RawValue[station], v *shm.Value[station]) {
	p := s.Ptr()
	p.Readings[2] = 21.5
	p.Status.OK = true
	p.Status.Count++
	v.Update(func(x station) station {
		x.ID *= 2
		x.Readings[3] = -1
		return x
	})
}

// fillSquares writes i*i into every element and i into every locked element.
func fillSquares(a *shm.RawArray[float64], la *shm.Array[int32]) {
	s := a.Slice()
	for i := range s {
		s[i] = float64(i) * float64(i)
	}
	for i := 0; i < la.Len(); i++ {
		la.Update(i, func(x int32) int32 { return x + int32(i) })
	}
}

func touchEnds(a *shm.RawArray[float64]) {
	a.Store(0, 1)
	a.Store(a.Len()-1, 2)
}

func init() {
	shm.Register(updateStation)
	shm.Register(fillSquares)
	shm.Register(touchEnds)
}

func TestStructChangedByChild(t *testing.T) {
	s, err := shm.NewRawValue(station{ID: 7, Readings: [4]float64{1, 2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := shm.NewValue(station{ID: 21})
	if err != nil {
		t.Fatal(err)
	}
	join(t, start(t, updateStation, s, v))
	got := s.Load()
	if got.ID != 7 || got.Readings != [4]float64{1, 2, 21.5, 4} || !got.Status.OK || got.Status.Count != 1 {
		t.Fatalf("RawValue after child: %+v", got)
	}
	if got := v.Load(); got.ID != 42 || got.Readings[3] != -1 {
		t.Fatalf("Value after child: %+v", got)
	}
}

func TestArrayChangedByChild(t *testing.T) {
	const n = 1_000_000
	// Canaries on both sides catch a child writing out of bounds.
	before, _ := shm.NewRawArrayFrom([]uint64{0xdeadbeef, 0xdeadbeef})
	a, err := shm.NewRawArray[float64](n)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := shm.NewRawArrayFrom([]uint64{0xdeadbeef, 0xdeadbeef})
	la, err := shm.NewArrayFrom([]int32{10, 20, 30})
	if err != nil {
		t.Fatal(err)
	}
	join(t, start(t, fillSquares, a, la))
	if a.Len() != n {
		t.Fatalf("Len() = %d", a.Len())
	}
	for i, x := range a.Slice() {
		if x != float64(i)*float64(i) {
			t.Fatalf("element %d = %v, want %v", i, x, float64(i)*float64(i))
		}
	}
	if got := la.Snapshot(); fmt.Sprint(got) != "[10 21 32]" {
		t.Fatalf("locked array = %v", got)
	}
	for _, c := range [][]uint64{before.Slice(), after.Slice()} {
		if c[0] != 0xdeadbeef || c[1] != 0xdeadbeef {
			t.Fatalf("canary overwritten: %#x", c)
		}
	}
}

func TestHugeArray(t *testing.T) {
	if testing.Short() {
		t.Skip("maps 800 MB")
	}
	const n = 100_000_000 // 800 MB: a segment of its own; only touched pages cost memory
	a, err := shm.NewRawArray[float64](n)
	if err != nil {
		t.Fatal(err)
	}
	join(t, start(t, touchEnds, a))
	if a.Len() != n || a.Load(0) != 1 || a.Load(n-1) != 2 || a.Load(n/2) != 0 {
		t.Fatalf("len %d, ends %v %v", a.Len(), a.Load(0), a.Load(n-1))
	}
}

func TestArrayMethods(t *testing.T) {
	a, err := shm.NewArray[int](4)
	if err != nil {
		t.Fatal(err)
	}
	a.Store(1, 5)
	if got := a.Update(1, func(x int) int { return x * 3 }); got != 15 {
		t.Fatalf("Update returned %d", got)
	}
	if a.Load(1) != 15 || a.Raw().Load(1) != 15 || a.Len() != 4 {
		t.Fatal("Load after Update")
	}
	snap := a.Snapshot()
	snap[1] = 0
	if a.Load(1) != 15 {
		t.Fatal("Snapshot is not a copy")
	}
	if !a.Mutex().TryLock() {
		t.Fatal("array lock held after the calls returned")
	}
	a.Mutex().Unlock()
}

func TestIndexOutOfRange(t *testing.T) {
	ra, _ := shm.NewRawArray[int](3)
	la, _ := shm.NewArray[int](3)
	for name, f := range map[string]func(){
		"RawArray.Load":  func() { ra.Load(3) },
		"RawArray.Store": func() { ra.Store(-1, 0) },
		"Array.Load":     func() { la.Load(3) },
		"Array.Store":    func() { la.Store(7, 1) },
		"Array.Update":   func() { la.Update(3, func(x int) int { return x }) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "index out of range") {
					t.Fatalf("recovered %v, want an index out of range panic", r)
				}
				if !la.Mutex().TryLock() {
					t.Fatal("the lock was left held")
				}
				la.Mutex().Unlock()
			}()
			f()
		})
	}
}

func TestBadArrayLengths(t *testing.T) {
	if _, err := shm.NewRawArray[int](-1); err == nil || !strings.Contains(err.Error(), "length -1 is negative") {
		t.Fatalf("negative length: %v", err)
	}
	if _, err := shm.NewArray[[1 << 20]byte](math.MaxInt / 2); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("huge length: %v", err)
	}
}

func TestWithLock(t *testing.T) {
	m, err := shm.NewMutex()
	if err != nil {
		t.Fatal(err)
	}
	a, err := shm.NewValue(1, shm.WithLock(m))
	if err != nil {
		t.Fatal(err)
	}
	b, err := shm.NewArray[int](2, shm.WithLock(m))
	if err != nil {
		t.Fatal(err)
	}
	if a.Mutex() != m || b.Mutex() != m {
		t.Fatal("WithLock lock not used")
	}
	m.Lock()
	mustBlock(t, a.Mutex())
	m.Unlock()
	var heapMutex shm.Mutex
	if _, err := shm.NewValue(1, shm.WithLock(&heapMutex)); err == nil || !strings.Contains(err.Error(), "not in shared memory") {
		t.Fatalf("WithLock of a Go-heap Mutex: %v", err)
	}
	if _, err := shm.NewArray[int](1, shm.WithLock(nil)); err == nil || !strings.Contains(err.Error(), "WithLock(nil)") {
		t.Fatalf("WithLock(nil): %v", err)
	}
}

// TestArrayBeyondMemory: an array larger than the machine's memory and swap
// can never be backed; made anyway, it gets the process killed later, on
// first touch of pages that are not there. The constructors refuse it with
// the numbers, and map nothing.
func TestArrayBeyondMemory(t *testing.T) {
	total := memTotal(t)
	n := int(2 * total / 8) // twice the machine's memory, in float64s
	before := shm.SegmentCount()
	for name, mk := range map[string]func() error{
		"NewRawArray": func() error { _, err := shm.NewRawArray[float64](n); return err },
		"NewArray":    func() error { _, err := shm.NewArray[float64](n); return err },
	} {
		err := mk()
		want := fmt.Sprintf("shm: %s[float64](%d): %d bytes is more than ", name, n, n*8)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "iB of memory and swap") {
			t.Errorf("%s of %d bytes on a machine of %d: %v; want an error starting %q and giving the limit", name, n*8, total, err, want)
		}
	}
	if after := shm.SegmentCount(); after != before {
		t.Errorf("%d segments after the refused arrays, want %d", after, before)
	}
}

// memTotal returns MemTotal from /proc/meminfo, in bytes.
func memTotal(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skip("no /proc/meminfo:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb uint64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}
