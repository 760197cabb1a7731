package dist

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// unlockTimeout bounds the unlock that ends an UpdateLocked whose context
// ended.
const unlockTimeout = 5 * time.Second

// header starts every stored Value and every Array's description: a
// version, then the layout, then a newline, then the encoded bytes.
const header = "shm/dist 1 "

// A Value is a named value of type T, kept in etcd, that processes on any
// machine share: the across-machines form of [shm.Value]. Its operations are
// linearizable: each takes effect at one instant between its call and its
// return, in an order every process agrees on. Each costs a round trip to the
// etcd cluster (about a millisecond on a LAN, against nanoseconds for a
// shm.Value), and may fail if the cluster cannot be reached.
//
// A Value is safe for concurrent use. Make it with [NewValue].
type Value[T any] struct {
	c      *Client
	name   string
	key    string
	codec  *codec
	prefix []byte // header + layout + "\n"

	mu  sync.Mutex
	rev int64 // the mod revision at which x was last seen, 0 if unknown
	x   T

	lockOnce sync.Once
	lock     *Mutex
}

// NewValue returns the Value named name, making it with init if no Value of
// that name exists, or opening the existing one, whose value it keeps. It
// returns a [*TypeError] if T cannot be stored (it holds pointers, strings,
// slices, maps, or types that work only on one machine), and a
// [*LayoutError] if the existing Value holds another layout than T's.
func NewValue[T any](ctx context.Context, c *Client, name string, init T) (*Value[T], error) {
	if err := checkName("NewValue", name); err != nil {
		return nil, err
	}
	cd := codecFor[T]()
	if cd.err != nil {
		return nil, cd.err
	}
	v := &Value[T]{c: c, name: name, key: c.key("v", name), codec: cd}
	v.prefix = []byte(header + cd.layout + "\n")
	b := appendValue(cd, bytes.Clone(v.prefix), &init)
	resp, err := c.kv().Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(v.key), "=", 0)).
		Then(clientv3.OpPut(v.key, string(b))).
		Else(clientv3.OpGet(v.key)).
		Commit()
	if err != nil {
		return nil, c.wrap(ctx, err, "Value", name, "NewValue")
	}
	if resp.Succeeded {
		v.rev, v.x = resp.Header.Revision, init
		return v, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 { // cannot happen: the key existed in the same transaction
		return nil, fmt.Errorf("dist: NewValue(%q): the key vanished", name)
	}
	if err := v.decode(kvs[0].Value, &v.x); err != nil {
		return nil, err
	}
	v.rev = kvs[0].ModRevision
	return v, nil
}

// Name returns the Value's name.
func (v *Value[T]) Name() string { return v.name }

// decode decodes a stored Value into x, checking its layout first.
func (v *Value[T]) decode(b []byte, x *T) error {
	if err := checkLayout(b, v.prefix, v.name, v.codec); err != nil {
		return err
	}
	if err := decodeValue(v.codec, b[len(v.prefix):], x); err != nil {
		return fmt.Errorf("dist: Value %q: %v", v.name, err)
	}
	return nil
}

// checkLayout returns a *LayoutError if b does not begin with prefix, the
// header and layout of cd's type.
func checkLayout(b, prefix []byte, name string, cd *codec) error {
	if bytes.HasPrefix(b, prefix) {
		return nil
	}
	have := "something that is not a dist object"
	if rest, ok := bytes.CutPrefix(b, []byte(header)); ok {
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			have = string(rest[:i])
		}
	}
	return &LayoutError{Name: name, Type: cd.t, Want: cd.layout, Have: have}
}

// Load returns the value.
func (v *Value[T]) Load(ctx context.Context) (T, error) {
	var x T
	resp, err := v.c.kv().Get(ctx, v.key)
	if err != nil {
		return x, v.c.wrap(ctx, err, "Value", v.name, "Load")
	}
	if len(resp.Kvs) == 0 {
		return x, fmt.Errorf("dist: Value %q: Load: the key %s is gone", v.name, v.key)
	}
	if err := v.decode(resp.Kvs[0].Value, &x); err != nil {
		return x, err
	}
	v.remember(x, resp.Kvs[0].ModRevision)
	return x, nil
}

// remember keeps x, seen at revision rev, as Update's first guess.
func (v *Value[T]) remember(x T, rev int64) {
	v.mu.Lock()
	if rev > v.rev {
		v.x, v.rev = x, rev
	}
	v.mu.Unlock()
}

// Store sets the value to x.
func (v *Value[T]) Store(ctx context.Context, x T) error {
	b := appendValue(v.codec, bytes.Clone(v.prefix), &x)
	resp, err := v.c.kv().Put(ctx, v.key, string(b))
	if err != nil {
		return v.c.wrap(ctx, err, "Value", v.name, "Store")
	}
	v.remember(x, resp.Header.Revision)
	return nil
}

