package shm_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
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

// stopProcess stops process pid (SIGSTOP), or lets it go on (SIGCONT).
func stopProcess(pid int, stop bool) error {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	return syscall.Kill(pid, sig)
}
