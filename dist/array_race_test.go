package dist

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// afterGetKV runs after once, the first time a Get returns, before the
// caller sees the reply: a write by another goroutine that lands between
// a read and what the reader does with it.
type afterGetKV struct {
	kvAPI
	after *func()
}

func (k afterGetKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	resp, err := k.kvAPI.Get(ctx, key, opts...)
	if f := *k.after; f != nil {
		*k.after = nil
		f()
	}
	return resp, err
}

// TestArrayUpdateRacesStore: an Update of an element this Array has not
// seen reads it first; a Store by another goroutine of the same Array
// between that read and the compare-and-swap must make the swap fail and
// retry, not lose the Store. (Update used to compare against the revision
// the Store left behind while applying f to the value read before it.)
func TestArrayUpdateRacesStore(t *testing.T) {
	var after func()
	c := lossyClient(t, new(bool))
	c.testKV = func(kv kvAPI) kvAPI { return afterGetKV{kv, &after} }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, err := NewArray[int64](ctx, c, "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Store(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	a, err := NewArray[int64](ctx, c, "a", 1) // has seen nothing
	if err != nil {
		t.Fatal(err)
	}
	after = func() {
		if err := a.Store(ctx, 0, 100); err != nil {
			t.Error(err)
		}
	}
	got, err := a.Update(ctx, 0, func(x int64) int64 { return x + 10 })
	if err != nil {
		t.Fatal(err)
	}
	if got != 110 {
		t.Errorf("Update after a racing Store(100) = %d, want 110", got)
	}
	if x, err := w.Load(ctx, 0); err != nil || x != 110 {
		t.Errorf("Load = %d, %v; want 110", x, err)
	}
}
