package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

func newSemaphore(tb testing.TB, n int) *shm.Semaphore {
	tb.Helper()
	s, err := shm.NewSemaphore(n)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSemaphoreInProcess(t *testing.T) {
	s := newSemaphore(t, 2)
	if !s.TryAcquire() || !s.TryAcquire() {
		t.Fatal("TryAcquire of a Semaphore of 2 failed")
	}
	if s.TryAcquire() {
		t.Fatal("TryAcquire took a third permit of 2")
	}
	mustWait(t, "Acquire with no permit free", s.Acquire)
	s.Release()
	if err := s.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Acquire(ctx); err != nil {
		t.Fatalf("Acquire of a free permit with a done context = %v, want nil", err)
	}
	if err := s.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with no permit and a done context = %v", err)
	}
	s.Release()
	s.Release()
	s.Release() // unbounded: a third permit
	if got := s.Permits(); got != 3 {
		t.Fatalf("%d permits, want 3", got)
	}

	var zero shm.Semaphore // no permits until a Release
	if zero.TryAcquire() {
		t.Fatal("TryAcquire of a zero Semaphore succeeded")
	}
	zero.Release()
	if !zero.TryAcquire() {
		t.Fatal("TryAcquire after Release failed")
	}
}

func TestSemaphoreArguments(t *testing.T) {
	for _, n := range []int{-1, 1 << 32} {
		if _, err := shm.NewSemaphore(n); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("NewSemaphore(%d)", n)) {
			t.Errorf("NewSemaphore(%d) = %v, want an error naming the call", n, err)
		}
		if _, err := shm.NewBoundedSemaphore(n); err == nil || !strings.Contains(err.Error(), "NewBoundedSemaphore") {
			t.Errorf("NewBoundedSemaphore(%d) = %v, want an error naming the call", n, err)
		}
	}
	m := newMutex(t)
	if _, err := shm.NewSemaphore(1, shm.WithLock(m)); err == nil || !strings.Contains(err.Error(), "WithLock") {
		t.Errorf("NewSemaphore with WithLock = %v, want an error", err)
	}
}

// overRelease returns what Release panicked with, or nil.
func overRelease(s *shm.Semaphore) (r any) {
	defer func() { r = recover() }()
	s.Release()
	return nil
}

func TestBoundedSemaphore(t *testing.T) {
	s, err := shm.NewBoundedSemaphore(2)
	if err != nil {
		t.Fatal(err)
	}
	if r := overRelease(s); r == nil || fmt.Sprint(r) != "shm: Release of a bounded Semaphore beyond its 2 permits" {
		t.Fatalf("Release of a full bounded Semaphore: recovered %v", r)
	}
	if s.Permits() != 2 {
		t.Fatalf("a refused Release left %d permits, want 2", s.Permits())
	}
	s.TryAcquire()
	s.TryAcquire()
	s.Release()
	s.Release()
	if r := overRelease(s); r == nil {
		t.Fatal("a third Release of a bounded Semaphore of 2 did not panic")
	}
	z, err := shm.NewBoundedSemaphore(0)
	if err != nil {
		t.Fatal(err)
	}
	if r := overRelease(z); r == nil || !strings.Contains(fmt.Sprint(r), "its 0 permits") {
		t.Fatalf("Release of a bounded Semaphore of 0: recovered %v", r)
	}
}

// acquireRelease takes and gives back a permit n times, counting the holders
// in held and recording the most it ever saw.
func acquireRelease(s *shm.Semaphore, held, most *shm.RawValue[atomic.Int32], n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range n {
		if err := s.Acquire(ctx); err != nil {
			return err
		}
		h := held.Ptr().Add(1)
		for m := most.Ptr().Load(); h > m && !most.Ptr().CompareAndSwap(m, h); m = most.Ptr().Load() {
		}
		held.Ptr().Add(-1)
		s.Release()
	}
	return nil
}

