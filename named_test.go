package shm_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shmgo/shm"
)

var segSerial atomic.Int64

// segPrefix starts the name of every segment of this test run.
var segPrefix = fmt.Sprintf("shm-test-%d-", os.Getpid())

// newSegName returns a segment name that no other test, run or program on
// the machine uses.
func newSegName(tb testing.TB) string {
	tb.Helper()
	n := fmt.Sprintf("%s%s-%d", segPrefix, strings.ReplaceAll(tb.Name(), "/", "."), segSerial.Add(1))
	if len(n) > 200 {
		n = n[:100] + n[len(n)-100:]
	}
	return n
}

// removeLater removes the segment name when the test ends, if it exists.
func removeLater(tb testing.TB, name string) {
	tb.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			tb.Errorf("Remove: %v", err)
		}
	})
}

// createSeg creates a segment for the test, and closes and removes it when
// the test ends.
func createSeg(tb testing.TB, size int, opts ...shm.SegmentOption) *shm.Segment {
	tb.Helper()
	name := newSegName(tb)
	s, err := shm.Create(name, size, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	removeLater(tb, name)
	tb.Cleanup(func() { s.Close() })
	return s
}

// openSeg opens a segment for the test and closes it when the test ends.
func openSeg(tb testing.TB, name string) *shm.Segment {
	tb.Helper()
	s, err := shm.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// must returns a function that returns x, or fails the test on err:
// must(f())(t).
func must[T any](x T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return x
	}
}

type sample struct {
	X float64
	N [4]int32
}

func TestNamedPlaceAndLookUp(t *testing.T) {
	seg := createSeg(t, 1<<16)
	v := must(shm.NewValue[int64](7, shm.In(seg, "v")))(t)
	rv := must(shm.NewRawValue(sample{X: 1.5, N: [4]int32{1, 2, 3, 4}}, shm.In(seg, "rv")))(t)
	ra := must(shm.NewRawArrayFrom([]uint16{5, 6, 7}, shm.In(seg, "ra")))(t)
	a := must(shm.NewArray[float32](5, shm.In(seg, "a")))(t)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	z := must(shm.NewRawArray[int8](0, shm.In(seg, "empty")))(t)
	a.Store(4, 2.5)

	// A second Segment of the same file, as another program would open it.
	seg2 := openSeg(t, seg.Name())
	if seg2.ReadOnly() {
		t.Fatal("the creator's user opened its segment read-only")
	}
	v2 := must(shm.LookupValue[int64](seg2, "v"))(t)
	if v2.Update(func(x int64) int64 { return x + 1 }) != 8 || v.Load() != 8 {
		t.Fatalf("Value through two look-ups: %d, %d", v2.Load(), v.Load())
	}
	if v2.Raw().Ptr() != v.Raw().Ptr() || v2.Mutex() != v.Mutex() {
		t.Fatal("one file is mapped twice in one process")
	}
	if got := must(shm.LookupRawValue[sample](seg2, "rv"))(t); got.Load() != rv.Load() {
		t.Fatalf("RawValue = %v, want %v", got.Load(), rv.Load())
	}
	if got := must(shm.LookupRawArray[uint16](seg2, "ra"))(t); !slices.Equal(got.Slice(), ra.Slice()) {
		t.Fatalf("RawArray = %v", got.Slice())
	}
	if got := must(shm.LookupArray[float32](seg2, "a"))(t); got.Len() != 5 || got.Load(4) != 2.5 || got.Mutex() != a.Mutex() {
		t.Fatalf("Array = %v", got.Snapshot())
	}
	if got := must(shm.LookupRawArray[int8](seg2, "empty"))(t); got.Len() != 0 || got != z {
		t.Fatalf("empty RawArray: len %d", got.Len())
	}
	if got := must(shm.LookupMutex(seg2, "m"))(t); got != m {
		t.Fatal("Mutex looked up elsewhere")
	}
	// A Value's and an Array's raw parts can be found as RawValue and RawArray.
	if got := must(shm.LookupRawValue[int64](seg2, "v"))(t); got.Load() != 8 {
		t.Fatalf("Value read as a RawValue: %d", got.Load())
	}
	if got := must(shm.LookupRawArray[float32](seg2, "a"))(t); got.Load(4) != 2.5 {
		t.Fatalf("Array read as a RawArray: %v", got.Slice())
	}

	objs := must(seg2.Objects())(t)
	var names []string
	for _, o := range objs {
		names = append(names, o.Name+":"+o.Kind+":"+o.Type+":"+strconv.Itoa(o.Len))
	}
	want := []string{
		"v:Value:int64:1",
		"rv:RawValue:struct {X float64 @0; N [4]int32 @8}:1",
		"ra:RawArray:uint16:3",
		"a:Array:float32:5",
		"m:Mutex:shm.Mutex:1",
		"empty:RawArray:int8:0",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("Objects:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if objs[2].Size != 6 || !bytes.Equal(objs[2].Data, []byte{5, 0, 6, 0, 7, 0}) {
		t.Fatalf("RawArray's data: %d bytes %v", objs[2].Size, objs[2].Data)
	}
	if string(objs[0].Descriptor) != `{"kind":"int64","size":8,"align":8}` || objs[0].Lock == 0 {
		t.Fatalf("Value's descriptor %s, lock at %d", objs[0].Descriptor, objs[0].Lock)
	}

	st := must(seg2.Stat())(t)
	if st.Name != seg.Name() || st.Size != 1<<16 || st.Objects != 6 || st.Raw || st.Mode != 0o600 ||
		st.CreatorPid != os.Getpid() || st.CreatorUid != os.Geteuid() || !st.CreatorKnown || !st.CreatorAlive ||
		st.Used <= 4096 || st.Used > st.Size || st.Created.IsZero() {
		t.Fatalf("Stat = %+v", st)
	}
}

func TestNamedStructLayout(t *testing.T) {
	type inner struct {
		A bool
		B [2]uint64
	}
	type outer struct {
		_  [0]int64
		I  inner
		C  complex64
		At atomic.Int32
		F  atomic.Bool
		M  shm.Mutex
		U  uint
	}
	seg := createSeg(t, 1<<14)
	must(shm.NewRawValue(outer{}, shm.In(seg, "o")))(t)
	objs := must(seg.Objects())(t)
	wantDesc := `{"kind":"struct","size":56,"align":8,"fields":[` +
		`{"name":"I","offset":0,"type":{"kind":"struct","size":24,"align":8,"fields":[{"name":"A","offset":0,"type":{"kind":"bool","size":1,"align":1}},{"name":"B","offset":8,"type":{"kind":"array","size":16,"align":8,"len":2,"elem":{"kind":"uint64","size":8,"align":8}}}]}},` +
		`{"name":"C","offset":24,"type":{"kind":"complex64","size":8,"align":4}},` +
		`{"name":"At","offset":32,"type":{"kind":"int32","size":4,"align":4,"atomic":true}},` +
		`{"name":"F","offset":36,"type":{"kind":"uint32","size":4,"align":4,"atomic":true}},` +
		`{"name":"M","offset":40,"type":{"kind":"mutex","size":8,"align":8}},` +
		`{"name":"U","offset":48,"type":{"kind":"uint64","size":8,"align":8}}]}`
	if got := string(objs[0].Descriptor); got != wantDesc {
		t.Fatalf("descriptor\n%s\nwant\n%s", got, wantDesc)
	}
	wantType := "struct {I struct {A bool @0; B [2]uint64 @8} @0; C complex64 @24; At atomic int32 @32; F atomic uint32 @36; M shm.Mutex @40; U uint64 @48}"
	if objs[0].Type != wantType {
		t.Fatalf("Type\n%s\nwant\n%s", objs[0].Type, wantType)
	}
}

func TestNamedNames(t *testing.T) {
	seg := createSeg(t, 1<<14)
	for _, c := range []struct{ name, why string }{
		{"", "empty"},
		{"a/b", "'/' at byte 1"},
		{"a\x00b", "NUL byte at byte 1"},
		{".", "directory"},
		{"..", "directory"},
		{".shm-tokens-0", `".shm-"`},
		{strings.Repeat("x", 256), "256 bytes long, more than 255"},
	} {
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), strconv.Quote(c.name)) {
				t.Errorf("%s(%q) = %v, want an error wrapping fs.ErrInvalid naming the name and saying %q", what, c.name, err, c.why)
			}
		}
		_, err := shm.Create(c.name, 8192)
		check("Create", err)
		_, err = shm.Open(c.name)
		check("Open", err)
		check("Remove", shm.Remove(c.name))
		_, err = shm.NewValue(1, shm.In(seg, c.name))
		check("In", err)
		_, err = shm.LookupValue[int](seg, c.name)
		check("LookupValue", err)
	}
	// 255 bytes is a valid name, for a segment and for an object.
	long := newSegName(t)
	long += strings.Repeat("y", 255-len(long))
	s, err := shm.Create(long, 8192)
	if err != nil {
		t.Fatalf("Create with a 255-byte name: %v", err)
	}
	removeLater(t, long)
	s.Close()
	must(shm.NewValue(1, shm.In(seg, long)))(t)
}

