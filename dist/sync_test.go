package dist_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// waitForEvent reports that it is about to wait for the Event "go", waits,
// and reports that it woke.
func waitForEvent(endpoint, ns string, state *shm.RawValue[atomic.Int64]) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	e, err := dist.NewEvent(ctx, c, "go")
	if err != nil {
		return err
	}
	state.Ptr().Store(1)
	if err := e.Wait(ctx); err != nil {
		return err
	}
	state.Ptr().Store(2)
	return nil
}

// meet waits at the Barrier "b" of n parties for rounds rounds, and
// records its order in each round at orders[round*n+id].
func meet(endpoint, ns string, n, id, rounds int, orders *shm.RawArray[int64]) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	b, err := dist.NewBarrier(ctx, c, "b", n)
	if err != nil {
		return err
	}
	for r := range rounds {
		i, err := b.Wait(ctx)
		if err != nil {
			return err
		}
		orders.Store(r*n+id, int64(i))
	}
	return nil
}

// arriveAndDie waits at the Barrier "b" of n parties, until killed.
func arriveAndDie(endpoint, ns string, n int) error {
	ctx, c, _, err := childClient(endpoint, ns) // it dies holding c
	if err != nil {
		return err
	}
	b, err := dist.NewBarrier(ctx, c, "b", n)
	if err != nil {
		return err
	}
	_, err = b.Wait(ctx)
	return err
}

func init() {
	shm.Register(waitForEvent)
	shm.Register(meet)
	shm.Register(arriveAndDie)
}

