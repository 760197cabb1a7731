//go:build linux

package main

// The limit: the bare etcd client doing what the dist versions do, in the
// fewest round trips the client allows.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

func init() {
	versions["etcd-locked-inc"] = etcdLockedInc
	versions["etcd-cas-get-txn"] = etcdCASGetTxn
	versions["etcd-cas-txn"] = etcdCASTxn
	versions["etcd-handoff"] = handoff("etcd")
	versions["etcd-fifo-handoff"] = handoff("etcd-fifo")
	versions["etcd-pingpong"] = pingPong("etcd")
	versions["etcd-getwatch-pingpong"] = pingPong("etcd-getwatch")
	backends["etcd"] = dialEtcd
	backends["etcd-fifo"] = dialEtcdFIFO
	backends["etcd-getwatch"] = dialEtcdGetWatch
}

func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// The values are int64s in 8 bytes, as dist stores an int64.
func encode(x int64) string { return string(binary.LittleEndian.AppendUint64(nil, uint64(x))) }

func decode(kvs []*mvccpb.KeyValue) (int64, error) {
	if len(kvs) != 1 || len(kvs[0].Value) != 8 {
		return 0, errors.New("the counter is missing or not 8 bytes")
	}
	return int64(binary.LittleEndian.Uint64(kvs[0].Value)), nil
}

