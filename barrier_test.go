package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

func newBarrier(tb testing.TB, n int) *shm.Barrier {
	tb.Helper()
	b, err := shm.NewBarrier(n)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestBarrierArguments(t *testing.T) {
	for _, n := range []int{0, -1, 1 << 31} {
		if _, err := shm.NewBarrier(n); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("NewBarrier(%d)", n)) {
			t.Errorf("NewBarrier(%d) = %v, want an error naming the call", n, err)
		}
	}
	var zero shm.Barrier
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "NewBarrier") {
			t.Errorf("Wait on a zero Barrier: recovered %v", r)
		}
	}()
	zero.Wait(context.Background())
}

func TestBarrierOneParty(t *testing.T) {
	b := newBarrier(t, 1)
	for range 3 {
		if i, err := b.Wait(context.Background()); i != 0 || err != nil {
			t.Fatalf("Wait of a Barrier of one = %d, %v", i, err)
		}
	}
}

// TestBarrierRounds runs goroutines through many rounds: in each, every
// index from 0 to n-1 is returned once, and no goroutine starts a round
// before all have finished the previous one.
func TestBarrierRounds(t *testing.T) {
	const n, rounds = 4, 200
	b := newBarrier(t, n)
	ctx := bounded(t)
	var mu sync.Mutex
	indices := make([][]int, rounds)
	arrived := make([]int, rounds)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				mu.Lock()
				arrived[r]++
				mu.Unlock()
				i, err := b.Wait(ctx)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if arrived[r] != n {
					errs <- fmt.Errorf("round %d: released with %d of %d arrived", r, arrived[r], n)
				}
				indices[r] = append(indices[r], i)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for r, ix := range indices {
		slices.Sort(ix)
		if !slices.Equal(ix, []int{0, 1, 2, 3}) {
			t.Fatalf("round %d returned indices %v", r, ix)
		}
	}
}

func TestBarrierAbort(t *testing.T) {
	b := newBarrier(t, 3)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := b.Wait(bounded(t))
			errs <- err
		}()
	}
	await(t, "two parties", func() bool { return b.Arrived() == 2 })
	b.Abort()
	for range 2 {
		if err := <-errs; !errors.Is(err, shm.ErrBrokenBarrier) {
			t.Fatalf("Wait when aborted = %v", err)
		}
	}
	if i, err := b.Wait(bounded(t)); i != -1 || !errors.Is(err, shm.ErrBrokenBarrier) {
		t.Fatalf("Wait on a broken Barrier = %d, %v", i, err)
	}
	b.Abort()
}

