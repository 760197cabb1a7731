package dist

// The lock protocol. A Mutex named N is two keys:
//
//	<ns>/m/N        the held marker, without a lease: present while the lock is held
//	<ns>/m/N/owner  the owner key, bound to the holder's session lease
//
// (A Value's own Mutex is <ns>/v/N/lock and <ns>/v/N/lock/owner.)
//
// Lock is one transaction: if the marker does not exist, put both keys;
// the transaction's revision is the hold's fencing token, which is also the
// marker's mod revision. Otherwise it reads both. A marker without its
// owner key means the holder's lease expired with the lock held: the holder
// died, or was cut off or paused for longer than the TTL. The locker then
// takes the lock over with a second transaction, conditional on the
// marker's mod revision and the owner key's absence, and returns
// ErrOwnerDead. A marker with its owner key means a live holder: the locker
// watches the owner key from the revision it read and tries again when it
// is deleted, by Unlock or by the lease's expiry. No one polls.
//
// Unlock deletes both keys if the marker's mod revision is still the hold's
// fencing token. If it is not, the lease expired during the hold and
// another process may have taken the lock: Unlock reports ErrLockLost.
//
// A reply can be lost after the cluster applied a request (the connection
// broke): Lock and Unlock then return an error, the lock's state unknown to
// the caller. The marker and owner key hold the holder's lease and the
// number of its Lock attempt, so that the next Lock of the same Mutex
// recognises a hold that a lost reply took, and takes it up instead of
// waiting for itself; the next Unlock after a lost one reports success if
// it finds the lock free.
//
// Waiters are not queued: when the lock is released every waiter tries
// again and one wins. The lock is therefore not fair, and a release costs
// one transaction per waiter.

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A Mutex is a named mutual exclusion lock between processes on any
// machines, kept in etcd: the across-machines form of [shm.Mutex]. A hold is
// bound to the holder's [Client] lease: when the holder dies, or is cut off
// from the cluster or paused for longer than the lease's TTL, the next
// locker takes the lock and [Mutex.Lock] tells it so with [ErrOwnerDead].
//
// A paused process looks dead too (a long garbage collection, a stopped
// virtual machine), and may wake believing it still holds the lock. Pass
// [Mutex.Fence] to the systems you write to under the lock, and have them
// refuse a token lower than one they have seen, as [Value.UpdateLocked]
// does.
//
// In the terms of the Go memory model, the n'th call to Unlock synchronizes
// before the m'th call to Lock for any n < m, in every process that locks
// the Mutex by name, and etcd's operations are linearizable. The lock is
// not fair: see the essay at the top of mutex.go.
//
// A Mutex is safe for concurrent use; as with [sync.Mutex], any goroutine
// of the process may unlock it. Make it with [NewMutex].
type Mutex struct {
	c      *Client
	name   string
	marker string
	owner  string

	mu         sync.Mutex
	fence      int64           // the current hold's token, 0 if this Mutex holds nothing
	lost       map[string]bool // holder values of Locks whose replies were lost
	unlockLost bool            // an Unlock of the current hold failed: it may have been applied
}

// lockSeq numbers this process's Lock attempts, to tell their holds apart.
var lockSeq atomic.Uint64

// NewMutex returns the Mutex named name, which any process that makes a
// Mutex of that name with the same cluster and namespace shares. It makes
// nothing in etcd: the lock's keys exist while it is held.
func NewMutex(ctx context.Context, c *Client, name string) (*Mutex, error) {
	if err := checkName("NewMutex", name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newMutex(c, name, c.key("m", name)), nil
}

// newMutex returns the Mutex whose held marker is the key marker.
func newMutex(c *Client, name, marker string) *Mutex {
	return &Mutex{c: c, name: name, marker: marker, owner: marker + "/owner"}
}

// Name returns the Mutex's name.
func (m *Mutex) Name() string { return m.name }

// Lock locks m, waiting while another process holds it. It returns nil with
// the lock held, [ErrOwnerDead] with the lock held (the previous holder's
// lease expired while it held the lock: check what it guards), or ctx.Err()
// or an error from the cluster without it.
func (m *Mutex) Lock(ctx context.Context) error {
	// While the lock is held, a watch of the owner key, opened before the
	// transaction that finds it held (see [Client.watch]).
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wch clientv3.WatchChan
	for {
		lease, err := m.c.lease(ctx)
		if err != nil {
			return m.fail("Lock", ctx, err)
		}
		holder := strconv.FormatInt(int64(lease), 16) + "." + strconv.FormatUint(lockSeq.Add(1), 10)
		take := []clientv3.Op{clientv3.OpPut(m.marker, holder), clientv3.OpPut(m.owner, holder, clientv3.WithLease(lease))}
		resp, err := m.c.kv().Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(m.marker), "=", 0)).
			Then(take...).
			Else(clientv3.OpGet(m.marker), clientv3.OpGet(m.owner)).
			Commit()
		if m.c.leaseLost(lease, err) {
			continue // with a new lease
		}
		if err != nil {
			m.lostReply(holder)
			return m.fail("Lock", ctx, err)
		}
		if resp.Succeeded {
			m.held(resp.Header.Revision)
			return nil
		}
		mk := resp.Responses[0].GetResponseRange().Kvs
		ow := resp.Responses[1].GetResponseRange().Kvs
		switch {
		case len(mk) == 0:
			continue // unlocked meanwhile
		case len(ow) > 0 && m.adopt(string(mk[0].Value)):
			// Held by an earlier Lock of m whose reply was lost.
			m.held(mk[0].ModRevision)
			return nil
		case len(ow) == 0:
			// The holder's lease expired with the lock held.
			r, err := m.c.kv().Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(m.marker), "=", mk[0].ModRevision),
					clientv3.Compare(clientv3.CreateRevision(m.owner), "=", 0)).
				Then(take...).
				Commit()
			if m.c.leaseLost(lease, err) {
				continue
			}
			if err != nil {
				m.lostReply(holder)
				return m.fail("Lock", ctx, err)
			}
			if r.Succeeded {
				m.held(r.Header.Revision)
				return ErrOwnerDead
			}
			continue
		}
		if wch == nil {
			if wch, err = m.c.watch(wctx, m.owner); err != nil {
				return m.fail("Lock", ctx, err)
			}
			continue // and look again, now that the watch is open
		}
		ok, err := awaitEvent(ctx, wch, mvccpb.DELETE)
		if err != nil {
			return m.fail("Lock", ctx, err)
		}
		if !ok {
			wch = nil // the server ended the watch (compacted): open another
		}
	}
}

