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
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/internal/futex"
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
		w, _ := shm.NewRawValue(futex.Mutex2{})
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
	mu futex.Mutex2
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
