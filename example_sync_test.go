package shm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm"
)

func init() {
	shm.Register(exampleProduce)
	shm.Register(exampleRunJobOnSignal)
	shm.Register(exampleStartLine)
	shm.Register(exampleWaitForever)
	shm.Register(exampleWaitForCount)
	shm.Register(exampleTakeItems)
	shm.Register(exampleAwaitGo)
	shm.Register(exampleLimited)
	shm.Register(exampleFinish)
	shm.Register(exampleReleasePermit)
	shm.Register(examplePhase)
	shm.Register(exampleArrive)
	shm.Register(exampleWaitBroken)
}

func exampleProduce(ready *shm.Event, data *shm.RawValue[int64]) {
	data.Store(42)
	ready.Set()
}

// A child tells its parent that its data is ready: the parent sleeps until
// then, with no polling.
func ExampleEvent() {
	ready, err := shm.NewEvent()
	if err != nil {
		log.Fatal(err)
	}
	data, err := shm.NewRawValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleProduce, ready, data)
	if err != nil {
		log.Fatal(err)
	}
	if err := ready.Wait(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("data:", data.Load()) // Set happens before Wait returns
	exampleJoin(p)
	// Output: data: 42
}

// exampleSquareJob is a shared struct with Events in it: their zero value is a
// clear Event, so it needs no set-up.
type exampleSquareJob struct {
	Start, Done shm.Event
	Input       int64
	Output      int64
}

func exampleRunJobOnSignal(job *shm.RawValue[exampleSquareJob]) error {
	j := job.Ptr()
	if err := j.Start.Wait(context.Background()); err != nil {
		return err
	}
	j.Output = j.Input * j.Input
	j.Done.Set()
	return nil
}

func ExampleNewEvent() {
	job, err := shm.NewRawValue(exampleSquareJob{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleRunJobOnSignal, job)
	if err != nil {
		log.Fatal(err)
	}
	j := job.Ptr()
	j.Input = 12
	j.Start.Set()
	if err := j.Done.Wait(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(j.Output)
	exampleJoin(p)
	// Output: 144
}

func exampleStartLine(start *shm.Event, started *shm.RawValue[atomic.Int32]) error {
	if err := start.Wait(context.Background()); err != nil {
		return err
	}
	started.Ptr().Add(1)
	return nil
}

func exampleWaitForever(e *shm.Event, waiting *shm.RawValue[atomic.Bool]) {
	waiting.Ptr().Store(true)
	e.Wait(context.Background())
}

// One Set releases every waiting process. A waiter that died, even inside
// Wait, cannot block Set, which only changes shared memory and asks the
// kernel to wake whoever sleeps.
func ExampleEvent_Set() {
	start, err := shm.NewEvent()
	if err != nil {
		log.Fatal(err)
	}
	started, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		log.Fatal(err)
	}
	waiting, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	doomed, err := shm.Start(exampleWaitForever, start, waiting)
	if err != nil {
		log.Fatal(err)
	}
	exampleAwait(waiting)
	doomed.Kill() // in Wait, or about to be
	doomed.Join()

	var ps []*shm.Process
	for range 3 {
		p, err := shm.Start(exampleStartLine, start, started)
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	start.Set()
	for _, p := range ps {
		exampleJoin(p)
	}
	fmt.Println(started.Ptr().Load(), "started")
	// Output: 3 started
}

func ExampleEvent_Clear() {
	e, err := shm.NewEvent()
	if err != nil {
		log.Fatal(err)
	}
	e.Set()
	e.Clear()
	fmt.Println(e.IsSet())
	// Output: false
}

func ExampleEvent_IsSet() {
	var e shm.Event // in a shared struct, or a local one for this process
	fmt.Println(e.IsSet())
	e.Set()
	fmt.Println(e.IsSet())
	// Output:
	// false
	// true
}

// Wait takes a context where Python's wait takes a timeout.
func ExampleEvent_Wait() {
	e, err := shm.NewEvent()
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(e.Wait(ctx))
	e.Set()
	fmt.Println(e.Wait(ctx)) // set: returns at once, even with ctx done
	// Output:
	// context deadline exceeded
	// <nil>
}

func exampleWaitForCount(c *shm.Cond, n *shm.RawValue[int64], want int64) error {
	c.Mutex().Lock()
	defer c.Mutex().Unlock()
	for n.Load() < want {
		if err := c.Wait(context.Background()); err != nil {
			return err
		}
	}
	fmt.Println("child: count reached", n.Load())
	return nil
}

// A Cond lets a process sleep until data that a Mutex guards is in the
// state it needs.
func ExampleCond() {
	m, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	c, err := shm.NewCond(m)
	if err != nil {
		log.Fatal(err)
	}
	n, err := shm.NewRawValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleWaitForCount, c, n, int64(3))
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		m.Lock()
		n.Store(n.Load() + 1)
		c.Broadcast()
		m.Unlock()
	}
	exampleJoin(p)
	// Output: child: count reached 3
}

