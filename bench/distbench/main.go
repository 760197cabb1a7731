//go:build linux

// Command distbench is the Go side of bench's "across machines" rows: the
// dist package (package github.com/shmgo/shm/dist) and the bare etcd client
// it is measured against, each doing the same operations on one etcd server.
// It is a program of its own, like bench/chart, because the etcd client and
// server are large: linked into bench, they made every child that bench
// starts, in every other workload, take 20 to 35 ms longer to start.
//
// bench runs it, never you (see bench/dist.go):
//
//	distbench serve DIR        start an embedded etcd server with its data in DIR,
//	                           print its endpoints on a line, and serve until
//	                           standard input closes
//	distbench VERSION N        one run of a version of a workload, N operations,
//	                           against the server named by SHMBENCH_ETCD; prints
//	                           one JSON object on its last line, as bench.py does
//
// Every run first does an untimed warm-up of a tenth of N. Each run works in a
// namespace of its own, so that runs never meet each other's keys.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shmgo/shm"
)

// A sample is what one run measured; bench reads it as it reads bench.py's.
type sample struct {
	Seconds float64 `json:"seconds"`
	Ops     float64 `json:"ops,omitempty"`
	Failed  string  `json:"failed,omitempty"`
}

// envEtcd names the environment variable that holds the server's endpoints,
// comma-separated.
const envEtcd = "SHMBENCH_ETCD"

// A version runs n timed operations against the server at endpoints, in the
// namespace ns: dist's Config.Namespace, and the first part of the bare
// client's keys, ns/name.
type version func(ctx context.Context, endpoints []string, ns string, n int) (sample, error)

var versions = map[string]version{}

func main() {
	shm.Main() // the two-process versions start their partner with shm.Start
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "distbench: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 2 && args[0] == "serve" {
		return serve(args[1])
	}
	if len(args) != 2 {
		return fmt.Errorf("usage: distbench serve DIR | distbench VERSION N; versions: %s", names())
	}
	v, ok := versions[args[0]]
	if !ok {
		return fmt.Errorf("unknown version %q; versions: %s", args[0], names())
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		return fmt.Errorf("N: %q is not a positive count", args[1])
	}
	eps := os.Getenv(envEtcd)
	if eps == "" {
		return fmt.Errorf("%s is not set: bench sets it to the endpoints of the server it starts", envEtcd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := fmt.Sprintf("bench-%s-%d-%d", args[0], os.Getpid(), time.Now().UnixNano())
	s, err := v(ctx, strings.Split(eps, ","), ns, n)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func names() string {
	var ns []string
	for n := range versions {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// warm returns the size of the untimed warm-up before n timed operations.
func warm(n int) int { return max(n/10, 1) }

func elapsed(t time.Time, n int) sample {
	return sample{Seconds: time.Since(t).Seconds(), Ops: float64(n)}
}

// warmThenTime runs run(warm(n)) untimed, then times run(n).
func warmThenTime(n int, run func(k int) error) (sample, error) {
	if err := run(warm(n)); err != nil {
		return sample{}, err
	}
	t := time.Now()
	err := run(n)
	return elapsed(t, n), err
}
