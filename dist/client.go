package dist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Defaults for the fields of a [Config] left zero.
const (
	DefaultNamespace   = "shm"
	DefaultTTL         = 10 * time.Second
	DefaultDialTimeout = 5 * time.Second
)

// A Config says where the etcd cluster is and how a [Client] uses it.
type Config struct {
	// Endpoints are the etcd cluster's client URLs, such as
	// "http://10.0.0.1:2379".
	Endpoints []string

	// Namespace prefixes every key, so that programs that share a cluster
	// see the same objects only when they use the same Namespace. The
	// default is DefaultNamespace.
	Namespace string

	// TTL is the session lease: a process that has been dead, or cut off
	// from the cluster, for that long releases its locks and its arrivals
	// at Barriers. A shorter TTL detects death sooner and mistakes a long
	// pause for death sooner. It is rounded up to whole seconds, and etcd
	// raises it to its minimum (about 2 s by default). The default is
	// DefaultTTL.
	TTL time.Duration

	// DialTimeout bounds the first connection. The default is
	// DefaultDialTimeout.
	DialTimeout time.Duration
}

// A Client is one connection to an etcd cluster and one session lease,
// kept alive in the background while the Client is open. Objects made with
// a Client use its connection; locks and Barrier arrivals are bound to its
// lease. A Client is safe for concurrent use.
type Client struct {
	cli   *clientv3.Client
	ns    string // Namespace + "/"
	ttl   int    // seconds
	mu    sync.Mutex
	sess  *concurrency.Session // nil until first needed, renewed when lost
	close chan struct{}

	testKV func(kvAPI) kvAPI // set by tests to make the network fail
}

// Connect connects to the etcd cluster at cfg.Endpoints and takes a
// session lease. It returns an error if the cluster cannot be reached
// within cfg.DialTimeout, or before ctx ends.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("dist: Connect: no endpoints")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if strings.Contains(cfg.Namespace, "/") {
		return nil, fmt.Errorf("dist: Connect: namespace %q contains '/'", cfg.Namespace)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("dist: Connect: negative TTL %v", cfg.TTL)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Context:     context.WithoutCancel(ctx),
		Logger:      nopLogger,
	})
	if err != nil {
		return nil, fmt.Errorf("dist: Connect to %v: %w", cfg.Endpoints, err)
	}
	c := &Client{cli: cli, ns: cfg.Namespace + "/", ttl: int((cfg.TTL + time.Second - 1) / time.Second), close: make(chan struct{})}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := c.session(dctx); err != nil {
		cli.Close()
		return nil, fmt.Errorf("dist: Connect to %v: %w", cfg.Endpoints, err)
	}
	return c, nil
}

// session returns the Client's session, taking a new lease if the last one
// was lost (it expired while the Client was cut off from the cluster).
func (c *Client) session(ctx context.Context) (*concurrency.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed() {
		return nil, ErrClosed
	}
	if c.sess != nil {
		select {
		case <-c.sess.Done():
		default:
			return c.sess, nil
		}
	}
	// The grant is bounded by ctx; the keep-alive lasts until Close.
	g, err := c.cli.Grant(ctx, int64(c.ttl))
	if err != nil {
		return nil, err
	}
	s, err := concurrency.NewSession(c.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(c.ttl), concurrency.WithContext(c.cli.Ctx()))
	if err != nil {
		c.cli.Revoke(ctx, g.ID)
		return nil, err
	}
	c.sess = s
	return s, nil
}

