package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/shmgo/shm"
)

const demoUsage = `usage: shm demo [-list] [-procs n] [-n count] [-segment name] [-rm] [name ...]

Demo runs the scenarios of the article on Python's
multiprocessing.sharedctypes.RawValue that package shm grew from, written with
shm, then workers that meet at a Barrier and start on an Event, a race
between processes, and two programs sharing a counter by name. With names,
it runs only those scenarios. The flags, which come before the names, are:

	-list          list the scenarios and exit
	-procs n       processes in the race scenario (default 4)
	-n count       how many times each of them, and the named scenario,
	               adds 1 (default 1000000)
	-segment name  the named scenario's segment (default shm-demo-counter)
	-rm            remove the named scenario's segment at the end

The article's sleeps are kept, five times shorter.

"shm demo named" opens the segment shm-demo-counter in /dev/shm, or creates
it if there is none, and adds 1 to the Value "count" in it, under its lock.
Run it again, at once from another terminal or later, and the count goes
on: the runs share the counter by name, as unrelated programs do. The
segment stays until "shm rm shm-demo-counter" or "shm demo -rm named"
removes it. When demo runs every scenario (no names), the named scenario
removes the segment at the end if it created it, so that a plain
"shm demo" leaves nothing behind.
`

// A scenario is one thing that "shm demo" shows. run writes what the parent
// process prints to w; the children it starts print to standard output.
type scenario struct {
	name string
	desc string // one line, for -list and the heading
	run  func(w io.Writer) error
}

// The race scenario's settings, from the flags.
var (
	raceProcs = 4
	raceN     = 1_000_000
)

var scenarios = []scenario{
	{"initial", "create a RawValue and read its initial value", initialValue},
	{"sensor", "a child process updates a shared temperature", sensor},
	{"counters", "two processes add to one shared RawValue counter", twoCounters},
	{"value", "Value (with a lock) vs RawValue (without), two processes each", valueVsRawValue},
	{"scores", "three player processes add points to a shared score", scoreTracker},
	{"shutdown", "start three workers, then join them all", cleanShutdown},
	{"start", "workers load data, meet at a Barrier, and start when an Event is set", raceStart},
	{"pool", "a pool of four warm workers: one is killed mid-task, the pool carries on", poolDemo},
	{"race", "processes add 1 a million times each to RawValue, Value and atomic counters", func(w io.Writer) error {
		return race(w, raceProcs, raceN)
	}},
	{"named", "two unrelated runs of this program share a counter by name (run it twice)", func(w io.Writer) error {
		return namedScenario(w, namedCfg)
	}},
}

func scenarioNames() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

func findScenario(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage) }
	list := fs.Bool("list", false, "list the scenarios")
	fs.IntVar(&raceProcs, "procs", raceProcs, "processes in the race scenario")
	fs.IntVar(&raceN, "n", raceN, "additions per process in the race and named scenarios")
	segName := fs.String("segment", "shm-demo-counter", "the named scenario's segment")
	rm := fs.Bool("rm", false, "remove the named scenario's segment at the end")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if raceProcs < 1 || raceN < 1 {
		fmt.Fprintf(stderr, "shm demo: -procs and -n must be at least 1\n")
		return 2
	}
	namedCfg = namedConfig{segment: *segName, n: raceN, remove: *rm, removeIfCreated: fs.NArg() == 0}
	if *list {
		for _, s := range scenarios {
			fmt.Fprintf(stdout, "%-9s %s\n", s.name, s.desc)
		}
		return 0
	}
	todo := scenarios
	if fs.NArg() > 0 {
		todo = nil
		for _, name := range fs.Args() {
			s, ok := findScenario(name)
			if !ok && strings.HasPrefix(name, "-") {
				fmt.Fprintf(stderr, "shm demo: flag %s after the scenario names; flags come first\n", name)
				return 2
			}
			if !ok {
				fmt.Fprintf(stderr, "shm demo: unknown scenario %q; scenarios: %s\n", name, scenarioNames())
				return 2
			}
			todo = append(todo, s)
		}
	}
	for i, s := range todo {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "== %s: %s ==\n", s.name, s.desc)
		if err := s.run(stdout); err != nil {
			fmt.Fprintf(stderr, "shm demo: %v\n", err)
			return 1
		}
	}
	return 0
}

// The children. Each is registered, so that a child process, which runs this
// same program, can find it; they print to standard output.
func init() {
	shm.Register(sensorUpdate)
	shm.Register(incrementCounter)
	shm.Register(incrementLocked)
	shm.Register(incrementRaw)
	shm.Register(player)
	shm.Register(worker)
	shm.Register(addRaw)
	shm.Register(addLocked)
	shm.Register(addAtomic)
}

// startAll starts one child per argument list, all running fn.
func startAll(fn any, argLists ...[]any) ([]*shm.Process, error) {
	var ps []*shm.Process
	for _, args := range argLists {
		p, err := shm.Start(fn, args...)
		if err != nil {
			joinAll(ps) // do not leave the others running
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// joinAll waits for every process and returns their errors, joined.
func joinAll(ps []*shm.Process) error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Join())
	}
	return errors.Join(errs...)
}

// lost prints how many of what was added to a RawValue was lost, if any was.
func lost(w io.Writer, got, want int64, what string) {
	if got < want {
		fmt.Fprintf(w, "(%d of %d %s lost: two processes updated the RawValue at once)\n", want-got, want, what)
	}
}

