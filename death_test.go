package shm_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// lockAndHold locks m, reports its token and that it holds the lock, and then
// holds it until killed.
func lockAndHold(m *shm.Mutex, tok *shm.RawValue[uint64], holding *shm.RawValue[atomic.Int32]) {
	tok.Store(shm.ProcessToken())
	m.Lock()
	holding.Ptr().Store(1)
	sleepForever()
}

// Results a waiting child reports.
const (
	gotLock      = 1
	gotOwnerDead = 2
	gotOther     = 3
)

// waitForLock blocks in LockContext and reports what it returned.
func waitForLock(m *shm.Mutex, out *shm.RawValue[atomic.Int32]) {
	waitForLockCtx(context.Background(), m, out)
}

// takeToken takes a liveness token, reports it, and lives until released.
func takeToken(tok *shm.RawValue[uint64], release *shm.RawValue[atomic.Int32]) {
	tok.Store(shm.ProcessToken())
	holdUntil(release)
}

func init() {
	shm.Register(lockAndHold)
	shm.Register(waitForLock)
	shm.Register(takeToken)
}

// bounded returns a context that ends after a minute, so that a lock that is
// never handed over fails the test instead of hanging it.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// killHolder starts a child that locks m, waits until it holds it, kills it
// and joins it. It returns the dead child's token.
func killHolder(t *testing.T, m *shm.Mutex) uint64 {
	t.Helper()
	tok, err := shm.NewRawValue(uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	holding := newFlag(t)
	p := start(t, lockAndHold, m, tok, holding)
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })
	p.Kill()
	if err := p.Join(); err == nil {
		t.Fatal("killed child joined without error")
	}
	if m.Owner() != tok.Load() {
		t.Fatalf("lock word names %d, the dead child was %d", m.Owner(), tok.Load())
	}
	return tok.Load()
}

func TestOwnerDeathNewLocker(t *testing.T) {
	m := newMutex(t)
	killHolder(t, m)
	if err := m.LockContext(bounded(t)); !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("LockContext after the owner died = %v, want ErrOwnerDead", err)
	}
	if m.Owner() != shm.ProcessToken() {
		t.Fatal("ErrOwnerDead returned without the lock held")
	}
	mustBlock(t, m)
	m.Unlock()
	if err := m.LockContext(context.Background()); err != nil {
		t.Fatalf("LockContext of a recovered lock = %v", err)
	}
	m.Unlock()
}

func TestOwnerDeathLockAndTryLock(t *testing.T) {
	m := newMutex(t)
	killHolder(t, m)
	m.Lock() // takes the lock over without a word
	m.Unlock()
	killHolder(t, m)
	if !m.TryLock() {
		t.Fatal("TryLock of a dead owner's lock failed")
	}
	m.Unlock()
}

func TestOwnerDeathValueUpdate(t *testing.T) {
	v, err := shm.NewValue[int64](41)
	if err != nil {
		t.Fatal(err)
	}
	killHolder(t, v.Mutex())
	if got := v.Update(func(x int64) int64 { return x + 1 }); got != 42 {
		t.Fatalf("Update after the owner died = %d", got)
	}
}

// TestOwnerDeathWakesWaiters kills the holder while two waiters, one another
// child and one a goroutine of this process, are already asleep on the lock.
// Both must get it: one with ErrOwnerDead, the other after it.
func TestOwnerDeathWakesWaiters(t *testing.T) {
	m := newMutex(t)
	tok, _ := shm.NewRawValue(uint64(0))
	holding := newFlag(t)
	holder := start(t, lockAndHold, m, tok, holding)
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })

	childGot := newFlag(t)
	waiter := start(t, waitForLock, m, childGot)
	await(t, "the child waiter to sleep", m.Waiters)
	ours := make(chan error, 1)
	ctx := bounded(t)
	go func() {
		err := m.LockContext(ctx)
		if err == nil || errors.Is(err, shm.ErrOwnerDead) {
			m.Unlock()
		}
		ours <- err
	}()

	holder.Kill()
	holder.Join()
	join(t, waiter)
	err := <-ours
	switch child := childGot.Ptr().Load(); {
	case child == gotOwnerDead && err == nil, child == gotLock && errors.Is(err, shm.ErrOwnerDead):
	default:
		t.Fatalf("child waiter got %d, this process got %v: want one ErrOwnerDead and one nil", child, err)
	}
}

