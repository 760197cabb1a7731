package dist_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmgo/shm/dist"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestValueTwoClients: each Client's Update starts from the value it last
// saw, which the other Client has changed since: the result is still exact.
func TestValueTwoClients(t *testing.T) {
	ctx := bounded(t)
	a, err := dist.NewValue(ctx, connect(t), "v", int64(10))
	if err != nil {
		t.Fatal(err)
	}
	b, err := dist.NewValue(ctx, connect(t), "v", int64(-1)) // opens: init is ignored
	if err != nil {
		t.Fatal(err)
	}
	if x, err := b.Load(ctx); x != 10 || err != nil {
		t.Fatalf("the second Client's Load = %d, %v", x, err)
	}
	runs := 0
	for i := range 10 {
		v := a
		if i%2 == 1 {
			v = b
		}
		if _, err := v.Update(ctx, func(x int64) int64 { runs++; return x + 1 }); err != nil {
			t.Fatal(err)
		}
	}
	if x, err := a.Load(ctx); x != 20 || err != nil {
		t.Fatalf("Load = %d, %v; want 20", x, err)
	}
	t.Logf("f ran %d times for 10 Updates", runs)
	if err := b.Store(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if x, err := a.Update(ctx, func(x int64) int64 { return x * 3 }); x != 15 || err != nil {
		t.Fatalf("Update after the other's Store = %d, %v", x, err)
	}
}

func TestNames(t *testing.T) {
	c := connect(t)
	ctx := bounded(t)
	for _, name := range []string{"", "a/b"} {
		if _, err := dist.NewValue(ctx, c, name, 0); err == nil {
			t.Errorf("NewValue(%q) succeeded", name)
		}
		if _, err := dist.NewMutex(ctx, c, name); err == nil {
			t.Errorf("NewMutex(%q) succeeded", name)
		}
	}
	if _, err := dist.NewValue(ctx, c, "s", ""); err == nil || !strings.Contains(err.Error(), "string cannot be stored") {
		t.Errorf("NewValue of a string: %v", err)
	}
}

// leaseOf returns the lease of the holder of the lock whose held marker is
// marker, read from the owner key: the keys are the protocol's, in the
// essay at the top of mutex.go.
func leaseOf(t *testing.T, cli *clientv3.Client, marker string) clientv3.LeaseID {
	t.Helper()
	resp, err := cli.Get(bounded(t), marker+"/owner")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("owner key of %s: %v, %v", marker, resp, err)
	}
	lease, _, _ := strings.Cut(string(resp.Kvs[0].Value), ".") // lease.attempt
	id, err := strconv.ParseInt(lease, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return clientv3.LeaseID(id)
}

// TestLockLost: a holder whose lease expired (revoked here, as a pause past
// the TTL would) while another process took the lock gets ErrLockLost
// from Unlock, and UpdateLocked writes nothing under the lost hold.
func TestLockLost(t *testing.T) {
	ctx := bounded(t)
	cli := rawClient(t)
	ca, cb := connect(t), connect(t)
	ma, err := dist.NewMutex(ctx, ca, "m")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := dist.NewMutex(ctx, cb, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := ma.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Revoke(ctx, leaseOf(t, cli, namespace(t)+"/m/m")); err != nil {
		t.Fatal(err)
	}
	if err := mb.Lock(ctx); !errors.Is(err, dist.ErrOwnerDead) {
		t.Fatalf("Lock after the holder's lease ended = %v, want ErrOwnerDead", err)
	}
	if err := ma.Unlock(ctx); !errors.Is(err, dist.ErrLockLost) {
		t.Fatalf("Unlock of a lost hold = %v, want ErrLockLost", err)
	}
	if err := mb.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ma.Lock(ctx); err != nil { // on a new lease
		t.Fatalf("Lock after a lost lease = %v", err)
	}
	if err := ma.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	va, err := dist.NewValue(ctx, ca, "v", 1)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := dist.NewValue(ctx, cb, "v", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = va.UpdateLocked(ctx, func(x int) int {
		// A pause past the TTL, during which another process takes the lock.
		if _, err := cli.Revoke(ctx, leaseOf(t, cli, namespace(t)+"/v/v/lock")); err != nil {
			t.Fatal(err)
		}
		if err := vb.Mutex().Lock(ctx); !errors.Is(err, dist.ErrOwnerDead) {
			t.Fatalf("Lock of the Value's lock = %v, want ErrOwnerDead", err)
		}
		return x + 100
	})
	if !errors.Is(err, dist.ErrLockLost) {
		t.Fatalf("UpdateLocked under a lost hold = %v, want ErrLockLost", err)
	}
	if x, err := vb.Load(ctx); x != 1 || err != nil {
		t.Fatalf("the Value after a lost hold = %d, %v; want 1", x, err)
	}
	if err := vb.Mutex().Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if x, err := va.UpdateLocked(ctx, func(x int) int { return x + 1 }); x != 2 || err != nil {
		t.Fatalf("UpdateLocked after = %d, %v", x, err)
	}
}

func TestUnlockUnlockedPanics(t *testing.T) {
	m, err := dist.NewMutex(bounded(t), connect(t), "m")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Unlock of unlocked Mutex") {
			t.Fatalf("recovered %v", r)
		}
	}()
	m.Unlock(context.Background())
}

func TestConnectErrors(t *testing.T) {
	ctx := bounded(t)
	for _, cfg := range []dist.Config{
		{},
		{Endpoints: []string{endpoint}, Namespace: "a/b"},
		{Endpoints: []string{endpoint}, TTL: -time.Second},
		{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 300 * time.Millisecond}, // nothing listens
	} {
		c, err := dist.Connect(ctx, cfg)
		if err == nil {
			c.Close()
			t.Errorf("Connect(%+v) succeeded", cfg)
			continue
		}
		if !strings.HasPrefix(err.Error(), "dist: Connect") {
			t.Errorf("Connect(%+v): %v", cfg, err)
		}
		t.Log(err)
	}
}
