package shm

import (
	"context"
	"fmt"
	"sync"
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
// then waits. Of the goroutines of one process that wait for one Mutex, one
// sleeps in the kernel, holding its OS thread as a blocking system call does,
// and the others wait as they would for a sync.Mutex, holding none. A waiter
// costs no CPU while the owner lives: the kernel wakes it when the lock is
// unlocked or the owner's process exits, and it checks on its own only once a
// second.
//
// In the terminology of the Go memory model, the n'th call to Unlock
// “synchronizes before” the m'th call to Lock for any n < m, in every process
// that maps the Mutex; a successful call to TryLock is equivalent to a call to
// Lock.
type Mutex struct {
	_ noCopy
	w atomic.Uint64 // see the protocol below
}

// The lock word.
//
// The word is 64 bits: the liveness token of the owning process (0 when
// unlocked) and a "waiters" mark in bit 31, which no token uses. A token names
// a process without trusting its PID, and a family of processes never hands
// out the same token twice: the kernel can tell whether the process that took
// it is still alive (internal/token). The kernel's futex works on 32-bit words,
// so sleepers sleep on the half that holds bits 0-31, mark included.
//
//   - Lock: compare-and-swap 0 → token. That is the whole fast path.
//   - Unlock: compare-and-swap token → 0; if that fails, the mark is set:
//     swap the word to 0 and, since the old word had the mark, wake one
//     sleeper.
//   - A locker that finds the lock held first spins for a few microseconds,
//     which keeps a hand-off between processes on two cores near 0.1 µs
//     instead of a futex round trip of 8-50 µs, unless it keeps losing the
//     freed lock to others. It then yields the processor once, so that an
//     owner descheduled on the same core can run, and then waits.
//   - Waiting. In each process, one goroutine at a time sleeps on a lock for
//     all of that process's waiters on it (its sleeper); the others park on a
//     Go channel, holding no OS thread and no descriptor, until the sleeper
//     leaves and hands its role to one of them. The sleeper sets the mark
//     (compare-and-swap, so that it sets it on the word it saw) and calls
//     futex wait on the marked word. The kernel puts it to sleep only if the
//     word is still that value, so an unlock in between is never missed.
//   - A sleeper acquires with the mark set again (word = token|mark), because
//     sleepers of other processes, or the next sleeper of its own, may still
//     wait: the unlocker cleared the whole word and woke only one. Only
//     sleepers ever set the mark; the mark goes away only by an unlock, which
//     then wakes someone, and the one it wakes re-marks the word if it
//     acquires or sleeps again. A sleeper that gives up (its context ended)
//     passes a wake-up on, in case it had consumed the one meant for another.
//
// Owner death. A sleeper checks that the owner is alive before it first
// sleeps on it, so a new locker learns of a dead owner at once. If the owner
// still holds the lock after firstPoll, the sleeper asks the kernel to wake
// the lock's sleepers when the owner's process exits (a pidfd, watched by the
// runtime's poller) and then sleeps with deathPoll, a second, as a fallback;
// where no pidfd can be had, its checks back off from firstPoll to deathPoll.
// A sleeper that finds the owner dead swaps the dead owner's word for its own
// token (keeping the mark): of several such sleepers exactly one wins, and the
// others go on waiting for it. No process ever unlocks for a dead one, so the
// word always names the process that must unlock it. The bookkeeping is an
// ownerWatch, kept with the lock's wait queue so that one watch serves every
// sleeper of the process in turn.
//
// Fairness. None: a running process may take the lock ahead of a woken
// sleeper, which then sleeps again. This keeps the lock fast under contention,
// as sync.Mutex's normal mode does.
const (
	waitersBit = token.Mark          // some process may be sleeping on the word
	ownerMask  = ^uint64(waitersBit) // token of the owning process; 0 when unlocked

	wakeAll = 1 << 30 // futex wake count for every sleeper

	spinTime   = 5 * time.Microsecond // spin before sleeping
	spinLosses = 3                    // but sleep at once after losing the freed lock this often
)

// A sleeper checks that the owner is alive after firstPoll, and then every
// deathPoll; after the first check, the kernel also wakes it when the owner
// exits (a pidfd), so the later checks are only a fallback.
var (
	firstPoll = 1 * time.Millisecond
	deathPoll = 1 * time.Second
)

// testHookBeforeSleep, when set by a test, runs just before a sleeper's futex
// wait, after it last looked at its context.
var testHookBeforeSleep func()

// lockStats counts slow-path events, for tests.
var lockStats struct {
	sleepStats               // futex waits of sleepers on Mutexes
	watches    atomic.Uint64 // owners watched through a pidfd
	parks      atomic.Uint64 // goroutines parked behind their process's sleeper
	queued     atomic.Uint64 // lockers that gave up spinning and joined the wait queue
}

// NewMutex returns a new unlocked Mutex in shared memory. With [In], the
// Mutex is placed in a named segment.
func NewMutex(opts ...Option) (*Mutex, error) {
	if len(opts) > 0 {
		return newMutexIn(opts)
	}
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
		panic(fmt.Sprintf("shm: unlock of a Mutex locked by another process (token %#x)", o))
	}
	// Only this process can change the owner now; waiters may only add the mark.
	if old := m.w.Swap(0); old&waitersBit != 0 {
		futex.Wake(futexWord(&m.w), 1)
	}
}