func TestNamedExistingAndMissing(t *testing.T) {
	seg := createSeg(t, 1<<14)
	if _, err := shm.Create(seg.Name(), 8192); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), seg.Name()) {
		t.Fatalf("Create of an existing name = %v, want fs.ErrExist naming it", err)
	}
	missing := newSegName(t)
	if _, err := shm.Open(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Open of a missing name = %v, want fs.ErrNotExist naming it", err)
	}
	if err := shm.Remove(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove of a missing name = %v, want fs.ErrNotExist", err)
	}
	must(shm.NewValue[int64](1, shm.In(seg, "x")))(t)
	used, _, count := shm.HeaderCounts(seg)
	if _, err := shm.NewRawValue[int64](2, shm.In(seg, "x")); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("a second object named x: %v, want fs.ErrExist", err)
	}
	if u, _, c := shm.HeaderCounts(seg); u != used || c != count {
		t.Fatalf("a failed In changed the header: used %d→%d, count %d→%d", used, u, count, c)
	}
	if _, err := shm.LookupValue[int64](seg, "y"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `"y"`) {
		t.Fatalf("LookupValue of a missing object = %v, want fs.ErrNotExist", err)
	}
	if _, err := shm.LookupRawValue[int64](seg, "x"); err != nil {
		t.Fatalf("a failed In left the first x unreadable: %v", err)
	}
}

func TestNamedSize(t *testing.T) {
	name := newSegName(t)
	_, err := shm.Create(name, 4096)
	if err == nil || !strings.Contains(err.Error(), "4096") || !strings.Contains(err.Error(), "8192") {
		t.Fatalf("Create of 4096 bytes = %v, want an error naming 4096 and 8192", err)
	}
	if _, err := shm.Open(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed Create left a segment: Open = %v", err)
	}
	seg := createSeg(t, 9000)
	if st := must(seg.Stat())(t); st.Size != 12288 || st.Used != 4096 || st.Objects != 0 {
		t.Fatalf("Create(9000): %+v, want 12288 bytes, 4096 used", st)
	}
	fi, err := os.Stat("/dev/shm/" + seg.Name())
	if err != nil || fi.Size() != 12288 {
		t.Fatalf("file: %v, %v", fi, err)
	}
}

func TestNamedFull(t *testing.T) {
	seg := createSeg(t, 8192)
	used, last, count := shm.HeaderCounts(seg)
	_, err := shm.NewRawArray[byte](4000, shm.In(seg, "big"))
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("an object larger than the free space: %v, want an error saying the segment is full", err)
	}
	if u, l, c := shm.HeaderCounts(seg); u != used || l != last || c != count {
		t.Fatal("a failed In changed the header")
	}
	a := must(shm.NewRawArray[byte](3000, shm.In(seg, "fits")))(t)
	if a.Len() != 3000 {
		t.Fatal(a.Len())
	}
}

func TestNamedMode(t *testing.T) {
	old := umask(0o077) // Mode must not depend on it
	defer umask(old)
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o644} {
		seg := createSeg(t, 8192, shm.Mode(mode))
		fi, err := os.Stat("/dev/shm/" + seg.Name())
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode || must(seg.Stat())(t).Mode != mode {
			t.Errorf("Mode(%#o): the file has mode %#o", mode, fi.Mode().Perm())
		}
	}
	seg := createSeg(t, 8192)
	if st := must(seg.Stat())(t); st.Mode != 0o600 {
		t.Errorf("default mode %#o, want 0600", st.Mode)
	}
	for _, mode := range []fs.FileMode{0o666, 0o660, 0o400, 0o700, 0o4600} {
		name := newSegName(t)
		if _, err := shm.Create(name, 8192, shm.Mode(mode)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%#o", mode)) {
			t.Errorf("Mode(%#o) = %v, want an error naming the mode", mode, err)
			shm.Remove(name)
		}
	}
}

func TestNamedLayoutMismatch(t *testing.T) {
	seg := createSeg(t, 1<<14)
	must(shm.NewValue(sample{}, shm.In(seg, "r")))(t)
	must(shm.NewRawArray[int32](4, shm.In(seg, "a")))(t)
	_, err := shm.LookupValue[float64](seg, "r")
	var le *shm.LayoutError
	if !errors.As(err, &le) || !errors.Is(err, shm.ErrLayout) {
		t.Fatalf("LookupValue[float64] of a struct = %v, want a LayoutError", err)
	}
	for _, want := range []string{"struct {X float64 @0; N [4]int32 @8} (24 bytes)", "float64 (8 bytes)", `"r"`, seg.Name()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not show %q", err, want)
		}
	}
	type renamed struct {
		Y float64
		N [4]int32
	}
	if _, err := shm.LookupValue[renamed](seg, "r"); !errors.Is(err, shm.ErrLayout) || !strings.Contains(err.Error(), "Y float64 @0") {
		t.Errorf("a struct with another field name: %v", err)
	}
	if _, err := shm.LookupRawArray[uint32](seg, "a"); !errors.Is(err, shm.ErrLayout) || !strings.Contains(err.Error(), "int32 (4 bytes)") || !strings.Contains(err.Error(), "uint32 (4 bytes)") {
		t.Errorf("RawArray of uint32 for int32: %v", err)
	}
	// Another kind.
	if _, err := shm.LookupArray[int32](seg, "a"); err == nil || !strings.Contains(err.Error(), "is a RawArray, not an Array") {
		t.Errorf("LookupArray of a RawArray: %v", err)
	}
	if _, err := shm.LookupMutex(seg, "r"); err == nil || !strings.Contains(err.Error(), "is a Value, not a Mutex") {
		t.Errorf("LookupMutex of a Value: %v", err)
	}
	// A type that cannot be shared at all.
	var te *shm.TypeError
	if _, err := shm.LookupValue[string](seg, "r"); !errors.As(err, &te) {
		t.Errorf("LookupValue[string]: %v, want a TypeError", err)
	}
}