// watch opens a watch of key (with opts, such as clientv3.WithPrefix) and
// returns once etcd has created it, so that every change made after watch
// returns comes on the channel. Read the key after watch, not before:
// a watch asked to start at a revision that another write has already
// passed is served by etcd's catch-up loop, which runs every 100 ms, and a
// wait that reads first and then watches from the read's revision pays that
// on every hand-off that another write overtakes.
func (c *Client) watch(ctx context.Context, key string, opts ...clientv3.OpOption) (clientv3.WatchChan, error) {
	wch := c.cli.Watch(ctx, key, append(opts, clientv3.WithCreatedNotify())...)
	select {
	case wr, ok := <-wch:
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, ErrClosed
		}
		if err := wr.Err(); err != nil {
			return nil, err
		}
		return wch, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// awaitEvent waits for an event of type typ on the watch wch, reporting
// true, or for the watch to fail (it was compacted), reporting false, or
// for ctx to end.
func awaitEvent(ctx context.Context, wch clientv3.WatchChan, typ mvccpb.Event_EventType) (bool, error) {
	for wr := range wch {
		if wr.Err() != nil {
			return false, nil
		}
		for _, ev := range wr.Events {
			if ev.Type == typ {
				return true, nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return false, ErrClosed
}

// lease returns the ID of the Client's current lease.
func (c *Client) lease(ctx context.Context) (clientv3.LeaseID, error) {
	s, err := c.session(ctx)
	if err != nil {
		return 0, err
	}
	return s.Lease(), nil
}

// leaseLost drops the session of lease id, which the cluster no longer
// knows (it expired, or was revoked, before the keep-alive noticed), so
// that the next operation takes a new lease. It reports whether err says
// so.
func (c *Client) leaseLost(id clientv3.LeaseID, err error) bool {
	if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return false
	}
	c.mu.Lock()
	if c.sess != nil && c.sess.Lease() == id {
		c.sess.Orphan()
		c.sess = nil
	}
	c.mu.Unlock()
	return true
}

// Close revokes the session lease, which releases the locks the Client
// holds (their next lockers get [ErrOwnerDead]) and its Barrier arrivals,
// and closes the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.isClosed() {
		c.mu.Unlock()
		return nil
	}
	close(c.close)
	s := c.sess
	c.mu.Unlock()
	var err error
	if s != nil {
		err = s.Close()
	}
	if cerr := c.cli.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dist: Close: %w", err)
	}
	return nil
}

// isClosed reports whether Close was called.
func (c *Client) isClosed() bool {
	select {
	case <-c.close:
		return true
	default:
		return false
	}
}

// key returns the key of an object of a kind ("v", "a", "m", "e", "b").
func (c *Client) key(kind, name string) string { return c.ns + kind + "/" + name }

// checkName reports a name that cannot be a key: empty, or with a '/',
// which separates an object's own keys.
func checkName(ctor, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("dist: %s: empty name", ctor)
	case strings.Contains(name, "/"):
		return fmt.Errorf("dist: %s(%q): a name cannot contain '/'", ctor, name)
	}
	return nil
}

// kvAPI is the part of etcd's key-value API that dist uses.
type kvAPI interface {
	Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error)
	Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error)
	Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.DeleteResponse, error)
	Txn(ctx context.Context) clientv3.Txn
}

// kv returns the Client's key-value API, or one that fails at once with
// ErrClosed once the Client is closed (the etcd client's own would retry
// for seconds first).
func (c *Client) kv() kvAPI {
	if c.isClosed() {
		return closedKV{}
	}
	if c.testKV != nil {
		return c.testKV(c.cli)
	}
	return c.cli
}

// closedKV is the key-value API of a closed Client.
type closedKV struct{}

func (closedKV) Put(context.Context, string, string, ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	return nil, ErrClosed
}
func (closedKV) Get(context.Context, string, ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	return nil, ErrClosed
}
func (closedKV) Delete(context.Context, string, ...clientv3.OpOption) (*clientv3.DeleteResponse, error) {
	return nil, ErrClosed
}
func (closedKV) Txn(context.Context) clientv3.Txn { return closedTxn{} }

type closedTxn struct{}

func (t closedTxn) If(...clientv3.Cmp) clientv3.Txn      { return t }
func (t closedTxn) Then(...clientv3.Op) clientv3.Txn     { return t }
func (t closedTxn) Else(...clientv3.Op) clientv3.Txn     { return t }
func (closedTxn) Commit() (*clientv3.TxnResponse, error) { return nil, ErrClosed }
