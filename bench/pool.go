//go:build linux

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shmgo/shm"
)

// poolNoop is the round trip's task, and poolInc Map's.
func poolNoop()         {}
func poolInc(x int) int { return x + 1 }

func init() {
	shm.Register(poolNoop)
	shm.Register(poolInc)
}

// shmPoolRoundTrip submits n no-op tasks to a pool of one worker, one at a
// time, and waits for each, after an untimed tenth of n on the same pool,
// as bench.py warms its pools.
func shmPoolRoundTrip(n int) (sample, error) {
	p, err := shm.NewPool(1, nil)
	if err != nil {
		return sample{}, err
	}
	defer p.Close()
	ctx := context.Background()
	trips := func(k int) error {
		for range k {
			f, err := p.Submit(ctx, poolNoop)
			if err != nil {
				return err
			}
			if _, err := f.Result(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	if err := trips(max(n/10, 1)); err != nil {
		return sample{}, err
	}
	t := time.Now()
	err = trips(n)
	return elapsed(t, n), err
}

// bareGoroutineRoundTrip hands n no-op functions to a goroutine, one at a
// time, and waits for each.
func bareGoroutineRoundTrip(n int) (sample, error) {
	in, out := make(chan func()), make(chan struct{})
	go func() {
		for f := range in {
			if f == nil {
				return
			}
			f()
			out <- struct{}{}
		}
	}()
	defer func() { in <- nil }()
	t := time.Now()
	for range n {
		in <- poolNoop
		<-out
	}
	return elapsed(t, n), nil
}

func mapItems(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = i
	}
	return xs
}

// shmPoolMap adds 1 to n ints with Map in a pool of two workers; the pool's
// start and a first Map of a tenth of the items, as bench.py warms its
// pool, are not timed.
func shmPoolMap(n int) (sample, error) {
	p, err := shm.NewPool(2, nil)
	if err != nil {
		return sample{}, err
	}
	defer p.Close()
	xs := mapItems(n)
	chunk := max(n/8, 1)
	if _, err := shm.Map(context.Background(), p, poolInc, xs[:max(n/10, 1)], chunk); err != nil {
		return sample{}, err
	}
	t := time.Now()
	out, err := shm.Map(context.Background(), p, poolInc, xs, chunk)
	s := elapsed(t, n)
	if err != nil {
		return sample{}, err
	}
	if out[n-1] != n {
		return sample{}, fmt.Errorf("map: last result %d, want %d", out[n-1], n)
	}
	return s, nil
}

// bareGoroutineMap does the same with two goroutines over the same chunks.
func bareGoroutineMap(n int) (sample, error) {
	xs := mapItems(n)
	t := time.Now()
	out := make([]int, n)
	chunk := max(n/8, 1)
	jobs := make(chan int, n/chunk+1)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range jobs {
				if lo < 0 {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					out[i] = poolInc(xs[i])
				}
			}
		}()
	}
	for lo := 0; lo < n; lo += chunk {
		jobs <- lo
	}
	jobs <- -1
	jobs <- -1
	wg.Wait()
	s := elapsed(t, n)
	if out[n-1] != n {
		return sample{}, fmt.Errorf("map: last result %d, want %d", out[n-1], n)
	}
	return s, nil
}

// shmPoolStart starts a pool of four workers and closes it, n times.
func shmPoolStart(n int) (sample, error) {
	t := time.Now()
	for range n {
		p, err := shm.NewPool(4, nil)
		if err != nil {
			return sample{}, err
		}
		p.Close()
	}
	return elapsed(t, n), nil
}
