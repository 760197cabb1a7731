package shm

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm/internal/futex"
)

// Waiting for an Event, a Cond, a Semaphore or a Barrier.
//
// Each of them keeps its state in shared memory, in a word whose 32-bit half
// (or the whole word, for an Event) is a futex word. Its notifiers (Set,
// Signal, Broadcast, Release, the last arrival at a Barrier) change the word
// with one compare-and-swap and then, if the word says that some process
// sleeps on it, wake its sleepers with FUTEX_WAKE. That is all they do: a
// notifier never waits for a waiter, so a waiter that dies, wherever it dies,
// cannot block one.
//
// A waiter checks the state, spins for spinTime as a Mutex locker does, yields
// the processor once and then sleeps on the futex word, on the value it saw
// last (spinUntil, then waitOn). The spin checks the state through a method
// value of the caller's own waiter, so that a wait that ends in its spin, as
// most waits between two busy processes do, allocates nothing; only a waiter
// that goes on to sleep is made into a waiter interface (which puts it on the
// heap). The kernel puts a sleeper to sleep only if the word still holds the
// value it saw, so a change in between is never missed. As with the Mutex, the
// goroutines of one process that wait on one word send one of them at a time
// into the kernel (the process's sleeper on the word, which holds its OS thread
// as a blocking system call does); the others wait on a channel, holding no
// thread, that the sleeper closes when its sleep ends for any reason. They all
// look at the state again then, and one of those still waiting becomes the next
// sleeper. Unlike the Mutex's queue, which hands the sleeper's role to one
// goroutine, this wakes them all: an Event, a Barrier or a Broadcast releases
// every waiter at once.
//
// A waiter whose context ends wakes the sleepers on the word until its own
// goroutine is out of the kernel (see wakeUntilOut): the other sleepers look
// again and go back to sleep.

// sleepStats counts the futex sleeps of one kind of waiter, for tests.
type sleepStats struct {
	pastSpin    atomic.Uint64 // waits that went on past their spin (waitOn)
	sleeps      atomic.Uint64 // futex waits
	sleeping    atomic.Int64  // goroutines in a futex wait now
	maxSleeping atomic.Int64  // the most there ever were at once
	lastTimeout atomic.Int64  // the timeout of the latest futex wait, in ns; 0 for none
	ctxWakes    atomic.Uint64 // wake-ups sent because a waiter's context ended
}

// wait is futex.Wait, counted.
func (st *sleepStats) wait(fw *atomic.Uint32, val uint32, timeout time.Duration) error {
	st.sleeps.Add(1)
	st.lastTimeout.Store(int64(timeout))
	n := st.sleeping.Add(1)
	for hi := st.maxSleeping.Load(); n > hi && !st.maxSleeping.CompareAndSwap(hi, n); hi = st.maxSleeping.Load() {
	}
	err := futex.Wait(fw, val, timeout)
	st.sleeping.Add(-1)
	return err
}

// waitStats counts sleeps on the words of Events, Conds, Semaphores and
// Barriers; lockStats those on Mutexes.
var waitStats sleepStats

// wakes counts the wake-ups that Events and Conds send, for tests.
var wakes atomic.Uint64

// wakeSleepers wakes every sleeper on fw, as an Event's Set or a Cond's
// Signal does when the word's mark says that some process may be asleep.
func wakeSleepers(fw *atomic.Uint32) {
	wakes.Add(1)
	futex.Wake(fw, wakeAll)
}

// A waiter is what a goroutine waits for.
type waiter interface {
	// ready reports whether the wait is over. It may change the state: a
	// Semaphore's waiter takes its permit there.
	ready() bool
	// prepare is called by the process's sleeper when ready reported false.
	// It returns the value of the futex word to sleep on and the longest
	// sleep (0 for no limit); ok false means the state changed, so look
	// again. prepare may record in the state that a process sleeps; if ok,
	// slept is then called once the sleep ends, whether or not it began.
	prepare() (val uint32, timeout time.Duration, ok bool)
	// slept is called after a sleep that prepare allowed; timedOut reports
	// whether it ended by its timeout.
	slept(timedOut bool)
}

// waitOn waits until w is ready, with fw as its futex word, once spinUntil
// has given up on it. It returns nil once w.ready has reported true, or
// ctx.Err() when ctx ended first.
func waitOn(ctx context.Context, fw *atomic.Uint32, w waiter) error {
	waitStats.pastSpin.Add(1)
	g := gates.join(fw, newGate)
	defer gates.leave(fw, nil)
	done := ctx.Done()
	var inKernel atomic.Bool // this goroutine is in, or about to enter, a futex wait on fw
	if done != nil {
		stop := context.AfterFunc(ctx, func() { wakeUntilOut(fw, &inKernel, &waitStats) })
		defer stop()
	}
	for {
		woke, sleeper := g.turn()
		if w.ready() {
			if sleeper {
				g.endTurn()
			}
			return nil
		}
		if !sleeper {
			select {
			case <-woke:
				continue
			case <-done:
				if w.ready() {
					return nil
				}
				return ctx.Err()
			}
		}
		err := sleep(ctx, fw, w, &inKernel)
		g.endTurn()
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			if w.ready() {
				return nil
			}
			return ctx.Err()
		}
	}
}

