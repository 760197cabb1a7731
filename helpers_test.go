package shm_test

import (
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/internal/unix"
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

// holdUntil waits, in a child, until the flag is set. It sleeps between checks
// so that a child held this way costs nothing.
func holdUntil(f *shm.RawValue[atomic.Int32]) {
	for f.Ptr().Load() == 0 {
		time.Sleep(time.Millisecond)
	}
}

// noChildren checks that this process has no child process at all, running or
// finished: a failed Start must start nothing.
func noChildren(tb testing.TB) {
	tb.Helper()
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
	if !errors.Is(err, syscall.ECHILD) {
		tb.Fatalf("a child process exists (wait4: pid %d, %v)", pid, err)
	}
}

// pinToCPU pins every thread of this process, and so the threads it makes
// later, to one CPU.
func pinToCPU(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return err
		}
	}
	return nil
}
