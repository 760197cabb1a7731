package shm_test

// Go and Python on the same named memory: Go makes the segments, and Python
// programs (python/interop.py, which uses python/shmgo.py) read, write and
// lock them, unrelated to the test process. Each side uses its own code: Go
// the package, Python the module, so these tests check that the two agree on
// the format and the lock protocol of notes/segment-spec.md.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shmgo/shm"
)

// python3 returns the python3 to run the Python side of a test with. It
// skips the test where there is none, but never in CI, as TestPython does.
func python3(tb testing.TB) string {
	tb.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("CI has no python3: the Python tests must run there")
		}
		tb.Skip("no python3:", err)
	}
	return py
}

// startPython starts python/interop.py with args, a Python program unrelated
// to the test, and kills it when the test ends.
func startPython(tb testing.TB, args ...string) *scenarioProc {
	tb.Helper()
	return startScenario(tb, pythonCmd(tb, args...), "", "PYTHONDONTWRITEBYTECODE=1")
}

func pythonCmd(tb testing.TB, args ...string) []string {
	tb.Helper()
	return append([]string{python3(tb), filepath.Join("python", "interop.py")}, args...)
}

// line reads a line from the program, failing the test if there is none.
func (p *scenarioProc) line(tb testing.TB) string {
	tb.Helper()
	l, err := p.out.ReadString('\n')
	if err != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		tb.Fatalf("reading from %s: %v (got %q); stderr:\n%s", p.cmd.Path, err, l, p.stderr.Bytes())
	}
	return strings.TrimSuffix(l, "\n")
}

// pyReading is the struct that Python reads and writes: a nested array, a
// bool, an atomic, a nested struct and a blank field, which Python cannot
// reach by name and must not write.
type pyReading struct {
	ID    int32
	Ok    bool
	_     [3]byte
	Hits  atomic.Int64
	Temps [3]float64
	Pos   struct{ X, Y float32 }
}

// pyReadingJSON is pyReading as interop.py prints it: the named fields.
type pyReadingJSON struct {
	ID    int32
	Ok    bool
	Hits  int64
	Temps [3]float64
	Pos   struct{ X, Y float32 }
}

// pyValues is what `interop.py values` reads and what it is told to write.
type pyValues struct {
	Layouts map[string][2]string `json:"layouts,omitempty"` // name: kind, layout
	Temp    float64              `json:"temp"`
	Counts  []int32              `json:"counts"`
	Reading pyReadingJSON        `json:"reading"`
}

// TestPythonValues has Go make a float64 Value, an int32 RawArray and a
// struct Value; a Python program reads them, checks their layouts and
// writes new values, which Go then sees.
func TestPythonValues(t *testing.T) {
	seg := createSeg(t, 1<<16)
	temp := must(shm.NewValue(21.5, shm.In(seg, "temp")))(t)
	counts := must(shm.NewRawArrayFrom([]int32{1, -2, 3, 1 << 30, math.MinInt32}, shm.In(seg, "counts")))(t)
	reading := must(shm.NewValue(pyReading{
		ID: 7, Ok: true,
		Temps: [3]float64{20.5, -1.25, 1e300},
		Pos:   struct{ X, Y float32 }{1.5, -0.5},
	}, shm.In(seg, "reading")))(t)
	reading.Mutex().Lock()
	reading.Raw().Ptr().Hits.Store(1<<40 + 3)
	reading.Mutex().Unlock()

	// Canaries in the blank field, which no one may write.
	objs := must(seg.Objects())(t)
	blank := objs[2].Data[5:8]
	copy(blank, []byte{0xa5, 0x5a, 0xc3})

	want := pyValues{
		Layouts: map[string][2]string{},
		Temp:    21.5,
		Counts:  []int32{1, -2, 3, 1 << 30, math.MinInt32},
		Reading: pyReadingJSON{ID: 7, Ok: true, Hits: 1<<40 + 3, Temps: [3]float64{20.5, -1.25, 1e300}, Pos: struct{ X, Y float32 }{1.5, -0.5}},
	}
	for _, o := range objs {
		want.Layouts[o.Name] = [2]string{o.Kind, o.Type}
	}
	next := pyValues{
		Temp:    -3.25,
		Counts:  []int32{math.MaxInt32, 20, -30, 40, 0},
		Reading: pyReadingJSON{ID: -9, Ok: false, Hits: -1 << 50, Temps: [3]float64{0.5, math.MaxFloat64, -0.0}, Pos: struct{ X, Y float32 }{2.5, 3.75}},
	}
	nextJSON, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}

	p := startPython(t, "values", seg.Name(), string(nextJSON))
	line := p.line(t)
	var got pyValues
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("Python printed %q: %v", line, err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("Python read\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	p.expect(t, "written")
	p.wait(t)

	if v := temp.Load(); v != next.Temp {
		t.Errorf("temp = %v after Python wrote %v", v, next.Temp)
	}
	if c := counts.Slice(); !slices.Equal(c, next.Counts) {
		t.Errorf("counts = %v after Python wrote %v", c, next.Counts)
	}
	reading.Mutex().Lock()
	r := reading.Raw().Ptr()
	gotR := pyReadingJSON{ID: r.ID, Ok: r.Ok, Hits: r.Hits.Load(), Temps: r.Temps, Pos: r.Pos}
	reading.Mutex().Unlock()
	if gotR != next.Reading {
		t.Errorf("reading = %+v after Python wrote %+v", gotR, next.Reading)
	}
	if !slices.Equal(blank, []byte{0xa5, 0x5a, 0xc3}) {
		t.Errorf("the blank field holds % x after Python wrote the struct, want its canaries a5 5a c3", blank)
	}
}

// TestPythonSharedMemory has Python make a plain SharedMemory, no shm header,
// of sizes below, at and above a header's: Go opens it as a raw segment and
// reads and writes its bytes through Segment.Bytes; shmgo opens it as raw
// too.
func TestPythonSharedMemory(t *testing.T) {
	for _, size := range []int{100, 4096, 10000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			name := newSegName(t)
			removeLater(t, name)
			p := startPython(t, "sharedmemory", name, strconv.Itoa(size))
			p.expect(t, fmt.Sprintf("ready True %d False", size)) // shmgo: raw, its size, writable

			seg := openSeg(t, name)
			st := must(seg.Stat())(t)
			if !st.Raw || st.Size != int64(size) || st.ReadOnly {
				t.Fatalf("Stat of Python's SharedMemory = %+v, want a raw, writable segment of %d bytes", st, size)
			}
			if _, err := shm.LookupValue[int64](seg, "x"); err == nil || !strings.Contains(err.Error(), "no shm header") {
				t.Errorf("LookupValue in a raw segment = %v, want an error saying it has no header", err)
			}
			b := must(seg.Bytes())(t)
			if b.Len() != size {
				t.Fatalf("Bytes().Len() = %d, want %d", b.Len(), size)
			}
			for i, x := range b.Slice() {
				if want := byte(i * 7 % 251); x != want {
					t.Fatalf("byte %d = %d, Python wrote %d", i, x, want)
				}
			}
			// Go writes; Python sees it.
			b.Store(0, 250)
			b.Store(size-1, 200)
			sum := 0
			for _, x := range b.Slice() {
				sum += int(x)
			}
			io.WriteString(p.stdin, "sum\n")
			p.expect(t, "sum "+strconv.Itoa(sum))
			p.stdin.Close()
			p.wait(t)
		})
	}
}

