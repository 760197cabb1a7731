//go:build linux

package shm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// Pool tasks.

// addOne adds 1 to a shared total under its lock.
func addOne(total *shm.Value[int64]) { total.Update(func(x int64) int64 { return x + 1 }) }

// pid returns the worker's process ID.
func pid() int { return os.Getpid() }

// startAndBlock reports its worker's PID, says that it started, and blocks
// until killed.
func startAndBlock(pids *shm.RawArray[int64], started *shm.RawValue[atomic.Int32]) {
	i := started.Ptr().Add(1) - 1
	pids.Store(int(i), int64(os.Getpid()))
	sleepForever()
}

// panics panics.
func panics(msg string) int { panic(msg) }

// failTask returns an error.
func failTask(msg string) (int, error) { return 0, errors.New(msg) }

// exitTask exits the worker.
func exitTask(code int) { os.Exit(code) }

// fillTask stores x in every element of a, and returns its worker's PID.
func fillTask(a *shm.RawArray[int64], x int64) int {
	for i := range a.Len() {
		a.Store(i, x)
	}
	return os.Getpid()
}

// inc is Map's function.
func inc(x int) int { return x + 1 }

// reverse returns b reversed.
func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i, x := range b {
		out[len(b)-1-i] = x
	}
	return out
}

// initCounter is an Init: it counts the workers that ran it.
func initCounter(n *shm.RawValue[atomic.Int32]) { n.Ptr().Add(1) }

func init() {
	shm.Register(addOne)
	shm.Register(pid)
	shm.Register(startAndBlock)
	shm.Register(panics)
	shm.Register(failTask)
	shm.Register(exitTask)
	shm.Register(inc)
	shm.Register(fillTask)
	shm.Register(initCounter)
	shm.Register(reverse)
}

// newPool starts a pool that the test kills at its end, whatever happens.
func newPool(tb testing.TB, n int, opts *shm.PoolOptions) *shm.Pool {
	tb.Helper()
	p, err := shm.NewPool(n, opts)
	if err != nil {
		tb.Fatalf("NewPool: %v", err)
	}
	tb.Cleanup(func() { p.Kill() })
	return p
}

func submit(tb testing.TB, p *shm.Pool, fn any, args ...any) *shm.Future {
	tb.Helper()
	f, err := p.Submit(context.Background(), fn, args...)
	if err != nil {
		tb.Fatalf("Submit: %v", err)
	}
	return f
}

