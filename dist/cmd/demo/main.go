// Command demo runs the scenarios of the article on Python's
// multiprocessing.sharedctypes.RawValue that package shm grew from, across
// processes that share their values through etcd with package dist, each
// process with its own connection, as if each ran on a host of its own:
//
//	cd dist && go run ./cmd/demo                 # on an embedded etcd server
//	go run ./cmd/demo -endpoints http://10.0.0.1:2379   # on your cluster
//
// Without -endpoints it starts an etcd server inside itself (package
// dist/embedded), with its data in a temporary directory that it removes at
// the end. Each run works in a namespace of its own.
//
// The workers are written once, against dist's interfaces (dist.Updater,
// dist.ArrayUpdater, dist.Locker), and the counters and the score tracker run
// twice: on etcd, and on one machine's shared memory (shm.Value, shm.Array),
// through dist.Local and dist.LocalArray.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
	"github.com/shmgo/shm/dist/embedded"
)

func main() {
	shm.Main() // a worker process runs its function here and exits
	endpoints := flag.String("endpoints", "", "the etcd cluster's client URLs, comma-separated (default: start an embedded server)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./cmd/demo [-endpoints URL,...]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout, *endpoints); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// A cluster says where the worker processes find the shared objects: the
// etcd endpoints and the namespace of this run. Workers get it by copy.
type cluster struct {
	Endpoints []string
	Namespace string
}

// do runs f with a connection of its own to the cluster, which it closes
// after, and a minute to finish.
func (cl cluster) do(f func(context.Context, *dist.Client) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dist.Connect(ctx, dist.Config{Endpoints: cl.Endpoints, Namespace: cl.Namespace})
	if err != nil {
		return err
	}
	defer c.Close()
	return f(ctx, c)
}

// final reads the int32 Value name of the cluster, for the parent to print.
func (cl cluster) final(name string) (x int32, err error) {
	err = cl.do(func(ctx context.Context, c *dist.Client) error {
		v, err := dist.NewValue(ctx, c, name, int32(0))
		if err == nil {
			x, err = v.Load(ctx)
		}
		return err
	})
	return x, err
}

// run runs every scenario, on the cluster at endpoints, or on an embedded
// server if endpoints is empty.
func run(w io.Writer, endpoints string) error {
	cl := cluster{Namespace: fmt.Sprintf("demo-%d-%d", os.Getpid(), time.Now().UnixNano())}
	if endpoints == "" {
		dir, err := os.MkdirTemp("", "shm-dist-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		srv, err := embedded.Start(dir)
		if err != nil {
			return err
		}
		defer srv.Stop()
		cl.Endpoints = srv.Endpoints()
		fmt.Fprintf(w, "embedded etcd server at %s (data in %s)\n", strings.Join(cl.Endpoints, ","), dir)
	} else {
		cl.Endpoints = strings.Split(endpoints, ",")
		fmt.Fprintf(w, "etcd cluster at %s, namespace %s\n", endpoints, cl.Namespace)
	}
	for _, s := range []struct {
		title string
		run   func(io.Writer, cluster) error
	}{
		{"counters: two processes add 1 and 2 to one counter, five times each, on etcd", countersDist},
		{"counters: the same workers on one machine's shared memory (shm.Value)", countersLocal},
		{"locked vs raw: two processes add 1 five times, under a Mutex and without", lockedVsRaw},
		{"scores: three player processes add points to a shared score, on etcd", scoresDist},
		{"scores: the same players on one machine's shared memory (shm.Value, shm.Array)", scoresLocal},
	} {
		fmt.Fprintf(w, "\n== %s ==\n", s.title)
		if err := s.run(w, cl); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	shm.Register(incrementCounterDist)
	shm.Register(incrementCounterLocal)
	shm.Register(incrementLockedDist)
	shm.Register(incrementRawDist)
	shm.Register(playerDist)
	shm.Register(playerLocal)
}

// The workers, written once against dist's interfaces. The article's sleeps
// are kept, five times shorter.

// incrementCounter adds amount to counter, times times.
func incrementCounter(ctx context.Context, counter dist.Updater[int32], amount int32, times int) error {
	for range times {
		n, err := counter.Update(ctx, func(x int32) int32 { return x + amount })
		if err != nil {
			return err
		}
		fmt.Printf("Counter updated to: %d\n", n)
		time.Sleep(60 * time.Millisecond)
	}
	return nil
}

// incrementLocked adds 1 to v, times times, under the lock m: no update is
// lost.
func incrementLocked(ctx context.Context, m dist.Locker, v dist.Updater[int32], times int) error {
	for range times {
		if err := m.Lock(ctx); err != nil {
			return err
		}
		x, err := v.Load(ctx)
		if err == nil {
			err = v.Store(ctx, x+1)
		}
		if err := errors.Join(err, m.Unlock(ctx)); err != nil {
			return err
		}
		fmt.Printf("Updated value: %d\n", x+1)
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// incrementRaw adds 1 to v, times times, with a Load and then a Store, as
// Python's v.value += 1 on a RawValue does: another process may store
// between them, and one of the two updates is lost.
func incrementRaw(ctx context.Context, v dist.Updater[int32], times int) error {
	for range times {
		x, err := v.Load(ctx)
		if err != nil {
			return err
		}
		if err := v.Store(ctx, x+1); err != nil {
			return err
		}
		fmt.Printf("Updated value: %d\n", x+1)
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// player adds random points to score, and to its own element of tally,
// which only it writes, so that the totals can be checked.
func player(ctx context.Context, name string, score dist.Updater[int32], tally dist.ArrayUpdater[int32], slot, rounds int) error {
	for range rounds {
		points := rand.Int32N(10) + 1
		total, err := score.Update(ctx, func(x int32) int32 { return x + points })
		if err != nil {
			return err
		}
		if _, err := tally.Update(ctx, slot, func(x int32) int32 { return x + points }); err != nil {
			return err
		}
		fmt.Printf("%s scored %d points, total: %d\n", name, points, total)
		time.Sleep(20*time.Millisecond + rand.N(40*time.Millisecond))
	}
	return nil
}

// The worker processes: each opens the shared objects, on etcd through its
// own connection or as the shm objects it was passed, and runs a worker.

func incrementCounterDist(cl cluster, amount int32, times int) error {
	return cl.do(func(ctx context.Context, c *dist.Client) error {
		counter, err := dist.NewValue(ctx, c, "counter", int32(0))
		if err != nil {
			return err
		}
		return incrementCounter(ctx, counter, amount, times)
	})
}

func incrementCounterLocal(counter *shm.Value[int32], amount int32, times int) error {
	return incrementCounter(context.Background(), dist.Local(counter), amount, times)
}

func incrementLockedDist(cl cluster, times int) error {
	return cl.do(func(ctx context.Context, c *dist.Client) error {
		m, err := dist.NewMutex(ctx, c, "locked-lock")
		if err != nil {
			return err
		}
		v, err := dist.NewValue(ctx, c, "locked", int32(0))
		if err != nil {
			return err
		}
		return incrementLocked(ctx, m, v, times)
	})
}

func incrementRawDist(cl cluster, times int) error {
	return cl.do(func(ctx context.Context, c *dist.Client) error {
		v, err := dist.NewValue(ctx, c, "raw", int32(0))
		if err != nil {
			return err
		}
		return incrementRaw(ctx, v, times)
	})
}

// openScores opens the score tracker's objects on c.
func openScores(ctx context.Context, c *dist.Client, players int) (*dist.Value[int32], *dist.Array[int32], error) {
	score, err := dist.NewValue(ctx, c, "score", int32(0))
	if err != nil {
		return nil, nil, err
	}
	tally, err := dist.NewArray[int32](ctx, c, "tally", players)
	return score, tally, err
}

func playerDist(cl cluster, name string, players, slot, rounds int) error {
	return cl.do(func(ctx context.Context, c *dist.Client) error {
		score, tally, err := openScores(ctx, c, players)
		if err != nil {
			return err
		}
		return player(ctx, name, score, tally, slot, rounds)
	})
}

func playerLocal(name string, score *shm.Value[int32], tally *shm.Array[int32], slot, rounds int) error {
	return player(context.Background(), name, dist.Local(score), dist.LocalArray(tally), slot, rounds)
}

// The scenarios, in the parent process.

// startAll starts one worker process per argument list, all running fn,
// and joins them.
func startAll(fn any, argLists ...[]any) error {
	var ps []*shm.Process
	var errs []error
	for _, args := range argLists {
		p, err := shm.Start(fn, args...)
		if err != nil {
			errs = append(errs, err)
			break
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		errs = append(errs, p.Join())
	}
	return errors.Join(errs...)
}

func countersDist(w io.Writer, cl cluster) error {
	if err := startAll(incrementCounterDist, []any{cl, int32(1), 5}, []any{cl, int32(2), 5}); err != nil {
		return err
	}
	x, err := cl.final("counter")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFinal counter value: %d\n", x)
	return nil
}

func countersLocal(w io.Writer, _ cluster) error {
	counter, err := shm.NewValue[int32](0)
	if err != nil {
		return err
	}
	if err := startAll(incrementCounterLocal, []any{counter, int32(1), 5}, []any{counter, int32(2), 5}); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFinal counter value: %d\n", counter.Load())
	return nil
}

func lockedVsRaw(w io.Writer, cl cluster) error {
	fmt.Fprintln(w, "Under the Mutex: Lock, Load, Store, Unlock")
	if err := startAll(incrementLockedDist, []any{cl, 5}, []any{cl, 5}); err != nil {
		return err
	}
	x, err := cl.final("locked")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Final locked value: %d\n", x)
	fmt.Fprintln(w, "Without a lock: Load, then Store")
	if err := startAll(incrementRawDist, []any{cl, 5}, []any{cl, 5}); err != nil {
		return err
	}
	x, err = cl.final("raw")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Final raw value: %d\n", x)
	if x < 10 {
		fmt.Fprintf(w, "(%d of 10 updates lost: a process stored between the other's Load and Store)\n", 10-x)
	} else {
		fmt.Fprintln(w, "(none lost this time: the window, from a Load's reply to the Store's arrival, is one round trip)")
	}
	return nil
}

var playerNames = []string{"Harry", "Hermione", "Ron"}

func scoresDist(w io.Writer, cl cluster) error {
	var argLists [][]any
	for i, name := range playerNames {
		argLists = append(argLists, []any{cl, name, len(playerNames), i, 5})
	}
	if err := startAll(playerDist, argLists...); err != nil {
		return err
	}
	return cl.do(func(ctx context.Context, c *dist.Client) error {
		score, tally, err := openScores(ctx, c, len(playerNames))
		if err != nil {
			return err
		}
		return printScores(ctx, w, score, tally)
	})
}

func scoresLocal(w io.Writer, _ cluster) error {
	score, err := shm.NewValue[int32](0)
	if err != nil {
		return err
	}
	tally, err := shm.NewArray[int32](len(playerNames))
	if err != nil {
		return err
	}
	var argLists [][]any
	for i, name := range playerNames {
		argLists = append(argLists, []any{name, score, tally, i, 5})
	}
	if err := startAll(playerLocal, argLists...); err != nil {
		return err
	}
	return printScores(context.Background(), w, dist.Local(score), dist.LocalArray(tally))
}

// printScores prints the total score and the sum of the players' tallies,
// which are equal when no points were lost.
func printScores(ctx context.Context, w io.Writer, score dist.Updater[int32], tally dist.ArrayUpdater[int32]) error {
	total, err := score.Load(ctx)
	if err != nil {
		return err
	}
	ts, err := tally.Snapshot(ctx)
	if err != nil {
		return err
	}
	var sum int32
	for _, t := range ts {
		sum += t
	}
	fmt.Fprintf(w, "\nFinal total score: %d\n", total)
	fmt.Fprintf(w, "Points scored, from the players' own tallies: %d\n", sum)
	return nil
}
