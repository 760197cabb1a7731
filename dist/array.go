package dist

import (
	"context"
	"errors"
)

var errNotImplemented = errors.New("dist: not implemented yet")

// An Array is a named fixed-length array of T, kept in etcd, that processes
// on any machines share: the across-machines form of [shm.Array]. Each
// element is a key of its own, so that updates of different elements do not
// contend. Its operations are linearizable, and [Array.Snapshot] reads all
// elements at one revision.
//
// An Array is safe for concurrent use. Make it with [NewArray].
type Array[T any] struct {
	c    *Client
	name string
	n    int
}

// NewArray returns the Array named name, of n elements of type T, making it
// with zero elements if it does not exist, or opening the existing one. It
// returns a [*TypeError] if T cannot be stored and a [*LayoutError] if the
// existing Array holds another layout or length.
func NewArray[T any](ctx context.Context, c *Client, name string, n int) (*Array[T], error) {
	return nil, errNotImplemented
}

// Len returns the number of elements.
func (a *Array[T]) Len() int { return a.n }

// Load returns element i. It panics if i is out of range.
func (a *Array[T]) Load(ctx context.Context, i int) (T, error) {
	var zero T
	return zero, errNotImplemented
}

// Store sets element i to x. It panics if i is out of range.
func (a *Array[T]) Store(ctx context.Context, i int, x T) error { return errNotImplemented }

// Update replaces element i with f(element), atomically, and returns the new
// element, as [Value.Update] does: f may run more than once.
func (a *Array[T]) Update(ctx context.Context, i int, f func(T) T) (new T, err error) {
	var zero T
	return zero, errNotImplemented
}

// Snapshot returns all elements, read at one revision.
func (a *Array[T]) Snapshot(ctx context.Context) ([]T, error) { return nil, errNotImplemented }
