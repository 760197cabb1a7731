//go:build !linux

package pidfd

import (
	"errors"
	"fmt"
	"os"
)

var errUnsupported = fmt.Errorf("pidfd: not available on this system: %w", errors.ErrUnsupported)

// A Watch calls a function when a process exits.
type Watch struct{}

// Open is not available on this system.
func Open(pid int) (*os.File, error) { return nil, errUnsupported }

// Start is not available on this system.
func Start(f *os.File, exited func()) (*Watch, error) { return nil, errUnsupported }

// Stop does nothing.
func (w *Watch) Stop() {}

// Fired reports false.
func (w *Watch) Fired() bool { return false }
