package shm

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmgo/shm/internal/futex"
	"github.com/shmgo/shm/internal/pidfd"
	"github.com/shmgo/shm/internal/token"
)

// A Mutex is a mutual exclusion lock that works across processes: it lives in
// shared memory, and every process that maps it can lock it. The zero value is
// an unlocked mutex, so a Mutex inside a shared struct needs no set-up.
//
// A Mutex must not be copied after first use, and a Mutex that is not in
// shared memory (one declared as a Go variable) locks only within its process.
//
// Unlike [sync.Mutex], a locked Mutex belongs to the process that locked it:
// any goroutine of that process may unlock it, but another process may not.
// When the owning process dies holding the lock, however it dies, the lock is
// not lost: the next process to lock it takes it over, and a process already
// waiting is woken to do so. [Mutex.LockContext] then returns [ErrOwnerDead]
// to say that the data the lock guards may be half-updated.
//
// A goroutine that has to wait for a Mutex spins for a few microseconds and
// then sleeps in the kernel, holding its OS thread as a blocking system call
// does.
//
// In the terminology of the Go memory model, the n'th call to Unlock
// “synchronizes before” the m'th call to Lock for any n < m, in every process
// that maps the Mutex; a successful call to TryLock is equivalent to a call to
// Lock.
type Mutex struct {
	_ noCopy
	w atomic.Uint32 // see the protocol below
}

// The lock word.
//
// The word holds the liveness token of the owning process in its low 31 bits
// (0: unlocked) and a "waiters" mark in its top bit. A token names a process
// without trusting its PID: the kernel can tell whether the process that took
// it is still alive (internal/token).
//
//   - Lock: compare-and-swap 0 → token. That is the whole fast path.
//   - Unlock: compare-and-swap token → 0; if that fails, the mark is set:
//     swap the word to 0 and, since the old word had the mark, wake one waiter.
//   - A locker that finds the lock held first spins for a few microseconds,
//     which keeps a hand-off between processes on two cores near 0.1 µs
//     instead of a futex round trip of 8-50 µs, unless it keeps losing the
//     freed lock to others. It then yields the processor once, so that an
//     owner descheduled on the same core can run, and then sleeps: it sets
//     the mark (compare-and-swap, so that it sets it on the word it saw) and
//     calls futex wait on the marked word. The kernel puts it to sleep only if
//     the word is still that value, so an unlock in between is never missed.
//   - A waiter that has set the mark acquires with the mark set again (word =
//     token|mark), because other waiters may still sleep: the unlocker cleared
//     the whole word and woke only one. Only waiters ever set the mark; the
//     mark goes away only by an unlock, which then wakes someone, and the one
//     it wakes re-marks the word if it acquires or sleeps again. A waiter that
//     gives up (its context ended) passes a wake-up on, in case it had
//     consumed the one meant for the others.
//
// Owner death. A new locker checks that the owner is alive once before it
// first sleeps. A sleeper checks again after firstPoll; if the owner still
// holds the lock, it asks the kernel to wake the lock's sleepers when the
// owner's process exits (a pidfd, watched by the runtime's poller), and goes
// on checking every deathPoll in case that is not available. A waiter that
// finds the owner dead swaps the dead owner's word for its own token (keeping
// the mark): of several such waiters exactly one wins, and the others go on
// waiting for it. No process ever unlocks for a dead one, so the word always
// names the process that must unlock it.
//
// Fairness. None: a running process may take the lock ahead of a woken
// sleeper, which then sleeps again. This keeps the lock fast under contention,
// as sync.Mutex's normal mode does.
const (
	ownerMask  = token.Max // token of the owning process; 0 when unlocked
	waitersBit = 1 << 31   // some process may be sleeping on the word

	wakeAll = 1 << 30 // futex wake count for every sleeper

	spinTime   = 5 * time.Microsecond // spin before sleeping
	spinLosses = 3                    // but sleep at once after losing the freed lock this often
)

