//go:build linux

package main

// Event, Cond, Semaphore and Barrier: shm's versions and their bare limits. The
// bare ones are the references of the root package's bench_test.go, run here
// between processes started with a bare exec.Command.

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/internal/futexref"
)

func init() {
	shm.Register(childEventPong)
	shm.Register(childValueEventPong)
	shm.Register(childLinePong)
	shm.Register(childCondPong)
	shm.Register(childBarrier)
}

// ---- Event ping-pong ----

// An eventPair is what two processes play ping-pong with: the parent sets
// Ping and waits for Pong, the child waits for Ping, clears it and sets Pong.
type eventPair struct {
	Ping, Pong shm.Event
}

// childEventPong answers n pings.
func childEventPong(pp *shm.RawValue[eventPair], n int) error {
	p := pp.Ptr()
	ctx := context.Background()
	for range n {
		if err := p.Ping.Wait(ctx); err != nil {
			return err
		}
		p.Ping.Clear()
		p.Pong.Set()
	}
	return nil
}

func eventPing(p *eventPair, n int) error {
	ctx := context.Background()
	for range n {
		p.Ping.Set()
		if err := p.Pong.Wait(ctx); err != nil {
			return err
		}
		p.Pong.Clear()
	}
	return nil
}

func shmEventPingPong(n int) (sample, error) {
	pp, err := shm.NewRawValue(eventPair{})
	if err != nil {
		return sample{}, err
	}
	p, err := shm.Start(childEventPong, pp, warmTrips+n)
	if err != nil {
		return sample{}, err
	}
	if err := eventPing(pp.Ptr(), warmTrips); err != nil {
		p.Kill()
		return sample{}, err
	}
	t := time.Now()
	err = eventPing(pp.Ptr(), n)
	s := elapsed(t, n)
	if err != nil {
		p.Kill()
		return s, err
	}
	return s, p.Join()
}

// childValueEventPong answers n pings through a Value: it waits for Ping,
// checks that v holds 2i+1, stores 2i+2, and then clears Ping and sets Pong.
//
// Each side clears its own Event just before it sets the other's, which is
// how a ping-pong through Events should be written: the Clear cannot come
// after the Set (the answer may already be there, and the Clear would erase
// it), and placed right before it, the two writes to the Events' cache line
// come together. A Clear just after Wait, as Python code often has it, writes
// that line once more while the other process spins on it, and the Set then
// has to take the line back (see the README for what that cost).
func childValueEventPong(v *shm.Value[int64], pp *shm.RawValue[eventPair], n int) error {
	p := pp.Ptr()
	ctx := context.Background()
	for i := range n {
		if err := p.Ping.Wait(ctx); err != nil {
			return err
		}
		if got := v.Load(); got != int64(2*i+1) {
			return fmt.Errorf("pong %d: the Value holds %d, want %d", i, got, 2*i+1)
		}
		v.Store(int64(2*i + 2))
		p.Ping.Clear()
		p.Pong.Set()
	}
	return nil
}

func valueEventPing(v *shm.Value[int64], p *eventPair, from, to int) error {
	ctx := context.Background()
	for i := from; i < to; i++ {
		v.Store(int64(2*i + 1))
		p.Pong.Clear()
		p.Ping.Set()
		if err := p.Pong.Wait(ctx); err != nil {
			return err
		}
		if got := v.Load(); got != int64(2*i+2) {
			return fmt.Errorf("ping %d: the Value holds %d, want %d", i, got, 2*i+2)
		}
	}
	return nil
}

// shmPingPong is a round trip through a Value, each side waking the other with
// an Event rather than polling the Value.
func shmPingPong(n int) (sample, error) {
	v, err := shm.NewValue[int64](0)
	if err != nil {
		return sample{}, err
	}
	pp, err := shm.NewRawValue(eventPair{})
	if err != nil {
		return sample{}, err
	}
	p, err := shm.Start(childValueEventPong, v, pp, warmTrips+n)
	if err != nil {
		return sample{}, err
	}
	if err := valueEventPing(v, pp.Ptr(), 0, warmTrips); err != nil {
		p.Kill()
		return sample{}, err
	}
	t := time.Now()
	err = valueEventPing(v, pp.Ptr(), warmTrips, warmTrips+n)
	s := elapsed(t, n)
	if err != nil {
		p.Kill()
		return s, err
	}
	return s, p.Join()
}

