package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shmgo/shm"
)

const stressUsage = `usage: shm stress crash [-mode m] [-workers n] [-kills n] [-seed n] [-json]

Stress crash is a crash campaign against shm.Mutex. Worker processes take
turns updating shared data under one Mutex: an update adds 1 to A and, after
a little work, subtracts 1 from B, so A+B == 0 holds between updates and not
in the middle of one. The command kills a worker with SIGKILL, starts a
replacement, and does it again until it has killed -kills workers. Every
other kill is of a random worker at a random moment; the others are of a
worker in the middle of an update: the command asks the workers for one to
stop after a given step of an update, and kills it there, holding the lock.
The steps are, in turn: after A's write (A+B == 1 then), after B's, after
the worker's own tally, after the count (every write made, the journal
entry not yet cleared), and after the journal entry, before any write.

An update is written to a journal in the shared memory before it starts, so
a worker that gets shm.ErrOwnerDead from LockContext knows exactly which
writes the dead worker made, and undoes them. An update is complete once
its journal entry is cleared.

At the end, the command prints what happened and checks that:

	- there was no deadlock: no stretch of 10s without a completed update;
	- the invariant holds: A+B == 0 at the end, and whenever a worker
	  took the lock without ErrOwnerDead;
	- every completed update was counted: the shared count, A, and the
	  sum of the workers' own tallies agree;
	- every owner death was reported: no worker found an update in flight
	  without getting ErrOwnerDead, and there were no more ErrOwnerDead
	  than kills;
	- killed workers died of SIGKILL and the others returned cleanly.

It exits with status 0 when every check passes and 1 when one fails. The
flags are:

	-mode m     mutex (the default: the campaign above), or event, cond
	            or barrier: workers wait on and notify that
	            primitive, and the command kills waiters and notifiers
	            alike, some in the window where a death matters most
	            (a notifier mid-turn, a party inside Wait), and checks
	            that no survivor hangs (no wait runs out after 10s), that
	            no wait returns without a notify, the primitive's
	            invariant (a Set or Broadcast wakes its waiters; every
	            Barrier index as often as the others), and that workers
	            ended as expected
	-workers n  worker processes (default 4)
	-kills n    how many workers to kill (default 1000)
	-seed n     seed for whom to kill and when (default: random); the
	            processes' timing varies from run to run anyway
	-json       print the results as one JSON object instead of text;
	            durations are in nanoseconds

Progress goes to standard error.
`

func runStress(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, stressUsage)
		return 2
	}
	switch args[0] {
	case "crash":
		return runStressCrash(args[1:], stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, stressUsage)
		return 0
	}
	fmt.Fprintf(stderr, "shm stress: unknown campaign %q; campaigns: crash\n", args[0])
	return 2
}

// A crashConfig is what one crash campaign does: the flags, and knobs that
// only the tests turn.
type crashConfig struct {
	workers int
	kills   int
	seed    uint64
	json    bool
	mode    string // mutex, or a sync mode
	permits int    // semaphore: the Semaphore's permits

	watchdog time.Duration // a deadlock is this long without a completed update
	work     int           // mean iterations of busy work between A's and B's writes

	// Knobs that break the campaign on purpose, so that the tests see its
	// checks fail.
	skipRepair       bool // recoverers close the journal without undoing anything
	ignoreOwnerDead  bool // workers take ErrOwnerDead for nil, as a lock that lost it would
	neverKillStalled bool // leave the worker stopped mid-update alive: a deadlock
	badIndex         bool // barrier: workers record index 0 whatever Wait returned
	overRelease      bool // semaphore: the parent releases two permits for a dead holder
	silentBroadcast  bool // cond: notifiers also Broadcast without announcing it
}