// A sleeping waiter checks that the owner is alive after firstPoll, and then
// every deathPoll; after the first check, the kernel also wakes it when the
// owner exits (a pidfd), so the polls are only a fallback.
var (
	firstPoll = 1 * time.Millisecond
	deathPoll = 8 * time.Millisecond
)

// lockStats counts slow-path events, for tests.
var lockStats struct {
	sleeps  atomic.Uint64 // futex waits
	watches atomic.Uint64 // owners watched through a pidfd
}

// NewMutex returns a new unlocked Mutex in shared memory.
func NewMutex() (*Mutex, error) {
	p, err := theHeap.alloc(unsafe.Sizeof(Mutex{}))
	if err != nil {
		return nil, err
	}
	return as[Mutex](p), nil
}

// Lock locks m. If the lock is already in use, the calling goroutine blocks
// until the mutex is available. If the owner died holding it, Lock takes it
// over silently; use [Mutex.LockContext] to be told.
func (m *Mutex) Lock() {
	if !m.w.CompareAndSwap(0, myToken.Load()) {
		m.lockSlowNoCtx()
	}
	if raceEnabled {
		raceAcquire(m)
	}
}

//go:noinline
func (m *Mutex) lockSlowNoCtx() {
	if err := m.lockSlow(nil); err != nil && err != ErrOwnerDead {
		panic(err)
	}
}

// LockContext locks m, waiting at most until ctx is done. It returns nil with
// the lock held, [ErrOwnerDead] with the lock held (the previous owner died
// holding it: check the data it guards), or ctx.Err() without it. If ctx is
// already done, LockContext may still succeed when the lock is free.
func (m *Mutex) LockContext(ctx context.Context) error {
	var err error
	if !m.w.CompareAndSwap(0, myToken.Load()) {
		if err = ctx.Err(); err != nil {
			return err
		}
		if err = m.lockSlow(ctx); err != nil && err != ErrOwnerDead {
			return err
		}
	}
	raceAcquire(m)
	return err
}

// TryLock tries to lock m and reports whether it succeeded. It takes over a
// lock whose owner died.
//
// Note that while correct uses of TryLock do exist, they are rare,
// and use of TryLock is often a sign of a deeper problem
// in a particular use of mutexes.
func (m *Mutex) TryLock() bool {
	me := myToken.Load()
	w := m.w.Load()
	o := w & ownerMask
	if o == 0 || !tokenAlive(o) {
		if m.w.CompareAndSwap(w, me|w&waitersBit) {
			raceAcquire(m)
			return true
		}
	}
	return false
}

// Unlock unlocks m. It is a run-time error if m is not locked on entry to
// Unlock, or if it was locked by another process.
//
// A locked Mutex is not associated with a particular goroutine: one goroutine
// may lock it and another of the same process unlock it.
func (m *Mutex) Unlock() {
	if raceEnabled {
		raceRelease(m)
	}
	if !m.w.CompareAndSwap(myToken.Load(), 0) {
		m.unlockSlow()
	}
}

func (m *Mutex) unlockSlow() {
	w := m.w.Load()
	o := w & ownerMask
	if o == 0 {
		panic("shm: unlock of unlocked Mutex")
	}
	if o != myToken.Load() {
		panic(fmt.Sprintf("shm: unlock of a Mutex locked by another process (token %d)", o))
	}
	// Only this process can change the owner now; waiters may only add the mark.
	if old := m.w.Swap(0); old&waitersBit != 0 {
		futex.Wake(&m.w, 1)
	}
}

