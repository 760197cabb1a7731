package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
)

// segPrefix starts the name of every segment of this test run, as in the
// root package's tests: the leak check in TestMain looks for them.
var segPrefix = fmt.Sprintf("shm-test-%d-", os.Getpid())

var segSerial atomic.Int64

// newSegName returns a segment name that no other test, run or program on
// the machine uses, and removes the segment when the test ends if it exists.
func newSegName(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("%s%s-%d", segPrefix, strings.ReplaceAll(tb.Name(), "/", "."), segSerial.Add(1))
	tb.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			tb.Errorf("Remove: %v", err)
		}
	})
	return name
}

// createSeg creates a segment for the test; it is removed when the test ends.
func createSeg(tb testing.TB, size int, opts ...shm.SegmentOption) *shm.Segment {
	tb.Helper()
	s, err := shm.Create(newSegName(tb), size, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// writeFile writes a file into /dev/shm, for a segment that shm did not
// make; it is removed when the test ends.
func writeFile(tb testing.TB, b []byte, mode fs.FileMode) string {
	tb.Helper()
	name := newSegName(tb)
	if err := os.WriteFile(filepath.Join("/dev/shm", name), b, mode); err != nil {
		tb.Fatal(err)
	}
	return name
}

func must[T any](x T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return x
	}
}

// row returns the line of a listing that starts with name, and checks that
// its cells start where the header's do.
func row(tb testing.TB, out, name string) []string {
	tb.Helper()
	lines := strings.Split(out, "\n")
	var header, line string
	for _, l := range lines {
		if strings.HasPrefix(l, "NAME ") && header == "" {
			header = l
		}
		if strings.HasPrefix(l, name+" ") {
			line = l
		}
	}
	if header == "" || line == "" {
		tb.Fatalf("no header, or no row for %s, in:\n%s", name, out)
	}
	for _, m := range regexp.MustCompile(`\S+`).FindAllStringIndex(header, -1) {
		if at := m[0]; at >= len(line) || line[at] == ' ' || (at > 0 && line[at-1] != ' ') {
			tb.Errorf("column %q (at %d) is not aligned in:\n%s\n%s", header[m[0]:m[1]], at, header, line)
		}
	}
	return strings.Fields(line)
}

// lsJSON runs shm ls -json with args and returns its rows by name.
func lsJSON(tb testing.TB, args ...string) map[string]segRow {
	tb.Helper()
	code, out, errOut := runCmd(append([]string{"ls", "-json"}, args...)...)
	if code != 0 {
		tb.Fatalf("shm ls -json: status %d, stderr %q", code, errOut)
	}
	var rows []segRow
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rows); err != nil {
		tb.Fatalf("decoding: %v\n%s", err, out)
	}
	m := map[string]segRow{}
	for _, r := range rows {
		m[r.Name] = r
	}
	return m
}

