//go:build linux

package main

// The workloads written with shm's public API.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/internal/futex"
)

func init() {
	shm.Register(childIncRaw)
	shm.Register(childIncAtomic)
	shm.Register(childIncUpdate)
	shm.Register(childIncLoadStore)
	shm.Register(childFillRaw)
	shm.Register(childFillArray)
	shm.Register(childPongAtomic)
	shm.Register(childNoop)
	shm.Register(childHold)
}

// sink keeps the compiler from dropping the loads.
var sink int64

func elapsed(t time.Time, n int) sample {
	return sample{Seconds: time.Since(t).Seconds(), Ops: float64(n)}
}

// ---- single process ----

//go:noinline
func loopRawLoad(v *shm.RawValue[int64], n int) int64 {
	var s int64
	for i := 0; i < n; i++ {
		s += v.Load()
	}
	return s
}

//go:noinline
func loopRawStore(v *shm.RawValue[int64], n int) {
	for i := 0; i < n; i++ {
		v.Store(int64(i))
	}
}

//go:noinline
func loopRawInc(v *shm.RawValue[int64], n int) {
	for i := 0; i < n; i++ {
		v.Store(v.Load() + 1)
	}
}

//go:noinline
func loopAtomicAdd(v *shm.RawValue[atomic.Int64], n int) {
	for i := 0; i < n; i++ {
		v.Ptr().Add(1)
	}
}

func inc(x int64) int64 { return x + 1 }

//go:noinline
func loopValueUpdate(v *shm.Value[int64], n int) {
	for i := 0; i < n; i++ {
		v.Update(inc)
	}
}

//go:noinline
func loopValueLoadStore(v *shm.Value[int64], n int) {
	for i := 0; i < n; i++ {
		v.Store(v.Load() + 1)
	}
}

//go:noinline
func loopMutex(m *shm.Mutex, n int) {
	for i := 0; i < n; i++ {
		m.Lock()
		m.Unlock()
	}
}

func shmRawLoad(n int) (sample, error) {
	v, err := shm.NewRawValue[int64](1)
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	sink += loopRawLoad(v, n)
	return elapsed(t, n), nil
}

func shmRawStore(n int) (sample, error) {
	v, err := shm.NewRawValue[int64](0)
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopRawStore(v, n)
	return elapsed(t, n), nil
}

func shmRawInc(n int) (sample, error) {
	v, err := shm.NewRawValue[int64](0)
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopRawInc(v, n)
	s := elapsed(t, n)
	return s, expect(v.Load(), n)
}

func shmAtomicAdd(n int) (sample, error) {
	v, err := shm.NewRawValue(atomic.Int64{})
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopAtomicAdd(v, n)
	s := elapsed(t, n)
	return s, expect(v.Ptr().Load(), n)
}

func shmValueUpdate(n int) (sample, error) {
	v, err := shm.NewValue[int64](0)
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopValueUpdate(v, n)
	s := elapsed(t, n)
	return s, expect(v.Load(), n)
}

func shmMutex(n int) (sample, error) {
	m, err := shm.NewMutex()
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopMutex(m, n)
	return elapsed(t, n), nil
}

func expect(got int64, want int) error {
	if got != int64(want) {
		return fmt.Errorf("counted %d, want %d", got, want)
	}
	return nil
}

// ---- P processes x n increments ----

type countKind int

const (
	countRaw       countKind = iota // RawValue: Store(Load()+1), loses updates
	countAtomic                     // RawValue[atomic.Int64]: Ptr().Add(1)
	countUpdate                     // Value: Update(inc)
	countLoadStore                  // Value: Store(Load()+1), two locked operations, loses updates
)

// Each child of a count first waits at a barrier until all have started, so
// that they do run at the same time: a child does its share in a few
// milliseconds, less than it takes to start the next one.

func childIncRaw(v *shm.RawValue[int64], b *shm.RawValue[atomic.Int32], procs, n int) {
	barrier(b.Ptr(), procs)
	loopRawInc(v, n)
}

func childIncAtomic(v *shm.RawValue[atomic.Int64], b *shm.RawValue[atomic.Int32], procs, n int) {
	barrier(b.Ptr(), procs)
	loopAtomicAdd(v, n)
}