// lockSlow locks m after the fast path failed. ctx is nil for Lock.
func (m *Mutex) lockSlow(ctx context.Context) error {
	me := myToken.Load()
	if m.spin(me) {
		return nil
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	fw := futexWord(&m.w)
	lockStats.queued.Add(1)
	q := queues.join(fw, newWaitQueue)
	defer queues.leave(fw, stopWatch)
	if !q.takeTurn(done) {
		return ctx.Err()
	}
	defer q.endTurn()
	var inKernel atomic.Bool // this goroutine is in, or about to enter, its futex wait
	if done != nil {
		// Wake the sleepers on m when ctx ends, until this one is out of the
		// kernel (see wakeUntilOut); the others go back to sleep.
		stop := context.AfterFunc(ctx, func() { wakeUntilOut(fw, &inKernel, &lockStats.sleepStats) })
		defer stop()
	}
	for {
		w := m.w.Load()
		o := w & ownerMask
		if o == 0 {
			if m.w.CompareAndSwap(w, me|waitersBit) {
				return nil
			}
			continue
		}
		if q.owner.dead(o) {
			if m.w.CompareAndSwap(w, me|waitersBit) {
				return ErrOwnerDead
			}
			continue
		}
		if w&waitersBit == 0 {
			if !m.w.CompareAndSwap(w, w|waitersBit) {
				continue
			}
			w |= waitersBit
		}
		timeout := q.owner.timeout()
		inKernel.Store(true) // before the context is checked: see wakeUntilOut
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				inKernel.Store(false)
				futex.Wake(fw, 1) // pass on a wake-up this sleeper may have taken
				return err
			}
			if d, ok := ctx.Deadline(); ok {
				if left := time.Until(d); left < timeout {
					timeout = max(left, time.Microsecond)
				}
			}
		}
		if testHookBeforeSleep != nil {
			testHookBeforeSleep()
		}
		err := lockStats.wait(fw, uint32(w), timeout)
		inKernel.Store(false)
		if err != nil && err != futex.ErrTimeout {
			return fmt.Errorf("shm: Mutex: %w", err)
		}
		q.owner.woke(err == futex.ErrTimeout, fw)
	}
}

// A waitQueue holds the goroutines of this process that wait for one Mutex.
// One of them at a time, the sleeper, sleeps on the futex and follows the
// owner's life; the others park on turn until the sleeper leaves. So a
// process spends at most one OS thread and one pidfd on a lock, however many
// of its goroutines wait for it.
type waitQueue struct {
	mu      sync.Mutex
	sleeper bool          // a goroutine holds the sleeper's role
	parked  int           // goroutines parked on turn
	turn    chan struct{} // hands the sleeper's role to a parked goroutine

	owner ownerWatch // used only by the sleeper
}