func TestNamedWithLock(t *testing.T) {
	seg := createSeg(t, 1<<14)
	m := must(shm.NewMutex(shm.In(seg, "lock")))(t)
	v := must(shm.NewValue[int32](3, shm.In(seg, "v"), shm.WithLock(m)))(t)
	a := must(shm.NewArray[int32](2, shm.In(seg, "a"), shm.WithLock(m)))(t)
	if v.Mutex() != m || a.Mutex() != m {
		t.Fatal("WithLock ignored")
	}
	seg2 := openSeg(t, seg.Name())
	if got := must(shm.LookupValue[int32](seg2, "v"))(t); got.Mutex() != m || got.Load() != 3 {
		t.Fatal("a Value made WithLock looked up with another lock")
	}
	if got := must(shm.LookupArray[int32](seg2, "a"))(t); got.Mutex() != m {
		t.Fatal("an Array made WithLock looked up with another lock")
	}
	anon := newMutex(t)
	if _, err := shm.NewValue[int32](1, shm.In(seg, "w"), shm.WithLock(anon)); err == nil || !strings.Contains(err.Error(), "not in segment") {
		t.Fatalf("In with a lock of another segment: %v", err)
	}
	if _, err := shm.NewRawValue[int32](1, shm.In(seg, "w"), shm.WithLock(m)); err == nil || !strings.Contains(err.Error(), "WithLock") {
		t.Fatalf("NewRawValue WithLock: %v", err)
	}
	if _, err := shm.LookupRawValue[int32](seg, "w"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed In left an object: %v", err)
	}
}

// Environment variables of the named-segment scenarios.
const (
	envSeg    = "SHM_TEST_SEGMENT" // the segment's name
	envCount  = "SHM_TEST_COUNT"   // how many times
	envStep   = "SHM_TEST_STEP"    // the step to stop at
	envPublic = "SHM_TEST_PUBLIC"  // a segment of mode 0644
	envWrite  = "SHM_TEST_WRITE"   // try to write a read-only segment
)

func init() {
	scenarios["named-increment"] = scenarioNamedIncrement
	scenarios["named-lock-hold"] = scenarioNamedLockHold
	scenarios["named-create-stop"] = scenarioNamedCreateStop
	scenarios["named-alloc-stop"] = scenarioNamedAllocStop
	scenarios["named-other-user"] = scenarioNamedOtherUser
	scenarios["named-no-table"] = scenarioNamedNoTable
	scenarios["named-create-wait"] = scenarioNamedCreateWait
	shm.Register(createRacer)
	shm.Register(allocMany)
	shm.Register(bumpNamed)
	shm.Register(sumBytes)
}

// A scenarioProc is a scenario run as a process of its own: a program
// unrelated to the test, not a child started by Start.
type scenarioProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

func startScenario(tb testing.TB, exe []string, name string, env ...string) *scenarioProc {
	tb.Helper()
	if exe == nil {
		self, err := os.Executable()
		if err != nil {
			tb.Fatal(err)
		}
		exe = []string{self}
	}
	p := &scenarioProc{cmd: exec.Command(exe[0], exe[1:]...)}
	p.cmd.Env = append(os.Environ(), append(env, scenarioEnv+"="+name, "GORACE=atexit_sleep_ms=0")...)
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p.out = bufio.NewReader(stdout)
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

// expect reads a line from the scenario and fails unless it is want.
func (p *scenarioProc) expect(tb testing.TB, want string) {
	tb.Helper()
	line, err := p.out.ReadString('\n')
	if strings.TrimSuffix(line, "\n") != want {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		tb.Fatalf("scenario said %q (%v), want %q; stderr:\n%s", line, err, want, p.stderr.Bytes())
	}
}

// wait waits for the scenario to exit and fails unless it exits with 0.
func (p *scenarioProc) wait(tb testing.TB) {
	tb.Helper()
	rest, _ := io.ReadAll(p.out)
	if err := p.cmd.Wait(); err != nil || len(rest) > 0 {
		tb.Fatalf("scenario: %v; more output %q; stderr:\n%s", err, rest, p.stderr.Bytes())
	}
}

// kill kills the scenario and waits for it.
func (p *scenarioProc) kill(tb testing.TB) {
	tb.Helper()
	p.cmd.Process.Kill()
	if err := p.cmd.Wait(); err == nil {
		tb.Fatal("a killed scenario exited cleanly")
	}
}

func scenarioFail(format string, args ...any) int {
	fmt.Printf(format+"\n", args...)
	return 1
}

// scenarioNamedIncrement increments the Value "counter" of a segment
// SHM_TEST_COUNT times, starting on a line on its standard input.
func scenarioNamedIncrement() int {
	seg, err := shm.Open(os.Getenv(envSeg))
	if err != nil {
		return scenarioFail("%v", err)
	}
	v, err := shm.LookupValue[int64](seg, "counter")
	if err != nil {
		return scenarioFail("%v", err)
	}
	n, _ := strconv.Atoi(os.Getenv(envCount))
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return scenarioFail("%v", err)
	}
	for i := 0; i < n; i++ {
		v.Update(func(x int64) int64 { return x + 1 })
	}
	return 0
}

// TestNamedCounterUnrelated has two unrelated programs (neither started by
// the other) increment one named counter under its lock.
func TestNamedCounterUnrelated(t *testing.T) {
	const n = 20000
	seg := createSeg(t, 8192)
	v := must(shm.NewValue[int64](0, shm.In(seg, "counter")))(t)
	var ps []*scenarioProc
	for range 2 {
		p := startScenario(t, nil, "named-increment", envSeg+"="+seg.Name(), envCount+"="+strconv.Itoa(n))
		p.expect(t, "ready")
		ps = append(ps, p)
	}
	for _, p := range ps {
		io.WriteString(p.stdin, "go\n")
	}
	for i := 0; i < n; i++ {
		v.Update(func(x int64) int64 { return x + 1 })
	}
	for _, p := range ps {
		p.wait(t)
	}
	if got := v.Load(); got != 3*n {
		t.Fatalf("counter = %d, want %d", got, 3*n)
	}
}

