package token

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/shmgo/shm/internal/memfd"
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
	// The mapping is page aligned (so aligned for 8-byte atomics), tableBytes
	// long and lives as long as the process; the atomic types hold no Go
	// pointers. The PIDs start right after the Slots 8-byte words.
	base := unsafe.Pointer(unsafe.SliceData(b))
	words := unsafe.Slice((*atomic.Uint64)(base), Slots)
	pids := unsafe.Slice((*atomic.Uint32)(unsafe.Add(base, Slots*8)), Slots)
	return &Table{file: f, own: own, words: words, pids: pids, mem: b}, nil
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
		t.pids[s].Store(uint32(os.Getpid())) // before the token, so a reader of the token finds its PID
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
	s := Slot(tok)
	pid := t.pids[s].Load()
	if t.words[s].Load() != tok || pid == 0 {
		return 0, false
	}
	return int(pid), true
}

// Age moves slot s's generation counter n generations on, as if n processes
// had taken the slot and left it since; past the last generation, the slot is
// retired. For tests.
func (t *Table) Age(s int, n uint64) {
	w := &t.words[s]
	g := Generation(w.Load())
	w.Store(Make(s, g+min(n, lastGen-g)))
}
