package shm_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// futexSyscall is the number of the futex system call on this machine, or 0
// where the tests do not know it.
var futexSyscall = map[string]int{"amd64": 202, "arm64": 98, "riscv64": 98, "loong64": 98}[runtime.GOARCH]

// asleepOn reports whether a thread of process pid is blocked in a futex wait
// on the word at addr, an address in that process: what /proc says the thread
// is doing, so a test can wait until a child really sleeps on a word, not
// merely until it is about to.
func asleepOn(tb testing.TB, pid int, addr uintptr) bool {
	tb.Helper()
	if futexSyscall == 0 {
		tb.Skipf("the futex system call's number on %s is not known to the tests", runtime.GOARCH)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false // exited
	}
	want := fmt.Sprintf("%d %#x ", futexSyscall, addr)
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, task.Name()))
		if err == nil && strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}

// stopProcess stops process pid (SIGSTOP) and waits until every thread of it
// has stopped, or lets it go on (SIGCONT). A stop takes effect only once one
// of pid's threads takes the signal and stops the others: until then, on a
// busy machine, a thread that is woken, or was running, may go on for
// milliseconds (and a waiter woken meanwhile return from its wait), so the
// caller must not rely on the stop before it is complete.
func stopProcess(pid int, stop bool) error {
	if !stop {
		return syscall.Kill(pid, syscall.SIGCONT)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Microsecond) {
		stopped, err := allStopped(pid)
		if err != nil || stopped {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d has not stopped within a minute of SIGSTOP", pid)
		}
	}
}

// allStopped reports whether every thread of process pid is stopped, as /proc
// says (state T).
func allStopped(pid int) (bool, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false, fmt.Errorf("process %d: %w", pid, err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false, nil // a thread that just exited: look again
		}
		// The state follows the command name, in parentheses that it may
		// itself contain.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		if f := strings.Fields(rest); len(f) == 0 || f[0] != "T" {
			return false, nil
		}
	}
	return true, nil
}
