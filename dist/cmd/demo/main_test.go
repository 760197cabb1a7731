package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/shmgo/shm"
)

func TestMain(m *testing.M) {
	shm.Main() // a worker process started by the demo runs here and exits
	m.Run()
}

// TestDemo runs the demo on an embedded server, its workers in processes of
// their own, and checks its totals: no update lost on etcd or in shared
// memory, with Update, under the Mutex, and in the score tracker.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, ""); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	all := func(re string) []int {
		var ns []int
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(s, -1) {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				t.Fatal(err)
			}
			ns = append(ns, n)
		}
		return ns
	}
	if got := all(`Final counter value: (-?\d+)`); len(got) != 2 || got[0] != 15 || got[1] != 15 {
		t.Errorf("final counters (etcd, shm) = %v, want [15 15]", got)
	}
	if got := all(`Final locked value: (-?\d+)`); len(got) != 1 || got[0] != 10 {
		t.Errorf("final locked values = %v, want [10]", got)
	}
	if got := all(`Final raw value: (-?\d+)`); len(got) != 1 || got[0] < 5 || got[0] > 10 {
		t.Errorf("final raw values = %v, want one between 5 and 10", got)
	}
	scores, tallies := all(`Final total score: (-?\d+)`), all(`players' own tallies: (-?\d+)`)
	if len(scores) != 2 || len(tallies) != 2 {
		t.Fatalf("%d scores and %d tallies, want 2 of each:\n%s", len(scores), len(tallies), s)
	}
	for i := range scores {
		// 3 players x 5 rounds of 1 to 10 points.
		if scores[i] != tallies[i] || scores[i] < 15 || scores[i] > 150 {
			t.Errorf("score tracker %d: total %d, tallies %d: want equal, between 15 and 150", i, scores[i], tallies[i])
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
}
