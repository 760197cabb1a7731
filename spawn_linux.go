package shm

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Children are started with a parent-death signal, SIGKILL, so that none
// outlives its parent. The kernel sends that signal when the *thread* that
// started the child exits, not only the process, and Go may end threads; so
// every child is started from one goroutine locked to a thread that never
// exits.
var (
	spawnOnce sync.Once
	spawnReqs chan func()
)

// selfExe is the file a child runs: the running program itself, found through
// the kernel's link to it, whatever has become of its path since it started.
// A deploy that replaces the file, `go build -o` over a running program or
// removing the file changes nothing: the child is the same program as its
// parent, which the protocol relies on. (os.Executable reads the same link on
// Linux, and returns the path it names, which may now be another file.)
const selfExe = "/proc/self/exe"

// executable returns the file a child runs.
func executable() (string, error) { return selfExe, nil }

func startCmd(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	spawnOnce.Do(func() {
		spawnReqs = make(chan func())
		go spawner()
	})
	done := make(chan error, 1)
	spawnReqs <- func() { done <- cmd.Start() }
	return <-done
}

func spawner() {
	runtime.LockOSThread() // never unlocked: the thread lives as long as the process
	for f := range spawnReqs {
		f()
	}
}

// watchParent checks that the parent that started this child is still its
// parent. The parent-death signal was set before the program started; if the
// parent died before that, the child has been handed to another process and
// must not run.
func watchParent(ppid int) error {
	if os.Getppid() != ppid {
		return fmt.Errorf("shm: parent %d is gone", ppid)
	}
	return nil
}
