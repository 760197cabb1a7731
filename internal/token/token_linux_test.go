package token

import (
	"errors"
	"testing"
)

func TestAcquireAndAlive(t *testing.T) {
	a, err := Create()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
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
	a, err := Create()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(); err != nil { // slot 0, for a
		t.Fatal(err)
	}
	a.Age(1, Generations-1)
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
