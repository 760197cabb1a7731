package shm_test

// Go and Python on the same named memory: Go makes the segments, and Python
// programs (python/interop.py, which uses python/shmgo.py) read, write and
// lock them, unrelated to the test process. Each side uses its own code: Go
// the package, Python the module, so these tests check that the two agree on
// the format (named.go), the token table (internal/token) and the lock
// protocol (mutex.go).

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
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
// skips the test where there is none, but never in CI: there the Python side
// must run.
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

// pyImage returns the bytes of a new segment made by Go with one object of
// each kind, and more, the RawValue "x" of 64 bytes last.
func pyImage(t *testing.T) []byte {
	t.Helper()
	seg := createSeg(t, 1<<17) // room after the last record for a long descriptor
	must(shm.NewValue[int64](7, shm.In(seg, "v")))(t)
	must(shm.NewRawArrayFrom([]int32{1, 2, 3}, shm.In(seg, "a")))(t)
	must(shm.NewMutex(shm.In(seg, "m")))(t)
	must(shm.NewRawValue(struct{}{}, shm.In(seg, "e")))(t)
	must(shm.NewArrayFrom([]byte("hello"), shm.In(seg, "b")))(t)
	must(shm.NewRawValue([64]byte{}, shm.In(seg, "x")))(t)
	b, err := os.ReadFile("/dev/shm/" + seg.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// imageRecords returns the offsets of the records of a segment image, in
// list order.
func imageRecords(b []byte) []int {
	var recs []int
	for at := int(binary.NativeEndian.Uint64(b[80:])); at != 0 && len(recs) < 100; at = int(binary.NativeEndian.Uint64(b[at:])) {
		recs = append(recs, at)
	}
	return recs
}

// rehashRecord sets the type hash of the record at rec to its descriptor's.
func rehashRecord(b []byte, rec int) {
	nameLen := int(binary.NativeEndian.Uint16(b[rec+56:]))
	descLen := int(binary.NativeEndian.Uint32(b[rec+60:]))
	h := fnv.New64a()
	h.Write(b[rec+64+nameLen : rec+64+nameLen+descLen])
	put64(b, rec+48, h.Sum64())
}

// setDescriptor gives the last record of image b the descriptor d of a type
// of size bytes.
func setDescriptor(b []byte, d string, size int) {
	recs := imageRecords(b)
	rec := recs[len(recs)-1]
	nameLen := int(binary.NativeEndian.Uint16(b[rec+56:]))
	copy(b[rec+64+nameLen:], d)
	put32(b, rec+60, uint32(len(d)))
	put32(b, rec+8, uint32(64+nameLen+len(d)))
	put64(b, rec+24, uint64(size))
	put64(b, 72, uint64(rec+64+nameLen+len(d))) // used
	rehashRecord(b, rec)
}

// A pyVerdict is what a program made of a segment: whether it opened it,
// and whether it read its directory, with these objects.
type pyVerdict struct {
	Name    string      `json:"name"`
	Opened  bool        `json:"opened"`
	OK      bool        `json:"ok"`
	Error   string      `json:"error"`
	Crash   bool        `json:"crash"`
	Objects [][3]string `json:"objects"` // name, kind, layout
}

// goVerdict opens the segment name and reads its directory.
func goVerdict(t *testing.T, name string) pyVerdict {
	v := pyVerdict{Name: name}
	seg, err := shm.Open(name)
	if err == nil {
		v.Opened = true
		defer seg.Close()
		var objs []shm.ObjectInfo
		if objs, err = seg.Objects(); err == nil {
			v.OK = true
			for _, o := range objs {
				v.Objects = append(v.Objects, [3]string{o.Name, o.Kind, o.Type})
			}
		}
	}
	if err != nil {
		v.Error = err.Error()
	}
	return v
}

// pyVerdicts opens each segment of names in one Python program.
func pyVerdicts(t *testing.T, names []string) map[string]pyVerdict {
	t.Helper()
	cmd := pythonCmd(t, append([]string{"open"}, names...)...)
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("interop.py open: %v\n%s", err, stderr.String())
	}
	vs := map[string]pyVerdict{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var v pyVerdict
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("interop.py open printed %q: %v", l, err)
		}
		vs[v.Name] = v
	}
	return vs
}

