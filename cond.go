package shm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// A Cond is a condition variable bound to a [Mutex]: a rendezvous point for
// goroutines of any process waiting for, or announcing, a change to data that
// the Mutex guards. It is Python's multiprocessing Condition, and works as
// [sync.Cond] does: call [Cond.Wait] with the Mutex locked, in a loop that
// checks the condition, and call [Cond.Signal] or [Cond.Broadcast] after
// changing the data. Both the Cond's state and its Mutex live in shared
// memory; a *Cond is a small handle to them, which can be passed to [Start].
// Make one with [NewCond]: the zero Cond has no Mutex and cannot be used.
//
// Signal and Broadcast never wait for a waiter: they change a word in shared
// memory and ask the kernel to wake the waiters' threads. So a waiter that
// dies, even inside Wait, cannot block them, as it blocks Python's notify
// for good (which waits for each woken waiter to say that it woke, and a
// killed one never does). A waiter that dies inside Wait may take with it one Signal meant
// for another waiter, since Signal cannot tell a dead waiter from a slow one;
// Broadcast reaches every waiter that lives. A waiter costs no CPU while it
// waits.
//
// Where it differs from Python's Condition: the lock is always a [Mutex],
// which is not re-entrant (Python's default is an RLock; the package
// documentation says why shm has none), and Signal and Broadcast may be called without holding it,
// as with sync.Cond (Python raises RuntimeError). Python's notify(n) is n
// calls to Signal, notify_all is Broadcast, and wait_for(predicate) is the
// loop
//
//	for !predicate() {
//		if err := c.Wait(ctx); err != nil { ... }
//	}
//
// Wait takes a context instead of a timeout. If the Mutex's owner dies while
// a waiter relocks it, Wait returns [ErrOwnerDead] with the lock held, as
// [Mutex.LockContext] does.
//
// In the terminology of the Go memory model, a call to Signal or Broadcast
// "synchronizes before" any call to Wait that it unblocks, in every process
// that maps the Cond.
type Cond struct {
	m *Mutex
	s *condState
}

// condState is the shared part of a Cond: one word.
type condState struct {
	_ noCopy
	w atomic.Uint64 // see below
}

// The cond word keeps the waiters in two groups, as glibc's condition
// variable does, so that a Signal wakes a goroutine that was waiting when it
// was sent and never one that came later, without a list of waiters:
//
//   - g (bits 0-14) numbers the older group, G1; the newer group, G2, is
//     g+1. Groups numbered before g are done: all of their waiters were
//     signalled.
//   - bit 15 is the mark: some process may be sleeping on the word.
//   - s (bits 16-31) counts the Signals sent to G1 and not yet taken.
//   - m (bits 32-47) counts the waiters of G1 that have not returned.
//   - q (bits 48-63) counts the waiters of G2.
//
// Wait, with the Mutex held, joins G2 (q+1) and remembers its number k. A
// waiter of G1 returns by taking a Signal (s-1, m-1): any waiter of G1 may
// take any Signal sent to G1, since all of them were waiting when it was
// sent. Signal gives G1 a Signal (s+1) while some waiter of G1 has none
// (m > s); otherwise, if G2 has waiters, it closes G1, whose waiters all have
// their Signals, and makes G2 the new G1 with one Signal (g+1, s=1, m=q,
// q=0). Broadcast closes both groups (g+2, and all counts 0). Every change
// is one compare-and-swap of the word. A waiter whose context ends leaves
// its group (m-1 or q-1), or takes a Signal if G1 has one for it, so no
// Signal is ever spent on a waiter that gave up. A waiter that dies stays
// counted: it takes at most one Signal from the others, and a Broadcast
// clears it.
//
// The futex word is the half with g, the mark and s, which every Signal and
// Broadcast changes. A sleeper sets the mark (compare-and-swap, on the word
// it saw) and sleeps on the marked word. Signal and Broadcast clear the mark
// in their compare-and-swap and, if it was there, wake every sleeper, since
// the kernel cannot tell a waiter of G1 from one of G2: the ones with no
// Signal look again and mark the word again before they sleep. So a Signal
// to waiters that are still spinning, as in a ping-pong between two busy
// processes, makes no system call, and cannot hold up the waiter it wakes,
// which takes the Mutex next, with one. The mark is cleared only together
// with a wake-up of every sleeper, and join, take and leave keep it. One
// goroutine per process sleeps (see gate.go), so a wake-up costs one
// process-wide wake per waiting process.
//
// The group numbers wrap at 2^15: a waiter misreads its group only if 2^15-1
// groups are closed between its wake-up and its look at the word, and each
// needs a new waiter and a Signal; 16 bits bound the waiters of a group.
const (
	condField = 1<<16 - 1
	condGroup = 1<<15 - 1 // g
	condMark  = 1 << 15
	condSig   = 1 << 16 // s
	condG1    = 1 << 32 // m
	condG2    = 1 << 48 // q

	// maxCondWaiters is the most goroutines, in all processes together,
	// that can wait on one Cond at once.
	maxCondWaiters = condField
)

