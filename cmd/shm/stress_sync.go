package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm"
)

// The crash campaigns against Event, Cond, Barrier and Semaphore.
//
// In each, worker processes loop on the primitive in both roles, waiting and
// notifying, and the parent kills a random worker at a random moment, or one
// in the window where a death matters most, and starts a replacement. Every
// wait in a worker is bounded by a context of -watchdog: a wait that runs out
// is counted as a timeout, and a timeout is a failure, since in each mode
// some live worker always notifies in time.
//
//   - event: a ring. The worker whose turn it is (round % workers) clears
//     the other of two Events, sets events[round%2] and moves the round on;
//     the others wait on events[round%2]. A replacement of a notifier killed
//     mid-turn redoes the turn. Checks: no Wait times out (a Set after the
//     Wait began woke it), and none returns without a Set for its round.
//   - cond: the same ring under a Mutex with a Cond: the notifier moves the
//     round on and Broadcasts; the others Wait while the round is theirs. A
//     worker that gets ErrOwnerDead Broadcasts, since the dead owner may have
//     moved the round on without it. Checks: no Wait times out (no lost
//     wake-up), and none returns nil with the round unchanged.
//   - barrier: the workers are the parties of a Barrier and loop on Wait. A
//     party killed before it arrived is replaced by the next worker; one
//     killed after it arrived breaks the Barrier, and then every survivor
//     must get ErrBrokenBarrier and return; the parent makes a new Barrier
//     and starts a new set of parties (a broken Barrier stays broken).
//     Checks: no Wait times out, and every index from 0 to workers-1 was
//     returned equally often, give or take one per kill.
//   - semaphore: workers Acquire a Semaphore of -permits, note that they
//     hold one, count how many hold one at once and Release. The parent
//     releases the permit of a worker killed while it held one; a worker
//     killed inside Acquire or Release may or may not have had a permit, so
//     the parent then pauses the workers and counts the free permits,
//     topping them up. Checks: no Acquire times out, never more holders
//     than permits, and at most one permit lost per such kill.

// The sync modes.
const (
	modeMutex     = "mutex"
	modeEvent     = "event"
	modeCond      = "cond"
	modeBarrier   = "barrier"
	modeSemaphore = "semaphore"
)

// syncModes are the modes -mode accepts besides mutex.
var syncModes = []string{modeEvent, modeCond, modeBarrier, modeSemaphore}

// maxSyncWorkers bounds -workers in the sync modes: the shared state has a
// slot per worker.
const maxSyncWorkers = 64

// syncCrashState is the shared memory of a sync campaign.
type syncCrashState struct {
	mu     shm.Mutex                 // cond: guards round
	events [maxSyncWorkers]shm.Event // event: events[i] says it is worker i's turn
	sem    shm.Semaphore

	round atomic.Int64 // event, cond: whose turn it is
	notes atomic.Int64 // cond: Broadcasts made, counted under mu before each

	campaignShared
	progress atomic.Int64 // waits or turns completed: the watchdog's counter
	pause    atomic.Bool  // semaphore: the parent asks the workers to park

	timeouts  atomic.Int64 // waits that ran out
	spurious  atomic.Int64 // waits that returned nil with nothing to wake them
	ownerDead atomic.Int64 // cond: ErrOwnerDead
	lostWake  atomic.Int64 // event, cond: waits that timed out with their notify made
	broken    atomic.Int64 // barrier: ErrBrokenBarrier
	overLimit atomic.Int64 // semaphore: times a holder counted more than permits
	maxHeld   atomic.Int64 // semaphore: the most holders counted at once

	flags    [maxSyncWorkers]atomic.Int32 // semaphore: a worker's state (semIdle...); barrier: 1 while in Wait; cond: 1 + the Broadcasts counted when its Wait began
	idxCount [maxSyncWorkers]atomic.Int64 // barrier: how often Wait returned each index
}

// A semaphore worker's state, in its flag.
const (
	semIdle      = iota
	semAcquiring // in Acquire: it may or may not have a permit
	semHolding   // it holds a permit
	semReleasing // in Release: it may or may not still have one
	semParked    // parked for an audit: it has none
)