// TestPythonAgreesOnSegments damages and forges segments in ways where Go
// and Python once disagreed, and checks that Go and shmgo accept the same
// ones and read the same directory from them, or refuse them both.
func TestPythonAgreesOnSegments(t *testing.T) {
	good := pyImage(t)
	size := len(good)
	recs := imageRecords(good)
	if len(recs) != 6 {
		t.Fatalf("the image has %d records, want 6", len(recs))
	}
	v, a, e, bArr, x := recs[0], recs[1], recs[3], recs[4], recs[5]
	recOff := func(b []byte, rec int) int { return int(binary.NativeEndian.Uint64(b[rec+16:])) }
	arrayN := func(n int) string {
		return strings.Repeat(`{"kind":"array","size":1,"align":1,"len":1,"elem":`, n) + `{"kind":"int8","size":1,"align":1}` + strings.Repeat("}", n)
	}
	structN := func(n int) string {
		return strings.Repeat(`{"kind":"struct","size":1,"align":1,"fields":[{"name":"A","offset":0,"type":`, n) + `{"kind":"int8","size":1,"align":1}` + strings.Repeat("}]}", n)
	}
	field := func(name string) string {
		return `{"kind":"struct","size":1,"align":1,"fields":[{"name":` + name + `,"offset":0,"type":{"kind":"int8","size":1,"align":1}}]}`
	}
	var names []string
	what := map[string]string{}
	goSays := map[string]pyVerdict{}
	for _, c := range []struct {
		name   string
		goOK   bool // what Go makes of it, to show that the case tests what it says
		damage func(b []byte)
	}{
		{"good", true, func(b []byte) {}},
		// Directory structure.
		{"record 8-aligned, not 64", false, func(b []byte) {
			copy(b[x+8:], b[x:x+200])
			put64(b, bArr, uint64(x+8))
			put64(b, 72, binary.NativeEndian.Uint64(b[72:])+8)
		}},
		{"next points back, no loop", false, func(b []byte) {
			put64(b, 80, uint64(a))
			put64(b, a, uint64(v))
			put64(b, v, 0)
		}},
		{"record size larger than its parts", false, func(b []byte) {
			put32(b, v+8, binary.NativeEndian.Uint32(b[v+8:])+8)
		}},
		{"empty value at the end of the file", false, func(b []byte) { put64(b, e+16, uint64(size)) }},
		{"array length word disagrees", true, func(b []byte) { put64(b, recOff(b, a)-64, 1000) }},
		{"byte array not 8-aligned", false, func(b []byte) {
			off := recOff(b, bArr) + 1
			put64(b, bArr+16, uint64(off))
			put64(b, off-64, 5)
		}},
		{"last is the file size", true, func(b []byte) { put64(b, 88, uint64(size)) }},
		{"last past the file", false, func(b []byte) { put64(b, 88, uint64(size+1)) }},
		// Descriptors.
		{"struct aligned to 16", true, func(b []byte) {
			setDescriptor(b, `{"kind":"struct","size":16,"align":16,"fields":[{"name":"A","offset":0,"type":{"kind":"int64","size":8,"align":8}}]}`, 16)
		}},
		{"duplicate field names", true, func(b []byte) {
			setDescriptor(b, `{"kind":"struct","size":2,"align":1,"fields":[{"name":"A","offset":0,"type":{"kind":"int8","size":1,"align":1}},{"name":"A","offset":1,"type":{"kind":"int8","size":1,"align":1}}]}`, 2)
		}},
		{"field names of ctypes", true, func(b []byte) {
			var fs []string
			for i, n := range []string{"from_buffer", "_fields_", "__x__", "_b_base_", "_shmgo_names", "value"} {
				fs = append(fs, fmt.Sprintf(`{"name":%q,"offset":%d,"type":{"kind":"int8","size":1,"align":1}}`, n, i))
			}
			setDescriptor(b, `{"kind":"struct","size":6,"align":1,"fields":[`+strings.Join(fs, ",")+`]}`, 6)
		}},
		{"field name with an escaped U+2028", true, func(b []byte) { setDescriptor(b, field(`"a\u2028b"`), 1) }},
		{"field name with a raw U+2028", false, func(b []byte) { setDescriptor(b, field("\"a\u2028b\""), 1) }},
		{"field name with \\b, DEL and <>&", true, func(b []byte) { setDescriptor(b, field("\"a\\b\x7f<>&\""), 1) }},
		{"field name with \\u0008", false, func(b []byte) { setDescriptor(b, field(`"a\u0008"`), 1) }},
		{"field name with a lone surrogate", false, func(b []byte) { setDescriptor(b, field(`"a\ud800"`), 1) }},
		{"element larger than 2^48 bytes", false, func(b []byte) {
			setDescriptor(b, `{"kind":"array","size":0,"align":1,"len":0,"elem":{"kind":"array","size":281474976710657,"align":1,"len":281474976710657,"elem":{"kind":"uint8","size":1,"align":1}}}`, 0)
		}},
		{"arrays nested 150 deep", true, func(b []byte) { setDescriptor(b, arrayN(150), 1) }},
		{"structs nested 800 deep", true, func(b []byte) { setDescriptor(b, structN(800), 1) }},
		{"arrays nested 1250 deep", true, func(b []byte) { setDescriptor(b, arrayN(1250), 1) }},
		// Kinds.
		{"kind of a later version", true, func(b []byte) { put32(b, x+12, 100); rehashRecord(b, x) }},
		{"kind 0", false, func(b []byte) { put32(b, x+12, 0) }},
		{"an Event described as bytes", false, func(b []byte) { put32(b, x+12, 6) }},
		{"a Cond without a lock", false, func(b []byte) {
			put32(b, x+12, 9)
			setDescriptor(b, `{"kind":"cond","size":8,"align":8}`, 8)
		}},
		{"a Cond", true, func(b []byte) {
			put32(b, x+12, 9)
			put64(b, x+40, binary.NativeEndian.Uint64(b[recs[2]+16:])) // m's word
			setDescriptor(b, `{"kind":"cond","size":8,"align":8}`, 8)
		}},
		{"an Event of 8 bytes", false, func(b []byte) {
			put32(b, x+12, 6)
			setDescriptor(b, `{"kind":"event","size":8,"align":8}`, 8)
		}},
		{"a Barrier of one word", false, func(b []byte) {
			put32(b, bArr+12, 8)
			put64(b, bArr+32, 1)
			put64(b, bArr+40, 0)
			setDescriptor(b, `{"kind":"barrier","size":8,"align":8}`, 8)
		}},
	} {
		b := slices.Clone(good)
		c.damage(b)
		name := writeSegment(t, b)
		g := goVerdict(t, name)
		if g.OK != c.goOK {
			t.Errorf("%s: Go: ok %v (%s), want %v", c.name, g.OK, g.Error, c.goOK)
		}
		names = append(names, name)
		what[name] = c.name
		goSays[name] = g
	}
	// A segment holding every kind of shm's own types, as Go makes them.
	syncSeg := createSeg(t, 1<<16)
	placeSync(t, syncSeg)
	must(shm.NewBoundedSemaphore(2, shm.In(syncSeg, "bounded")))(t)
	names = append(names, syncSeg.Name())
	what[syncSeg.Name()] = "Event, Semaphore, Barrier and Cond"
	goSays[syncSeg.Name()] = goVerdict(t, syncSeg.Name())
	if g := goSays[syncSeg.Name()]; !g.OK || len(g.Objects) != 6 {
		t.Errorf("Go lists %v (%s) of the segment of Events and kin", g.Objects, g.Error)
	}
	pySays := pyVerdicts(t, names)
	for _, name := range names {
		g, p := goSays[name], pySays[name]
		switch {
		case p.Crash:
			t.Errorf("%s: Python raised something other than a ShmError: %s", what[name], p.Error)
		case g.Opened != p.Opened || g.OK != p.OK:
			t.Errorf("%s: Go and Python disagree:\n\tGo:     opened %v, ok %v %s\n\tPython: opened %v, ok %v %s",
				what[name], g.Opened, g.OK, g.Error, p.Opened, p.OK, p.Error)
		case !slices.Equal(g.Objects, p.Objects):
			t.Errorf("%s: Go and Python read different directories:\n\tGo:     %q\n\tPython: %q", what[name], g.Objects, p.Objects)
		}
	}
}

// TestPythonOtherUsersSegment opens, as root, who may write any file, a
// segment that another user made: Go opens it read-only, since its lock
// words name tokens of that user's table, which root cannot judge, and
// Python must do the same rather than take a live owner's lock.
func TestPythonOtherUsersSegment(t *testing.T) {
	cmd := asUser(t, 65534)
	name := newSegName(t)
	removeLater(t, name)
	g := startScenario(t, cmd, "named-create-wait", envSeg+"="+name)
	g.expect(t, "created")
	if !openSeg(t, name).ReadOnly() {
		t.Fatal("Go opened another user's segment for writing")
	}
	p := startPython(t, "readonly", name, "answer")
	p.expect(t, "readonly True")
	p.expect(t, "value 42")
	if l := p.line(t); !strings.HasPrefix(l, "ReadOnlyError ") || !strings.Contains(l, "user 65534") {
		t.Fatalf("Python locking a Value's lock in another user's segment said %q, want a ReadOnlyError naming the owner", l)
	}
	p.wait(t)
	io.WriteString(g.stdin, "done\n")
	g.wait(t)
}
