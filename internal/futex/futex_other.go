//go:build !linux

package futex

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

var errUnsupported = fmt.Errorf("futex: not available on this system: %w", errors.ErrUnsupported)

// Wait has no futex to sleep on here. Shared memory is not available on this
// system, so a word can only be shared by the goroutines of one process: Wait
// naps briefly and returns, and callers re-check the word as they must anyway.
func Wait(addr *atomic.Uint32, val uint32, timeout time.Duration) error {
	if addr.Load() == val {
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

// Wake is not available on this system: it returns an error wrapping
// errors.ErrUnsupported. Waiters find the word changed on their own.
func Wake(addr *atomic.Uint32, n int) (int, error) { return 0, errUnsupported }

// Yield lets other goroutines run.
func Yield() { runtime.Gosched() }