// syncWorkerConfig is what a sync worker is told; its fields are exported
// for encoding/gob.
type syncWorkerConfig struct {
	Slot    int
	Workers int
	Permits int
	Seed    uint64
	Work    int
	Timeout time.Duration

	// Knobs that break the campaign, for the tests.
	SkipRepair      bool // cond: no Broadcast after ErrOwnerDead
	BadIndex        bool // barrier: record index 0 whatever Wait returned
	SilentBroadcast bool // cond: waiters Broadcast, not counting it, before they Wait
}

func init() {
	shm.Register(eventWorker)
	shm.Register(condWorker)
	shm.Register(barrierWorker)
	shm.Register(semWorker)
}

func (s *syncCrashState) timeout(cfg syncWorkerConfig) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), cfg.Timeout)
}

// The steps of a notifier's turn after which the parent may ask it to stop.
const (
	afterClear  = 1 + iota // event: the other Event cleared; cond: the lock taken
	afterSet               // event: Set; cond: the round moved on, not yet broadcast
	afterTurn              // event: the round moved on; cond: Broadcast, the lock still held
	notifySteps = iota
)

// eventWorker plays the Event ring until told to stop. Each worker has an
// Event that says it is its turn: the worker whose turn it is clears its own,
// sets the next worker's and moves the round on, in that order, so that a
// replacement of a worker killed on the way redoes what is left.
func eventWorker(st *shm.RawValue[syncCrashState], cfg syncWorkerConfig) error {
	s := st.Ptr()
	s.started.Add(1)
	n := int64(cfg.Workers)
	mine := &s.events[cfg.Slot]
	for !s.stop.Load() {
		r := s.round.Load()
		if r%n == int64(cfg.Slot) {
			mine.Clear()
			s.stallAfter(afterClear, cfg.Slot)
			s.events[(r+1)%n].Set()
			s.stallAfter(afterSet, cfg.Slot)
			if s.round.CompareAndSwap(r, r+1) {
				s.progress.Add(1)
			}
			s.stallAfter(afterTurn, cfg.Slot)
			continue
		}
		ctx, cancel := s.timeout(cfg)
		err := mine.Wait(ctx)
		cancel()
		switch {
		case s.stop.Load():
		case err != nil:
			s.timeouts.Add(1)
			if mine.IsSet() {
				s.lostWake.Add(1) // it timed out with its Event set
			}
		case !mine.IsSet():
			// Only this worker clears its Event.
			s.spurious.Add(1)
		}
	}
	return nil
}

