package shm_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// mustWait checks that wait blocks: it must still be waiting when its
// context's deadline passes.
func mustWait(tb testing.TB, what string, wait func(context.Context) error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		tb.Fatalf("%s = %v, want it to block until the deadline", what, err)
	}
}

// within runs f and fails the test if it has not returned within a minute: a
// bound for a broken test, not a measure of speed.
func within(tb testing.TB, what string, f func()) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		tb.Fatalf("%s did not return within a minute", what)
	}
}

func newEvent(tb testing.TB) *shm.Event {
	tb.Helper()
	e, err := shm.NewEvent()
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// waitEvent reports the address of e's futex word in this process, waits for
// e (at most a minute) and reports what Wait returned: gotLock for nil,
// gotOther otherwise.
func waitEvent(e *shm.Event, addr *shm.RawValue[uintptr], out *shm.RawValue[atomic.Int32]) {
	addr.Store(e.FutexAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Wait(ctx); err != nil {
		out.Ptr().Store(gotOther)
		return
	}
	out.Ptr().Store(gotLock)
}

// waitEventForever reports the address of e's futex word and waits for e with
// no bound, as Python's wait() does, until killed.
func waitEventForever(e *shm.Event, addr *shm.RawValue[uintptr]) {
	addr.Store(e.FutexAddr())
	e.Wait(context.Background())
	sleepForever()
}

func init() {
	shm.Register(waitEvent)
	shm.Register(waitEventForever)
}

// newAddr returns a shared word for a child to report an address in.
func newAddr(tb testing.TB) *shm.RawValue[uintptr] {
	tb.Helper()
	a, err := shm.NewRawValue(uintptr(0))
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// awaitAsleep waits until a thread of process pid sleeps on the futex word at
// addr(), an address in that process (0 while unknown).
func awaitAsleep(tb testing.TB, pid int, addr func() uintptr) {
	tb.Helper()
	await(tb, "the waiter to sleep", func() bool { a := addr(); return a != 0 && asleepOn(tb, pid, a) })
}

func TestEventInProcess(t *testing.T) {
	e := newEvent(t)
	if e.IsSet() {
		t.Fatal("a new Event is set")
	}
	mustWait(t, "Wait of a clear Event", e.Wait)
	e.Set()
	e.Set()
	if !e.IsSet() {
		t.Fatal("IsSet after Set = false")
	}
	if err := e.Wait(context.Background()); err != nil {
		t.Fatalf("Wait of a set Event = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Wait(ctx); err != nil {
		t.Fatalf("Wait of a set Event with a done context = %v, want nil", err)
	}
	e.Clear()
	e.Clear()
	if e.IsSet() {
		t.Fatal("IsSet after Clear = true")
	}
	if err := e.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait of a clear Event with a done context = %v", err)
	}
	var zero shm.Event // in this process's memory: works within it
	zero.Set()
	if !zero.IsSet() {
		t.Fatal("zero Event: IsSet after Set = false")
	}
}

// TestEventWakesAll sets an Event that many goroutines wait for: all of them
// return, although only one of them sleeps in the kernel, and then the Event
// is cleared at once: a Set that was followed by a Clear still releases the
// goroutines that waited.
func TestEventWakesAll(t *testing.T) {
	const waiters = 50
	e := newEvent(t)
	ctx := bounded(t)
	shm.MaxWaitSleeping()
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.Wait(ctx)
		}()
	}
	await(t, "every goroutine to wait", func() bool { return e.Waiting() == waiters && e.Marked() })
	e.Set()
	e.Clear()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	}
	if n := shm.MaxWaitSleeping(); n != 1 {
		t.Errorf("%d goroutines waiting for one Event: %d slept in the kernel at once, want 1", waiters, n)
	}
	if e.IsSet() {
		t.Fatal("Event set after Clear")
	}
}

// TestEventWaiterSleepsUnbounded shows that a waiter has nothing to check
// while it sleeps: it sleeps with no timeout, so it costs no CPU.
func TestEventWaiterSleepsUnbounded(t *testing.T) {
	e := newEvent(t)
	sleeps := shm.WaitSleeps()
	done := make(chan error, 1)
	go func() { done <- e.Wait(bounded(t)) }()
	await(t, "the waiter to sleep", func() bool { return shm.WaitSleeps() > sleeps })
	if d := shm.LastWaitSleep(); d != 0 {
		t.Errorf("an Event's waiter sleeps %v at a time, want no limit", d)
	}
	e.Set()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestEventCancelSleeper(t *testing.T) {
	e := newEvent(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sleeps := shm.WaitSleeps()
	go func() { done <- e.Wait(ctx) }()
	await(t, "the waiter to sleep", func() bool { return shm.WaitSleeps() > sleeps })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v", err)
	}
}

func TestEventAcrossProcesses(t *testing.T) {
	e := newEvent(t)
	addr, out := newAddr(t), newFlag(t)
	p := start(t, waitEvent, e, addr, out)
	awaitAsleep(t, p.Pid(), addr.Load)
	e.Set()
	join(t, p)
	if got := out.Ptr().Load(); got != gotLock {
		t.Fatalf("the child's Wait reported %d, want nil (%d)", got, gotLock)
	}
}

// TestEventSetAfterWaiterKilled kills a process asleep in Wait, where
// Python's Event.set then hangs for good; Set must return and wake the
// waiters that live, in this process and in another.
func TestEventSetAfterWaiterKilled(t *testing.T) {
	e := newEvent(t)
	addr := newAddr(t)
	doomed := start(t, waitEventForever, e, addr)
	awaitAsleep(t, doomed.Pid(), addr.Load)
	doomed.Kill()
	doomed.Join()

	addr, out := newAddr(t), newFlag(t)
	live := start(t, waitEvent, e, addr, out)
	awaitAsleep(t, live.Pid(), addr.Load)
	ours := make(chan error, 1)
	go func() { ours <- e.Wait(bounded(t)) }()
	awaitAsleep(t, os.Getpid(), e.FutexAddr)
	within(t, "Set after a waiter was killed", e.Set)
	join(t, live)
	if got := out.Ptr().Load(); got != gotLock {
		t.Errorf("the live child's Wait reported %d, want nil (%d)", got, gotLock)
	}
	if err := <-ours; err != nil {
		t.Errorf("this process's Wait = %v", err)
	}
}