func TestLs(t *testing.T) {
	seg := createSeg(t, 1<<16)
	must(shm.NewValue[int64](1, shm.In(seg, "a")))(t)
	must(shm.NewRawArray[int32](100, shm.In(seg, "b")))(t)
	must(shm.NewMutex(shm.In(seg, "c")))(t)
	public := createSeg(t, 8192, shm.Mode(0o644))
	damaged := writeFile(t, append([]byte("shmgoSEG"), make([]byte, 8192-8)...), 0o600)
	raw := writeFile(t, []byte("plain bytes, as Python's SharedMemory makes them"), 0o600)

	code, out, errOut := runCmd("ls")
	if code != 0 || errOut != "" {
		t.Fatalf("shm ls: status %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "NAME ") {
		t.Errorf("shm ls: no header first:\n%s", out)
	}
	f := row(t, out, seg.Name())
	pid := strconv.Itoa(os.Getpid())
	if len(f) != 7 || f[1] != "64K" || !regexp.MustCompile(`^\d\.\dK$`).MatchString(f[2]) || f[3] != "3" ||
		f[4] != pid || f[5] != "(alive)" || !regexp.MustCompile(`^\d+s$`).MatchString(f[6]) {
		t.Errorf("row %q, want NAME 64K n.nK 3 %s (alive) Ns", f, pid)
	}
	if f := row(t, out, public.Name()); len(f) != 7 || f[1] != "8.0K" || f[3] != "0" {
		t.Errorf("row %q, want NAME 8.0K n.nK 0 ...", f)
	}
	contains(t, out, damaged+" ", "header field version")
	if strings.Contains(out, raw) {
		t.Errorf("shm ls lists a raw segment without -a:\n%s", out)
	}
	if strings.Contains(out, ".shm-tokens-") {
		t.Errorf("shm ls lists a token table:\n%s", out)
	}

	_, out, _ = runCmd("ls", "-a")
	if f := row(t, out, raw); f[1] != "48B" || !strings.Contains(strings.Join(f, " "), "raw: no shm header") {
		t.Errorf("shm ls -a: raw row %q", f)
	}
	if strings.Contains(out, ".shm-tokens-") {
		t.Errorf("shm ls -a lists a token table:\n%s", out)
	}

	rows := lsJSON(t)
	r, ok := rows[seg.Name()]
	if !ok || r.Size != 1<<16 || r.Used <= 4096 || r.Objects != 3 || r.Raw || r.Mode != "0600" || r.Error != "" ||
		r.Creator == nil || r.Creator.Pid != os.Getpid() || r.Creator.Alive == nil || !*r.Creator.Alive ||
		r.Created == nil || r.AgeNs == nil || *r.AgeNs < 0 {
		t.Errorf("shm ls -json: %+v", r)
	}
	if r := rows[public.Name()]; r.Mode != "0644" {
		t.Errorf("shm ls -json: mode %q, want 0644", r.Mode)
	}
	if r, ok := rows[damaged]; !ok || !strings.Contains(r.Error, "header field version") || r.Size != 8192 || r.Creator != nil {
		t.Errorf("shm ls -json, damaged: %+v", r)
	}
	if _, ok := rows[raw]; ok {
		t.Error("shm ls -json lists a raw segment without -a")
	}
	if r, ok := lsJSON(t, "-a")[raw]; !ok || !r.Raw || r.Size != 48 || r.Creator != nil || r.Error != "" {
		t.Errorf("shm ls -json -a, raw: %+v", r)
	}
}

func TestLsBadCommandLine(t *testing.T) {
	for _, args := range [][]string{{"ls", "x"}, {"ls", "-nosuch"}} {
		code, out, errOut := runCmd(args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("shm %s: status %d, stdout %q, stderr %q; want 2, nothing, a message", strings.Join(args, " "), code, out, errOut)
		}
	}
	_, out, _ := runCmd("help", "ls")
	contains(t, out, "usage: shm ls", "-json", "-a")
}

type point struct {
	X  float64
	N  [4]int32
	Ok bool
}

// holdLock locks m, says so, and holds it until killed.
func holdLock(m *shm.Mutex, holding *shm.RawValue[atomic.Int32]) {
	m.Lock()
	holding.Ptr().Store(1)
	for {
		time.Sleep(time.Hour) // until killed; a sleep, since blocking on nothing is a deadlock to the runtime
	}
}

// await waits until cond holds, failing the test if it does not within a
// minute: a bound for a broken test, not a stand-in for synchronisation.
func await(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// createAndHold creates the segment name with a Mutex "m" in it, locks it,
// says so, and holds it until killed.
func createAndHold(name string, holding *shm.RawValue[atomic.Int32]) {
	seg, err := shm.Create(name, 8192)
	if err != nil {
		panic(err)
	}
	m, err := shm.NewMutex(shm.In(seg, "m"))
	if err != nil {
		panic(err)
	}
	holdLock(m, holding)
}

func init() {
	shm.Register(holdLock)
	shm.Register(createAndHold)
}

// TestInspectDeadCreator: the creator of a segment died holding its Mutex;
// the header records its PID, so inspect names it even after another
// process took its liveness token's slot.
func TestInspectDeadCreator(t *testing.T) {
	name := newSegName(t)
	holding := must(shm.NewRawValue(atomic.Int32{}))(t)
	p, err := shm.Start(createAndHold, name, holding)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Join() })
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })
	p.Kill()
	p.Join()
	out, err := runCmdProcess(t, "inspect", name).CombinedOutput() // a process that may take the dead child's slot
	if err != nil {
		t.Fatalf("shm inspect: %v\n%s", err, out)
	}
	contains(t, string(out), fmt.Sprintf("created by pid %d (dead) ", p.Pid()))
	if got, want := strings.Join(row(t, string(out), "m")[1:], " "), fmt.Sprintf("Mutex shm.Mutex locked by pid %d (dead) -", p.Pid()); got != want {
		t.Errorf("Mutex held by the dead creator: %q, want %q", got, want)
	}
}

