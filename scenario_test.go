package shm_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

// Scenarios are programs that a test runs as a process of its own: this test
// binary started again with scenarioEnv naming one. TestMain runs it before
// anything else, and the scenario calls shm.Main itself, where it needs to.
const scenarioEnv = "SHM_TEST_SCENARIO"

var scenarios = map[string]func() int{
	"replaced-exe": scenarioReplacedExe,
	"child-fails":  scenarioChildFails,
	"late-main-start": func() int {
		fmt.Println(shm.Start(doNothing))
		shm.Main()
		fmt.Println("Main returned")
		return 0
	},
	"late-main-object": func() int {
		fmt.Println(shm.NewRawValue(1))
		shm.Main()
		fmt.Println("Main returned")
		return 0
	},
}

// runScenario runs the scenario named in the environment, if any, and exits.
func runScenario() {
	name := os.Getenv(scenarioEnv)
	if name == "" {
		return
	}
	f, ok := scenarios[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "no scenario %q\n", name)
		os.Exit(2)
	}
	os.Exit(f())
}

// scenarioCmd returns a command that runs the scenario in the executable exe.
func scenarioCmd(exe, name string) *exec.Cmd {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), scenarioEnv+"="+name)
	return cmd
}

// copyTestBinary copies this test binary into a new directory and returns the
// copy's path.
func copyTestBinary(tb testing.TB) string {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	dst := filepath.Join(tb.TempDir(), filepath.Base(exe))
	copyFile(tb, exe, dst)
	return dst
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		tb.Fatal(err)
	}
}

func storeAnswer(v *shm.RawValue[int64]) { v.Store(42) }

func init() { shm.Register(storeAnswer) }

// scenarioReplacedExe waits, after Main, for a line on its standard input,
// during which the test replaces or removes the executable file; then it
// starts a child and reports what the child did.
func scenarioReplacedExe() int {
	shm.Main()
	v, err := shm.NewRawValue[int64](0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Println(err)
		return 1
	}
	p, err := shm.Start(storeAnswer, v)
	if err != nil {
		fmt.Println("Start:", err)
		return 1
	}
	fmt.Printf("Join: %v, value %d\n", p.Join(), v.Load())
	return 0
}

// TestExecutableReplaced replaces the running program's file, as a deploy or
// `go build -o` over a running program does, and removes it: a child must
// still be this program and run its target.
func TestExecutableReplaced(t *testing.T) {
	other, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true program to replace the executable with")
	}
	for _, how := range []string{"replaced", "removed"} {
		t.Run(how, func(t *testing.T) {
			exe := copyTestBinary(t)
			cmd := scenarioCmd(exe, "replaced-exe")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(stdout)
			if line, err := out.ReadString('\n'); line != "ready\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("scenario said %q (%v), want ready; stderr:\n%s", line, err, stderr.Bytes())
			}
			switch how {
			case "replaced":
				copyFile(t, other, exe+".new")
				if err := os.Rename(exe+".new", exe); err != nil {
					t.Fatal(err)
				}
			case "removed":
				if err := os.Remove(exe); err != nil {
					t.Fatal(err)
				}
			}
			io.WriteString(stdin, "go\n")
			rest, _ := io.ReadAll(out)
			err = cmd.Wait()
			if got, want := strings.TrimSpace(string(rest)), "Join: <nil>, value 42"; err != nil || got != want {
				t.Fatalf("scenario: %v, said %q, want %q; stderr:\n%s", err, got, want, stderr.Bytes())
			}
		})
	}
}

// scenarioChildFails starts a child that panics and one that returns an
// error, and joins them: what they print goes to its standard error.
func scenarioChildFails() int {
	shm.Main()
	for _, c := range []struct {
		fn  any
		arg string
	}{{panicDeep, "gauge broke"}, {failWith, "sensor offline"}} {
		p, err := shm.Start(c.fn, c.arg)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println(p.Pid())
		p.Join()
	}
	return 0
}

// TestChildFailurePrinted checks that a child prints its panic, as an
// uncaught panic prints, and the error its target returned, to its standard
// error, which is its parent's: a failure is heard even where the parent
// drops Join's error.
func TestChildFailurePrinted(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := scenarioCmd(exe, "child-fails")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	pids := strings.Fields(string(out))
	if err != nil || len(pids) != 2 {
		t.Fatalf("scenario: %v, said %q; stderr:\n%s", err, out, stderr.Bytes())
	}
	got := stderr.String()
	panicked, returned, ok := strings.Cut(got, "shm: child")
	returned = "shm: child" + returned
	if !ok {
		t.Fatalf("stderr has no line for the returned error:\n%s", got)
	}
	// The panic, as the runtime prints an uncaught one: the value, then the
	// panicking goroutine's stack from the user's code down to the target.
	value, stack, _ := strings.Cut(panicked, "\n\n")
	header, stack, _ := strings.Cut(stack, "\n")
	if value != "panic: gauge broke" || !strings.HasPrefix(header, "goroutine ") || !strings.HasSuffix(header, " [running]:") {
		t.Errorf("panic printed as:\n%s", panicked)
	}
	if funcs := stackFuncs(stack); !slices.Equal(funcs, []string{"panicWith", "panicDeep"}) {
		t.Errorf("printed stack shows %q, want [panicWith panicDeep]:\n%s", funcs, panicked)
	}
	if want := fmt.Sprintf("shm: child github.com/shmgo/shm_test.failWith (pid %s): sensor offline\n", pids[1]); returned != want {
		t.Errorf("returned error printed as %q, want %q", returned, want)
	}
}

// TestLateMain checks that Main panics, saying why, when it is not the first
// thing a program does with shm: a child would run the parent's code up to it.
func TestLateMain(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"late-main-start":  "panic: shm: Main called after Start",
		"late-main-object": "panic: shm: Main called after shared objects were made",
	} {
		cmd := scenarioCmd(exe, name)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil || strings.Contains(string(out), "Main returned") || !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: %v, said %q; want a panic with %q, got stderr:\n%s", name, err, out, want, stderr.Bytes())
		}
	}
}