func runStressCrash(args []string, stdout, stderr io.Writer) int {
	cfg := crashConfig{workers: 4, kills: 1000, watchdog: 10 * time.Second, work: 10000, mode: modeMutex, permits: 2}
	fs := flag.NewFlagSet("stress crash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, stressUsage) }
	fs.IntVar(&cfg.workers, "workers", cfg.workers, "worker processes")
	fs.IntVar(&cfg.kills, "kills", cfg.kills, "how many workers to kill")
	fs.Uint64Var(&cfg.seed, "seed", 0, "seed for whom to kill and when")
	fs.BoolVar(&cfg.json, "json", false, "print the results as JSON")
	fs.StringVar(&cfg.mode, "mode", cfg.mode, "what to crash: mutex, event, cond or barrier")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "shm stress crash: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.workers < 1 {
		fmt.Fprintf(stderr, "shm stress crash: -workers %d: must be at least 1\n", cfg.workers)
		return 2
	}
	if cfg.kills < 0 {
		fmt.Fprintf(stderr, "shm stress crash: -kills %d: must be at least 0\n", cfg.kills)
		return 2
	}
	if cfg.mode != modeMutex && !slices.Contains(syncModes, cfg.mode) {
		fmt.Fprintf(stderr, "shm stress crash: -mode %q: must be mutex, %s\n", cfg.mode, strings.Join(syncModes, ", "))
		return 2
	}
	if cfg.mode != modeMutex && cfg.workers > maxSyncWorkers {
		fmt.Fprintf(stderr, "shm stress crash: -workers %d: -mode %s takes at most %d\n", cfg.workers, cfg.mode, maxSyncWorkers)
		return 2
	}
	if cfg.mode == modeBarrier && cfg.workers < 2 {
		fmt.Fprintf(stderr, "shm stress crash: -workers %d: -mode barrier needs at least 2\n", cfg.workers)
		return 2
	}
	if cfg.permits < 1 {
		fmt.Fprintf(stderr, "shm stress crash: -permits %d: must be at least 1\n", cfg.permits)
		return 2
	}
	seeded := false
	fs.Visit(func(f *flag.Flag) { seeded = seeded || f.Name == "seed" })
	if !seeded {
		cfg.seed = rand.Uint64()
	}
	if cfg.mode != modeMutex {
		return syncCrash(cfg, stdout, stderr)
	}
	return crash(cfg, stdout, stderr)
}

// crash runs the campaign, prints its results and returns the exit status.
func crash(cfg crashConfig, stdout, stderr io.Writer) int {
	res, err := runCrash(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "shm stress crash: %v\n", err)
		return 1
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "shm stress crash: %v\n", err)
			return 1
		}
	} else {
		res.print(stdout)
	}
	if !res.OK {
		return 1
	}
	return 0
}

// The shared memory of a crash campaign.
//
// Every field is an atomic type, even those written only under mu, so that
// each process's writes land in program order: a worker killed between two
// writes has made the first and not the second, which the journal relies on.
// Loads and Stores, not Adds, update the guarded data: if the lock ever let
// two workers in at once, updates would be lost and the checks would see it.
type crashState struct {
	mu shm.Mutex

	// The data mu guards: A+B == 0 and A == count between updates, and
	// tally[i] is how many of the updates worker slot i made.
	a, b    atomic.Int64
	count   atomic.Int64 // completed updates
	journal journal

	// Statistics, written under mu.
	ownerDead  atomic.Int64 // ErrOwnerDead returns
	rolledBack atomic.Int64 // updates found in flight and undone
	dirty      atomic.Int64 // of those, updates that had written something
	broken     atomic.Int64 // of those, updates that left A+B != 0
	unreported atomic.Int64 // locks that found an update in flight without ErrOwnerDead
	brokenSeen atomic.Int64 // locks (not after a death) that found A+B != 0

	// Read and written without mu.
	maxWait  atomic.Int64 // longest wait for mu, in nanoseconds
	holder   atomic.Int64 // PID of the worker that holds mu, for a deadlock report
	started  atomic.Int64 // workers that have begun their loop
	stallReq atomic.Int32 // a step: the parent asks a worker to stop after it
	stalled  atomic.Int32 // slot+1 of the worker that did
	stop     atomic.Bool  // the parent asks the workers to return
}

// A journal records the update in flight: the values it started from, so
// that a repair can put them back. open is written after the others and
// cleared last: the clearing is what completes an update.
type journal struct {
	open               atomic.Int64 // 1 while an update is in flight
	slot               atomic.Int64 // the updating worker's slot
	a, b, count, tally atomic.Int64 // the values before the update
}

// crashWorkerConfig is what a worker is told; its fields are exported for
// encoding/gob.
type crashWorkerConfig struct {
	Slot            int
	Seed            uint64
	Work            int
	SkipRepair      bool
	IgnoreOwnerDead bool
}