func TestInspect(t *testing.T) {
	seg := createSeg(t, 1<<16)
	must(shm.NewRawValue(2.5, shm.In(seg, "temp")))(t)
	xs := make([]int32, 100)
	for i := range xs {
		xs[i] = int32(i * i)
	}
	must(shm.NewRawArrayFrom(xs, shm.In(seg, "squares")))(t)
	v := must(shm.NewValue(point{X: 1.5, N: [4]int32{1, 2, 3, 4}, Ok: true}, shm.In(seg, "p")))(t)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	must(shm.NewArrayFrom([]uint8{7, 8}, shm.In(seg, "small")))(t)

	v.Mutex().Lock()
	code, out, errOut := runCmd("inspect", "-n", "4", seg.Name())
	v.Mutex().Unlock()
	if code != 0 || errOut != "" {
		t.Fatalf("shm inspect: status %d, stderr %q\n%s", code, errOut, out)
	}
	pid := os.Getpid()
	contains(t, out,
		fmt.Sprintf("segment %s: 64K, ", seg.Name()), " used, 5 objects, mode 0600, created by pid "+strconv.Itoa(pid)+" (alive) ")
	for _, want := range []struct{ name, cells string }{
		{"temp", "RawValue float64 - 2.5"},
		{"squares", "RawArray [100]int32 - [0 1 4 9 … (96 more)]"},
		{"p", fmt.Sprintf("Value struct {X float64 @0; N [4]int32 @8; Ok bool @24} locked by pid %d (alive) {X: 1.5 N: [1 2 3 4] Ok: true}", pid)},
		{"m", "Mutex shm.Mutex unlocked -"},
		{"small", "Array [2]uint8 unlocked [7 8]"},
	} {
		if got := strings.Join(row(t, out, want.name)[1:], " "); got != want.cells {
			t.Errorf("row %s: %q, want %q", want.name, got, want.cells)
		}
	}

	// The Mutex, held by a live child, then by a killed one.
	holding := must(shm.NewRawValue(atomic.Int32{}))(t)
	p, err := shm.Start(holdLock, m, holding)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Join() })
	await(t, "the child to hold the lock", func() bool { return holding.Ptr().Load() == 1 })
	_, out, _ = runCmd("inspect", seg.Name())
	if got, want := strings.Join(row(t, out, "m")[1:], " "), fmt.Sprintf("Mutex shm.Mutex locked by pid %d (alive) -", p.Pid()); got != want {
		t.Errorf("Mutex held by a live child: %q, want %q", got, want)
	}
	p.Kill()
	p.Join()
	_, out, _ = runCmd("inspect", seg.Name())
	// Another process may take the dead child's slot in the token table (tests
	// of other packages run beside these), and with it the record of its PID.
	got := strings.Join(row(t, out, "m")[1:], " ")
	if !regexp.MustCompile(fmt.Sprintf(`^Mutex shm\.Mutex locked by (pid %d \(dead\)|a dead process \(token 0x[0-9a-f]+\)) -$`, p.Pid())).MatchString(got) {
		t.Errorf("Mutex held by a killed child: %q, want locked by pid %d (dead)", got, p.Pid())
	}
	// Without -n, 8 elements.
	if got := strings.Join(row(t, out, "squares")[4:], " "); got != "[0 1 4 9 16 25 36 49 … (92 more)]" {
		t.Errorf("squares without -n: %q", got)
	}
	_, out, _ = runCmd("inspect", "-n", "0", seg.Name())
	if got := row(t, out, "squares"); len(got) != 104 || got[103] != "9801]" {
		t.Errorf("squares with -n 0: %q, want all 100", got)
	}
}