// A pingLine is the state of the pingpong row laid out in one struct, and
// so in one cache line: a lock and the number it guards, as a Value holds
// them, and the two Events. It is how a program puts what one round trip
// touches together when the round trip's latency matters most: a Value and
// its Events are separate objects, each in lines of its own.
type pingLine struct {
	Mu         shm.Mutex
	N          int64
	Ping, Pong shm.Event
}

// childLinePong answers n pings as childValueEventPong does, with the lock
// and the number of a pingLine in place of the Value.
func childLinePong(pl *shm.RawValue[pingLine], n int) error {
	p := pl.Ptr()
	ctx := context.Background()
	for i := range n {
		if err := p.Ping.Wait(ctx); err != nil {
			return err
		}
		p.Mu.Lock()
		got := p.N
		p.Mu.Unlock()
		if got != int64(2*i+1) {
			return fmt.Errorf("pong %d: the number is %d, want %d", i, got, 2*i+1)
		}
		p.Mu.Lock()
		p.N = int64(2*i + 2)
		p.Mu.Unlock()
		p.Ping.Clear()
		p.Pong.Set()
	}
	return nil
}

func linePing(p *pingLine, from, to int) error {
	ctx := context.Background()
	for i := from; i < to; i++ {
		p.Mu.Lock()
		p.N = int64(2*i + 1)
		p.Mu.Unlock()
		p.Pong.Clear()
		p.Ping.Set()
		if err := p.Pong.Wait(ctx); err != nil {
			return err
		}
		p.Mu.Lock()
		got := p.N
		p.Mu.Unlock()
		if got != int64(2*i+2) {
			return fmt.Errorf("ping %d: the number is %d, want %d", i, got, 2*i+2)
		}
	}
	return nil
}

// shmLinePingPong is shmPingPong with its state in one pingLine.
func shmLinePingPong(n int) (sample, error) {
	pl, err := shm.NewRawValue(pingLine{})
	if err != nil {
		return sample{}, err
	}
	p, err := shm.Start(childLinePong, pl, warmTrips+n)
	if err != nil {
		return sample{}, err
	}
	if err := linePing(pl.Ptr(), 0, warmTrips); err != nil {
		p.Kill()
		return sample{}, err
	}
	t := time.Now()
	err = linePing(pl.Ptr(), warmTrips, warmTrips+n)
	s := elapsed(t, n)
	if err != nil {
		p.Kill()
		return s, err
	}
	return s, p.Join()
}

// The bare ping-pong that spins and then sleeps, as an Event's waiter does:
// a futexref turn word.

func barePingPongSpinFutex(n int) (sample, error) {
	m, err := newMapping(4096)
	if err != nil {
		return sample{}, err
	}
	defer m.close()
	c := bareCmd("pong-spinfutex", warmTrips+n, m)
	if err := c.Start(); err != nil {
		return sample{}, err
	}
	w := at[atomic.Uint32](m.mem, 0)
	trips := func(from, to int) {
		for i := from; i < to; i++ {
			futexref.GiveTurn(w, uint32(2*i+1))
			futexref.AwaitTurn(w, uint32(2*i+2), futexref.SpinFutex)
		}
	}
	trips(0, warmTrips)
	t := time.Now()
	trips(warmTrips, warmTrips+n)
	s := elapsed(t, n)
	return s, c.Wait()
}

// ---- Cond ping-pong ----

