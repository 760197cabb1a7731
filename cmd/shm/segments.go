package main

// What shm ls, shm inspect and shm rm share: the rows that describe a
// segment, and how sizes, ages and locks are shown.

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strings"
	"time"

	"github.com/shmgo/shm"
)

// shmDir is the directory of named segments.
const shmDir = "/dev/shm"

// A segRow describes one segment: a row of shm ls, and the "segment" of
// shm inspect -json. A segment that could not be read has only its name,
// its size if known, and Error.
type segRow struct {
	Name     string     `json:"name"`
	Size     int64      `json:"size"`              // bytes, the file's size
	Used     int64      `json:"used,omitempty"`    // bytes allocated, header included
	Objects  int        `json:"objects"`           // named objects
	Raw      bool       `json:"raw"`               // no shm header: plain bytes, such as Python's SharedMemory makes
	Mode     string     `json:"mode,omitempty"`    // permission bits, in octal: "0600"
	ReadOnly bool       `json:"read_only"`         // this process could open it only read-only
	Created  *time.Time `json:"created,omitempty"` // for segments with shm's header
	AgeNs    *int64     `json:"age_ns,omitempty"`  // time since created, in nanoseconds
	Creator  *creator   `json:"creator,omitempty"` // for segments with shm's header
	Error    string     `json:"error,omitempty"`   // why the segment could not be read
}

// creator is the process that created a segment.
type creator struct {
	Pid   int   `json:"pid"`
	Uid   int   `json:"uid"`
	Alive *bool `json:"alive"` // null when this process cannot tell (another user's)
}

// describe returns the row of the segment seg.
func describe(seg *shm.Segment, now time.Time) (segRow, error) {
	r := segRow{Name: seg.Name()}
	st, err := seg.Stat()
	if err != nil {
		return r, err
	}
	r.Size, r.Objects, r.Raw, r.ReadOnly = st.Size, st.Objects, st.Raw, st.ReadOnly
	r.Mode = fmt.Sprintf("%04o", st.Mode.Perm())
	if st.Raw {
		return r, nil
	}
	r.Used = st.Used
	created := st.Created
	age := int64(now.Sub(created))
	r.Created, r.AgeNs = &created, &age
	r.Creator = &creator{Pid: st.CreatorPid, Uid: st.CreatorUid}
	if st.CreatorKnown {
		r.Creator.Alive = &st.CreatorAlive
	}
	return r, nil
}

// creatorText shows a segment's creator: "1234 (alive)", "1234 (dead)", or,
// when this process cannot tell, "1234 (uid 1000)" for another user's.
func (c *creator) text(myUid int) string {
	switch {
	case c.Alive != nil && *c.Alive:
		return fmt.Sprintf("%d (alive)", c.Pid)
	case c.Alive != nil:
		return fmt.Sprintf("%d (dead)", c.Pid)
	case c.Uid != myUid:
		return fmt.Sprintf("%d (uid %d)", c.Pid, c.Uid)
	}
	return fmt.Sprintf("%d (?)", c.Pid)
}

// humanSize shows n bytes as ls -h does: 100B, 8.0K, 64K, 1.5M.
func humanSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	v := float64(n)
	unit := ""
	for _, u := range []string{"K", "M", "G", "T", "P", "E"} {
		v /= 1024
		unit = u
		if v < 1024 {
			break
		}
	}
	if v < 9.95 {
		return fmt.Sprintf("%.1f%s", v, unit)
	}
	return fmt.Sprintf("%.0f%s", v, unit)
}

// humanAge shows a duration in its largest whole unit: 12s, 5m, 3h, 2d.
func humanAge(ns int64) string {
	d := time.Duration(max(ns, 0))
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// A lockJSON is the state of a Mutex word, in JSON.
type lockJSON struct {
	Locked  bool   `json:"locked"`
	Waiters bool   `json:"waiters,omitempty"` // a process may be sleeping on it
	Owner   uint64 `json:"owner,omitempty"`   // the owner's liveness token
	Pid     int    `json:"pid,omitempty"`     // the owner's process ID, when known
	Alive   *bool  `json:"alive,omitempty"`   // null when unlocked or when this process cannot tell
	Error   string `json:"error,omitempty"`   // why the word could not be read
}

func lockOf(st shm.LockState) *lockJSON {
	l := &lockJSON{Locked: st.Locked, Waiters: st.Waiters, Owner: st.Owner, Pid: st.Pid}
	if st.Locked && st.Known {
		l.Alive = &st.Alive
	}
	return l
}

// text shows the lock: "unlocked", "locked by pid 1234 (alive)", "locked by
// pid 1234 (dead)", "locked by a dead process (token 0x10003)" when the dead
// owner's PID is no longer recorded, or "locked by pid 1234 (owner's life
// unknown)" or "locked by token 0x10003 (owner unknown)" when this process
// cannot judge the owner (another user's segment).
func (l *lockJSON) text() string {
	var s string
	switch {
	case l.Error != "":
		return "? (" + l.Error + ")"
	case !l.Locked:
		return "unlocked"
	case l.Alive == nil && l.Pid != 0:
		s = fmt.Sprintf("locked by pid %d (owner's life unknown)", l.Pid)
	case l.Alive == nil:
		s = fmt.Sprintf("locked by token %#x (owner unknown)", l.Owner)
	case l.Pid != 0 && *l.Alive:
		s = fmt.Sprintf("locked by pid %d (alive)", l.Pid)
	case l.Pid != 0:
		s = fmt.Sprintf("locked by pid %d (dead)", l.Pid)
	case *l.Alive:
		s = fmt.Sprintf("locked by token %#x (alive)", l.Owner)
	default:
		s = fmt.Sprintf("locked by a dead process (token %#x)", l.Owner)
	}
	if l.Waiters {
		s += ", waiters"
	}
	return s
}

// guardFault runs f, turning a memory fault in it into an error: reading a
// segment whose file another process truncated raises SIGBUS, which would
// otherwise end the command.
func guardFault(f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if fe, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("memory fault at %#x reading the segment: was its file truncated? (%v)", fe.Addr(), r)
				return
			}
			panic(r)
		}
	}()
	return f()
}

// openErr shortens the error of shm.Open(name) for a row of shm ls, which
// names the segment already.
func openErr(name string, err error) string {
	return strings.TrimPrefix(err.Error(), fmt.Sprintf("shm: Open(%q): ", name))
}

// errText is the text of an error of package shm after the command's own
// prefix: "shm rm: Remove(...): ..." rather than "shm rm: shm: Remove".
func errText(err error) string { return strings.TrimPrefix(err.Error(), "shm: ") }

// nameHint adds a hint to the error of a name given as a path.
func nameHint(name string, err error) error {
	if strings.HasPrefix(name, shmDir+"/") && errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("%w; give the name without %s/", err, shmDir)
	}
	return err
}
