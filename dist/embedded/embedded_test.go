package embedded_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shmgo/shm/dist"
	"github.com/shmgo/shm/dist/embedded"
)

// TestRestart: a restarted server listens at the same URL and holds the
// data it held when it stopped; a Client made before the stop works again.
func TestRestart(t *testing.T) {
	srv, err := embedded.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dist.Connect(ctx, dist.Config{Endpoints: srv.Endpoints(), TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "v", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Store(ctx, 42); err != nil {
		t.Fatal(err)
	}
	before := srv.Endpoints()[0]
	srv.Stop()
	srv.Stop() // does nothing
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := v.Load(short); err == nil {
		t.Fatal("Load from a stopped server succeeded")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil { // does nothing
		t.Fatal(err)
	}
	if after := srv.Endpoints()[0]; after != before {
		t.Fatalf("the URL changed from %s to %s", before, after)
	}
	if x, err := v.Load(ctx); x != 42 || err != nil {
		t.Fatalf("Load after the restart = %d, %v", x, err)
	}
}

func TestStartBadDir(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := embedded.Start(f.Name()); err == nil {
		t.Fatal("Start in a file's path succeeded")
	} else {
		t.Log(err)
	}
}

func ExampleStart() {
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
	c, err := dist.Connect(context.Background(), dist.Config{Endpoints: srv.Endpoints()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected")
	// Output: connected
}

func ExampleStartNoSync() {
	dir, err := os.MkdirTemp("", "etcd-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.StartNoSync(dir) // for tests: fast, not crash-safe
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	fmt.Println(len(srv.Endpoints()))
	// Output: 1
}

func ExampleServer() {
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
	fmt.Println(srv.Dir() == dir)
	// Output: true
}

func ExampleServer_Endpoints() {
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
	u, err := url.Parse(srv.Endpoints()[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Scheme, u.Hostname())
	// Output: http 127.0.0.1
}

func ExampleServer_Dir() {
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
	_, err = os.Stat(srv.Dir() + "/member")
	fmt.Println(err) // etcd's data
	// Output: <nil>
}

func ExampleServer_Stop() {
	dir, err := os.MkdirTemp("", "etcd-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(dir)
	if err != nil {
		log.Fatal(err)
	}
	srv.Stop() // the data stays in dir
	fmt.Println("stopped")
	// Output: stopped
}

func ExampleServer_Restart() {
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
	cfg := dist.Config{Endpoints: srv.Endpoints()}
	c, err := dist.Connect(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := dist.NewValue(ctx, c, "v", 7); err != nil {
		log.Fatal(err)
	}
	c.Close()

	srv.Stop()
	if err := srv.Restart(); err != nil { // same directory, same URL
		log.Fatal(err)
	}
	c, err = dist.Connect(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "v", 0) // opens the Value, which kept its 7
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Load(ctx))
	// Output: 7 <nil>
}

// TestPortsOutsideEphemeralRange checks that a server listens below the
// kernel's range of ephemeral ports, from which the local ends of outgoing
// connections are drawn: a port from it could be taken while the server is
// stopped, and its Restart, which binds the same port, would fail.
func TestPortsOutsideEphemeralRange(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skip("no ip_local_port_range:", err)
	}
	var first, last int
	if _, err := fmt.Sscan(string(b), &first, &last); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		srv, err := embedded.StartNoSync(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(srv.Endpoints()[0])
		srv.Stop()
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(u.Port())
		if err != nil {
			t.Fatal(err)
		}
		if p >= first && p <= last {
			t.Fatalf("the server listens on port %d, in the ephemeral range %d-%d", p, first, last)
		}
	}
}
