package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/shmgo/shm"
)

// The named scenario: two unrelated runs of this program, started by hand,
// share a counter through a named segment. Neither is the other's child:
// they find the segment by its name.

// namedConfig is what the named scenario does.
type namedConfig struct {
	segment         string // the segment's name
	n               int    // how many times to add 1
	remove          bool   // remove the segment at the end
	removeIfCreated bool   // remove it at the end if this run created it
}

// namedCfg is set by runDemo from its flags.
var namedCfg = namedConfig{segment: "shm-demo-counter", n: 1_000_000}

// openOrCreate opens the segment name, or creates it if there is none. Of
// several runs that start at once, exactly one creates it; and if one removes
// it between another's Create and Open, that one tries again.
func openOrCreate(name string) (seg *shm.Segment, created bool, err error) {
	for range 100 {
		seg, err = shm.Create(name, 8192)
		if err == nil {
			return seg, true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		}
		seg, err = shm.Open(name)
		if !errors.Is(err, fs.ErrNotExist) {
			return seg, false, err
		}
	}
	return nil, false, err
}

// counterIn finds the Value "count" in seg, or places it there. Its creator
// places it just after creating the segment, so another run may open the
// segment before it is there.
func counterIn(seg *shm.Segment) (*shm.Value[int64], error) {
	for {
		v, err := shm.LookupValue[int64](seg, "count")
		if !errors.Is(err, fs.ErrNotExist) {
			return v, err
		}
		v, err = shm.NewValue[int64](0, shm.In(seg, "count"))
		if !errors.Is(err, fs.ErrExist) {
			return v, err
		}
	}
}

func namedScenario(w io.Writer, cfg namedConfig) error {
	seg, created, err := openOrCreate(cfg.segment)
	if err != nil {
		return err
	}
	defer seg.Close()
	if created {
		fmt.Fprintf(w, "created segment %s (/dev/shm/%[1]s); run this again, here or in another terminal, at once or later, and the count goes on\n", cfg.segment)
	} else {
		st, err := seg.Stat()
		if err != nil {
			return err
		}
		alive := "(alive)"
		if !st.CreatorKnown {
			alive = "(?)"
		} else if !st.CreatorAlive {
			alive = "(dead)"
		}
		fmt.Fprintf(w, "opened segment %s, created by pid %d %s %s ago\n", cfg.segment, st.CreatorPid, alive, time.Since(st.Created).Round(time.Millisecond))
	}
	count, err := counterIn(seg)
	if err != nil {
		return err
	}
	before := count.Load()
	var now int64
	for range cfg.n {
		now = count.Update(func(x int64) int64 { return x + 1 })
	}
	fmt.Fprintf(w, "count was %d; this run (pid %d) added %d under its lock; it is now %d\n", before, os.Getpid(), cfg.n, now)
	switch {
	case cfg.remove || cfg.removeIfCreated && created:
		if err := shm.Remove(cfg.segment); err != nil {
			return err
		}
		fmt.Fprintf(w, "removed segment %s\n", cfg.segment)
	case cfg.removeIfCreated:
		fmt.Fprintf(w, "left segment %s in place: it was there before this run\n", cfg.segment)
	default:
		fmt.Fprintf(w, "see it with: shm inspect %s; remove it with: shm rm %[1]s\n", cfg.segment)
	}
	return nil
}
