package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

func newCond(tb testing.TB) *shm.Cond {
	tb.Helper()
	c, err := shm.NewCond(newMutex(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// condWait locks c's Mutex, waits on c once and unlocks; it returns what Wait
// returned, after checking that Wait returned with the lock held.
func condWait(ctx context.Context, c *shm.Cond) error {
	c.Mutex().Lock()
	err := c.Wait(ctx)
	if c.Mutex().Owner() != shm.ProcessToken() {
		return fmt.Errorf("Wait returned %v without the lock held", err)
	}
	c.Mutex().Unlock()
	return err
}

func TestCondArguments(t *testing.T) {
	if _, err := shm.NewCond(nil); err == nil || !strings.Contains(err.Error(), "NewCond(nil)") {
		t.Errorf("NewCond(nil) = %v", err)
	}
	var local shm.Mutex
	if _, err := shm.NewCond(&local); err == nil || !strings.Contains(err.Error(), "not in shared memory") {
		t.Errorf("NewCond of a Mutex in Go memory = %v", err)
	}
	c := newCond(t)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "not locked by this process") {
				t.Errorf("Wait without the lock: recovered %v", r)
			}
		}()
		c.Wait(context.Background())
	}()
	var zero shm.Cond
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "NewCond") {
				t.Errorf("Signal of a zero Cond: recovered %v", r)
			}
		}()
		zero.Signal()
	}()
}

// TestCondSignalBroadcast has three goroutines wait: a Signal releases one
// of them, a Broadcast the other two, and the counts in the word add up.
func TestCondSignalBroadcast(t *testing.T) {
	c := newCond(t)
	c.Signal() // nobody waits: nothing to do
	c.Broadcast()
	if g, s, m, q := c.Groups(); s+m+q != 0 || g != 0 {
		t.Fatalf("Signal and Broadcast with nobody waiting changed the word: g=%d s=%d m=%d q=%d", g, s, m, q)
	}
	ctx := bounded(t)
	var woken atomic.Int32
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			err := condWait(ctx, c)
			woken.Add(1)
			errs <- err
		}()
	}
	await(t, "three waiters", func() bool { _, _, _, q := c.Groups(); return q == 3 })
	c.Signal()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if g, s, m, q := c.Groups(); g != 1 || s != 0 || m != 2 || q != 0 {
		t.Fatalf("after one Signal taken: g=%d s=%d m=%d q=%d, want 1 0 2 0", g, s, m, q)
	}
	if n := woken.Load(); n != 1 {
		t.Fatalf("one Signal woke %d goroutines", n)
	}
	c.Broadcast()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, s, m, q := c.Groups(); s+m+q != 0 {
		t.Fatalf("after Broadcast: s=%d m=%d q=%d, want all 0", s, m, q)
	}
}

// TestCondGroupsWrap runs waiters and Signals across the wrap of the group
// number.
func TestCondGroupsWrap(t *testing.T) {
	c := newCond(t)
	c.SetGroups(1<<15-3, 0, 0, 0) // g has 15 bits
	ctx := bounded(t)
	for i := range 6 {
		done := make(chan error, 1)
		go func() { done <- condWait(ctx, c) }()
		await(t, "the waiter", func() bool { _, _, _, q := c.Groups(); return q == 1 })
		if i%2 == 0 {
			c.Signal()
		} else {
			c.Broadcast()
		}
		if err := <-done; err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

func TestCondContext(t *testing.T) {
	c := newCond(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- condWait(ctx, c) }()
	awaitAsleep(t, os.Getpid(), c.FutexAddr)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v", err)
	}
	if _, s, m, q := c.Groups(); s+m+q != 0 {
		t.Fatalf("a waiter that gave up is still counted: s=%d m=%d q=%d", s, m, q)
	}
	// A Signal sent now must go to the next waiter, not to the one that left.
	go func() { done <- condWait(bounded(t), c) }()
	await(t, "the next waiter", func() bool { _, _, _, q := c.Groups(); return q == 1 })
	c.Signal()
	if err := <-done; err != nil {
		t.Fatalf("the next waiter's Wait = %v", err)
	}
}

func TestCondTooManyWaiters(t *testing.T) {
	c := newCond(t)
	c.SetGroups(0, 0, 0, 1<<16-1)
	c.Mutex().Lock()
	err := c.Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "65535") {
		t.Errorf("Wait on a full Cond = %v", err)
	}
	if c.Mutex().Owner() != shm.ProcessToken() {
		t.Error("Wait on a full Cond unlocked the Mutex")
	}
	c.Mutex().Unlock()
}