// scenarioNamedLockHold locks the Mutex "m" of a segment, says so, and holds
// it until killed.
func scenarioNamedLockHold() int {
	seg, err := shm.Open(os.Getenv(envSeg))
	if err != nil {
		return scenarioFail("%v", err)
	}
	m, err := shm.LookupMutex(seg, "m")
	if err != nil {
		return scenarioFail("%v", err)
	}
	m.Lock()
	fmt.Println("locked")
	sleepForever()
	return 0
}

// TestNamedOwnerDeathUnrelated kills an unrelated program that holds a named
// Mutex: the next locker must learn of it.
func TestNamedOwnerDeathUnrelated(t *testing.T) {
	seg := createSeg(t, 8192)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	p := startScenario(t, nil, "named-lock-hold", envSeg+"="+seg.Name())
	p.expect(t, "locked")
	mustBlock(t, m)
	p.kill(t)
	if err := m.LockContext(bounded(t)); !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("LockContext after the unrelated owner died = %v, want ErrOwnerDead", err)
	}
	m.Unlock()
}

// TestNamedOwnerDeathWakesWaiter kills the unrelated owner while this
// process already sleeps on the lock.
func TestNamedOwnerDeathWakesWaiter(t *testing.T) {
	seg := createSeg(t, 8192)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	p := startScenario(t, nil, "named-lock-hold", envSeg+"="+seg.Name())
	p.expect(t, "locked")
	got := make(chan error, 1)
	ctx := bounded(t)
	go func() { got <- m.LockContext(ctx) }()
	await(t, "this process to wait for the lock", m.Waiters)
	p.kill(t)
	if err := <-got; !errors.Is(err, shm.ErrOwnerDead) {
		t.Fatalf("waiter got %v, want ErrOwnerDead", err)
	}
	m.Unlock()
}

// createRacer creates the segment name once go is set, and reports how it went.
func createRacer(name string, ready, start *shm.RawValue[atomic.Int32], result *shm.RawValue[int32]) error {
	ready.Ptr().Add(1)
	for start.Ptr().Load() == 0 {
	}
	s, err := shm.Create(name, 8192)
	switch {
	case err == nil:
		result.Store(1)
		return s.Close()
	case errors.Is(err, fs.ErrExist):
		result.Store(2)
		return nil
	}
	return err
}

// TestNamedCreateRace has two children create one name at once, many times:
// exactly one must win each time.
func TestNamedCreateRace(t *testing.T) {
	for round := range 20 {
		name := newSegName(t)
		removeLater(t, name)
		ready, goFlag := newFlag(t), newFlag(t)
		var results [2]*shm.RawValue[int32]
		var ps [2]*shm.Process
		for i := range ps {
			results[i] = must(shm.NewRawValue[int32](0))(t)
			ps[i] = start(t, createRacer, name, ready, goFlag, results[i])
		}
		await(t, "both creators", func() bool { return ready.Ptr().Load() == 2 })
		goFlag.Ptr().Store(1)
		for _, p := range ps {
			join(t, p)
		}
		a, b := results[0].Load(), results[1].Load()
		if a+b != 3 {
			t.Fatalf("round %d: the creators got %d and %d (1 created, 2 exists): want exactly one winner", round, a, b)
		}
		s := openSeg(t, name)
		if st := must(s.Stat())(t); st.Raw || st.Size != 8192 {
			t.Fatalf("the winner's segment: %+v", st)
		}
	}
}

// scenarioNamedCreateStop creates a segment and stops Create after step
// SHM_TEST_STEP, saying so, to be killed there.
func scenarioNamedCreateStop() int {
	step, _ := strconv.Atoi(os.Getenv(envStep))
	shm.SetCreateHook(func(s int) {
		if s == step {
			fmt.Println("stopped", s)
			sleepForever()
		}
	})
	s, err := shm.Create(os.Getenv(envSeg), 8192)
	if err != nil {
		return scenarioFail("%v", err)
	}
	fmt.Println("created")
	s.Close()
	sleepForever()
	return 0
}

// TestNamedCreateKilled kills a creator after each step of Create: the name
// must then be free, or hold a complete segment.
func TestNamedCreateKilled(t *testing.T) {
	for step := 1; step <= shm.CreateSteps; step++ {
		name := newSegName(t)
		removeLater(t, name)
		before := devShm()
		p := startScenario(t, nil, "named-create-stop", envSeg+"="+name, envStep+"="+strconv.Itoa(step))
		p.expect(t, fmt.Sprintf("stopped %d", step))
		p.kill(t)
		s, err := shm.Open(name)
		if step < shm.CreateLinked {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("creator killed after step %d: Open = %v, want fs.ErrNotExist", step, err)
			}
			if after := devShm(); !slices.Equal(before, after) {
				t.Fatalf("creator killed after step %d left files: before %v, after %v", step, before, after)
			}
			s := must(shm.Create(name, 8192))(t)
			must(shm.NewValue(1, shm.In(s, "x")))(t)
			s.Close()
			continue
		}
		if err != nil {
			t.Fatalf("creator killed after step %d: Open = %v, want the complete segment", step, err)
		}
		if st := must(s.Stat())(t); st.Raw || st.Size != 8192 || st.Used != 4096 || st.Objects != 0 || st.CreatorAlive || !st.CreatorKnown {
			t.Fatalf("creator killed after step %d: %+v", step, st)
		}
		must(shm.NewValue(1, shm.In(s, "x")))(t)
		s.Close()
		if _, err := shm.Create(name, 8192); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("Create over a complete segment: %v, want fs.ErrExist", err)
		}
	}
}

// scenarioNamedAllocStop places a Value in a segment and stops the
// allocation after step SHM_TEST_STEP, saying so, to be killed there.
func scenarioNamedAllocStop() int {
	seg, err := shm.Open(os.Getenv(envSeg))
	if err != nil {
		return scenarioFail("%v", err)
	}
	step, _ := strconv.Atoi(os.Getenv(envStep))
	shm.SetAllocHook(func(s int) {
		if s == step {
			fmt.Println("stopped", s)
			sleepForever()
		}
	})
	if _, err := shm.NewValue[int64](5, shm.In(seg, "victim")); err != nil {
		return scenarioFail("%v", err)
	}
	return scenarioFail("not stopped")
}

