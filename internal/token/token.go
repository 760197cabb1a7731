// Package token gives each process a liveness token: a number that names the
// process to the others of its family and that can be checked for life
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
// A slot is reused by later processes, so a token is not the slot alone: it is
// the slot and a generation, and the table keeps, for each slot, the token of
// its latest holder. A process that takes slot s writes there the token of the
// next generation. A token t is alive when its slot still records t and the
// slot's byte is locked. The holder locks its byte before it writes its token
// and uses the token only after that, so a living token is never seen as
// dead; a dead one may briefly be seen as alive while a newcomer takes its
// slot, which only delays the detection to the next check.
//
// A token is never handed out twice. A slot has Generations of them, about
// 1.4e14: a million processes a second taking the same slot would need four
// years to use them up. A slot whose last generation was handed out is retired,
// never taken again, rather than started over: a lock word may still name a
// dead holder of any earlier generation, and a new process with the same token
// would take that lock for its own.
//
// # Layout of a token
//
// A token is 64 bits: the slot in bits 0-15, the generation's low 15 bits in
// bits 16-30 and its high 32 bits in bits 32-63. Bit 31 is always 0: a lock
// word keeps its waiters mark there, in the 32-bit half that the kernel's
// futex compares. The generation starts at 1, so no token is 0.
package token

import "errors"

// Slots is the number of processes of one family that can hold a token at once.
const Slots = 1 << 16

// Generations is the number of tokens one slot hands out in a family's life.
const Generations = lastGen

const (
	slotBits = 16
	lowBits  = 15 // generation bits below the mark
	lastGen  = 1<<47 - 2

	// Mark is the bit that no token has, for the lock word's own use.
	Mark = 1 << 31
)

// Local is a token no table hands out (the last generation of the last slot
// is never used), for a process without a table: it can never name another
// process.
const Local = uint64(Slots-1) | (lastGen+1)&(1<<lowBits-1)<<slotBits | (lastGen+1)>>lowBits<<32

// ErrFull is returned by Acquire when every slot is taken.
var ErrFull = errors.New("all liveness slots are taken")

// Make returns the token of slot s in generation g.
func Make(s int, g uint64) uint64 {
	return uint64(s) | (g&(1<<lowBits-1))<<slotBits | (g>>lowBits)<<32
}

// Slot returns the slot of token t.
func Slot(t uint64) int { return int(t & (Slots - 1)) }

// Generation returns the generation of token t.
func Generation(t uint64) uint64 {
	return (t>>slotBits)&(1<<lowBits-1) | (t>>32)<<lowBits
}

// valid reports whether t is a token some table could hand out.
func valid(t uint64) bool {
	g := Generation(t)
	return t&Mark == 0 && g >= 1 && g <= lastGen
}