func childIncUpdate(v *shm.Value[int64], b *shm.RawValue[atomic.Int32], procs, n int) {
	barrier(b.Ptr(), procs)
	loopValueUpdate(v, n)
}

func childIncLoadStore(v *shm.Value[int64], b *shm.RawValue[atomic.Int32], procs, n int) {
	barrier(b.Ptr(), procs)
	loopValueLoadStore(v, n)
}

// barrier counts this process in and spins until the others are in too. When
// there are more processes than cores it yields the processor while it waits,
// so that the parent can start the others. The bare children and the Python
// ones wait the same way.
func barrier(b *atomic.Int32, procs int) {
	b.Add(1)
	yield := procs > runtime.NumCPU()
	for b.Load() < int32(procs) {
		if yield {
			futex.Yield()
		}
	}
}

// countShm returns the run of procs children of kind, n increments each, timed
// from the first Start to the last Join.
func countShm(kind countKind, procs int) func(n int) (sample, error) {
	return func(n int) (sample, error) {
		var (
			fn    any
			arg   any
			final func() int64
		)
		switch kind {
		case countRaw:
			v, err := shm.NewRawValue[int64](0)
			if err != nil {
				return sample{}, err
			}
			fn, arg, final = childIncRaw, v, v.Load
		case countAtomic:
			v, err := shm.NewRawValue(atomic.Int64{})
			if err != nil {
				return sample{}, err
			}
			fn, arg, final = childIncAtomic, v, v.Ptr().Load
		case countUpdate, countLoadStore:
			v, err := shm.NewValue[int64](0)
			if err != nil {
				return sample{}, err
			}
			fn, arg, final = childIncUpdate, v, v.Load
			if kind == countLoadStore {
				fn = childIncLoadStore
			}
		}
		b, err := shm.NewRawValue(atomic.Int32{})
		if err != nil {
			return sample{}, err
		}
		t := time.Now()
		ps := make([]*shm.Process, 0, procs)
		for range procs {
			p, err := shm.Start(fn, arg, b, procs, n)
			if err != nil {
				return sample{}, err
			}
			ps = append(ps, p)
		}
		for _, p := range ps {
			if err := p.Join(); err != nil {
				return sample{}, err
			}
		}
		s := sample{Seconds: time.Since(t).Seconds(), Ops: float64(procs * n)}
		return s, checkCount(kind == countRaw || kind == countLoadStore, final(), procs*n, &s)
	}
}

// checkCount records the lost updates of a count, and fails a count that must
// not lose any but did.
func checkCount(mayLose bool, got int64, want int, s *sample) error {
	s.Lost = float64(int64(want) - got)
	if !mayLose && got != int64(want) {
		return fmt.Errorf("counted %d, want %d: %d updates lost", got, want, int64(want)-got)
	}
	return nil
}

// ---- arrays ----

func childFillRaw(a *shm.RawArray[float64]) {
	s := a.Slice()
	for i := range s {
		s[i] = float64(i)
	}
}

