package shm

import (
	"fmt"
	"os"

	"github.com/shmgo/shm/internal/token"
)

// A LockState describes a [Mutex] word of a named segment at one moment, as
// [Segment.LockState] reads it: what `shm inspect` shows.
type LockState struct {
	Locked  bool   // the word names an owner
	Waiters bool   // the word is marked: a process may be sleeping on it
	Owner   uint64 // the owner's liveness token; 0 when unlocked
	// Pid is the owner's process ID, or 0 when it is not known: when the
	// lock is free, or when the owner died and another process has taken
	// its slot in the token table since, or when this process cannot read
	// the owner's table (see Known). The PID of the segment's creator is
	// always known: the header records it.
	Pid int
	// Alive reports whether the owner lives. It means something only when
	// Known: this process can judge the owner's life when it holds a token
	// from the table of the segment's user, which only processes of that
	// user do.
	Alive bool
	Known bool
}

// LockState reads the Mutex word at offset off of the segment's file and
// reports who holds it. off is the Offset of a Mutex, or the Lock of a Value
// or an Array, as [Segment.Objects] gives them, or 64, the header's
// allocation lock (see named.go); it must be a multiple of 8 inside the
// file. LockState neither takes nor waits for the lock: the answer may be
// out of date as soon as it is given. A raw segment has no locks.
func (s *Segment) LockState(off int64) (LockState, error) {
	nf, err := s.check("LockState")
	if err != nil {
		return LockState{}, fmt.Errorf("shm: LockState: %w", err)
	}
	if nf.raw {
		return LockState{}, fmt.Errorf("shm: LockState: %w", errRaw(s.name))
	}
	if off%8 != 0 || off < 0 || off > int64(len(nf.file))-8 {
		return LockState{}, fmt.Errorf("shm: LockState(%d): segment %q: not the offset of a Mutex word: want a multiple of 8 in [0, %d]", off, s.name, len(nf.file)-8)
	}
	var w uint64
	if err := guardFault(s.name, func() error {
		w = fileImage(nf.file).load64(uint64(off))
		return nil
	}); err != nil {
		return LockState{}, err
	}
	ls := LockState{Owner: w &^ token.Mark, Waiters: w&token.Mark != 0}
	ls.Locked = ls.Owner != 0
	if !ls.Locked {
		return ls, nil
	}
	switch {
	case ls.Owner == myToken.Load():
		ls.Pid, ls.Alive, ls.Known = os.Getpid(), true, true
	case nf.hdr.uid == uint32(os.Geteuid()) && family != nil && family.User():
		alive, err := family.Alive(ls.Owner)
		ls.Alive, ls.Known = alive, err == nil
		ls.Pid, _ = family.Pid(ls.Owner)
	}
	if ls.Pid == 0 && ls.Owner == nf.hdr.token {
		// The creator: the header records its PID, which outlives the
		// table's record of it. Tokens never repeat, so this is the one
		// process that held it.
		ls.Pid = int(nf.hdr.pid)
	}
	return ls, nil
}