// acquireOnce takes a permit, waiting at most a minute, and reports the
// address of the Semaphore's futex word first. Its fallback poll is off, so
// that a lost wake-up fails the test instead of being hidden by the poll.
func acquireOnce(s *shm.Semaphore, addr *shm.RawValue[uintptr]) error {
	shm.SetPolls(time.Hour, time.Hour)
	addr.Store(s.FutexAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.Acquire(ctx)
}

// acquireAndHold takes a permit, reports it, and holds it until killed.
func acquireAndHold(s *shm.Semaphore, holding *shm.RawValue[atomic.Int32]) {
	if err := s.Acquire(context.Background()); err != nil {
		panic(err)
	}
	holding.Ptr().Store(1)
	sleepForever()
}

// acquireForever waits for a permit with no bound until killed.
func acquireForever(s *shm.Semaphore, addr *shm.RawValue[uintptr]) {
	addr.Store(s.FutexAddr())
	s.Acquire(context.Background())
	sleepForever()
}

func init() {
	shm.Register(acquireRelease)
	shm.Register(acquireOnce)
	shm.Register(acquireAndHold)
	shm.Register(acquireForever)
}

// TestSemaphoreLimitsHolders runs four processes through a Semaphore of two:
// never more than two may hold a permit at once.
func TestSemaphoreLimitsHolders(t *testing.T) {
	n := 20_000
	if testing.Short() || raceEnabled {
		n = 2_000
	}
	s := newSemaphore(t, 2)
	held, most := newFlag(t), newFlag(t)
	var ps []*shm.Process
	for range 4 {
		ps = append(ps, start(t, acquireRelease, s, held, most, n))
	}
	for _, p := range ps {
		join(t, p)
	}
	if m := most.Ptr().Load(); m > 2 || m < 1 {
		t.Fatalf("%d processes held a permit of 2 at once", m)
	}
	if s.Permits() != 2 {
		t.Fatalf("%d permits left, want 2", s.Permits())
	}
}

// TestSemaphoreWakesEachWaiter puts three processes to sleep on a Semaphore
// with no permits; three Releases must wake all three, one each.
func TestSemaphoreWakesEachWaiter(t *testing.T) {
	s := newSemaphore(t, 0)
	var ps []*shm.Process
	for range 3 {
		addr := newAddr(t)
		p := start(t, acquireOnce, s, addr)
		awaitAsleep(t, p.Pid(), addr.Load)
		ps = append(ps, p)
	}
	for range 3 {
		s.Release()
	}
	for _, p := range ps {
		join(t, p)
	}
	if s.Permits() != 0 || s.Sleepers() != 0 {
		t.Fatalf("after the waiters left: %d permits, %d sleepers, want 0 and 0", s.Permits(), s.Sleepers())
	}
}

// TestSemaphoreSleepFallback shows that a waiter sleeps a second at a time:
// the fallback for a wake-up lost to a process that died before taking its
// permit, and long enough to cost no CPU.
func TestSemaphoreSleepFallback(t *testing.T) {
	s := newSemaphore(t, 0)
	done := make(chan error, 1)
	go func() { done <- s.Acquire(bounded(t)) }()
	awaitAsleep(t, os.Getpid(), s.FutexAddr)
	if d := shm.LastWaitSleep(); d < time.Second {
		t.Errorf("a Semaphore's waiter sleeps %v at a time, want at least a second", d)
	}
	s.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSemaphoreHolderKilled kills a process that holds the only permit. A
// Semaphore has no owner, so the permit is lost, as in Python: Acquire must
// end with its context, not hang, and a Release from anyone gives the
// permit back.
func TestSemaphoreHolderKilled(t *testing.T) {
	s := newSemaphore(t, 1)
	holding := newFlag(t)
	p := start(t, acquireAndHold, s, holding)
	await(t, "the child to hold the permit", func() bool { return holding.Ptr().Load() == 1 })
	p.Kill()
	p.Join()
	mustWait(t, "Acquire after the holder died", s.Acquire)
	if s.TryAcquire() {
		t.Fatal("TryAcquire took the dead holder's permit")
	}
	s.Release()
	if err := s.Acquire(bounded(t)); err != nil {
		t.Fatalf("Acquire after a Release = %v", err)
	}
}

// TestSemaphoreReleaseAfterWaiterKilled kills a process asleep in Acquire:
// Release must return and give the permit to a waiter that lives.
func TestSemaphoreReleaseAfterWaiterKilled(t *testing.T) {
	s := newSemaphore(t, 0)
	addr := newAddr(t)
	doomed := start(t, acquireForever, s, addr)
	awaitAsleep(t, doomed.Pid(), addr.Load)
	doomed.Kill()
	doomed.Join()

	addr = newAddr(t)
	live := start(t, acquireOnce, s, addr)
	awaitAsleep(t, live.Pid(), addr.Load)
	within(t, "Release after a waiter was killed", s.Release)
	join(t, live)
}

// TestSyncHotPathsDoNotAllocate checks the calls that do not wait.
func TestSyncHotPathsDoNotAllocate(t *testing.T) {
	e := newEvent(t)
	s := newSemaphore(t, 1)
	c := newCond(t)
	b := newBarrier(t, 1)
	ctx := context.Background()
	for name, f := range map[string]func(){
		"Event.Set+Wait+Clear":      func() { e.Set(); e.Wait(ctx); e.Clear() },
		"Event.IsSet":               func() { e.IsSet() },
		"Semaphore.Acquire+Release": func() { s.Acquire(ctx); s.Release() },
		"Semaphore.TryAcquire":      func() { s.TryAcquire(); s.Release() },
		"Cond.Signal+Broadcast":     func() { c.Signal(); c.Broadcast() },
		"Barrier.Wait of one party": func() { b.Wait(ctx) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}