// sleep lets the process's sleeper sleep once on fw, unless ctx has ended.
func sleep(ctx context.Context, fw *atomic.Uint32, w waiter, inKernel *atomic.Bool) error {
	val, timeout, ok := w.prepare()
	if !ok {
		return nil
	}
	inKernel.Store(true)
	var err error
	timedOut := false
	if ctx.Err() == nil { // checked after inKernel is set: see wakeUntilOut
		err = waitStats.wait(fw, val, timeout)
		if timedOut = err == futex.ErrTimeout; timedOut {
			err = nil
		}
	}
	inKernel.Store(false)
	w.slept(timedOut)
	if err != nil {
		return fmt.Errorf("shm: %w", err)
	}
	return nil
}

// wakeUntilOut wakes the sleepers on fw until the goroutine that owns
// inKernel is out of its futex wait, once its context has ended. A single
// wake could come just before that goroutine enters the kernel, and nothing
// shared changes when a context ends, so the kernel would let it sleep: it
// wakes again, backing off, until the goroutine is out. The goroutine sets
// inKernel before it checks its context, so either this sees it set or the
// goroutine sees its context ended and does not sleep.
// A Mutex's sleeper uses it too. st counts the wake-ups.
func wakeUntilOut(fw *atomic.Uint32, inKernel *atomic.Bool, st *sleepStats) {
	for d := 20 * time.Microsecond; inKernel.Load(); d = min(2*d, 10*time.Millisecond) {
		futex.Wake(fw, wakeAll)
		st.ctxWakes.Add(1)
		time.Sleep(d)
	}
}

// spinUntil calls ready for about spinTime, then yields the processor once,
// so that a notifier descheduled on this core can run, and calls it again. It
// reports whether ready reported true. ready is a waiter's ready method, as a
// method value, which does not escape.
func spinUntil(ready func() bool) bool {
	start := time.Now()
	for i := 1; ; i++ {
		if ready() {
			return true
		}
		if i%64 == 0 && time.Since(start) > spinTime {
			break
		}
	}
	futex.Yield()
	return ready()
}

// A perWord keeps, for each futex word that goroutines of this process wait
// on, one value they share: the word's gate, or a Mutex's wait queue. It is
// made by the first goroutine to come and dropped when the last one leaves.
// Shared memory stays mapped at one address for the life of the process, so
// the address names the word.
type perWord[V any] struct {
	mu sync.Mutex
	m  map[*atomic.Uint32]*counted[V]
}

type counted[V any] struct {
	refs int // goroutines that joined and have not left
	v    V
}

// join returns fw's value, making it with newV if need be; the caller must
// leave.
func (pw *perWord[V]) join(fw *atomic.Uint32, newV func() V) V {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	c := pw.m[fw]
	if c == nil {
		if pw.m == nil {
			pw.m = make(map[*atomic.Uint32]*counted[V])
		}
		c = &counted[V]{v: newV()}
		pw.m[fw] = c
	}
	c.refs++
	return c.v
}

// leave undoes join; the last goroutine to leave calls last, if not nil, on
// the value as it is dropped.
func (pw *perWord[V]) leave(fw *atomic.Uint32, last func(V)) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	c := pw.m[fw]
	if c.refs--; c.refs == 0 {
		delete(pw.m, fw)
		if last != nil {
			last(c.v)
		}
	}
}

// refs returns how many goroutines have joined fw's value and not left.
func (pw *perWord[V]) refs(fw *atomic.Uint32) int {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if c := pw.m[fw]; c != nil {
		return c.refs
	}
	return 0
}

// A gate holds the goroutines of this process that wait on one futex word:
// one of them, the sleeper, sleeps in the kernel, and the others wait for its
// sleep to end.
type gate struct {
	mu      sync.Mutex
	sleeper bool          // a goroutine holds the sleeper's role
	waiting bool          // a goroutine waits on woke
	woke    chan struct{} // closed when the sleeper's sleep ends
}

// gates holds the gate of each word that goroutines of this process wait on.
var gates perWord[*gate]

func newGate() *gate { return &gate{woke: make(chan struct{})} }

// turn gives the caller the sleeper's role if nobody holds it, and reports
// so; otherwise it returns a channel that is closed when the sleeper's sleep
// ends. The caller must look at the state after turn, not before, so that no
// change goes unnoticed.
func (g *gate) turn() (woke <-chan struct{}, sleeper bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sleeper {
		g.waiting = true
		return g.woke, false
	}
	g.sleeper = true
	return nil, true
}

// endTurn gives up the sleeper's role and lets the goroutines waiting for the
// sleep to end look again.
func (g *gate) endTurn() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sleeper = false
	if g.waiting {
		close(g.woke)
		g.woke = make(chan struct{})
		g.waiting = false
	}
}
