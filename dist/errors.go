package dist

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/shmgo/shm"
)

// Errors returned by dist. [ErrOwnerDead] and [ErrBrokenBarrier] are shm's
// own values, so that errors.Is finds them whichever backend a worker runs
// on. Errors from the network or the etcd server are wrapped, with the
// operation and the object's name.
var (
	// ErrOwnerDead is returned by [Mutex.Lock] when the process that held
	// the lock lost its lease (it died, or stopped answering for the lease's
	// TTL) without unlocking. The caller now holds the lock.
	ErrOwnerDead = shm.ErrOwnerDead

	// ErrBrokenBarrier is returned by [Barrier.Wait] when the Barrier is
	// broken: aborted, left by a party whose context ended, or missing a
	// party whose lease expired after it arrived. A Barrier stays broken.
	ErrBrokenBarrier = shm.ErrBrokenBarrier

	// ErrLockLost is returned by [Mutex.Unlock] and [Value.UpdateLocked]
	// when the caller's hold on a Mutex ended without Unlock: its lease
	// expired (the process paused, or was cut off from the cluster, for
	// longer than the TTL) and another process took the lock since.
	// UpdateLocked wrote nothing under the lost hold.
	ErrLockLost = errors.New("dist: lock lost: the lease expired while it was held")

	// ErrClosed is returned by the operations of a closed [Client].
	ErrClosed = errors.New("dist: client closed")
)

// A TypeError reports a type that cannot be stored: a part of it means
// nothing on another machine.
type TypeError struct {
	Type   reflect.Type // the type given to dist
	Field  string       // path from Type to the offending part, such as "Reading.Names[0]"
	Bad    reflect.Type // the offending part's type, such as string
	Reason string       // completes the sentence that begins with Bad
}

// Error names the offending field, its type, and why it is refused.
func (e *TypeError) Error() string {
	return fmt.Sprintf("dist: %s: %s %s", e.Field, e.Bad, e.Reason)
}

// Unwrap returns [shm.ErrNotShareable].
func (e *TypeError) Unwrap() error { return shm.ErrNotShareable }

// A LayoutError reports a name that holds another layout than the type a
// program opens it with: two programs disagree about what it holds.
type LayoutError struct {
	Name string       // the object's name
	Type reflect.Type // the type asked for
	Want string       // the layout of Type
	Have string       // the layout stored under Name
}

// Error shows both layouts.
func (e *LayoutError) Error() string {
	return fmt.Sprintf("dist: %q holds %s, not %s (%s)", e.Name, e.Have, e.Want, e.Type)
}

// Unwrap returns [shm.ErrLayout].
func (e *LayoutError) Unwrap() error { return shm.ErrLayout }

// wrap returns ctx.Err() itself if err is ctx's end, and otherwise err
// wrapped with the object's kind and name and the operation; an error of a
// closed Client's connection is reported as [ErrClosed].
func (c *Client) wrap(ctx context.Context, err error, kind, name, op string) error {
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return cerr
	}
	if c.isClosed() && !errors.Is(err, ErrClosed) {
		err = ErrClosed
	}
	return fmt.Errorf("dist: %s %q: %s: %w", kind, name, op, err)
}
