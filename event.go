package shm

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"
)

// An Event is a flag in shared memory that processes can wait for: Python's
// multiprocessing Event. [Event.Set] sets the flag and wakes every waiter,
// [Event.Clear] clears it, and [Event.Wait] waits until it is set. The zero
// value is a clear Event, so an Event inside a shared struct needs no set-up.
// An Event must not be copied after first use.
//
// Set never waits for a waiter: it changes a word in shared memory and asks
// the kernel to wake the waiters' threads. So a waiter that dies, even inside
// Wait, cannot block Set, as it blocks Python's Event.set for good (whose
// notify waits for each woken waiter to say that it woke, which a killed one
// never does). A waiter spins for a few microseconds and
// then sleeps, costing no CPU for as long as the Event stays clear.
//
// Wait returns nil once the flag is set, or once it has been set since Wait
// began even if it was cleared again before the waiter ran: a Set followed at
// once by a Clear still releases every goroutine that was waiting, as in
// Python. Where Python's wait takes a timeout and returns False when it runs
// out, Wait takes a context and returns its error.
//
// In a ping-pong, where each of two processes waits on its own Event and sets
// the other's, a process clears its own Event just before it sets the
// other's: not after, when the answer may already have come and the Clear
// would erase it, and preferably not just after its Wait, where the Clear is
// one more write to memory that the other process is polling, if the two
// Events share a cache line (as two Events in one shared struct do). Where
// the round trip's latency matters most, put the Events and the data they
// announce in one struct in a [RawValue] (a [Mutex] and the number it
// guards, say, beside the two Events): the other process then fetches one
// cache line a trip instead of two, which on the machine shm was measured on
// took a round trip from 1.3 us to 0.7 (the bench module's pingpong and
// pingpong-1line rows).
//
// In the terminology of the Go memory model, a call to Set "synchronizes
// before" any call to Wait that it releases or that finds the flag set, in
// every process that maps the Event.
type Event struct {
	_ noCopy
	w atomic.Uint32 // see below
}

// The event word holds the flag (eventSet), a mark that some process may be
// sleeping on the word (eventMark), and above them the number of times Set
// has set the flag (the generation), which tells a waiter that the flag was
// set while it looked away. A sleeper sets the mark and sleeps on the marked
// word; Set clears the mark as it sets the flag and wakes every sleeper if the
// mark was there, so a Set with no sleeper makes no system call.
const (
	eventSet  = 1 << 0
	eventMark = 1 << 1
	eventGen  = 1 << 2 // one generation
)

// NewEvent returns a new, clear Event in shared memory. With [In], it places
// the Event in a named segment, where [LookupEvent] finds it.
func NewEvent(opts ...Option) (*Event, error) {
	o, err := rawOptions("NewEvent", opts)
	if err != nil {
		return nil, err
	}
	if o.in != nil {
		return newNamedEvent(o)
	}
	p, err := theHeap.alloc(unsafe.Sizeof(Event{}))
	if err != nil {
		return nil, err
	}
	return as[Event](p), nil
}

// Set sets the flag and wakes every goroutine, in every process, waiting for
// it. Setting a set Event does nothing.
func (e *Event) Set() {
	raceReleaseObj(e)
	for {
		w := e.w.Load()
		if w&eventSet != 0 {
			return
		}
		if e.w.CompareAndSwap(w, (w+eventGen)&^eventMark|eventSet) {
			if w&eventMark != 0 {
				wakeSleepers(&e.w)
			}
			return
		}
	}
}

// Clear clears the flag, so that later calls to Wait block until Set is
// called again.
func (e *Event) Clear() {
	for {
		w := e.w.Load()
		if w&eventSet == 0 || e.w.CompareAndSwap(w, w&^eventSet) {
			return
		}
	}
}

// IsSet reports whether the flag is set.
func (e *Event) IsSet() bool { return e.w.Load()&eventSet != 0 }

// Wait waits until the flag is set, or until ctx is done. It returns nil if
// the flag was set when Wait was called or has been set since, and ctx.Err()
// if ctx ended first. If ctx is already done, Wait still returns nil when the
// flag is set.
func (e *Event) Wait(ctx context.Context) error {
	w := e.w.Load()
	if w&eventSet == 0 {
		ew := eventWaiter{e: e, gen: w &^ (eventGen - 1)}
		if !spinUntil(ew.ready) {
			if err := ew.sleep(ctx); err != nil {
				return err
			}
		}
	}
	raceAcquireObj(e)
	return nil
}

// An eventWaiter waits for the flag to be set, or for the generation to move
// on from gen.
type eventWaiter struct {
	e   *Event
	gen uint32 // the generation bits of the word when the wait began
}

func (ew *eventWaiter) ready() bool {
	w := ew.e.w.Load()
	return w&eventSet != 0 || w&^(eventGen-1) != ew.gen
}

func (ew *eventWaiter) prepare() (uint32, time.Duration, bool) {
	w := ew.e.w.Load()
	if w&eventSet != 0 || w&^(eventGen-1) != ew.gen {
		return 0, 0, false
	}
	if w&eventMark == 0 && !ew.e.w.CompareAndSwap(w, w|eventMark) {
		return 0, 0, false
	}
	return w | eventMark, 0, true // sleep until Set: nothing else to check
}

func (ew *eventWaiter) slept(bool) {}

// sleep waits past the spin, on a copy of ew on the heap.
func (ew eventWaiter) sleep(ctx context.Context) error { return waitOn(ctx, &ew.e.w, &ew) }