// TestNamedAllocKilled kills an allocating process after each step of an
// allocation, holding the allocation lock: the next allocation must take the
// lock over, repair the header, and never overlap what the dead one carved.
func TestNamedAllocKilled(t *testing.T) {
	for step := 1; step <= shm.AllocSteps; step++ {
		seg := createSeg(t, 1<<14)
		must(shm.NewValue[int64](1, shm.In(seg, "first")))(t)
		p := startScenario(t, nil, "named-alloc-stop", envSeg+"="+seg.Name(), envStep+"="+strconv.Itoa(step))
		p.expect(t, fmt.Sprintf("stopped %d", step))
		p.kill(t)
		deadUsed, _, _ := shm.HeaderCounts(seg)

		after := must(shm.NewValue[int64](7, shm.In(seg, "after")))(t)
		victim, err := shm.LookupValue[int64](seg, "victim")
		if step < shm.AllocLinked {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("allocator killed after step %d: victim = %v, want it absent", step, err)
			}
		} else {
			if err != nil {
				t.Fatalf("allocator killed after step %d: victim: %v", step, err)
			}
			if victim.Load() != 5 {
				t.Fatalf("victim = %d, want 5", victim.Load())
			}
		}
		objs := must(seg.Objects())(t)
		used, last, count := shm.HeaderCounts(seg)
		if int(count) != len(objs) || last == 0 {
			t.Fatalf("after step %d: count %d, last %d; %d objects", step, count, last, len(objs))
		}
		if off := objs[len(objs)-1]; off.Name != "after" || uint64(off.Offset) < deadUsed || used <= deadUsed {
			t.Fatalf("after step %d: the new object at %d overlaps what the dead allocator carved (up to %d)", step, off.Offset, deadUsed)
		}
		if after.Load() != 7 {
			t.Fatal(after.Load())
		}
		m := shm.AllocLock(seg)
		if !m.TryLock() {
			t.Fatal("allocation lock held after the repair")
		}
		m.Unlock()
	}
}

// allocMany places k objects in the segment name, each filled with a
// pattern that names child and object, once go is set.
func allocMany(name string, child, k int, ready, start *shm.RawValue[atomic.Int32]) error {
	seg, err := shm.Open(name)
	if err != nil {
		return err
	}
	defer seg.Close()
	ready.Ptr().Add(1)
	for start.Ptr().Load() == 0 {
	}
	for i := range k {
		a, err := shm.NewRawArray[uint64](1+(i*7+child)%13, shm.In(seg, fmt.Sprintf("c%d-%d", child, i)))
		if err != nil {
			return err
		}
		for j := range a.Slice() {
			a.Slice()[j] = pattern(child, i, j)
		}
		if _, err := shm.NewValue(pattern(child, i, -1), shm.In(seg, fmt.Sprintf("v%d-%d", child, i))); err != nil {
			return err
		}
	}
	return nil
}

func pattern(child, i, j int) uint64 { return uint64(child)<<40 | uint64(i)<<20 | uint64(j&0xfffff) }

// TestNamedConcurrentIn has several processes place objects in one segment
// at once: no two may overlap.
func TestNamedConcurrentIn(t *testing.T) {
	const children, k = 3, 300
	seg := createSeg(t, 4<<20)
	ready, goFlag := newFlag(t), newFlag(t)
	var ps []*shm.Process
	for c := range children {
		ps = append(ps, start(t, allocMany, seg.Name(), c, k, ready, goFlag))
	}
	await(t, "the children", func() bool { return ready.Ptr().Load() == children })
	goFlag.Ptr().Store(1)
	for _, p := range ps {
		join(t, p)
	}
	objs := must(seg.Objects())(t)
	if len(objs) != 2*children*k {
		t.Fatalf("%d objects, want %d", len(objs), 2*children*k)
	}
	if _, _, count := shm.HeaderCounts(seg); int(count) != len(objs) {
		t.Fatalf("count %d, want %d", count, len(objs))
	}
	type span struct {
		name     string
		from, to int64
	}
	var spans []span
	for _, o := range objs {
		from := o.Offset
		if o.Kind == "RawArray" {
			from -= 64 // the array's header
		}
		spans = append(spans, span{o.Name, from, o.Offset + int64(o.Size)})
		if o.Lock != 0 {
			spans = append(spans, span{o.Name + "'s lock", o.Lock, o.Lock + 8})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	for i := 1; i < len(spans); i++ {
		if prev := spans[i-1]; prev.to > spans[i].from {
			t.Fatalf("%s [%d, %d) overlaps %s [%d, %d)", prev.name, prev.from, prev.to, spans[i].name, spans[i].from, spans[i].to)
		}
	}
	for c := range children {
		for i := range k {
			a := must(shm.LookupRawArray[uint64](seg, fmt.Sprintf("c%d-%d", c, i)))(t)
			for j, x := range a.Slice() {
				if x != pattern(c, i, j) {
					t.Fatalf("c%d-%d[%d] = %#x, want %#x", c, i, j, x, pattern(c, i, j))
				}
			}
			if v := must(shm.LookupValue[uint64](seg, fmt.Sprintf("v%d-%d", c, i)))(t); v.Load() != pattern(c, i, -1) {
				t.Fatalf("v%d-%d = %#x", c, i, v.Load())
			}
		}
	}
}

// bumpNamed increments v, a named Value passed by Start, and checks that
// opening its segment by name in the child maps nothing twice.
func bumpNamed(v *shm.Value[int64], name string) error {
	seg, err := shm.Open(name)
	if err != nil {
		return err
	}
	defer seg.Close()
	w, err := shm.LookupValue[int64](seg, "v")
	if err != nil {
		return err
	}
	if w.Raw().Ptr() != v.Raw().Ptr() || w.Mutex() != v.Mutex() {
		return errors.New("the segment passed by Start and the one opened by name are two mappings")
	}
	v.Update(func(x int64) int64 { return x + 1 })
	return nil
}

func TestNamedStart(t *testing.T) {
	seg := createSeg(t, 8192)
	v := must(shm.NewValue[int64](41, shm.In(seg, "v")))(t)
	join(t, start(t, bumpNamed, v, seg.Name()))
	if v.Load() != 42 {
		t.Fatalf("after the child: %d", v.Load())
	}
	// A closed segment's objects stay usable, but cannot be passed on.
	if err := seg.Close(); err != nil {
		t.Fatal(err)
	}
	if v.Update(func(x int64) int64 { return x + 1 }) != 43 {
		t.Fatal("a Value of a closed segment")
	}
	if _, err := shm.Start(bumpNamed, v, seg.Name()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Start with an object of a closed segment: %v", err)
	}
	noChildren(t)
	seg2 := openSeg(t, seg.Name())
	join(t, start(t, bumpNamed, v, seg2.Name()))
	if v.Load() != 44 {
		t.Fatalf("after the second child: %d", v.Load())
	}
}

func TestNamedClose(t *testing.T) {
	seg := createSeg(t, 8192)
	v := must(shm.NewValue[int64](1, shm.In(seg, "v")))(t)
	mappings := shm.NamedSegmentCount()
	fds := openFds(t)
	for range 100 {
		s := openSeg(t, seg.Name())
		w := must(shm.LookupValue[int64](s, "v"))(t)
		if w.Raw().Ptr() != v.Raw().Ptr() {
			t.Fatal("the segment was mapped again")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("second Close = %v, want fs.ErrClosed", err)
		}
		if _, err := shm.LookupValue[int64](s, "v"); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("LookupValue after Close = %v, want fs.ErrClosed", err)
		}
		if _, err := s.Objects(); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Objects after Close = %v, want fs.ErrClosed", err)
		}
	}
	if n := shm.NamedSegmentCount(); n != mappings {
		t.Fatalf("%d named mappings after 100 opens and closes, want %d", n, mappings)
	}
	if n := openFds(t); n != fds {
		t.Fatalf("%d descriptors after 100 opens and closes, want %d", n, fds)
	}
	if err := seg.Close(); err != nil {
		t.Fatal(err)
	}
	if v.Update(func(x int64) int64 { return x + 1 }) != 2 {
		t.Fatal("a Value whose segment was closed")
	}
	if err := shm.Remove(seg.Name()); err != nil {
		t.Fatal(err)
	}
	if v.Update(func(x int64) int64 { return x + 1 }) != 3 {
		t.Fatal("a Value whose segment was removed")
	}
	if _, err := shm.Open(seg.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after Remove = %v", err)
	}
}

