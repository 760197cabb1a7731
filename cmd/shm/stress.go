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

const stressUsage = `usage: shm stress crash [-mode m] [-workers n] [-kills n] [-permits n] [-seed n] [-json]

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

	-mode m     mutex (the default: the campaign above), or event, cond,
	            barrier or semaphore: workers wait on and notify that
	            primitive, and the command kills waiters and notifiers
	            alike, some in the window where a death matters most
	            (a notifier mid-turn, a party inside Wait, a holder of
	            a permit), and checks that no survivor hangs (no wait
	            runs out after 10s), that no wait returns without a
	            notify, the primitive's invariant (a Set or Broadcast
	            wakes its waiters; every Barrier index as often as the
	            others; never more holders than permits, and no permit
	            lost but to a kill inside Acquire or Release), and that
	            workers ended as expected
	-workers n  worker processes (default 4)
	-kills n    how many workers to kill (default 1000)
	-permits n  -mode semaphore: the Semaphore's permits (default 2)
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
	fs.IntVar(&cfg.permits, "permits", cfg.permits, "the Semaphore's permits")
	fs.StringVar(&cfg.mode, "mode", cfg.mode, "what to crash: mutex, event, cond, barrier or semaphore")
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
	return crash(cfg, stdout, stderr)
}

// crash runs the campaign cfg.mode names, prints its results and returns the
// exit status.
func crash(cfg crashConfig, stdout, stderr io.Writer) int {
	res, err := runCampaign(cfg, stderr)
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
	if !res.passed() {
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
	campaignShared
	maxWait atomic.Int64 // longest wait for mu, in nanoseconds
	holder  atomic.Int64 // PID of the worker that holds mu, for a deadlock report
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
	Checks         crashChecks   `json:"checks"`
	OK             bool          `json:"ok"` // every check passed
}

func (r *crashResult) passed() bool { return r.OK }

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
	r.Checks.print(w)
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

// A mutexRun is the mutex campaign's part of the parent: it asks a worker to
// stop mid-update for a kill in the window, replaces each worker killed, and
// makes the checks.
type mutexRun struct {
	*campaign
	st      *shm.RawValue[crashState]
	s       *crashState
	tallies *shm.RawArray[atomic.Int64]
}

func newMutexRun(c *campaign) (*mutexRun, error) {
	st, err := shm.NewRawValue(crashState{})
	if err != nil {
		return nil, err
	}
	tallies, err := shm.NewRawArray[atomic.Int64](c.cfg.workers)
	if err != nil {
		return nil, err
	}
	return &mutexRun{campaign: c, st: st, s: st.Ptr(), tallies: tallies}, nil
}

func (c *mutexRun) shared() *campaignShared { return &c.s.campaignShared }

func (c *mutexRun) start(slot int, seed uint64) (*shm.Process, error) {
	cfg := crashWorkerConfig{Slot: slot, Seed: seed, Work: c.cfg.work, SkipRepair: c.cfg.skipRepair, IgnoreOwnerDead: c.cfg.ignoreOwnerDead}
	return shm.Start(crashWorker, c.st, c.tallies, cfg)
}

// watched is the count of completed updates.
func (c *mutexRun) watched() int64 { return c.s.count.Load() }

func (c *mutexRun) progressText() string {
	return fmt.Sprintf("%d updates, %d ErrOwnerDead", c.s.count.Load(), c.s.ownerDead.Load())
}

func (c *mutexRun) deadlockText(what string) string {
	return fmt.Sprintf("no update completed for %s while the parent waited for %s (lock holder: %s)",
		c.cfg.watchdog, what, c.holderText())
}

// windowVictim asks for a worker to stop in the middle of an update, at each
// step in turn.
func (c *mutexRun) windowVictim() (int, error) {
	return c.stalledVictim(int32(c.windowKills%updateSteps+1), "a worker to stop mid-update")
}

func (c *mutexRun) beforeKill() error { return nil }

func (c *mutexRun) afterKill(slot int) error { return c.replace(slot) }

// wake has nothing to do: the workers never wait but for the lock.
func (c *mutexRun) wake() error { return nil }

func (c *mutexRun) holderText() string {
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

// finish takes the lock once every worker has ended, repairs what the last
// death left, and makes the checks.
func (c *mutexRun) finish() report {
	s := c.s
	r := &crashResult{
		Seed: c.cfg.seed, Workers: c.cfg.workers,
		Kills: c.kills, KillsMidUpdate: c.windowKills, KillsRandom: c.randomKills, KillsAtAbort: c.abortKills,
	}
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

	add := r.Checks.add
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
	r.OK = r.Checks.ok()
	r.Elapsed = time.Since(c.begin)
	return r
}

// The campaign runner: what every crash campaign's parent does, whatever its
// workers do. It starts the workers, and then, -kills times, picks a victim
// (every other one in the window where a death matters most, the others at
// random), kills it and lets the workload account for the kill and replace
// it. While it waits for anything it checks that no worker ended on its own,
// feeds the watchdog and prints progress. At the end it tells the workers to
// return, or kills them all if the run failed, and the workload makes the
// checks.

// A workload is what the workers of one kind of campaign do, as the parent
// sees it. Its methods run in the parent, with the campaign's machinery at
// hand.
type workload interface {
	// shared returns the part of the shared memory the runner uses.
	shared() *campaignShared
	// start starts a worker in slot, seeded with seed.
	start(slot int, seed uint64) (*shm.Process, error)
	// progress returns the watchdog's counter: a campaign in which it stands
	// still for -watchdog while workers run has deadlocked.
	watched() int64
	// progressText describes the progress, for the progress line.
	progressText() string
	// deadlockText describes a deadlock seen while the parent waited for what.
	deadlockText(what string) string
	// windowVictim waits for a worker in the window where its death matters
	// most and returns its slot, or -1 if there is none to wait for: then
	// the victim is a random one.
	windowVictim() (int, error)
	// beforeKill runs before the runner picks each victim.
	beforeKill() error
	// afterKill accounts for the worker killed in slot and replaces it.
	afterKill(slot int) error
	// wake wakes the workers' waits once they have been told to return.
	wake() error
	// finish makes the checks, once the workers have ended.
	finish() report
}

// A report is a campaign's results: a crashResult or a syncResult.
type report interface {
	print(w io.Writer)
	passed() bool
}

// campaignShared is the part of a campaign's shared memory that the runner
// uses, embedded in each workload's.
type campaignShared struct {
	started  atomic.Int64 // workers that have begun their loop
	stop     atomic.Bool  // the parent asks the workers to return
	stallReq atomic.Int32 // a step: the parent asks a worker to stop after it
	stalled  atomic.Int32 // slot+1 of the worker that did
}

// stallAfter stops the worker for good if the parent asked for a worker to
// stop after step, so that the parent can kill it there.
func (s *campaignShared) stallAfter(step int32, slot int) {
	if s.stallReq.Load() == step && s.stallReq.CompareAndSwap(step, 0) {
		s.stalled.Store(int32(slot + 1))
		for {
			time.Sleep(time.Hour) // until the parent kills this process
		}
	}
}

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

// A campaign is a crash campaign in progress, in the parent.
type campaign struct {
	cfg    crashConfig
	w      workload
	sh     *campaignShared
	rng    *rand.Rand
	procs  []*crashProc // by slot
	starts int          // workers started, replacements included

	// mayReturn says that workers may return on their own: barrier parties
	// do when their Barrier breaks.
	mayReturn bool

	kills       int // workers killed
	windowKills int // of those, in the window
	randomKills int // of those, at random moments
	abortKills  int // workers killed to end a failed run

	stopping bool     // the workers were told to return
	starting bool     // waiting for workers to start: the watchdog sleeps
	deadlock string   // what the watchdog saw, if it fired
	problems []string // workers that did not end as they should have

	// The watchdog: when its counter last moved.
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

// runCampaign runs the campaign cfg.mode names, printing progress to
// progress.
func runCampaign(cfg crashConfig, progress io.Writer) (report, error) {
	c, err := newCampaign(cfg, progress)
	if err != nil {
		return nil, err
	}
	mode := ""
	if cfg.mode != modeMutex {
		mode = "mode " + cfg.mode + ", "
	}
	fmt.Fprintf(c.out, "shm stress crash: %sseed %d, %s, %s\n", mode, cfg.seed, plural(cfg.workers, "worker"), plural(cfg.kills, "kill"))

	if err := c.loop(); err != nil {
		c.fail(err)
	} else if err := c.stopWorkers(); err != nil {
		c.fail(err)
	}
	c.progress(true)
	return c.w.finish(), nil
}

// newCampaign makes the shared memory of the campaign cfg.mode names.
func newCampaign(cfg crashConfig, progress io.Writer) (*campaign, error) {
	c := &campaign{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.seed, 0)),
		procs: make([]*crashProc, cfg.workers),
		out:   progress, tty: isTerminal(progress),
	}
	var err error
	if cfg.mode == modeMutex {
		c.w, err = newMutexRun(c)
	} else {
		c.w, err = newSyncRun(c)
	}
	if err != nil {
		return nil, err
	}
	c.sh = c.w.shared()
	c.begin = time.Now()
	c.lastAdvance = c.begin
	return c, nil
}

// fail ends a failed run: it notes err unless the watchdog did, and kills
// the workers.
func (c *campaign) fail(err error) {
	if !errors.Is(err, errDeadlock) {
		c.problems = append(c.problems, err.Error())
	}
	c.abort()
}

// loop starts the workers and kills one after another.
func (c *campaign) loop() error {
	for slot := range c.procs {
		if err := c.startWorker(slot); err != nil {
			return err
		}
	}
	if err := c.waitStarted(); err != nil {
		return err
	}
	for k := 0; c.kills < c.cfg.kills; k++ {
		if err := c.w.beforeKill(); err != nil {
			return err
		}
		slot, err := c.pickVictim(k%2 == 0)
		if err != nil {
			return err
		}
		if killed, err := c.kill(slot); err != nil {
			return err
		} else if !killed {
			continue // a worker that had returned on its own
		}
		c.kills++
		if err := c.w.afterKill(slot); err != nil {
			return err
		}
		c.progress(false)
	}
	return nil
}

// pickVictim chooses whom to kill, waiting for the moment: in the window
// where a death matters most if window and the workload has one, else a
// random worker at a random moment.
func (c *campaign) pickVictim(window bool) (int, error) {
	if window {
		slot, err := c.w.windowVictim()
		if err != nil {
			return 0, err
		}
		if slot >= 0 {
			c.windowKills++
			return slot, nil
		}
	}
	deadline := time.Now().Add(time.Duration(c.rng.Int64N(int64(5 * time.Millisecond))))
	if err := c.wait("the moment to kill", func() bool { return !time.Now().Before(deadline) }); err != nil {
		return 0, err
	}
	c.randomKills++
	return c.rng.IntN(c.cfg.workers), nil
}

// stalledVictim asks for a worker to stop after step, waits for one to do
// it (described by what), and returns its slot.
func (c *campaign) stalledVictim(step int32, what string) (int, error) {
	c.sh.stallReq.Store(step)
	if err := c.wait(what, func() bool { return c.sh.stalled.Load() != 0 }); err != nil {
		return 0, err
	}
	if c.cfg.neverKillStalled {
		return 0, c.wait("the test's deadlock", func() bool { return false })
	}
	return int(c.sh.stalled.Swap(0)) - 1, nil
}

// startWorker starts a worker in slot.
func (c *campaign) startWorker(slot int) error {
	p, err := c.w.start(slot, c.cfg.seed^uint64(c.starts)<<32)
	if err != nil {
		return fmt.Errorf("starting worker %d: %w", slot, err)
	}
	c.starts++
	w := &crashProc{slot: slot, p: p, done: make(chan error, 1)}
	go func() { w.done <- p.Join() }()
	c.procs[slot] = w
	return nil
}

// replace starts a worker in slot and waits for it to start.
func (c *campaign) replace(slot int) error {
	if err := c.startWorker(slot); err != nil {
		return err
	}
	return c.waitStarted()
}

// waitStarted waits until every worker started has begun its loop. The
// watchdog sleeps meanwhile: a deadlock needs workers running, and a process
// can take long to start on a busy machine. Starting has a minute.
func (c *campaign) waitStarted() error {
	deadline := time.Now().Add(startTimeout)
	c.starting = true
	err := c.wait("the workers to start", func() bool {
		return c.sh.started.Load() == int64(c.starts) || time.Now().After(deadline)
	})
	c.starting = false
	c.lastAdvance = time.Now()
	if err == nil && c.sh.started.Load() != int64(c.starts) {
		err = fmt.Errorf("%d of %d workers did not start within %s", int64(c.starts)-c.sh.started.Load(), c.starts, startTimeout)
	}
	return err
}

const startTimeout = time.Minute

// kill kills the worker in slot, checks that it died of SIGKILL, and reports
// whether it did: a worker that may return on its own may have done so.
func (c *campaign) kill(slot int) (bool, error) {
	w := c.procs[slot]
	if c.mayReturn && w.poll() {
		return false, nil
	}
	if err := w.p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return false, fmt.Errorf("killing worker %d (pid %d): %w", slot, w.p.Pid(), err)
	}
	if err := c.wait("a killed worker to end", w.poll); err != nil {
		return false, err
	}
	if killedBySIGKILL(w.err) {
		return true, nil
	}
	if c.mayReturn && w.err == nil {
		return false, nil // it returned before the signal came
	}
	return false, fmt.Errorf("worker %d (pid %d) was killed, but Join says %v", slot, w.p.Pid(), w.err)
}

func killedBySIGKILL(err error) bool {
	var e *shm.ExitError
	if !errors.As(err, &e) {
		return false
	}
	ws, ok := e.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// anyEnded reports whether a worker that may return on its own did.
func (c *campaign) anyEnded() bool {
	if !c.mayReturn {
		return false
	}
	for _, w := range c.procs {
		if w.poll() {
			return true
		}
	}
	return false
}

// stopWorkers tells the workers to return, wakes those waiting, and waits
// for them.
func (c *campaign) stopWorkers() error {
	c.stopping = true
	c.sh.stop.Store(true)
	if err := c.w.wake(); err != nil {
		return err
	}
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
func (c *campaign) abort() {
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
			c.abortKills++
		case <-time.After(c.cfg.watchdog):
			c.problems = append(c.problems, fmt.Sprintf("worker %d (pid %d) did not end when killed", w.slot, w.p.Pid()))
		}
	}
}

var errDeadlock = errors.New("deadlock")

// wait polls cond until it holds. Between polls it checks that no worker has
// ended unexpectedly, feeds the watchdog and prints progress.
func (c *campaign) wait(what string, cond func() bool) error {
	for !cond() {
		now := time.Now()
		if !c.stopping && !c.mayReturn {
			for _, w := range c.procs {
				if w != nil && w.poll() {
					if cond() {
						return nil // the worker waited for, a killed one, ended between the looks
					}
					return fmt.Errorf("worker %d (pid %d) ended on its own: %v", w.slot, w.p.Pid(), w.err)
				}
			}
		}
		if n := c.w.watched(); n != c.lastCount {
			c.lastCount, c.lastAdvance = n, now
		} else if !c.starting && now.Sub(c.lastAdvance) >= c.cfg.watchdog {
			c.deadlock = c.w.deadlockText(what)
			return errDeadlock
		}
		if c.tty {
			c.progress(false)
		}
		time.Sleep(pollEvery)
	}
	return nil
}

// progress prints a progress line: rewritten every 200ms on a terminal, and
// a new line per tenth of the kills otherwise.
func (c *campaign) progress(final bool) {
	now := time.Now()
	line := fmt.Sprintf("shm stress crash: %d/%d kills, %s, %s",
		c.kills, c.cfg.kills, c.w.progressText(), now.Sub(c.begin).Round(100*time.Millisecond))
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
		tenth = c.kills * 10 / c.cfg.kills
	}
	if tenth > c.lastTenth || final && c.kills < c.cfg.kills {
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

// A crashCheck is the result of one of a campaign's checks.
type crashCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// crashChecks are a campaign's checks, in the order it made them.
type crashChecks []crashCheck

func (cs *crashChecks) add(name string, ok bool, format string, args ...any) {
	*cs = append(*cs, crashCheck{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

// check returns the named check's result.
func (cs crashChecks) check(name string) crashCheck {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return crashCheck{}
}

// ok reports whether every check passed.
func (cs crashChecks) ok() bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return true
}

// print prints the checks, then PASS or FAIL.
func (cs crashChecks) print(w io.Writer) {
	for _, c := range cs {
		status := "ok  "
		if !c.OK {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s: %s\n", status, c.Name, c.Detail)
	}
	if cs.ok() {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}
