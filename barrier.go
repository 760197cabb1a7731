package shm

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm/internal/futex"
	"github.com/shmgo/shm/internal/pidfd"
	"github.com/shmgo/shm/internal/token"
)

// A Barrier lets a fixed number of parties, goroutines of any process, wait
// for each other: each calls [Barrier.Wait], and all of them return once the
// last has arrived. It is Python's multiprocessing Barrier. A Barrier is used
// again and again: when a round ends, the next begins. Its state lives in
// shared memory; a *Barrier is a small handle to it, which can be passed to
// [Start]. Make one with [NewBarrier]: the zero Barrier cannot be used.
//
// A Barrier is broken by [Barrier.Abort], by a waiting party whose context
// ends, and by the death of a party that has arrived while others still wait
// for the round: then every waiting party, and every later call to Wait,
// returns [ErrBrokenBarrier]. The last party to arrive never waits for the
// others, so it cannot be blocked by a party that died waiting, as Python's
// can. A party that dies before it arrives cannot be told from a slow one:
// bound Wait with a context.
//
// A party that waits spins for a few microseconds and then sleeps. After a
// millisecond it checks that the parties that arrived before it live, and
// asks the kernel to wake it when one of their processes exits; it checks
// again at doubling intervals up to a second, which covers parties that
// arrive later. So a waiter costs no CPU to speak of, learns at once of the
// death of a party that arrived before it, and within about a second of any
// other.
//
// Where it differs from Python's Barrier: there is no action (use the index
// that Wait returns to pick one party to act) and no reset: a broken Barrier
// stays broken, so make a new one. A reset that is safe when parties may have
// died would have to wait until every waiter of the broken round has left,
// and a dead one never leaves. Wait takes a context instead of a timeout and
// returns its error, not ErrBrokenBarrier, to the party whose context ended.
//
// In the terminology of the Go memory model, everything a party did before
// its call to Wait "happens before" every other party's call to Wait of the
// same round returns, in every process that maps the Barrier.
type Barrier struct {
	a *RawArray[barrierWord] // the state, then one slot per party
}

type barrierWord struct{ w atomic.Uint64 }

// The state word holds the round number (bits 0-29), a mark that some
// process may sleep on the word (bit 30), a broken mark (bit 31) and the
// number of parties that arrived in the round (bits 32-63). The futex word is
// the half with the round and the marks: it changes only when a round ends or
// the Barrier breaks, which is all a waiter waits for, or when a sleeper sets
// the sleep mark (with a compare-and-swap, then sleeping on the marked word).
// The last party to arrive starts the next round without the mark, and calls
// the kernel to wake the sleepers only if the mark was there: a round whose
// parties all met while spinning makes no system call.
//
// Each party that arrives records its liveness token in a slot before it
// counts itself, so that waiters can check that the parties that arrived are
// alive. Arriving as number c is two compare-and-swaps: take slot c, writing
// the token and the round's parity (bit 31, which tokens never use); then
// count c+1, or, for the last party, start the next round with count 0.
// While a party holds slot c in the round, no other can take it, so slot c
// names the party that counts itself as number c; if that party dies between
// the two, the others see its dead token in the slot. A slot is taken in a
// round if it holds the round's parity and is not 0. Every round that ends
// takes each slot once, so at the start of a round every slot holds the other
// parity: none is taken. A Barrier once broken stays so, and rounds stop.
const (
	barrierRound  = 1<<30 - 1
	barrierSleep  = 1 << 30
	barrierBroken = 1 << 31
	barrierCount  = 1 << 32

	slotParity = token.Mark // bit 31

	maxParties = 1<<31 - 2
)

func slotTaken(v uint64, r uint32) bool {
	return v != 0 && v&slotParity == parity(r)
}

func parity(r uint32) uint64 { return uint64(r&1) << 31 }

// NewBarrier returns a new Barrier for n parties in shared memory. It returns
// an error if n is less than 1. With [In], it places the Barrier in a named
// segment, where [LookupBarrier] finds it.
func NewBarrier(n int, opts ...Option) (*Barrier, error) {
	o, err := rawOptions("NewBarrier", opts)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > maxParties {
		return nil, fmt.Errorf("shm: NewBarrier(%d): the number of parties must be from 1 to %d", n, maxParties)
	}
	if o.in != nil {
		return newNamedBarrier(o, n)
	}
	a, err := NewRawArray[barrierWord](n + 1)
	if err != nil {
		return nil, err
	}
	return &Barrier{a: a}, nil
}