// TestPythonCount has two unrelated Go programs and one Python program each
// add 1 to one named Value[int64] 100,000 times under its lock.
func TestPythonCount(t *testing.T) {
	const n = 100_000
	seg := createSeg(t, 8192)
	v := must(shm.NewValue[int64](0, shm.In(seg, "counter")))(t)
	ps := []*scenarioProc{startPython(t, "count", seg.Name(), strconv.Itoa(n))}
	for range 2 {
		ps = append(ps, startScenario(t, nil, "named-increment", envSeg+"="+seg.Name(), envCount+"="+strconv.Itoa(n)))
	}
	for _, p := range ps {
		p.expect(t, "ready")
	}
	for _, p := range ps {
		io.WriteString(p.stdin, "go\n")
	}
	ps[0].expect(t, "done")
	for _, p := range ps {
		p.wait(t)
	}
	if got := v.Load(); got != 3*n {
		t.Fatalf("counter = %d after 2 Go and 1 Python programs added %d each, want %d", got, n, 3*n)
	}
}

// TestPythonKilledHoldingLock kills a Python program that holds a named
// Mutex: Go must learn of the death, whether it waits already or comes
// later.
func TestPythonKilledHoldingLock(t *testing.T) {
	for _, waiting := range []bool{true, false} {
		t.Run(map[bool]string{true: "waiting", false: "later"}[waiting], func(t *testing.T) {
			seg := createSeg(t, 8192)
			m := must(shm.NewMutex(shm.In(seg, "m")))(t)
			p := startPython(t, "hold", seg.Name(), "m")
			if l, want := p.line(t), fmt.Sprintf("locked %#x", m.Owner()); l != want {
				t.Fatalf("Python said %q, want %q: the lock word must hold Python's token", l, want)
			}
			mustBlock(t, m)
			got := make(chan error, 1)
			if waiting {
				ctx := bounded(t)
				go func() { got <- m.LockContext(ctx) }()
				await(t, "this process to sleep on the lock", m.Waiters)
			}
			p.kill(t)
			if !waiting {
				got <- m.LockContext(bounded(t))
			}
			if err := <-got; !errors.Is(err, shm.ErrOwnerDead) {
				t.Fatalf("LockContext after Python died holding the lock = %v, want ErrOwnerDead", err)
			}
			if m.Owner() != shm.ProcessToken() {
				t.Fatalf("the lock word names %#x, not this process's token %#x", m.Owner(), shm.ProcessToken())
			}
			m.Unlock()
		})
	}
}

// TestPythonSeesGoKilled kills a Go program that holds a named Mutex while a
// Python program sleeps on it: Python's acquire takes the lock over and
// raises OwnerDeadError with the lock held.
func TestPythonSeesGoKilled(t *testing.T) {
	seg := createSeg(t, 8192)
	m := must(shm.NewMutex(shm.In(seg, "m")))(t)
	g := startScenario(t, nil, "named-lock-hold", envSeg+"="+seg.Name())
	g.expect(t, "locked")
	goToken := m.Owner()
	p := startPython(t, "acquire", seg.Name(), "m")
	p.expect(t, fmt.Sprintf("held %#x", goToken))
	await(t, "Python to sleep on the lock", m.Waiters)
	g.kill(t)
	p.expect(t, fmt.Sprintf("ownerdead %#x True", goToken)) // the dead owner's token; Python holds the lock
	p.expect(t, "released")
	p.wait(t)
	if !m.TryLock() {
		t.Fatalf("the lock is held (by %#x) after Python released it", m.Owner())
	}
	m.Unlock()
}
