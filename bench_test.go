package shm_test

// Benchmarks, each beside its bare reference so that a ratio comes from one
// run: go test -run '^$' -bench . -count 5
//
// The references: a plain pointer access, an atomic add and a three-state
// futex mutex (Drepper's "mutex2", not robust) on the same shared memory, and
// a plain exec of the same binary.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/internal/futexref"
)

var sink int64

func BenchmarkLoad(b *testing.B) {
	v, _ := shm.NewRawValue[int64](1)
	b.Run("RawValue", func(b *testing.B) {
		var s int64
		for i := 0; i < b.N; i++ {
			s += v.Load()
		}
		sink = s
	})
	b.Run("bare", func(b *testing.B) {
		p := v.Ptr()
		var s int64
		for i := 0; i < b.N; i++ {
			s += *p
		}
		sink = s
	})
}

func BenchmarkStore(b *testing.B) {
	v, _ := shm.NewRawValue[int64](1)
	b.Run("RawValue", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			v.Store(int64(i))
		}
	})
	b.Run("bare", func(b *testing.B) {
		p := v.Ptr()
		for i := 0; i < b.N; i++ {
			*p = int64(i)
		}
	})
}

func BenchmarkAtomicAdd(b *testing.B) {
	c, _ := shm.NewRawValue(atomic.Int64{})
	b.Run("RawValue", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c.Ptr().Add(1)
		}
	})
	b.Run("bare", func(b *testing.B) {
		p := c.Ptr()
		for i := 0; i < b.N; i++ {
			p.Add(1)
		}
	})
}

func BenchmarkLockUnlock(b *testing.B) {
	b.Run("Mutex", func(b *testing.B) {
		m, _ := shm.NewMutex()
		for i := 0; i < b.N; i++ {
			m.Lock()
			m.Unlock()
		}
	})
	b.Run("bare futex", func(b *testing.B) {
		w, _ := shm.NewRawValue(futexref.Mutex2{})
		m := w.Ptr()
		for i := 0; i < b.N; i++ {
			m.Lock()
			m.Unlock()
		}
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		var m sync.Mutex
		for i := 0; i < b.N; i++ {
			m.Lock()
			m.Unlock()
		}
	})
}

type bareValue struct {
	mu futexref.Mutex2
	v  int64
}

func BenchmarkUpdate(b *testing.B) {
	b.Run("Value", func(b *testing.B) {
		v, _ := shm.NewValue[int64](0)
		for i := 0; i < b.N; i++ {
			v.Update(func(x int64) int64 { return x + 1 })
		}
	})
	b.Run("Array", func(b *testing.B) {
		a, _ := shm.NewArray[int64](8)
		for i := 0; i < b.N; i++ {
			a.Update(3, func(x int64) int64 { return x + 1 })
		}
	})
	b.Run("bare futex", func(b *testing.B) {
		w, _ := shm.NewRawValue(bareValue{})
		p := w.Ptr()
		for i := 0; i < b.N; i++ {
			p.mu.Lock()
			p.v++
			p.mu.Unlock()
		}
	})
}

func bareIncrement(w *shm.RawValue[bareValue], n int) {
	p := w.Ptr()
	for i := 0; i < n; i++ {
		p.mu.Lock()
		p.v++
		p.mu.Unlock()
	}
}

func init() { shm.Register(bareIncrement) }

// BenchmarkTwoProcesses: one op is two processes each adding one a million
// times to one shared value, from Start to Join.
func BenchmarkTwoProcesses(b *testing.B) {
	const n = 1_000_000
	run := func(b *testing.B, fn any, mk func() any, check func(any) int64) {
		for i := 0; i < b.N; i++ {
			obj := mk()
			p1 := start(b, fn, obj, n)
			p2 := start(b, fn, obj, n)
			join(b, p1)
			join(b, p2)
			if got := check(obj); got != 2*n {
				b.Fatalf("total %d, want %d", got, 2*n)
			}
		}
	}
	b.Run("Value.Update/2", func(b *testing.B) {
		run(b, incValue, func() any { v, _ := shm.NewValue[int64](0); return v },
			func(o any) int64 { return o.(*shm.Value[int64]).Load() })
	})
	b.Run("bare futex/2", func(b *testing.B) {
		run(b, bareIncrement, func() any { v, _ := shm.NewRawValue(bareValue{}); return v },
			func(o any) int64 { return o.(*shm.RawValue[bareValue]).Ptr().v })
	})
	b.Run("atomic/2", func(b *testing.B) {
		run(b, incAtomic, func() any { v, _ := shm.NewRawValue(atomic.Int64{}); return v },
			func(o any) int64 { return o.(*shm.RawValue[atomic.Int64]).Ptr().Load() })
	})
}

