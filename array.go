package shm

import (
	"fmt"
	"reflect"
	"unsafe"
)

// arrayHeader is the size of a RawArray's header; the elements follow it.
const arrayHeader = objectAlign

// A RawArray is a fixed-length array of T in shared memory, with no lock:
// Python's multiprocessing RawArray. A *RawArray[T] points straight into the
// shared mapping. T may be any type that holds no Go pointers (see [RawValue]).
// An index out of range panics, as it does for a Go slice.
type RawArray[T any] struct {
	_ noCopy
	n int64 // the length, set before the array is shared and never changed
}

// NewRawArray returns a new RawArray of n zero elements. An array too large for
// the segments of the heap gets a segment of its own; its pages cost memory
// only once written. With [In], the RawArray is placed in a named segment.
//
// An array larger than this machine's memory and swap, or than the memory
// cgroup of this process allows, is refused with an error that gives the
// limit. One that is smaller can still fail later, when written: its pages
// come from shared memory (as tmpfs's do) and are allocated on first write,
// and if the memory is not there then, the process that writes is killed by
// the OOM killer, or by a SIGBUS.
func NewRawArray[T any](n int, opts ...Option) (*RawArray[T], error) {
	if len(opts) > 0 {
		return newRawArrayIn[T]("NewRawArray", n, nil, opts)
	}
	return newRawArray[T]("NewRawArray", n)
}

// newRawArray is NewRawArray for the constructor named ctor, which errors name.
func newRawArray[T any](ctor string, n int) (*RawArray[T], error) {
	if err := infoOf[T]().err; err != nil {
		return nil, err
	}
	size, err := arraySize[T](n)
	if err != nil {
		return nil, err
	}
	// The limit is on the elements' bytes, as the caller counts them.
	if l := theMemLimit(); l.refuses(size - arrayHeader) {
		return nil, l.error(fmt.Sprintf("%s[%s](%d)", ctor, reflect.TypeFor[T](), n), size-arrayHeader)
	}
	p, err := theHeap.alloc(size)
	if err != nil {
		return nil, err
	}
	a := as[RawArray[T]](p)
	a.n = int64(n)
	return a, nil
}

// NewRawArrayFrom returns a new RawArray holding a copy of xs.
func NewRawArrayFrom[T any](xs []T, opts ...Option) (*RawArray[T], error) {
	if len(opts) > 0 {
		return newRawArrayIn("NewRawArrayFrom", len(xs), xs, opts)
	}
	return newRawArrayFrom("NewRawArrayFrom", xs)
}

func newRawArrayFrom[T any](ctor string, xs []T) (*RawArray[T], error) {
	a, err := newRawArray[T](ctor, len(xs))
	if err != nil {
		return nil, err
	}
	copy(a.Slice(), xs)
	return a, nil
}

func arraySize[T any](n int) (uintptr, error) {
	elem := unsafe.Sizeof(*new(T))
	if n < 0 {
		return 0, fmt.Errorf("shm: array length %d is negative", n)
	}
	if elem != 0 && uintptr(n) > (maxObject-arrayHeader)/elem {
		return 0, fmt.Errorf("shm: array of %d %s (%d bytes each) is too large", n, reflect.TypeFor[T](), elem)
	}
	return arrayHeader + uintptr(n)*elem, nil
}

// Len returns the number of elements.
func (a *RawArray[T]) Len() int { return int(a.n) }

// Load returns element i, with no lock.
func (a *RawArray[T]) Load(i int) T { return arrayData(a)[i] }

// Store sets element i, with no lock.
func (a *RawArray[T]) Store(i int, x T) { arrayData(a)[i] = x }

// Slice returns the elements themselves: writes to the slice are writes to the
// shared memory. The memory stays mapped for the life of the process, so the
// slice stays valid. Do not append to it.
func (a *RawArray[T]) Slice() []T { return arrayData(a) }