func condUnpack(w uint64) (g, s, m, q uint64) {
	return w & condGroup, w >> 16 & condField, w >> 32 & condField, w >> 48
}

// condPack packs a word without the mark.
func condPack(g, s, m, q uint64) uint64 {
	return g&condGroup | s<<16 | m<<32 | q<<48
}

var errCondFull = fmt.Errorf("shm: Cond.Wait: %d goroutines already wait on the Cond, the most it can hold", maxCondWaiters)

// NewCond returns a new Cond bound to m, which must be in shared memory: from
// [NewMutex], the Mutex of a [Value] or [Array], or a Mutex inside another
// shared object. With [In], NewCond places the Cond in a named segment,
// where [LookupCond] finds it with its Mutex, which must then be in the same
// segment (made with NewMutex and In, or a named Value's).
func NewCond(m *Mutex, opts ...Option) (*Cond, error) {
	o, err := rawOptions("NewCond", opts)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("shm: NewCond(nil): a Cond needs a *Mutex in shared memory")
	}
	if _, _, ok := theHeap.find(addr(m), unsafe.Sizeof(Mutex{})); !ok {
		return nil, errors.New("shm: NewCond: the Mutex is not in shared memory; make it with NewMutex")
	}
	if o.in != nil {
		return newNamedCond(o, m)
	}
	p, err := theHeap.alloc(unsafe.Sizeof(condState{}))
	if err != nil {
		return nil, err
	}
	return &Cond{m: m, s: as[condState](p)}, nil
}

// Mutex returns the Mutex that c is bound to.
func (c *Cond) Mutex() *Mutex { return c.m }

// Wait unlocks c's Mutex, waits until Signal or Broadcast wakes this
// goroutine or ctx is done, and locks the Mutex again before it returns. It
// returns nil when woken, [ErrOwnerDead] when the Mutex's owner died holding
// it (check the data it guards), or ctx.Err() when ctx ended first; in every
// case with the Mutex held, as sync.Cond always relocks, so Wait may block
// after ctx ends until the Mutex is free. Wait returns only when woken, by
// the end of ctx, or with an error: it has no spurious wake-ups, but the
// condition may have changed again before it relocked, so check it in a loop.
//
// It is a run-time error if the Mutex is not locked by this process on entry
// to Wait. If as many goroutines as a Cond can hold (65535) already wait on
// c, Wait returns an error at once, without unlocking.
func (c *Cond) Wait(ctx context.Context) error {
	c.mustBeMade("Wait")
	if c.m.w.Load()&ownerMask != myToken.Load() {
		panic("shm: Cond.Wait: the Cond's Mutex is not locked by this process")
	}
	k, err := c.s.join()
	if err != nil {
		return err
	}
	c.m.Unlock()
	signalled := true
	if cw := (condWaiter{s: c.s, k: k}); !spinUntil(cw.ready) {
		err = cw.sleep(ctx)
	}
	if err != nil {
		signalled = c.s.leave(k)
	}
	if lerr := c.m.LockContext(context.Background()); lerr != nil {
		return lerr
	}
	if signalled {
		raceAcquireObj(c.s)
		return nil
	}
	return err
}