// inspectJSON runs shm inspect -json with args.
func inspectJSON(tb testing.TB, args ...string) inspectResult {
	tb.Helper()
	code, out, errOut := runCmd(append([]string{"inspect", "-json"}, args...)...)
	if code != 0 {
		tb.Fatalf("shm inspect -json: status %d, stderr %q", code, errOut)
	}
	var r inspectResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		tb.Fatalf("decoding: %v\n%s", err, out)
	}
	return r
}

// compact returns the JSON b without spaces.
func compact(tb testing.TB, b []byte) string {
	tb.Helper()
	var buf bytes.Buffer
	if b == nil {
		return ""
	}
	if err := json.Compact(&buf, b); err != nil {
		tb.Fatalf("%v: %s", err, b)
	}
	return buf.String()
}

func TestInspectJSON(t *testing.T) {
	seg := createSeg(t, 1<<16)
	must(shm.NewRawValue(2.5, shm.In(seg, "temp")))(t)
	must(shm.NewRawArrayFrom([]int32{1, 2, 3, 4, 5}, shm.In(seg, "xs")))(t)
	must(shm.NewValue(point{X: 1.5, N: [4]int32{1, 2, 3, 4}}, shm.In(seg, "p")))(t)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	must(shm.NewRawValue(struct {
		M shm.Mutex
		F [2]float32
		C complex64
		U uint64
	}{F: [2]float32{0.5, -1}, C: 1 + 2i, U: 1 << 63}, shm.In(seg, "mixed")))(t)
	m.Lock()
	r := inspectJSON(t, "-n", "3", seg.Name())
	m.Unlock()

	if r.Segment.Name != seg.Name() || r.Segment.Objects != 5 || r.Segment.Creator == nil || r.Segment.Creator.Pid != os.Getpid() {
		t.Errorf("segment: %+v", r.Segment)
	}
	if len(r.Objects) != 5 {
		t.Fatalf("%d objects, want 5: %+v", len(r.Objects), r.Objects)
	}
	value := func(i int) string { return compact(t, r.Objects[i].Value) }
	o := r.Objects
	if o[0].Name != "temp" || o[0].Kind != "RawValue" || o[0].Type != "float64" || value(0) != "2.5" || o[0].Lock != nil {
		t.Errorf("temp: %+v %s", o[0], value(0))
	}
	if o[1].Name != "xs" || o[1].Kind != "RawArray" || o[1].Type != "int32" || o[1].Len != 5 || value(1) != "[1,2,3]" || o[1].More != 2 {
		t.Errorf("xs: %+v %s", o[1], value(1))
	}
	if value(2) != `{"X":1.5,"N":[1,2,3,4],"Ok":false}` || o[2].Lock == nil || o[2].Lock.Locked {
		t.Errorf("p: %+v %s", o[2], value(2))
	}
	if l := o[3].Lock; o[3].Kind != "Mutex" || o[3].Value != nil || l == nil || !l.Locked || l.Pid != os.Getpid() || l.Alive == nil || !*l.Alive || l.Owner == 0 {
		t.Errorf("m: %+v %+v", o[3], l)
	}
	if value(4) != `{"M":{"locked":false},"F":[0.5,-1],"C":"(1+2i)","U":9223372036854775808}` {
		t.Errorf("mixed: %s", value(4))
	}
}

