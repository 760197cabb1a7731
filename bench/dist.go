//go:build linux

package main

// Across machines: package dist (shm's values, locks and events on etcd)
// against a multiprocessing Manager, Python's way across hosts, and against
// the bare etcd client doing the same operations.
//
// The Go versions run in bench/distbench, a program of its own: linked into
// this one, the etcd client and server made every child that bench starts
// take 20 to 35 ms longer to start, in every workload. The parent builds it
// once and starts one embedded etcd server with it (distbench serve), in a
// temporary directory, for every dist workload of the run; the workers find
// both through the environment.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	envDistBin = "SHMBENCH_DISTBENCH" // the distbench binary
	envEtcd    = "SHMBENCH_ETCD"      // the server's endpoints, comma-separated
)

func distImpl(name string, n int, version string) impl {
	return impl{Name: name, N: n, Dist: []string{version}}
}

// distWorkloads are the rows of issue 10's Speed section.
func distWorkloads(c config) []*workload {
	const group = "across machines (etcd)"
	// Operations of one run: an etcd write costs milliseconds here (the
	// server fsyncs its log), a hand-off or round trip tens of them.
	n, n2 := 100, 30
	if c.Quick {
		n, n2 = 8, 4
	}
	pyN := 10 * n // a Manager's round trip is ten times shorter than etcd's here
	ws := []*workload{
		{ID: "dist-locked-inc", Name: "locked increment: Mutex Lock, Load, Store, Unlock", Group: group, Unit: opsPerSec, Etcd: true,
			Note: "one process, one connection, no contention; Python: a Manager's Value and Lock (with lock: v.value += 1, four round trips to the Manager); " +
				"limit: the bare etcd client doing dist's four transactions (lock: put the marker and the lease-bound owner key if absent; get; put; unlock: delete both if the hold's token still matches)",
			Shm:    distImpl("dist", n, "dist-locked-inc"),
			Python: []impl{pyImpl("Manager Value + Lock", pyN, "manager-locked-inc")},
			Limit:  []impl{distImpl("etcd txns", n, "etcd-locked-inc")},
			Target: target{MaxOverhead: 1.2}},
		{ID: "dist-cas", Name: "Value.Update (+1), compare-and-swap", Group: group, Unit: opsPerSec, Etcd: true,
			Note: "one process, no contention; Python has no compare-and-swap: its anchor is the Manager's locked increment; " +
				"limit: the bare client's compare-and-swap on the key's revision, as a Get then a transaction, and as one transaction from the value and revision last seen (its Else branch reads the key for a retry)",
			Shm:    distImpl("dist", n, "dist-cas"),
			Python: []impl{pyImpl("Manager Value + Lock", pyN, "manager-locked-inc")},
			Limit:  []impl{distImpl("Get+Txn", n, "etcd-cas-get-txn"), distImpl("Txn", n, "etcd-cas-txn")},
			Target: target{MaxOverhead: 1.2}},
		{ID: "dist-handoff", Name: "Mutex hand-off between two processes", Group: group, Unit: msPerHand, Etcd: true,
			Note: "two processes, each with its own connection, take turns under one lock: a process that locks out of turn unlocks and locks again; time between the first and last timed turns over the hand-offs; " +
				"Python: a Manager's Lock; limit: the bare client with dist's lock protocol (not fair: on release every waiter tries again), and with etcd's own queue (concurrency.Mutex's: the oldest key holds the lock); " +
				"both waiters open their watch before they read, as dist does: concurrency.Mutex watches from a revision already read, which etcd serves from a loop that runs every 100 ms, 40-100 ms per hand-off here",
			Shm:    distImpl("dist", n2, "dist-handoff"),
			Python: []impl{pyImpl("Manager Lock", pyN, "manager-handoff")},
			Limit:  []impl{distImpl("dist's protocol", n2, "etcd-handoff"), distImpl("queue", n2, "etcd-fifo-handoff")}},
		{ID: "dist-pingpong", Name: "Event ping-pong round trip between two processes", Group: group, Unit: msPerTrip, Etcd: true,
			Note: "each side Sets the other's Event, Waits on its own and Clears it: a round trip is two set-to-wake latencies, each with a Clear; Python: a Manager's Events; " +
				"limit: the bare client, a put to set, a delete to clear, and one watch per waiter kept from the start; and, as dist's Event does, a Get, then a new watch and a second Get for each Wait " +
				"(the watch opens before the read: a watch from a revision that the server has passed is served by etcd's 100 ms catch-up loop)",
			Shm:    distImpl("dist", n2, "dist-pingpong"),
			Python: []impl{pyImpl("Manager Event", pyN, "manager-pingpong")},
			Limit:  []impl{distImpl("one watch", n2, "etcd-pingpong"), distImpl("watch per Wait", n2, "etcd-getwatch-pingpong")}},
	}
	for _, w := range ws {
		w.Note += "; the embedded etcd server keeps its data on tmpfs, so that a write costs it no disk flush"
		// Each run starts processes and connections, and Python's starts
		// a Manager: one round is enough to keep CI's -quick run working.
		w.QuickRounds = 1
	}
	return ws
}