// Signal wakes one goroutine waiting on c, if there is any. It is allowed but
// not required for the caller to hold the Mutex.
func (c *Cond) Signal() {
	c.mustBeMade("Signal")
	raceReleaseObj(c.s)
	for {
		w := c.s.w.Load()
		g, s, m, q := condUnpack(w)
		var nw uint64
		switch {
		case m > s:
			nw = w + condSig
		case q > 0:
			nw = condPack(g+1, 1, q, 0)
		default:
			return // nobody waits
		}
		if c.s.notify(w, nw) {
			return
		}
	}
}

// Broadcast wakes every goroutine waiting on c. It is allowed but not required
// for the caller to hold the Mutex.
func (c *Cond) Broadcast() {
	c.mustBeMade("Broadcast")
	raceReleaseObj(c.s)
	for {
		w := c.s.w.Load()
		g, s, m, q := condUnpack(w)
		if m == s && q == 0 {
			return // every waiter has its Signal already
		}
		if c.s.notify(w, condPack(g+2, 0, 0, 0)) {
			return
		}
	}
}

func (c *Cond) mustBeMade(method string) {
	if c.s == nil {
		panic("shm: Cond." + method + " on a Cond not made by NewCond")
	}
}

// notify changes the word from w to nw without the mark, as Signal and
// Broadcast do, and wakes every sleeper if w had the mark. It reports whether
// the word was still w.
func (cs *condState) notify(w, nw uint64) bool {
	if !cs.w.CompareAndSwap(w, nw&^condMark) {
		return false
	}
	if w&condMark != 0 {
		wakeSleepers(futexWord(&cs.w))
	}
	return true
}

// join adds a waiter to G2 and returns G2's number.
func (cs *condState) join() (uint64, error) {
	for {
		w := cs.w.Load()
		g, _, _, q := condUnpack(w)
		if q == maxCondWaiters {
			return 0, errCondFull
		}
		if cs.w.CompareAndSwap(w, w+condG2) {
			return (g + 1) & condGroup, nil
		}
	}
}

// take takes a Signal for a waiter of group k if there is one for it, and
// reports whether the waiter was signalled.
func (cs *condState) take(k uint64) bool {
	for {
		w := cs.w.Load()
		g, s, _, _ := condUnpack(w)
		switch k {
		case g:
			if s == 0 {
				return false
			}
			if cs.w.CompareAndSwap(w, w-condSig-condG1) {
				return true
			}
		case (g + 1) & condGroup:
			return false
		default:
			return true // a closed group
		}
	}
}

// leave takes a waiter of group k out of its group, or takes a Signal for it
// if there is one, and reports whether it was signalled.
func (cs *condState) leave(k uint64) bool {
	for {
		w := cs.w.Load()
		g, s, _, _ := condUnpack(w)
		var nw uint64
		switch k {
		case g:
			if s > 0 {
				nw = w - condSig - condG1
			} else {
				nw = w - condG1
			}
		case (g + 1) & condGroup:
			nw = w - condG2
		default:
			return true
		}
		if cs.w.CompareAndSwap(w, nw) {
			return k == g && s > 0
		}
	}
}

// A condWaiter waits for a Signal for a waiter of group k.
type condWaiter struct {
	s *condState
	k uint64
}

func (cw *condWaiter) ready() bool { return cw.s.take(cw.k) }

func (cw *condWaiter) prepare() (uint32, time.Duration, bool) {
	w := cw.s.w.Load()
	g, s, _, _ := condUnpack(w)
	if cw.k == g && s > 0 || cw.k != g && cw.k != (g+1)&condGroup {
		return 0, 0, false
	}
	if w&condMark == 0 && !cw.s.w.CompareAndSwap(w, w|condMark) {
		return 0, 0, false
	}
	return uint32(w | condMark), 0, true // sleep until signalled: nothing else to check
}

func (cw *condWaiter) slept(bool) {}

// sleep waits past the spin, on a copy of cw on the heap.
func (cw condWaiter) sleep(ctx context.Context) error {
	return waitOn(ctx, futexWord(&cw.s.w), &cw)
}
