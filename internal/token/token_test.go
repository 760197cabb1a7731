package token

import "testing"

func TestTokenLayout(t *testing.T) {
	for _, s := range []int{0, 1, Slots - 1} {
		for _, g := range []uint64{1, 2, 1<<15 - 1, 1 << 15, 1<<15 + 1, 1 << 40, lastGen} {
			tok := Make(s, g)
			if Slot(tok) != s || Generation(tok) != g {
				t.Fatalf("Make(%d, %d) = %#x: slot %d generation %d", s, g, tok, Slot(tok), Generation(tok))
			}
			if tok == 0 || tok&Mark != 0 || !valid(tok) {
				t.Fatalf("Make(%d, %d) = %#x: zero, marked or invalid", s, g, tok)
			}
		}
	}
	if valid(Local) || valid(0) || Generation(Local) != lastGen+1 || Slot(Local) != Slots-1 {
		t.Fatalf("Local = %#x is a token a table hands out", uint64(Local))
	}
	if Local&Mark != 0 {
		t.Fatal("Local has the mark bit")
	}
}
