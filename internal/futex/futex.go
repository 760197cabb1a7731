// Package futex waits on and wakes 32-bit words that may live in memory shared
// between processes. It uses the shared futex operations (FUTEX_WAIT and
// FUTEX_WAKE), never the _PRIVATE ones that the Go runtime uses: a private
// futex is keyed by the address in one process and cannot wake another.
package futex

import "errors"

// ErrTimeout is returned by Wait when the timeout passed before a wake-up.
var ErrTimeout = errors.New("futex: timed out")
