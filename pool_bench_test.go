//go:build linux

package shm_test

import (
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// noop is the round trip's task.
func noop() {}

func init() { shm.Register(noop) }

// BenchmarkPoolRoundTrip submits a no-op task and waits for it, one at a
// time, beside the same round trip to a goroutine over channels (the limit
// for Go). It reports the median besides the mean.
//
//	go test -run '^$' -bench PoolRoundTrip -count 3
func BenchmarkPoolRoundTrip(b *testing.B) {
	b.Run("pool", func(b *testing.B) {
		p, err := shm.NewPool(1, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		ctx := context.Background()
		times := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			f, err := p.Submit(ctx, noop)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Result(ctx); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		b.StopTimer()
		reportMedian(b, times)
	})
	b.Run("goroutine", func(b *testing.B) {
		in, out := make(chan func()), make(chan struct{})
		go func() {
			for f := range in {
				f()
				out <- struct{}{}
			}
		}()
		defer close(in)
		times := make([]time.Duration, 0, b.N)
		for range b.N {
			t0 := time.Now()
			in <- func() {}
			<-out
			times = append(times, time.Since(t0))
		}
		b.StopTimer()
		reportMedian(b, times)
	})
}

func reportMedian(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "median-us")
	b.ReportMetric(float64(times[len(times)*9/10].Nanoseconds())/1e3, "p90-us")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-us")
	var tail time.Duration
	var sum time.Duration
	for _, t := range times {
		sum += t
		if t > 50*time.Microsecond {
			tail += t
		}
	}
	b.ReportMetric(float64(tail)/float64(sum)*100, "%time>50us")
}

// BenchmarkPoolMap adds 1 to each of a million ints in a pool of two
// workers, with Map's chunk size, beside a pool of two goroutines over
// the same chunks. It reports the cost per item.
//
//	go test -run '^$' -bench PoolMap -benchtime 3x -count 3
func BenchmarkPoolMap(b *testing.B) {
	const n, workers = 1_000_000, 2
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	b.Run("pool", func(b *testing.B) {
		p, err := shm.NewPool(workers, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		b.ResetTimer()
		for range b.N {
			out, err := shm.Map(context.Background(), p, inc, in, 0)
			if err != nil || out[n-1] != n {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
	})
	b.Run("goroutines", func(b *testing.B) {
		for range b.N {
			out := make([]int, n)
			chunk := (n + 4*workers - 1) / (4 * workers)
			jobs := make(chan int)
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for lo := range jobs {
						for i := lo; i < min(lo+chunk, n); i++ {
							out[i] = inc(in[i])
						}
					}
				}()
			}
			for lo := 0; lo < n; lo += chunk {
				jobs <- lo
			}
			close(jobs)
			wg.Wait()
			if out[n-1] != n {
				b.Fatal("wrong result")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
	})
}

// BenchmarkNewPool measures the time from NewPool to four workers ready, and
// their Close.
//
//	go test -run '^$' -bench NewPool -count 3
func BenchmarkNewPool(b *testing.B) {
	for range b.N {
		p, err := shm.NewPool(4, nil)
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}

// spinWork does about 50 µs of arithmetic, the same amount every time.
func spinWork(n int) uint64 {
	x := uint64(n)
	for range 40_000 {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func init() { shm.Register(spinWork) }

// BenchmarkPoolBusy keeps four workers busy with tasks of about 50 µs of
// arithmetic each, submitted all at once, on however many cores the machine
// has: the cost of the pool's spinning when workers outnumber cores. It
// reports the wall time and the CPU time (this process and the workers) per
// task; with no spinning at all the CPU time would be the work's and the
// round trips' alone.
//
//	go test -run '^$' -bench PoolBusy -count 3
func BenchmarkPoolBusy(b *testing.B) {
	const workers, tasks = 4, 400
	var self0, kids0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids0)
	p, err := shm.NewPool(workers, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	futs := make([]*shm.Future, tasks)
	b.ResetTimer()
	for range b.N {
		for i := range futs {
			if futs[i], err = p.Submit(ctx, spinWork, i); err != nil {
				b.Fatal(err)
			}
		}
		for _, f := range futs {
			if _, err := f.Result(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	p.Close() // the workers' CPU time counts once they have been waited for
	var self1, kids1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
	cpu := func(a, b syscall.Rusage) time.Duration {
		return time.Duration(b.Utime.Nano() - a.Utime.Nano() + b.Stime.Nano() - a.Stime.Nano())
	}
	n := float64(b.N * tasks)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/1e3, "wall-us/task")
	b.ReportMetric(float64(cpu(self0, self1).Nanoseconds())/n/1e3, "pool-cpu-us/task")
	b.ReportMetric(float64(cpu(kids0, kids1).Nanoseconds())/n/1e3, "worker-cpu-us/task")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPoolNewSegment runs, on a pool of one worker, tasks that each
// refer to a segment made after the worker started: the pool sends the
// worker the segment. Each segment stays for the life of the process, so
// run it a bounded number of times.
//
//	go test -run '^$' -bench PoolNewSegment -benchtime 50x -count 3
func BenchmarkPoolNewSegment(b *testing.B) {
	p, err := shm.NewPool(1, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	arrays := make([]*shm.RawArray[int64], b.N)
	for i := range arrays {
		if arrays[i], err = shm.NewRawArray[int64](1 << 18); err != nil { // 2 MiB: a segment of its own
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for _, a := range arrays {
		f, err := p.Submit(ctx, first, a)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Result(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// first returns the first element of a.
func first(a *shm.RawArray[int64]) int64 { return a.Load(0) }

func init() { shm.Register(first) }