// queues holds the wait queue of each Mutex that goroutines of this process
// wait for, by its futex word.
var queues perWord[*waitQueue]

func newWaitQueue() *waitQueue { return &waitQueue{turn: make(chan struct{}, 1)} }

// stopWatch stops the owner watch of a queue that its last goroutine left.
func stopWatch(q *waitQueue) { q.owner.follow(0) }

// takeTurn waits until the caller holds the sleeper's role and reports true,
// or until done is closed and reports false.
func (q *waitQueue) takeTurn(done <-chan struct{}) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.sleeper {
		q.parked++
		lockStats.parks.Add(1)
		q.mu.Unlock()
		var ok bool
		select {
		case <-q.turn:
			ok = true
		case <-done:
		}
		q.mu.Lock()
		q.parked--
		if !ok {
			q.passTurn() // it may have been handed to this goroutine as done closed
			return false
		}
	}
	q.sleeper = true
	return true
}

// endTurn gives up the sleeper's role, handing it to a parked goroutine.
func (q *waitQueue) endTurn() {
	q.mu.Lock()
	q.sleeper = false
	q.passTurn()
	q.mu.Unlock()
}

// passTurn wakes a parked goroutine to take the free sleeper's role. Whenever
// a goroutine is parked, the role is held or a turn is in the channel; a turn
// left over when nobody needs it only makes a parked goroutine look again.
func (q *waitQueue) passTurn() {
	if !q.sleeper && q.parked > 0 {
		select {
		case q.turn <- struct{}{}:
		default: // a turn is already on its way
		}
	}
}

// An ownerWatch follows the life of the process that owns a lock, for the
// sleeper of its wait queue: it says when to check the owner again and keeps
// the pidfd watch that wakes the lock's sleepers when that process exits.
type ownerWatch struct {
	tok     uint64       // the owner followed; 0 for none
	checked bool         // tok was alive when last checked, and nothing has said otherwise since
	polls   int          // sleeps on tok that timed out
	tried   bool         // a pidfd watch on tok was tried
	watch   *pidfd.Watch // wakes the lock's sleepers when tok's process exits
}

// follow starts following tok, forgetting the previous owner.
func (ow *ownerWatch) follow(tok uint64) {
	if ow.watch != nil {
		ow.watch.Stop()
	}
	*ow = ownerWatch{tok: tok}
}

// dead reports whether the process holding tok has died. It asks the kernel
// only for a new owner, and after a sleep that timed out or was ended by the
// owner's exit.
func (ow *ownerWatch) dead(tok uint64) bool {
	if tok != ow.tok {
		ow.follow(tok)
	}
	if ow.checked {
		return false
	}
	if !tokenAlive(tok) {
		return true
	}
	ow.checked = true
	return false
}

// timeout returns how long the sleeper may sleep before checking the owner
// again: deathPoll once the kernel watches the owner (or the owner is this
// process, which unlocks with a wake-up), firstPoll before that, and, where no
// watch could be set up, firstPoll doubling up to deathPoll.
func (ow *ownerWatch) timeout() time.Duration {
	switch {
	case ow.watch != nil || ow.tok == myToken.Load():
		return deathPoll
	case !ow.tried:
		return min(firstPoll, deathPoll)
	}
	return min(firstPoll<<min(ow.polls, 20), deathPoll)
}

// woke records how a sleep on w, the lock's futex word, ended.
func (ow *ownerWatch) woke(timedOut bool, w *atomic.Uint32) {
	switch {
	case timedOut:
		ow.checked = false
		ow.polls++
		if !ow.tried && ow.tok != myToken.Load() {
			// The owner holds on: from now on the kernel tells of its death.
			ow.tried = true
			ow.watch = watchOwner(ow.tok, w)
		}
	case ow.watch != nil && ow.watch.Fired():
		ow.checked = false
	}
}

// watchOwner returns a watch that wakes every sleeper on w when the process
// holding token tok exits, or nil if it cannot set one up; the sleepers then
// learn of the death at their next poll.
func watchOwner(tok uint64, w *atomic.Uint32) *pidfd.Watch {
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
func (m *Mutex) spin(me uint64) bool {
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
