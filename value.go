package shm

import (
	"errors"
	"unsafe"
)

// A RawValue is a value of type T in shared memory, with no lock: Python's
// multiprocessing RawValue. A *RawValue[T] points straight into the shared
// mapping, so Load and Store are plain memory accesses, as fast as any Go
// variable; like a Go variable, it is not safe for use by several processes or
// goroutines at once unless T is itself safe, such as the [sync/atomic] types:
//
//	c, _ := shm.NewRawValue(atomic.Int64{})
//	c.Ptr().Add(1) // a lock-free shared counter
//
// T may be any type that holds no Go pointers: booleans, numbers, arrays and
// structs of them, the sync/atomic types and [Mutex]; not the types of package
// sync, which lock and wait only within one process. A RawValue must not be
// copied; pass the pointer, including to [Start].
type RawValue[T any] struct {
	_ noCopy
	v T
}

// NewRawValue returns a new RawValue in shared memory holding init. It returns
// a [*TypeError] if T holds Go pointers or a sync type. With [In], the
// RawValue is placed in a named segment.
func NewRawValue[T any](init T, opts ...Option) (*RawValue[T], error) {
	if err := infoOf[T]().err; err != nil {
		return nil, err
	}
	if len(opts) > 0 {
		return newRawValueIn(init, opts)
	}
	p, err := theHeap.alloc(unsafe.Sizeof(RawValue[T]{}))
	if err != nil {
		return nil, err
	}
	v := as[RawValue[T]](p)
	v.v = init
	return v, nil
}

// Load returns the value, with no lock.
func (v *RawValue[T]) Load() T { return v.v }

// Store sets the value, with no lock.
func (v *RawValue[T]) Store(x T) { v.v = x }

// Ptr returns a pointer to the value in shared memory. The memory stays mapped
// for the life of the process, so the pointer stays valid; writes through it
// are seen by every process that shares the value.
func (v *RawValue[T]) Ptr() *T { return &v.v }

// A Value is a value of type T in shared memory guarded by a [Mutex]: Python's
// multiprocessing Value. Load, Store and Update each hold the lock, so an
// Update is an atomic read-modify-write across processes, which Python's
// `v.value += 1` is not.
//
// The lock is the Value's own unless the Value was made [WithLock]; it is not
// reentrant, so while holding [Value.Mutex] use [Value.Raw], not Load or
// Store. A Value is a small handle; copies of the pointer, in any process,
// share the same memory. Make a Value with [NewValue]: a zero Value has no
// shared memory behind it, and its methods panic.
type Value[T any] struct {
	mu  *Mutex
	raw *RawValue[T]
}

// lockedValue is the shared layout of a Value that has its own lock: the lock
// next to the value, in one cache line when T is small.
type lockedValue[T any] struct {
	mu Mutex
	v  RawValue[T]
}

// An Option changes how a shared object is made: [WithLock], [In].
type Option func(*options)

type options struct {
	lock    *Mutex
	lockSet bool
	in      *inOption // see In
}

// WithLock makes a Value or an Array use m as its lock instead of a lock of its
// own, so that several objects can be updated under one lock: Python's lock=
// argument. m must be in shared memory, from [NewMutex] or inside another
// shared object.
func WithLock(m *Mutex) Option {
	return func(o *options) { o.lock, o.lockSet = m, true }
}

var errNilLock = errors.New("shm: WithLock(nil): the lock must be a *Mutex in shared memory")

func makeOptions(opts []Option) (options, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.lockSet {
		if o.lock == nil {
			return o, errNilLock
		}
		if _, _, ok := theHeap.find(addr(o.lock), unsafe.Sizeof(Mutex{})); !ok {
			return o, errors.New("shm: WithLock: the Mutex is not in shared memory; make it with NewMutex")
		}
	}
	return o, nil
}

// NewValue returns a new Value in shared memory holding init. It returns a
// [*TypeError] if T holds Go pointers or a sync type. With [In], the Value is
// placed in a named segment.
func NewValue[T any](init T, opts ...Option) (*Value[T], error) {
	if err := infoOf[T]().err; err != nil {
		return nil, err
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.in != nil {
		return newNamedValue(o, init)
	}
	v := new(Value[T])
	if o.lock != nil {
		if v.raw, err = NewRawValue(init); err != nil {
			return nil, err
		}
		v.mu = o.lock
		return v, nil
	}
	p, err := theHeap.alloc(unsafe.Sizeof(lockedValue[T]{}))
	if err != nil {
		return nil, err
	}
	lv := as[lockedValue[T]](p)
	lv.v.v = init
	v.mu, v.raw = &lv.mu, &lv.v
	return v, nil
}

// Load returns the value, read under the lock.
func (v *Value[T]) Load() T {
	if v.mu == nil {
		zeroValue("Value.Load")
	}
	v.mu.Lock()
	x := v.raw.v
	v.mu.Unlock()
	return x
}

// Store sets the value under the lock.
func (v *Value[T]) Store(x T) {
	if v.mu == nil {
		zeroValue("Value.Store")
	}
	v.mu.Lock()
	v.raw.v = x
	v.mu.Unlock()
}

// Update replaces the value with f(value) under the lock, and returns the new
// value: an atomic read-modify-write across processes.
//
// f runs with the lock held: it must be quick and must not use the lock
// itself. If f panics (or calls [runtime.Goexit]), Update unlocks and the
// panic goes on, with the value as it was: f's result is stored only after f
// returns. A recovered panic, as net/http recovers a handler's, thus leaves
// the Value usable.
func (v *Value[T]) Update(f func(T) T) (new T) {
	if v.mu == nil {
		zeroValue("Value.Update")
	}
	v.mu.Lock()
	defer v.mu.Unlock() // a deferred call, not a recover: Goexit unlocks too
	x := f(v.raw.v)
	v.raw.v = x
	return x
}

// Mutex returns the lock that guards the value: Python's get_lock().
func (v *Value[T]) Mutex() *Mutex {
	if v.mu == nil {
		zeroValue("Value.Mutex")
	}
	return v.mu
}

// Raw returns the value without its lock: Python's get_obj().
func (v *Value[T]) Raw() *RawValue[T] {
	if v.mu == nil {
		zeroValue("Value.Raw")
	}
	return v.raw
}

// zeroValue panics for a method called on a Value that NewValue did not make:
// it has no shared memory behind it. The methods check for one with a compare
// and a branch to this call, which is outlined to keep them small and fast.
//
//go:noinline
func zeroValue(method string) {
	panic("shm: " + method + ": a zero Value: make it with NewValue")
}
