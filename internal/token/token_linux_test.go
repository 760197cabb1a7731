package token

import (
	"os"
	"strings"
	"testing"
)

// newTable makes a family table for a test, closed when it ends.
func newTable(t *testing.T) *Table {
	t.Helper()
	a, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestAcquireAndAlive(t *testing.T) {
	a := newTable(t)
	// A second description of the same table stands for another process.
	b, err := Open(a.File())
	if err != nil {
		t.Fatal(err)
	}
	ta, err := a.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if Slot(ta) != 0 || Slot(tb) != 1 {
		t.Fatalf("slots %d and %d, want the lowest free ones, 0 and 1", Slot(ta), Slot(tb))
	}
	for _, c := range []struct {
		from *Table
		tok  uint64
		want bool
	}{
		{a, tb, true},
		{b, ta, true},
		{a, Make(Slot(tb), Generation(tb)+1), false}, // same slot, another generation
		{a, 0, false},
		{a, Local, false},
		{a, tb | Mark, false},
		{a, 7, false}, // a slot nobody holds
	} {
		if got, err := c.from.Alive(c.tok); err != nil || got != c.want {
			t.Errorf("Alive(%d) = %v, %v; want %v", c.tok, got, err, c.want)
		}
	}
	// Closing b's own description is what the kernel does when b's process dies.
	b.own.Close()
	if alive, err := a.Alive(tb); err != nil || alive {
		t.Fatalf("Alive after the holder's description closed = %v, %v", alive, err)
	}
	c, err := Open(a.File())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := c.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if Slot(tc) != Slot(tb) || tc == tb {
		t.Fatalf("new holder got token %d, the dead one had %d: want the same slot, a new token", tc, tb)
	}
	if alive, _ := a.Alive(tb); alive {
		t.Fatal("the dead token is alive again after its slot was reused")
	}
}

// TestRetiredSlot takes a slot's last generation and checks that the slot is
// never taken again once that holder has gone: a token is never handed out
// twice, however many processes come and go.
func TestRetiredSlot(t *testing.T) {
	a := newTable(t)
	if _, err := a.Acquire(); err != nil { // slot 0, for a
		t.Fatal(err)
	}
	if ok, err := a.Age(1, Generations-1); !ok || err != nil {
		t.Fatalf("Age of a free slot = %v, %v", ok, err)
	}
	b, _ := Open(a.File())
	tb, err := b.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if Slot(tb) != 1 || Generation(tb) != Generations {
		t.Fatalf("token %#x: slot %d generation %d, want slot 1's last generation %d", tb, Slot(tb), Generation(tb), uint64(Generations))
	}
	if alive, err := a.Alive(tb); err != nil || !alive {
		t.Fatalf("the last generation's holder is not alive: %v, %v", alive, err)
	}
	b.own.Close() // b dies
	c, _ := Open(a.File())
	tc, err := c.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if tc == tb || Slot(tc) == 1 {
		t.Fatalf("after slot 1's last generation, the next process got token %#x (slot %d)", tc, Slot(tc))
	}
	if alive, _ := a.Alive(tb); alive {
		t.Fatal("the retired slot's dead holder is alive")
	}
	// The retired slot's byte is not left locked by the process that skipped it.
	if locked, err := a.ByteLockedForTest(1); err != nil || locked {
		t.Fatalf("retired slot's byte locked = %v, %v", locked, err)
	}
}

// BenchmarkCreateAcquire is what every process that links shm does at init:
// create its family's table (a child opens its parent's instead) and take a
// token.
func BenchmarkCreateAcquire(b *testing.B) {
	for b.Loop() {
		t, err := Create()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.Acquire(); err != nil {
			b.Fatal(err)
		}
		t.Close()
	}
}

// TestUserTable opens a user table twice, as two unrelated processes would:
// each judges the other's token, and the file is the user's alone.
func TestUserTable(t *testing.T) {
	path := t.TempDir() + "/tokens"
	a, err := openUserAt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := openUserAt(path)
	if err != nil {
		t.Fatal(err)
	}
	ta, err := a.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	if ta == tb {
		t.Fatalf("two openers got the same token %#x", ta)
	}
	if alive, err := a.Alive(tb); err != nil || !alive {
		t.Fatalf("a sees b's token alive = %v, %v", alive, err)
	}
	b.Close()
	if alive, err := a.Alive(tb); err != nil || alive {
		t.Fatalf("a sees b's token alive after b closed = %v, %v", alive, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != tableBytes {
		t.Fatalf("table has mode %v and %d bytes, want 0600 and %d", st.Mode(), st.Size(), tableBytes)
	}
}

// TestUserTableRefused checks the files a user table must not be: another
// user's, readable by others, a link, or of another size.
func TestUserTableRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int64, perm os.FileMode) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, make([]byte, size), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]string{
		write("open", tableBytes, 0o644): "mode",
		write("short", 100, 0o600):       "bytes",
	}
	link := dir + "/link"
	if err := os.Symlink(write("target", tableBytes, 0o600), link); err != nil {
		t.Fatal(err)
	}
	cases[link] = "symbolic link"
	if os.Geteuid() == 0 {
		p := write("theirs", tableBytes, 0o600)
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cases[p] = "belongs to user 65534"
	}
	for path, want := range cases {
		tab, err := openUserAt(path)
		if err == nil {
			tab.Close()
			t.Errorf("openUserAt(%s) succeeded", path)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("openUserAt(%s) = %v, want it to say %q", path, err, want)
		}
	}
}

// TestAgeLeavesHeldSlot ages a slot that a living process holds: the test
// knob must refuse, since in the user's table, shared by every shm process,
// rewriting a live holder's token makes it look dead to all of them.
func TestAgeLeavesHeldSlot(t *testing.T) {
	a := newTable(t)
	if _, err := a.Acquire(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(a.File())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tb, err := b.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := a.Age(Slot(tb), Generations-1)
	if err != nil {
		t.Fatal(err)
	}
	if alive, err := a.Alive(tb); ok || err != nil || !alive {
		t.Fatalf("Age of a held slot = %v; its holder alive = %v, %v; want false and alive", ok, alive, err)
	}
}
