package dist

import (
	"context"

	"github.com/shmgo/shm"
)

// The interfaces below are what a worker needs of a shared object, written
// so that both a local shm object (through the adapters [Local],
// [LocalArray], [LocalMutex], [LocalEvent] and [LocalBarrier]) and a dist
// object satisfy them: a worker written once against them runs on one
// machine or on many. See the package documentation for what still
// differs.

// An Updater is a shared value: [*Value] or, through [Local], a
// [shm.Value].
type Updater[T any] interface {
	Load(ctx context.Context) (T, error)
	Store(ctx context.Context, x T) error
	// Update replaces the value with f(value) atomically and returns the
	// new value. f may run more than once (it does on a [*Value]).
	Update(ctx context.Context, f func(T) T) (T, error)
}

// An ArrayUpdater is a shared array: [*Array] or, through [LocalArray], a
// [shm.Array].
type ArrayUpdater[T any] interface {
	Len() int
	Load(ctx context.Context, i int) (T, error)
	Store(ctx context.Context, i int, x T) error
	Update(ctx context.Context, i int, f func(T) T) (T, error)
	Snapshot(ctx context.Context) ([]T, error)
}

// A Locker is a lock between processes: [*Mutex] or, through [LocalMutex],
// a [shm.Mutex]. Lock returns nil or [ErrOwnerDead] with the lock held.
type Locker interface {
	Lock(ctx context.Context) error
	Unlock(ctx context.Context) error
}

// A Flag is an event that processes set and wait for: [*Event] or, through
// [LocalEvent], a [shm.Event].
type Flag interface {
	Set(ctx context.Context) error
	Clear(ctx context.Context) error
	IsSet(ctx context.Context) (bool, error)
	Wait(ctx context.Context) error
}

// A Party is one party's view of a barrier: [*Barrier] or, through
// [LocalBarrier], a [shm.Barrier].
type Party interface {
	Wait(ctx context.Context) (int, error)
	Abort(ctx context.Context) error
}

var (
	_ Updater[int]      = (*Value[int])(nil)
	_ ArrayUpdater[int] = (*Array[int])(nil)
	_ Locker            = (*Mutex)(nil)
	_ Flag              = (*Event)(nil)
	_ Party             = (*Barrier)(nil)
)

// Local returns v as an [Updater]. Its methods never fail: they ignore ctx,
// as v's own methods take none, and return nil errors. Update runs f
// exactly once, under v's lock.
func Local[T any](v *shm.Value[T]) Updater[T] { return localValue[T]{v} }

type localValue[T any] struct{ v *shm.Value[T] }

func (l localValue[T]) Load(context.Context) (T, error)    { return l.v.Load(), nil }
func (l localValue[T]) Store(_ context.Context, x T) error { l.v.Store(x); return nil }
func (l localValue[T]) Update(_ context.Context, f func(T) T) (T, error) {
	return l.v.Update(f), nil
}

// LocalArray returns a as an [ArrayUpdater]. Its methods ignore ctx and
// never fail.
func LocalArray[T any](a *shm.Array[T]) ArrayUpdater[T] { return localArray[T]{a} }

type localArray[T any] struct{ a *shm.Array[T] }

func (l localArray[T]) Len() int                                  { return l.a.Len() }
func (l localArray[T]) Load(_ context.Context, i int) (T, error)  { return l.a.Load(i), nil }
func (l localArray[T]) Store(_ context.Context, i int, x T) error { l.a.Store(i, x); return nil }
func (l localArray[T]) Snapshot(context.Context) ([]T, error)     { return l.a.Snapshot(), nil }
func (l localArray[T]) Update(_ context.Context, i int, f func(T) T) (T, error) {
	return l.a.Update(i, f), nil
}

// LocalMutex returns m as a [Locker]. Lock is [shm.Mutex.LockContext];
// Unlock never fails.
func LocalMutex(m *shm.Mutex) Locker { return localMutex{m} }

type localMutex struct{ m *shm.Mutex }

func (l localMutex) Lock(ctx context.Context) error { return l.m.LockContext(ctx) }
func (l localMutex) Unlock(context.Context) error   { l.m.Unlock(); return nil }

// LocalEvent returns e as a [Flag]. Only Wait uses ctx; the other methods
// never fail.
func LocalEvent(e *shm.Event) Flag { return localEvent{e} }

type localEvent struct{ e *shm.Event }

func (l localEvent) Set(context.Context) error           { l.e.Set(); return nil }
func (l localEvent) Clear(context.Context) error         { l.e.Clear(); return nil }
func (l localEvent) IsSet(context.Context) (bool, error) { return l.e.IsSet(), nil }
func (l localEvent) Wait(ctx context.Context) error      { return l.e.Wait(ctx) }

// LocalBarrier returns b as a [Party]. Abort never fails.
func LocalBarrier(b *shm.Barrier) Party { return localBarrier{b} }

type localBarrier struct{ b *shm.Barrier }

func (l localBarrier) Wait(ctx context.Context) (int, error) { return l.b.Wait(ctx) }
func (l localBarrier) Abort(context.Context) error           { l.b.Abort(); return nil }