func init() {
	shm.Register(crashWorker)
}

// crashWorker updates the shared data under the lock until told to stop,
// repairing what a dead worker left.
func crashWorker(st *shm.RawValue[crashState], tallies *shm.RawArray[atomic.Int64], cfg crashWorkerConfig) error {
	s := st.Ptr()
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Slot)))
	s.started.Add(1)
	for !s.stop.Load() {
		t0 := time.Now()
		err := s.mu.LockContext(context.Background())
		s.noteWait(time.Since(t0))
		if cfg.IgnoreOwnerDead && errors.Is(err, shm.ErrOwnerDead) {
			err = nil
		}
		switch {
		case err == nil:
			s.checkOnLock(tallies, cfg.SkipRepair)
		case errors.Is(err, shm.ErrOwnerDead):
			s.ownerDead.Add(1)
			s.repair(tallies, cfg.SkipRepair)
		default:
			return fmt.Errorf("worker %d: LockContext: %w", cfg.Slot, err)
		}
		s.holder.Store(int64(os.Getpid()))
		s.update(cfg.Slot, tallies, rng.IntN(2*cfg.Work+1))
		s.holder.Store(0)
		s.mu.Unlock()
	}
	return nil
}

// noteWait raises the longest wait to d if d is longer.
func (s *crashState) noteWait(d time.Duration) {
	for {
		old := s.maxWait.Load()
		if int64(d) <= old || s.maxWait.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// The steps of an update after which the parent may ask a worker to stop,
// in the order it asks for them.
const (
	afterA = 1 + iota
	afterB
	afterTally
	afterCount
	afterJournal
	updateSteps = iota
)

// update makes one update, with s.mu held: journal, A, work, B, tally, count,
// and clearing the journal completes it.
func (s *crashState) update(slot int, tallies *shm.RawArray[atomic.Int64], work int) {
	j := &s.journal
	tally := &tallies.Slice()[slot]
	a, b, n, t := s.a.Load(), s.b.Load(), s.count.Load(), tally.Load()
	j.slot.Store(int64(slot))
	j.a.Store(a)
	j.b.Store(b)
	j.count.Store(n)
	j.tally.Store(t)
	j.open.Store(1)
	s.stallAfter(afterJournal, slot)
	s.a.Store(a + 1) // A+B == 1 from here...
	s.stallAfter(afterA, slot)
	busy(work)
	s.b.Store(b - 1) // ... to here
	s.stallAfter(afterB, slot)
	tally.Store(t + 1)
	s.stallAfter(afterTally, slot)
	s.count.Store(n + 1)
	s.stallAfter(afterCount, slot)
	j.open.Store(0)
}

// stallAfter stops the worker for good if the parent asked for a worker to
// stop after step, so that the parent can kill it there.
func (s *crashState) stallAfter(step int32, slot int) {
	if s.stallReq.Load() == step && s.stallReq.CompareAndSwap(step, 0) {
		s.stalled.Store(int32(slot + 1))
		for {
			time.Sleep(time.Hour) // until the parent kills this process
		}
	}
}

var busySink uint64

// busy spins for n rounds of a xorshift generator.
func busy(n int) {
	x := uint64(n) | 1
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	busySink = x
}

// checkOnLock checks the data after a lock that did not report a dead owner:
// no update may be in flight, and A+B must be 0.
func (s *crashState) checkOnLock(tallies *shm.RawArray[atomic.Int64], skipRepair bool) {
	if s.journal.open.Load() != 0 {
		s.unreported.Add(1)
		s.repair(tallies, skipRepair)
	}
	if s.a.Load()+s.b.Load() != 0 {
		s.brokenSeen.Add(1)
	}
}

// repair undoes the update the journal shows in flight, if there is one: its
// owner died before completing it. It writes the journal's values back, then
// records what it found, then closes the journal, so that a repairer killed
// on the way leaves the repair to the next owner to do, and count, again.
// With skipRepair, it only records and closes.
func (s *crashState) repair(tallies *shm.RawArray[atomic.Int64], skipRepair bool) {
	j := &s.journal
	if j.open.Load() == 0 {
		return // the dead owner was not in the middle of an update
	}
	tally := &tallies.Slice()[j.slot.Load()]
	dirty := s.a.Load() != j.a.Load() || s.b.Load() != j.b.Load() ||
		s.count.Load() != j.count.Load() || tally.Load() != j.tally.Load()
	broken := s.a.Load()+s.b.Load() != 0
	if !skipRepair {
		s.a.Store(j.a.Load())
		s.b.Store(j.b.Load())
		s.count.Store(j.count.Load())
		tally.Store(j.tally.Load())
	}
	s.rolledBack.Add(1)
	if dirty {
		s.dirty.Add(1)
	}
	if broken {
		s.broken.Add(1)
	}
	j.open.Store(0)
}

// A crashResult is what a campaign did and found.
type crashResult struct {
	Seed           uint64        `json:"seed"`
	Workers        int           `json:"workers"`
	Kills          int           `json:"kills"`
	KillsMidUpdate int           `json:"kills_mid_update"`
	KillsRandom    int           `json:"kills_random"`
	KillsAtAbort   int           `json:"kills_at_abort"` // workers killed to end a failed run
	Elapsed        time.Duration `json:"elapsed_ns"`
	Updates        int64         `json:"updates"`
	OwnerDead      int64         `json:"owner_dead"`      // ErrOwnerDead recoveries
	RolledBack     int64         `json:"rolled_back"`     // updates found in flight and undone
	Dirty          int64         `json:"dirty_repaired"`  // of those, updates that had written something
	Broken         int64         `json:"broken_repaired"` // of those, updates that had left A+B != 0
	LongestWait    time.Duration `json:"longest_wait_ns"`
	A              int64         `json:"a"`
	B              int64         `json:"b"`
	Tallies        int64         `json:"tallies"` // sum of the workers' tallies
	Checks         []crashCheck  `json:"checks"`
	OK             bool          `json:"ok"` // every check passed
}

type crashCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// check returns the named check's result.
func (r *crashResult) check(name string) crashCheck {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return crashCheck{}
}

func (r *crashResult) print(w io.Writer) {
	fmt.Fprintf(w, "seed %d (rerun with -seed %[1]d)\n", r.Seed)
	fmt.Fprintf(w, "%s, %s (%d mid-update, %d at random moments) in %s\n",
		plural(r.Workers, "worker"), plural(r.Kills, "kill"), r.KillsMidUpdate, r.KillsRandom, r.Elapsed.Round(10*time.Millisecond))
	if r.KillsAtAbort > 0 {
		fmt.Fprintf(w, "%s killed to end the run\n", plural(r.KillsAtAbort, "more worker"))
	}
	line := func(label string, value any) { fmt.Fprintf(w, "%-30s %8v\n", label, value) }
	line("updates completed", r.Updates)
	line("ErrOwnerDead recoveries", r.OwnerDead)
	line("updates in flight rolled back", r.RolledBack)
	fmt.Fprintf(w, "%-30s %8d (A+B != 0 in %d)\n", "dirty states repaired", r.Dirty, r.Broken)
	line("longest wait for the lock", roundDuration(r.LongestWait))
	for _, c := range r.Checks {
		status := "ok  "
		if !c.OK {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s: %s\n", status, c.Name, c.Detail)
	}
	if r.OK {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// The names of the checks.
const (
	checkDeadlock  = "no deadlock"
	checkInvariant = "invariant holds"
	checkCounted   = "every completed update counted"
	checkReported  = "every owner death reported"
	checkWorkers   = "workers ended as expected"
)

// A crashProc is one worker process.
type crashProc struct {
	slot  int
	p     *shm.Process
	done  chan error // Join's result
	err   error
	ended bool
}

// poll reports whether the worker has ended, without waiting.
func (w *crashProc) poll() bool {
	if !w.ended {
		select {
		case w.err = <-w.done:
			w.ended = true
		default:
		}
	}
	return w.ended
}

// A crashRun is a campaign in progress, in the parent.
type crashRun struct {
	cfg     crashConfig
	st      *shm.RawValue[crashState]
	s       *crashState
	tallies *shm.RawArray[atomic.Int64]
	rng     *rand.Rand
	procs   []*crashProc // by slot
	starts  int          // workers started, replacements included
	res     crashResult

	stopping bool     // the workers were told to return
	starting bool     // waiting for workers to start: the watchdog sleeps
	deadlock string   // what the watchdog saw, if it fired
	problems []string // workers that did not end as they should have

	// The watchdog: when the count last moved.
	lastCount   int64
	lastAdvance time.Time

	// Progress.
	out          io.Writer
	tty          bool
	begin        time.Time
	lastProgress time.Time
	lastTenth    int
}

// pollEvery is how often the parent looks at the shared state while it waits.
const pollEvery = 100 * time.Microsecond

// runCrash runs a campaign, printing progress to progress.
func runCrash(cfg crashConfig, progress io.Writer) (*crashResult, error) {
	st, err := shm.NewRawValue(crashState{})
	if err != nil {
		return nil, err
	}
	tallies, err := shm.NewRawArray[atomic.Int64](cfg.workers)
	if err != nil {
		return nil, err
	}
	c := &crashRun{
		cfg: cfg, st: st, s: st.Ptr(), tallies: tallies,
		rng:   rand.New(rand.NewPCG(cfg.seed, 0)),
		procs: make([]*crashProc, cfg.workers),
		out:   progress, tty: isTerminal(progress),
	}
	c.res.Seed, c.res.Workers = cfg.seed, cfg.workers
	c.begin = time.Now()
	c.lastAdvance = c.begin
	fmt.Fprintf(c.out, "shm stress crash: seed %d, %s, %s\n", cfg.seed, plural(cfg.workers, "worker"), plural(cfg.kills, "kill"))

	if err := c.campaign(); err != nil {
		if !errors.Is(err, errDeadlock) {
			c.problems = append(c.problems, err.Error())
		}
		c.abort()
	} else if err := c.stopWorkers(); err != nil {
		if !errors.Is(err, errDeadlock) {
			c.problems = append(c.problems, err.Error())
		}
		c.abort()
	}
	c.progress(true)
	c.finish()
	c.res.Elapsed = time.Since(c.begin)
	return &c.res, nil
}

// campaign starts the workers and kills one after another.
func (c *crashRun) campaign() error {
	for slot := range c.procs {
		if err := c.startWorker(slot); err != nil {
			return err
		}
	}
	if err := c.waitStarted(); err != nil {
		return err
	}
	for k := range c.cfg.kills {
		var slot int
		if k%2 == 0 {
			// Ask for a worker to stop in the middle of an update, and kill it there.
			step := int32(k/2%updateSteps + 1)
			c.s.stallReq.Store(step)
			if err := c.wait("a worker to stop mid-update", func() bool { return c.s.stalled.Load() != 0 }); err != nil {
				return err
			}
			slot = int(c.s.stalled.Swap(0)) - 1
			if c.cfg.neverKillStalled {
				return c.wait("the test's deadlock", func() bool { return false })
			}
			c.res.KillsMidUpdate++
		} else {
			// A random worker at a random moment.
			slot = c.rng.IntN(len(c.procs))
			deadline := time.Now().Add(time.Duration(c.rng.Int64N(int64(5 * time.Millisecond))))
			if err := c.wait("the moment to kill", func() bool { return !time.Now().Before(deadline) }); err != nil {
				return err
			}
			c.res.KillsRandom++
		}
		if err := c.kill(slot); err != nil {
			return err
		}
		c.res.Kills++
		if err := c.startWorker(slot); err != nil {
			return err
		}
		if err := c.waitStarted(); err != nil {
			return err
		}
		c.progress(false)
	}
	return nil
}

// startWorker starts a worker in slot.
func (c *crashRun) startWorker(slot int) error {
	cfg := crashWorkerConfig{Slot: slot, Seed: c.cfg.seed ^ uint64(c.starts)<<32, Work: c.cfg.work, SkipRepair: c.cfg.skipRepair, IgnoreOwnerDead: c.cfg.ignoreOwnerDead}
	p, err := shm.Start(crashWorker, c.st, c.tallies, cfg)
	if err != nil {
		return fmt.Errorf("starting worker %d: %w", slot, err)
	}
	c.starts++
	w := &crashProc{slot: slot, p: p, done: make(chan error, 1)}
	go func() { w.done <- p.Join() }()
	c.procs[slot] = w
	return nil
}

// waitStarted waits until every worker started has begun its loop. The
// watchdog sleeps meanwhile: a deadlock needs workers running, and a process
// can take long to start on a busy machine. Starting has a minute.
func (c *crashRun) waitStarted() error {
	deadline := time.Now().Add(startTimeout)
	c.starting = true
	err := c.wait("the workers to start", func() bool {
		return c.s.started.Load() == int64(c.starts) || time.Now().After(deadline)
	})
	c.starting = false
	c.lastAdvance = time.Now()
	if err == nil && c.s.started.Load() != int64(c.starts) {
		err = fmt.Errorf("%d of %d workers did not start within %s", int64(c.starts)-c.s.started.Load(), c.starts, startTimeout)
	}
	return err
}

const startTimeout = time.Minute

// kill kills the worker in slot and checks that it died of SIGKILL.
func (c *crashRun) kill(slot int) error {
	w := c.procs[slot]
	if err := w.p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing worker %d (pid %d): %w", slot, w.p.Pid(), err)
	}
	if err := c.wait("a killed worker to end", w.poll); err != nil {
		return err
	}
	if !killedBySIGKILL(w.err) {
		return fmt.Errorf("worker %d (pid %d) was killed, but Join says %v", slot, w.p.Pid(), w.err)
	}
	return nil
}

func killedBySIGKILL(err error) bool {
	var e *shm.ExitError
	if !errors.As(err, &e) {
		return false
	}
	ws, ok := e.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// stopWorkers tells the workers to return and waits for them.
func (c *crashRun) stopWorkers() error {
	c.stopping = true
	c.s.stop.Store(true)
	for _, w := range c.procs {
		if err := c.wait("the workers to return", w.poll); err != nil {
			return err
		}
		if w.err != nil {
			c.problems = append(c.problems, fmt.Sprintf("worker %d (pid %d): %v", w.slot, w.p.Pid(), w.err))
		}
	}
	return nil
}

// abort kills the workers still running, to end a failed run.
func (c *crashRun) abort() {
	c.stopping = true
	// Kill them all before waiting for any, so that a waiting worker has no
	// time to take over the lock of one killed before it.
	for _, w := range c.procs {
		if w != nil && !w.poll() {
			w.p.Kill()
		}
	}
	for _, w := range c.procs {
		if w == nil || w.ended {
			continue
		}
		select {
		case w.err = <-w.done:
			w.ended = true
			c.res.KillsAtAbort++
		case <-time.After(c.cfg.watchdog):
			c.problems = append(c.problems, fmt.Sprintf("worker %d (pid %d) did not end when killed", w.slot, w.p.Pid()))
		}
	}
}

var errDeadlock = errors.New("deadlock")

// wait polls cond until it holds. Between polls it checks that no worker has
// ended unexpectedly, feeds the watchdog and prints progress.
func (c *crashRun) wait(what string, cond func() bool) error {
	for !cond() {
		now := time.Now()
		if !c.stopping {
			for _, w := range c.procs {
				if w != nil && w.poll() {
					if cond() {
						return nil // the worker waited for, a killed one, ended between the looks
					}
					return fmt.Errorf("worker %d (pid %d) ended on its own: %v", w.slot, w.p.Pid(), w.err)
				}
			}
		}
		if n := c.s.count.Load(); n != c.lastCount {
			c.lastCount, c.lastAdvance = n, now
		} else if !c.starting && now.Sub(c.lastAdvance) >= c.cfg.watchdog {
			c.deadlock = fmt.Sprintf("no update completed for %s while the parent waited for %s (lock holder: %s)",
				c.cfg.watchdog, what, c.holderText())
			return errDeadlock
		}
		if c.tty {
			c.progress(false)
		}
		time.Sleep(pollEvery)
	}
	return nil
}

func (c *crashRun) holderText() string {
	pid := c.s.holder.Load()
	if pid == 0 {
		return "none recorded"
	}
	text := fmt.Sprintf("pid %d", pid)
	if c.s.journal.open.Load() != 0 {
		text += ", in the middle of an update"
	}
	return text
}

// progress prints a progress line: rewritten every 200ms on a terminal, and
// a new line per tenth of the kills otherwise.
func (c *crashRun) progress(final bool) {
	now := time.Now()
	line := fmt.Sprintf("shm stress crash: %d/%d kills, %d updates, %d ErrOwnerDead, %s",
		c.res.Kills, c.cfg.kills, c.s.count.Load(), c.s.ownerDead.Load(), now.Sub(c.begin).Round(100*time.Millisecond))
	if c.tty {
		if final || now.Sub(c.lastProgress) >= 200*time.Millisecond {
			fmt.Fprintf(c.out, "\r%s\x1b[K", line)
			c.lastProgress = now
		}
		if final {
			fmt.Fprintln(c.out)
		}
		return
	}
	tenth := 10
	if c.cfg.kills > 0 {
		tenth = c.res.Kills * 10 / c.cfg.kills
	}
	if tenth > c.lastTenth || final && c.res.Kills < c.cfg.kills {
		c.lastTenth = tenth
		fmt.Fprintln(c.out, line)
	}
}

// isTerminal reports whether w is a terminal (or another character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// finish takes the lock once every worker has ended, repairs what the last
// death left, and makes the checks.
func (c *crashRun) finish() {
	s, r := c.s, &c.res
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.watchdog)
	defer cancel()
	locked := true
	switch err := s.mu.LockContext(ctx); {
	case err == nil:
		s.checkOnLock(c.tallies, c.cfg.skipRepair)
	case errors.Is(err, shm.ErrOwnerDead):
		s.ownerDead.Add(1)
		s.repair(c.tallies, c.cfg.skipRepair)
	default:
		locked = false
		if c.deadlock == "" {
			c.deadlock = fmt.Sprintf("the parent could not lock within %s once the workers had ended: %v", c.cfg.watchdog, err)
		}
	}
	r.Updates, r.A, r.B = s.count.Load(), s.a.Load(), s.b.Load()
	for i := range c.tallies.Len() {
		r.Tallies += c.tallies.Slice()[i].Load()
	}
	r.OwnerDead, r.RolledBack, r.Dirty, r.Broken = s.ownerDead.Load(), s.rolledBack.Load(), s.dirty.Load(), s.broken.Load()
	r.LongestWait = time.Duration(s.maxWait.Load())
	unreported, brokenSeen := s.unreported.Load(), s.brokenSeen.Load()
	if locked {
		s.mu.Unlock()
	}

	add := func(name string, ok bool, format string, args ...any) {
		r.Checks = append(r.Checks, crashCheck{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	if c.deadlock == "" {
		add(checkDeadlock, true, "an update completed at least every %s", c.cfg.watchdog)
	} else {
		add(checkDeadlock, false, "%s", c.deadlock)
	}

	switch {
	case !locked:
		add(checkInvariant, false, "not checked: the parent could not lock")
	case r.A+r.B != 0 || brokenSeen != 0:
		add(checkInvariant, false, "A+B = %d at the end (A = %d, B = %d); %d locks found A+B != 0", r.A+r.B, r.A, r.B, brokenSeen)
	default:
		add(checkInvariant, true, "A+B = 0 at the end (A = %d) and at every lock", r.A)
	}

	switch {
	case !locked:
		add(checkCounted, false, "not checked: the parent could not lock")
	case r.Updates != r.A || r.Updates != r.Tallies:
		add(checkCounted, false, "count %d, A %d, sum of the workers' tallies %d", r.Updates, r.A, r.Tallies)
	default:
		add(checkCounted, true, "count = A = sum of the workers' tallies = %d", r.Updates)
	}

	deaths := int64(r.Kills + r.KillsAtAbort)
	switch {
	case unreported != 0:
		add(checkReported, false, "%d locks found an update in flight without ErrOwnerDead", unreported)
	case r.OwnerDead > deaths:
		add(checkReported, false, "%d ErrOwnerDead for %d kills", r.OwnerDead, deaths)
	default:
		add(checkReported, true, "no lock found an update in flight without ErrOwnerDead; %d ErrOwnerDead for %d kills", r.OwnerDead, deaths)
	}

	if len(c.problems) == 0 {
		add(checkWorkers, true, "%d killed by SIGKILL, %d returned", r.Kills, len(c.procs))
	} else {
		add(checkWorkers, false, "%s", strings.Join(c.problems, "; "))
	}

	r.OK = true
	for _, ch := range r.Checks {
		r.OK = r.OK && ch.OK
	}
}