// held records a hold whose token is fence.
func (m *Mutex) held(fence int64) {
	m.mu.Lock()
	m.fence = fence
	clear(m.lost) // none of them holds the lock: this hold does
	m.mu.Unlock()
}

// lostReply records the holder value of a Lock transaction that may have
// taken the lock without this process learning it.
func (m *Mutex) lostReply(holder string) {
	m.mu.Lock()
	if m.lost == nil {
		m.lost = map[string]bool{}
	}
	m.lost[holder] = true
	m.mu.Unlock()
}

// adopt reports whether holder, the held marker's value, is that of a Lock
// of m whose reply was lost, and forgets the lost Locks if so.
func (m *Mutex) adopt(holder string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.lost[holder] {
		return false
	}
	clear(m.lost)
	return true
}

// fail wraps err, or returns ctx.Err() itself if ctx ended.
func (m *Mutex) fail(op string, ctx context.Context, err error) error {
	return m.c.wrap(ctx, err, "Mutex", m.name, op)
}

// Unlock unlocks m. It returns nil; [ErrLockLost] if the hold ended
// without Unlock: the lease expired and another process took the lock
// since (a lease that expired while no one else locked leaves the hold
// intact); or an error from the cluster, in which case the lock may or may
// not have been released and Unlock may be called again. It panics if m is not
// locked by this process, as sync.Mutex.Unlock does.
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	fence := m.fence
	m.mu.Unlock()
	if fence == 0 {
		panic("dist: Unlock of unlocked Mutex " + strconv.Quote(m.name))
	}
	resp, err := m.c.kv().Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(m.marker), "=", fence)).
		Then(clientv3.OpDelete(m.owner), clientv3.OpDelete(m.marker)).
		Else(clientv3.OpGet(m.marker, clientv3.WithCountOnly())).
		Commit()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.unlockLost = true
		return m.fail("Unlock", ctx, err)
	}
	retried := m.unlockLost
	if m.fence == fence {
		m.fence, m.unlockLost = 0, false
	}
	if !resp.Succeeded && !(retried && resp.Responses[0].GetResponseRange().Count == 0) {
		return ErrLockLost
	}
	return nil
}

// Fence returns the fencing token of the current hold: the etcd revision
// at which it was taken, which is higher for every later hold of the lock,
// by any process. It returns 0 if this process does not hold m. Give it to
// the systems written to under the lock, so that they can refuse a write
// from a holder that lost the lock without knowing it.
func (m *Mutex) Fence() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fence
}

// errChanged reports a write under the lock that found the key changed by
// a writer that does not take the lock.
var errChanged = errors.New("the value changed under the lock, by a Store or Update that does not lock it")

// putFenced puts val at key if m's hold is still current and key's mod
// revision is still keyRev.
func (m *Mutex) putFenced(ctx context.Context, key string, keyRev int64, val string) error {
	fence := m.Fence()
	if fence == 0 {
		panic("dist: putFenced without the lock")
	}
	resp, err := m.c.kv().Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(m.marker), "=", fence),
			clientv3.Compare(clientv3.ModRevision(key), "=", keyRev)).
		Then(clientv3.OpPut(key, val)).
		Else(clientv3.OpGet(m.marker)).
		Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 0 || kvs[0].ModRevision != fence {
			return ErrLockLost
		}
		return errChanged
	}
	return nil
}