func childFillArray(a *shm.Array[float64]) {
	for i := 0; i < a.Len(); i++ {
		a.Store(i, float64(i))
	}
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// startJoin runs fn in a child and waits for it.
func startJoin(fn any, args ...any) error {
	p, err := shm.Start(fn, args...)
	if err != nil {
		return err
	}
	return p.Join()
}

func checkSum(got float64, n int) error {
	if want := float64(n) * float64(n-1) / 2; got != want {
		return fmt.Errorf("sum %v, want %v", got, want)
	}
	return nil
}

func shmRawArray(n int) (sample, error) {
	t := time.Now()
	a, err := shm.NewRawArray[float64](n)
	if err != nil {
		return sample{}, err
	}
	if err := startJoin(childFillRaw, a); err != nil {
		return sample{}, err
	}
	got := sum(a.Slice())
	s := sample{Seconds: time.Since(t).Seconds(), Bytes: float64(8 * n)}
	return s, checkSum(got, n)
}

func shmArray(n int) (sample, error) {
	t := time.Now()
	a, err := shm.NewArray[float64](n)
	if err != nil {
		return sample{}, err
	}
	if err := startJoin(childFillArray, a); err != nil {
		return sample{}, err
	}
	got := sum(a.Snapshot())
	s := sample{Seconds: time.Since(t).Seconds(), Bytes: float64(8 * n)}
	return s, checkSum(got, n)
}

// ---- latency ----

// warmTrips round trips are made before the timed ones.
const warmTrips = 1000

// A process polling for its partner yields the processor every spinYield
// polls, in case the partner waits for it: on a single core a pure spin would
// make every round trip last a time slice. Polls take a few nanoseconds, so on
// several cores the partner answers long before.
const spinYield = 1024

func childPongAtomic(v *shm.RawValue[atomic.Int64], n int) {
	a := v.Ptr()
	for i := 0; i < n; i++ {
		for j := 1; a.Load() != int64(2*i+1); j++ {
			if j%spinYield == 0 {
				futex.Yield()
			}
		}
		a.Store(int64(2*i + 2))
	}
}

func pingAtomic(a *atomic.Int64, from, to int) {
	for i := from; i < to; i++ {
		a.Store(int64(2*i + 1))
		for j := 1; a.Load() != int64(2*i+2); j++ {
			if j%spinYield == 0 {
				futex.Yield()
			}
		}
	}
}

func shmPingPongAtomic(n int) (sample, error) {
	v, err := shm.NewRawValue(atomic.Int64{})
	if err != nil {
		return sample{}, err
	}
	p, err := shm.Start(childPongAtomic, v, warmTrips+n)
	if err != nil {
		return sample{}, err
	}
	pingAtomic(v.Ptr(), 0, warmTrips)
	t := time.Now()
	pingAtomic(v.Ptr(), warmTrips, warmTrips+n)
	s := elapsed(t, n)
	return s, p.Join()
}

// ---- processes ----

func childNoop() {}

func shmStartJoin(n int) (sample, error) {
	t := time.Now()
	for range n {
		if err := startJoin(childNoop); err != nil {
			return sample{}, err
		}
	}
	return elapsed(t, n), nil
}

// childHold locks m, says so, and waits to be killed.
func childHold(m *shm.Mutex, ready *shm.RawValue[atomic.Int32]) {
	m.Lock()
	ready.Ptr().Store(1)
	time.Sleep(time.Hour)
}

// shmOwnerDeath times the takeover of a lock whose holder is killed: from just
// before the SIGKILL to the return of a LockContext that was already waiting.
func shmOwnerDeath(int) (sample, error) {
	m, err := shm.NewMutex()
	if err != nil {
		return sample{}, err
	}
	ready, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		return sample{}, err
	}
	p, err := shm.Start(childHold, m, ready)
	if err != nil {
		return sample{}, err
	}
	defer p.Kill()
	if err := waitFlag(ready.Ptr()); err != nil {
		return sample{}, err
	}
	type got struct {
		t   time.Time
		err error
	}
	ch := make(chan got, 1)
	go func() {
		err := m.LockContext(context.Background())
		ch <- got{time.Now(), err}
	}()
	settle()
	t := time.Now()
	if err := p.Kill(); err != nil {
		return sample{}, err
	}
	var g got
	select {
	case g = <-ch:
	case <-time.After(10 * time.Second):
		return sample{}, errors.New("the waiter did not get the lock within 10 s")
	}
	if !errors.Is(g.err, shm.ErrOwnerDead) {
		return sample{}, fmt.Errorf("LockContext returned %v, want ErrOwnerDead", g.err)
	}
	m.Unlock()
	p.Join() // killed: an error, as expected
	return sample{Seconds: g.t.Sub(t).Seconds(), Ops: 1}, nil
}

// settle lets a new waiter go to sleep, for a random time so that the kill
// lands at a random point of any polling period the waiter may have.
func settle() {
	time.Sleep(10*time.Millisecond + rand.N(10*time.Millisecond))
}

func waitFlag(f *atomic.Int32) error {
	deadline := time.Now().Add(10 * time.Second)
	for f.Load() == 0 {
		if time.Now().After(deadline) {
			return errors.New("the child did not start within 10 s")
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}
