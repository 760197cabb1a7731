package dist

import (
	"context"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// An Event is a named flag, kept in etcd, that processes on any machines
// set, clear and wait for: the across-machines form of [shm.Event] and
// Python's threading.Event. Waiters wake through an etcd watch, never by
// polling. Set and Clear only write the flag, so a waiter that died blocks
// no one. The flag starts clear.
//
// An Event is safe for concurrent use. Make it with [NewEvent].
type Event struct {
	c    *Client
	name string
	key  string
}

// eventSet is the value of a set Event's key; a clear Event has no key.
const eventSet = "set"

// NewEvent returns the Event named name, which any process that makes an
// Event of that name with the same cluster and namespace shares.
func NewEvent(ctx context.Context, c *Client, name string) (*Event, error) {
	if err := checkName("NewEvent", name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Event{c: c, name: name, key: c.key("e", name)}, nil
}

// Name returns the Event's name.
func (e *Event) Name() string { return e.name }

// Set sets the flag, waking every process waiting for it.
func (e *Event) Set(ctx context.Context) error {
	if _, err := e.c.kv().Put(ctx, e.key, eventSet); err != nil {
		return e.fail("Set", ctx, err)
	}
	return nil
}

// Clear clears the flag.
func (e *Event) Clear(ctx context.Context) error {
	if _, err := e.c.kv().Delete(ctx, e.key); err != nil {
		return e.fail("Clear", ctx, err)
	}
	return nil
}

// IsSet reports whether the flag is set.
func (e *Event) IsSet(ctx context.Context) (bool, error) {
	resp, err := e.c.kv().Get(ctx, e.key, clientv3.WithCountOnly())
	if err != nil {
		return false, e.fail("IsSet", ctx, err)
	}
	return resp.Count > 0, nil
}

// Wait waits until the flag is set, and returns nil, or until ctx ends, and
// returns ctx.Err(), or an error from the cluster. It returns at once if
// the flag is set. A Set that a Clear follows at once still wakes it: the
// watch sees every change.
func (e *Event) Wait(ctx context.Context) error {
	resp, err := e.c.kv().Get(ctx, e.key, clientv3.WithCountOnly())
	if err != nil {
		return e.fail("Wait", ctx, err)
	}
	if resp.Count > 0 {
		return nil
	}
	for {
		set, err := e.watchSet(ctx)
		if err != nil {
			return e.fail("Wait", ctx, err)
		}
		if set {
			return nil
		}
	}
}

// watchSet opens a watch of the flag, then reads it (see [Client.watch] for
// why in that order), and waits until it is set, reporting true, or until
// the watch fails (it was compacted), reporting false.
func (e *Event) watchSet(ctx context.Context) (bool, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch, err := e.c.watch(wctx, e.key)
	if err != nil {
		return false, err
	}
	resp, err := e.c.kv().Get(ctx, e.key, clientv3.WithCountOnly())
	if err != nil {
		return false, err
	}
	if resp.Count > 0 {
		return true, nil
	}
	return awaitEvent(ctx, wch, mvccpb.PUT)
}

func (e *Event) fail(op string, ctx context.Context, err error) error {
	return e.c.wrap(ctx, err, "Event", e.name, op)
}