// lockSlow locks m after the fast path failed. ctx is nil for Lock.
func (m *Mutex) lockSlow(ctx context.Context) error {
	me := myToken.Load()
	if m.spin(me) {
		return nil
	}
	var stop func() bool
	if ctx != nil && ctx.Done() != nil {
		// Wake the sleepers on m when ctx ends; the ones not waiting for ctx
		// go back to sleep.
		stop = context.AfterFunc(ctx, func() { futex.Wake(&m.w, wakeAll) })
		defer stop()
	}
	checked := false // has the current owner been checked since it was last seen?
	var owner uint32
	var watch *pidfd.Watch // wakes m's sleepers when owner dies
	watched := false       // watch was tried for owner
	defer func() {
		if watch != nil {
			watch.Stop()
		}
	}()
	for {
		w := m.w.Load()
		o := w & ownerMask
		if o == 0 {
			if m.w.CompareAndSwap(w, me|waitersBit) {
				return nil
			}
			continue
		}
		if o != owner {
			owner, checked, watched = o, false, false
			if watch != nil {
				watch.Stop()
				watch = nil
			}
		}
		if !checked {
			if !tokenAlive(o) {
				if m.w.CompareAndSwap(w, me|waitersBit) {
					return ErrOwnerDead
				}
				continue
			}
			checked = true
		}
		if w&waitersBit == 0 {
			if !m.w.CompareAndSwap(w, w|waitersBit) {
				continue
			}
			w |= waitersBit
		}
		timeout := deathPoll
		if !watched {
			timeout = min(firstPoll, deathPoll)
		}
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				futex.Wake(&m.w, 1) // pass on a wake-up this waiter may have taken
				return err
			}
			if d, ok := ctx.Deadline(); ok {
				if left := time.Until(d); left < timeout {
					timeout = max(left, time.Microsecond)
				}
			}
		}
		lockStats.sleeps.Add(1)
		switch err := futex.Wait(&m.w, w, timeout); {
		case err == futex.ErrTimeout:
			checked = false // check the owner's life again
			if !watched && o != me {
				// The owner holds on: from now on the kernel tells of its death.
				watched = true
				watch = watchOwner(o, &m.w)
			}
		case err != nil:
			return fmt.Errorf("shm: Mutex: %w", err)
		case watch != nil && watch.Fired():
			checked = false // woken by the owner's exit
		}
	}
}

// watchOwner returns a watch that wakes every sleeper on w when the process
// holding token tok exits, or nil if it cannot set one up; the sleepers then
// learn of the death at their next poll.
func watchOwner(tok uint32, w *atomic.Uint32) *pidfd.Watch {
	if family == nil {
		return nil
	}
	pid, ok := family.Pid(tok)
	if !ok {
		return nil
	}
	f, err := pidfd.Open(pid)
	if err != nil {
		return nil
	}
	// The pidfd names whatever process has pid now. If tok is still alive it
	// is that process: tok's process recorded pid itself and has held it
	// since, so the ID cannot have passed to another.
	if !tokenAlive(tok) {
		f.Close()
		return nil
	}
	watch, err := pidfd.Start(f, func() { futex.Wake(w, wakeAll) })
	if err != nil {
		return nil
	}
	lockStats.watches.Add(1)
	return watch
}

// spin tries to take m for about spinTime, then yields the processor once and
// tries again. It reports whether it took the lock. It gives up early when
// other processes took the lock spinLosses times as it was freed: under heavy
// contention a spinner only slows the holder down, and the lock goes faster
// if it sleeps (measured with the bench harness, 2 processes x 1M
// Value.Update: 1.74x the bare futex mutex with the spin alone, 1.33x with
// this limit).
func (m *Mutex) spin(me uint32) bool {
	start := time.Now()
	lost := 0
	for i := 1; ; i++ {
		w := m.w.Load()
		if w&ownerMask == 0 {
			if m.w.CompareAndSwap(w, me|w&waitersBit) {
				return true
			}
			if lost++; lost == spinLosses {
				return false // heavy contention: spinning only bounces the line
			}
		}
		if i%64 == 0 && time.Since(start) > spinTime {
			break
		}
	}
	futex.Yield()
	w := m.w.Load()
	return w&ownerMask == 0 && m.w.CompareAndSwap(w, me|w&waitersBit)
}

// noCopy may be added to structs which must not be copied after first use; go
// vet's copylocks check reports copies. It has no size: put it first in a
// struct so that it adds no padding.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