// An etcdServer is the embedded etcd server of a run, in a distbench process.
type etcdServer struct {
	cmd   *exec.Cmd
	stdin io.Closer
	done  chan error
	dir   string // its data
}

// startDist builds distbench into dir and starts its embedded etcd server,
// and sets the environment that the workers inherit. The server keeps its
// data in memory, in a directory in /dev/shm (tmpfs), so that its writes
// cost no disk flush: what is measured is the software, not this machine's
// shared disk, whose flushes took 1 to 10 ms each and varied the most. A
// cluster's members flush to their disks on every write.
func startDist(dir string) (*etcdServer, error) {
	bin := filepath.Join(dir, "distbench")
	goCmd, err := goCommand()
	if err != nil {
		return nil, fmt.Errorf("building distbench: %w", err)
	}
	progress("bench: building distbench (etcd)\n")
	build := exec.Command(goCmd, "build", "-o", bin, "./distbench")
	build.Dir = sourceDir()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building distbench: %w", err)
	}
	return serve(bin)
}

// serve starts distbench's embedded etcd server, with its data in a new
// directory in memDir, which it removes if the server does not start.
func serve(bin string) (*etcdServer, error) {
	data, err := os.MkdirTemp(memDir(), "shm-bench-etcd-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*etcdServer, error) {
		os.RemoveAll(data)
		return nil, fmt.Errorf("starting the embedded etcd server: %w", err)
	}
	cmd := exec.Command(bin, "serve", data)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	s := &etcdServer{cmd: cmd, stdin: stdin, done: make(chan error, 1), dir: data}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if eps, ok := strings.CutPrefix(sc.Text(), "endpoints "); ok {
				line <- eps
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case eps := <-line:
		os.Setenv(envDistBin, bin)
		os.Setenv(envEtcd, eps)
		return s, nil
	case err := <-s.done:
		os.RemoveAll(data)
		return nil, fmt.Errorf("the embedded etcd server exited: %v", err)
	case <-time.After(time.Minute):
		s.stop()
		return nil, errors.New("the embedded etcd server did not start within a minute")
	}
}

// stop stops the server: it serves until its standard input closes.
func (s *etcdServer) stop() {
	s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// memDir returns /dev/shm, or the temporary directory if there is none.
func memDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// runDist runs one run of a distbench version of n operations.
func runDist(version string, n int) (sample, error) {
	bin := os.Getenv(envDistBin)
	if bin == "" {
		return sample{}, errors.New("no distbench: the parent builds it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, version, fmt.Sprint(n))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("distbench %s %d: %v: %s", version, n, err, lastLine(errb.String()))
	}
	var s sample
	line := lastLine(out.String())
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		return sample{}, fmt.Errorf("distbench %s %d: bad output %q: %v", version, n, line, err)
	}
	return s, nil
}
