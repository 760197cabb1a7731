package dist_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
)

// start starts fn in a child and arranges for it to be killed and joined
// when the test ends, whatever happens.
func start(tb testing.TB, fn any, args ...any) *shm.Process {
	tb.Helper()
	p, err := shm.Start(fn, args...)
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		p.Kill()
		p.Join()
	})
	return p
}

// join joins p and fails the test on an error.
func join(tb testing.TB, p *shm.Process) {
	tb.Helper()
	if err := p.Join(); err != nil {
		tb.Fatalf("Join: %v", err)
	}
}

// runChildren starts procs children running fn(args...), all at once, and
// joins them, failing the test if one fails.
func runChildren(tb testing.TB, procs int, fn any, args ...any) {
	tb.Helper()
	ps := make([]*shm.Process, procs)
	for i := range ps {
		ps[i] = start(tb, fn, args...)
	}
	for _, p := range ps {
		join(tb, p)
	}
}

// newCounter returns a shared counter for a child and its parent to
// signal through.
func newCounter(tb testing.TB) *shm.RawValue[atomic.Int64] {
	tb.Helper()
	f, err := shm.NewRawValue(atomic.Int64{})
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// await waits until cond holds, failing the test if it does not within a
// minute: a bound for a broken test, not a stand-in for synchronisation.
func await(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// sleepForever blocks a child until it is killed. It sleeps rather than
// blocks on nothing, which the runtime could report as a deadlock.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// childClient is a child's own connection to the test server, as a process
// on another host would make, with a context that bounds the child's whole
// run (a minute); done closes the connection and ends the context.
func childClient(endpoint, ns string) (ctx context.Context, c *dist.Client, done func(), err error) {
	c, err = dist.Connect(context.Background(), dist.Config{Endpoints: []string{endpoint}, Namespace: ns, TTL: testTTL})
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	return ctx, c, func() { c.Close(); cancel() }, nil
}