// condWorker plays the Cond ring until told to stop.
func condWorker(st *shm.RawValue[syncCrashState], c *shm.Cond, cfg syncWorkerConfig) error {
	s := st.Ptr()
	s.started.Add(1)
	n := int64(cfg.Workers)
	ownerDied := func() {
		s.ownerDead.Add(1)
		if !cfg.SkipRepair {
			// The dead owner may have moved the round on without a Broadcast.
			s.notes.Add(1)
			c.Broadcast()
		}
	}
	for !s.stop.Load() {
		ctx, cancel := s.timeout(cfg)
		err := s.mu.LockContext(ctx)
		cancel()
		switch {
		case errors.Is(err, shm.ErrOwnerDead):
			ownerDied()
		case err != nil:
			s.timeouts.Add(1)
			continue
		}
		r := s.round.Load()
		if r%n == int64(cfg.Slot) {
			s.stallAfter(afterClear, cfg.Slot)
			s.round.Store(r + 1)
			if othersInWait(s, cfg) {
				// Only then does the Broadcast matter to every other worker:
				// a worker blocked on the Mutex would get ErrOwnerDead and
				// see the round moved on.
				s.stallAfter(afterSet, cfg.Slot)
			}
			s.notes.Add(1)
			c.Broadcast()
			s.progress.Add(1)
			s.stallAfter(afterTurn, cfg.Slot)
			s.mu.Unlock()
			continue
		}
		for s.round.Load() == r && !s.stop.Load() {
			if cfg.SilentBroadcast {
				c.Broadcast() // wakes the other waiters with nothing announced
			}
			notes := s.notes.Load()
			ctx, cancel := s.timeout(cfg)
			s.flags[cfg.Slot].Store(int32(notes) + 1)
			err := c.Wait(ctx)
			s.flags[cfg.Slot].Store(0)
			cancel()
			switch {
			case errors.Is(err, shm.ErrOwnerDead):
				ownerDied()
			case err != nil:
				s.timeouts.Add(1)
				if s.notes.Load() != notes {
					s.lostWake.Add(1) // a Broadcast since it began did not wake it
				}
			case s.notes.Load() == notes:
				s.spurious.Add(1) // woken with no Broadcast since it began
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// othersInWait reports whether every worker but this one waits on the Cond
// and has not been woken: it began its Wait after the latest Broadcast. The
// caller holds the Mutex, so none of them can return from Wait yet.
func othersInWait(s *syncCrashState, cfg syncWorkerConfig) bool {
	want := int32(s.notes.Load()) + 1
	for i := range cfg.Workers {
		if i != cfg.Slot && s.flags[i].Load() != want {
			return false
		}
	}
	return true
}

// barrierWorker waits on b until told to stop or b breaks.
func barrierWorker(st *shm.RawValue[syncCrashState], b *shm.Barrier, cfg syncWorkerConfig) error {
	s := st.Ptr()
	s.started.Add(1)
	for !s.stop.Load() {
		ctx, cancel := s.timeout(cfg)
		s.flags[cfg.Slot].Store(1)
		i, err := b.Wait(ctx)
		s.flags[cfg.Slot].Store(0)
		cancel()
		switch {
		case err == nil:
			if cfg.BadIndex {
				i = 0
			}
			if i >= 0 && i < cfg.Workers {
				s.idxCount[i].Add(1)
			}
			s.progress.Add(1)
		case errors.Is(err, shm.ErrBrokenBarrier):
			if !s.stop.Load() {
				s.broken.Add(1)
			}
			return nil // the parent makes a new Barrier
		default:
			s.timeouts.Add(1)
			return nil
		}
	}
	return nil
}

// semWorker acquires and releases the Semaphore until told to stop.
func semWorker(st *shm.RawValue[syncCrashState], cfg syncWorkerConfig) error {
	s := st.Ptr()
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Slot)))
	flag := &s.flags[cfg.Slot]
	s.started.Add(1)
	for !s.stop.Load() {
		if s.pause.Load() {
			flag.Store(semParked)
			for s.pause.Load() && !s.stop.Load() {
				time.Sleep(100 * time.Microsecond)
			}
			flag.Store(semIdle)
			continue
		}
		flag.Store(semAcquiring)
		ctx, cancel := s.timeout(cfg)
		err := s.sem.Acquire(ctx)
		cancel()
		if err != nil {
			flag.Store(semIdle)
			s.timeouts.Add(1)
			continue
		}
		flag.Store(semHolding)
		held := int64(0)
		for i := range cfg.Workers {
			if s.flags[i].Load() == semHolding {
				held++
			}
		}
		if held > int64(cfg.Permits) {
			s.overLimit.Add(1)
		}
		for m := s.maxHeld.Load(); held > m && !s.maxHeld.CompareAndSwap(m, held); m = s.maxHeld.Load() {
		}
		busy(rng.IntN(2*cfg.Work + 1))
		flag.Store(semReleasing)
		s.sem.Release()
		flag.Store(semIdle)
		s.progress.Add(1)
	}
	return nil
}

// A syncResult is what a sync campaign did and found.
type syncResult struct {
	Mode          string        `json:"mode"`
	Seed          uint64        `json:"seed"`
	Workers       int           `json:"workers"`
	Permits       int           `json:"permits,omitempty"`
	Kills         int           `json:"kills"`
	KillsInWindow int           `json:"kills_in_window"` // notifiers mid-turn, parties in Wait, holders
	KillsRandom   int           `json:"kills_random"`
	KillsAtAbort  int           `json:"kills_at_abort"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	Operations    int64         `json:"operations"` // turns (event, cond), rounds passed (barrier), permits held (semaphore)
	Timeouts      int64         `json:"timeouts"`
	Spurious      int64         `json:"spurious"`
	OwnerDead     int64         `json:"owner_dead"`
	LostWakeUps   int64         `json:"lost_wake_ups"` // event: waits that timed out with their Event set
	Broken        int64         `json:"broken"`        // barrier: ErrBrokenBarrier returns
	Barriers      int           `json:"barriers"`      // barrier: Barriers made
	IndexSpread   int64         `json:"index_spread"`  // barrier: the largest excess of spread over kills in a Barrier's life
	MaxHolders    int64         `json:"max_holders"`   // semaphore
	OverLimit     int64         `json:"over_limit"`    // semaphore
	PermitsFreed  int           `json:"permits_freed"` // semaphore: released by the parent for killed holders
	Audits        int           `json:"audits"`        // semaphore: counts of the free permits
	PermitsLost   int           `json:"permits_lost"`  // semaphore: found missing by the audits
	PermitsExtra  int           `json:"permits_extra"` // semaphore: found beyond -permits by the audits
	Checks        crashChecks   `json:"checks"`
	OK            bool          `json:"ok"`
}

func (r *syncResult) passed() bool { return r.OK }

// The names of the sync checks.
const (
	checkNoHang    = "no survivor hangs"
	checkWakeUps   = "every wait woken by a notify"
	checkPrimitive = "the primitive's invariant holds"
)

func (r *syncResult) print(w io.Writer) {
	fmt.Fprintf(w, "mode %s, seed %d (rerun with -mode %[1]s -seed %[2]d)\n", r.Mode, r.Seed)
	fmt.Fprintf(w, "%s, %s (%d in the window, %d at random moments) in %s\n",
		plural(r.Workers, "worker"), plural(r.Kills, "kill"), r.KillsInWindow, r.KillsRandom, r.Elapsed.Round(10*time.Millisecond))
	if r.KillsAtAbort > 0 {
		fmt.Fprintf(w, "%s killed to end the run\n", plural(r.KillsAtAbort, "more worker"))
	}
	line := func(label string, value any) { fmt.Fprintf(w, "%-30s %8v\n", label, value) }
	line("operations completed", r.Operations)
	line("waits timed out", r.Timeouts)
	switch r.Mode {
	case modeCond:
		line("ErrOwnerDead", r.OwnerDead)
	case modeBarrier:
		line("ErrBrokenBarrier", r.Broken)
		line("barriers made", r.Barriers)
	case modeSemaphore:
		line("most holders at once", r.MaxHolders)
		line("permits freed for the dead", r.PermitsFreed)
		fmt.Fprintf(w, "%-30s %8d (%d lost)\n", "audits of the free permits", r.Audits, r.PermitsLost)
	}
	r.Checks.print(w)
}

// A syncRun is a sync campaign's part of the parent.
type syncRun struct {
	*campaign
	st   *shm.RawValue[syncCrashState]
	s    *syncCrashState
	cond *shm.Cond
	bar  *shm.Barrier

	epochKills   int // barrier: kills since the Barrier was made
	barriers     int // barrier: Barriers made
	indexSpread  int64
	permitsFreed int // semaphore
	audits       int // semaphore
	permitsLost  int // semaphore
	permitsExtra int // semaphore
}

func newSyncRun(c *campaign) (*syncRun, error) {
	st, err := shm.NewRawValue(syncCrashState{})
	if err != nil {
		return nil, err
	}
	r := &syncRun{campaign: c, st: st, s: st.Ptr()}
	switch c.cfg.mode {
	case modeCond:
		if r.cond, err = shm.NewCond(&r.s.mu); err != nil {
			return nil, err
		}
	case modeBarrier:
		c.mayReturn = true // the parties return when their Barrier breaks
		if err := r.newBarrier(); err != nil {
			return nil, err
		}
	case modeSemaphore:
		for range c.cfg.permits {
			r.s.sem.Release()
		}
	}
	return r, nil
}

func (c *syncRun) shared() *campaignShared { return &c.s.campaignShared }

// watched is the count of waits or turns completed.
func (c *syncRun) watched() int64 { return c.s.progress.Load() }

func (c *syncRun) progressText() string {
	return fmt.Sprintf("%d operations, %d timeouts", c.s.progress.Load(), c.s.timeouts.Load())
}

func (c *syncRun) deadlockText(what string) string {
	return fmt.Sprintf("no progress for %s while the parent waited for %s", c.cfg.watchdog, what)
}

func (c *syncRun) newBarrier() error {
	b, err := shm.NewBarrier(c.cfg.workers)
	if err != nil {
		return err
	}
	c.bar = b
	c.barriers++
	c.epochKills = 0
	for i := range c.cfg.workers {
		c.s.idxCount[i].Store(0)
	}
	return nil
}

// beforeKill starts a new Barrier when the last one broke.
func (c *syncRun) beforeKill() error {
	if c.anyEnded() {
		return c.newEpoch()
	}
	return nil
}

// windowVictim waits for a notifier stopped in the middle of its turn, a
// party in Wait, or a worker holding a permit.
func (c *syncRun) windowVictim() (int, error) {
	s := c.s
	switch c.cfg.mode {
	case modeEvent, modeCond:
		return c.stalledVictim(int32(c.windowKills%notifySteps+1), "a notifier to stop mid-turn")
	}
	want := int32(1)
	if c.cfg.mode == modeSemaphore {
		want = semHolding
	}
	start := c.rng.IntN(c.cfg.workers)
	slot := -1
	err := c.wait("a worker in the window", func() bool {
		for i := range c.cfg.workers {
			j := (start + i) % c.cfg.workers
			if s.flags[j].Load() == want && !c.procs[j].poll() {
				slot = j
				return true
			}
		}
		return c.anyEnded()
	})
	return slot, err
}

// afterKill accounts for the worker killed in slot and replaces it.
func (c *syncRun) afterKill(slot int) error {
	s := c.s
	switch c.cfg.mode {
	case modeSemaphore:
		switch s.flags[slot].Swap(semIdle) {
		case semHolding:
			s.sem.Release()
			c.permitsFreed++
			if c.cfg.overRelease {
				s.sem.Release()
			}
		case semAcquiring, semReleasing:
			if err := c.replace(slot); err != nil {
				return err
			}
			return c.audit()
		}
	case modeBarrier:
		c.epochKills++
		if err := c.replace(slot); err != nil {
			return err
		}
		// Either the parties go on (a round passes) or the Barrier broke and
		// they all return.
		p0 := s.progress.Load()
		if err := c.wait("a round or a broken Barrier", func() bool { return s.progress.Load() != p0 || c.anyEnded() }); err != nil {
			return err
		}
		if c.anyEnded() {
			return c.newEpoch()
		}
		return nil
	}
	if err := c.replace(slot); err != nil {
		return err
	}
	if c.cfg.mode == modeEvent || c.cfg.mode == modeCond {
		// Every worker, the replacement and the survivors, must take its
		// turn before the next kill: none hangs.
		p0 := s.progress.Load()
		return c.wait("every worker to take a turn after a kill", func() bool { return s.progress.Load() >= p0+int64(c.cfg.workers) })
	}
	return nil
}

// newEpoch waits for every party of a broken Barrier to return, checks the
// indices they got, and starts new parties on a new Barrier.
func (c *syncRun) newEpoch() error {
	c.stopping = true
	for _, w := range c.procs {
		if err := c.wait("the parties of a broken Barrier to return", w.poll); err != nil {
			c.stopping = false
			return err
		}
		if w.err != nil && !killedBySIGKILL(w.err) {
			c.problems = append(c.problems, fmt.Sprintf("worker %d (pid %d): %v", w.slot, w.p.Pid(), w.err))
		}
	}
	c.stopping = false
	c.noteSpread()
	if err := c.newBarrier(); err != nil {
		return err
	}
	for slot := range c.procs {
		if err := c.startWorker(slot); err != nil {
			return err
		}
	}
	return c.waitStarted()
}

// noteSpread records how far the indices of the Barrier's life were from
// even, beyond what its kills explain.
func (c *syncRun) noteSpread() {
	lo, hi := c.s.idxCount[0].Load(), c.s.idxCount[0].Load()
	for i := range c.cfg.workers {
		v := c.s.idxCount[i].Load()
		lo, hi = min(lo, v), max(hi, v)
	}
	if excess := hi - lo - int64(c.epochKills); excess > c.indexSpread {
		c.indexSpread = excess
	}
}

// audit parks the workers, counts the free permits, makes them up to
// -permits again, and lets the workers go on. The workers get a watchdog's
// time to park: each finishes what it is doing first, which takes no longer
// than an operation, and a worker that cannot is stuck.
func (c *syncRun) audit() error {
	s := c.s
	s.pause.Store(true)
	defer s.pause.Store(false)
	c.lastAdvance = time.Now()
	if err := c.wait("the workers to park", c.allParked); err != nil {
		return err
	}
	free := c.countFree()
	c.audits++
	c.permitsLost += max(c.cfg.permits-free, 0)
	c.permitsExtra += max(free-c.cfg.permits, 0)
	for range c.cfg.permits {
		s.sem.Release()
	}
	return nil
}

// allParked reports whether every worker is parked. Each slot's flag is
// its live worker's: the parent clears the flag of a worker it kills, so a
// worker killed while parked does not count for its replacement.
func (c *syncRun) allParked() bool {
	for i := range c.cfg.workers {
		if c.s.flags[i].Load() != semParked {
			return false
		}
	}
	return true
}

// countFree takes every free permit and returns how many it took.
func (c *syncRun) countFree() int {
	n := 0
	for c.s.sem.TryAcquire() {
		n++
	}
	return n
}

func (c *syncRun) start(slot int, seed uint64) (*shm.Process, error) {
	wc := syncWorkerConfig{
		Slot: slot, Workers: c.cfg.workers, Permits: c.cfg.permits,
		Seed: seed, Work: c.cfg.work, Timeout: c.cfg.watchdog,
		SkipRepair: c.cfg.skipRepair, BadIndex: c.cfg.badIndex,
		SilentBroadcast: c.cfg.silentBroadcast,
	}
	switch c.cfg.mode {
	case modeEvent:
		return shm.Start(eventWorker, c.st, wc)
	case modeCond:
		return shm.Start(condWorker, c.st, c.cond, wc)
	case modeBarrier:
		return shm.Start(barrierWorker, c.st, c.bar, wc)
	default:
		return shm.Start(semWorker, c.st, wc)
	}
}

// wake wakes the workers waiting on the primitive, once told to return.
func (c *syncRun) wake() error {
	s := c.s
	switch c.cfg.mode {
	case modeEvent:
		for i := range c.cfg.workers {
			s.events[i].Set()
		}
	case modeCond:
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.watchdog)
		err := s.mu.LockContext(ctx)
		cancel()
		if err != nil && !errors.Is(err, shm.ErrOwnerDead) {
			c.deadlock = fmt.Sprintf("the parent could not lock the Cond's Mutex within %s to stop the workers: %v", c.cfg.watchdog, err)
			return errDeadlock
		}
		s.notes.Add(1)
		c.cond.Broadcast()
		s.mu.Unlock()
	case modeBarrier:
		c.bar.Abort()
	}
	return nil
}

// finish makes the checks.
func (c *syncRun) finish() report {
	s := c.s
	r := &syncResult{
		Mode: c.cfg.mode, Seed: c.cfg.seed, Workers: c.cfg.workers,
		Kills: c.kills, KillsInWindow: c.windowKills, KillsRandom: c.randomKills, KillsAtAbort: c.abortKills,
		Barriers: c.barriers, PermitsFreed: c.permitsFreed, Audits: c.audits, PermitsLost: c.permitsLost, PermitsExtra: c.permitsExtra,
	}
	if c.cfg.mode == modeSemaphore {
		r.Permits = c.cfg.permits
	}
	r.Operations, r.Timeouts, r.Spurious = s.progress.Load(), s.timeouts.Load(), s.spurious.Load()
	r.OwnerDead, r.Broken, r.LostWakeUps = s.ownerDead.Load(), s.broken.Load(), s.lostWake.Load()
	r.MaxHolders, r.OverLimit = s.maxHeld.Load(), s.overLimit.Load()
	add := r.Checks.add
	switch {
	case c.deadlock != "":
		add(checkNoHang, false, "%s; %d waits timed out", c.deadlock, r.Timeouts)
	case r.Timeouts != 0:
		add(checkNoHang, false, "%d waits timed out after %s", r.Timeouts, c.cfg.watchdog)
	default:
		add(checkNoHang, true, "progress at least every %s, no wait timed out", c.cfg.watchdog)
	}
	if r.Spurious != 0 {
		add(checkWakeUps, false, "%d waits returned nil with nothing to wake them", r.Spurious)
	} else {
		add(checkWakeUps, true, "no wait returned without a notify")
	}

	switch c.cfg.mode {
	case modeEvent:
		if r.LostWakeUps != 0 {
			add(checkPrimitive, false, "%d waits timed out with their Event set", r.LostWakeUps)
		} else {
			add(checkPrimitive, true, "%d turns passed on by Set; no wait timed out with its Event set", r.Operations)
		}
	case modeCond:
		deaths := int64(r.Kills + r.KillsAtAbort)
		switch {
		case r.LostWakeUps != 0:
			add(checkPrimitive, false, "%d waits timed out though a Broadcast came after they began", r.LostWakeUps)
		case r.OwnerDead > deaths:
			add(checkPrimitive, false, "%d ErrOwnerDead for %d kills", r.OwnerDead, deaths)
		default:
			add(checkPrimitive, true, "%d turns; no Broadcast lost; %d ErrOwnerDead for %d kills", r.Operations, r.OwnerDead, deaths)
		}
	case modeBarrier:
		if c.deadlock == "" && len(c.problems) == 0 {
			c.noteSpread()
		}
		r.IndexSpread = c.indexSpread
		if r.IndexSpread > 0 {
			add(checkPrimitive, false, "the indices Wait returned in one Barrier's life were uneven by %d more than its kills explain", r.IndexSpread)
		} else {
			add(checkPrimitive, true, "%d Barriers, each index 0-%d returned equally often give or take one per kill; %d ErrBrokenBarrier", r.Barriers, c.cfg.workers-1, r.Broken)
		}
	case modeSemaphore:
		free := -1
		if c.deadlock == "" && len(c.problems) == 0 {
			free = c.countFree()
		}
		switch {
		case r.OverLimit != 0 || r.MaxHolders > int64(c.cfg.permits):
			add(checkPrimitive, false, "%d times more holders than %d permits, %d at most", r.OverLimit, c.cfg.permits, r.MaxHolders)
		case r.PermitsExtra != 0:
			add(checkPrimitive, false, "%d permits more than %d found free with no holder", r.PermitsExtra, c.cfg.permits)
		case r.PermitsLost > r.Audits:
			add(checkPrimitive, false, "%d permits lost in %d audits", r.PermitsLost, r.Audits)
		case free >= 0 && free != c.cfg.permits:
			add(checkPrimitive, false, "%d permits free at the end, of %d", free, c.cfg.permits)
		default:
			add(checkPrimitive, true, "at most %d holders of %d permits; %d permits freed for dead holders, %d lost in %d audits", r.MaxHolders, c.cfg.permits, r.PermitsFreed, r.PermitsLost, r.Audits)
		}
	}

	if len(c.problems) == 0 {
		add(checkWorkers, true, "%d killed by SIGKILL, the others returned", r.Kills)
	} else {
		add(checkWorkers, false, "%s", strings.Join(c.problems, "; "))
	}
	r.OK = r.Checks.ok()
	r.Elapsed = time.Since(c.begin)
	return r
}
