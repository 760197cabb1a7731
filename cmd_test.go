package shm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// text is a string a child reports through shared memory.
type text [4096]byte

func newText(tb testing.TB) *shm.RawValue[text] {
	tb.Helper()
	v, err := shm.NewRawValue(text{})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func (t *text) set(s string) { *t = text{}; copy(t[:], s) }

func (t text) String() string {
	if i := bytes.IndexByte(t[:], 0); i >= 0 {
		return string(t[:i])
	}
	return string(t[:])
}

// printLines prints n numbered lines to standard output and one to standard
// error.
func printLines(n int) {
	for i := 0; i < n; i++ {
		fmt.Printf("line %d\n", i)
	}
	fmt.Fprintln(os.Stderr, "to stderr")
}

// printLinesAndWait prints n lines, then waits for the release to print a
// last one.
func printLinesAndWait(n int, release *shm.RawValue[atomic.Int32]) {
	for i := 0; i < n; i++ {
		fmt.Printf("line %d\n", i)
	}
	holdUntil(release)
	fmt.Println("last")
}

// wantLines returns what printLines(n) prints to standard output.
func wantLines(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// getenvInto reports the variable key and whether shm's own variable is
// set, which the child must have removed before its target runs.
func getenvInto(out *shm.RawValue[text], key string) {
	_, shmVar := os.LookupEnv("SHM_CHILD")
	out.Ptr().set(fmt.Sprintf("%s|%v", os.Getenv(key), shmVar))
}

func getwdInto(out *shm.RawValue[text]) error {
	wd, err := os.Getwd()
	out.Ptr().set(wd)
	return err
}

// fdsInto reports what the child's standard descriptors are.
func fdsInto(out *shm.RawValue[text]) {
	var s []string
	for fd := 0; fd < 3; fd++ {
		l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			l = err.Error()
		}
		s = append(s, l)
	}
	out.Ptr().set(strings.Join(s, "\n"))
}

func echoStdin() error {
	_, err := io.Copy(os.Stdout, os.Stdin)
	return err
}

func init() {
	shm.Register(printLines)
	shm.Register(printLinesAndWait)
	shm.Register(getenvInto)
	shm.Register(getwdInto)
	shm.Register(fdsInto)
	shm.Register(echoStdin)
}

// startCmd starts c and arranges for its child to be killed and joined when
// the test ends.
func startCmd(tb testing.TB, c *shm.Cmd) *shm.Process {
	tb.Helper()
	p, err := c.Start()
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		p.Kill()
		p.Join()
	})
	return p
}

// TestCmdCapturesOutput captures more output than a pipe holds, so that the
// copy is still going on when the child exits: Join must wait for it.
func TestCmdCapturesOutput(t *testing.T) {
	const n = 20_000 // about 200 KB
	var stdout, stderr bytes.Buffer
	c := shm.Command(printLines, n)
	c.Stdout, c.Stderr = &stdout, &stderr
	p := startCmd(t, c)
	if err := p.JoinContext(bounded(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), wantLines(n); got != want {
		t.Fatalf("captured %d bytes of stdout, want %d", len(got), len(want))
	}
	if got := stderr.String(); got != "to stderr\n" {
		t.Fatalf("captured stderr %q", got)
	}
}

// TestCmdOutputAfterTimeout gives up on a child while it is writing, and then
// joins it: the output is whole.
func TestCmdOutputAfterTimeout(t *testing.T) {
	const n = 20_000
	var stdout bytes.Buffer
	release := newFlag(t)
	c := shm.Command(printLinesAndWait, n, release)
	c.Stdout = &stdout
	p := startCmd(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := p.JoinContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("JoinContext = %v, want context.DeadlineExceeded: the child waits for the release", err)
	}
	release.Ptr().Store(1)
	if err := p.Join(); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), wantLines(n)+"last\n"; got != want {
		t.Fatalf("captured %d bytes, want %d", len(got), len(want))
	}
}

// TestCmdStderrCapturesPanic checks that a child's panic reaches Stderr, and
// Join, which reports it whatever Stderr is.
func TestCmdStderrCapturesPanic(t *testing.T) {
	var stderr bytes.Buffer
	c := shm.Command(panicWith, "gauge broke")
	c.Stderr = &stderr
	err := startCmd(t, c).Join()
	var ee *shm.ExitError
	if !errors.As(err, &ee) || !ee.Panic {
		t.Fatalf("Join = %v, want an *ExitError for a panic", err)
	}
	if !strings.HasPrefix(stderr.String(), "panic: gauge broke\n") {
		t.Fatalf("stderr = %q, want the panic", stderr.String())
	}
}