// condWaitChild reports the address of c's futex word in this process and
// waits on c once, with its fallback checks off; it returns Wait's error.
func condWaitChild(c *shm.Cond, addr *shm.RawValue[uintptr]) error {
	addr.Store(c.FutexAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return condWait(ctx, c)
}

// condWaitForever waits on c with no bound, as Python's wait() does, until
// killed.
func condWaitForever(c *shm.Cond, addr *shm.RawValue[uintptr]) {
	addr.Store(c.FutexAddr())
	c.Mutex().Lock()
	c.Wait(context.Background())
	sleepForever()
}

// consume takes n items from a shared count, waiting on c whenever there is
// none.
func consume(c *shm.Cond, items *shm.RawValue[int64], n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := c.Mutex()
	for range n {
		m.Lock()
		for items.Load() == 0 {
			if err := c.Wait(ctx); err != nil {
				m.Unlock()
				return err
			}
		}
		items.Store(items.Load() - 1)
		m.Unlock()
	}
	return nil
}

// lockAndBroadcast locks c's Mutex, broadcasts, reports that it holds the
// lock and holds it until killed.
func lockAndBroadcast(c *shm.Cond, holding *shm.RawValue[atomic.Int32]) {
	c.Mutex().Lock()
	c.Broadcast()
	holding.Ptr().Store(1)
	sleepForever()
}

func init() {
	shm.Register(condWaitChild)
	shm.Register(condWaitForever)
	shm.Register(consume)
	shm.Register(lockAndBroadcast)
}

// TestCondSignalAcrossProcesses has three processes consume items that this
// process produces one at a time, each announced by one Signal: a lost or
// misdirected Signal leaves a consumer asleep with items to take.
func TestCondSignalAcrossProcesses(t *testing.T) {
	per := 2000
	if testing.Short() || raceEnabled {
		per = 300
	}
	c := newCond(t)
	items, err := shm.NewRawValue(int64(0))
	if err != nil {
		t.Fatal(err)
	}
	var ps []*shm.Process
	for range 3 {
		ps = append(ps, start(t, consume, c, items, per))
	}
	for range 3 * per {
		c.Mutex().Lock()
		items.Store(items.Load() + 1)
		c.Signal()
		c.Mutex().Unlock()
	}
	for _, p := range ps {
		join(t, p)
	}
	if n := items.Load(); n != 0 {
		t.Fatalf("%d items left", n)
	}
}

// TestCondSignalNotStolen stops a signalled waiter before it can run: a
// goroutine that starts waiting after the Signal must not take it.
func TestCondSignalNotStolen(t *testing.T) {
	c := newCond(t)
	addr := newAddr(t)
	first := start(t, condWaitChild, c, addr)
	awaitAsleep(t, first.Pid(), addr.Load)
	if err := stopProcess(first.Pid(), true); err != nil {
		t.Fatal(err)
	}
	c.Signal() // for first, which cannot take it yet
	mustWait(t, "a Wait begun after the Signal", func(ctx context.Context) error { return condWait(ctx, c) })
	if err := stopProcess(first.Pid(), false); err != nil {
		t.Fatal(err)
	}
	join(t, first)
}

// TestCondNotifyAfterWaiterKilled kills a process asleep in Wait, where
// Python's notify then hangs for good: Signal and Broadcast must return, and
// a waiter that lives, or comes later, must still be woken.
func TestCondNotifyAfterWaiterKilled(t *testing.T) {
	c := newCond(t)
	addr := newAddr(t)
	doomed := start(t, condWaitForever, c, addr)
	awaitAsleep(t, doomed.Pid(), addr.Load)
	doomed.Kill()
	doomed.Join()

	within(t, "Signal after a waiter was killed", c.Signal)
	within(t, "Broadcast after a waiter was killed", c.Broadcast)

	addr = newAddr(t)
	live := start(t, condWaitChild, c, addr)
	awaitAsleep(t, live.Pid(), addr.Load)
	c.Signal()
	join(t, live)

	// Both asleep: the live one must get the Signal.
	addr = newAddr(t)
	doomed = start(t, condWaitForever, c, addr)
	awaitAsleep(t, doomed.Pid(), addr.Load)
	addr = newAddr(t)
	live = start(t, condWaitChild, c, addr)
	awaitAsleep(t, live.Pid(), addr.Load)
	doomed.Kill()
	doomed.Join()
	within(t, "Signal", c.Signal)
	join(t, live)
}

// TestCondWaiterOwnerDead wakes a waiter with a Broadcast from a process that
// then dies holding the Mutex: the waiter must get the lock, with
// ErrOwnerDead.
func TestCondWaiterOwnerDead(t *testing.T) {
	c := newCond(t)
	got := make(chan error, 1)
	go func() {
		c.Mutex().Lock()
		err := c.Wait(bounded(t))
		if c.Mutex().Owner() != shm.ProcessToken() {
			err = fmt.Errorf("Wait returned %v without the lock", err)
		}
		got <- err
	}()
	await(t, "the waiter", func() bool { _, _, _, q := c.Groups(); return q == 1 })
	holding := newFlag(t)
	p := start(t, lockAndBroadcast, c, holding)
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })
	p.Kill()
	p.Join()
	if err := <-got; !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("Wait = %v, want ErrOwnerDead", err)
	}
	c.Mutex().Unlock()
}

