package shm

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
)

// Errors returned by shm. Errors caused by the system wrap the system's error,
// so errors.Is(err, syscall.EMFILE) works; on systems other than Linux every
// constructor and Start return an error wrapping [errors.ErrUnsupported].
var (
	// ErrOwnerDead is returned by [Mutex.LockContext] when the process that
	// held the lock died without unlocking it. The caller now holds the lock
	// and should check the data it guards: the dead process may have left it
	// half-updated.
	ErrOwnerDead = errors.New("shm: previous owner died holding the lock")

	// ErrNotShareable is the error wrapped by a [TypeError]: the type holds Go
	// pointers, which mean nothing in another process, or a type of package
	// sync, which locks or waits only within one process.
	ErrNotShareable = errors.New("shm: type cannot be shared between processes")

	// ErrNoMain is returned by [Start] when [Main] was not called first in main
	// (or TestMain). Without it a child would run the parent's whole program.
	ErrNoMain = errors.New("shm: Start needs shm.Main() as the first line of main (and of TestMain)")

	// ErrBrokenBarrier is returned by [Barrier.Wait] when the Barrier is
	// broken: aborted, left by a party whose context ended, or missing a
	// party that died after it arrived. A Barrier stays broken.
	ErrBrokenBarrier = errors.New("shm: barrier is broken")
)

// A TypeError reports a type that cannot be shared between processes, and
// where in it the offending part is.
type TypeError struct {
	Type  reflect.Type // the type given to shm
	Field string       // path from Type to the offending part, such as "reading.Names[0]"
	Bad   reflect.Type // the offending part's type, such as string

	// Reason completes the sentence that begins with Bad: why the part is
	// refused and what to use instead, such as "locks only within one
	// process; use shm.Mutex". When it is empty, Error says that Bad holds Go
	// pointers.
	Reason string
}

// Error names the offending field, its type, why it is refused and what to
// use instead.
func (e *TypeError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = pointerReason(e.Bad.Kind())
	}
	return fmt.Sprintf("shm: %s: %s %s", e.Field, e.Bad, reason)
}

// Unwrap returns [ErrNotShareable].
func (e *TypeError) Unwrap() error { return ErrNotShareable }

// pointerReason is a TypeError's reason against a part of kind k, which holds
// Go pointers.
func pointerReason(k reflect.Kind) string {
	const prefix = "cannot live in shared memory ("
	switch k {
	case reflect.String:
		return prefix + "a string points to its bytes; use a fixed-size byte array)"
	case reflect.Slice:
		return prefix + "a slice points to its elements; use a fixed-size array or a RawArray)"
	case reflect.Pointer, reflect.UnsafePointer:
		return prefix + "an address in one process means nothing in another)"
	}
	return prefix + "it holds Go pointers)"
}

// An ExitError reports a child process that did not finish cleanly: its target
// returned an error or panicked, or the child exited before its target
// returned (whatever its exit status) or was killed.
// The embedded [os.ProcessState] gives the exit code and, for a killed child,
// the signal.
type ExitError struct {
	*os.ProcessState
	Func    string // the target function, as registered
	Message string // the error the target returned, the panic value and the first lines of its stack, or how the child ended without a result
	Panic   bool   // reports whether the target panicked
}

// Error names the target and the child's PID, then says how the child ended:
// the error it returned, its panic, or its exit status or signal.
func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shm: %s (pid %d)", e.Func, e.Pid())
	switch {
	case e.Panic:
		b.WriteString(" panicked: ")
		b.WriteString(e.Message)
	case e.Message != "":
		b.WriteString(": ")
		b.WriteString(e.Message)
	default:
		b.WriteString(": ")
		b.WriteString(e.ProcessState.String())
	}
	return b.String()
}
