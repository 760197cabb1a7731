// Package embedded runs an etcd server inside the calling process, on
// loopback ports, for tests, examples and demos of package dist: the server
// needs no install step. Point real programs at a real etcd cluster instead.
package embedded

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// startTimeout bounds how long Start waits for the server to be ready.
const startTimeout = 30 * time.Second

// A Server is an etcd server running in this process, listening for clients
// on one loopback port, with its data in a directory. It is a single-member
// cluster: no replication, so it is as durable as its directory.
type Server struct {
	dir    string
	client url.URL
	peer   url.URL
	noSync bool
	mu     sync.Mutex
	e      *embed.Etcd // nil while stopped
}

// Start starts a server with its data in dir (made if missing), on free
// loopback ports. Its logs are kept quiet. It syncs every write to disk
// before acknowledging it, as etcd does by default.
func Start(dir string) (*Server, error) { return start(dir, false) }

// StartNoSync is [Start] without the disk syncs: writes survive a Stop and
// Restart, and a crash of this process, but not a crash of the machine.
// Writes are several times faster; use it for tests, not for data you keep.
func StartNoSync(dir string) (*Server, error) { return start(dir, true) }

func start(dir string, noSync bool) (*Server, error) {
	for try := 1; ; try++ {
		client, err := freePort()
		if err != nil {
			return nil, err
		}
		peer, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{dir: dir, client: client, peer: peer, noSync: noSync}
		err = s.Restart()
		if err == nil {
			return s, nil
		}
		// Another server may have taken a port between freePort and
		// the bind: try others.
		if try == 3 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, err
		}
	}
}

// freePort returns a loopback URL on a port that was free a moment ago. It
// picks the port below the kernel's range of ephemeral ports, the one that
// Listen on port 0 draws from, because the local ends of outgoing
// connections are drawn from it too: a port from that range could be taken
// by a connection that this or another process opens before etcd binds it,
// or while the server is stopped, since Restart binds the same port again.
// That happened in CI: "bind: address already in use" on a Restart, with the
// tests of package dist connecting to their own servers at the same time.
func freePort() (url.URL, error) {
	lo, hi := listenPorts()
	var err error
	for range 100 {
		var l net.Listener
		l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+rand.IntN(hi-lo))))
		if err == nil {
			l.Close()
			return url.URL{Scheme: "http", Host: l.Addr().String()}, nil
		}
	}
	return url.URL{}, fmt.Errorf("embedded: find a free port between %d and %d: %w", lo, hi, err)
}

// listenPorts returns the range [lo, hi) that freePort draws from: from
// 10000 up to the first ephemeral port, as Linux reports it, or to 32768,
// the start of its default range, where it does not.
func listenPorts() (lo, hi int) {
	lo, hi = 10000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	var first, last int
	if _, err := fmt.Sscan(string(b), &first, &last); err == nil && first > lo+1000 {
		hi = first
	}
	return lo, hi
}

// Endpoints returns the client URL, for [dist.Config.Endpoints]. It stays
// the same across Stop and Restart.
func (s *Server) Endpoints() []string { return []string{s.client.String()} }

// Dir returns the server's data directory.
func (s *Server) Dir() string { return s.dir }

// Restart starts a stopped server again, on the same directory and client
// URL, with the data it held when it stopped. Restart of a running server
// does nothing.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		return nil
	}
	cfg := embed.NewConfig()
	cfg.Name = "embedded"
	cfg.Dir = s.dir
	cfg.ListenClientUrls = []url.URL{s.client}
	cfg.AdvertiseClientUrls = []url.URL{s.client}
	cfg.ListenPeerUrls = []url.URL{s.peer}
	cfg.AdvertisePeerUrls = []url.URL{s.peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = s.noSync
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("embedded: start etcd in %s: %w", s.dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("embedded: etcd in %s: %w", s.dir, err)
	case <-time.After(startTimeout):
		e.Server.Stop()
		e.Close()
		return errors.New("embedded: etcd took more than " + startTimeout.String() + " to start")
	}
	s.e = e
	return nil
}

// Stop stops the server; its data stays in its directory for
// [Server.Restart]. The server refuses new requests at once, but Stop
// returns only when its clients' open streams (watches, lease keep-alives)
// have ended, which etcd waits for up to its request timeout, about 7 s:
// close Clients first for a quick stop. Stop of a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e == nil {
		return
	}
	s.e.Close()
	s.e = nil
}
