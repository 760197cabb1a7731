package shm

import (
	"context"
	"reflect"
	"time"

	"github.com/shmgo/shm/internal/token"
)

// SegmentCount returns how many anonymous segments this process maps.
func SegmentCount() int {
	theHeap.mu.Lock()
	defer theHeap.mu.Unlock()
	n := 0
	for _, s := range theHeap.segs {
		if s.named == nil {
			n++
		}
	}
	return n
}

// ProcessToken returns this process's liveness token.
func ProcessToken() uint64 {
	return myToken.Load()
}

// TokenSlot returns the slot of a token.
func TokenSlot(t uint64) int { return token.Slot(t) }

// Owner returns the token of the process holding m, or 0.
func (m *Mutex) Owner() uint64 { return m.w.Load() & ownerMask }

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

// AgeTokenSlot moves slot s's generation counter n generations on, as if n
// processes had taken the slot and left it since, if no process holds the
// slot now; it reports whether it did.
func AgeTokenSlot(s int, n uint64) (bool, error) { return family.Age(s, n) }

// TokenGenerations is how many tokens one liveness slot hands out.
const TokenGenerations = token.Generations

// MaxSleeping returns the most goroutines of this process that were ever in a
// futex wait at once, and resets the count to those sleeping now.
func MaxSleeping() int64 {
	n := lockStats.maxSleeping.Load()
	lockStats.maxSleeping.Store(lockStats.sleeping.Load())
	return n
}

// Parks returns how many times a goroutine parked behind its process's sleeper.
func Parks() uint64 { return lockStats.parks.Load() }

// Queued returns how many lockers of this process gave up spinning on a
// Mutex and joined its wait queue, whether or not they then slept.
func Queued() uint64 { return lockStats.queued.Load() }

// Queued returns how many goroutines of this process are in m's wait queue.
func (m *Mutex) Queued() int { return queues.refs(futexWord(&m.w)) }

// LastSleep returns the timeout of this process's latest sleep on a Mutex.
func LastSleep() time.Duration { return time.Duration(lockStats.lastTimeout.Load()) }

// TokenSlotHolder returns the latest token of liveness slot s and whether its
// holder lives.
func TokenSlotHolder(s int) (uint64, bool) { return family.Holder(s) }

// SetCreateHook sets the function Create calls after each of its steps, 1 to
// CreateSteps.
func SetCreateHook(f func(step int)) { createHook = f }

// CreateSteps is the number of steps of Create; CreateLinked the step after
// which the segment is published.
const (
	CreateSteps  = createSteps
	CreateLinked = createLinked
)

// SetAllocHook sets the function an allocation in a named segment calls after
// each of its steps, 1 to AllocSteps.
func SetAllocHook(f func(step int)) { allocHook = f }

// AllocSteps is the number of steps of an allocation in a named segment;
// AllocLinked the step after which the object is in the directory.
const (
	AllocSteps  = allocCounted
	AllocLinked = allocLinked
)

// AllocLock returns the allocation lock of s.
func AllocLock(s *Segment) *Mutex { return as[Mutex](s.at(hdrLock)) }

// HeaderCounts returns the used, last and count fields of s's header.
func HeaderCounts(s *Segment) (used, last uint64, count uint32) {
	b := fileImage(s.seg.named.file)
	return b.load64(hdrUsed), b.load64(hdrLast), word32At(b, hdrCount).Load()
}

// NamedSegmentCount returns how many named segments this process maps.
func NamedSegmentCount() int {
	theHeap.mu.Lock()
	defer theHeap.mu.Unlock()
	n := 0
	for _, s := range theHeap.segs {
		if s.named != nil {
			n++
		}
	}
	return n
}

// SetHookBeforeSleep sets a function that a Mutex's sleeper runs just before
// its futex wait, after it last looked at its context; nil removes it.
func SetHookBeforeSleep(f func()) { testHookBeforeSleep = f }

// CtxWakes returns how many wake-ups Mutex waiters' ended contexts sent.
func CtxWakes() uint64 { return lockStats.ctxWakes.Load() }

// LockPool locks p as its own methods do: until unlock is called, no slot of
// p can take a task, see its worker die or see the pool closed.
func LockPool(p *Pool) (unlock func()) {
	p.mu.Lock()
	return p.mu.Unlock
}

// PoolWorker returns the process of the worker in p's slot i; the caller
// holds p's lock (LockPool).
func PoolWorker(p *Pool, i int) *Process { return p.workers[i].proc }

// QueueLocked queues fn(args...) on p as Submit does, with a background
// context, for a caller that holds p's lock (LockPool).
func QueueLocked(p *Pool, fn any, args ...any) (*Future, error) {
	t, err := p.newCall(context.Background(), fn, args)
	if err != nil {
		return nil, err
	}
	p.queue = append(p.queue, t)
	return t.fut, nil
}

// CloseLocked marks p closed, as Close does first, for a caller that holds
// p's lock (LockPool).
func CloseLocked(p *Pool) { p.closed = true }
