package token

import (
	"testing"
)

func TestNextStaysBelowMax(t *testing.T) {
	for _, s := range []int{0, 1, Slots - 1} {
		tok := next(0, s)
		if Slot(tok) != s {
			t.Fatalf("first token %d of slot %d is in slot %d", tok, s, Slot(tok))
		}
		for i := 0; i < 3*Max/Slots; i += 997 {
			prev := tok
			tok = next(tok, s)
			if tok == 0 || tok >= Max || Slot(tok) != s || tok == prev {
				t.Fatalf("next(%d, %d) = %d", prev, s, tok)
			}
		}
	}
	last := uint32(Max - Slots + 5) // the last generation of slot 4
	if got := next(last, Slot(last)); got != uint32(Slot(last))+1 {
		t.Fatalf("next after the last generation = %d, want it to wrap to %d", got, Slot(last)+1)
	}
}
