// Package futexref holds the bare futex protocols that shm's benchmarks
// measure its Mutex, Event and Barrier against, in the root package's bench_test.go
// and in the bench module: the least two processes can do to take turns or
// to meet, with no owner, no robustness and no context. They are references
// for benchmarks only, written once so that both measure the same code.
package futexref

import (
	"sync/atomic"
	"time"

	"github.com/shmgo/shm/internal/futex"
)

// spinFor is how long a waiter spins before it yields once and sleeps, as
// shm's waiters do.
const spinFor = 5 * time.Microsecond

// How AwaitTurn waits for its turn.
const (
	Futex     = iota // sleep on the futex at once
	Spin             // spin, never sleep
	SpinFutex        // spin for 5 µs, yield once, then sleep, as shm's waiters do
)

// A turn word is a futex word that two processes take turns on, holding the
// turn's number shifted left by one (odd numbers are one side's turns, even
// ones the other's). Bit 0 says that the waiting side sleeps on the futex,
// so that the other wakes it only then.

// AwaitTurn waits, as how says, until the turn word w holds turn v.
func AwaitTurn(w *atomic.Uint32, v uint32, how int) {
	if how != Futex {
		for t0 := time.Now(); how == Spin || time.Since(t0) < spinFor; {
			if w.Load()>>1 == v {
				return
			}
		}
		futex.Yield()
	}
	for {
		x := w.Load()
		if x>>1 == v {
			return
		}
		if x&1 == 0 && !w.CompareAndSwap(x, x|1) {
			continue
		}
		futex.Wait(w, x|1, 0)
	}
}

// GiveTurn gives turn v to the other side of the turn word w, waking it if
// it sleeps.
func GiveTurn(w *atomic.Uint32, v uint32) {
	if w.Swap(v<<1)&1 != 0 {
		futex.Wake(w, 1)
	}
}

// Barrier is a counting barrier on a futex word: the last of n to arrive
// resets the count, moves the generation on and wakes the sleepers; the
// others wait for the generation to move, spinning first for as long as
// shm's waiters do and yielding once, if spin is set. Gen counts in twos:
// bit 0 says that some process sleeps, so that the last arrival wakes only
// if one does. The zero value is a barrier that no one waits at; Count and
// Gen lie in separate cache lines.
type Barrier struct {
	Count atomic.Uint32
	_     [60]byte
	Gen   atomic.Uint32
}

// Wait waits at b until n processes, this one included, wait at it.
func (b *Barrier) Wait(n uint32, spin bool) {
	g := b.Gen.Load() &^ 1
	if b.Count.Add(1) == n {
		b.Count.Store(0)
		if b.Gen.Swap(g+2)&1 != 0 {
			futex.Wake(&b.Gen, 1<<30)
		}
		return
	}
	if spin {
		for t0 := time.Now(); time.Since(t0) < spinFor; {
			if b.Gen.Load()&^1 != g {
				return
			}
		}
		futex.Yield()
	}
	for {
		x := b.Gen.Load()
		if x&^1 != g {
			return
		}
		if x&1 == 0 && !b.Gen.CompareAndSwap(x, x|1) {
			continue
		}
		futex.Wait(&b.Gen, x|1, 0)
	}
}
