package dist_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
	"github.com/shmgo/shm/dist/embedded"
)

// server is the embedded etcd server of the test run; endpoint its URL.
var (
	server   *embedded.Server
	endpoint string
)

func TestMain(m *testing.M) {
	shm.Main() // a child started by a test runs its target here and exits
	dir, err := os.MkdirTemp("", "dist-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server, err = embedded.StartNoSync(dir) // fast; the restart test stops and restarts it, which keeps data
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	endpoint = server.Endpoints()[0]
	os.Setenv("DIST_TEST_ENDPOINT", endpoint) // for the tests of package dist
	code := m.Run()
	server.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testTTL is the session lease of test clients: etcd's minimum.
const testTTL = 2 * time.Second

// connect returns a Client of the test server, in a namespace of the
// test's own, closed at the end of the test.
func connect(tb testing.TB) *dist.Client {
	tb.Helper()
	c, err := dist.Connect(context.Background(), dist.Config{Endpoints: []string{endpoint}, Namespace: namespace(tb), TTL: testTTL})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

var (
	namespaces   sync.Map // testing.TB → string
	namespaceSeq atomic.Int64
)

// namespace is a namespace of the test's own, the same for all its calls,
// and another for each run of the test (go test -count).
func namespace(tb testing.TB) string {
	if ns, ok := namespaces.Load(tb); ok {
		return ns.(string)
	}
	ns := fmt.Sprintf("t%d-%d-%s", os.Getpid(), namespaceSeq.Add(1), tb.Name())
	namespaces.Store(tb, ns)
	return ns
}

// bounded returns a context that ends after a minute, so that a wait that
// never ends fails the test instead of hanging it.
func bounded(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}
