//go:build linux

package main

// The two-process versions: a lock handed back and forth, and an event
// ping-pong. Both processes are on this machine, each with its own
// connection to the server; the bookkeeping that only the benchmark needs
// (whose turn it is, when the timing started) is in shm's shared memory,
// where it costs nanoseconds.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shmgo/shm"
	"golang.org/x/sys/unix"
)

type locker interface {
	Lock(context.Context) error
	Unlock(context.Context) error
}

type flag interface {
	Set(context.Context) error
	Clear(context.Context) error
	Wait(context.Context) error
}

// A conn is one process's connection to the server, through dist or the
// bare client.
type conn interface {
	io.Closer
	locker(ctx context.Context, name string) (locker, error)
	// flag returns the event name; wait says whether this process waits on it.
	flag(ctx context.Context, name string, wait bool) (flag, error)
}

var backends = map[string]func(ctx context.Context, endpoints []string, ns string) (conn, error){}

func init() {
	shm.Register(handoffParty)
	shm.Register(pongParty)
}

// monotonic is CLOCK_MONOTONIC in nanoseconds, which every process of the
// machine shares.
func monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// handoff returns the version in which two processes take turns holding one
// lock: turn t goes to process t%2, which takes it under the lock and gives
// the next to the other. Each process locks, and if it is not its turn,
// unlocks and locks again; with a fair (first come, first served) lock, each
// lock after the first is a hand-off from the other process. The time is
// from the first timed turn to the last, over the hand-offs between them.
func handoff(backend string) version {
	return func(ctx context.Context, endpoints []string, ns string, n int) (sample, error) {
		turn, err := shm.NewRawValue[int64](0)
		if err != nil {
			return sample{}, err
		}
		// The monotonic times of the first and last timed turns, and a
		// flag that a party that fails sets, so that the other stops.
		times, err := shm.NewRawArray[int64](3)
		if err != nil {
			return sample{}, err
		}
		ready, err := shm.NewBarrier(2)
		if err != nil {
			return sample{}, err
		}
		first := warm(n)
		total := first + n + 1
		eps := strings.Join(endpoints, ",")
		var ps []*shm.Process
		for me := range 2 {
			p, err := shm.Start(handoffParty, backend, eps, ns, me, first, total, turn, times, ready)
			if err != nil {
				for _, p := range ps {
					p.Kill()
					p.Join()
				}
				return sample{}, err
			}
			ps = append(ps, p)
		}
		var errs []error
		for _, p := range ps {
			errs = append(errs, p.Join())
		}
		if err := errors.Join(errs...); err != nil {
			return sample{}, err
		}
		if got := turn.Load(); got != int64(total) {
			return sample{}, fmt.Errorf("%d turns taken, want %d", got, total)
		}
		d := time.Duration(times.Load(1) - times.Load(0))
		return sample{Seconds: d.Seconds(), Ops: float64(n)}, nil
	}
}

// handoffParty is process me of a hand-off version.
func handoffParty(backend, endpoints, ns string, me, first, total int, turn *shm.RawValue[int64], times *shm.RawArray[int64], ready *shm.Barrier) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	defer func() {
		if err != nil {
			// The other party stops: in its turns, or at the start.
			times.Store(2, 1)
			ready.Abort()
		}
	}()
	c, err := backends[backend](ctx, strings.Split(endpoints, ","), ns)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.locker(ctx, "lock")
	if err != nil {
		return err
	}
	if _, err := ready.Wait(ctx); err != nil {
		return err
	}
	for {
		if times.Load(2) != 0 {
			return errors.New("the other party failed")
		}
		if err := l.Lock(ctx); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		t := turn.Load()
		if t < int64(total) && t%2 == int64(me) {
			switch t {
			case int64(first):
				times.Store(0, monotonic())
			case int64(total - 1):
				times.Store(1, monotonic())
			}
			turn.Store(t + 1)
		}
		if err := l.Unlock(ctx); err != nil {
			return fmt.Errorf("unlock: %w", err)
		}
		if t >= int64(total-1) {
			return nil
		}
	}
}

// pingPong returns the version in which this process Sets the event "ping"
// and Waits on "pong", then Clears it, and its partner does the opposite:
// a round trip is two wake-ups, each after a Set and before a Clear.
func pingPong(backend string) version {
	return func(ctx context.Context, endpoints []string, ns string, n int) (sample, error) {
		ready, err := shm.NewBarrier(2)
		if err != nil {
			return sample{}, err
		}
		c, err := backends[backend](ctx, endpoints, ns)
		if err != nil {
			return sample{}, err
		}
		defer c.Close()
		ping, err := c.flag(ctx, "ping", false)
		if err != nil {
			return sample{}, err
		}
		pong, err := c.flag(ctx, "pong", true)
		if err != nil {
			return sample{}, err
		}
		w := warm(n)
		p, err := shm.Start(pongParty, backend, strings.Join(endpoints, ","), ns, w+n, ready)
		if err != nil {
			return sample{}, err
		}
		// If the partner fails, stop waiting for it.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-p.Done():
				if p.ExitCode() != 0 {
					cancel()
				}
			case <-ctx.Done():
			}
		}()
		trips := func(k int) error {
			for range k {
				if err := ping.Set(ctx); err != nil {
					return err
				}
				if err := pong.Wait(ctx); err != nil {
					return err
				}
				if err := pong.Clear(ctx); err != nil {
					return err
				}
			}
			return nil
		}
		var s sample
		_, err = ready.Wait(ctx)
		if err == nil {
			err = trips(w)
		}
		if err == nil {
			t := time.Now()
			err = trips(n)
			s = elapsed(t, n)
		}
		if err != nil {
			p.Kill()
		}
		return s, errors.Join(err, p.Join())
	}
}

// pongParty is the partner of a ping-pong: n times, it waits for "ping",
// clears it and sets "pong".
func pongParty(backend, endpoints, ns string, n int, ready *shm.Barrier) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := backends[backend](ctx, strings.Split(endpoints, ","), ns)
	if err != nil {
		return err
	}
	defer c.Close()
	ping, err := c.flag(ctx, "ping", true)
	if err != nil {
		return err
	}
	pong, err := c.flag(ctx, "pong", false)
	if err != nil {
		return err
	}
	if _, err := ready.Wait(ctx); err != nil {
		return err
	}
	for range n {
		if err := ping.Wait(ctx); err != nil {
			return err
		}
		if err := ping.Clear(ctx); err != nil {
			return err
		}
		if err := pong.Set(ctx); err != nil {
			return err
		}
	}
	return nil
}
