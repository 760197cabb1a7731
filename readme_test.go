package shm_test

// The README's snippets on named segments, run: the Go functions it shows
// are code of these tests, checked word for word, and its Python blocks run
// as they stand, but for the segment's name, made unique to the test.

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shmgo/shm"
)

func scores(name string) (*shm.Segment, error) {
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		return nil, err
	}
	_, err = shm.NewValue(0.0, shm.In(seg, "score"))
	if err == nil {
		_, err = shm.NewMutex(shm.In(seg, "lock"))
	}
	if err == nil {
		_, err = shm.NewRawArray[int32](4, shm.In(seg, "hits"))
	}
	if err != nil {
		seg.Close()
		return nil, errors.Join(err, shm.Remove(name))
	}
	return seg, nil
}

func init() {
	scenarios["readme-visit"] = scenarioReadmeVisit
	scenarios["readme-hold"] = scenarioReadmeHold
}

// scenarioReadmeVisit is the README's program: it counts a visit.
func scenarioReadmeVisit() int {
	n, err := visit(os.Getenv(envSeg))
	if err != nil {
		return scenarioFail("%v", err)
	}
	fmt.Println("visit", n)
	return 0
}

// scenarioReadmeHold locks the Mutex "lock" of the README's segment and
// holds it until killed.
func scenarioReadmeHold() int {
	seg, err := shm.Open(os.Getenv(envSeg))
	if err != nil {
		return scenarioFail("%v", err)
	}
	m, err := shm.LookupMutex(seg, "lock")
	if err != nil {
		return scenarioFail("%v", err)
	}
	m.Lock()
	fmt.Println("locked")
	sleepForever()
	return 0
}

// readmeSection returns the text of the README's section headed title.
func readmeSection(tb testing.TB, title string) string {
	tb.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		tb.Fatal(err)
	}
	_, s, ok := strings.Cut(string(b), "\n## "+title+"\n")
	if !ok {
		tb.Fatalf("README.md has no section %q", title)
	}
	if i := strings.Index(s, "\n## "); i >= 0 {
		s = s[:i]
	}
	return s
}

// codeBlocks returns the fenced code blocks of language lang in text.
func codeBlocks(text, lang string) []string {
	var blocks []string
	for {
		_, rest, ok := strings.Cut(text, "```"+lang+"\n")
		if !ok {
			return blocks
		}
		block, after, _ := strings.Cut(rest, "```")
		blocks = append(blocks, block)
		text = after
	}
}

// funcSource returns the source of the top-level function name of file.
func funcSource(tb testing.TB, file, name string) string {
	tb.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == name {
			start := fd.Pos()
			if fd.Doc != nil {
				start = fd.Doc.Pos()
			}
			return string(src[fset.Position(start).Offset:fset.Position(fd.End()).Offset])
		}
	}
	tb.Fatalf("%s has no function %s", file, name)
	return ""
}

// TestREADMEShowsTestedCode checks that the Go functions the README shows on
// named segments are the ones these tests run, word for word.
func TestREADMEShowsTestedCode(t *testing.T) {
	for _, c := range []struct{ section, file, fn string }{
		{"Sharing with unrelated programs", "example_named_test.go", "visit"},
		{"From Python on the same memory", "readme_test.go", "scores"},
	} {
		src := funcSource(t, c.file, c.fn)
		if blocks := codeBlocks(readmeSection(t, c.section), "go"); !strings.Contains(strings.Join(blocks, "\n"), src) {
			t.Errorf("README section %q does not show %s as %s has it:\n%s", c.section, c.fn, c.file, src)
		}
	}
}

// TestREADMEVisits runs the README's program as it says: twice, one after
// the other, and then twice at once.
func TestREADMEVisits(t *testing.T) {
	name := newSegName(t)
	removeLater(t, name)
	run := func() *scenarioProc { return startScenario(t, nil, "readme-visit", envSeg+"="+name) }
	for _, want := range []string{"visit 1", "visit 2"} {
		p := run()
		p.expect(t, want)
		p.wait(t)
	}
	a, b := run(), run()
	got := []string{a.line(t), b.line(t)}
	a.wait(t)
	b.wait(t)
	slices.Sort(got)
	if !slices.Equal(got, []string{"visit 3", "visit 4"}) {
		t.Fatalf("two programs at once printed %q, want visit 3 and visit 4", got)
	}
}

// TestREADMEPython runs the README's Python blocks on the segment its Go
// function makes: the first as it stands, the second after a Go program died
// holding the lock.
func TestREADMEPython(t *testing.T) {
	py := python3(t)
	blocks := codeBlocks(readmeSection(t, "From Python on the same memory"), "python")
	if len(blocks) != 2 {
		t.Fatalf("the README's Python section has %d Python blocks, want 2", len(blocks))
	}
	name := newSegName(t)
	seg, err := scores(name)
	if err != nil {
		t.Fatal(err)
	}
	removeLater(t, name)
	t.Cleanup(func() { seg.Close() })

	code := strings.ReplaceAll(blocks[0], `"scores"`, strconv.Quote(name)) +
		"import sys\nprint('ready', flush=True)\nsys.stdin.readline()\n" +
		blocks[1] +
		"print('done', hits[:])\n"
	p := startScenario(t, []string{py, "-c", code}, "", "PYTHONPATH=python", "PYTHONDONTWRITEBYTECODE=1")
	p.expect(t, "0.0")
	p.expect(t, "1.5 [0, 0, 1, 0]")
	p.expect(t, "ready")

	hits := must(shm.LookupRawArray[int32](seg, "hits"))(t)
	copy(hits.Slice(), []int32{9, 9, 9, 9}) // what a dying owner left half-done
	h := startScenario(t, nil, "readme-hold", envSeg+"="+name)
	h.expect(t, "locked")
	h.kill(t)
	io.WriteString(p.stdin, "go\n")
	p.expect(t, "done [1, 0, 0, 0]") // repaired, then counted
	p.wait(t)

	m := must(shm.LookupMutex(seg, "lock"))(t)
	if !m.TryLock() {
		t.Fatalf("the lock is held (by %#x) after Python released it", m.Owner())
	}
	m.Unlock()
	if v := must(shm.LookupValue[float64](seg, "score"))(t).Load(); v != 1.5 {
		t.Fatalf("score = %v after Python added 1.5", v)
	}
}
