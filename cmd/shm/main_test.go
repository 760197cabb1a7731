package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

func TestMain(m *testing.M) {
	shm.Main() // a child started by a scenario runs its target here and exits
	if cmdline := os.Getenv(envRun); cmdline != "" {
		// A run of the command as a process of its own (runCmdProcess).
		var args []string
		if err := json.Unmarshal([]byte(cmdline), &args); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", envRun, err)
			os.Exit(2)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if code == 0 {
		if left := segmentsLeft(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "leak check: segments of this run left in /dev/shm: %v\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// segmentsLeft lists the segments of this test run (see newSegName) still in
// /dev/shm.
func segmentsLeft() []string {
	ents, _ := os.ReadDir("/dev/shm")
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), segPrefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// number returns the integer that the first group of re matches in out.
func number(tb testing.TB, out, re string) int64 {
	tb.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		tb.Fatalf("no match for %q in:\n%s", re, out)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// between checks lo <= n <= hi: what a RawValue updated by several processes
// at once can promise. An update may be lost, so the exact total cannot be
// asserted.
func between(tb testing.TB, what string, n, lo, hi int64) {
	tb.Helper()
	if n < lo || n > hi {
		tb.Errorf("%s = %d, want %d <= %[2]d <= %d", what, n, lo, hi)
	}
}

func contains(tb testing.TB, out string, lines ...string) {
	tb.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			tb.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

func runScenario(tb testing.TB, name string) string {
	tb.Helper()
	s, ok := findScenario(name)
	if !ok {
		tb.Fatalf("no scenario %q", name)
	}
	var b bytes.Buffer
	if err := s.run(&b); err != nil {
		tb.Fatalf("%s: %v\noutput:\n%s", name, err, b.String())
	}
	return b.String()
}

func TestInitialValue(t *testing.T) {
	out := runScenario(t, "initial")
	contains(t, out, "Initial temperature: 25.0°C\n")
}

func TestSensor(t *testing.T) {
	out := runScenario(t, "sensor")
	contains(t, out, "Starting temperature: 20.0°C\n", "Final temperature: 27.5°C\n")
}

func TestTwoCounters(t *testing.T) {
	out := runScenario(t, "counters")
	between(t, "final counter", number(t, out, `Final counter value: (\d+)`), 1, 15)
}

func TestValueVsRawValue(t *testing.T) {
	out := runScenario(t, "value")
	contains(t, out, "not atomic even on a Value", "Value.Update")
	if n := number(t, out, `Final locked Value: (\d+)`); n != 10 {
		t.Errorf("final locked Value = %d, want 10: Value.Update lost an update", n)
	}
	between(t, "final RawValue", number(t, out, `Final RawValue: (\d+)`), 1, 10)
}

func TestScoreTracker(t *testing.T) {
	out := runScenario(t, "scores")
	scored := number(t, out, `players' own tallies: (\d+)`)
	between(t, "points scored", scored, 3*5*1, 3*5*10)
	between(t, "final total score", number(t, out, `Final total score: (\d+)`), 1, scored)
}

func TestCleanShutdown(t *testing.T) {
	out := runScenario(t, "shutdown")
	between(t, "final counter", number(t, out, `Final counter value: (\d+)`), 1, 9)
}

func TestRace(t *testing.T) {
	const procs, n = 4, 20000
	var b bytes.Buffer
	if err := race(&b, procs, n); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	const want = procs * n
	contains(t, out, "4 processes each add 1 to a shared counter 20000 times: 80000 in all.\n")
	between(t, "RawValue[int64]", number(t, out, `(?m)^RawValue\[int64\] +(\d+)`), 1, want)
	if got := number(t, out, `(?m)^Value\[int64\] +(\d+)`); got != want {
		t.Errorf("Value[int64] = %d, want %d", got, want)
	}
	if got := number(t, out, `(?m)^RawValue\[atomic\.Int64\] +(\d+)`); got != want {
		t.Errorf("RawValue[atomic.Int64] = %d, want %d", got, want)
	}
}

// runCmd runs the command line args and returns its exit status and outputs.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestDemoList(t *testing.T) {
	code, out, errOut := runCmd("demo", "-list")
	if code != 0 || errOut != "" {
		t.Fatalf("shm demo -list: status %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(scenarios) {
		t.Errorf("shm demo -list printed %d lines for %d scenarios:\n%s", len(lines), len(scenarios), out)
	}
	for _, s := range scenarios {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(s.name) + ` +\S`).MatchString(out) {
			t.Errorf("shm demo -list lacks %q with its description:\n%s", s.name, out)
		}
	}
}

func TestDemoNamed(t *testing.T) {
	defer func(p, n int) { raceProcs, raceN = p, n }(raceProcs, raceN)
	code, out, errOut := runCmd("demo", "-procs", "2", "-n", "1000", "initial", "race")
	if code != 0 || errOut != "" {
		t.Fatalf("shm demo: status %d, stderr %q", code, errOut)
	}
	contains(t, out,
		"== initial: create a RawValue and read its initial value ==\nInitial temperature: 25.0°C\n\n== race: ",
		"2 processes each add 1 to a shared counter 1000 times: 2000 in all.\n")
	if strings.Contains(out, "== sensor") {
		t.Errorf("shm demo initial race ran the sensor scenario:\n%s", out)
	}
}

func TestDemoUnknownScenario(t *testing.T) {
	code, out, errOut := runCmd("demo", "initial", "nosuch")
	if code != 2 {
		t.Errorf("status %d, want 2", code)
	}
	if out != "" {
		t.Errorf("ran something before failing:\n%s", out)
	}
	contains(t, errOut, `"nosuch"`)
	for _, s := range scenarios {
		contains(t, errOut, s.name)
	}
}

func TestDemoFails(t *testing.T) {
	defer func(s []scenario) { scenarios = s }(scenarios)
	scenarios = append(scenarios[:len(scenarios):len(scenarios)], scenario{"fail", "fails", func(io.Writer) error { return errors.New("boom") }})
	code, _, errOut := runCmd("demo", "fail")
	if code != 1 || errOut != "shm demo: boom\n" {
		t.Errorf("status %d, stderr %q; want 1, %q", code, errOut, "shm demo: boom\n")
	}
}

func TestUnknownCommand(t *testing.T) {
	code, out, errOut := runCmd("frob")
	if code != 2 || out != "" {
		t.Errorf("status %d, stdout %q; want 2 and nothing", code, out)
	}
	contains(t, errOut, `"frob"`, "demo")
}

func TestUsage(t *testing.T) {
	code, out, errOut := runCmd()
	if code != 2 || out != "" {
		t.Errorf("shm: status %d, stdout %q; want 2 and nothing", code, out)
	}
	contains(t, errOut, "Usage:", "demo")

	code, out, errOut = runCmd("help")
	if code != 0 || errOut != "" {
		t.Errorf("shm help: status %d, stderr %q; want 0 and nothing", code, errOut)
	}
	contains(t, out, "Usage:", "demo")

	code, out, _ = runCmd("help", "demo")
	if code != 0 {
		t.Errorf("shm help demo: status %d, want 0", code)
	}
	contains(t, out, "usage: shm demo", "-list")
}

// TestBuiltBinary runs the command as a user does, built and run on its own:
// its children are the built binary started again, not the test binary.
func TestBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	bin := filepath.Join(t.TempDir(), "shm")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "demo", "sensor").CombinedOutput()
	if err != nil {
		t.Fatalf("shm demo sensor: %v\n%s", err, out)
	}
	contains(t, string(out), "Sensor updated temperature to: 27.5°C", "Final temperature: 27.5°C")
}

func TestRaceStart(t *testing.T) {
	out := runScenario(t, "start")
	contains(t, out, "All 3 workers at the start line. Event set: go!\n")
	// Each worker sums its neighbour's part, so a worker that went before its
	// neighbour had loaded would sum too little.
	for i := range startWorkers {
		j := (i + 1) % startWorkers
		lo := int64(j * startPart)
		want := startPart*lo + int64(startPart)*(startPart-1)/2
		if got := number(t, out, fmt.Sprintf(`worker %d summed worker %d's numbers: (\d+)`, i, j)); got != want {
			t.Errorf("worker %d summed %d, want %d", i, got, want)
		}
	}
	const n = startWorkers * startPart
	if got := number(t, out, `Total: (\d+)`); got != n*(n-1)/2 {
		t.Errorf("total %d, want %d", got, n*(n-1)/2)
	}
}

// TestPoolDemo runs the pool scenario: the killed worker fails its task
// alone (1000 additions and 4 Map chunks done, 1 failed), and is replaced.
func TestPoolDemo(t *testing.T) {
	out := runScenario(t, "pool")
	contains(t, out,
		"4 workers ready in ",
		"the doomed task: ",
		"the other 1000 tasks: total 1000 (want 1000), run by ",
		"Map(square, 1..8, chunk 2) = [1 4 9 16 25 36 49 64]\n",
		"closed: done 1004, failed 1, workers restarted 1\n")
}
