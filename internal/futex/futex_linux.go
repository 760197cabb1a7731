package futex

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmgo/shm/internal/unix"
)

const (
	opWait = 0 // FUTEX_WAIT: keyed by the page and offset, so it works across processes
	opWake = 1 // FUTEX_WAKE
)

// Wait sleeps while *addr == val, for at most timeout (no limit when timeout <= 0).
// It returns nil when woken, when *addr != val on entry, on a signal and on a
// spurious wake-up: callers must re-check the word in a loop. It returns
// ErrTimeout when the timeout passed.
func Wait(addr *atomic.Uint32, val uint32, timeout time.Duration) error {
	var ts *unix.Timespec
	if timeout > 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	_, e := unix.Futex(unsafe.Pointer(addr), opWait, val, ts)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR:
		return nil
	case unix.ETIMEDOUT:
		return ErrTimeout
	}
	return fmt.Errorf("futex: wait: %w", e)
}

// Wake wakes at most n processes or threads sleeping in Wait on addr and
// reports how many it woke.
func Wake(addr *atomic.Uint32, n int) (int, error) {
	r, e := unix.Futex(unsafe.Pointer(addr), opWake, uint32(n), nil)
	if e != 0 {
		return 0, fmt.Errorf("futex: wake: %w", e)
	}
	return r, nil
}

// Yield gives the processor to any other runnable thread on the machine, of
// this process or another. runtime.Gosched only yields to goroutines of this
// process, so a spinning waiter must use Yield to let a lock holder on the same
// core run.
func Yield() { unix.SchedYield() }
