package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// parseCrash decodes the JSON that "shm stress crash -json" prints, into a
// crashResult or a syncResult.
func parseCrash[R any](tb testing.TB, out string) *R {
	tb.Helper()
	var r R
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		tb.Fatalf("decoding the JSON: %v\n%s", err, out)
	}
	if dec.More() {
		tb.Fatalf("more than one JSON value:\n%s", out)
	}
	return &r
}

// crashJSON runs the campaign cfg.mode names, as the command does with
// -json, and returns its exit status, results and standard error.
func crashJSON[R any](tb testing.TB, cfg crashConfig) (int, *R, string) {
	tb.Helper()
	cfg.json = true
	if cfg.mode == "" {
		cfg.mode = modeMutex
	}
	if cfg.watchdog == 0 {
		cfg.watchdog = 10 * time.Second
	}
	if cfg.work == 0 {
		cfg.work = 10000
	}
	if cfg.permits == 0 {
		cfg.permits = 2
	}
	var o, e bytes.Buffer
	code := crash(cfg, &o, &e)
	return code, parseCrash[R](tb, o.String()), e.String()
}

// failed returns the names of the checks that failed.
func (cs crashChecks) failed() []string {
	var names []string
	for _, c := range cs {
		if !c.OK {
			names = append(names, c.Name)
		}
	}
	return names
}

func TestStressCrash(t *testing.T) {
	code, out, errOut := runCmd("stress", "crash", "-workers", "3", "-kills", "20", "-json")
	r := parseCrash[crashResult](t, out)
	if code != 0 || !r.OK {
		t.Fatalf("status %d, failed checks %q; want 0 and none\n%s\nstderr:\n%s", code, r.Checks.failed(), out, errOut)
	}
	if len(r.Checks) != 5 {
		t.Errorf("%d checks, want 5:\n%s", len(r.Checks), out)
	}
	if r.Workers != 3 || r.Kills != 20 || r.KillsMidUpdate != 10 || r.KillsRandom != 10 || r.KillsAtAbort != 0 {
		t.Errorf("workers %d, kills %d (%d mid-update, %d random, %d at abort); want 3, 20 (10, 10, 0)",
			r.Workers, r.Kills, r.KillsMidUpdate, r.KillsRandom, r.KillsAtAbort)
	}
	// A worker killed mid-update dies holding the lock with its update in
	// flight: its successor must get ErrOwnerDead and roll the update back.
	if r.OwnerDead < 1 || r.RolledBack < 1 {
		t.Errorf("%d ErrOwnerDead, %d updates rolled back, after 10 kills mid-update; want at least 1 each", r.OwnerDead, r.RolledBack)
	}
	if r.OwnerDead > 20 {
		t.Errorf("%d ErrOwnerDead for 20 kills", r.OwnerDead)
	}
	// The checks, made again from the numbers.
	if r.A+r.B != 0 || r.A != r.Updates || r.Tallies != r.Updates || r.Updates == 0 {
		t.Errorf("A %d, B %d, count %d, tallies %d: want A = -B = count = tallies > 0", r.A, r.B, r.Updates, r.Tallies)
	}
	if r.LongestWait <= 0 {
		t.Errorf("longest wait %v", r.LongestWait)
	}
	contains(t, errOut, "kills, ", "20/20 kills")
}

func TestStressCrashText(t *testing.T) {
	code, out, errOut := runCmd("stress", "crash", "-workers", "2", "-kills", "3", "-seed", "42")
	if code != 0 {
		t.Fatalf("status %d, want 0\n%s\nstderr:\n%s", code, out, errOut)
	}
	contains(t, out,
		"seed 42 (rerun with -seed 42)\n",
		"2 workers, 3 kills (2 mid-update, 1 at random moments) in ",
		"ErrOwnerDead recoveries",
		"dirty states repaired",
		"longest wait for the lock",
		"ok    no deadlock: ",
		"ok    invariant holds: A+B = 0 at the end",
		"ok    every completed update counted: ",
		"ok    every owner death reported: ",
		"ok    workers ended as expected: 3 killed by SIGKILL, 2 returned\n",
		"PASS\n")
	contains(t, errOut, "shm stress crash: seed 42, 2 workers, 3 kills\n", "3/3 kills")
}

