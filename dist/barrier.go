package dist

// The barrier protocol. A Barrier named N is a state key and arrival keys:
//
//	<ns>/b/N/state          "n round broken", without a lease
//	<ns>/b/N/r<round>/<id>  one per party arrived in the round, bound to its lease
//
// A party reads the state, then in one transaction, conditional on the
// state's mod revision (the round is still open), puts its arrival key and
// counts the round's arrivals: its order is the count less one. The last
// party's transaction, conditional on the state again, starts the next
// round and deletes the arrivals. The others watch N's keys from their
// arrival's revision: a new round releases them; an arrival deleted while
// the round is open means a party's lease expired, and the watcher breaks
// the Barrier (a transaction conditional on the state), as a party whose
// context ends does. A broken Barrier stays broken.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A Barrier makes a fixed number of parties, processes on any machines,
// wait for each other: the across-machines form of [shm.Barrier] and
// Python's threading.Barrier. It is reusable: when the last party arrives,
// all are released and the next round begins.
//
// A party's arrival is bound to its [Client] lease: a party whose lease
// expires (it died) before the round completes breaks the Barrier for the
// others, who get [ErrBrokenBarrier] rather than hang. A party that dies
// before it arrives cannot be told from a late one: bound Wait with a
// context.
//
// A Barrier is safe for concurrent use. Make it with [NewBarrier].
type Barrier struct {
	c     *Client
	name  string
	n     int
	base  string // N's keys' prefix: <ns>/b/N/
	state string
}

// A barrierState is the state key's value.
type barrierState struct {
	n      int
	round  int64
	broken bool
	rev    int64 // the state key's mod revision
}

func (s barrierState) String() string {
	b := 0
	if s.broken {
		b = 1
	}
	return fmt.Sprintf("%d %d %d", s.n, s.round, b)
}

func parseBarrierState(kv *mvccpb.KeyValue) (barrierState, error) {
	var s barrierState
	var b int
	if _, err := fmt.Sscanf(string(kv.Value), "%d %d %d", &s.n, &s.round, &b); err != nil || s.n < 1 || b > 1 {
		return s, fmt.Errorf("not a barrier state: %q", kv.Value)
	}
	s.broken, s.rev = b == 1, kv.ModRevision
	return s, nil
}

// arrivals counts this process's arrivals, to name them.
var arrivals atomic.Uint64

// NewBarrier returns the Barrier named name, for n parties, making it if it
// does not exist, or opening the existing one, which must be for n parties.
func NewBarrier(ctx context.Context, c *Client, name string, n int) (*Barrier, error) {
	if err := checkName("NewBarrier", name); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("dist: NewBarrier(%q, %d): the number of parties must be at least 1", name, n)
	}
	base := c.key("b", name) + "/"
	b := &Barrier{c: c, name: name, n: n, base: base, state: base + "state"}
	resp, err := c.kv().Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(b.state), "=", 0)).
		Then(clientv3.OpPut(b.state, barrierState{n: n}.String())).
		Else(clientv3.OpGet(b.state)).
		Commit()
	if err != nil {
		return nil, c.wrap(ctx, err, "Barrier", name, "NewBarrier")
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil, fmt.Errorf("dist: NewBarrier(%q): the key vanished", name)
		}
		s, err := parseBarrierState(kvs[0])
		if err != nil {
			return nil, fmt.Errorf("dist: NewBarrier(%q): %v", name, err)
		}
		if s.n != n {
			return nil, fmt.Errorf("dist: NewBarrier(%q, %d): the Barrier is for %d parties", name, n, s.n)
		}
	}
	return b, nil
}

// Name returns the Barrier's name.
func (b *Barrier) Name() string { return b.name }

// Parties returns the number of parties.
func (b *Barrier) Parties() int { return b.n }

func (b *Barrier) roundPrefix(r int64) string { return b.base + "r" + strconv.FormatInt(r, 10) + "/" }

// read returns the Barrier's state.
func (b *Barrier) read(ctx context.Context) (barrierState, error) {
	resp, err := b.c.kv().Get(ctx, b.state)
	if err != nil {
		return barrierState{}, err
	}
	if len(resp.Kvs) == 0 {
		return barrierState{}, fmt.Errorf("the key %s is gone", b.state)
	}
	return parseBarrierState(resp.Kvs[0])
}

// Wait waits until all parties have called Wait, or until ctx ends. It
// returns the order in which this party arrived, from 0 for the first to
// n-1 for the last, or -1 and an error: [ErrBrokenBarrier] if the Barrier is
// or becomes broken, ctx.Err() if ctx ended first, which breaks the Barrier
// for the others, or an error from the cluster, which breaks it too when the
// cluster can still be reached. If the round completes while ctx ends, Wait
// reports the round's success.
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	for {
		order, again, err := b.arrive(ctx)
		if !again {
			return order, err
		}
	}
}

