package shm_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// start starts fn in a child and arranges for it to be killed and joined when
// the test ends, whatever happens.
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

// newFlag returns a shared flag for a child and its parent to signal through.
func newFlag(tb testing.TB) *shm.RawValue[atomic.Int32] {
	tb.Helper()
	f, err := shm.NewRawValue(atomic.Int32{})
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
		time.Sleep(100 * time.Microsecond)
	}
}

// sleepForever blocks a child until it is killed. It sleeps rather than
// blocks on nothing, which the runtime would report as a deadlock.
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

// holdUntil waits, in a child, until the flag is set. It sleeps between checks
// so that a child held this way costs nothing.
func holdUntil(f *shm.RawValue[atomic.Int32]) {
	for f.Ptr().Load() == 0 {
		time.Sleep(time.Millisecond)
	}
}