func TestEvent(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	e, err := dist.NewEvent(ctx, c, "e")
	if err != nil {
		t.Fatal(err)
	}
	if set, err := e.IsSet(ctx); set || err != nil {
		t.Fatalf("a new Event: IsSet = %v, %v", set, err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := e.Wait(short); err != context.DeadlineExceeded {
		t.Fatalf("Wait of a clear Event = %v, want it to block", err)
	}
	if err := e.Set(ctx); err != nil {
		t.Fatal(err)
	}
	if set, err := e.IsSet(ctx); !set || err != nil {
		t.Fatalf("after Set: IsSet = %v, %v", set, err)
	}
	if err := e.Wait(ctx); err != nil {
		t.Fatalf("Wait of a set Event = %v", err)
	}
	if err := e.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if set, err := e.IsSet(ctx); set || err != nil {
		t.Fatalf("after Clear: IsSet = %v, %v", set, err)
	}
}

// TestEventProcesses: a Set wakes a waiter in another process.
func TestEventProcesses(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	e, err := dist.NewEvent(ctx, c, "go")
	if err != nil {
		t.Fatal(err)
	}
	state := newCounter(t)
	p := start(t, waitForEvent, endpoint, namespace(t), state)
	await(t, "the child to wait", func() bool { return state.Ptr().Load() == 1 })
	if err := e.Set(ctx); err != nil {
		t.Fatal(err)
	}
	join(t, p)
	if state.Ptr().Load() != 2 {
		t.Fatal("the child returned without waking")
	}
}

// TestEventDeadWaiter: a waiter killed while it waits blocks no one: Set
// returns, and a live waiter wakes.
func TestEventDeadWaiter(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	e, err := dist.NewEvent(ctx, c, "go")
	if err != nil {
		t.Fatal(err)
	}
	state := newCounter(t)
	p := start(t, waitForEvent, endpoint, namespace(t), state)
	await(t, "the child to wait", func() bool { return state.Ptr().Load() == 1 })
	live := make(chan error, 1)
	go func() { live <- e.Wait(ctx) }()
	p.Kill()
	p.Join()
	if err := e.Set(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-live; err != nil {
		t.Fatalf("the live waiter: %v", err)
	}
}

// TestBarrierProcesses: 3 processes meet 5 times; in each round their
// orders are 0, 1 and 2.
func TestBarrierProcesses(t *testing.T) {
	const n, rounds = 3, 5
	orders, err := shm.NewRawArray[int64](n * rounds)
	if err != nil {
		t.Fatal(err)
	}
	var ps []*shm.Process
	for id := range n {
		ps = append(ps, start(t, meet, endpoint, namespace(t), n, id, rounds, orders))
	}
	for _, p := range ps {
		join(t, p)
	}
	for r := range rounds {
		got := slices.Clone(orders.Slice()[r*n : (r+1)*n])
		slices.Sort(got)
		if !slices.Equal(got, []int64{0, 1, 2}) {
			t.Fatalf("round %d: orders %v", r, orders.Slice()[r*n:(r+1)*n])
		}
	}
}

// countArrivals returns the number of parties waiting at the Barrier
// "b" in its first round, read from etcd: the keys are the protocol's, in
// the essay at the top of barrier.go.
func countArrivals(t *testing.T, cli *clientv3.Client) int64 {
	resp, err := cli.Get(bounded(t), namespace(t)+"/b/b/r0/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

// TestBarrierDeadParty: a party killed while it waits breaks the Barrier
// for the others when its lease expires: they get ErrBrokenBarrier, and do
// not hang.
func TestBarrierDeadParty(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	b, err := dist.NewBarrier(ctx, c, "b", 3)
	if err != nil {
		t.Fatal(err)
	}
	ours := make(chan error, 1)
	go func() {
		_, err := b.Wait(ctx)
		ours <- err
	}()
	cli := rawClient(t)
	await(t, "this process to arrive", func() bool { return countArrivals(t, cli) == 1 })
	p := start(t, arriveAndDie, endpoint, namespace(t), 3)
	await(t, "the child to arrive", func() bool { return countArrivals(t, cli) == 2 })
	p.Kill()
	p.Join()
	if err := <-ours; !errors.Is(err, dist.ErrBrokenBarrier) {
		t.Fatalf("Wait with a dead party = %v, want ErrBrokenBarrier", err)
	}
	if _, err := b.Wait(ctx); !errors.Is(err, dist.ErrBrokenBarrier) {
		t.Fatalf("Wait of a broken Barrier = %v, want ErrBrokenBarrier", err)
	}
}

// TestBarrierContext: a party whose context ends breaks the Barrier for
// the others; Abort breaks it too.
func TestBarrierContext(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	b, err := dist.NewBarrier(ctx, c, "b", 3)
	if err != nil {
		t.Fatal(err)
	}
	ours := make(chan error, 1)
	go func() {
		_, err := b.Wait(ctx)
		ours <- err
	}()
	cli := rawClient(t)
	await(t, "the first party to arrive", func() bool { return countArrivals(t, cli) == 1 })
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(short); err != context.DeadlineExceeded {
		t.Fatalf("Wait until the context ends = %v", err)
	}
	if err := <-ours; !errors.Is(err, dist.ErrBrokenBarrier) {
		t.Fatalf("the other party: %v, want ErrBrokenBarrier", err)
	}

	b2, err := dist.NewBarrier(ctx, c, "b2", 2)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := b2.Wait(ctx)
		ours <- err
	}()
	if err := b2.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-ours; !errors.Is(err, dist.ErrBrokenBarrier) {
		t.Fatalf("Wait at an aborted Barrier = %v, want ErrBrokenBarrier", err)
	}
}

func TestBarrierOpen(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	if _, err := dist.NewBarrier(ctx, c, "b", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := dist.NewBarrier(ctx, c, "b", 3); err == nil {
		t.Fatal("NewBarrier for 3 of a Barrier for 2 succeeded")
	} else {
		t.Log(err)
	}
	if _, err := dist.NewBarrier(ctx, c, "b", 0); err == nil {
		t.Fatal("NewBarrier for 0 parties succeeded")
	}
	one, err := dist.NewBarrier(ctx, c, "one", 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if i, err := one.Wait(ctx); i != 0 || err != nil {
			t.Fatalf("Wait of a Barrier for 1 = %d, %v", i, err)
		}
	}
}
