package shm_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

func TestMain(m *testing.M) {
	runScenario() // a scenario run as a process of its own runs here and exits
	shm.Main()    // a child started by a test runs its target here and exits
	if os.Getenv(exitAtOnce) != "" {
		os.Exit(0) // the bare exec that BenchmarkStartJoin compares Start with
	}
	before := devShm()
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(before); err != nil {
			fmt.Fprintln(os.Stderr, "leak check:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const exitAtOnce = "SHM_TEST_EXIT_AT_ONCE"

// checkLeaks checks that finished children left nothing behind in this
// process (no control files, no extra segments, mapped or open), that every
// named segment was closed, and that no segment of this run was left in
// /dev/shm.
func checkLeaks(devShmBefore []string) error {
	fds := map[string]int{}
	var named []string
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		switch {
		case err != nil:
		case strings.HasPrefix(l, "/memfd:"):
			fds[strings.TrimSuffix(strings.TrimPrefix(l, "/memfd:"), " (deleted)")]++
		case strings.HasPrefix(l, "/dev/shm/") && !strings.HasPrefix(l, "/dev/shm/.shm-tokens-"):
			named = append(named, l)
		}
	}
	maps := map[string]int{}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "/memfd:"); i >= 0 {
			maps[strings.TrimSuffix(line[i+len("/memfd:"):], " (deleted)")]++
		}
	}
	segs := shm.SegmentCount()
	switch {
	case fds["shm-control"] != 0:
		return fmt.Errorf("%d control files of finished children still open", fds["shm-control"])
	case fds["shm"] != segs:
		return fmt.Errorf("%d segment files open, want %d", fds["shm"], segs)
	case maps["shm"] != segs:
		return fmt.Errorf("%d segment mappings, want %d", maps["shm"], segs)
	case fds["shm-tokens"] > 2 || maps["shm-tokens"] > 1:
		return fmt.Errorf("token table: %d files, %d mappings", fds["shm-tokens"], maps["shm-tokens"])
	case len(named) > 0:
		return fmt.Errorf("named segments left open: %v", named)
	}
	if after := devShm(); !slices.Equal(devShmBefore, after) {
		return fmt.Errorf("/dev/shm changed: before %v, after %v", devShmBefore, after)
	}
	return nil
}

// devShm lists the segments in /dev/shm that this test run names (see
// newSegName): other programs, other test runs among them, use /dev/shm at the
// same time.
func devShm() []string {
	ents, _ := os.ReadDir("/dev/shm")
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), segPrefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestLeakCheckSeesAChild shows that the leak check run after the suite can
// fail: while a started child is not joined, its control file is open.
func TestLeakCheckSeesAChild(t *testing.T) {
	started := newFlag(t)
	p := start(t, holdForever, started)
	if err := checkLeaks(devShm()); err == nil || !strings.Contains(err.Error(), "control files") {
		t.Fatalf("leak check with a child running = %v, want it to report the control file", err)
	}
	p.Kill()
	p.Join()
	if err := checkLeaks(devShm()); err != nil {
		t.Fatalf("leak check after Join: %v", err)
	}
}