// etcdLockedInc adds 1 to a key n times, each under a markerMutex (one
// transaction to lock when free, one to unlock): Lock, Get, Put, Unlock, four
// round trips.
func etcdLockedInc(ctx context.Context, endpoints []string, ns string, n int) (sample, error) {
	cli, err := newEtcdClient(endpoints)
	if err != nil {
		return sample{}, err
	}
	defer cli.Close()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		return sample{}, err
	}
	defer sess.Close()
	mu := &markerMutex{cli: cli, lease: sess.Lease(), marker: ns + "/lock"}
	key := ns + "/counter"
	if _, err := cli.Put(ctx, key, encode(0)); err != nil {
		return sample{}, err
	}
	inc := func(k int) error {
		for range k {
			if err := mu.Lock(ctx); err != nil {
				return err
			}
			resp, err := cli.Get(ctx, key)
			if err != nil {
				return err
			}
			x, err := decode(resp.Kvs)
			if err != nil {
				return err
			}
			if _, err := cli.Put(ctx, key, encode(x+1)); err != nil {
				return err
			}
			if err := mu.Unlock(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	s, err := warmThenTime(n, inc)
	if err != nil {
		return s, err
	}
	return s, checkKey(ctx, cli, key, warm(n)+n)
}

func checkKey(ctx context.Context, cli *clientv3.Client, key string, want int) error {
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return err
	}
	got, err := decode(resp.Kvs)
	if err != nil {
		return err
	}
	if got != int64(want) {
		return fmt.Errorf("counter = %d, want %d", got, want)
	}
	return nil
}

// etcdCASGetTxn adds 1 to a key n times by compare-and-swap on its
// revision: a Get, then a transaction that puts x+1 if the key's revision is
// still the one read; two round trips.
func etcdCASGetTxn(ctx context.Context, endpoints []string, ns string, n int) (sample, error) {
	cli, err := newEtcdClient(endpoints)
	if err != nil {
		return sample{}, err
	}
	defer cli.Close()
	key := ns + "/counter"
	if _, err := cli.Put(ctx, key, encode(0)); err != nil {
		return sample{}, err
	}
	inc := func(k int) error {
		for range k {
			for {
				resp, err := cli.Get(ctx, key)
				if err != nil {
					return err
				}
				x, err := decode(resp.Kvs)
				if err != nil {
					return err
				}
				tr, err := cli.Txn(ctx).
					If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
					Then(clientv3.OpPut(key, encode(x+1))).Commit()
				if err != nil {
					return err
				}
				if tr.Succeeded {
					break
				}
			}
		}
		return nil
	}
	s, err := warmThenTime(n, inc)
	if err != nil {
		return s, err
	}
	return s, checkKey(ctx, cli, key, warm(n)+n)
}

// etcdCASTxn adds 1 to a key n times by compare-and-swap with the value
// and revision of the last transaction kept: one transaction that puts x+1
// if the revision is still the one known, or else gets the key to try again;
// one round trip when no one else writes.
func etcdCASTxn(ctx context.Context, endpoints []string, ns string, n int) (sample, error) {
	cli, err := newEtcdClient(endpoints)
	if err != nil {
		return sample{}, err
	}
	defer cli.Close()
	key := ns + "/counter"
	pr, err := cli.Put(ctx, key, encode(0))
	if err != nil {
		return sample{}, err
	}
	x, rev := int64(0), pr.Header.Revision
	inc := func(k int) error {
		for range k {
			for {
				tr, err := cli.Txn(ctx).
					If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
					Then(clientv3.OpPut(key, encode(x+1))).
					Else(clientv3.OpGet(key)).Commit()
				if err != nil {
					return err
				}
				if tr.Succeeded {
					x, rev = x+1, tr.Header.Revision
					break
				}
				kvs := tr.Responses[0].GetResponseRange().Kvs
				if x, err = decode(kvs); err != nil {
					return err
				}
				rev = kvs[0].ModRevision
			}
		}
		return nil
	}
	s, err := warmThenTime(n, inc)
	if err != nil {
		return s, err
	}
	return s, checkKey(ctx, cli, key, warm(n)+n)
}

// etcdConn is the bare client as a backend of the two-process versions.
type etcdConn struct {
	cli  *clientv3.Client
	sess *concurrency.Session
	ns   string
	fifo bool // lock with a bareMutex, not a markerMutex
	// getWatch: an event's Wait reads the key, then watches it from the
	// next revision, as dist's Event does, rather than keep one watch.
	getWatch bool
}

func dialEtcd(ctx context.Context, endpoints []string, ns string) (conn, error) {
	return dialEtcdLock(ctx, endpoints, ns, false)
}

func dialEtcdFIFO(ctx context.Context, endpoints []string, ns string) (conn, error) {
	return dialEtcdLock(ctx, endpoints, ns, true)
}

func dialEtcdGetWatch(ctx context.Context, endpoints []string, ns string) (conn, error) {
	c, err := dialEtcdLock(ctx, endpoints, ns, false)
	if err == nil {
		c.(*etcdConn).getWatch = true
	}
	return c, err
}

func dialEtcdLock(ctx context.Context, endpoints []string, ns string, fifo bool) (conn, error) {
	cli, err := newEtcdClient(endpoints)
	if err != nil {
		return nil, err
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		cli.Close()
		return nil, err
	}
	return &etcdConn{cli: cli, sess: sess, ns: ns + "/", fifo: fifo}, nil
}

func (c *etcdConn) Close() error {
	return errors.Join(c.sess.Close(), c.cli.Close())
}

func (c *etcdConn) locker(ctx context.Context, name string) (locker, error) {
	if c.fifo {
		return &bareMutex{cli: c.cli, lease: c.sess.Lease(), pfx: c.ns + name + "/"}, nil
	}
	return &markerMutex{cli: c.cli, lease: c.sess.Lease(), marker: c.ns + name}, nil
}

// A bareMutex is etcd's own lock (concurrency.Mutex), a key per locker under
// a prefix, bound to the locker's lease, the oldest key holding the lock, in
// the same round trips but one change: a waiter opens its watch of the key
// before its own, and then reads it (waitDelete). concurrency.Mutex watches
// from the revision read, a revision already past, and etcd serves such a
// watch from a loop that catches up every 100 ms: a hand-off took 40 to 100
// ms with it here.
type bareMutex struct {
	cli   *clientv3.Client
	lease clientv3.LeaseID
	pfx   string
	myKey string
}

func (m *bareMutex) Lock(ctx context.Context) error {
	m.myKey = fmt.Sprintf("%s%x", m.pfx, m.lease)
	resp, err := m.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(m.myKey), "=", 0)).
		Then(clientv3.OpPut(m.myKey, "", clientv3.WithLease(m.lease)), clientv3.OpGet(m.pfx, clientv3.WithFirstCreate()...)).
		Else(clientv3.OpGet(m.myKey), clientv3.OpGet(m.pfx, clientv3.WithFirstCreate()...)).Commit()
	if err != nil {
		return err
	}
	myRev := resp.Header.Revision
	if !resp.Succeeded {
		myRev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	if owner := resp.Responses[1].GetResponseRange().Kvs; len(owner) == 0 || owner[0].CreateRevision == myRev {
		return nil
	}
	// Wait until every key created before mine is gone, latest first.
	for {
		opts := append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(myRev-1))
		gr, err := m.cli.Get(ctx, m.pfx, opts...)
		if err != nil {
			m.Unlock(context.WithoutCancel(ctx))
			return err
		}
		if len(gr.Kvs) == 0 {
			return nil
		}
		if err := waitDelete(ctx, m.cli, string(gr.Kvs[0].Key), gr.Kvs[0].CreateRevision); err != nil {
			m.Unlock(context.WithoutCancel(ctx))
			return err
		}
	}
}

func (m *bareMutex) Unlock(ctx context.Context) error {
	_, err := m.cli.Delete(ctx, m.myKey)
	return err
}

// watchOpen opens a watch of key and returns once etcd has created it. A
// watch from a revision that the server has passed is served by etcd's
// catch-up loop, which runs every 100 ms; so a waiter opens its watch
// first and then reads, as dist does.
func watchOpen(ctx context.Context, cli *clientv3.Client, key string, opts ...clientv3.OpOption) (clientv3.WatchChan, error) {
	wch := cli.Watch(ctx, key, append(opts, clientv3.WithCreatedNotify())...)
	wr, ok := <-wch
	if !ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("watch closed")
	}
	return wch, wr.Err()
}

