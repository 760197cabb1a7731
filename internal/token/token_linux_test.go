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
		tok  uint32
		want bool
	}{
		{a, tb, true},
		{b, ta, true},
		{a, tb + Slots, false}, // same slot, another generation
		{a, 0, false},
		{a, Max, false},
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
