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
	// pointers, which mean nothing in another process.
	ErrNotShareable = errors.New("shm: type holds Go pointers")

	// ErrNoMain is returned by [Start] when [Main] was not called first in main
	// (or TestMain). Without it a child would run the parent's whole program.
	ErrNoMain = errors.New("shm: Start needs shm.Main() as the first line of main (and of TestMain)")

	// ErrBrokenBarrier is returned by [Barrier.Wait] when the Barrier is
	// broken: aborted, left by a party whose context ended, or missing a
	// party that died after it arrived. A Barrier stays broken.
	ErrBrokenBarrier = errors.New("shm: barrier is broken")
)

// A TypeError reports a type that cannot live in shared memory, and where in it
// the offending part is.
type TypeError struct {
	Type  reflect.Type // the type given to shm
	Field string       // path from Type to the offending part, such as "reading.Names[0]"
	Bad   reflect.Type // the offending part's type, such as string
}

// Error names the offending field, its type and why it is refused.
func (e *TypeError) Error() string {
	return fmt.Sprintf("shm: %s: %s cannot live in shared memory (%s)", e.Field, e.Bad, pointerReason(e.Bad.Kind()))
}

// Unwrap returns [ErrNotShareable].
func (e *TypeError) Unwrap() error { return ErrNotShareable }

func pointerReason(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string points to its bytes; use a fixed-size byte array"
	case reflect.Slice:
		return "a slice points to its elements; use a fixed-size array or a RawArray"
	case reflect.Map, reflect.Chan, reflect.Func, reflect.Interface:
		return "it holds Go pointers"
	case reflect.Pointer, reflect.UnsafePointer:
		return "an address in one process means nothing in another"
	}
	return "it holds Go pointers"
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