// TestCondManyWaitersOneSleeper has many goroutines wait on a Cond: one
// sleeps in the kernel, with no timeout, and a Broadcast releases them all.
func TestCondManyWaitersOneSleeper(t *testing.T) {
	const waiters = 50
	c := newCond(t)
	ctx := bounded(t)
	shm.MaxWaitSleeping()
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- condWait(ctx, c)
		}()
	}
	await(t, "every goroutine to wait", func() bool { return c.Waiting() == waiters })
	awaitAsleep(t, os.Getpid(), c.FutexAddr)
	if d := shm.LastWaitSleep(); d != 0 {
		t.Errorf("a Cond's waiter sleeps %v at a time, want no limit: it has nothing to check", d)
	}
	c.Broadcast()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := shm.MaxWaitSleeping(); n != 1 {
		t.Errorf("%d goroutines waiting on one Cond: %d slept in the kernel at once, want 1", waiters, n)
	}
}

// TestCondSignalWakesOnlySleepers plays a Cond ping-pong with a child, each
// side Signalling the other while it may still be spinning, and checks that
// this process's Signals sent a wake-up (a system call) no more often than a
// waiter, of either process, went to sleep: each sleep marks the word once,
// and a wake-up is due only to a mark.
func TestCondSignalWakesOnlySleepers(t *testing.T) {
	const rounds = 2000
	c := newCond(t)
	pv, err := shm.NewRawValue(condPingPong{})
	if err != nil {
		t.Fatal(err)
	}
	p := pv.Ptr()
	child := start(t, condPong, c, pv, rounds)
	wakes, sleeps := shm.WaitWakes(), shm.WaitSleeps()
	if err := condTurns(c, p, 1, rounds); err != nil {
		t.Fatal(err)
	}
	join(t, child)
	wakes, sleeps = shm.WaitWakes()-wakes, shm.WaitSleeps()-sleeps+p.CondSleeps.Load()
	if wakes > sleeps {
		t.Errorf("%d round trips: this process's Signals sent %d wake-ups, for %d sleeps on the Cond in both processes", rounds, wakes, sleeps)
	}
}