// TestBarrierContextBreaks ends one party's wait with its context: it gets
// the context's error, and the Barrier is broken for the party waiting with
// it, as Python's timeout breaks its Barrier.
func TestBarrierContextBreaks(t *testing.T) {
	b := newBarrier(t, 3)
	other := make(chan error, 1)
	go func() {
		_, err := b.Wait(bounded(t))
		other <- err
	}()
	await(t, "the first party", func() bool { return b.Arrived() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	mine := make(chan error, 1)
	go func() {
		_, err := b.Wait(ctx)
		mine <- err
	}()
	await(t, "the second party", func() bool { return b.Arrived() == 2 })
	cancel()
	if err := <-mine; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v", err)
	}
	if err := <-other; !errors.Is(err, shm.ErrBrokenBarrier) {
		t.Fatalf("the other party's Wait = %v, want ErrBrokenBarrier", err)
	}
}

// barrierRounds waits at b for the given rounds, each time after storing its
// round number in its element of marks, and checks after each round that
// every party stored the round's number: a party released early sees an
// older one.
func barrierRounds(b *shm.Barrier, marks *shm.RawArray[int64], id, rounds int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for r := 1; r <= rounds; r++ {
		marks.Slice()[id] = int64(r)
		if _, err := b.Wait(ctx); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		for i, m := range marks.Slice() {
			if m < int64(r) {
				return fmt.Errorf("round %d: party %d is at round %d", r, i, m)
			}
		}
		if _, err := b.Wait(ctx); err != nil { // so that nobody writes the next round's mark too early
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	return nil
}

// gotBroken is what a child reports for ErrBrokenBarrier.
const gotBroken = 4

// barrierWaitChild reports the address of b's futex word, waits at b once (at
// most a minute) and reports what Wait returned: gotLock for nil, gotBroken
// for ErrBrokenBarrier, gotOther otherwise.
func barrierWaitChild(b *shm.Barrier, addr *shm.RawValue[uintptr], out *shm.RawValue[atomic.Int32]) {
	addr.Store(b.FutexAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch _, err := b.Wait(ctx); {
	case err == nil:
		out.Ptr().Store(gotLock)
	case errors.Is(err, shm.ErrBrokenBarrier):
		out.Ptr().Store(gotBroken)
	default:
		out.Ptr().Store(gotOther)
	}
}

// barrierWaitForever waits at b with no bound until killed.
func barrierWaitForever(b *shm.Barrier, addr *shm.RawValue[uintptr]) {
	addr.Store(b.FutexAddr())
	b.Wait(context.Background())
	sleepForever()
}

func init() {
	shm.Register(barrierRounds)
	shm.Register(barrierWaitChild)
	shm.Register(barrierWaitForever)
}

func TestBarrierAcrossProcesses(t *testing.T) {
	const n = 4
	rounds := 300
	if testing.Short() || raceEnabled {
		rounds = 50
	}
	b := newBarrier(t, n)
	marks, err := shm.NewRawArray[int64](n)
	if err != nil {
		t.Fatal(err)
	}
	var ps []*shm.Process
	for id := range n {
		ps = append(ps, start(t, barrierRounds, b, marks, id, rounds))
	}
	for _, p := range ps {
		join(t, p)
	}
}

// TestBarrierLastArrivalAfterWaiterKilled kills a party asleep at a Barrier
// of two; the last party to arrive, which hangs in Python even with a
// timeout, must complete the round at once.
func TestBarrierLastArrivalAfterWaiterKilled(t *testing.T) {
	b := newBarrier(t, 2)
	addr := newAddr(t)
	doomed := start(t, barrierWaitForever, b, addr)
	awaitAsleep(t, doomed.Pid(), addr.Load)
	doomed.Kill()
	doomed.Join()
	var i int
	var err error
	within(t, "the last arrival", func() { i, err = b.Wait(bounded(t)) })
	if i != 1 || err != nil {
		t.Fatalf("Wait of the last party = %d, %v; want 1, nil", i, err)
	}
}

// TestBarrierPartyKilledBreaks kills a party asleep at a Barrier of three
// while another party waits, in another process, with its checks on: the
// waiting party must find the Barrier broken, and so must the third party
// when it arrives.
func TestBarrierPartyKilledBreaks(t *testing.T) {
	b := newBarrier(t, 3)
	addr := newAddr(t)
	doomed := start(t, barrierWaitForever, b, addr)
	awaitAsleep(t, doomed.Pid(), addr.Load)
	addr, out := newAddr(t), newFlag(t)
	waiter := start(t, barrierWaitChild, b, addr, out)
	awaitAsleep(t, waiter.Pid(), addr.Load)
	doomed.Kill()
	doomed.Join()
	join(t, waiter)
	if got := out.Ptr().Load(); got != gotBroken {
		t.Fatalf("the waiting party's Wait reported %d, want ErrBrokenBarrier (%d)", got, gotBroken)
	}
	if i, err := b.Wait(bounded(t)); i != -1 || !errors.Is(err, shm.ErrBrokenBarrier) {
		t.Fatalf("the third party's Wait = %d, %v", i, err)
	}
}

// TestBarrierDeadArrival makes the next party's slot look taken by a dead
// process, as if it died between taking its slot and counting itself: the
// next party to arrive must break the Barrier rather than wait for it.
func TestBarrierDeadArrival(t *testing.T) {
	b := newBarrier(t, 2)
	b.TakeSlot(deadToken(t))
	if i, err := b.Wait(bounded(t)); i != -1 || !errors.Is(err, shm.ErrBrokenBarrier) {
		t.Fatalf("Wait after a party died arriving = %d, %v", i, err)
	}
}

// TestBarrierWaiterBacksOff shows that a party waiting for one that is slow
// checks the parties less and less often, down to once a second (at once
// here: no other party arrived, so none needs watching): it costs no CPU to
// speak of.
func TestBarrierWaiterBacksOff(t *testing.T) {
	b := newBarrier(t, 2)
	done := make(chan error, 1)
	go func() {
		_, err := b.Wait(bounded(t))
		done <- err
	}()
	await(t, "the waiter to sleep a second at a time", func() bool { return shm.LastWaitSleep() == time.Second })
	if _, err := b.Wait(bounded(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// deadToken returns the token of a process that has exited.
func deadToken(tb testing.TB) uint64 {
	tb.Helper()
	tok, err := shm.NewRawValue(uint64(0))
	if err != nil {
		tb.Fatal(err)
	}
	release := newFlag(tb)
	release.Ptr().Store(1)
	join(tb, start(tb, takeToken, tok, release))
	return tok.Load()
}

// TestBarrierStuckArrival makes the next party's slot look taken by a live
// process that never counts itself, as one stopped between its two steps
// would: a party arriving after it must give up when its context ends.
func TestBarrierStuckArrival(t *testing.T) {
	b := newBarrier(t, 2)
	b.TakeSlot(shm.ProcessToken())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var err error
	within(t, "Wait behind a stuck arrival", func() { _, err = b.Wait(ctx) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait behind a stuck arrival = %v, want the context's error", err)
	}
	if !b.Broken() {
		t.Fatal("a party whose context ended left the Barrier unbroken")
	}
}

// TestBarrierDeathWakesLongWaiter kills a party while another waits with its
// periodic checks all but off: only the kernel's word that the dead party's
// process exited can wake the waiter, which must then find the Barrier
// broken, and close the pidfd it watched the party with.
func TestBarrierDeathWakesLongWaiter(t *testing.T) {
	first, every := shm.SetPolls(time.Millisecond, time.Hour)
	defer shm.SetPolls(first, every)
	b := newBarrier(t, 3)
	addr := newAddr(t)
	doomed := start(t, barrierWaitForever, b, addr)
	awaitAsleep(t, doomed.Pid(), addr.Load)
	fds := pidfds(t, doomed.Pid()) // os/exec may hold one

	watches := shm.Watches()
	got := make(chan error, 1)
	go func() {
		_, err := b.Wait(bounded(t))
		got <- err
	}()
	await(t, "the waiter to watch the party", func() bool { return shm.Watches() > watches })
	awaitAsleep(t, os.Getpid(), b.FutexAddr)
	if d := shm.LastWaitSleep(); d != time.Hour {
		t.Fatalf("with the party watched, the waiter sleeps %v at a time, want an hour", d)
	}
	if n := pidfds(t, doomed.Pid()) - fds; n != 1 {
		t.Errorf("the waiter holds %d pidfds on the party, want 1", n)
	}
	doomed.Kill()
	doomed.Join()
	if err := <-got; !errors.Is(err, shm.ErrBrokenBarrier) {
		t.Fatalf("Wait = %v, want ErrBrokenBarrier", err)
	}
	if n := pidfds(t, doomed.Pid()); n != 0 {
		t.Errorf("%d pidfds on the dead party left open", n)
	}
}
