package token

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/shmgo/shm/internal/memfd"
	"github.com/shmgo/shm/internal/unix"
)

// The table holds, for each slot, the token of its latest holder (8 bytes)
// and then, in a second array, that holder's process ID (4 bytes).
const tableBytes = Slots*8 + Slots*4

// Table is a family's token table, mapped into this process.
type Table struct {
	file  *os.File        // the inheritable descriptor, passed to children
	own   *os.File        // this process's own description, which holds its slot lock
	words []atomic.Uint64 // the token of each slot's latest holder
	pids  []atomic.Uint32 // the process ID of each slot's holder
	mem   []byte          // the mapping
	user  bool            // the user's table (see OpenUser), not a family's own
}

// UserPath returns the path of the current user's table: every process of
// the user shares it, so that any of them can judge any other's liveness, as
// locks in named segments need.
func UserPath() string { return fmt.Sprintf("/dev/shm/.shm-tokens-%d", os.Geteuid()) }

// OpenUser opens the current user's table, making it if it does not exist. It
// refuses a file that another user owns or could read or write, a link and a
// file of the wrong size, so that no other user can fake a token's life.
func OpenUser() (*Table, error) { return openUserAt(UserPath()) }

func openUserAt(path string) (*Table, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err == unix.ELOOP {
		return nil, fmt.Errorf("open %s: it is a symbolic link: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	t, err := openUser(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func openUser(f *os.File, path string) (*Table, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("fstat %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, fmt.Errorf("%s is not a regular file", path)
	case int(st.Uid) != os.Geteuid():
		return nil, fmt.Errorf("%s belongs to user %d, not to this process's user %d", path, st.Uid, os.Geteuid())
	case st.Mode&0o077 != 0:
		return nil, fmt.Errorf("%s has mode %#o: other users could fake a process's life", path, st.Mode&0o777)
	case st.Size == 0:
		// New: size it. Several processes may do this at once, to the same size.
		if err := unix.Ftruncate(int(f.Fd()), tableBytes); err != nil {
			return nil, fmt.Errorf("ftruncate %s: %w", path, err)
		}
	case st.Size != tableBytes:
		return nil, fmt.Errorf("%s is %d bytes, want %d", path, st.Size, tableBytes)
	}
	return Open(f)
}

// User reports whether t is the table of every process of the user (see
// OpenUser), rather than one family's own.
func (t *Table) User() bool { return t.user }

// isUserTable reports whether f is the file at UserPath.
func isUserTable(f *os.File) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(UserPath(), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// Create makes a new table of a family's own, for a root process that cannot
// use its user's table.
func Create() (*Table, error) {
	f, err := memfd.CreateSealed("shm-tokens", tableBytes)
	if err != nil {
		return nil, err
	}
	t, err := Open(f)
	if err != nil {
		f.Close()
	}
	return t, err
}

// Open maps a table received from the parent process.
func Open(f *os.File) (*Table, error) {
	size, _, err := memfd.Stat(f)
	if err != nil {
		return nil, err
	}
	if size != tableBytes {
		return nil, fmt.Errorf("token table is %d bytes, want %d", size, tableBytes)
	}
	b, err := memfd.Map(f, tableBytes)
	if err != nil {
		return nil, err
	}
	own, err := memfd.Reopen(f)
	if err != nil {
		memfd.Unmap(b)
		return nil, err
	}
	// The mapping is page aligned (so aligned for 8-byte atomics), tableBytes
	// long and lives as long as the process; the atomic types hold no Go
	// pointers. The PIDs start right after the Slots 8-byte words.
	base := unsafe.Pointer(unsafe.SliceData(b))
	words := unsafe.Slice((*atomic.Uint64)(base), Slots)
	pids := unsafe.Slice((*atomic.Uint32)(unsafe.Add(base, Slots*8)), Slots)
	return &Table{file: f, own: own, words: words, pids: pids, mem: b, user: isUserTable(f)}, nil
}

// File returns the descriptor to pass to child processes.
func (t *Table) File() *os.File { return t.file }

// Close unmaps the table and closes its descriptors, giving up this
// process's token. For tests: a process keeps its table for life.
func (t *Table) Close() error {
	memfd.Unmap(t.mem)
	t.own.Close()
	return t.file.Close()
}

// Acquire takes the lowest free slot for this process and returns its new token.
// A process calls it once.
func (t *Table) Acquire() (uint64, error) {
	for s := 0; s < Slots; s++ {
		ok, err := memfd.TryLockByte(t.own, int64(s))
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		w := &t.words[s]
		g := Generation(w.Load()) + 1
		if g > lastGen {
			// Retired: every token of the slot was handed out once.
			if err := memfd.UnlockByte(t.own, int64(s)); err != nil {
				return 0, err
			}
			continue
		}
		tok := Make(s, g)
		// The slot is marked busy (the previous token with the mark, which
		// keeps its generation and is no valid token), then gets the PID,
		// then the token: so a reader that sees the same token before and
		// after it reads the PID has that token's PID (see Pid).
		w.Store(Make(s, g-1) | Mark)
		t.pids[s].Store(uint32(os.Getpid()))
		w.Store(tok)
		return tok, nil
	}
	return 0, ErrFull
}

// Alive reports whether the process that holds token tok is alive. It must not
// be called with the caller's own token: a process does not see its own lock.
func (t *Table) Alive(tok uint64) (bool, error) {
	if !valid(tok) {
		return false, nil
	}
	s := Slot(tok)
	if t.words[s].Load() != tok {
		return false, nil
	}
	return memfd.ByteLocked(t.own, int64(s))
}

// Pid returns the process ID of the holder of token tok, if tok is alive. The
// answer is only a hint: by the time the caller uses it the process may have
// died and its ID been reused, so check Alive again after opening a handle on
// the process.
func (t *Table) Pid(tok uint64) (int, bool) {
	if !valid(tok) {
		return 0, false
	}
	// A new holder marks the slot busy before it stores its PID (see
	// Acquire), so a PID read between two reads of the same token is that
	// token's.
	s := Slot(tok)
	if t.words[s].Load() != tok {
		return 0, false
	}
	pid := t.pids[s].Load()
	if t.words[s].Load() != tok || pid == 0 {
		return 0, false
	}
	return int(pid), true
}

// Age moves slot s's generation counter n generations on, as if n processes
// had taken the slot and left it since; past the last generation, the slot is
// retired. It does so only while no process holds the slot, taking the slot's
// lock as Acquire does, and reports whether it could: the table may be the
// user's, shared with every shm process, and rewriting a live holder's token
// would make it look dead to all of them. For tests.
func (t *Table) Age(s int, n uint64) (bool, error) {
	ok, err := memfd.TryLockByte(t.own, int64(s))
	if err != nil || !ok {
		return false, err
	}
	w := &t.words[s]
	g := Generation(w.Load())
	w.Store(Make(s, g+min(n, lastGen-g)))
	return true, memfd.UnlockByte(t.own, int64(s))
}

// Holder returns the latest token of slot s and whether its holder lives.
func (t *Table) Holder(s int) (uint64, bool) {
	tok := t.words[s].Load()
	alive, err := t.Alive(tok)
	return tok, alive && err == nil
}