// Update replaces the value with f(value), atomically, and returns the new
// value: a compare-and-swap on the key's revision, retried until no other
// process changed the value between the read and the write.
//
// f may run more than once: once per attempt, each time on the value as it
// then was, and only the last result is stored. Give it no side effects
// (sending mail, appending to a file, incrementing another counter), or use
// [Value.UpdateLocked], which runs f once under the Value's Mutex. The
// first attempt may start from the value this process last saw, saving a
// read: f may thus see a stale value, whose result is not stored.
//
// Update returns an error, with the value as it was unless the error came
// after the write reached the cluster (a lost reply), if the cluster cannot
// be reached or ctx ends.
func (v *Value[T]) Update(ctx context.Context, f func(T) T) (new T, err error) {
	v.mu.Lock()
	old, rev := v.x, v.rev
	v.mu.Unlock()
	buf := bytes.Clone(v.prefix)
	for {
		x := f(old)
		buf = appendValue(v.codec, buf[:len(v.prefix)], &x)
		resp, err := v.c.kv().Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(v.key), "=", rev)).
			Then(clientv3.OpPut(v.key, string(buf))).
			Else(clientv3.OpGet(v.key)).
			Commit()
		if err != nil {
			var zero T
			return zero, v.c.wrap(ctx, err, "Value", v.name, "Update")
		}
		if resp.Succeeded {
			v.remember(x, resp.Header.Revision)
			return x, nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			var zero T
			return zero, fmt.Errorf("dist: Value %q: Update: the key %s is gone", v.name, v.key)
		}
		if err := v.decode(kvs[0].Value, &old); err != nil {
			var zero T
			return zero, err
		}
		rev = kvs[0].ModRevision
	}
}

// Mutex returns the Value's own lock, which [Value.UpdateLocked] holds.
// Every process's Value of this name has the same lock. Load, Store and
// Update do not take it: hold it to keep UpdateLocked calls out while you
// work.
func (v *Value[T]) Mutex() *Mutex {
	v.lockOnce.Do(func() {
		v.lock = newMutex(v.c, v.name+" (a Value's lock)", v.key+"/lock")
	})
	return v.lock
}

// UpdateLocked is the exactly-once form of [Value.Update]: it locks the
// Value's [Value.Mutex], reads the value, runs f once, writes f's result
// only if the lock is still held (the lock's fencing token is checked in the
// same transaction as the write), and unlocks. It returns the new value and
// nil; or the zero value and an error, with the value as it was:
// [ErrLockLost] if the lease expired while f ran and another process took
// the lock (f ran, but its result was not stored), or an error from the
// cluster or ctx. If the result was stored but the unlock then failed, it
// returns the new value with the unlock's error: the update happened, and
// the lock stays held until a call to the Value's Mutex's Unlock succeeds
// or the Client is closed.
//
// A previous holder that died is no concern here: its write either happened
// whole or not at all, so UpdateLocked does not return [ErrOwnerDead].
// UpdateLocked excludes other UpdateLocked calls only: a concurrent
// [Value.Update] or [Value.Store] may still change the value, and the write
// then fails with an error rather than overwrite it.
func (v *Value[T]) UpdateLocked(ctx context.Context, f func(T) T) (new T, err error) {
	var zero T
	m := v.Mutex()
	if err := m.Lock(ctx); err != nil && err != ErrOwnerDead {
		return zero, err
	}
	defer func() {
		uctx := ctx
		if ctx.Err() != nil { // still release the lock
			var cancel context.CancelFunc
			uctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
			defer cancel()
		}
		if uerr := m.Unlock(uctx); uerr != nil && err == nil {
			err = uerr // with the new value: it was stored
		}
	}()
	var old T
	resp, err := v.c.kv().Get(ctx, v.key)
	if err != nil {
		return zero, v.c.wrap(ctx, err, "Value", v.name, "UpdateLocked")
	}
	if len(resp.Kvs) == 0 {
		return zero, fmt.Errorf("dist: Value %q: UpdateLocked: the key %s is gone", v.name, v.key)
	}
	if err := v.decode(resp.Kvs[0].Value, &old); err != nil {
		return zero, err
	}
	x := f(old)
	b := appendValue(v.codec, bytes.Clone(v.prefix), &x)
	if err := m.putFenced(ctx, v.key, resp.Kvs[0].ModRevision, string(b)); err != nil {
		return zero, v.c.wrap(ctx, err, "Value", v.name, "UpdateLocked")
	}
	return x, nil
}