// BenchmarkOwnerDeath measures how long a process takes to learn that a lock's
// owner died, as the metric "detect-ns" (each op also starts and kills a
// child, which is not counted): for a new locker, the time its LockContext
// takes; for a waiter already asleep on the lock, the time from the SIGKILL
// to the waiter holding the lock.
func BenchmarkOwnerDeath(b *testing.B) {
	b.Run("new locker", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			m, _ := shm.NewMutex()
			holdThenDie(b, m, nil)
			t0 := time.Now()
			if err := m.LockContext(context.Background()); !errors.Is(err, shm.ErrOwnerDead) {
				b.Fatal(err)
			}
			total += time.Since(t0)
			m.Unlock()
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "detect-ns")
	})
	b.Run("blocked waiter", func(b *testing.B) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			m, _ := shm.NewMutex()
			got := make(chan time.Time, 1)
			var t0 time.Time
			holdThenDie(b, m, func() {
				go func() {
					if err := m.LockContext(context.Background()); !errors.Is(err, shm.ErrOwnerDead) {
						panic(err)
					}
					got <- time.Now()
				}()
				await(b, "the waiter to sleep", m.Waiters)
				t0 = time.Now()
			})
			total += (<-got).Sub(t0)
			m.Unlock()
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "detect-ns")
	})
}

// holdThenDie has a child lock m; runs before (if any) while the child holds
// it; then kills the child and joins it.
func holdThenDie(b *testing.B, m *shm.Mutex, before func()) {
	tok, _ := shm.NewRawValue(uint64(0))
	holding := newFlag(b)
	p, err := shm.Start(lockAndHold, m, tok, holding)
	if err != nil {
		b.Fatal(err)
	}
	await(b, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })
	if before != nil {
		before()
	}
	p.Kill()
	p.Join()
}

