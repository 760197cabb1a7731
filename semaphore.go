package shm

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmgo/shm/internal/futex"
)

// A Semaphore is a counter of permits in shared memory: Python's
// multiprocessing Semaphore and BoundedSemaphore. [Semaphore.Acquire] takes a
// permit, waiting until one is free, and [Semaphore.Release] gives one back;
// so a Semaphore made with n permits lets at most n holders in at once, in
// all processes together. The zero value is a Semaphore with no permits and
// no bound (a Release must come first), so a Semaphore inside a shared struct
// needs no set-up. A Semaphore must not be copied after first use.
//
// A Semaphore has no owner, as in Python: any goroutine of any process may
// release a permit, whoever acquired it, which is what lets one process
// count out work to others. For the same reason, when a process dies holding
// permits nobody can tell that it held them, and they are lost for good: the
// Semaphore has that many fewer. (The kernel keeps no record of who holds a
// counter; a Mutex is robust because its word names its owner.) Where a
// holder may die, guard an exclusive resource with a [Mutex], which passes to
// the next locker when its owner dies, and bound each Acquire with a context
// so that a lost permit shows up as an error rather than a hang.
//
// Release never waits for a waiter: it adds one to a word in shared memory and
// asks the kernel to wake one sleeping process. A waiter spins for a few
// microseconds and then sleeps; as a fallback it looks at the count once a
// second, in case the process woken for a permit died before taking it.
//
// A bounded Semaphore, made by [NewBoundedSemaphore], never holds more permits
// than it was made with: a Release beyond that panics, as releasing a
// [golang.org/x/sync/semaphore.Weighted] more than held does, where Python's
// BoundedSemaphore raises ValueError. Such a Release is a bug in the program.
//
// In the terminology of the Go memory model, a call to Release "synchronizes
// before" the call to Acquire or TryAcquire that takes the permit it gave, in
// every process that maps the Semaphore.
type Semaphore struct {
	_     noCopy
	w     atomic.Uint64 // free permits in bits 0-31 (the futex word); processes sleeping in bits 32-63
	limit uint64        // 1 + the most permits it may hold, 0 for no bound; set before it is shared
}

// The semaphore word. Acquire takes a permit with a compare-and-swap on the
// count. A waiter that finds none spins, and then its process's sleeper adds
// one to the sleepers count (in the same compare-and-swap that sees the count
// at 0) and sleeps while the count is 0. Release adds one to the count and, if
// any process sleeps, wakes one: it cannot miss a sleeper, which counts
// itself only while the count is still 0. The woken sleeper takes the permit,
// or sleeps again if another took it first; one whose context ended takes it
// too if it is still free (waitOn looks once more before it gives up), so no
// wake-up is lost to a waiter that leaves. A sleeper that died leaves
// its count behind, which only makes later Releases call the kernel for
// nothing. A process woken for a permit that dies before it takes it leaves
// the permit free while others sleep: they look again within deathPoll.
const semSleeper = 1 << 32

// NewSemaphore returns a new Semaphore in shared memory holding n permits,
// with no bound. It returns an error if n is negative or more than
// math.MaxUint32. With [In], it places the Semaphore in a named segment,
// where [LookupSemaphore] finds it.
func NewSemaphore(n int, opts ...Option) (*Semaphore, error) {
	return newSemaphore("NewSemaphore", n, false, opts)
}

// NewBoundedSemaphore returns a new Semaphore in shared memory holding n
// permits, which may never hold more: Python's BoundedSemaphore. A Release
// that would take it beyond n panics. It returns an error if n is negative or
// more than math.MaxUint32.
func NewBoundedSemaphore(n int, opts ...Option) (*Semaphore, error) {
	return newSemaphore("NewBoundedSemaphore", n, true, opts)
}

func newSemaphore(fn string, n int, bounded bool, opts []Option) (*Semaphore, error) {
	o, err := rawOptions(fn, opts)
	if err != nil {
		return nil, err
	}
	if n < 0 || uint64(n) > math.MaxUint32 {
		return nil, fmt.Errorf("shm: %s(%d): the number of permits must be from 0 to %d", fn, n, uint32(math.MaxUint32))
	}
	if o.in != nil {
		limit := uint64(0)
		if bounded {
			limit = uint64(n) + 1
		}
		return newNamedSemaphore(o, n, limit)
	}
	p, err := theHeap.alloc(unsafe.Sizeof(Semaphore{}))
	if err != nil {
		return nil, err
	}
	s := as[Semaphore](p)
	s.w.Store(uint64(n))
	if bounded {
		s.limit = uint64(n) + 1
	}
	return s, nil
}

// TryAcquire takes a permit if one is free, without waiting, and reports
// whether it did.
func (s *Semaphore) TryAcquire() bool {
	for {
		w := s.w.Load()
		if uint32(w) == 0 {
			return false
		}
		if s.w.CompareAndSwap(w, w-1) {
			raceAcquireObj(s)
			return true
		}
	}
}

// Acquire takes a permit, waiting until one is free or until ctx is done. It
// returns nil with a permit taken, or ctx.Err() without one. If ctx is already
// done, Acquire still takes a free permit.
func (s *Semaphore) Acquire(ctx context.Context) error {
	if s.TryAcquire() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.acquireSlow(ctx)
}

// acquireSlow waits for a permit.
func (s *Semaphore) acquireSlow(ctx context.Context) error {
	if spinUntil(s.TryAcquire) {
		return nil
	}
	return waitOn(ctx, futexWord(&s.w), &semWaiter{s: s})
}

// Release gives back a permit and wakes a waiter, if there is one. It panics
// if the Semaphore is bounded and already holds as many permits as it was
// made with, or if it holds math.MaxUint32 permits.
func (s *Semaphore) Release() {
	raceReleaseObj(s)
	for {
		w := s.w.Load()
		if n := uint64(uint32(w)); n == math.MaxUint32 || s.limit != 0 && n+1 >= s.limit {
			s.overRelease(n)
		}
		if s.w.CompareAndSwap(w, w+1) {
			if w >= semSleeper {
				futex.Wake(futexWord(&s.w), 1)
			}
			return
		}
	}
}

func (s *Semaphore) overRelease(n uint64) {
	if s.limit == 0 {
		panic(fmt.Sprintf("shm: Release of a Semaphore holding %d permits, the most it can", n))
	}
	panic(fmt.Sprintf("shm: Release of a bounded Semaphore beyond its %d permits", s.limit-1))
}

// A semWaiter waits for a free permit and takes it.
type semWaiter struct{ s *Semaphore }

func (sw *semWaiter) ready() bool { return sw.s.TryAcquire() }

func (sw *semWaiter) prepare() (uint32, time.Duration, bool) {
	w := sw.s.w.Load()
	if uint32(w) != 0 || !sw.s.w.CompareAndSwap(w, w+semSleeper) {
		return 0, 0, false
	}
	return 0, deathPoll, true
}

func (sw *semWaiter) slept(bool) { sw.s.w.Add(^uint64(semSleeper - 1)) }