func TestInspectRawAndDamaged(t *testing.T) {
	raw := writeFile(t, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0o600)
	code, out, errOut := runCmd("inspect", "-n", "4", raw)
	if code != 0 || errOut != "" {
		t.Fatalf("shm inspect of a raw segment: status %d, stderr %q", code, errOut)
	}
	contains(t, out, "segment "+raw+": 10B, raw: no shm header, so no named objects\n", "bytes: [1 2 3 4 … (6 more)]\n")
	r := inspectJSON(t, "-n", "4", raw)
	if !r.Segment.Raw || compact(t, r.Bytes) != "[1,2,3,4]" || r.More != 6 || len(r.Objects) != 0 {
		t.Errorf("shm inspect -json of a raw segment: %+v", r)
	}

	damaged := writeFile(t, append([]byte("shmgoSEG"), make([]byte, 8192-8)...), 0o600)
	code, out, errOut = runCmd("inspect", damaged)
	if code != 1 || out != "" || !strings.Contains(errOut, "header field version") || !strings.HasPrefix(errOut, "shm inspect: ") {
		t.Errorf("shm inspect of a damaged segment: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCmd("inspect", segPrefix+"nosuch")
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("shm inspect of a missing segment: status %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"inspect"}, {"inspect", "a", "b"}, {"inspect", "-n", "-1", "a"}} {
		if code, _, errOut := runCmd(args...); code != 2 || errOut == "" {
			t.Errorf("shm %s: status %d, stderr %q; want 2 and a message", strings.Join(args, " "), code, errOut)
		}
	}
	_, out, _ = runCmd("help", "inspect")
	contains(t, out, "usage: shm inspect", "-n", "-json")
}

func TestRm(t *testing.T) {
	a, b := createSeg(t, 8192), createSeg(t, 8192)
	raw := writeFile(t, []byte("x"), 0o600)
	missing := segPrefix + "missing"
	code, out, errOut := runCmd("rm", a.Name(), missing, b.Name(), raw)
	if code != 1 || out != "" {
		t.Errorf("shm rm with a missing name: status %d, stdout %q; want 1 and nothing", code, out)
	}
	if lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "shm rm: ") ||
		!strings.Contains(lines[0], missing) || !strings.Contains(lines[0], "no such file") {
		t.Errorf("stderr %q, want one line naming %s", errOut, missing)
	}
	for _, name := range []string{a.Name(), b.Name(), raw} {
		if _, err := os.Stat("/dev/shm/" + name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was not removed: %v", name, err)
		}
	}

	table := fmt.Sprintf(".shm-tokens-%d", os.Geteuid())
	code, _, errOut = runCmd("rm", table, "/dev/shm/"+segPrefix+"x", "")
	if code != 1 || strings.Count(errOut, "\n") != 3 || !strings.Contains(errOut, `kept for shm's own files`) ||
		!strings.Contains(errOut, "give the name without /dev/shm/") || !strings.Contains(errOut, "empty") {
		t.Errorf("shm rm of invalid names: status %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat("/dev/shm/" + table); err != nil {
		t.Errorf("the token table: %v", err)
	}
	if code, _, errOut := runCmd("rm"); code != 2 || !strings.Contains(errOut, "usage: shm rm") {
		t.Errorf("shm rm without names: status %d, stderr %q", code, errOut)
	}
	if code, out, _ := runCmd("help", "rm"); code != 0 || !strings.Contains(out, "usage: shm rm") {
		t.Errorf("shm help rm: status %d, stdout %q", code, out)
	}
}

// envRun makes the test binary run the command line it holds (JSON) instead
// of the tests: a process of its own, as unrelated to the test as two runs of
// the command are to each other.
const envRun = "SHM_CMD_TEST_RUN"

// runCmdProcess starts the command line args as a process of its own.
func runCmdProcess(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	b, err := json.Marshal(args)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envRun+"="+string(b))
	return cmd
}

func TestDemoNamedTwoRuns(t *testing.T) {
	const n = 20000
	defer func(p, n int) { raceProcs, raceN = p, n }(raceProcs, raceN)
	name := newSegName(t)
	args := []string{"demo", "-n", strconv.Itoa(n), "-segment", name, "named"}
	var wg sync.WaitGroup
	outs := make([]string, 3)
	run := func(i int) {
		defer wg.Done()
		out, err := runCmdProcess(t, args...).CombinedOutput()
		outs[i] = string(out)
		if err != nil {
			t.Errorf("run %d: %v\n%s", i, err, out)
		}
	}
	// Two runs at once: one creates the segment, the other opens it.
	wg.Add(2)
	go run(0)
	go run(1)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	created := 0
	var last int64
	for _, out := range outs[:2] {
		if strings.Contains(out, "created segment "+name) {
			created++
		} else {
			contains(t, out, "opened segment "+name+", created by pid ")
		}
		last = max(last, number(t, out, `it is now (\d+)`))
	}
	if created != 1 || last != 2*n {
		t.Errorf("two runs at once: %d created the segment, the count ended at %d; want 1, %d\n%s\n%s", created, last, 2*n, outs[0], outs[1])
	}
	// A third, later, goes on from there.
	wg.Add(1)
	run(2)
	contains(t, outs[2], "opened segment "+name, fmt.Sprintf("count was %d;", 2*n), fmt.Sprintf("it is now %d\n", 3*n), "shm rm "+name)
	seg := must(shm.Open(name))(t)
	defer seg.Close()
	if v := must(shm.LookupValue[int64](seg, "count"))(t); v.Load() != 3*n {
		t.Errorf("count in the segment: %d, want %d", v.Load(), 3*n)
	}

	// -rm removes it at the end.
	code, out, errOut := runCmd("demo", "-n", "1", "-rm", "-segment", name, "named")
	if code != 0 || errOut != "" {
		t.Fatalf("demo -rm named: status %d, stderr %q", code, errOut)
	}
	contains(t, out, fmt.Sprintf("it is now %d\n", 3*n+1), "removed segment "+name)
	if _, err := os.Stat("/dev/shm/" + name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after demo -rm named: %v", err)
	}
}

// TestDemoAll runs every scenario, as CI's go run ./cmd/shm demo does: the
// named scenario creates its segment and removes it, leaving nothing behind;
// a segment that was there before stays.
func TestDemoAll(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario")
	}
	defer func(p, n int) { raceProcs, raceN = p, n }(raceProcs, raceN)
	name := newSegName(t)
	code, out, errOut := runCmd("demo", "-procs", "2", "-n", "1000", "-segment", name)
	if code != 0 || errOut != "" {
		t.Fatalf("shm demo: status %d, stderr %q\n%s", code, errOut, out)
	}
	for _, s := range scenarios {
		contains(t, out, "== "+s.name+": ")
	}
	contains(t, out, "created segment "+name, "it is now 1000\n", "removed segment "+name)
	if _, err := os.Stat("/dev/shm/" + name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("shm demo left %s behind: %v", name, err)
	}

	// A counter that was there before the run is left in place.
	seg := must(shm.Create(name, 8192))(t)
	defer seg.Close()
	must(shm.NewValue[int64](5, shm.In(seg, "count")))(t)
	var b strings.Builder
	if err := namedScenario(&b, namedConfig{segment: name, n: 10, removeIfCreated: true}); err != nil {
		t.Fatal(err)
	}
	contains(t, b.String(), "it is now 15\n", "left segment "+name+" in place")
	if _, err := os.Stat("/dev/shm/" + name); err != nil {
		t.Errorf("the run removed a segment it did not create: %v", err)
	}
}

