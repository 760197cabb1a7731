// Package token gives each process a liveness token: a small number that names
// the process to the others of its family and that can be checked for life
// without trusting process IDs, which the kernel reuses.
//
// # Protocol
//
// A family of processes (a root process and every process started from it)
// shares one table: an anonymous memfd inherited by every child. The table
// has Slots slots. A process takes slot s by locking byte s of the table with
// an open-file-description (OFD) lock, on a description it opened itself
// through /proc/self/fd and never passes on (close-on-exec). The kernel drops
// that lock when the description is closed, and so at the latest when the
// process dies, however it dies: SIGKILL included.
//
// A slot is reused by later processes, so a token is not the slot alone: the
// table keeps, for each slot, the token of its current holder, and a process
// that takes slot s writes there a token one generation newer than the last
// one written (token = s + 1 + generation*Slots, kept below 1<<31). A token t
// is alive when its slot still records t and its byte is locked. The holder
// locks its byte before it writes its token and uses the token only after
// that, so a living token is never seen as dead; a dead one may briefly be
// seen as alive while a newcomer takes its slot, which only delays the
// detection to the next check.
package token

import "errors"

// Slots is the number of processes of one family that can hold a token at once.
const Slots = 1 << 16

// Max bounds tokens: they fit in 31 bits so that a lock word can keep its top
// bit for itself. Tokens handed out are below Max; Max itself is left for a
// process without a table, so that it can never name another process.
const Max = 1<<31 - 1

// ErrFull is returned by Acquire when every slot is taken.
var ErrFull = errors.New("all liveness slots are taken")

// Slot returns the slot of token t.
func Slot(t uint32) int { return int((t - 1) % Slots) }

// next returns the token to write into slot s after prev.
func next(prev uint32, s int) uint32 {
	if prev == 0 || uint64(prev)+Slots >= Max {
		return uint32(s) + 1
	}
	return prev + Slots
}