// BenchmarkStartJoin: a child that does nothing, against a plain exec of the
// same binary that exits as soon as TestMain starts.
func BenchmarkStartJoin(b *testing.B) {
	b.Run("Start+Join", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p, err := shm.Start(doNothing)
			if err != nil {
				b.Fatal(err)
			}
			if err := p.Join(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare exec", func(b *testing.B) {
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), exitAtOnce+"=1")
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Event, Semaphore and Barrier, each beside bare references on the same
// shared memory: go test -run '^$' -bench 'PingPong|Semaphore|Barrier' -count 3

// pingPong is a pair of Events in shared memory for two processes to play
// ping-pong with, and a flag that says the child is ready.
type pingPong struct {
	Ping, Pong shm.Event
	Ready      atomic.Int32
}

// eventPong answers n pings: it waits for Ping, clears it and sets Pong.
func eventPong(pp *shm.RawValue[pingPong], n int) error {
	p := pp.Ptr()
	ctx := context.Background()
	p.Ready.Store(1)
	for range n {
		if err := p.Ping.Wait(ctx); err != nil {
			return err
		}
		p.Ping.Clear()
		p.Pong.Set()
	}
	return nil
}

// bareTurn is a futexref turn word, and a word that says the child is ready.
type bareTurn struct {
	Turn  atomic.Uint32
	Ready atomic.Int32
}

// barePong answers n pings on a bare futex word.
func barePong(t *shm.RawValue[bareTurn], n int, mode int) {
	p := t.Ptr()
	p.Ready.Store(1)
	for i := range n {
		futexref.AwaitTurn(&p.Turn, uint32(2*i+1), mode)
		futexref.GiveTurn(&p.Turn, uint32(2*i+2))
	}
}

func init() {
	shm.Register(eventPong)
	shm.Register(barePong)
}

// BenchmarkPingPong: one op is a round trip between two processes, each
// waking the other in turn: with Events (set, then wait for the answer), and
// with a bare futex word, waited on with the futex alone, by spinning alone,
// or by spinning and then sleeping as the Event does.
func BenchmarkPingPong(b *testing.B) {
	b.Run("Event", func(b *testing.B) {
		pp, _ := shm.NewRawValue(pingPong{})
		p := pp.Ptr()
		child := start(b, eventPong, pp, b.N)
		await(b, "the child", func() bool { return p.Ready.Load() == 1 })
		ctx := context.Background()
		sleeps := shm.WaitSleeps()
		b.ResetTimer()
		for range b.N {
			p.Ping.Set()
			if err := p.Pong.Wait(ctx); err != nil {
				b.Fatal(err)
			}
			p.Pong.Clear()
		}
		b.StopTimer()
		b.ReportMetric(float64(shm.WaitSleeps()-sleeps)/float64(b.N), "sleeps/op")
		join(b, child)
	})
	for mode, name := range []string{"bare futex", "bare spin", "bare spin+futex"} {
		b.Run(name, func(b *testing.B) {
			t, _ := shm.NewRawValue(bareTurn{})
			p := t.Ptr()
			child := start(b, barePong, t, b.N, mode)
			await(b, "the child", func() bool { return p.Ready.Load() == 1 })
			b.ResetTimer()
			for i := range b.N {
				futexref.GiveTurn(&p.Turn, uint32(2*i+1))
				futexref.AwaitTurn(&p.Turn, uint32(2*i+2), mode)
			}
			b.StopTimer()
			join(b, child)
		})
	}
}

// valuePong answers n pings of a Value + Event ping-pong, as the bench
// module's pingpong row does: it waits for Ping, checks that v holds 2i+1 and
// stores 2i+2, then clears Ping and sets Pong; with clearAfterWait, it clears
// Ping just after its Wait instead.
func valuePong(v *shm.Value[int64], pp *shm.RawValue[pingPong], n int, clearAfterWait bool) error {
	p := pp.Ptr()
	ctx := context.Background()
	p.Ready.Store(1)
	for i := range n {
		if err := p.Ping.Wait(ctx); err != nil {
			return err
		}
		if clearAfterWait {
			p.Ping.Clear()
		}
		if got := v.Load(); got != int64(2*i+1) {
			return fmt.Errorf("pong %d: the Value holds %d, want %d", i, got, 2*i+1)
		}
		v.Store(int64(2*i + 2))
		if !clearAfterWait {
			p.Ping.Clear()
		}
		p.Pong.Set()
	}
	return nil
}

// mutexTurn is the bare work of a Value + Event ping-pong: a number under a
// futex mutex, in one cache line as a Value's, and two turn words, in
// another line (Line2) or in the first (Line1).
type mutexTurn struct {
	Mu    futexref.Mutex2
	X     int64
	Line1 [2]atomic.Uint32
	Ready atomic.Int32
	_     [36]byte
	Line2 [2]atomic.Uint32
}

// turns returns the ping and pong turn words of t.
func (t *mutexTurn) turns(oneLine bool) (ping, pong *atomic.Uint32) {
	if oneLine {
		return &t.Line1[0], &t.Line1[1]
	}
	return &t.Line2[0], &t.Line2[1]
}

// mutexTurnPong answers n pings of the bare mutex+turn ping-pong.
func mutexTurnPong(tv *shm.RawValue[mutexTurn], n int, oneLine bool) error {
	t := tv.Ptr()
	ping, pong := t.turns(oneLine)
	t.Ready.Store(1)
	for i := range n {
		futexref.AwaitTurn(ping, uint32(i+1), futexref.SpinFutex)
		t.Mu.Lock()
		got := t.X
		t.Mu.Unlock()
		if got != int64(2*i+1) {
			return fmt.Errorf("pong %d: the number is %d, want %d", i, got, 2*i+1)
		}
		t.Mu.Lock()
		t.X = int64(2*i + 2)
		t.Mu.Unlock()
		futexref.GiveTurn(pong, uint32(i+1))
	}
	return nil
}

func init() {
	shm.Register(valuePong)
	shm.Register(mutexTurnPong)
}

// BenchmarkValuePingPong: one op is a round trip of the bench module's
// pingpong row, a number passed through a Value, each side waking the other
// with an Event: as the row does it (each side clears its own Event just
// before it sets the other's), with the Clear just after each Wait, and the
// same work done with the bare references, the number and its mutex in one
// cache line and the turn words in another (as a Value and its Events are)
// or all in one line.
func BenchmarkValuePingPong(b *testing.B) {
	for _, clearAfterWait := range []bool{false, true} {
		name := "Clear before Set"
		if clearAfterWait {
			name = "Clear after Wait"
		}
		b.Run(name, func(b *testing.B) {
			v, _ := shm.NewValue[int64](0)
			pp, _ := shm.NewRawValue(pingPong{})
			p := pp.Ptr()
			child := start(b, valuePong, v, pp, b.N, clearAfterWait)
			await(b, "the child", func() bool { return p.Ready.Load() == 1 })
			ctx := context.Background()
			sleeps := shm.WaitSleeps()
			b.ResetTimer()
			for i := range b.N {
				v.Store(int64(2*i + 1))
				if !clearAfterWait {
					p.Pong.Clear()
				}
				p.Ping.Set()
				if err := p.Pong.Wait(ctx); err != nil {
					b.Fatal(err)
				}
				if clearAfterWait {
					p.Pong.Clear()
				}
				if got := v.Load(); got != int64(2*i+2) {
					b.Fatalf("ping %d: the Value holds %d, want %d", i, got, 2*i+2)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(shm.WaitSleeps()-sleeps)/float64(b.N), "sleeps/op")
			join(b, child)
		})
	}
	for _, oneLine := range []bool{false, true} {
		name := "bare mutex+turn"
		if oneLine {
			name = "bare mutex+turn, 1 line"
		}
		b.Run(name, func(b *testing.B) {
			tv, _ := shm.NewRawValue(mutexTurn{})
			t := tv.Ptr()
			ping, pong := t.turns(oneLine)
			child := start(b, mutexTurnPong, tv, b.N, oneLine)
			await(b, "the child", func() bool { return t.Ready.Load() == 1 })
			b.ResetTimer()
			for i := range b.N {
				t.Mu.Lock()
				t.X = int64(2*i + 1)
				t.Mu.Unlock()
				futexref.GiveTurn(ping, uint32(i+1))
				futexref.AwaitTurn(pong, uint32(i+1), futexref.SpinFutex)
				t.Mu.Lock()
				got := t.X
				t.Mu.Unlock()
				if got != int64(2*i+2) {
					b.Fatalf("ping %d: the number is %d, want %d", i, got, 2*i+2)
				}
			}
			b.StopTimer()
			join(b, child)
		})
	}
}

// condPingPong is the turn number of a Cond ping-pong, and what its child
// reports: that it is ready, and its sleeps on the Cond and on the Mutex.
type condPingPong struct {
	Turn                   int64
	Ready                  atomic.Int32
	CondSleeps, LockSleeps atomic.Uint64
}

// condTurns makes the round trips of a Cond ping-pong on the side whose turns
// are the numbers 2i+side (1 the parent, 2 the child): with the Mutex held,
// it waits until Turn holds the other side's number, stores its own and
// signals. Each side holds the Mutex except inside Wait, as the bench
// module's cond-pingpong row does.
func condTurns(c *shm.Cond, p *condPingPong, side, n int) error {
	ctx := context.Background()
	m := c.Mutex()
	m.Lock()
	defer m.Unlock()
	for i := range n {
		if side == 2 {
			for p.Turn != int64(2*i+1) {
				if err := c.Wait(ctx); err != nil {
					return err
				}
			}
		}
		p.Turn = int64(2*i + side)
		c.Signal()
		if side == 1 {
			for p.Turn != int64(2*i+2) {
				if err := c.Wait(ctx); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// condPong answers n pings of a Cond ping-pong and reports its sleeps.
func condPong(c *shm.Cond, pv *shm.RawValue[condPingPong], n int) error {
	p := pv.Ptr()
	cs, ls := shm.WaitSleeps(), shm.Sleeps()
	p.Ready.Store(1)
	err := condTurns(c, p, 2, n)
	p.CondSleeps.Store(shm.WaitSleeps() - cs)
	p.LockSleeps.Store(shm.Sleeps() - ls)
	return err
}

func init() { shm.Register(condPong) }

// BenchmarkCondPingPong: one op is a round trip between two processes through
// a Cond, each holding its Mutex except inside Wait (the bench module's
// cond-pingpong row), with the sleeps on the Cond's word and on the Mutex per
// round trip, of this process (p) and of the child (c).
func BenchmarkCondPingPong(b *testing.B) {
	m, _ := shm.NewMutex()
	c, _ := shm.NewCond(m)
	pv, _ := shm.NewRawValue(condPingPong{})
	p := pv.Ptr()
	child := start(b, condPong, c, pv, b.N)
	await(b, "the child", func() bool { return p.Ready.Load() == 1 })
	cs, ls := shm.WaitSleeps(), shm.Sleeps()
	b.ResetTimer()
	if err := condTurns(c, p, 1, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	join(b, child)
	n := float64(b.N)
	b.ReportMetric(float64(shm.WaitSleeps()-cs)/n, "p-cond-sleeps/op")
	b.ReportMetric(float64(shm.Sleeps()-ls)/n, "p-lock-sleeps/op")
	b.ReportMetric(float64(p.CondSleeps.Load())/n, "c-cond-sleeps/op")
	b.ReportMetric(float64(p.LockSleeps.Load())/n, "c-lock-sleeps/op")
}

// BenchmarkSemaphore: an uncontended Acquire and Release, beside the Lock
// and Unlock of a bare futex mutex.
func BenchmarkSemaphore(b *testing.B) {
	b.Run("Acquire+Release", func(b *testing.B) {
		s, _ := shm.NewSemaphore(1)
		ctx := context.Background()
		for range b.N {
			s.Acquire(ctx)
			s.Release()
		}
	})
	b.Run("TryAcquire+Release", func(b *testing.B) {
		s, _ := shm.NewSemaphore(1)
		for range b.N {
			s.TryAcquire()
			s.Release()
		}
	})
	b.Run("bare futex", func(b *testing.B) {
		w, _ := shm.NewRawValue(futexref.Mutex2{})
		m := w.Ptr()
		for range b.N {
			m.Lock()
			m.Unlock()
		}
	})
}

// barrierParty waits at b rounds times.
func barrierParty(b *shm.Barrier, rounds int) error {
	ctx := context.Background()
	for range rounds {
		if _, err := b.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// bareBarrierParty waits at the bare barrier of n parties rounds times.
func bareBarrierParty(bb *shm.RawValue[futexref.Barrier], n, rounds int, spin bool) error {
	for range rounds {
		bb.Ptr().Wait(uint32(n), spin)
	}
	return nil
}

func init() {
	shm.Register(barrierParty)
	shm.Register(bareBarrierParty)
}

// BenchmarkBarrier: one op is a round of a Barrier of 2 and of 4 processes
// (this one and children), beside the bare futex barrier, with and without
// the spin.
func BenchmarkBarrier(b *testing.B) {
	for _, n := range []int{2, 4} {
		for _, kind := range []string{"Barrier", "bare futex", "bare spin+futex"} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				party := func(rounds int) error { return nil }
				var ps []*shm.Process
				if kind == "Barrier" {
					sb, _ := shm.NewBarrier(n)
					for range n - 1 {
						ps = append(ps, start(b, barrierParty, sb, b.N+1))
					}
					party = func(rounds int) error { return barrierParty(sb, rounds) }
				} else {
					bb, _ := shm.NewRawValue(futexref.Barrier{})
					spin := kind == "bare spin+futex"
					for range n - 1 {
						ps = append(ps, start(b, bareBarrierParty, bb, n, b.N+1, spin))
					}
					party = func(rounds int) error { return bareBarrierParty(bb, n, rounds, spin) }
				}
				party(1) // every child is running
				b.ResetTimer()
				if err := party(b.N); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for _, p := range ps {
					join(b, p)
				}
			})
		}
	}
}