// TestLsOtherUser lists /dev/shm as another user: a 0600 segment of root
// cannot be opened, and its row says so; a 0644 one can, read-only.
func TestLsOtherUser(t *testing.T) {
	cmd := asUser(t, 65534)
	private := createSeg(t, 8192)
	public := createSeg(t, 8192, shm.Mode(0o644))
	b, _ := json.Marshal([]string{"ls"})
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Env = append(os.Environ(), envRun+"="+string(b))
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("shm ls as uid 65534: %v\n%s", err, out)
	}
	if f := strings.Join(row(t, string(out), private.Name()), " "); !strings.Contains(f, "permission denied") {
		t.Errorf("another user's 0600 segment: %q, want its error", f)
	}
	if f := strings.Join(row(t, string(out), public.Name()), " "); !strings.Contains(f, fmt.Sprintf(" 0 %d (uid %d) ", os.Getpid(), os.Geteuid())) {
		t.Errorf("another user's 0644 segment: %q, want the creator's pid and uid", f)
	}
}

// asUser returns the command line that runs a copy of this test binary as
// user uid. It skips the test unless this process is root and setpriv
// exists.
func asUser(t *testing.T, uid int) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running a child as another user needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("running a child as another user needs setpriv (util-linux)")
	}
	dir, err := os.MkdirTemp("", "shm-cmd-other-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	exe := filepath.Join(dir, "shm.test")
	f, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, self); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	id := strconv.Itoa(uid)
	return []string{setpriv, "--reuid=" + id, "--regid=" + id, "--clear-groups", exe}
}

