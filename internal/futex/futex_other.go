//go:build !linux

package futex

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

var errUnsupported = fmt.Errorf("futex: not available on this system: %w", errors.ErrUnsupported)

// Wait is not available on this system: it returns an error wrapping errors.ErrUnsupported.
func Wait(addr *atomic.Uint32, val uint32, timeout time.Duration) error { return errUnsupported }

// Wake is not available on this system: it returns an error wrapping errors.ErrUnsupported.
func Wake(addr *atomic.Uint32, n int) (int, error) { return 0, errUnsupported }

// Yield lets other goroutines run.
func Yield() {}
