package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStressCrashSyncModes(t *testing.T) {
	for _, mode := range syncModes {
		t.Run(mode, func(t *testing.T) {
			code, out, errOut := runCmd("stress", "crash", "-mode", mode, "-workers", "3", "-kills", "10", "-json")
			r := parseCrash[syncResult](t, out)
			if code != 0 || !r.OK {
				t.Fatalf("status %d, failed checks %q; want 0 and none\n%s\nstderr:\n%s", code, r.Checks.failed(), out, errOut)
			}
			if r.Mode != mode || r.Workers != 3 || r.Kills != 10 || r.KillsInWindow+r.KillsRandom != 10 || r.KillsInWindow < 1 || r.KillsAtAbort != 0 {
				t.Errorf("mode %q, workers %d, kills %d (%d in the window, %d random, %d at abort); want %q, 3, 10 (at least 1 in the window, 0 at abort)",
					r.Mode, r.Workers, r.Kills, r.KillsInWindow, r.KillsRandom, r.KillsAtAbort, mode)
			}
			if len(r.Checks) != 4 {
				t.Errorf("%d checks, want 4:\n%s", len(r.Checks), out)
			}
			if r.Operations == 0 || r.Timeouts != 0 || r.Spurious != 0 {
				t.Errorf("%d operations, %d timeouts, %d spurious; want some, 0, 0", r.Operations, r.Timeouts, r.Spurious)
			}
			switch mode {
			case modeCond:
				// Every other kill in the window is of a notifier holding the
				// lock: its successor must get ErrOwnerDead.
				if r.OwnerDead < 1 || r.OwnerDead > 10 {
					t.Errorf("%d ErrOwnerDead for 10 kills, 5 of them holding the lock", r.OwnerDead)
				}
			case modeSemaphore:
				if r.MaxHolders < 1 || r.MaxHolders > 2 || r.PermitsFreed < 1 {
					t.Errorf("at most %d holders of 2 permits, %d permits freed for dead holders; want 1-2, at least 1", r.MaxHolders, r.PermitsFreed)
				}
			case modeBarrier:
				if r.Barriers < 1 || r.Broken > int64(3*r.Barriers) {
					t.Errorf("%d Barriers, %d ErrBrokenBarrier", r.Barriers, r.Broken)
				}
			}
			contains(t, errOut, "10/10 kills")
		})
	}
}

func TestStressCrashSyncText(t *testing.T) {
	code, out, errOut := runCmd("stress", "crash", "-mode", "barrier", "-workers", "2", "-kills", "3", "-seed", "42")
	if code != 0 {
		t.Fatalf("status %d, want 0\n%s\nstderr:\n%s", code, out, errOut)
	}
	contains(t, out,
		"mode barrier, seed 42 (rerun with -mode barrier -seed 42)\n",
		"2 workers, 3 kills (",
		"ErrBrokenBarrier",
		"ok    no survivor hangs: ",
		"ok    every wait woken by a notify: ",
		"ok    the primitive's invariant holds: ",
		"ok    workers ended as expected: 3 killed by SIGKILL",
		"PASS\n")
	contains(t, errOut, "shm stress crash: mode barrier, seed 42, 2 workers, 3 kills\n", "3/3 kills")
}

// The tests below break each mode on purpose: the campaign must see it.

// TestStressCrashEventDeadlock leaves the notifier stopped mid-turn alive,
// so that it never Sets the next worker's Event: the waits must time out and
// the watchdog fire.
func TestStressCrashEventDeadlock(t *testing.T) {
	code, r, errOut := crashJSON[syncResult](t, crashConfig{mode: modeEvent, workers: 2, kills: 2, seed: 1, neverKillStalled: true, watchdog: time.Second})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	if got := r.Checks.failed(); !slices.Equal(got, []string{checkNoHang}) {
		t.Errorf("failed checks %q, want %q", got, checkNoHang)
	}
	contains(t, r.Checks.check(checkNoHang).Detail, "no progress for 1s")
	if r.KillsAtAbort != 2 {
		t.Errorf("%d workers killed at abort, want 2", r.KillsAtAbort)
	}
}

// TestStressCrashCondSkipRepair makes the workers that get ErrOwnerDead skip
// the Broadcast that a notifier killed mid-turn did not make: its waiters
// must time out.
func TestStressCrashCondSkipRepair(t *testing.T) {
	code, r, errOut := crashJSON[syncResult](t, crashConfig{mode: modeCond, workers: 3, kills: 12, seed: 1, skipRepair: true, watchdog: time.Second})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	if got := r.Checks.failed(); !slices.Contains(got, checkNoHang) || slices.Contains(got, checkWakeUps) {
		t.Errorf("failed checks %q, want %q and not %q", got, checkNoHang, checkWakeUps)
	}
}