// condTrips makes the round trips from to to of a Cond ping-pong, on
// the side whose turns are the numbers 2i+side (1 the parent, 2 the child):
// with the Cond's Mutex held, it waits until turn holds the other side's
// number, stores its own and signals. The parent, which starts, stores
// first; each side holds the Mutex except inside Wait.
func condTrips(c *shm.Cond, turn *int64, side, from, to int) error {
	ctx := context.Background()
	m := c.Mutex()
	m.Lock()
	defer m.Unlock()
	for i := from; i < to; i++ {
		if side == 2 {
			for *turn != int64(2*i+1) {
				if err := c.Wait(ctx); err != nil {
					return err
				}
			}
		}
		*turn = int64(2*i + side)
		c.Signal()
		if side == 1 {
			for *turn != int64(2*i+2) {
				if err := c.Wait(ctx); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// childCondPong answers n pings of a Cond ping-pong.
func childCondPong(c *shm.Cond, turn *shm.RawValue[int64], n int) error {
	return condTrips(c, turn.Ptr(), 2, 0, n)
}

func shmCondPingPong(n int) (sample, error) {
	m, err := shm.NewMutex()
	if err != nil {
		return sample{}, err
	}
	c, err := shm.NewCond(m)
	if err != nil {
		return sample{}, err
	}
	turn, err := shm.NewRawValue[int64](0)
	if err != nil {
		return sample{}, err
	}
	p, err := shm.Start(childCondPong, c, turn, warmTrips+n)
	if err != nil {
		return sample{}, err
	}
	if err := condTrips(c, turn.Ptr(), 1, 0, warmTrips); err != nil {
		p.Kill()
		return sample{}, err
	}
	t := time.Now()
	err = condTrips(c, turn.Ptr(), 1, warmTrips, warmTrips+n)
	s := elapsed(t, n)
	if err != nil {
		p.Kill()
		return s, err
	}
	return s, p.Join()
}

// ---- Semaphore ----

//go:noinline
func loopSemaphore(s *shm.Semaphore, n int) error {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := s.Acquire(ctx); err != nil {
			return err
		}
		s.Release()
	}
	return nil
}

func shmSemaphore(n int) (sample, error) {
	s, err := shm.NewSemaphore(1)
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	err = loopSemaphore(s, n)
	return elapsed(t, n), err
}

// ---- Barrier ----

// childBarrier waits at b rounds times.
func childBarrier(b *shm.Barrier, rounds int) error {
	ctx := context.Background()
	for range rounds {
		if _, err := b.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// shmBarrier returns the run of a Barrier of parties processes: this one and
// parties-1 children, n rounds timed after one that has them all running.
func shmBarrier(parties int) func(n int) (sample, error) {
	return func(n int) (sample, error) {
		b, err := shm.NewBarrier(parties)
		if err != nil {
			return sample{}, err
		}
		var ps []*shm.Process
		kill := func() {
			for _, p := range ps {
				p.Kill()
			}
		}
		for range parties - 1 {
			p, err := shm.Start(childBarrier, b, 1+n)
			if err != nil {
				kill()
				return sample{}, err
			}
			ps = append(ps, p)
		}
		if err := childBarrier(b, 1); err != nil {
			kill()
			return sample{}, err
		}
		t := time.Now()
		err = childBarrier(b, n)
		s := elapsed(t, n)
		if err != nil {
			kill()
			return s, err
		}
		for _, p := range ps {
			if err := p.Join(); err != nil {
				return s, err
			}
		}
		return s, nil
	}
}

//go:noinline
func loopBareBarrier(bb *futexref.Barrier, parties, rounds int, spin bool) {
	for range rounds {
		bb.Wait(uint32(parties), spin)
	}
}

// envParties is the number of parties of a bare barrier child's barrier.
const envParties = "SHMBENCH_PARTIES"

// bareBarrierRun returns the run of the bare barrier of parties processes,
// with or without the spin, timed as shmBarrier is.
func bareBarrierRun(parties int, spin bool) func(n int) (sample, error) {
	role := "barrier-futex"
	if spin {
		role = "barrier-spinfutex"
	}
	return func(n int) (sample, error) {
		m, err := newMapping(4096)
		if err != nil {
			return sample{}, err
		}
		defer m.close()
		var cmds []*exec.Cmd
		kill := func() {
			for _, c := range cmds {
				c.Process.Kill()
				c.Wait()
			}
		}
		for range parties - 1 {
			c := bareCmd(role, 1+n, m)
			c.Env = append(c.Env, envParties+"="+strconv.Itoa(parties))
			if err := c.Start(); err != nil {
				kill()
				return sample{}, err
			}
			cmds = append(cmds, c)
		}
		bb := at[futexref.Barrier](m.mem, 0)
		loopBareBarrier(bb, parties, 1, spin)
		t := time.Now()
		loopBareBarrier(bb, parties, n, spin)
		s := elapsed(t, n)
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				return s, err
			}
		}
		return s, nil
	}
}