func openFds(tb testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents)
}

// sumBytes stores the sum of b's bytes in sum.
func sumBytes(b *shm.RawArray[byte], sum *shm.RawValue[int]) {
	n := 0
	for _, x := range b.Slice() {
		n += int(x)
	}
	sum.Store(n)
}

// TestNamedRawGrown opens a raw segment again after its file grew: this
// process mapped it at its old size, and says so rather than use a mapping
// shorter than the file.
func TestNamedRawGrown(t *testing.T) {
	name := writeSegment(t, make([]byte, 100))
	openSeg(t, name)
	if err := os.Truncate("/dev/shm/"+name, 200); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open(name); err == nil || !strings.Contains(err.Error(), "the file is 200 bytes, but was 100 when this process mapped it") {
		t.Fatalf("Open of a grown raw segment: %v", err)
	}
}

// TestNamedRaw opens a file without shm's header, as Python's SharedMemory
// makes them.
func TestNamedRaw(t *testing.T) {
	for _, size := range []int{0, 100, 4096, 10000} {
		name := newSegName(t)
		data := make([]byte, size)
		want := 0
		for i := range data {
			data[i] = byte(i * 7)
			want += int(data[i])
		}
		if err := os.WriteFile("/dev/shm/"+name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		removeLater(t, name)
		seg := openSeg(t, name)
		b := must(seg.Bytes())(t)
		if !bytes.Equal(b.Slice(), data) {
			t.Fatalf("%d bytes: Bytes differs", size)
		}
		if st := must(seg.Stat())(t); !st.Raw || st.Size != int64(size) || st.Objects != 0 {
			t.Fatalf("Stat = %+v", st)
		}
		if objs, err := seg.Objects(); err != nil || objs != nil {
			t.Fatalf("Objects = %v, %v", objs, err)
		}
		if _, err := shm.LookupValue[int](seg, "x"); err == nil || !strings.Contains(err.Error(), "no shm header") {
			t.Fatalf("LookupValue in a raw segment: %v", err)
		}
		if _, err := shm.NewValue(1, shm.In(seg, "x")); err == nil || !strings.Contains(err.Error(), "no shm header") {
			t.Fatalf("In a raw segment: %v", err)
		}
		if size > 0 {
			b.Store(0, 1)
			data[0] = 1
			want++
			if got, err := os.ReadFile("/dev/shm/" + name); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("a write through Bytes is not in the file: %v", err)
			}
		}
		sum := must(shm.NewRawValue(0))(t)
		join(t, start(t, sumBytes, b, sum))
		if sum.Load() != want {
			t.Fatalf("%d bytes: the child summed %d, want %d", size, sum.Load(), want)
		}
	}
	seg := createSeg(t, 8192)
	if _, err := seg.Bytes(); err == nil || !strings.Contains(err.Error(), "has shm's header") {
		t.Fatalf("Bytes of a segment with a header: %v", err)
	}
}

// scenarioNamedOtherUser runs as another user: it reports what it can do
// with a private segment (SHM_TEST_SEGMENT) and a public one
// (SHM_TEST_PUBLIC), and with SHM_TEST_WRITE set, writes the public one.
func scenarioNamedOtherUser() int {
	_, err := shm.Open(os.Getenv(envSeg))
	fmt.Println("private:", errors.Is(err, fs.ErrPermission), err)
	seg, err := shm.Open(os.Getenv(envPublic))
	if err != nil {
		return scenarioFail("public: %v", err)
	}
	fmt.Println("read-only:", seg.ReadOnly())
	rv, err := shm.LookupRawValue[int64](seg, "answer")
	if err != nil {
		return scenarioFail("LookupRawValue: %v", err)
	}
	fmt.Println("answer:", rv.Load())
	ra, err := shm.LookupRawArray[int32](seg, "list")
	if err != nil {
		return scenarioFail("LookupRawArray: %v", err)
	}
	fmt.Println("list:", ra.Slice())
	_, err = shm.LookupValue[int64](seg, "answer")
	fmt.Println("LookupValue:", errors.Is(err, fs.ErrPermission))
	_, err = shm.LookupArray[int32](seg, "list")
	fmt.Println("LookupArray:", errors.Is(err, fs.ErrPermission))
	_, err = shm.LookupMutex(seg, "m")
	fmt.Println("LookupMutex:", errors.Is(err, fs.ErrPermission))
	_, err = shm.NewRawValue(1, shm.In(seg, "mine"))
	fmt.Println("In:", errors.Is(err, fs.ErrPermission))
	st, err := seg.Stat()
	fmt.Println("creator known:", st.CreatorKnown, err)
	if os.Getenv(envWrite) != "" {
		fmt.Println("writing")
		rv.Store(1)
		fmt.Println("wrote")
	}
	return 0
}

// asUser returns the command line that runs this test binary as user uid,
// and a copy of the binary that that user may run. It skips the test unless
// this process is root and setpriv exists.
func asUser(t *testing.T, uid int) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running a child as another user needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("running a child as another user needs setpriv (util-linux)")
	}
	dir, err := os.MkdirTemp("", "shm-other-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "shm.test")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, self, exe)
	id := strconv.Itoa(uid)
	return []string{setpriv, "--reuid=" + id, "--regid=" + id, "--clear-groups", exe}
}

// TestNamedOtherUser runs a program as another user (nobody): it cannot open
// a segment of the default mode, and opens a 0644 one read-only, where it
// reads values and is refused locks.
func TestNamedOtherUser(t *testing.T) {
	cmd := asUser(t, 65534)
	private := createSeg(t, 8192)
	public := createSeg(t, 8192, shm.Mode(0o644))
	must(shm.NewValue[int64](42, shm.In(public, "answer")))(t)
	must(shm.NewArrayFrom([]int32{1, 2, 3}, shm.In(public, "list")))(t)
	must(shm.NewMutex(shm.In(public, "m")))(t)

	p := startScenario(t, cmd, "named-other-user", envSeg+"="+private.Name(), envPublic+"="+public.Name())
	line, _ := p.out.ReadString('\n')
	if !strings.HasPrefix(line, "private: true ") || !strings.Contains(line, private.Name()) {
		t.Fatalf("another user opening a 0600 segment: %q, want a permission error naming it; stderr:\n%s", line, p.stderr.Bytes())
	}
	for _, want := range []string{
		"read-only: true", "answer: 42", "list: [1 2 3]",
		"LookupValue: true", "LookupArray: true", "LookupMutex: true", "In: true",
		"creator known: false <nil>",
	} {
		p.expect(t, want)
	}
	p.wait(t)

	// A write through a read-only view is a fault that ends the program.
	p = startScenario(t, cmd, "named-other-user", envSeg+"="+private.Name(), envPublic+"="+public.Name(), envWrite+"=1")
	out, _ := io.ReadAll(p.out)
	err := p.cmd.Wait()
	if !strings.Contains(string(out), "writing\n") || strings.Contains(string(out), "wrote") || err == nil ||
		!strings.Contains(p.stderr.String(), "fault") {
		t.Fatalf("a write to a read-only segment: output %q, %v; stderr:\n%.400s", out, err, p.stderr.Bytes())
	}
	if v := must(shm.LookupValue[int64](public, "answer"))(t); v.Load() != 42 {
		t.Fatalf("the other user changed the value to %d", v.Load())
	}
}

