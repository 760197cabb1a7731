package shm

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// WaitSleeps returns how many times this process slept on the word of an
// Event, a Cond, a Semaphore or a Barrier.
func WaitSleeps() uint64 { return waitStats.sleeps.Load() }

// WaitsPastSpin returns how many waits of this process on such words went on
// past their spin, whether or not they then slept.
func WaitsPastSpin() uint64 { return waitStats.pastSpin.Load() }

// WaitWakes returns how many wake-ups this process's Event.Set, Cond.Signal
// and Cond.Broadcast calls sent.
func WaitWakes() uint64 { return wakes.Load() }

// LastWaitSleep returns the timeout of this process's latest sleep on such a
// word; 0 means none.
func LastWaitSleep() time.Duration { return time.Duration(waitStats.lastTimeout.Load()) }

// MaxWaitSleeping returns the most goroutines of this process that were ever
// in a futex wait on such words at once, and resets the count to those
// sleeping now.
func MaxWaitSleeping() int64 {
	n := waitStats.maxSleeping.Load()
	waitStats.maxSleeping.Store(waitStats.sleeping.Load())
	return n
}

// gateRefs returns how many goroutines of this process wait on fw.
func gateRefs(fw *atomic.Uint32) int { return gates.refs(fw) }

// Waiting returns how many goroutines of this process are in e.Wait past
// their spin.
func (e *Event) Waiting() int { return gateRefs(&e.w) }

// Marked reports whether some process may be sleeping on e.
func (e *Event) Marked() bool { return e.w.Load()&eventMark != 0 }

// Waiting returns how many goroutines of this process are in s.Acquire past
// their spin.
func (s *Semaphore) Waiting() int { return gateRefs(futexWord(&s.w)) }

// Sleepers returns how many processes are counted asleep on s.
func (s *Semaphore) Sleepers() int { return int(s.w.Load() >> 32) }

// Permits returns the free permits of s.
func (s *Semaphore) Permits() int { return int(uint32(s.w.Load())) }

// Groups returns the fields of c's word: the first group's number, its
// Signals, its waiters and the second group's waiters.
func (c *Cond) Groups() (g, s, m, q int) {
	a, b, d, e := condUnpack(c.s.w.Load())
	return int(a), int(b), int(d), int(e)
}

// SetGroups sets c's word, as if that many waiters had come and gone.
func (c *Cond) SetGroups(g, s, m, q int) {
	c.s.w.Store(condPack(uint64(g), uint64(s), uint64(m), uint64(q)))
}

// Waiting returns how many goroutines of this process are in c.Wait past
// their spin.
func (c *Cond) Waiting() int { return gateRefs(futexWord(&c.s.w)) }

// Arrived returns how many parties have arrived in b's current round.
func (b *Barrier) Arrived() int {
	st, _ := b.parts("Arrived")
	return int(st.Load() >> 32)
}

// Broken reports whether b is broken.
func (b *Barrier) Broken() bool {
	st, _ := b.parts("Broken")
	return st.Load()&barrierBroken != 0
}

// TakeSlot makes b's slot of the next party to arrive look taken by token
// tok, as if that party had died between taking the slot and counting itself.
func (b *Barrier) TakeSlot(tok uint64) {
	st, slots := b.parts("TakeSlot")
	s := st.Load()
	slots[s>>32].w.Store(tok | parity(uint32(s)&barrierRound))
}

// Waiting returns how many goroutines of this process are in b.Wait past
// their spin.
func (b *Barrier) Waiting() int {
	st, _ := b.parts("Waiting")
	return gateRefs(futexWord(st))
}

// FutexAddr returns the address, in this process, of the futex word that the
// waiters of e sleep on.
func (e *Event) FutexAddr() uintptr { return uintptr(unsafe.Pointer(&e.w)) }

// FutexAddr returns the address of the futex word of s.
func (s *Semaphore) FutexAddr() uintptr { return uintptr(unsafe.Pointer(futexWord(&s.w))) }

// FutexAddr returns the address of the futex word of c.
func (c *Cond) FutexAddr() uintptr { return uintptr(unsafe.Pointer(futexWord(&c.s.w))) }

// FutexAddr returns the address of the futex word of b.
func (b *Barrier) FutexAddr() uintptr {
	st, _ := b.parts("FutexAddr")
	return uintptr(unsafe.Pointer(futexWord(st)))
}