// TestInspectSync shows the state of an Event, a Semaphore, a Barrier and a
// Cond placed in a segment.
func TestInspectSync(t *testing.T) {
	name := newSegName(t)
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); shm.Remove(name) })
	e := must(shm.NewEvent(shm.In(seg, "ready")))(t)
	e.Set()
	s := must(shm.NewBoundedSemaphore(3, shm.In(seg, "slots")))(t)
	if !s.TryAcquire() {
		t.Fatal("TryAcquire of a Semaphore of 3")
	}
	must(shm.NewBarrier(4, shm.In(seg, "start")))(t)
	m := must(shm.NewMutex(shm.In(seg, "mu")))(t)
	must(shm.NewCond(m, shm.In(seg, "changed")))(t)
	out, err := runCmdProcess(t, "inspect", name).CombinedOutput()
	if err != nil {
		t.Fatalf("shm inspect: %v\n%s", err, out)
	}
	for _, want := range []string{"set", "2 permits (bounded to 3)", "4 parties, 0 arrived", "0 waiters, 0 of them signalled"} {
		contains(t, string(out), want)
	}
	if out, err := runCmdProcess(t, "inspect", "-json", name).CombinedOutput(); err != nil || !strings.Contains(string(out), `"2 permits (bounded to 3)"`) {
		t.Errorf("shm inspect -json: %v\n%s", err, out)
	}
}

// syncFields is a value with an Event and a Semaphore among its fields.
type syncFields struct {
	E shm.Event
	S shm.Semaphore
	N int64
}

// TestInspectSyncFields shows the state of an Event and a Semaphore that are
// fields of a Value, as it does for those that are objects.
func TestInspectSyncFields(t *testing.T) {
	seg := createSeg(t, 1<<16)
	v := must(shm.NewValue(syncFields{N: 3}, shm.In(seg, "v")))(t)
	v.Raw().Ptr().E.Set()
	v.Raw().Ptr().S.Release()
	code, out, errOut := runCmd("inspect", seg.Name())
	if code != 0 || errOut != "" {
		t.Fatalf("shm inspect: status %d, stderr %q\n%s", code, errOut, out)
	}
	if got, want := strings.Join(row(t, out, "v")[3:], " "), "{E: set S: 1 permits N: 3}"; !strings.HasSuffix(got, want) {
		t.Errorf("row v: %q, want it to end in %q", got, want)
	}
	code, out, errOut = runCmd("inspect", "-json", seg.Name())
	if code != 0 || !strings.Contains(out, `"E": "set"`) || !strings.Contains(out, `"S": "1 permits"`) {
		t.Errorf("shm inspect -json: status %d, stderr %q\n%s", code, errOut, out)
	}
}