// TestStressCrashBrokenRepair makes the recoverers skip the repair: the
// campaign must see that the invariant and the counts are broken.
func TestStressCrashBrokenRepair(t *testing.T) {
	code, r, errOut := crashJSON[crashResult](t, crashConfig{workers: 2, kills: 4, seed: 1, skipRepair: true})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	got := strings.Join(r.Checks.failed(), ", ")
	if want := checkInvariant + ", " + checkCounted; got != want {
		t.Errorf("failed checks %q, want %q", got, want)
	}
	if r.A+r.B < 1 {
		t.Errorf("A+B = %d after 2 kills mid-update without repair, want at least 1", r.A+r.B)
	}
	if !strings.Contains(r.Checks.check(checkInvariant).Detail, "locks found A+B != 0") {
		t.Errorf("invariant check: %q", r.Checks.check(checkInvariant).Detail)
	}
}

// TestStressCrashLostOwnerDeath makes the workers take ErrOwnerDead for nil,
// as they would if the lock lost it: the campaign must see the updates left
// in flight.
func TestStressCrashLostOwnerDeath(t *testing.T) {
	code, r, errOut := crashJSON[crashResult](t, crashConfig{workers: 2, kills: 4, seed: 1, ignoreOwnerDead: true})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	if got := strings.Join(r.Checks.failed(), ", "); got != checkReported {
		t.Errorf("failed checks %q, want %q", got, checkReported)
	}
	contains(t, r.Checks.check(checkReported).Detail, "locks found an update in flight without ErrOwnerDead")
}

// TestStressCrashDeadlock leaves the worker stopped mid-update alive, holding
// the lock: the watchdog must report a deadlock, and the campaign end it.
func TestStressCrashDeadlock(t *testing.T) {
	code, r, errOut := crashJSON[crashResult](t, crashConfig{workers: 2, kills: 2, seed: 1, neverKillStalled: true, watchdog: time.Second})
	if code != 1 || r.OK {
		t.Fatalf("status %d, ok %v; want 1, false\nstderr:\n%s", code, r.OK, errOut)
	}
	if got := strings.Join(r.Checks.failed(), ", "); got != checkDeadlock {
		t.Errorf("failed checks %q, want %q", got, checkDeadlock)
	}
	contains(t, r.Checks.check(checkDeadlock).Detail, "no update completed for 1s", "in the middle of an update")
	// Both workers were killed to end the run; the one that stopped
	// mid-update held the lock, so the parent got ErrOwnerDead and repaired.
	// The other worker, waiting for the lock, may have taken it over in the
	// moment between the two kills, and died holding it in turn: then there
	// are two ErrOwnerDead.
	if r.Kills != 0 || r.KillsAtAbort != 2 || r.OwnerDead < 1 || r.OwnerDead > 2 || r.Broken < 1 || r.Broken > r.OwnerDead {
		t.Errorf("kills %d, at abort %d, ErrOwnerDead %d, broken states repaired %d; want 0, 2, 1 or 2, at least 1",
			r.Kills, r.KillsAtAbort, r.OwnerDead, r.Broken)
	}
}

func TestStressBadCommandLine(t *testing.T) {
	for _, args := range [][]string{
		{"stress"},
		{"stress", "nosuch"},
		{"stress", "crash", "-workers", "0"},
		{"stress", "crash", "-kills", "-1"},
		{"stress", "crash", "-nosuch"},
		{"stress", "crash", "-seed", "x"},
		{"stress", "crash", "extra"},
	} {
		code, out, errOut := runCmd(args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("shm %s: status %d, stdout %q, stderr %q; want 2, nothing, a message", strings.Join(args, " "), code, out, errOut)
		}
	}
	code, out, _ := runCmd("help", "stress")
	if code != 0 {
		t.Errorf("shm help stress: status %d, want 0", code)
	}
	contains(t, out, "usage: shm stress crash", "-workers", "-kills", "-seed", "-json")
}