// An Array is a fixed-length array of T in shared memory guarded by a [Mutex]:
// Python's multiprocessing Array. Each method holds the lock while it runs.
// Make an Array with [NewArray] or [NewArrayFrom]: a zero Array has no shared
// memory behind it, and its methods panic.
type Array[T any] struct {
	mu  *Mutex
	raw *RawArray[T]
}

// NewArray returns a new Array of n zero elements with its own lock, or the
// lock given [WithLock]. Like [NewRawArray], it refuses an array larger than
// this machine or this process's memory cgroup could ever hold.
func NewArray[T any](n int, opts ...Option) (*Array[T], error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.in != nil {
		return newNamedArray[T](o, n, nil)
	}
	raw, err := newRawArray[T]("NewArray", n)
	if err != nil {
		return nil, err
	}
	return withArrayLock(raw, o)
}

// NewArrayFrom returns a new Array holding a copy of xs.
func NewArrayFrom[T any](xs []T, opts ...Option) (*Array[T], error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.in != nil {
		return newNamedArray(o, len(xs), xs)
	}
	raw, err := newRawArrayFrom("NewArrayFrom", xs)
	if err != nil {
		return nil, err
	}
	return withArrayLock(raw, o)
}

func withArrayLock[T any](raw *RawArray[T], o options) (*Array[T], error) {
	mu := o.lock
	if mu == nil {
		var err error
		if mu, err = NewMutex(); err != nil {
			return nil, err
		}
	}
	return &Array[T]{mu: mu, raw: raw}, nil
}

// Len returns the number of elements.
func (a *Array[T]) Len() int {
	if a.mu == nil {
		zeroArray("Array.Len")
	}
	return int(a.raw.n)
}

// Load returns element i, read under the lock.
func (a *Array[T]) Load(i int) T {
	if a.mu == nil {
		zeroArray("Array.Load")
	}
	s := a.raw.Slice()
	_ = s[i] // panic on a bad index before locking
	a.mu.Lock()
	x := s[i]
	a.mu.Unlock()
	return x
}

// Store sets element i under the lock.
func (a *Array[T]) Store(i int, x T) {
	if a.mu == nil {
		zeroArray("Array.Store")
	}
	s := a.raw.Slice()
	_ = s[i]
	a.mu.Lock()
	s[i] = x
	a.mu.Unlock()
}

// Update replaces element i with f(element) under the lock, and returns the
// new element. f runs with the lock held; if f panics, Update unlocks and the
// panic goes on, with the element as it was (see [Value.Update]).
func (a *Array[T]) Update(i int, f func(T) T) (new T) {
	if a.mu == nil {
		zeroArray("Array.Update")
	}
	s := a.raw.Slice()
	p := &s[i] // panic on a bad index before locking
	a.mu.Lock()
	defer a.mu.Unlock()
	x := f(*p)
	*p = x
	return x
}

// Snapshot returns a copy of the elements, taken under the lock.
func (a *Array[T]) Snapshot() []T {
	if a.mu == nil {
		zeroArray("Array.Snapshot")
	}
	s := a.raw.Slice()
	out := make([]T, len(s))
	a.mu.Lock()
	copy(out, s)
	a.mu.Unlock()
	return out
}

// Mutex returns the lock that guards the array: Python's get_lock().
func (a *Array[T]) Mutex() *Mutex {
	if a.mu == nil {
		zeroArray("Array.Mutex")
	}
	return a.mu
}

// Raw returns the array without its lock: Python's get_obj().
func (a *Array[T]) Raw() *RawArray[T] {
	if a.mu == nil {
		zeroArray("Array.Raw")
	}
	return a.raw
}

// zeroArray panics for a method called on an Array that NewArray did not
// make, as zeroValue does for a Value.
//
//go:noinline
func zeroArray(method string) {
	panic("shm: " + method + ": a zero Array: make it with NewArray")
}
