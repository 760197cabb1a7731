package shm_test

import (
	"context"
	"runtime"
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

// syncPeer holds what TestWaitsDoNotAllocate's child and parent exchange
// turns through, but for the Barrier of two and the Cond.
type syncPeer struct {
	Ping, Pong shm.Event
	Turn       int64
}

// answerPeer answers rounds rounds of each exchange of TestWaitsDoNotAllocate.
func answerPeer(pv *shm.RawValue[syncPeer], up, down *shm.Semaphore, b *shm.Barrier, c *shm.Cond, rounds int) error {
	p := pv.Ptr()
	ctx := context.Background()
	for range rounds {
		if err := p.Ping.Wait(ctx); err != nil {
			return err
		}
		p.Ping.Clear()
		p.Pong.Set()
	}
	for range rounds {
		if err := up.Acquire(ctx); err != nil {
			return err
		}
		down.Release()
	}
	for range rounds {
		if _, err := b.Wait(ctx); err != nil {
			return err
		}
	}
	m := c.Mutex()
	m.Lock()
	defer m.Unlock()
	for i := range rounds {
		for p.Turn != int64(2*i+1) {
			if err := c.Wait(ctx); err != nil {
				return err
			}
		}
		p.Turn = int64(2*i + 2)
		c.Signal()
	}
	return nil
}

func init() { shm.Register(answerPeer) }

// TestWaitsDoNotAllocate checks that a wait that ends in its spin, as most
// waits between two busy processes do, allocates nothing: Event.Wait,
// Semaphore.Acquire, Barrier.Wait and Cond.Wait, each answered by a child.
func TestWaitsDoNotAllocate(t *testing.T) {
	const rounds = 2000
	pv, _ := shm.NewRawValue(syncPeer{})
	p := pv.Ptr()
	up, down, b, c := newSemaphore(t, 0), newSemaphore(t, 0), newBarrier(t, 2), newCond(t)
	m := c.Mutex()
	child := start(t, answerPeer, pv, up, down, b, c, rounds)
	ctx := context.Background()
	// The child answers the exchanges in this order.
	for _, ex := range []struct {
		name  string
		round func(i int) error
	}{
		{"Event.Wait", func(int) error {
			p.Ping.Set()
			err := p.Pong.Wait(ctx)
			p.Pong.Clear()
			return err
		}},
		{"Semaphore.Acquire", func(int) error {
			up.Release()
			return down.Acquire(ctx)
		}},
		{"Barrier.Wait", func(int) error {
			_, err := b.Wait(ctx)
			return err
		}},
		{"Cond.Wait", func(i int) error {
			m.Lock()
			defer m.Unlock()
			p.Turn = int64(2*i + 1)
			c.Signal()
			for p.Turn != int64(2*i+2) {
				if err := c.Wait(ctx); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		// A round that went on past its spin may allocate (its process's
		// gate on the word), and so may a Cond waiter's relock that gave up
		// spinning (the Mutex's wait queue): count the other rounds that
		// allocated. The runtime allocates in the background now and then
		// (a thread to replace one blocked in a futex wait), so a few may.
		var before, after runtime.MemStats
		allocating := 0
		for i := range rounds {
			slow := shm.WaitsPastSpin() + shm.Queued()
			runtime.ReadMemStats(&before)
			if err := ex.round(i); err != nil {
				t.Fatalf("%s, round %d: %v", ex.name, i, err)
			}
			runtime.ReadMemStats(&after)
			if after.Mallocs != before.Mallocs && shm.WaitsPastSpin()+shm.Queued() == slow {
				allocating++
			}
		}
		if allocating > rounds/50 {
			t.Errorf("%s: %d of %d round trips that ended in their spins allocated", ex.name, allocating, rounds)
		}
	}
	join(t, child)
}