// scenarioNamedCreateWait creates a segment holding the Value "answer", says
// so, and removes it on a line on its standard input.
func scenarioNamedCreateWait() int {
	name := os.Getenv(envSeg)
	seg, err := shm.Create(name, 8192)
	if err != nil {
		return scenarioFail("%v", err)
	}
	if _, err := shm.NewValue[int64](42, shm.In(seg, "answer")); err != nil {
		return scenarioFail("%v", err)
	}
	fmt.Println("created")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if err := shm.Remove(name); err != nil {
		return scenarioFail("%v", err)
	}
	return 0
}

// TestNamedOtherUsersSegment opens, as root, a segment of another user: root
// may write any file, but its locks could not be judged by that user's
// processes, so it opens the segment read-only.
func TestNamedOtherUsersSegment(t *testing.T) {
	cmd := asUser(t, 65534)
	name := newSegName(t)
	removeLater(t, name)
	p := startScenario(t, cmd, "named-create-wait", envSeg+"="+name)
	p.expect(t, "created")
	seg := openSeg(t, name)
	if !seg.ReadOnly() {
		t.Fatal("root opened another user's segment for writing")
	}
	if _, err := shm.LookupValue[int64](seg, "answer"); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "belongs to user 65534") {
		t.Fatalf("LookupValue in another user's segment: %v, want a permission error saying why", err)
	}
	if v := must(shm.LookupRawValue[int64](seg, "answer"))(t); v.Load() != 42 {
		t.Fatalf("read %d", v.Load())
	}
	if st := must(seg.Stat())(t); st.CreatorUid != 65534 || st.CreatorKnown {
		t.Fatalf("Stat = %+v", st)
	}
	io.WriteString(p.stdin, "done\n")
	p.wait(t)
}

// scenarioNamedNoTable runs as a user whose token table it cannot open.
func scenarioNamedNoTable() int {
	_, err := shm.Create(os.Getenv(envSeg), 8192)
	fmt.Println("Create:", err)
	seg, err := shm.Open(os.Getenv(envPublic))
	if err != nil {
		return scenarioFail("own: %v", err)
	}
	fmt.Println("read-only:", seg.ReadOnly())
	_, err = shm.LookupValue[int64](seg, "v")
	fmt.Println("LookupValue:", err)
	return 0
}

// TestNamedNoUserTable runs a program that cannot have a token from its
// user's table (the table belongs to another user): it cannot create a
// segment, and opens its own read-only; the errors say why.
func TestNamedNoUserTable(t *testing.T) {
	const uid = 65533
	cmd := asUser(t, uid)
	table := fmt.Sprintf("/dev/shm/.shm-tokens-%d", uid)
	f, err := os.OpenFile(table, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Skipf("cannot make %s for the test: %v", table, err)
	}
	f.Close()
	t.Cleanup(func() { os.Remove(table) })
	own := createSeg(t, 8192)
	must(shm.NewValue[int64](1, shm.In(own, "v")))(t)
	if err := os.Chown("/dev/shm/"+own.Name(), uid, uid); err != nil {
		t.Fatal(err)
	}
	name := newSegName(t)
	removeLater(t, name)

	p := startScenario(t, cmd, "named-no-table", envSeg+"="+name, envPublic+"="+own.Name())
	for _, what := range []string{"Create", "LookupValue"} {
		line, _ := p.out.ReadString('\n')
		if !strings.HasPrefix(line, what+":") || !strings.Contains(line, "no liveness token from its user's table") || !strings.Contains(line, table) {
			t.Fatalf("%s without a user table: %q, want an error saying why; stderr:\n%s", what, line, p.stderr.Bytes())
		}
		if what == "Create" {
			p.expect(t, "read-only: true")
		}
	}
	p.wait(t)
	if _, err := os.Stat("/dev/shm/" + name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused Create left a file: %v", err)
	}
}