// arrive makes one attempt at Wait: it reports the arrival's order or an
// error, or that the attempt must be made again.
func (b *Barrier) arrive(ctx context.Context) (order int, again bool, err error) {
	s, err := b.read(ctx)
	if err != nil {
		return -1, false, b.fail("Wait", ctx, err)
	}
	if s.broken {
		return -1, false, ErrBrokenBarrier
	}
	lease, err := b.c.lease(ctx)
	if err != nil {
		return -1, false, b.fail("Wait", ctx, err)
	}
	// The watch is open before the arrival, so that it sees every change
	// after it (see [Client.watch]).
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch, err := b.c.watch(wctx, b.base, clientv3.WithPrefix())
	if err != nil {
		return -1, false, b.fail("Wait", ctx, err)
	}
	prefix := b.roundPrefix(s.round)
	me := prefix + strconv.FormatInt(int64(lease), 16) + "-" + strconv.FormatUint(arrivals.Add(1), 10)
	resp, err := b.c.kv().Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(b.state), "=", s.rev)).
		Then(clientv3.OpPut(me, "", clientv3.WithLease(lease)), clientv3.OpGet(prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())).
		Commit()
	if b.c.leaseLost(lease, err) {
		return -1, true, nil // with a new lease
	}
	if err != nil {
		// The arrival may have been applied, its reply lost: break
		// the round rather than let it count a party that left.
		b.leave(s, err)
		return -1, false, b.fail("Wait", ctx, err)
	}
	if !resp.Succeeded {
		return -1, true, nil // the round ended or broke meanwhile
	}
	order = int(resp.Responses[1].GetResponseRange().Count) - 1
	switch {
	case order >= b.n:
		// More than n parties came for this round: wait for the next.
		// The arrival stays, for the round's end to delete: deleting
		// it now would look like a party's death to the others.
		if _, err := b.await(ctx, wctx, s, wch, ""); err != nil {
			return -1, false, err
		}
		return -1, true, nil
	case order == b.n-1:
		next := barrierState{n: b.n, round: s.round + 1}
		r, err := b.c.kv().Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(b.state), "=", s.rev)).
			Then(clientv3.OpPut(b.state, next.String()), clientv3.OpDelete(prefix, clientv3.WithPrefix())).
			Commit()
		if err != nil {
			return -1, false, b.fail("Wait", ctx, err)
		}
		if !r.Succeeded {
			return -1, false, ErrBrokenBarrier // only a break changes the state of a full round
		}
		return order, false, nil
	}
	done, err := b.await(ctx, wctx, s, wch, prefix)
	if done {
		return order, false, nil
	}
	return -1, false, err
}

// await waits, on the watch wch of the Barrier's keys (opened with wctx),
// until the round of state s ends: it reports true if it completed, false
// and ErrBrokenBarrier if it broke, or false and the error that ended the
// wait. While it waits, an arrival under prefix that is deleted (its lease
// expired) breaks the round, as ctx's end does. An empty prefix watches for
// the round's end only.
func (b *Barrier) await(ctx, wctx context.Context, s barrierState, wch clientv3.WatchChan, prefix string) (bool, error) {
	for {
		var wr clientv3.WatchResponse
		var ok bool
		select {
		case wr, ok = <-wch:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || !ok {
			err := ctx.Err()
			if err == nil {
				err = ErrClosed
			}
			if prefix == "" {
				return false, err
			}
			return b.leave(s, err)
		}
		if wr.Err() != nil {
			// Compacted: watch again, then read the state.
			var err error
			if wch, err = b.c.watch(wctx, b.base, clientv3.WithPrefix()); err != nil {
				return b.leave(s, err)
			}
			ns, err := b.read(ctx)
			if err != nil {
				return b.leave(s, err)
			}
			if ns.rev != s.rev {
				return b.ended(s, ns)
			}
			continue
		}
		for _, ev := range wr.Events {
			k := string(ev.Kv.Key)
			switch {
			case k == b.state && ev.Type == mvccpb.PUT:
				ns, err := parseBarrierState(ev.Kv)
				if err != nil {
					return false, b.fail("Wait", ctx, err)
				}
				return b.ended(s, ns)
			case prefix != "" && ev.Type == mvccpb.DELETE && strings.HasPrefix(k, prefix):
				// A party's lease expired, or the round completed (then the
				// state's change came first, or comes next and wins).
				if _, err := b.breakRound(ctx, s); err != nil {
					return false, b.fail("Wait", ctx, err)
				}
			}
		}
	}
}

// ended reports how the round of s ended, given the state ns that followed.
func (b *Barrier) ended(s, ns barrierState) (bool, error) {
	if ns.round > s.round {
		return true, nil
	}
	return false, ErrBrokenBarrier
}

// leave breaks the round of s for the others as this party leaves it with
// err, unless the round completed first: then it reports success.
func (b *Barrier) leave(s barrierState, err error) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, berr := b.breakRound(ctx, s); berr != nil {
		return false, err
	}
	ns, rerr := b.read(ctx)
	if rerr == nil && ns.round > s.round {
		return true, nil
	}
	return false, err
}

// breakRound marks the Barrier broken if its state is still s, and
// reports whether it did.
func (b *Barrier) breakRound(ctx context.Context, s barrierState) (bool, error) {
	s.broken = true
	resp, err := b.c.kv().Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(b.state), "=", s.rev)).
		Then(clientv3.OpPut(b.state, s.String())).
		Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// Abort breaks the Barrier: every party waiting, and every later call to
// Wait, returns ErrBrokenBarrier.
func (b *Barrier) Abort(ctx context.Context) error {
	for {
		s, err := b.read(ctx)
		if err != nil {
			return b.fail("Abort", ctx, err)
		}
		if s.broken {
			return nil
		}
		broke, err := b.breakRound(ctx, s)
		if err != nil {
			return b.fail("Abort", ctx, err)
		}
		if broke {
			return nil
		}
	}
}

func (b *Barrier) fail(op string, ctx context.Context, err error) error {
	return b.c.wrap(ctx, err, "Barrier", b.name, op)
}