// Wait waits until all parties have called Wait, or until ctx is done. It
// returns the order in which this party arrived, from 0 for the first to n-1
// for the last, or -1 and an error: [ErrBrokenBarrier] if the Barrier is or
// becomes broken, ctx.Err() if ctx ended first. A party whose context ends
// breaks the Barrier for the others. If ctx is already done, the last party
// still completes the round.
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	st, slots := b.parts("Wait")
	me := myToken.Load()
	for {
		s := st.Load()
		if s&barrierBroken != 0 {
			return -1, ErrBrokenBarrier
		}
		r, c := uint32(s)&barrierRound, int(s>>32)
		slot := &slots[c].w
		v := slot.Load()
		if slotTaken(v, r) {
			// Another party is arriving as number c and counts itself next.
			switch {
			case !tokenAlive(v &^ slotParity):
				breakRound(st, r)
			case ctx.Err() != nil:
				breakRound(st, r)
				return -1, ctx.Err()
			default:
				futex.Yield()
			}
			continue
		}
		mine := me | parity(r)
		if !slot.CompareAndSwap(v, mine) {
			continue
		}
		last := c+1 == len(slots)
		next := s + barrierCount
		if last {
			next = uint64((r + 1) & barrierRound)
		}
		if !st.CompareAndSwap(s, next) {
			slot.CompareAndSwap(mine, v) // broken meanwhile
			continue
		}
		raceReleaseObj(b.a)
		if last {
			if s&barrierSleep != 0 {
				futex.Wake(futexWord(st), wakeAll)
			}
			raceAcquireObj(b.a)
			return c, nil
		}
		var err error
		if bw := (barrierWaiter{st: st, slots: slots, r: r}); !spinUntil(bw.ready) {
			err = bw.sleep(ctx)
		}
		if err != nil {
			breakRound(st, r) // as Python's timeout does
		}
		if uint32(st.Load())&barrierRound != r {
			raceAcquireObj(b.a)
			return c, nil // the round ended before it broke
		}
		if err != nil {
			return -1, err
		}
		return -1, ErrBrokenBarrier
	}
}

// Abort breaks the Barrier: every party waiting, and every later call to
// Wait, returns ErrBrokenBarrier.
func (b *Barrier) Abort() {
	st, _ := b.parts("Abort")
	for {
		s := st.Load()
		if s&barrierBroken != 0 {
			return
		}
		if st.CompareAndSwap(s, s|barrierBroken) {
			futex.Wake(futexWord(st), wakeAll)
			return
		}
	}
}

// parts returns the state word and the slots.
func (b *Barrier) parts(method string) (*atomic.Uint64, []barrierWord) {
	if b.a == nil {
		panic("shm: Barrier." + method + " on a Barrier not made by NewBarrier")
	}
	words := b.a.Slice()
	return &words[0].w, words[1:]
}

// breakRound breaks the Barrier whose state word is st if it is still in
// round r.
func breakRound(st *atomic.Uint64, r uint32) {
	for {
		s := st.Load()
		if s&barrierBroken != 0 || uint32(s)&barrierRound != r {
			return
		}
		if st.CompareAndSwap(s, s|barrierBroken) {
			futex.Wake(futexWord(st), wakeAll)
			return
		}
	}
}

// A barrierWaiter waits for round r to end or for the Barrier to break. When
// its sleeps time out, or a watched party's process exits, it checks on the
// parties of round r and breaks the round if one is dead. Its first check,
// after firstPoll, also asks the kernel to wake the Barrier's sleepers when
// an arrived party's process exits (a pidfd, as a Mutex's sleeper watches the
// owner); once every party it found is watched it sleeps deathPoll at a time,
// and until then its sleeps double from firstPoll.
type barrierWaiter struct {
	st      *atomic.Uint64
	slots   []barrierWord
	r       uint32
	polls   int                     // sleeps that timed out
	watches map[uint64]*pidfd.Watch // the parties watched, by token; nil where no watch could be had
	watched bool                    // every party found at the last check is watched
}

func (bw *barrierWaiter) ready() bool {
	s := bw.st.Load()
	return uint32(s)&barrierRound != bw.r || s&barrierBroken != 0
}

func (bw *barrierWaiter) prepare() (uint32, time.Duration, bool) {
	s := bw.st.Load()
	if uint32(s)&barrierRound != bw.r || s&barrierBroken != 0 {
		return 0, 0, false
	}
	if s&barrierSleep == 0 && !bw.st.CompareAndSwap(s, s|barrierSleep) {
		return 0, 0, false
	}
	timeout := min(firstPoll<<min(bw.polls, 20), deathPoll)
	if bw.watched {
		timeout = deathPoll
	}
	return uint32(s | barrierSleep), timeout, true
}

func (bw *barrierWaiter) slept(timedOut bool) {
	fired := false
	for _, w := range bw.watches {
		fired = fired || w != nil && w.Fired()
	}
	if !timedOut && !fired {
		return
	}
	if timedOut {
		bw.polls++
	}
	bw.watched = true
	for i := range bw.slots {
		v := bw.slots[i].w.Load()
		if !slotTaken(v, bw.r) {
			continue
		}
		tok := v &^ slotParity
		if !tokenAlive(tok) {
			breakRound(bw.st, bw.r)
			return
		}
		if tok == myToken.Load() {
			continue // this process wakes its own sleepers
		}
		w, tried := bw.watches[tok]
		if !tried {
			if bw.watches == nil {
				bw.watches = make(map[uint64]*pidfd.Watch)
			}
			w = watchOwner(tok, futexWord(bw.st))
			bw.watches[tok] = w
		}
		bw.watched = bw.watched && w != nil
	}
}

// sleep waits past the spin, on a copy of bw on the heap, and then stops
// the watches.
func (bw barrierWaiter) sleep(ctx context.Context) error {
	err := waitOn(ctx, futexWord(bw.st), &bw)
	bw.stop()
	return err
}

// stop stops the watches.
func (bw *barrierWaiter) stop() {
	for _, w := range bw.watches {
		if w != nil {
			w.Stop()
		}
	}
}
