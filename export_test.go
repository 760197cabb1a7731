package shm

import (
	"reflect"
	"time"

	"github.com/shmgo/shm/internal/token"
)

// SegmentCount returns how many segments this process maps.
func SegmentCount() int {
	theHeap.mu.Lock()
	defer theHeap.mu.Unlock()
	return len(theHeap.segs)
}

// ProcessToken returns this process's liveness token.
func ProcessToken() uint32 {
	return myToken.Load()
}

// TokenSlot returns the slot of a token.
func TokenSlot(t uint32) int { return token.Slot(t) }

// Owner returns the token of the process holding m, or 0.
func (m *Mutex) Owner() uint32 { return m.w.Load() & ownerMask }

// Waiters reports whether m's word carries the waiters mark.
func (m *Mutex) Waiters() bool { return m.w.Load()&waitersBit != 0 }

// SetMainCalled pretends that Main was, or was not, called.
func SetMainCalled(b bool) { mainCalled.Store(b) }

// SetPolls sets when a sleeping waiter first checks its owner's life and how
// often it checks again, and returns the old values.
func SetPolls(first, every time.Duration) (oldFirst, oldEvery time.Duration) {
	oldFirst, oldEvery = firstPoll, deathPoll
	firstPoll, deathPoll = first, every
	return oldFirst, oldEvery
}

// Watches returns how many lock owners this process has watched through a pidfd.
func Watches() uint64 { return lockStats.watches.Load() }

// Sleeps returns how many times this process slept on a Mutex.
func Sleeps() uint64 { return lockStats.sleeps.Load() }

// Fingerprint returns the layout fingerprint of t.
func Fingerprint(t reflect.Type) uint64 { return infoOfType(t).fingerprint }