// segmentImage returns the bytes of a new segment holding a Value "v", a
// RawArray "a" and a Mutex "m".
func segmentImage(t *testing.T) []byte {
	t.Helper()
	seg := createSeg(t, 8192)
	must(shm.NewValue[int64](7, shm.In(seg, "v")))(t)
	must(shm.NewRawArrayFrom([]int32{1, 2, 3}, shm.In(seg, "a")))(t)
	must(shm.NewMutex(shm.In(seg, "m")))(t)
	b, err := os.ReadFile("/dev/shm/" + seg.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeSegment writes b as a new segment file and returns its name.
func writeSegment(t *testing.T, b []byte) string {
	t.Helper()
	name := newSegName(t)
	if err := os.WriteFile("/dev/shm/"+name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	removeLater(t, name)
	return name
}

func put32(b []byte, off int, v uint32) { binary.NativeEndian.PutUint32(b[off:], v) }
func put64(b []byte, off int, v uint64) { binary.NativeEndian.PutUint64(b[off:], v) }

// TestNamedCorruptHeader damages each field of a header in turn: Open must
// fail, naming the segment and the field.
func TestNamedCorruptHeader(t *testing.T) {
	good := segmentImage(t)
	for _, c := range []struct {
		field  string
		damage func([]byte) []byte
	}{
		{"version", func(b []byte) []byte { put32(b, 8, 2); return b }},
		{"byte order", func(b []byte) []byte { put32(b, 12, 0x04030201); return b }},
		{"word size", func(b []byte) []byte { put32(b, 16, 4); return b }},
		{"header size", func(b []byte) []byte { put32(b, 20, 8192); return b }},
		{"size", func(b []byte) []byte { put64(b, 24, 1<<20); return b }},
		{"size", func(b []byte) []byte { return b[:4096+64] }},                      // truncated
		{"size", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }}, // extended
		{"file size", func(b []byte) []byte { return b[:100] }},
		{"checksum", func(b []byte) []byte { put64(b, 32, 12345); return b }},    // created changed
		{"checksum", func(b []byte) []byte { put64(b, 56, 0); return b }},        // the checksum itself
		{"checksum", func(b []byte) []byte { b[0] = 's'; b[1] = 'h'; return b }}, // still the magic: no change
		{"used", func(b []byte) []byte { put64(b, 72, 100); return b }},
		{"used", func(b []byte) []byte { put64(b, 72, 1<<40); return b }},
		{"first", func(b []byte) []byte { put64(b, 80, 17); return b }},
		{"last", func(b []byte) []byte { put64(b, 88, 8193); return b }}, // past the end of the file
	} {
		b := c.damage(slices.Clone(good))
		if c.field == "checksum" && bytes.Equal(b[:56], good[:56]) && binary.NativeEndian.Uint64(b[56:]) == binary.NativeEndian.Uint64(good[56:]) {
			continue // the damage changed nothing
		}
		name := writeSegment(t, b)
		_, err := shm.Open(name)
		var fe *shm.FormatError
		if !errors.As(err, &fe) || fe.Field != c.field || fe.Segment != name || !strings.Contains(err.Error(), "header field "+c.field) {
			t.Errorf("%s damaged: Open = %v, want a FormatError for field %s", c.field, err, c.field)
		}
	}
	// Without the magic, a file is a raw segment.
	b := slices.Clone(good)
	b[0] = 'X'
	seg := openSeg(t, writeSegment(t, b))
	if st := must(seg.Stat())(t); !st.Raw {
		t.Fatal("a file without the magic opened as a segment with a header")
	}
	if _, err := shm.LookupValue[int64](seg, "v"); err == nil || !strings.Contains(err.Error(), "no shm header") {
		t.Fatalf("LookupValue in a file without the magic: %v", err)
	}
}

// TestNamedCorruptRecord damages a directory record in turn: Objects and
// look-ups must fail, naming the record and the field.
func TestNamedCorruptRecord(t *testing.T) {
	good := segmentImage(t)
	first := int(binary.NativeEndian.Uint64(good[80:]))
	second := int(binary.NativeEndian.Uint64(good[first:]))
	third := int(binary.NativeEndian.Uint64(good[second:]))
	rehash := func(b []byte, rec int) {
		nameLen := int(binary.NativeEndian.Uint16(b[rec+56:]))
		descLen := int(binary.NativeEndian.Uint32(b[rec+60:]))
		d := b[rec+64+nameLen : rec+64+nameLen+descLen]
		h := uint64(0xcbf29ce484222325)
		for _, c := range d {
			h ^= uint64(c)
			h *= 0x100000001b3
		}
		put64(b, rec+48, h)
	}
	for _, c := range []struct {
		field  string
		rec    int
		damage func([]byte)
	}{
		{"offset", 4096 + 8, func(b []byte) { put64(b, 80, 4096+8) }},
		{"next", second, func(b []byte) { put64(b, second, uint64(first)) }},
		{"next", second, func(b []byte) { put64(b, second, uint64(second)) }},
		{"record size", first, func(b []byte) { put32(b, first+8, 1000) }},
		{"kind", first, func(b []byte) { put32(b, first+12, 0) }},
		{"off", first, func(b []byte) { put64(b, first+16, 1<<40) }},
		{"off", first, func(b []byte) { put64(b, first+16, 4097) }},
		{"size", first, func(b []byte) { put64(b, first+24, 16) }},
		{"length", first, func(b []byte) { put64(b, first+32, 2); put64(b, first+24, 16) }},
		{"lock", first, func(b []byte) { put64(b, first+40, 8190) }},
		{"lock", third, func(b []byte) { put64(b, third+40, 4096) }},
		{"type hash", first, func(b []byte) { b[first+48] ^= 1 }},
		{"name length", first, func(b []byte) { binary.NativeEndian.PutUint16(b[first+56:], 0) }},
		{"zero", first, func(b []byte) { b[first+58] = 1 }},
		{"descriptor length", first, func(b []byte) { put32(b, first+60, 0) }},
		{"name", first, func(b []byte) { b[first+64] = '/' }},
		{"name", second, func(b []byte) { b[second+64] = 'v' }}, // a second "v"
		{"descriptor", first, func(b []byte) {
			copy(b[first+65:], `{"kind":"int64","size":8,"align":4}`)
			rehash(b, first)
		}},
		{"descriptor", first, func(b []byte) {
			copy(b[first+65:], `{"kind":"int64", "size":8,"align":8`)
			rehash(b, first)
		}},
	} {
		b := slices.Clone(good)
		c.damage(b)
		seg := openSeg(t, writeSegment(t, b))
		_, err := seg.Objects()
		var fe *shm.FormatError
		if !errors.As(err, &fe) || fe.Field != c.field || fe.Record != int64(c.rec) ||
			!strings.Contains(err.Error(), fmt.Sprintf("record at offset %d: field %s", c.rec, c.field)) {
			t.Errorf("%s of record %d damaged: Objects = %v", c.field, c.rec, err)
		}
		if _, err := shm.LookupMutex(seg, "missing"); !errors.As(err, &fe) {
			t.Errorf("%s of record %d damaged: a look-up = %v, want the FormatError", c.field, c.rec, err)
		}
	}
	// The length in a RawArray's header must be the record's.
	b := slices.Clone(good)
	off := binary.NativeEndian.Uint64(b[second+16:])
	put64(b, int(off)-64, 1000)
	seg := openSeg(t, writeSegment(t, b))
	if _, err := shm.LookupRawArray[int32](seg, "a"); err == nil || !strings.Contains(err.Error(), "field length: 3, but the array's header says 1000") {
		t.Errorf("a RawArray whose header disagrees with its record: %v", err)
	}
}

// TestNamedTruncated truncates the file of an open segment, as another
// process of the user could: shm's own reads of it fail with an error
// instead of crashing the process.
func TestNamedTruncated(t *testing.T) {
	seg := createSeg(t, 1<<16)
	must(shm.NewValue[int64](7, shm.In(seg, "v")))(t)
	if err := os.Truncate("/dev/shm/"+seg.Name(), 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := seg.Objects(); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("Objects of a truncated segment: %v", err)
	}
	if _, err := seg.Stat(); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("Stat of a truncated segment: %v", err)
	}
	if _, err := shm.NewValue[int64](8, shm.In(seg, "w")); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("In a truncated segment: %v", err)
	}
	if _, err := shm.Open(seg.Name()); err == nil || !strings.Contains(err.Error(), "size") {
		t.Fatalf("Open of a truncated segment: %v", err)
	}
}

// TestNamedTruncatedLookup truncates the file of a segment whose objects this
// process has looked up already: a look-up again, which finds the record in
// what this process read of the directory, must not read the file's bytes
// unguarded (a memory fault would kill the process). The test turns such a
// fault into a panic to report it.
func TestNamedTruncatedLookup(t *testing.T) {
	seg := createSeg(t, 1<<16)
	must(shm.NewRawValue[int64](7, shm.In(seg, "v")))(t)
	must(shm.LookupRawValue[int64](seg, "v"))(t)
	if err := os.Truncate("/dev/shm/"+seg.Name(), 4096); err != nil {
		t.Fatal(err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("a look-up in a truncated segment faulted: %v", r)
		}
	}()
	if _, err := shm.LookupRawValue[int64](seg, "v"); err != nil && !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("LookupRawValue in a truncated segment: %v", err)
	}
	if _, err := shm.LookupValue[int64](seg, "v"); err == nil {
		t.Fatal("LookupValue of a RawValue in a truncated segment succeeded")
	}
}
