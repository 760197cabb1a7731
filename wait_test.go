package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// pidfds counts the pidfds this process holds open on process pid.
func pidfds(tb testing.TB, pid int) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || !strings.Contains(l, "pidfd") {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err == nil && strings.Contains(string(info), fmt.Sprintf("\nPid:\t%d\n", pid)) {
			n++
		}
	}
	return n
}

// TestManyWaitersOneSleeper blocks many goroutines on a lock that a child
// holds. The process must spend one sleeping thread and one pidfd on them, not
// one each; when the child dies, every goroutine still gets the lock, exactly
// one of them with ErrOwnerDead.
func TestManyWaitersOneSleeper(t *testing.T) {
	const waiters = 100
	m := newMutex(t)
	tok, _ := shm.NewRawValue(uint64(0))
	holding := newFlag(t)
	holder := start(t, lockAndHold, m, tok, holding)
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })

	shm.MaxSleeping()              // reset
	fds := pidfds(t, holder.Pid()) // os/exec may hold one
	watches := shm.Watches()
	ctx := bounded(t)
	errs := make(chan error, waiters)
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := m.LockContext(ctx)
			if err == nil || errors.Is(err, shm.ErrOwnerDead) {
				m.Unlock()
			}
			errs <- err
		}()
	}
	await(t, "every goroutine to wait", func() bool { return m.Queued() == waiters })
	await(t, "the owner to be watched", func() bool { return shm.Watches() > watches })
	if n := pidfds(t, holder.Pid()) - fds; n != 1 {
		t.Errorf("%d goroutines waiting hold %d pidfds, want 1", waiters, n)
	}
	if n := shm.MaxSleeping(); n != 1 {
		t.Errorf("%d goroutines waiting on one lock: %d slept in the kernel at once, want 1", waiters, n)
	}
	if d := shm.LastSleep(); d < time.Second {
		t.Errorf("with the owner watched, the sleeper sleeps %v at a time, want at least a second", d)
	}

	holder.Kill()
	holder.Join()
	wg.Wait()
	close(errs)
	dead := 0
	for err := range errs {
		switch {
		case errors.Is(err, shm.ErrOwnerDead):
			dead++
		case err != nil:
			t.Errorf("LockContext = %v", err)
		}
	}
	if dead != 1 {
		t.Errorf("%d goroutines got ErrOwnerDead, want 1", dead)
	}
	if n := pidfds(t, holder.Pid()); n != 0 {
		t.Errorf("%d pidfds on the dead holder left open after every waiter left", n)
	}
}

// TestWaiterOnOwnProcess waits for a lock that another goroutine of this
// process holds: the owner cannot die while the waiter lives, and its Unlock
// wakes the waiter, so the waiter must not poll.
func TestWaiterOnOwnProcess(t *testing.T) {
	m := newMutex(t)
	m.Lock()
	sleeps := shm.Sleeps()
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got <- m.LockContext(ctx)
	}()
	await(t, "the waiter to sleep", func() bool { return shm.Sleeps() > sleeps })
	if d := shm.LastSleep(); d < time.Second {
		t.Errorf("a waiter on its own process's lock sleeps %v at a time, want at least a second", d)
	}
	m.Unlock()
	if err := <-got; err != nil {
		t.Fatalf("LockContext = %v", err)
	}
	m.Unlock()
}

// TestCancelJustBeforeSleep ends a waiter's context after the waiter last
// looked at it and before it enters the kernel: the wake-up that the end of
// the context sends then comes before the sleep. With the periodic checks
// all but off, only a wake-up repeated until the waiter is out of the kernel
// can end its wait.
func TestCancelJustBeforeSleep(t *testing.T) {
	first, every := shm.SetPolls(time.Hour, time.Hour)
	defer shm.SetPolls(first, every)
	m := newMutex(t)
	m.Lock()
	defer m.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	shm.SetHookBeforeSleep(func() {
		once.Do(func() {
			wakes := shm.CtxWakes()
			cancel()
			// The wake-up for the end of the context comes before the sleep.
			await(t, "the context's wake-up", func() bool { return shm.CtxWakes() > wakes })
		})
	})
	defer shm.SetHookBeforeSleep(nil)
	got := make(chan error, 1)
	go func() { got <- m.LockContext(ctx) }()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("LockContext = %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("LockContext did not return within a minute of its context's end")
	}
}