// A Cond can be bound to the Mutex of a Value, to wait for the value.
func ExampleNewCond() {
	v, err := shm.NewValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	c, err := shm.NewCond(v.Mutex())
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleWaitForCount, c, v.Raw(), int64(2))
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		v.Update(func(x int64) int64 { return x + 1 })
		c.Broadcast()
	}
	exampleJoin(p)
	// Output: child: count reached 2
}

// The loop around Wait is Python's wait_for. Wait returns with the Mutex
// held, whatever it returns.
func ExampleCond_Wait() {
	m, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	c, err := shm.NewCond(m)
	if err != nil {
		log.Fatal(err)
	}
	ready, err := shm.NewRawValue(false) // guarded by m
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	m.Lock()
	for !ready.Load() {
		if err := c.Wait(ctx); err != nil {
			fmt.Println(err)
			break
		}
	}
	m.Unlock() // held again after Wait
	// Output: context deadline exceeded
}

func exampleTakeItems(c *shm.Cond, items *shm.RawValue[[8]int64], count *shm.RawValue[int64], n int) error {
	m := c.Mutex()
	sum := int64(0)
	for range n {
		m.Lock()
		for count.Load() == 0 {
			if err := c.Wait(context.Background()); err != nil {
				m.Unlock()
				return err
			}
		}
		k := count.Load() - 1
		sum += items.Ptr()[k]
		count.Store(k)
		m.Unlock()
	}
	fmt.Println("child: sum", sum)
	return nil
}

// Each item put on a shared stack is announced with one Signal, which wakes
// one waiting consumer.
func ExampleCond_Signal() {
	m, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	c, err := shm.NewCond(m)
	if err != nil {
		log.Fatal(err)
	}
	items, err := shm.NewRawValue([8]int64{})
	if err != nil {
		log.Fatal(err)
	}
	count, err := shm.NewRawValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleTakeItems, c, items, count, 5)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 5 {
		m.Lock()
		items.Ptr()[count.Load()] = int64(i + 1)
		count.Store(count.Load() + 1)
		c.Signal()
		m.Unlock()
	}
	exampleJoin(p)
	// Output: child: sum 15
}

func exampleAwaitGo(c *shm.Cond, goFlag *shm.RawValue[bool], started *shm.RawValue[atomic.Int32]) error {
	c.Mutex().Lock()
	for !goFlag.Load() {
		if err := c.Wait(context.Background()); err != nil {
			c.Mutex().Unlock()
			return err
		}
	}
	c.Mutex().Unlock()
	started.Ptr().Add(1)
	return nil
}

// Broadcast wakes every waiter, in every process.
func ExampleCond_Broadcast() {
	m, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	c, err := shm.NewCond(m)
	if err != nil {
		log.Fatal(err)
	}
	goFlag, err := shm.NewRawValue(false)
	if err != nil {
		log.Fatal(err)
	}
	started, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		log.Fatal(err)
	}
	var ps []*shm.Process
	for range 3 {
		p, err := shm.Start(exampleAwaitGo, c, goFlag, started)
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	m.Lock()
	goFlag.Store(true)
	c.Broadcast()
	m.Unlock()
	for _, p := range ps {
		exampleJoin(p)
	}
	fmt.Println(started.Ptr().Load(), "started")
	// Output: 3 started
}

func ExampleCond_Mutex() {
	m, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	c, err := shm.NewCond(m)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Mutex() == m)
	// Output: true
}

// exampleLimited holds a permit of s while it counts itself in busy, and
// records the most processes it saw busy at once.
func exampleLimited(s *shm.Semaphore, busy, most *shm.RawValue[atomic.Int32]) error {
	for range 100 {
		if err := s.Acquire(context.Background()); err != nil {
			return err
		}
		n := busy.Ptr().Add(1)
		for m := most.Ptr().Load(); n > m && !most.Ptr().CompareAndSwap(m, n); m = most.Ptr().Load() {
		}
		busy.Ptr().Add(-1)
		s.Release()
	}
	return nil
}

// A Semaphore of two lets at most two of four processes in at once.
func ExampleSemaphore() {
	s, err := shm.NewSemaphore(2)
	if err != nil {
		log.Fatal(err)
	}
	busy, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		log.Fatal(err)
	}
	most, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleLimited, []any{s, busy, most}, []any{s, busy, most}, []any{s, busy, most}, []any{s, busy, most})
	fmt.Println("at most two at once:", most.Ptr().Load() <= 2)
	// Output: at most two at once: true
}

func exampleFinish(done *shm.Semaphore, id int) {
	done.Release()
}

