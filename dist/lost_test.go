package dist

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// errLostReply is the error of a request that the cluster applied but
// whose reply never came.
var errLostReply = errors.New("test: the reply was lost")

// lossyKV applies the requests of kvAPI but loses the replies of the
// transactions while lose is true.
type lossyKV struct {
	kvAPI
	lose *bool
}

func (l lossyKV) Txn(ctx context.Context) clientv3.Txn {
	return lossyTxn{l.kvAPI.Txn(ctx), l.lose}
}

type lossyTxn struct {
	clientv3.Txn
	lose *bool
}

func (t lossyTxn) If(cs ...clientv3.Cmp) clientv3.Txn   { return lossyTxn{t.Txn.If(cs...), t.lose} }
func (t lossyTxn) Then(ops ...clientv3.Op) clientv3.Txn { return lossyTxn{t.Txn.Then(ops...), t.lose} }
func (t lossyTxn) Else(ops ...clientv3.Op) clientv3.Txn { return lossyTxn{t.Txn.Else(ops...), t.lose} }
func (t lossyTxn) Commit() (*clientv3.TxnResponse, error) {
	resp, err := t.Txn.Commit()
	if err == nil && *t.lose {
		return nil, errLostReply
	}
	return resp, err
}

// lossyClient connects to the test server (started by TestMain, in
// package dist_test) with a Client whose transactions lose their replies
// while *lose is true.
func lossyClient(t *testing.T, lose *bool) *Client {
	ep := os.Getenv("DIST_TEST_ENDPOINT")
	if ep == "" {
		t.Skip("no test server")
	}
	c, err := Connect(context.Background(), Config{Endpoints: []string{ep}, Namespace: "lost-" + t.Name() + time.Now().Format("150405.000000"), TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.testKV = func(kv kvAPI) kvAPI { return lossyKV{kv, lose} }
	return c
}

// TestLockLostReply: a Lock whose transaction took the lock but whose reply
// was lost returns an error; the next Lock of the same Mutex takes up that
// hold rather than wait for it forever, and Unlock releases it.
func TestLockLostReply(t *testing.T) {
	lose := false
	c := lossyClient(t, &lose)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := NewMutex(ctx, c, "m")
	if err != nil {
		t.Fatal(err)
	}
	lose = true
	if err := m.Lock(ctx); !errors.Is(err, errLostReply) {
		t.Fatalf("Lock with a lost reply = %v", err)
	}
	lose = false
	if err := m.Lock(ctx); err != nil {
		t.Fatalf("Lock after a lost reply = %v, want nil", err)
	}
	if m.Fence() == 0 {
		t.Fatal("no fencing token")
	}
	lose = true
	if err := m.Unlock(ctx); !errors.Is(err, errLostReply) {
		t.Fatalf("Unlock with a lost reply = %v", err)
	}
	lose = false
	if err := m.Unlock(ctx); err != nil {
		t.Fatalf("Unlock again after a lost reply = %v, want nil", err)
	}
	other, err := NewMutex(ctx, c, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Lock(ctx); err != nil {
		t.Fatalf("Lock by another Mutex after = %v", err)
	}
	other.Unlock(ctx)
}
