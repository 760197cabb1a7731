package pidfd

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/shmgo/shm/internal/unix"
)

// A Watch calls a function when a process exits.
type Watch struct {
	f     *os.File
	fired atomic.Bool
}

// Open returns a handle on process pid. It names the process that has that ID
// now: if the caller learned the ID earlier, it must check afterwards that the
// process is still the one it meant.
func Open(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	unix.CloseOnExec(fd)
	// Non-blocking, so the runtime's poller waits on it without a thread.
	return os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid)), nil
}

// Start calls exited, from a goroutine of its own, when the process that f
// names exits, unless Stop is called first.
func Start(f *os.File, exited func()) (*Watch, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &Watch{f: f}
	go func() {
		first := true
		err := rc.Read(func(uintptr) bool {
			// The first call only asks the poller to wait for readability.
			done := !first
			first = false
			return done
		})
		if err == nil {
			w.fired.Store(true)
			exited()
		}
	}()
	return w, nil
}

// Fired reports whether the process has exited and exited was called.
func (w *Watch) Fired() bool { return w.fired.Load() }

// Stop stops the watch. If the process has just exited, exited may still be
// running or about to run.
func (w *Watch) Stop() { w.f.Close() }
