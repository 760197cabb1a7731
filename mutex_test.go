package shm_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/internal/futex"
)

// mustBlock checks that locking m blocks: LockContext must still be waiting
// when its deadline passes. m is held by someone else for the whole call.
func mustBlock(tb testing.TB, m *shm.Mutex) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := m.LockContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil || errors.Is(err, shm.ErrOwnerDead) {
			m.Unlock()
		}
		tb.Fatalf("LockContext of a held lock = %v, want it to block until the deadline", err)
	}
}

func newMutex(tb testing.TB) *shm.Mutex {
	tb.Helper()
	m, err := shm.NewMutex()
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestMutexInProcess(t *testing.T) {
	m := newMutex(t)
	m.Lock()
	if m.TryLock() {
		t.Fatal("TryLock of a held lock succeeded")
	}
	mustBlock(t, m)
	m.Unlock()
	if !m.TryLock() {
		t.Fatal("TryLock of a free lock failed")
	}
	m.Unlock()
	if err := m.LockContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Unlock()
	var _ sync.Locker = m
}

func TestMutexContextCancel(t *testing.T) {
	m := newMutex(t)
	m.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.LockContext(ctx) }()
	await(t, "the waiter to sleep", m.Waiters)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("LockContext after cancel = %v", err)
	}
	m.Unlock()
	if !m.TryLock() {
		t.Fatal("a cancelled LockContext left the lock held")
	}
	if err := m.LockContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("LockContext of a held lock with a done context = %v", err)
	}
	m.Unlock()
}

func TestMutexHammerGoroutines(t *testing.T) {
	m := newMutex(t)
	n := 0
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10_000; i++ {
				m.Lock()
				n++
				m.Unlock()
			}
		}()
	}
	wg.Wait()
	if n != 80_000 {
		t.Fatalf("n = %d, want 80000", n)
	}
}

func TestUnlockMisuse(t *testing.T) {
	m := newMutex(t)
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) != "shm: unlock of unlocked Mutex" {
			t.Fatalf("Unlock of unlocked Mutex: recovered %v", r)
		}
	}()
	m.Unlock()
}

type guarded struct {
	Mu     shm.Mutex
	Count  int64 // plain: only the lock keeps updates from being lost
	Last   int32 // the process that last took the lock
	Turns  int64 // times the lock passed from one process to the other
	Sleeps atomic.Int64
}

// hammer takes the lock n times and adds one each time.
func hammer(g *shm.RawValue[guarded], id int32, n int) {
	p := g.Ptr()
	for i := 0; i < n; i++ {
		p.Mu.Lock()
		p.Count++
		p.Mu.Unlock()
	}
}

// handOff takes the lock n times, each time only after the other process had
// it: every acquisition is a hand-off between processes. The lock holder marks
// its turn first, so the other process is already waiting in Lock for the rest
// of the critical section, and one critical section in 64 yields the processor
// and lasts 20 µs, longer than a waiter spins, so that waiters also sleep, on
// one core as on two.
func handOff(g *shm.RawValue[guarded], id int32, n int, cpu int) error {
	// A lost wake-up must hang the test rather than be hidden by the periodic
	// check for a dead owner.
	shm.SetPolls(time.Hour, time.Hour)
	if cpu >= 0 {
		if err := pinToCPU(cpu); err != nil {
			return err
		}
	}
	p := g.Ptr()
	last := (*atomic.Int32)(unsafe.Pointer(&p.Last))
	for i := 0; i < n; i++ {
		p.Mu.Lock()
		if last.Load() != 0 && last.Load() != id {
			p.Turns++
		}
		last.Store(id)
		p.Count++
		if i%64 == 63 {
			// Give the processor away inside the critical section, as a
			// preempted holder would: on one core the other process then
			// spins, yields back, finds the lock still held and sleeps.
			for range 3 {
				futex.Yield()
			}
			for t0 := time.Now(); time.Since(t0) < 20*time.Microsecond; {
			}
		}
		p.Mu.Unlock()
		for i < n-1 && last.Load() == id {
			futex.Yield() // the other process's turn
		}
	}
	p.Sleeps.Add(int64(shm.Sleeps()))
	return nil
}

func init() { shm.Register(handOff) }

func init() { shm.Register(hammer) }

func TestMutexHammerProcesses(t *testing.T) {
	g, err := shm.NewRawValue(guarded{})
	if err != nil {
		t.Fatal(err)
	}
	const procs, n = 4, 50_000
	var ps []*shm.Process
	for i := 0; i < procs; i++ {
		ps = append(ps, start(t, hammer, g, int32(i+1), n))
	}
	for _, p := range ps {
		join(t, p)
	}
	if got := g.Ptr().Count; got != procs*n {
		t.Fatalf("count = %d, want %d", got, procs*n)
	}
}

// TestMutexLostWakeups hands a lock back and forth between two processes
// two million times, on one core and on two, with the dead-owner poll off: a
// lost wake-up leaves a process asleep for good, and the watchdog reports it.
func TestMutexLostWakeups(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 200_000
	}
	for _, c := range []struct {
		name string
		cpus [2]int
	}{{"one core", [2]int{0, 0}}, {"two cores", [2]int{0, 1}}} {
		t.Run(c.name, func(t *testing.T) {
			if c.cpus[1] >= runtime.NumCPU() {
				t.Skip("needs two CPUs")
			}
			g, err := shm.NewRawValue(guarded{})
			if err != nil {
				t.Fatal(err)
			}
			a := start(t, handOff, g, int32(1), n, c.cpus[0])
			b := start(t, handOff, g, int32(2), n, c.cpus[1])
			watch(t, g, [2]*shm.Process{a, b})
			join(t, a)
			join(t, b)
			p := g.Ptr()
			if p.Count != int64(2*n) {
				t.Fatalf("count = %d, want %d", p.Count, 2*n)
			}
			t.Logf("%d hand-offs between the processes, %d sleeps", p.Turns, p.Sleeps.Load())
			if p.Turns != int64(2*n-1) {
				t.Fatalf("%d hand-offs, want %d", p.Turns, 2*n-1)
			}
			if p.Sleeps.Load() == 0 {
				t.Fatal("no waiter ever slept: the wake-up path was not tested")
			}
		})
	}
}

// watch fails the test if the count stops moving for ten seconds before both
// processes are done: the sign of a lost wake-up.
func watch(t *testing.T, g *shm.RawValue[guarded], ps [2]*shm.Process) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		ps[0].Join()
		ps[1].Join()
		close(done)
	}()
	// The clock starts at the first hand-off: on a loaded machine the two
	// children may take a while to start, which is not a lost wake-up.
	last, lastMove := int64(0), time.Now()
	started := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		// Read the count without the lock: a torn or stale value only delays
		// the watchdog.
		if c := atomic.LoadInt64(&g.Ptr().Count); c != last {
			last, lastMove = c, time.Now()
		} else if c == 0 && time.Since(started) > time.Minute {
			ps[0].Kill()
			ps[1].Kill()
			t.Fatal("the children made no progress in a minute")
		} else if c > 0 && time.Since(lastMove) > 10*time.Second {
			ps[0].Kill()
			ps[1].Kill()
			t.Fatalf("no progress for 10s at count %d: a wake-up was lost", c)
		}
	}
}
