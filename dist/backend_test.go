package dist_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
)

// work is a worker written once: n increments of a counter with Update,
// and n more of a second counter read and written under a lock.
func work(ctx context.Context, u, guarded dist.Updater[int64], l dist.Locker, n int) error {
	for range n {
		if _, err := u.Update(ctx, func(x int64) int64 { return x + 1 }); err != nil {
			return err
		}
		if err := l.Lock(ctx); err != nil && !errors.Is(err, dist.ErrOwnerDead) {
			return err
		}
		x, err := guarded.Load(ctx)
		if err == nil {
			err = guarded.Store(ctx, x+1)
		}
		if uerr := l.Unlock(ctx); err == nil {
			err = uerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// workLocal runs work on shm objects: processes of one machine.
func workLocal(u, guarded *shm.Value[int64], m *shm.Mutex, n int) error {
	return work(context.Background(), dist.Local(u), dist.Local(guarded), dist.LocalMutex(m), n)
}

// workDist runs work on dist objects: processes of any machines.
func workDist(endpoint, ns string, n int) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	u, err := dist.NewValue(ctx, c, "u", int64(0))
	if err != nil {
		return err
	}
	guarded, err := dist.NewValue(ctx, c, "guarded", int64(0))
	if err != nil {
		return err
	}
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		return err
	}
	return work(ctx, u, guarded, m, n)
}

func init() {
	shm.Register(workLocal)
	shm.Register(workDist)
}

// TestOneWorkerTwoBackends runs the same worker in 2 processes on shm
// objects, then in 2 processes on dist objects: the totals are exact on both.
func TestOneWorkerTwoBackends(t *testing.T) {
	const procs, n = 2, 100
	u, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	guarded, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := shm.NewMutex()
	if err != nil {
		t.Fatal(err)
	}
	runChildren(t, procs, workLocal, u, guarded, m, n)
	if u.Load() != procs*n || guarded.Load() != procs*n {
		t.Fatalf("local: %d and %d, want %d", u.Load(), guarded.Load(), procs*n)
	}

	runChildren(t, procs, workDist, endpoint, namespace(t), n)
	c := connect(t)
	if a, b := load[int64](t, c, "u"), load[int64](t, c, "guarded"); a != procs*n || b != procs*n {
		t.Fatalf("dist: %d and %d, want %d", a, b, procs*n)
	}
}

// TestLocalAdapters checks the adapters of the other local objects.
func TestLocalAdapters(t *testing.T) {
	ctx := bounded(t)
	a, err := shm.NewArray[int32](3)
	if err != nil {
		t.Fatal(err)
	}
	var au dist.ArrayUpdater[int32] = dist.LocalArray(a)
	au.Store(ctx, 1, 5)
	if x, _ := au.Update(ctx, 1, func(x int32) int32 { return x * 2 }); x != 10 {
		t.Fatalf("Update = %d", x)
	}
	if s, _ := au.Snapshot(ctx); au.Len() != 3 || s[1] != 10 {
		t.Fatalf("Len %d, Snapshot %v", au.Len(), s)
	}
	e, err := shm.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	f := dist.LocalEvent(e)
	f.Set(ctx)
	if set, _ := f.IsSet(ctx); !set || f.Wait(ctx) != nil {
		t.Fatal("a set local Event")
	}
	f.Clear(ctx)
	if set, _ := f.IsSet(ctx); set {
		t.Fatal("a cleared local Event is set")
	}
	b, err := shm.NewBarrier(2)
	if err != nil {
		t.Fatal(err)
	}
	p := dist.LocalBarrier(b)
	p.Abort(ctx)
	if _, err := p.Wait(ctx); !errors.Is(err, dist.ErrBrokenBarrier) {
		t.Fatalf("Wait of an aborted local Barrier = %v", err)
	}
}
