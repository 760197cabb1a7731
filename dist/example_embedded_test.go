package dist_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/shmgo/shm/dist"
	"github.com/shmgo/shm/dist/embedded"
)

// Example_embedded starts an etcd server in this process, as tests and
// demos do, and counts with it. A real program connects to its cluster's
// endpoints instead.
func Example_embedded() {
	dir, err := os.MkdirTemp("", "etcd-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()

	ctx := context.Background()
	c, err := dist.Connect(ctx, dist.Config{Endpoints: srv.Endpoints()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	hits, err := dist.NewValue(ctx, c, "hits", int64(0))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hits.Update(ctx, func(n int64) int64 { return n + 1 }))
	// Output: 1 <nil>
}
