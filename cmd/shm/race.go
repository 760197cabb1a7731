package main

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/shmgo/shm"
)

// The race scenario goes beyond the article, which notes that its Value vs
// RawValue example "does not show race conditions explicitly". This one does:
// several processes each add 1 many times to one counter, three times over,
// with three kinds of counter.

// A gate, in shared memory, starts the children of a round together (starting
// a process takes longer than a million additions) and tells the parent when
// they are done, so that the time measured is the time spent adding.
type gate struct {
	ready atomic.Int32 // children waiting for the gate to open
	open  atomic.Bool
	done  atomic.Int32 // children done adding
}

// wait waits, in a child, for the gate to open.
func (g *gate) wait() {
	g.ready.Add(1)
	for !g.open.Load() {
		time.Sleep(50 * time.Microsecond)
	}
}

// addRaw adds 1 n times with a plain read and a plain write: another process
// may write between the two, and its update is then lost.
func addRaw(g *shm.RawValue[gate], c *shm.RawValue[int64], n int) {
	g.Ptr().wait()
	for range n {
		c.Store(c.Load() + 1)
	}
	g.Ptr().done.Add(1)
}

// addLocked adds 1 n times under the Value's lock.
func addLocked(g *shm.RawValue[gate], v *shm.Value[int64], n int) {
	g.Ptr().wait()
	for range n {
		v.Update(func(x int64) int64 { return x + 1 })
	}
	g.Ptr().done.Add(1)
}

// addAtomic adds 1 n times with an atomic add: no lock, and no update lost.
func addAtomic(g *shm.RawValue[gate], c *shm.RawValue[atomic.Int64], n int) {
	g.Ptr().wait()
	for range n {
		c.Ptr().Add(1)
	}
	g.Ptr().done.Add(1)
}

// A raceResult is what one round of the race found.
type raceResult struct {
	counter string // the counter's type
	op      string // how the children add 1
	total   int64  // the counter at the end
	elapsed time.Duration
}

// race runs the three rounds, procs processes adding 1 n times each, and
// prints what each counter ends with and how long the adding took.
func race(w io.Writer, procs, n int) error {
	raw, err := shm.NewRawValue[int64](0)
	if err != nil {
		return err
	}
	locked, err := shm.NewValue[int64](0)
	if err != nil {
		return err
	}
	atomicCounter, err := shm.NewRawValue(atomic.Int64{})
	if err != nil {
		return err
	}
	rounds := []struct {
		counter, op string
		fn          any
		arg         any
		load        func() int64
	}{
		{"RawValue[int64]", "c.Store(c.Load() + 1)", addRaw, raw, raw.Load},
		{"Value[int64]", "v.Update(func(x int64) int64 { return x + 1 })", addLocked, locked, locked.Load},
		{"RawValue[atomic.Int64]", "c.Ptr().Add(1)", addAtomic, atomicCounter, atomicCounter.Ptr().Load},
	}
	want := int64(procs) * int64(n)
	fmt.Fprintf(w, "%d processes each add 1 to a shared counter %d times: %d in all.\n", procs, n, want)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "counter\tfinal\tlost\ttime\tadding 1 with\n")
	var results []raceResult
	for _, r := range rounds {
		elapsed, err := raceRound(procs, r.fn, r.arg, n)
		if err != nil {
			return fmt.Errorf("race, %s: %w", r.counter, err)
		}
		res := raceResult{counter: r.counter, op: r.op, total: r.load(), elapsed: elapsed}
		results = append(results, res)
		lostText := "none"
		if res.total != want {
			lostText = fmt.Sprintf("%d (%.1f%%)", want-res.total, 100*float64(want-res.total)/float64(want))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", res.counter, res.total, lostText, roundDuration(res.elapsed), res.op)
	}
	tw.Flush()
	if results[0].total < want {
		fmt.Fprintf(w, "The RawValue lost %d updates: Store(Load()+1) is a read and then a write, and another process can write in between.\n", want-results[0].total)
	} else {
		fmt.Fprintln(w, "The RawValue lost no update this time (the processes did not overlap), but Store(Load()+1) is a read and then a write: another process can write in between.")
	}
	fmt.Fprintln(w, "Value.Update holds the lock from the read to the write; an atomic.Int64 in a RawValue adds without a lock.")
	return nil
}

// raceRound starts procs children running fn(gate, counter, n), opens the gate
// once they all wait at it, and returns the time from then until they are all
// done adding.
func raceRound(procs int, fn, counter any, n int) (time.Duration, error) {
	g, err := shm.NewRawValue(gate{})
	if err != nil {
		return 0, err
	}
	var argLists [][]any
	for range procs {
		argLists = append(argLists, []any{g, counter, n})
	}
	ps, err := startAll(fn, argLists...)
	if err != nil {
		return 0, err
	}
	joined := make(chan error, 1)
	go func() { joined <- joinAll(ps) }()

	// waitFor polls cond until it holds, or until every child has ended
	// without making it hold (one failed, say); it reports whether it holds.
	var joinErr error
	ended := false
	waitFor := func(cond func() bool) bool {
		for !cond() {
			if ended {
				return false
			}
			select {
			case joinErr = <-joined:
				ended = true
				continue // look at cond once more: they may have ended just now
			default:
			}
			time.Sleep(100 * time.Microsecond)
		}
		return true
	}
	gp := g.Ptr()
	if !waitFor(func() bool { return gp.ready.Load() == int32(procs) }) {
		return 0, childrenEnded(joinErr, "before they started adding")
	}
	start := time.Now()
	gp.open.Store(true)
	if !waitFor(func() bool { return gp.done.Load() == int32(procs) }) {
		return 0, childrenEnded(joinErr, "before they were done adding")
	}
	elapsed := time.Since(start)
	if !ended {
		joinErr = <-joined
	}
	return elapsed, joinErr
}

func childrenEnded(err error, when string) error {
	if err == nil {
		err = errors.New("no error")
	}
	return fmt.Errorf("the children ended %s: %w", when, err)
}

// roundDuration rounds d to about three significant digits.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
