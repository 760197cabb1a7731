package dist_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
)

// exampleCount is a worker written once, for any backend.
func exampleCount(ctx context.Context, hits dist.Updater[int64], n int) error {
	for range n {
		if _, err := hits.Update(ctx, func(x int64) int64 { return x + 1 }); err != nil {
			return err
		}
	}
	return nil
}

func ExampleUpdater() {
	ctx := context.Background()

	// On one machine: shm.
	local, err := shm.NewValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	if err := exampleCount(ctx, dist.Local(local), 3); err != nil {
		log.Fatal(err)
	}

	// On many: dist.
	c := exampleClient()
	defer c.Close()
	remote, err := dist.NewValue(ctx, c, "hits", int64(0))
	if err != nil {
		log.Fatal(err)
	}
	if err := exampleCount(ctx, remote, 3); err != nil {
		log.Fatal(err)
	}

	r, _ := remote.Load(ctx)
	fmt.Println(local.Load(), r)
	// Output: 3 3
}

func ExampleLocal() {
	v, err := shm.NewValue(1.5)
	if err != nil {
		log.Fatal(err)
	}
	var u dist.Updater[float64] = dist.Local(v)
	fmt.Println(u.Update(context.Background(), func(x float64) float64 { return x * 2 }))
	// Output: 3 <nil>
}

// exampleTally counts votes in any backend's array.
func exampleTally(ctx context.Context, votes dist.ArrayUpdater[int32], choices []int) ([]int32, error) {
	for _, c := range choices {
		if _, err := votes.Update(ctx, c, func(n int32) int32 { return n + 1 }); err != nil {
			return nil, err
		}
	}
	return votes.Snapshot(ctx)
}

func ExampleArrayUpdater() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	remote, err := dist.NewArray[int32](ctx, c, "votes", 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(exampleTally(ctx, remote, []int{1, 1, 2}))
	// Output: [0 2 1] <nil>
}

func ExampleLocalArray() {
	a, err := shm.NewArray[int32](3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(exampleTally(context.Background(), dist.LocalArray(a), []int{0, 2, 2}))
	// Output: [1 0 2] <nil>
}

// exampleCritical runs f under any backend's lock.
func exampleCritical(ctx context.Context, l dist.Locker, f func()) error {
	if err := l.Lock(ctx); err != nil && !errors.Is(err, dist.ErrOwnerDead) {
		return err
	}
	f()
	return l.Unlock(ctx)
}

func ExampleLocker() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(exampleCritical(ctx, m, func() { fmt.Println("alone, on any machine") }))
	// Output:
	// alone, on any machine
	// <nil>
}

func ExampleLocalMutex() {
	m, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(exampleCritical(context.Background(), dist.LocalMutex(m), func() { fmt.Println("alone, on this machine") }))
	// Output:
	// alone, on this machine
	// <nil>
}

// exampleStartWhenReady waits for any backend's flag.
func exampleStartWhenReady(ctx context.Context, ready dist.Flag) error {
	if err := ready.Wait(ctx); err != nil {
		return err
	}
	fmt.Println("started")
	return nil
}

func ExampleFlag() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	e, err := dist.NewEvent(ctx, c, "ready")
	if err != nil {
		log.Fatal(err)
	}
	e.Set(ctx)
	fmt.Println(exampleStartWhenReady(ctx, e))
	// Output:
	// started
	// <nil>
}

func ExampleLocalEvent() {
	e, err := shm.NewEvent()
	if err != nil {
		log.Fatal(err)
	}
	f := dist.LocalEvent(e)
	ctx := context.Background()
	f.Set(ctx)
	fmt.Println(exampleStartWhenReady(ctx, f))
	// Output:
	// started
	// <nil>
}

// examplePhase waits for the other parties at any backend's barrier.
func examplePhase(ctx context.Context, p dist.Party) error {
	_, err := p.Wait(ctx)
	return err
}

func ExampleParty() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	b, err := dist.NewBarrier(ctx, c, "phase", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(examplePhase(ctx, b))
	// Output: <nil>
}

func ExampleLocalBarrier() {
	b, err := shm.NewBarrier(1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(examplePhase(context.Background(), dist.LocalBarrier(b)))
	// Output: <nil>
}