// TestOwnerDeathSlotReused kills the holder and waits until a new, living
// process holds its liveness slot: the lock must still be seen as abandoned.
// The children it starts take the lowest free slots, the dead one's among
// them, unless another process of this user (the table is shared by all of
// them) takes it first, which serves as well.
func TestOwnerDeathSlotReused(t *testing.T) {
	m := newMutex(t)
	dead := killHolder(t, m)
	slot := shm.TokenSlot(dead)
	release := newFlag(t)
	for i := 0; ; i++ {
		if tok, alive := shm.TokenSlotHolder(slot); alive && tok != dead {
			break
		}
		if i == 64 {
			t.Fatalf("slot %d of the dead owner was not taken by any of 64 new processes", slot)
		}
		tok, _ := shm.NewRawValue(uint64(0))
		start(t, takeToken, tok, release) // holds its slot until released
		await(t, "the new child's token", func() bool { return tok.Load() != 0 })
	}
	if err := m.LockContext(bounded(t)); !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("LockContext = %v, want ErrOwnerDead although the slot is alive again", err)
	}
	m.Unlock()
	release.Ptr().Store(1)
}

// TestOwnerDeathWakesLongWaiter kills the holder while a waiter sleeps with
// its periodic checks all but off: only the kernel's word that the owner's
// process exited can wake it.
func TestOwnerDeathWakesLongWaiter(t *testing.T) {
	first, every := shm.SetPolls(time.Millisecond, time.Hour)
	defer shm.SetPolls(first, every)
	m := newMutex(t)
	tok, _ := shm.NewRawValue(uint64(0))
	holding := newFlag(t)
	holder := start(t, lockAndHold, m, tok, holding)
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })

	watches := shm.Watches()
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got <- m.LockContext(ctx)
	}()
	await(t, "the waiter to watch the owner", func() bool { return shm.Watches() > watches })
	holder.Kill()
	holder.Join()
	if err := <-got; !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("waiter got %v, want ErrOwnerDead", err)
	}
	m.Unlock()
}

// lockWithin reports its token and then what LockContext returned within a
// few seconds: ErrOwnerDead, nil or another error (such as a deadline).
func lockWithin(m *shm.Mutex, tok *shm.RawValue[uint64], out *shm.RawValue[atomic.Int32]) {
	tok.Store(shm.ProcessToken())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	waitForLockCtx(ctx, m, out)
}

// waitForLockCtx blocks in LockContext(ctx) and reports what it returned.
func waitForLockCtx(ctx context.Context, m *shm.Mutex, out *shm.RawValue[atomic.Int32]) {
	err := m.LockContext(ctx)
	switch {
	case err == nil:
		out.Ptr().Store(gotLock)
	case errors.Is(err, shm.ErrOwnerDead):
		out.Ptr().Store(gotOwnerDead)
	default:
		out.Ptr().Store(gotOther)
		return
	}
	m.Unlock()
}

func init() { shm.Register(lockWithin) }

// TestOwnerDeathAfterSlotWraps kills a lock's holder and then ages its liveness
// slot by all the generations but one, as if that many children had come and
// gone through it. The next child to take a slot must still find the lock
// abandoned, never be handed the dead owner's token.
func TestOwnerDeathAfterSlotWraps(t *testing.T) {
	m := newMutex(t)
	dead := killHolder(t, m)
	// The table is shared with every shm process of this user, so another
	// may have taken the dead owner's slot since: that holder's token is of a
	// newer generation, and the dead one cannot come back through this slot.
	aged, err := shm.AgeTokenSlot(shm.TokenSlot(dead), shm.TokenGenerations-1)
	if err != nil {
		t.Fatal(err)
	}
	if !aged {
		t.Logf("slot %d was taken by another process before it could be aged", shm.TokenSlot(dead))
	}

	tok, _ := shm.NewRawValue(uint64(0))
	got := newFlag(t)
	join(t, start(t, lockWithin, m, tok, got))
	if tok.Load() == dead {
		t.Errorf("the new child was given the dead owner's token %d", dead)
	}
	if g := got.Ptr().Load(); g != gotOwnerDead {
		t.Fatalf("the new child's LockContext reported %d, want ErrOwnerDead (%d)", g, gotOwnerDead)
	}
}