// A Semaphore of no permits counts finished work: each worker releases one,
// and the parent acquires one per worker.
func ExampleNewSemaphore() {
	done, err := shm.NewSemaphore(0)
	if err != nil {
		log.Fatal(err)
	}
	var ps []*shm.Process
	for id := range 3 {
		p, err := shm.Start(exampleFinish, done, id)
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	for range 3 {
		if err := done.Acquire(context.Background()); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("all 3 finished")
	for _, p := range ps {
		exampleJoin(p)
	}
	// Output: all 3 finished
}

// A Release beyond the bound is a bug in the program: it panics, where
// Python's BoundedSemaphore raises ValueError.
func ExampleNewBoundedSemaphore() {
	s, err := shm.NewBoundedSemaphore(1)
	if err != nil {
		log.Fatal(err)
	}
	s.TryAcquire()
	s.Release()
	defer func() { fmt.Println(recover()) }()
	s.Release()
	// Output: shm: Release of a bounded Semaphore beyond its 1 permits
}

// Acquire takes a context where Python's acquire takes a timeout. A permit
// held by a process that died is lost, so bound the wait.
func ExampleSemaphore_Acquire() {
	s, err := shm.NewSemaphore(1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Acquire(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(s.Acquire(ctx))
	// Output:
	// <nil>
	// context deadline exceeded
}

func ExampleSemaphore_TryAcquire() {
	s, err := shm.NewSemaphore(1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.TryAcquire())
	fmt.Println(s.TryAcquire())
	// Output:
	// true
	// false
}

func exampleReleasePermit(s *shm.Semaphore) { s.Release() }

// A Semaphore has no owner: a permit taken in one process may be given back
// by another.
func ExampleSemaphore_Release() {
	s, err := shm.NewSemaphore(1)
	if err != nil {
		log.Fatal(err)
	}
	s.TryAcquire()
	exampleRun(exampleReleasePermit, s)
	fmt.Println(s.TryAcquire())
	// Output: true
}

// examplePhase writes its share, waits for the others to write theirs, and
// then adds up all the shares into its result.
func examplePhase(b *shm.Barrier, shares, sums *shm.RawArray[int64], id int) error {
	shares.Store(id, int64(id+1))
	if _, err := b.Wait(context.Background()); err != nil {
		return err
	}
	var sum int64
	for _, x := range shares.Slice() {
		sum += x
	}
	sums.Store(id, sum)
	return nil
}

// Three processes work in phases: none reads the shares before every one
// has written its own.
func ExampleBarrier() {
	b, err := shm.NewBarrier(3)
	if err != nil {
		log.Fatal(err)
	}
	shares, err := shm.NewRawArray[int64](3)
	if err != nil {
		log.Fatal(err)
	}
	sums, err := shm.NewRawArray[int64](3)
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(examplePhase, []any{b, shares, sums, 0}, []any{b, shares, sums, 1}, []any{b, shares, sums, 2})
	fmt.Println(sums.Slice())
	// Output: [6 6 6]
}

func exampleArrive(b *shm.Barrier, index *shm.RawArray[int64], id int) error {
	i, err := b.Wait(context.Background())
	index.Store(id, int64(i))
	return err
}

// This process and a child meet at a Barrier of two.
func ExampleNewBarrier() {
	b, err := shm.NewBarrier(2)
	if err != nil {
		log.Fatal(err)
	}
	index, err := shm.NewRawArray[int64](1)
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleArrive, b, index, 0)
	if err != nil {
		log.Fatal(err)
	}
	i, err := b.Wait(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	exampleJoin(p)
	fmt.Println("arrival indices:", i+int(index.Load(0)) == 1)
	// Output: arrival indices: true
}

// Each party of a round gets a different index: the first to arrive 0, the
// last n-1. Use it to choose one party for a task.
func ExampleBarrier_Wait() {
	b, err := shm.NewBarrier(3)
	if err != nil {
		log.Fatal(err)
	}
	index, err := shm.NewRawArray[int64](3)
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleArrive, []any{b, index, 0}, []any{b, index, 1}, []any{b, index, 2})
	got := slices.Clone(index.Slice())
	slices.Sort(got)
	fmt.Println(got)
	// Output: [0 1 2]
}

func exampleWaitBroken(b *shm.Barrier, waiting *shm.RawValue[atomic.Bool]) error {
	waiting.Ptr().Store(true)
	_, err := b.Wait(context.Background())
	if errors.Is(err, shm.ErrBrokenBarrier) {
		fmt.Println("child:", err)
		return nil
	}
	return err
}

// Abort breaks the Barrier: the parties waiting, and any that come later,
// get ErrBrokenBarrier. A broken Barrier stays broken.
func ExampleBarrier_Abort() {
	b, err := shm.NewBarrier(2)
	if err != nil {
		log.Fatal(err)
	}
	waiting, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleWaitBroken, b, waiting)
	if err != nil {
		log.Fatal(err)
	}
	exampleAwait(waiting)
	b.Abort()
	exampleJoin(p)
	_, err = b.Wait(context.Background())
	fmt.Println("parent:", err)
	// Output:
	// child: shm: barrier is broken
	// parent: shm: barrier is broken
}