// TestStressCrashCondSilentBroadcast makes waiters Broadcast without
// announcing it, as a Cond that woke its waiters for nothing would look: the
// campaign must see waits return with no Broadcast counted.
func TestStressCrashCondSilentBroadcast(t *testing.T) {
	code, r, errOut := crashJSON[syncResult](t, crashConfig{mode: modeCond, workers: 3, kills: 2, seed: 1, silentBroadcast: true})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	if got := r.Checks.failed(); !slices.Equal(got, []string{checkWakeUps}) {
		t.Errorf("failed checks %q, want %q", got, checkWakeUps)
	}
	if r.Spurious < 1 {
		t.Errorf("%d spurious wake-ups", r.Spurious)
	}
}

// TestStressCrashBarrierBadIndex makes the parties record index 0 whatever
// Wait returned: the campaign must see the indices uneven.
func TestStressCrashBarrierBadIndex(t *testing.T) {
	code, r, errOut := crashJSON[syncResult](t, crashConfig{mode: modeBarrier, workers: 3, kills: 2, seed: 1, badIndex: true})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	if got := r.Checks.failed(); !slices.Equal(got, []string{checkPrimitive}) {
		t.Errorf("failed checks %q, want %q", got, checkPrimitive)
	}
	contains(t, r.Checks.check(checkPrimitive).Detail, "uneven")
}

func TestStressSyncBadCommandLine(t *testing.T) {
	for _, args := range [][]string{
		{"stress", "crash", "-mode", "nosuch"},
		{"stress", "crash", "-mode", "barrier", "-workers", "1"},
		{"stress", "crash", "-mode", "event", "-workers", "65"},
		{"stress", "crash", "-mode", "semaphore", "-permits", "0"},
	} {
		code, out, errOut := runCmd(args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("shm %s: status %d, stdout %q, stderr %q; want 2, nothing, a message", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// TestStressCrashSemaphoreParkedKill kills a worker while the workers are
// parked for an audit, replaces it, and audits: the audit must end, and find
// the permits all free. A worker killed while parked once left a shared count
// of parked workers raised, and the audit, unbounded, waited forever.
func TestStressCrashSemaphoreParkedKill(t *testing.T) {
	cfg := crashConfig{mode: modeSemaphore, workers: 2, permits: 2, seed: 1, work: 1000, watchdog: 10 * time.Second}
	c, err := newCampaign(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.abort)
	r := c.w.(*syncRun)
	for slot := range c.procs {
		if err := c.startWorker(slot); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.waitStarted(); err != nil {
		t.Fatal(err)
	}
	r.s.pause.Store(true)
	if err := c.wait("the workers to park", r.allParked); err != nil {
		t.Fatalf("%v: %s", err, c.deadlock)
	}
	if killed, err := c.kill(0); !killed || err != nil {
		t.Fatalf("killing a parked worker: %v, %v", killed, err)
	}
	if err := r.afterKill(0); err != nil {
		t.Fatalf("afterKill: %v: %s", err, c.deadlock)
	}
	r.s.pause.Store(false)
	if err := r.audit(); err != nil {
		t.Fatalf("audit: %v: %s", err, c.deadlock)
	}
	if r.audits != 1 || r.permitsLost != 0 || r.permitsExtra != 0 {
		t.Errorf("%d audits, %d permits lost, %d extra; want 1, 0, 0", r.audits, r.permitsLost, r.permitsExtra)
	}
}

// TestStressCrashSemaphoreOverRelease makes the parent release two permits
// for each holder killed, as a Semaphore that freed a dead holder's permit
// twice would: the campaign must see too many holders or too many permits.
func TestStressCrashSemaphoreOverRelease(t *testing.T) {
	code, r, errOut := crashJSON[syncResult](t, crashConfig{mode: modeSemaphore, workers: 3, kills: 6, seed: 1, overRelease: true})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	if got := r.Checks.failed(); !slices.Equal(got, []string{checkPrimitive}) {
		t.Errorf("failed checks %q, want %q", got, checkPrimitive)
	}
	if r.PermitsFreed < 1 {
		t.Errorf("%d permits freed for dead holders, want at least 1", r.PermitsFreed)
	}
}
