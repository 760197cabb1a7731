package token

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/shmgo/shm/internal/memfd"
)

// The table holds, for each slot, the token of its holder and then, in a
// second array, the holder's process ID.
const tableBytes = 2 * Slots * 4

// Table is a family's token table, mapped into this process.
type Table struct {
	file  *os.File        // the inheritable descriptor, passed to children
	own   *os.File        // this process's own description, which holds its slot lock
	words []atomic.Uint32 // the token of each slot's holder
	pids  []atomic.Uint32 // the process ID of each slot's holder
}

// Create makes a new table, for the root process of a family.
func Create() (*Table, error) {
	f, err := memfd.Create("shm-tokens", tableBytes)
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
	// The mapping is page aligned, tableBytes long and lives as long as the
	// process; atomic.Uint32 holds no Go pointers.
	words := unsafe.Slice((*atomic.Uint32)(unsafe.Pointer(unsafe.SliceData(b))), 2*Slots)
	return &Table{file: f, own: own, words: words[:Slots], pids: words[Slots:]}, nil
}

// File returns the descriptor to pass to child processes.
func (t *Table) File() *os.File { return t.file }

// Acquire takes the lowest free slot for this process and returns its new token.
// A process calls it once.
func (t *Table) Acquire() (uint32, error) {
	for s := 0; s < Slots; s++ {
		ok, err := memfd.TryLockByte(t.own, int64(s))
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		w := &t.words[s]
		tok := next(w.Load(), s)
		t.pids[s].Store(uint32(os.Getpid())) // before the token, so a reader of the token finds its PID
		w.Store(tok)
		return tok, nil
	}
	return 0, ErrFull
}

// Alive reports whether the process that holds token tok is alive. It must not
// be called with the caller's own token: a process does not see its own lock.
func (t *Table) Alive(tok uint32) (bool, error) {
	if tok == 0 || tok >= Max {
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
func (t *Table) Pid(tok uint32) (int, bool) {
	if tok == 0 || tok >= Max {
		return 0, false
	}
	s := Slot(tok)
	pid := t.pids[s].Load()
	if t.words[s].Load() != tok || pid == 0 {
		return 0, false
	}
	return int(pid), true
}