// nextEvent waits for the first event on wch, a watch opened with ctx.
func nextEvent(ctx context.Context, wch clientv3.WatchChan) error {
	for wr := range wch {
		if err := wr.Err(); err != nil {
			return err
		}
		if len(wr.Events) > 0 {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch closed")
}

// waitDelete waits for the deletion of key, if it exists, made at revision
// created (any, if 0): it opens a watch, then reads the key.
func waitDelete(ctx context.Context, cli *clientv3.Client, key string, created int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch, err := watchOpen(ctx, cli, key, clientv3.WithFilterPut())
	if err != nil {
		return err
	}
	gr, err := cli.Get(ctx, key)
	if err != nil || len(gr.Kvs) == 0 || created != 0 && gr.Kvs[0].CreateRevision != created {
		return err // or it is gone, or it is another key of the same name
	}
	return nextEvent(ctx, wch)
}

// etcdFlag is an event made of one key: set when it exists. A waiter
// watches the key from the revision it first read, so that it sees every
// put made after that.
type etcdFlag struct {
	cli      *clientv3.Client
	key      string
	wch      clientv3.WatchChan
	getWatch bool
}

func (c *etcdConn) flag(ctx context.Context, name string, wait bool) (flag, error) {
	f := &etcdFlag{cli: c.cli, key: c.ns + name, getWatch: c.getWatch}
	if wait && !c.getWatch {
		resp, err := c.cli.Get(ctx, f.key)
		if err != nil {
			return nil, err
		}
		f.wch = c.cli.Watch(ctx, f.key, clientv3.WithRev(resp.Header.Revision+1), clientv3.WithFilterDelete())
	}
	return f, nil
}

func (f *etcdFlag) Set(ctx context.Context) error {
	_, err := f.cli.Put(ctx, f.key, "1")
	return err
}

func (f *etcdFlag) Clear(ctx context.Context) error {
	_, err := f.cli.Delete(ctx, f.key)
	return err
}

// Wait waits for the next put: the ping-pong clears the key before its
// partner can set it again.
func (f *etcdFlag) Wait(ctx context.Context) error {
	if f.getWatch {
		return f.getThenWatch(ctx)
	}
	for {
		select {
		case wr, ok := <-f.wch:
			if !ok {
				return errors.New("watch closed")
			}
			if err := wr.Err(); err != nil {
				return err
			}
			if len(wr.Events) > 0 {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// A markerMutex is dist's lock protocol (see dist/mutex.go) on the bare
// client: a marker key present while the lock is held, and an owner key bound
// to the holder's lease; Lock is one transaction when the lock is free,
// Unlock one, and a waiter watches the owner key's deletion and tries again.
// It is not fair. It leaves out the take-over of a dead holder's lock, which
// the benchmark never needs.
type markerMutex struct {
	cli    *clientv3.Client
	lease  clientv3.LeaseID
	marker string
	fence  int64
}

func (m *markerMutex) Lock(ctx context.Context) error {
	holder := strconv.FormatInt(int64(m.lease), 16)
	owner := m.marker + "/owner"
	for {
		resp, err := m.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(m.marker), "=", 0)).
			Then(clientv3.OpPut(m.marker, holder), clientv3.OpPut(owner, holder, clientv3.WithLease(m.lease))).
			Else(clientv3.OpGet(m.marker), clientv3.OpGet(owner)).Commit()
		if err != nil {
			return err
		}
		if resp.Succeeded {
			m.fence = resp.Header.Revision
			return nil
		}
		mk := resp.Responses[0].GetResponseRange().Kvs
		ow := resp.Responses[1].GetResponseRange().Kvs
		switch {
		case len(mk) == 0:
			continue
		case len(ow) == 0:
			return errors.New("the lock's holder died")
		}
		if err := waitDelete(ctx, m.cli, owner, 0); err != nil {
			return err
		}
	}
}

func (m *markerMutex) Unlock(ctx context.Context) error {
	resp, err := m.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(m.marker), "=", m.fence)).
		Then(clientv3.OpDelete(m.marker+"/owner"), clientv3.OpDelete(m.marker)).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errors.New("the lock was lost")
	}
	return nil
}

// getThenWatch is Wait as dist's Event does it: read the key, and if it is
// not set, open a watch, read it again, and wait for a put.
func (f *etcdFlag) getThenWatch(ctx context.Context) error {
	resp, err := f.cli.Get(ctx, f.key, clientv3.WithCountOnly())
	if err != nil || resp.Count > 0 {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch, err := watchOpen(ctx, f.cli, f.key, clientv3.WithFilterDelete())
	if err != nil {
		return err
	}
	if resp, err = f.cli.Get(ctx, f.key, clientv3.WithCountOnly()); err != nil || resp.Count > 0 {
		return err
	}
	return nextEvent(ctx, wch)
}
