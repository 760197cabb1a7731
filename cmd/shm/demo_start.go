package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shmgo/shm"
)

// The start scenario: worker processes each load their part of the data, meet
// at a Barrier (the start line), and start together when the parent sets an
// Event (the starting gun). Each worker then sums the part its neighbour
// loaded, which is safe only once every worker has loaded its own: that is
// what the start line is for.

const (
	startWorkers = 3
	startPart    = 100_000 // numbers each worker loads
)

func init() { shm.Register(startWorker) }

// startWorker is worker i of n: it loads its part of data, waits at the start
// line and for the go, then sums worker (i+1)%n's part into sums[i].
func startWorker(i, n int, data *shm.RawArray[int64], sums *shm.RawArray[int64], line *shm.Barrier, goSignal *shm.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	part := data.Slice()[i*startPart : (i+1)*startPart]
	for k := range part {
		part[k] = int64(i*startPart + k) // "load" the data
	}
	fmt.Printf("worker %d: loaded numbers %d to %d, at the start line\n", i, i*startPart, (i+1)*startPart-1)
	if _, err := line.Wait(ctx); err != nil {
		return fmt.Errorf("worker %d at the start line: %w", i, err)
	}
	if err := goSignal.Wait(ctx); err != nil {
		return fmt.Errorf("worker %d waiting for the go: %w", i, err)
	}
	j := (i + 1) % n
	var s int64
	for _, x := range data.Slice()[j*startPart : (j+1)*startPart] {
		s += x
	}
	sums.Store(i, s)
	return nil
}

func raceStart(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data, err := shm.NewRawArray[int64](startWorkers * startPart)
	if err != nil {
		return err
	}
	sums, err := shm.NewRawArray[int64](startWorkers)
	if err != nil {
		return err
	}
	// The start line: the workers and this process.
	line, err := shm.NewBarrier(startWorkers + 1)
	if err != nil {
		return err
	}
	goSignal, err := shm.NewEvent()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d workers each load %d numbers, then wait at a Barrier of %d (the workers and the parent).\n",
		startWorkers, startPart, startWorkers+1)
	fmt.Fprintln(w, "Then each sums its neighbour's numbers, which is safe only once every worker has loaded.")
	var argLists [][]any
	for i := range startWorkers {
		argLists = append(argLists, []any{i, startWorkers, data, sums, line, goSignal})
	}
	ps, err := startAll(startWorker, argLists...)
	if err != nil {
		return err
	}
	if _, err := line.Wait(ctx); err != nil {
		// A worker failed before the start line; the others get
		// ErrBrokenBarrier there.
		return errors.Join(fmt.Errorf("the start line: %w", err), joinAll(ps))
	}
	fmt.Fprintf(w, "All %d workers at the start line. Event set: go!\n", startWorkers)
	goSignal.Set()
	if err := joinAll(ps); err != nil {
		return err
	}
	var total int64
	for i, s := range sums.Slice() {
		j := (i + 1) % startWorkers
		fmt.Fprintf(w, "worker %d summed worker %d's numbers: %d\n", i, j, s)
		total += s
	}
	const n = startWorkers * startPart
	want := int64(n) * (n - 1) / 2
	fmt.Fprintf(w, "Total: %d (0 + 1 + ... + %d = %d)\n", total, n-1, want)
	if total != want {
		return fmt.Errorf("the workers summed %d, want %d: one started before its neighbour had loaded", total, want)
	}
	return nil
}
