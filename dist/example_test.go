package dist_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
)

// exampleSpaces counts the examples' namespaces.
var exampleSpaces atomic.Int64

// exampleClient connects to the etcd server that TestMain started (see
// Example_embedded for starting one), in a namespace of its own, so that
// each example starts with no objects.
func exampleClient() *dist.Client {
	c, err := dist.Connect(context.Background(), dist.Config{
		Endpoints: []string{endpoint},
		Namespace: "example" + strconv.FormatInt(exampleSpaces.Add(1), 10),
		TTL:       2 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func ExampleConnect() {
	ctx := context.Background()
	c, err := dist.Connect(ctx, dist.Config{
		Endpoints: []string{endpoint}, // such as "http://10.0.0.1:2379"
		Namespace: "demo",
		TTL:       5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected")
	// Output: connected
}

func ExampleConfig() {
	cfg := dist.Config{Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"}}
	fmt.Println(len(cfg.Endpoints), "endpoints; defaults:", dist.DefaultNamespace, dist.DefaultTTL, dist.DefaultDialTimeout)
	// Output: 3 endpoints; defaults: shm 10s 5s
}

func ExampleClient() {
	// Every process, on any machine, makes its own Client; objects of the
	// same name and namespace are shared. Here, two Clients of one process.
	ctx := context.Background()
	cfg := dist.Config{Endpoints: []string{endpoint}, Namespace: "example-client"}
	a, err := dist.Connect(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := dist.Connect(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	va, err := dist.NewValue(ctx, a, "x", 1)
	if err != nil {
		log.Fatal(err)
	}
	vb, err := dist.NewValue(ctx, b, "x", 1)
	if err != nil {
		log.Fatal(err)
	}
	va.Store(ctx, 2)
	fmt.Println(vb.Load(ctx))
	// Output: 2 <nil>
}

func ExampleClient_Close() {
	ctx := context.Background()
	c := exampleClient()
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Close()) // revokes the lease: the lock is released
	fmt.Println(m.Lock(ctx))
	// Output:
	// <nil>
	// dist: Mutex "m": Lock: dist: client closed
}

func ExampleNewValue() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	type score struct {
		Hits   int
		Misses int
	}
	s, err := dist.NewValue(ctx, c, "score", score{Hits: 1})
	if err != nil {
		log.Fatal(err)
	}
	// Another program making "score" opens it, and keeps its value.
	again, err := dist.NewValue(ctx, c, "score", score{})
	if err != nil {
		log.Fatal(err)
	}
	x, _ := again.Load(ctx)
	fmt.Println(s.Name(), x)
	// Output: score {1 0}
}

func ExampleValue() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	temp, err := dist.NewValue(ctx, c, "temp", 20.0)
	if err != nil {
		log.Fatal(err)
	}
	t, err := temp.Update(ctx, func(t float64) float64 { return t + 1.5 })
	fmt.Println(t, err)
	// Output: 21.5 <nil>
}

func ExampleValue_Load() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "v", [3]int8{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Load(ctx))
	// Output: [1 2 3] <nil>
}

func ExampleValue_Store() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "v", false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Store(ctx, true))
	fmt.Println(v.Load(ctx))
	// Output:
	// <nil>
	// true <nil>
}

func ExampleValue_Update() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	hits, err := dist.NewValue(ctx, c, "hits", int64(0))
	if err != nil {
		log.Fatal(err)
	}
	// f may run more than once: it only computes.
	for range 3 {
		if _, err := hits.Update(ctx, func(n int64) int64 { return n + 1 }); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(hits.Load(ctx))
	// Output: 3 <nil>
}

func ExampleValue_UpdateLocked() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	balance, err := dist.NewValue(ctx, c, "balance", 100)
	if err != nil {
		log.Fatal(err)
	}
	// f runs exactly once per call, so it may have a side effect.
	charged := 0
	b, err := balance.UpdateLocked(ctx, func(b int) int {
		charged++ // send the bill
		return b - 30
	})
	fmt.Println(b, err, charged)
	// Output: 70 <nil> 1
}

func ExampleValue_Mutex() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "config", [2]int{1, 2})
	if err != nil {
		log.Fatal(err)
	}
	m := v.Mutex() // keeps UpdateLocked calls out while it is held
	if err := m.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Fence() > 0)
	m.Unlock(ctx)
	// Output: true
}

func ExampleValue_Name() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "hits", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Name())
	// Output: hits
}

func ExampleNewArray() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	a, err := dist.NewArray[float64](ctx, c, "readings", 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Name(), a.Len())
	// Output: readings 3
}

func ExampleArray() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	votes, err := dist.NewArray[int](ctx, c, "votes", 3)
	if err != nil {
		log.Fatal(err)
	}
	for _, choice := range []int{0, 2, 2} {
		if _, err := votes.Update(ctx, choice, func(n int) int { return n + 1 }); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(votes.Snapshot(ctx))
	// Output: [1 0 2] <nil>
}