func TestPoolTotal(t *testing.T) {
	const workers, each = 4, 10000
	total, err := shm.NewValue(int64(0))
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(t, workers, nil)
	ctx := bounded(t)
	futs := make([]*shm.Future, 0, workers*each)
	for range workers * each {
		futs = append(futs, submit(t, p, addOne, total))
	}
	for i, f := range futs {
		if _, err := f.Result(ctx); err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
	}
	if got := total.Load(); got != workers*each {
		t.Fatalf("total = %d, want %d", got, workers*each)
	}
	if s := p.State(); s.Done != workers*each || s.Failed != 0 || s.Restarted != 0 {
		t.Fatalf("State = %+v, want %d done, none failed or restarted", s, workers*each)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPoolInit(t *testing.T) {
	n := newFlag(t)
	p := newPool(t, 3, &shm.PoolOptions{Init: initCounter, InitArgs: []any{n}})
	if got := n.Ptr().Load(); got != 3 {
		t.Fatalf("Init ran %d times before NewPool returned, want 3", got)
	}
	p.Close()
}

func TestPoolKillWorker(t *testing.T) {
	const workers = 3
	pids, err := shm.NewRawArray[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	started := newFlag(t)
	p := newPool(t, workers, nil)
	ctx := bounded(t)
	victim := submit(t, p, startAndBlock, pids, started)
	await(t, "the task to start", func() bool { return started.Ptr().Load() == 1 })
	var others []*shm.Future
	for range 100 {
		others = append(others, submit(t, p, pid))
	}
	dead := int(pids.Load(0))
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err = victim.Result(ctx)
	var ee *shm.ExitError
	if err == nil || !strings.Contains(err.Error(), "killed") || !errors.As(err, &ee) {
		t.Fatalf("killed task's error = %v, want an ExitError saying killed", err)
	}
	t.Logf("killed task: %v", err)
	for i, f := range others {
		if v, err := f.Result(ctx); err != nil || v.(int) == dead {
			t.Fatalf("task %d after the kill = %v, %v", i, v, err)
		}
	}
	await(t, "the pool to have its workers", func() bool { return p.State().Workers == workers })
	s := p.State()
	for _, pid := range s.Pids {
		if pid == dead {
			t.Fatalf("the killed worker %d is among the live ones: %v", dead, s.Pids)
		}
	}
	if s.Failed != 1 || s.Restarted != 1 || s.Done != 100 {
		t.Fatalf("State = %+v, want 1 failed, 1 restarted, 100 done", s)
	}
	p.Close()
}

func TestPoolTaskPanics(t *testing.T) {
	p := newPool(t, 1, &shm.PoolOptions{Stderr: io.Discard}) // the worker prints the panic too

	ctx := bounded(t)
	before := p.State().Pids
	_, err := submit(t, p, panics, "the sky fell").Result(ctx)
	var te *shm.TaskError
	if !errors.As(err, &te) || !te.Panic || !strings.Contains(err.Error(), "the sky fell") || !strings.Contains(err.Error(), "shm_test.panics") {
		t.Fatalf("panicking task = %v, want a TaskError with the panic and its stack", err)
	}
	_, err = submit(t, p, failTask, "no luck").Result(ctx)
	if !errors.As(err, &te) || te.Panic || !strings.Contains(err.Error(), "no luck") {
		t.Fatalf("failing task = %v, want a TaskError with its error", err)
	}
	v, err := submit(t, p, pid).Result(ctx)
	if err != nil || v.(int) != before[0] {
		t.Fatalf("task after a panic ran in %v (%v), want the same worker %d", v, err, before[0])
	}
	p.Close()
}

// TestPoolTaskPanicPrinted checks that a worker prints the panic it
// recovered from a task to its standard error, as a child of Start prints
// its own, so that a task whose Result nobody reads does not fail silently;
// an error a task returns is its result, and is not printed.
func TestPoolTaskPanicPrinted(t *testing.T) {
	var stderr bytes.Buffer
	p := newPool(t, 1, &shm.PoolOptions{Stderr: &stderr})
	if _, err := submit(t, p, panics, "the sky fell").Result(bounded(t)); err == nil {
		t.Fatal("panicking task succeeded")
	}
	if _, err := submit(t, p, failTask, "no luck").Result(bounded(t)); err == nil {
		t.Fatal("failing task succeeded")
	}
	p.Close() // the worker has exited, and its output has been copied
	out := stderr.String()
	if !strings.HasPrefix(out, "panic: the sky fell\n") || !strings.Contains(out, "shm_test.panics(") {
		t.Fatalf("worker's stderr = %q, want the panic and its stack", out)
	}
	if strings.Contains(out, "no luck") {
		t.Fatalf("worker's stderr = %q: a returned error was printed", out)
	}
}

func TestPoolTaskExits(t *testing.T) {
	p := newPool(t, 1, nil)
	_, err := submit(t, p, exitTask, 3).Result(bounded(t))
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("task that exits = %v, want exit status 3", err)
	}
	if _, err := submit(t, p, pid).Result(bounded(t)); err != nil {
		t.Fatalf("task after a worker exited: %v", err)
	}
	p.Close()
}

func TestPoolMaxTasksPerWorker(t *testing.T) {
	p := newPool(t, 2, &shm.PoolOptions{MaxTasksPerWorker: 1})
	ctx := bounded(t)
	var futs []*shm.Future
	for range 10 {
		futs = append(futs, submit(t, p, pid))
	}
	seen := map[int]bool{}
	for _, f := range futs {
		v, err := f.Result(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seen[v.(int)] {
			t.Fatalf("worker %d ran two tasks", v.(int))
		}
		seen[v.(int)] = true
	}
	p.Close()
}

func TestPoolContext(t *testing.T) {
	pids, err := shm.NewRawArray[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	started := newFlag(t)
	p := newPool(t, 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	f, err := p.Submit(ctx, startAndBlock, pids, started)
	if err != nil {
		t.Fatal(err)
	}
	await(t, "the task to start", func() bool { return started.Ptr().Load() == 1 })
	cancel()
	if _, err := f.Result(bounded(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned task = %v, want context.Canceled", err)
	}
	if v, err := submit(t, p, pid).Result(bounded(t)); err != nil || v.(int) == int(pids.Load(0)) {
		t.Fatalf("task after an abandoned one = %v, %v; want another worker", v, err)
	}
	p.Close()
}

func TestPoolClose(t *testing.T) {
	total, err := shm.NewValue(int64(0))
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(t, 2, nil)
	var futs []*shm.Future
	for range 200 {
		futs = append(futs, submit(t, p, addOne, total))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for i, f := range futs {
		select {
		case <-f.Done():
		default:
			t.Fatalf("task %d not done after Close", i)
		}
		if _, err := f.Result(bounded(t)); err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
	}
	if total.Load() != 200 {
		t.Fatalf("total after Close = %d, want 200", total.Load())
	}
	if _, err := p.Submit(context.Background(), pid); !errors.Is(err, shm.ErrPoolClosed) {
		t.Fatalf("Submit after Close = %v, want ErrPoolClosed", err)
	}
	if s := p.State(); s.Workers != 0 {
		t.Fatalf("State after Close = %+v, want no workers", s)
	}
	noChildren(t)
}

func TestPoolKill(t *testing.T) {
	pids, err := shm.NewRawArray[int64](2)
	if err != nil {
		t.Fatal(err)
	}
	started := newFlag(t)
	p := newPool(t, 2, nil)
	running := []*shm.Future{submit(t, p, startAndBlock, pids, started), submit(t, p, startAndBlock, pids, started)}
	queued := submit(t, p, pid)
	await(t, "the tasks to start", func() bool { return started.Ptr().Load() == 2 })
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(running, queued) {
		if _, err := f.Result(bounded(t)); !errors.Is(err, shm.ErrPoolKilled) {
			t.Fatalf("task after Kill = %v, want ErrPoolKilled", err)
		}
	}
	noChildren(t)
}

func TestPoolMap(t *testing.T) {
	p := newPool(t, 3, nil)
	in := make([]int, 1000)
	for i := range in {
		in[i] = i * 7
	}
	for _, chunk := range []int{0, 1, 7, 5000} {
		out, err := shm.Map(bounded(t), p, inc, in, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(in) {
			t.Fatalf("chunk %d: %d results for %d items", chunk, len(out), len(in))
		}
		for i := range in {
			if out[i] != in[i]+1 {
				t.Fatalf("chunk %d: result %d = %d, want %d", chunk, i, out[i], in[i]+1)
			}
		}
	}
	p.Close()
}

// TestPoolNoLeaks checks that a pool that ran tasks, lost a worker and was
// closed leaves no process and no descriptor behind.
func TestPoolNoLeaks(t *testing.T) {
	warm, err := shm.NewPool(1, nil) // the first pipes make the runtime's poller
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	before := openFds(t)
	p := newPool(t, 2, nil)
	if _, err := submit(t, p, exitTask, 1).Result(bounded(t)); err == nil {
		t.Fatal("exiting task succeeded")
	}
	submit(t, p, pid).Result(bounded(t))
	p.Close()
	noChildren(t)
	if after := openFds(t); after != before {
		t.Fatalf("%d descriptors open after the pool, %d before", after, before)
	}
}

// TestPoolIdleWorkerDies kills a worker that runs no task: no task fails for
// it, and the pool replaces it.
func TestPoolIdleWorkerDies(t *testing.T) {
	p := newPool(t, 1, nil)
	dead := p.State().Pids[0]
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	await(t, "the pool to replace the dead worker", func() bool {
		s := p.State()
		return s.Workers == 1 && s.Pids[0] != dead
	})
	v, err := submit(t, p, pid).Result(bounded(t))
	if err != nil || v.(int) == dead {
		t.Fatalf("task after an idle worker died = %v, %v", v, err)
	}
	if s := p.State(); s.Failed != 0 || s.Restarted != 1 {
		t.Fatalf("State = %+v, want none failed, 1 restarted", s)
	}
	p.Close()
}

// TestPoolNewSegment passes a task an object in a segment made after the
// pool's worker started: the pool sends the worker the segment, and the
// worker runs the task without being replaced.
func TestPoolNewSegment(t *testing.T) {
	p := newPool(t, 1, nil)
	old := p.State().Pids[0]
	segs := shm.SegmentCount()
	a, err := shm.NewRawArray[int64](1 << 18) // 2 MiB: a segment of its own
	if err != nil {
		t.Fatal(err)
	}
	if shm.SegmentCount() == segs {
		t.Fatal("the array did not get a new segment")
	}
	b, err := shm.NewRawArray[int64](1 << 18) // and another, for the second task
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range []*shm.RawArray[int64]{a, a, b} {
		v, err := submit(t, p, fillTask, x, int64(7+i)).Result(bounded(t))
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		if v.(int) != old {
			t.Fatalf("task %d ran in worker %d, want %d, which was sent the segment", i, v, old)
		}
		for j, y := range x.Slice() {
			if y != int64(7+i) {
				t.Fatalf("task %d: element %d = %d, want %d", i, j, y, 7+i)
			}
		}
	}
	if s := p.State(); s.Restarted != 0 || s.Failed != 0 {
		t.Fatalf("State = %+v, want nothing restarted or failed", s)
	}
	p.Close()
}

// TestPoolIdleWorkerDiesDuringClose kills the worker of a pool of one while
// tasks are queued and the pool is being closed, all before its slot can see
// any of it (the test holds the pool's lock): the slot must still start a
// worker and run the queued tasks, not take the dead worker for the end of a
// closed pool and leave their futures unfinished.
func TestPoolIdleWorkerDiesDuringClose(t *testing.T) {
	total, err := shm.NewValue(int64(0))
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(t, 1, nil)
	unlock := shm.LockPool(p)
	w := shm.PoolWorker(p, 0)
	if err := w.Kill(); err != nil {
		unlock()
		t.Fatal(err)
	}
	<-w.Done() // the worker has ended; its slot, which needs the lock, cannot know
	var futs []*shm.Future
	for range 3 {
		f, err := shm.QueueLocked(p, addOne, total)
		if err != nil {
			unlock()
			t.Fatal(err)
		}
		futs = append(futs, f)
	}
	shm.CloseLocked(p)
	unlock()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for i, f := range futs {
		select {
		case <-f.Done():
		default:
			t.Fatalf("task %d not done after Close: the slot ended with its worker", i)
		}
		if _, err := f.Result(bounded(t)); err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
	}
	if got := total.Load(); got != 3 {
		t.Fatalf("total after Close = %d, want 3", got)
	}
	noChildren(t)
}

// TestPoolBigMessages sends tasks and results of many sizes, from empty to
// far more than a worker's slot in shared memory holds, in turn through the
// same worker, and checks that each comes back whole.
func TestPoolBigMessages(t *testing.T) {
	p := newPool(t, 1, nil)
	for _, n := range []int{0, 1, 60 << 10, 64 << 10, 1 << 20, 100, 3<<20 + 1, 5} {
		in := make([]byte, n)
		for i := range in {
			in[i] = byte(i*7 + i>>8)
		}
		v, err := submit(t, p, reverse, in).Result(bounded(t))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		out := v.([]byte)
		if len(out) != n {
			t.Fatalf("%d bytes: %d came back", n, len(out))
		}
		for i := range out {
			if out[i] != in[n-1-i] {
				t.Fatalf("%d bytes: byte %d = %d, want %d", n, i, out[i], in[n-1-i])
			}
		}
	}
	if s := p.State(); s.Restarted != 0 || s.Failed != 0 {
		t.Fatalf("State = %+v, want nothing failed or restarted", s)
	}
	p.Close()
}

// TestPoolIdleWorkerSleeps checks that a worker that has run a task and has
// no other stops spinning for the next and sleeps: the test must see three
// tenths of a second in a row in each of which the worker ran for less than
// a millisecond, where one that spun on would run for much of each, even on
// a loaded machine.
func TestPoolIdleWorkerSleeps(t *testing.T) {
	p := newPool(t, 1, nil)
	w := p.State().Pids[0]
	if _, err := submit(t, p, pid).Result(bounded(t)); err != nil {
		t.Fatal(err)
	}
	last, quiet := onCPU(t, w), 0
	await(t, "the idle worker to use no CPU", func() bool {
		time.Sleep(100 * time.Millisecond) // the window, not a wait for an event
		now := onCPU(t, w)
		if now-last < time.Millisecond {
			quiet++
		} else {
			quiet = 0
		}
		last = now
		return quiet == 3
	})
	p.Close()
}

// onCPU returns how long the threads of process pid have run, from
// /proc/PID/task/TID/schedstat.
func onCPU(t *testing.T, pid int) time.Duration {
	tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var sum time.Duration
	for _, tid := range tids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, tid.Name()))
		if err != nil {
			continue // a thread that ended
		}
		var ns int64
		if _, err := fmt.Sscan(string(b), &ns); err != nil {
			t.Fatalf("schedstat %q: %v", b, err)
		}
		sum += time.Duration(ns)
	}
	return sum
}

// segCount returns how many anonymous segments the worker maps.
func segCount() int { return shm.SegmentCount() }

func init() { shm.Register(segCount) }

// lateFill is registered by a test, in the pool's process only: a worker,
// started from the binary, does not know it.
func lateFill(a *shm.RawArray[int64]) {}

var registerLate sync.Once

// TestPoolNewSegmentResent checks that a worker sent a segment again, after
// a task that carried it failed in the worker, does not map it twice.
func TestPoolNewSegmentResent(t *testing.T) {
	registerLate.Do(func() { shm.Register(lateFill) })
	p := newPool(t, 1, nil)
	before, err := submit(t, p, segCount).Result(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	a, err := shm.NewRawArray[int64](1 << 18) // a segment made after the worker started
	if err != nil {
		t.Fatal(err)
	}
	if _, err := submit(t, p, lateFill, a).Result(bounded(t)); err == nil {
		t.Fatal("a function the worker does not know ran")
	}
	if _, err := submit(t, p, fillTask, a, 7).Result(bounded(t)); err != nil {
		t.Fatal(err)
	}
	after, err := submit(t, p, segCount).Result(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	if after.(int) != before.(int)+1 {
		t.Fatalf("the worker maps %v segments, want %v: the new one once", after, before.(int)+1)
	}
	if s := p.State(); s.Restarted != 0 {
		t.Fatalf("State = %+v, want nothing restarted", s)
	}
	p.Close()
}

// TestPoolDoneWithoutResult checks that a task given straight to an idle
// worker (see "The direct path" in pool.go), whose reply nobody waits for
// with Result, still completes: Done's channel closes, and State comes to
// count the tasks.
func TestPoolDoneWithoutResult(t *testing.T) {
	p := newPool(t, 2, nil)
	ctx := bounded(t)
	f := submit(t, p, pid)
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("Done's channel did not close for a task nobody called Result on")
	}
	if _, err := f.Result(ctx); err != nil {
		t.Fatal(err)
	}
	// Two tasks, one per idle worker, waited for by nobody.
	submit(t, p, pid)
	submit(t, p, pid)
	await(t, "State to count 3 tasks done", func() bool { return p.State().Done == 3 })
	if s := p.State(); s.Busy != 0 || s.Failed != 0 {
		t.Fatalf("State = %+v, want none busy or failed", s)
	}
	p.Close()
}

// TestPoolMaxTasksOneAtATime checks MaxTasksPerWorker when each task is
// waited for before the next is submitted, so that every one goes straight
// to an idle worker and Result takes its reply.
func TestPoolMaxTasksOneAtATime(t *testing.T) {
	p := newPool(t, 1, &shm.PoolOptions{MaxTasksPerWorker: 2})
	ctx := bounded(t)
	count := map[int]int{}
	for range 6 {
		v, err := submit(t, p, pid).Result(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count[v.(int)]++
	}
	if len(count) != 3 {
		t.Fatalf("6 tasks ran in workers %v, want 3 workers with 2 tasks each", count)
	}
	for w, n := range count {
		if n != 2 {
			t.Fatalf("worker %d ran %d tasks, want 2 (all: %v)", w, n, count)
		}
	}
	p.Close()
}

// TestPoolConcurrentSubmitters has goroutines submit and wait at the same
// time, so that tasks go both straight to idle workers and through the
// queue: the total must be exact, and State must count every task.
func TestPoolConcurrentSubmitters(t *testing.T) {
	const goroutines, each = 8, 300
	total, err := shm.NewValue(int64(0))
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(t, 2, nil)
	ctx := bounded(t)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				f, err := p.Submit(ctx, addOne, total)
				if err == nil {
					_, err = f.Result(ctx)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := total.Load(); got != goroutines*each {
		t.Fatalf("total = %d, want %d", got, goroutines*each)
	}
	if s := p.State(); s.Done != goroutines*each || s.Busy != 0 {
		t.Fatalf("State = %+v, want %d done, none busy", s, goroutines*each)
	}
	p.Close()
}

// TestPoolRandomKills kills the workers of a pool at random moments while
// two goroutines keep giving it tasks one at a time, which go straight from
// Submit to an idle worker or through the queue (see "The direct path" in
// pool.go); one goroutine waits with Result, the other with Done first.
// Every task must end, with its result or with an ExitError that says its
// worker was killed; State must count every task, and the pool must have
// its workers again at the end.
func TestPoolRandomKills(t *testing.T) {
	const workers, kills = 2, 40
	p := newPool(t, workers, nil)
	ctx := bounded(t)
	var submitted, failed atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f, err := p.Submit(ctx, spinWork, i)
				if err != nil {
					errs <- err
					return
				}
				submitted.Add(1)
				if g == 1 {
					select {
					case <-f.Done():
					case <-ctx.Done():
					}
				}
				if _, err = f.Result(ctx); err != nil {
					var ee *shm.ExitError
					if !errors.As(err, &ee) || !strings.Contains(err.Error(), "killed") {
						errs <- fmt.Errorf("task %d of goroutine %d: %v", i, g, err)
						return
					}
					failed.Add(1)
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range kills {
		var victim int
		await(t, "the pool to have its workers", func() bool {
			s := p.State()
			if s.Workers < workers {
				return false
			}
			victim = s.Pids[rng.IntN(len(s.Pids))]
			return true
		})
		// A random moment: idle, receiving a task, running it, replying.
		time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		await(t, "the killed worker to be replaced", func() bool { return !slices.Contains(p.State().Pids, victim) })
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	await(t, "the pool to have its workers", func() bool { return p.State().Workers == workers })
	s := p.State()
	if int64(s.Done+s.Failed) != submitted.Load() || int64(s.Failed) != failed.Load() || s.Failed > kills || s.Busy != 0 {
		t.Fatalf("State = %+v after %d tasks, %d failed with a killed worker, %d kills", s, submitted.Load(), failed.Load(), kills)
	}
	t.Logf("%d tasks, %d failed with their worker killed, %d kills", submitted.Load(), failed.Load(), kills)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	noChildren(t)
}

// TestPoolStateNeverCountsTwice polls State while tasks finish, one at a
// time, and checks that it never counts a task both as done and as busy:
// Done + Failed + Busy never exceeds the tasks submitted.
func TestPoolStateNeverCountsTwice(t *testing.T) {
	const tasks = 3000
	p := newPool(t, 1, nil)
	ctx := bounded(t)
	var submitted atomic.Uint64
	stop := make(chan struct{})
	type seen struct {
		s         shm.PoolState
		submitted uint64
	}
	bad := make(chan seen, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := p.State()
			if n := submitted.Load(); s.Done+s.Failed+uint64(s.Busy) > n {
				bad <- seen{s, n}
				return
			}
		}
	}()
	for i := range tasks {
		submitted.Add(1)
		f := submit(t, p, inc, i)
		// Done first: the slot's goroutine finishes the task, and wakes
		// this one.
		select {
		case <-f.Done():
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		if _, err := f.Result(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case b := <-bad:
		t.Fatalf("State = %+v, with %d tasks submitted: a task counted as done and busy", b.s, b.submitted)
	default:
	}
}
