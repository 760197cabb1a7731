package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm"
)

// The pool scenario: four warm workers share a total through their Init; one
// task kills its own worker mid-flight, and the pool fails that task alone,
// starts a replacement and finishes the rest.

// poolAdd adds n to the total that Init gave this worker, and returns the
// worker's process ID.
func poolAdd(n int64) int {
	poolTotal.Update(func(x int64) int64 { return x + n })
	return os.Getpid()
}

// poolTotal is the total a worker's Init received.
var poolTotal *shm.Value[int64]

// poolInit is the pool's Init: Python's initializer.
func poolInit(total *shm.Value[int64]) { poolTotal = total }

// poolDoomed says it started, then waits to be killed.
func poolDoomed(started *shm.RawValue[atomic.Int32]) {
	started.Ptr().Store(int32(os.Getpid()))
	for {
		time.Sleep(time.Hour)
	}
}

func init() {
	shm.Register(poolAdd)
	shm.Register(poolInit)
	shm.Register(poolDoomed)
	shm.Register(poolSquare)
}

func poolDemo(w io.Writer) error {
	total, err := shm.NewValue(int64(0))
	if err != nil {
		return err
	}
	started, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		return err
	}
	begin := time.Now()
	p, err := shm.NewPool(4, &shm.PoolOptions{Init: poolInit, InitArgs: []any{total}})
	if err != nil {
		return err
	}
	defer p.Kill()
	fmt.Fprintf(w, "4 workers ready in %v: pids %v\n", time.Since(begin).Round(time.Millisecond), p.State().Pids)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doomed, err := p.Submit(ctx, poolDoomed, started)
	if err != nil {
		return err
	}
	for started.Ptr().Load() == 0 {
		select {
		case <-ctx.Done():
			return errors.New("the doomed task did not start")
		case <-time.After(time.Millisecond):
		}
	}
	victim := int(started.Ptr().Load())
	const tasks = 1000
	futs := make([]*shm.Future, tasks)
	for i := range futs {
		if futs[i], err = p.Submit(ctx, poolAdd, int64(1)); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "kill -9 %d, the worker running the doomed task, with %d tasks queued\n", victim, tasks)
	if p, err := os.FindProcess(victim); err == nil {
		p.Kill()
	}
	_, err = doomed.Result(ctx)
	fmt.Fprintf(w, "the doomed task: %v\n", err)
	by := map[int]int{}
	for _, f := range futs {
		v, err := f.Result(ctx)
		if err != nil {
			return fmt.Errorf("a task besides the doomed one failed: %w", err)
		}
		by[v.(int)]++
	}
	out, err := shm.Map(ctx, p, poolSquare, []int{1, 2, 3, 4, 5, 6, 7, 8}, 2)
	if err != nil {
		return err
	}
	if err := p.Close(); err != nil {
		return err
	}
	s := p.State()
	fmt.Fprintf(w, "the other %d tasks: total %d (want %d), run by %d workers %v\n", tasks, total.Load(), tasks, len(by), by)
	fmt.Fprintf(w, "Map(square, 1..8, chunk 2) = %v\n", out)
	fmt.Fprintf(w, "closed: done %d, failed %d, workers restarted %d\n", s.Done, s.Failed, s.Restarted)
	if total.Load() != tasks {
		return fmt.Errorf("the pool's tasks added %d, want %d: a task was lost or run twice", total.Load(), tasks)
	}
	return nil
}

// poolSquare is Map's function.
func poolSquare(x int) int { return x * x }