func ExampleArray_Len() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	a, err := dist.NewArray[int](ctx, c, "a", 8)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Len())
	// Output: 8
}

func ExampleArray_Load() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	a, err := dist.NewArray[int](ctx, c, "a", 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Load(ctx, 1)) // never written: zero
	// Output: 0 <nil>
}

func ExampleArray_Store() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	a, err := dist.NewArray[[2]byte](ctx, c, "a", 2)
	if err != nil {
		log.Fatal(err)
	}
	a.Store(ctx, 0, [2]byte{'o', 'k'})
	x, _ := a.Load(ctx, 0)
	fmt.Println(string(x[:]))
	// Output: ok
}

func ExampleArray_Update() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	a, err := dist.NewArray[uint8](ctx, c, "a", 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Update(ctx, 1, func(x uint8) uint8 { return x + 7 }))
	// Output: 7 <nil>
}

func ExampleArray_Snapshot() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	a, err := dist.NewArray[int16](ctx, c, "a", 3)
	if err != nil {
		log.Fatal(err)
	}
	a.Store(ctx, 2, -1)
	fmt.Println(a.Snapshot(ctx)) // all elements, read at one revision
	// Output: [0 0 -1] <nil>
}

func ExampleArray_Name() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	a, err := dist.NewArray[int](ctx, c, "grid", 4)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Name())
	// Output: grid
}

func ExampleNewMutex() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	m, err := dist.NewMutex(ctx, c, "printer")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name())
	// Output: printer
}

// exampleHoldLock locks the Mutex "m" in namespace ns, reports that it
// holds it, and holds it until killed.
func exampleHoldLock(endpoint, ns string, held *shm.RawValue[atomic.Bool]) error {
	c, err := dist.Connect(context.Background(), dist.Config{Endpoints: []string{endpoint}, Namespace: ns, TTL: 2 * time.Second})
	if err != nil {
		return err
	}
	m, err := dist.NewMutex(context.Background(), c, "m")
	if err != nil {
		return err
	}
	if err := m.Lock(context.Background()); err != nil {
		return err
	}
	held.Ptr().Store(true)
	sleepForever()
	return nil
}

func init() { shm.Register(exampleHoldLock) }

func ExampleMutex() {
	// A process, on any machine, locks "m" and is killed holding it.
	held, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleHoldLock, endpoint, "example-mutex", held)
	if err != nil {
		log.Fatal(err)
	}
	for !held.Ptr().Load() {
		time.Sleep(time.Millisecond)
	}
	p.Kill()
	p.Join()

	// When its lease expires (its TTL: 2 s), the next locker takes the lock.
	ctx := context.Background()
	c, err := dist.Connect(ctx, dist.Config{Endpoints: []string{endpoint}, Namespace: "example-mutex"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		log.Fatal(err)
	}
	err = m.Lock(ctx)
	fmt.Println(errors.Is(err, dist.ErrOwnerDead)) // with the lock held
	fmt.Println(m.Unlock(ctx))
	// Output:
	// true
	// <nil>
}

func ExampleMutex_Lock() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Lock(ctx); err != nil && !errors.Is(err, dist.ErrOwnerDead) {
		log.Fatal(err) // not locked
	}
	// ... the lock is held, whether err was nil or ErrOwnerDead ...
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	fmt.Println(m.Lock(short)) // held: waits until the context ends
	m.Unlock(ctx)
	// Output: context deadline exceeded
}

func ExampleMutex_Unlock() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	// ErrLockLost would say that the lease expired during the hold.
	fmt.Println(m.Unlock(ctx))
	// Output: <nil>
}

func ExampleMutex_Fence() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		log.Fatal(err)
	}
	var tokens []int64
	for range 2 {
		if err := m.Lock(ctx); err != nil {
			log.Fatal(err)
		}
		tokens = append(tokens, m.Fence()) // send it with every write made under the lock
		m.Unlock(ctx)
	}
	fmt.Println(tokens[1] > tokens[0], m.Fence())
	// Output: true 0
}

func ExampleMutex_Name() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	m, err := dist.NewMutex(ctx, c, "jobs")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name())
	// Output: jobs
}

func ExampleNewEvent() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	e, err := dist.NewEvent(ctx, c, "ready")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Name())
	fmt.Println(e.IsSet(ctx))
	// Output:
	// ready
	// false <nil>
}

func ExampleEvent() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	ready, err := dist.NewEvent(ctx, c, "ready")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- ready.Wait(ctx) }() // another process, on another machine
	ready.Set(ctx)
	fmt.Println(<-done)
	// Output: <nil>
}

func ExampleEvent_Set() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	e, err := dist.NewEvent(ctx, c, "e")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Set(ctx))
	fmt.Println(e.IsSet(ctx))
	// Output:
	// <nil>
	// true <nil>
}