// initialValue: temperature = RawValue(ctypes.c_double, 25.0)
func initialValue(w io.Writer) error {
	temperature, err := shm.NewRawValue(25.0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Initial temperature: %.1f°C\n", temperature.Load())
	return nil
}

func sensorUpdate(temp *shm.RawValue[float64]) {
	for range 5 {
		temp.Store(temp.Load() + 1.5) // simulate temperature rising
		fmt.Printf("Sensor updated temperature to: %.1f°C\n", temp.Load())
		time.Sleep(100 * time.Millisecond)
	}
}

func sensor(w io.Writer) error {
	temperature, err := shm.NewRawValue(20.0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Starting temperature: %.1f°C\n", temperature.Load())
	p, err := shm.Start(sensorUpdate, temperature)
	if err != nil {
		return err
	}
	if err := p.Join(); err != nil {
		return err
	}
	fmt.Fprintf(w, "Final temperature: %.1f°C\n", temperature.Load())
	return nil
}

func incrementCounter(counter *shm.RawValue[int32], amount int32, times int) {
	for range times {
		counter.Store(counter.Load() + amount)
		fmt.Printf("Counter updated to: %d\n", counter.Load())
		time.Sleep(60 * time.Millisecond)
	}
}

func twoCounters(w io.Writer) error {
	counter, err := shm.NewRawValue[int32](0)
	if err != nil {
		return err
	}
	ps, err := startAll(incrementCounter,
		[]any{counter, int32(1), 5},
		[]any{counter, int32(2), 5})
	if err != nil {
		return err
	}
	if err := joinAll(ps); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFinal counter value: %d\n", counter.Load())
	lost(w, int64(counter.Load()), 15, "added")
	return nil
}

// incrementLocked and incrementRaw are the article's increment, once for
// each type. For the Value it uses Update, which holds the lock from the read
// to the write.
func incrementLocked(v *shm.Value[int32], times int) {
	for range times {
		n := v.Update(func(x int32) int32 { return x + 1 })
		fmt.Printf("Updated value: %d\n", n)
		time.Sleep(20 * time.Millisecond)
	}
}

func incrementRaw(v *shm.RawValue[int32], times int) {
	for range times {
		v.Store(v.Load() + 1)
		fmt.Printf("Updated value: %d\n", v.Load())
		time.Sleep(20 * time.Millisecond)
	}
}

func valueVsRawValue(w io.Writer) error {
	fmt.Fprintln(w, "Note: Python's v.value += 1 is not atomic even on a Value (it locks to read, then again to write); shm's Value.Update holds the lock for the whole read-modify-write.")

	// Using Value (with locking)
	lockedValue, err := shm.NewValue[int32](0)
	if err != nil {
		return err
	}
	ps, err := startAll(incrementLocked, []any{lockedValue, 5}, []any{lockedValue, 5})
	if err != nil {
		return err
	}
	if err := joinAll(ps); err != nil {
		return err
	}
	fmt.Fprintf(w, "Final locked Value: %d\n", lockedValue.Load())

	// Using RawValue (no locking)
	rawValue, err := shm.NewRawValue[int32](0)
	if err != nil {
		return err
	}
	ps, err = startAll(incrementRaw, []any{rawValue, 5}, []any{rawValue, 5})
	if err != nil {
		return err
	}
	if err := joinAll(ps); err != nil {
		return err
	}
	fmt.Fprintf(w, "Final RawValue: %d\n", rawValue.Load())
	lost(w, int64(rawValue.Load()), 10, "updates")
	return nil
}

// player adds random points to the shared score, and to its own tally, an
// element of an array that only it writes, so that the parent can tell
// whether the score lost any.
func player(name string, score *shm.RawValue[int32], tally *shm.RawArray[int32], slot, rounds int) {
	for range rounds {
		points := rand.Int32N(10) + 1
		score.Store(score.Load() + points)
		tally.Store(slot, tally.Load(slot)+points)
		fmt.Printf("%s scored %d points, total: %d\n", name, points, score.Load())
		time.Sleep(20*time.Millisecond + rand.N(40*time.Millisecond))
	}
}

func scoreTracker(w io.Writer) error {
	names := []string{"Harry", "Hermione", "Ron"}
	// Shared RawValue to hold the total score
	totalScore, err := shm.NewRawValue[int32](0)
	if err != nil {
		return err
	}
	tally, err := shm.NewRawArray[int32](len(names))
	if err != nil {
		return err
	}
	var argLists [][]any
	for i, name := range names {
		argLists = append(argLists, []any{name, totalScore, tally, i, 5})
	}
	players, err := startAll(player, argLists...)
	if err != nil {
		return err
	}
	if err := joinAll(players); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFinal total score: %d\n", totalScore.Load())
	var scored int64
	for _, t := range tally.Slice() {
		scored += int64(t)
	}
	fmt.Fprintf(w, "Points scored, from the players' own tallies: %d\n", scored)
	lost(w, int64(totalScore.Load()), scored, "points")
	return nil
}

func worker(name string, counter *shm.RawValue[int32]) {
	for range 3 {
		counter.Store(counter.Load() + 1)
		fmt.Printf("%s incremented counter to %d\n", name, counter.Load())
		time.Sleep(20*time.Millisecond + rand.N(40*time.Millisecond))
	}
}

func cleanShutdown(w io.Writer) error {
	sharedCounter, err := shm.NewRawValue[int32](0)
	if err != nil {
		return err
	}
	var processes []*shm.Process
	for _, name := range []string{"Amber", "Stewie", "Brian"} {
		p, err := shm.Start(worker, name, sharedCounter)
		if err != nil {
			joinAll(processes)
			return err
		}
		processes = append(processes, p)
	}
	// Wait for all child processes to finish
	if err := joinAll(processes); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFinal counter value: %d\n", sharedCounter.Load())
	lost(w, int64(sharedCounter.Load()), 9, "updates")
	return nil
}
