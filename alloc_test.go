package shm_test

import (
	"sync/atomic"
	"testing"

	"github.com/shmgo/shm"
)

func TestHotPathsDoNotAllocate(t *testing.T) {
	rv, _ := shm.NewRawValue[int64](0)
	v, _ := shm.NewValue[int64](0)
	c, _ := shm.NewRawValue(atomic.Int64{})
	ra, _ := shm.NewRawArray[float64](8)
	a, _ := shm.NewArray[float64](8)
	m, _ := shm.NewMutex()
	var sink int64
	for name, f := range map[string]func(){
		"RawValue.Load":   func() { sink += rv.Load() },
		"RawValue.Store":  func() { rv.Store(sink) },
		"atomic Add":      func() { c.Ptr().Add(1) },
		"Value.Load":      func() { sink += v.Load() },
		"Value.Store":     func() { v.Store(sink) },
		"Value.Update":    func() { v.Update(func(x int64) int64 { return x + 1 }) },
		"RawArray.Load":   func() { sink += int64(ra.Load(3)) },
		"RawArray.Store":  func() { ra.Store(3, 1) },
		"Array.Load":      func() { sink += int64(a.Load(3)) },
		"Array.Store":     func() { a.Store(3, 1) },
		"Array.Update":    func() { a.Update(3, func(x float64) float64 { return x + 1 }) },
		"Mutex.Lock":      func() { m.Lock(); m.Unlock() },
		"Mutex.TryLock":   func() { m.TryLock(); m.Unlock() },
		"RawArray.Slice":  func() { sink += int64(len(ra.Slice())) },
		"Value.Mutex/Raw": func() { v.Mutex().Lock(); v.Raw().Store(1); v.Mutex().Unlock() },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
	_ = sink
}
