package dist

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// An Array is a named fixed-length array of T, kept in etcd, that processes
// on any machines share: the across-machines form of [shm.Array]. Each
// element is a key of its own, so that updates of different elements do
// not contend; an element never written is T's zero value and takes no
// space. Its operations are linearizable, and [Array.Snapshot] reads every
// element at one revision.
//
// An Array is safe for concurrent use. Make it with [NewArray].
type Array[T any] struct {
	c     *Client
	name  string
	n     int
	meta  string // key of the Array's description: header, [n]layout
	elems string // prefix of the elements' keys: meta + "/"
	codec *codec

	mu   sync.Mutex
	seen map[int]seenElem[T] // each element as last seen, Update's first guess
}

type seenElem[T any] struct {
	rev int64
	x   T
}

// NewArray returns the Array named name, of n elements of type T, making it
// with every element zero if it does not exist, or opening the existing
// one, whose elements it keeps. It returns a [*TypeError] if T cannot be
// stored and a [*LayoutError] if the existing Array holds another type or
// length.
func NewArray[T any](ctx context.Context, c *Client, name string, n int) (*Array[T], error) {
	if err := checkName("NewArray", name); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("dist: NewArray(%q, %d): negative length", name, n)
	}
	cd := codecFor[T]()
	if cd.err != nil {
		return nil, cd.err
	}
	meta := c.key("a", name)
	a := &Array[T]{c: c, name: name, n: n, meta: meta, elems: meta + "/", codec: cd, seen: map[int]seenElem[T]{}}
	want := header + a.layout() + "\n"
	resp, err := c.kv().Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(meta), "=", 0)).
		Then(clientv3.OpPut(meta, want)).
		Else(clientv3.OpGet(meta)).
		Commit()
	if err != nil {
		return nil, c.wrap(ctx, err, "Array", name, "NewArray")
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil, fmt.Errorf("dist: NewArray(%q): the key vanished", name)
		}
		if string(kvs[0].Value) != want {
			lerr := checkLayout(kvs[0].Value, []byte(want), name, cd).(*LayoutError)
			lerr.Want, lerr.Type = a.layout(), reflect.ArrayOf(n, cd.t)
			return nil, lerr
		}
	}
	return a, nil
}

// layout is the Array's layout as stored: [n]T's.
func (a *Array[T]) layout() string { return "[" + strconv.Itoa(a.n) + "]" + a.codec.layout }

// Name returns the Array's name.
func (a *Array[T]) Name() string { return a.name }

// Len returns the number of elements.
func (a *Array[T]) Len() int { return a.n }

// key returns element i's key, panicking if i is out of range.
func (a *Array[T]) key(method string, i int) string {
	if i < 0 || i >= a.n {
		panic(fmt.Sprintf("dist: Array.%s(%d) of %q: index out of range [0:%d]", method, i, a.name, a.n))
	}
	return a.elems + strconv.Itoa(i)
}

// decode decodes element i's stored bytes, or returns the zero value for
// an element never written.
func (a *Array[T]) decode(i int, kvs []*mvccpb.KeyValue) (T, int64, error) {
	var x T
	if len(kvs) == 0 {
		return x, 0, nil
	}
	if err := decodeValue(a.codec, kvs[0].Value, &x); err != nil {
		return x, 0, fmt.Errorf("dist: Array %q[%d]: %v", a.name, i, err)
	}
	return x, kvs[0].ModRevision, nil
}

func (a *Array[T]) remember(i int, x T, rev int64) {
	a.mu.Lock()
	if s, ok := a.seen[i]; !ok || rev > s.rev {
		a.seen[i] = seenElem[T]{rev, x}
	}
	a.mu.Unlock()
}

// Load returns element i. It panics if i is out of range.
func (a *Array[T]) Load(ctx context.Context, i int) (T, error) {
	x, _, err := a.load(ctx, "Load", i)
	return x, err
}

// load reads element i and returns it with its mod revision, 0 if it was
// never written.
func (a *Array[T]) load(ctx context.Context, method string, i int) (T, int64, error) {
	resp, err := a.c.kv().Get(ctx, a.key(method, i))
	if err != nil {
		var zero T
		return zero, 0, a.c.wrap(ctx, err, "Array", a.name, method+"("+strconv.Itoa(i)+")")
	}
	x, rev, err := a.decode(i, resp.Kvs)
	if err == nil && rev != 0 {
		a.remember(i, x, rev)
	}
	return x, rev, err
}

// Store sets element i to x. It panics if i is out of range.
func (a *Array[T]) Store(ctx context.Context, i int, x T) error {
	k := a.key("Store", i)
	resp, err := a.c.kv().Put(ctx, k, string(appendValue(a.codec, nil, &x)))
	if err != nil {
		return a.c.wrap(ctx, err, "Array", a.name, "Store("+strconv.Itoa(i)+")")
	}
	a.remember(i, x, resp.Header.Revision)
	return nil
}

// Update replaces element i with f(element), atomically, and returns the
// new element, as [Value.Update] does: f may run more than once. It panics
// if i is out of range.
func (a *Array[T]) Update(ctx context.Context, i int, f func(T) T) (new T, err error) {
	k := a.key("Update", i)
	a.mu.Lock()
	s, ok := a.seen[i]
	a.mu.Unlock()
	old, rev := s.x, s.rev
	if !ok {
		// The revision of this read, not a.seen's: another goroutine may
		// have remembered a later write since.
		if old, rev, err = a.load(ctx, "Update", i); err != nil {
			return old, err
		}
	}
	var buf []byte
	for {
		x := f(old)
		buf = appendValue(a.codec, buf[:0], &x)
		resp, err := a.c.kv().Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).
			Then(clientv3.OpPut(k, string(buf))).
			Else(clientv3.OpGet(k)).
			Commit()
		if err != nil {
			var zero T
			return zero, a.c.wrap(ctx, err, "Array", a.name, "Update("+strconv.Itoa(i)+")")
		}
		if resp.Succeeded {
			a.remember(i, x, resp.Header.Revision)
			return x, nil
		}
		if old, rev, err = a.decode(i, resp.Responses[0].GetResponseRange().Kvs); err != nil {
			var zero T
			return zero, err
		}
	}
}

// Snapshot returns every element, read at one revision.
func (a *Array[T]) Snapshot(ctx context.Context) ([]T, error) {
	resp, err := a.c.kv().Get(ctx, a.elems, clientv3.WithPrefix())
	if err != nil {
		return nil, a.c.wrap(ctx, err, "Array", a.name, "Snapshot")
	}
	xs := make([]T, a.n)
	for _, kv := range resp.Kvs {
		i, err := strconv.Atoi(strings.TrimPrefix(string(kv.Key), a.elems))
		if err != nil || i < 0 || i >= a.n {
			return nil, fmt.Errorf("dist: Array %q: Snapshot: stray key %q", a.name, kv.Key)
		}
		if err := decodeValue(a.codec, kv.Value, &xs[i]); err != nil {
			return nil, fmt.Errorf("dist: Array %q[%d]: %v", a.name, i, err)
		}
	}
	return xs, nil
}