// TestCmdStdin feeds a child's standard input from a reader.
func TestCmdStdin(t *testing.T) {
	var stdout bytes.Buffer
	c := shm.Command(echoStdin)
	c.Stdin, c.Stdout = strings.NewReader(wantLines(5000)), &stdout
	if err := startCmd(t, c).Join(); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != wantLines(5000) {
		t.Fatalf("echoed %d bytes, want %d", stdout.Len(), len(wantLines(5000)))
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestCmdOutputError checks that a writer's failure is not silent: the child
// succeeded, but its output was lost.
func TestCmdOutputError(t *testing.T) {
	c := shm.Command(printLines, 1)
	c.Stdout, c.Stderr = failingWriter{}, nil
	err := startCmd(t, c).Join()
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "printLines") {
		t.Fatalf("Join with a failing Stdout = %v, want an error naming the target and the writer's error", err)
	}
}

// TestCmdStandardFiles checks where a child's standard descriptors lead: to
// the parent's from Command and Start, to the null device when nil.
func TestCmdStandardFiles(t *testing.T) {
	out := newText(t)
	parent := make([]string, 3)
	for fd := range parent {
		parent[fd], _ = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	}

	join(t, start(t, fdsInto, out))
	if got, want := out.Load().String(), strings.Join([]string{os.DevNull, parent[1], parent[2]}, "\n"); got != want {
		t.Errorf("Start: child's descriptors 0-2 are\n%s\nwant\n%s", got, want)
	}
	join(t, startCmd(t, shm.Command(fdsInto, out)))
	if got, want := out.Load().String(), strings.Join([]string{os.DevNull, parent[1], parent[2]}, "\n"); got != want {
		t.Errorf("Command: child's descriptors 0-2 are\n%s\nwant\n%s", got, want)
	}
	join(t, startCmd(t, &shm.Cmd{Func: fdsInto, Args: []any{out}}))
	if got, want := out.Load().String(), strings.Join([]string{os.DevNull, os.DevNull, os.DevNull}, "\n"); got != want {
		t.Errorf("Cmd with nil files: child's descriptors 0-2 are\n%s\nwant\n%s", got, want)
	}
}

// TestCmdEnv passes variables to a child: the parent's by default, the
// given ones otherwise, and never the user's setting of shm's own.
func TestCmdEnv(t *testing.T) {
	out := newText(t)
	t.Setenv("SHM_TEST_VAR", "from the parent")

	join(t, startCmd(t, shm.Command(getenvInto, out, "SHM_TEST_VAR")))
	if got, want := out.Load().String(), "from the parent|false"; got != want {
		t.Errorf("nil Env: child got %q, want %q", got, want)
	}

	c := shm.Command(getenvInto, out, "SHM_TEST_VAR")
	c.Env = append(os.Environ(), "SHM_TEST_VAR=from Env", "SHM_CHILD=99")
	join(t, startCmd(t, c))
	if got, want := out.Load().String(), "from Env|false"; got != want {
		t.Errorf("Env: child got %q, want %q", got, want)
	}

	c = shm.Command(getenvInto, out, "HOME")
	c.Env = []string{}
	join(t, startCmd(t, c))
	if got, want := out.Load().String(), "|false"; got != want {
		t.Errorf("empty Env: child got %q, want %q", got, want)
	}
}

// TestCmdDir runs a child in another directory.
func TestCmdDir(t *testing.T) {
	out := newText(t)
	dir := t.TempDir()
	c := shm.Command(getwdInto, out)
	c.Dir = dir
	join(t, startCmd(t, c))
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Load().String(); got != want {
		t.Fatalf("child's working directory %q, want %q", got, want)
	}

	c = shm.Command(getwdInto, out)
	c.Dir = filepath.Join(dir, "missing")
	p, err := c.Start()
	if err == nil {
		p.Kill()
		p.Join()
		t.Fatal("Start in a missing directory succeeded")
	}
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), "getwdInto") {
		t.Fatalf("Start in a missing directory = %v, want an error naming the directory and the target", err)
	}
	noChildren(t)
}

// TestCmdStartTwice refuses to start a Cmd again, as os/exec does, and checks
// that a Cmd refused for its arguments starts nothing.
func TestCmdStartTwice(t *testing.T) {
	c := shm.Command(doNothing)
	join(t, startCmd(t, c))
	if p, err := c.Start(); err == nil {
		p.Join()
		t.Fatal("second Start succeeded")
	} else if !strings.Contains(err.Error(), "already started") {
		t.Fatalf("second Start = %v, want an error saying it was already started", err)
	}

	c = shm.Command(failWith, 3)
	if _, err := c.Start(); err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Fatalf("Start with a bad argument = %v", err)
	}
	noChildren(t)
	c.Args = []any{"fixed"}
	if err := startCmd(t, c).Join(); err == nil || !strings.Contains(err.Error(), "fixed") {
		t.Fatalf("Start after fixing the argument: Join = %v", err)
	}
}
