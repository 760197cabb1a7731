package dist_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// increment adds 1 to the Value "counter" n times with Update.
func increment(endpoint, ns string, n int) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	v, err := dist.NewValue(ctx, c, "counter", int64(0))
	if err != nil {
		return err
	}
	for range n {
		if _, err := v.Update(ctx, func(x int64) int64 { return x + 1 }); err != nil {
			return err
		}
	}
	return nil
}

// incrementLocked adds 1 to the Value "counter" n times with UpdateLocked,
// and counts f's runs in runs.
func incrementLocked(endpoint, ns string, n int, runs *shm.RawValue[atomic.Int64]) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	v, err := dist.NewValue(ctx, c, "counter", int64(0))
	if err != nil {
		return err
	}
	for range n {
		if _, err := v.UpdateLocked(ctx, func(x int64) int64 { runs.Ptr().Add(1); return x + 1 }); err != nil {
			return err
		}
	}
	return nil
}

// lockAndHold locks the Mutex "m", reports its fencing token, and holds the
// lock until killed.
func lockAndHold(endpoint, ns string, fence *shm.RawValue[atomic.Int64]) error {
	ctx, c, _, err := childClient(endpoint, ns) // it dies holding c
	if err != nil {
		return err
	}
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		return err
	}
	if err := m.Lock(ctx); err != nil {
		return err
	}
	fence.Ptr().Store(m.Fence())
	sleepForever()
	return nil
}

// lockOnce locks and unlocks the Mutex "m" and reports its fencing token.
func lockOnce(endpoint, ns string, fence *shm.RawValue[atomic.Int64]) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		return err
	}
	if err := m.Lock(ctx); err != nil {
		return err
	}
	fence.Ptr().Store(m.Fence())
	return m.Unlock(ctx)
}

// scores is the layout one program gives the Value "scores".
type scores struct {
	A int64
	B [4]float32
}

// openScoresAs32 opens "scores" with another layout than its maker's.
func openScoresAs32(endpoint, ns string) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	_, err = dist.NewValue(ctx, c, "scores", struct{ A int32 }{})
	return err
}

func init() {
	shm.Register(increment)
	shm.Register(incrementLocked)
	shm.Register(lockAndHold)
	shm.Register(lockOnce)
	shm.Register(openScoresAs32)
}

func load[T any](t *testing.T, c *dist.Client, name string) T {
	t.Helper()
	var zero T
	v, err := dist.NewValue(bounded(t), c, name, zero)
	if err != nil {
		t.Fatal(err)
	}
	x, err := v.Load(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestUpdateProcesses: 3 processes, each with its own connection, x 1,000
// compare-and-swap increments make exactly 3,000.
func TestUpdateProcesses(t *testing.T) {
	c := connect(t)
	const procs, n = 3, 1000
	runChildren(t, procs, increment, endpoint, namespace(t), n)
	if got := load[int64](t, c, "counter"); got != procs*n {
		t.Fatalf("counter = %d, want %d", got, procs*n)
	}
}

// TestUpdateLockedProcesses: UpdateLocked runs f exactly once per call.
func TestUpdateLockedProcesses(t *testing.T) {
	c := connect(t)
	const procs, n = 3, 100
	runs := newCounter(t)
	runChildren(t, procs, incrementLocked, endpoint, namespace(t), n, runs)
	if got := load[int64](t, c, "counter"); got != procs*n {
		t.Fatalf("counter = %d, want %d", got, procs*n)
	}
	if r := runs.Ptr().Load(); r != procs*n {
		t.Fatalf("f ran %d times for %d calls", r, procs*n)
	}
}

// mustBlock checks that m cannot be locked now: a Lock bounded by a short
// context ends with the context, not with the lock.
func mustBlock(t *testing.T, m *dist.Mutex) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := m.Lock(ctx); err != context.DeadlineExceeded {
		if err == nil || errors.Is(err, dist.ErrOwnerDead) {
			m.Unlock(context.Background())
		}
		t.Fatalf("Lock of a held Mutex = %v, want it to block", err)
	}
}

// TestMutexOwnerKilled: a process SIGKILLed holding the Mutex; the next
// locker gets ErrOwnerDead, with the lock, within the TTL and a second, and
// the fencing tokens of all holds strictly increase.
func TestMutexOwnerKilled(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		t.Fatal(err)
	}
	var fences []int64
	first := newCounter(t)
	join(t, start(t, lockOnce, endpoint, namespace(t), first))
	fences = append(fences, first.Ptr().Load())

	held := newCounter(t)
	p := start(t, lockAndHold, endpoint, namespace(t), held)
	await(t, "the child to hold the lock", func() bool { return held.Ptr().Load() != 0 })
	fences = append(fences, held.Ptr().Load())
	mustBlock(t, m)
	p.Kill()
	killed := time.Now()
	if err := p.Join(); err == nil {
		t.Fatal("a killed child joined without error")
	}
	err = m.Lock(ctx)
	took := time.Since(killed)
	if !errors.Is(err, dist.ErrOwnerDead) {
		t.Fatalf("Lock after the owner was killed = %v, want ErrOwnerDead", err)
	}
	if took > testTTL+time.Second {
		t.Fatalf("ErrOwnerDead came %v after the kill, more than the TTL (%v) and a second", took, testTTL)
	}
	t.Logf("ErrOwnerDead %v after the kill (TTL %v)", took.Round(time.Millisecond), testTTL)
	fences = append(fences, m.Fence())
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatalf("Lock of a recovered lock = %v", err)
	}
	fences = append(fences, m.Fence())
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Fence() != 0 {
		t.Fatalf("Fence after Unlock = %d", m.Fence())
	}
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Fatalf("fencing tokens %v do not strictly increase", fences)
		}
	}
}

// TestLayoutMismatch: a program that opens a name with another layout than
// its maker's gets an error that shows both.
func TestLayoutMismatch(t *testing.T) {
	c := connect(t)
	if _, err := dist.NewValue(bounded(t), c, "scores", scores{A: 1}); err != nil {
		t.Fatal(err)
	}
	err := start(t, openScoresAs32, endpoint, namespace(t)).Join()
	const want = `dist: "scores" holds struct {A int64; B [4]float32}, not struct {A int32}`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("the other program's error: %v\nwant it to contain %s", err, want)
	}
	// And the other way round, in this process, with errors.As.
	_, err = dist.NewValue(bounded(t), c, "scores", [2]int{})
	var le *dist.LayoutError
	if !errors.As(err, &le) || le.Have != "struct {A int64; B [4]float32}" || le.Want != "[2]int64" || !errors.Is(err, shm.ErrLayout) {
		t.Fatalf("NewValue with another layout: %v", err)
	}
	t.Log(err)
}

// rawClient is a plain etcd client of the test server, to look at the
// keys dist writes.
func rawClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var _ = fmt.Sprint