func ExampleEvent_Clear() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	e, err := dist.NewEvent(ctx, c, "e")
	if err != nil {
		log.Fatal(err)
	}
	e.Set(ctx)
	fmt.Println(e.Clear(ctx))
	fmt.Println(e.IsSet(ctx))
	// Output:
	// <nil>
	// false <nil>
}

func ExampleEvent_IsSet() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	e, err := dist.NewEvent(ctx, c, "e")
	if err != nil {
		log.Fatal(err)
	}
	before, _ := e.IsSet(ctx)
	e.Set(ctx)
	after, _ := e.IsSet(ctx)
	fmt.Println(before, after)
	// Output: false true
}

func ExampleEvent_Wait() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	e, err := dist.NewEvent(ctx, c, "e")
	if err != nil {
		log.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	fmt.Println(e.Wait(short)) // nobody sets it
	e.Set(ctx)
	fmt.Println(e.Wait(ctx)) // set: returns at once
	// Output:
	// context deadline exceeded
	// <nil>
}

func ExampleEvent_Name() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	e, err := dist.NewEvent(ctx, c, "stop")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Name())
	// Output: stop
}

func ExampleNewBarrier() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	b, err := dist.NewBarrier(ctx, c, "start", 3)
	if err != nil {
		log.Fatal(err)
	}
	_, err = dist.NewBarrier(ctx, c, "start", 4) // another program disagrees
	fmt.Println(b.Name(), b.Parties())
	fmt.Println(err)
	// Output:
	// start 3
	// dist: NewBarrier("start", 4): the Barrier is for 3 parties
}

func ExampleBarrier() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	b, err := dist.NewBarrier(ctx, c, "phase", 2)
	if err != nil {
		log.Fatal(err)
	}
	other := make(chan error)
	go func() { // another process, on another machine
		_, err := b.Wait(ctx)
		other <- err
	}()
	_, err = b.Wait(ctx)
	fmt.Println(err, <-other)
	// Output: <nil> <nil>
}

func ExampleBarrier_Wait() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	b, err := dist.NewBarrier(ctx, c, "b", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Wait(ctx)) // the only party, so the last: order 0
	// Output: 0 <nil>
}

func ExampleBarrier_Abort() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	b, err := dist.NewBarrier(ctx, c, "b", 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Abort(ctx))
	fmt.Println(b.Wait(ctx))
	// Output:
	// <nil>
	// -1 shm: barrier is broken
}

func ExampleBarrier_Name() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	b, err := dist.NewBarrier(ctx, c, "round", 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Name())
	// Output: round
}

func ExampleBarrier_Parties() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	b, err := dist.NewBarrier(ctx, c, "round", 5)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Parties())
	// Output: 5
}

func ExampleTypeError() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	type reading struct {
		Temp  float64
		Label string
	}
	_, err := dist.NewValue(ctx, c, "r", reading{})
	fmt.Println(err)
	var e *dist.TypeError
	fmt.Println(errors.As(err, &e) && e.Field == "reading.Label", errors.Is(err, shm.ErrNotShareable))
	// Output:
	// dist: reading.Label: string cannot be stored (a string points to its bytes; use a fixed-size byte array)
	// true true
}

func ExampleLayoutError() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	type scoresV1 struct {
		A int64
		B [4]float32
	}
	if _, err := dist.NewValue(ctx, c, "scores", scoresV1{}); err != nil {
		log.Fatal(err)
	}
	// A program built with another version of the type:
	_, err := dist.NewValue(ctx, c, "scores", struct{ A int32 }{})
	fmt.Println(err)
	var e *dist.LayoutError
	fmt.Println(errors.As(err, &e) && e.Have == "struct {A int64; B [4]float32}", errors.Is(err, shm.ErrLayout))
	// Output:
	// dist: "scores" holds struct {A int64; B [4]float32}, not struct {A int32} (struct { A int32 })
	// true true
}

func ExampleErrOwnerDead() {
	// The same value as shm's: one check serves both backends.
	fmt.Println(dist.ErrOwnerDead == shm.ErrOwnerDead)
	// Output: true
}

func ExampleErrBrokenBarrier() {
	fmt.Println(dist.ErrBrokenBarrier == shm.ErrBrokenBarrier)
	// Output: true
}

func ExampleErrLockLost() {
	ctx := context.Background()
	c := exampleClient()
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "v", 1)
	if err != nil {
		log.Fatal(err)
	}
	_, err = v.UpdateLocked(ctx, func(x int) int { return x + 1 })
	if errors.Is(err, dist.ErrLockLost) {
		fmt.Println("paused past the TTL: nothing was written")
	}
	fmt.Println(err)
	// Output: <nil>
}

func ExampleErrClosed() {
	ctx := context.Background()
	c := exampleClient()
	c.Close()
	_, err := dist.NewBarrier(ctx, c, "b", 2)
	fmt.Println(err)
	fmt.Println(errors.Is(err, dist.ErrClosed))
	// Output:
	// dist: Barrier "b": NewBarrier: dist: client closed
	// true
}
