package shm_test

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/shmgo/shm/internal/unix"
)

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

// umask sets this process's file mode creation mask and returns the old one.
func umask(mask int) int { return syscall.Umask(mask) }
