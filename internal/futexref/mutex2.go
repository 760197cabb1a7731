package futexref

import (
	"sync/atomic"

	"github.com/shmgo/shm/internal/futex"
)

// Mutex2 is Drepper's three-state futex mutex ("Futexes Are Tricky", mutex2):
// 0 unlocked, 1 locked, 2 locked with waiters. It is the least a lock between
// processes can do, with no owner, no robustness and no spinning, and it is
// here only as the reference that shm's Mutex is benchmarked against. The zero
// value is unlocked.
type Mutex2 struct{ w atomic.Uint32 }

// Lock locks m.
func (m *Mutex2) Lock() {
	if !m.w.CompareAndSwap(0, 1) {
		m.lockSlow()
	}
}

func (m *Mutex2) lockSlow() {
	c := m.w.Load()
	if c != 2 {
		c = m.w.Swap(2)
	}
	for c != 0 {
		futex.Wait(&m.w, 2, 0)
		c = m.w.Swap(2)
	}
}

// Unlock unlocks m.
func (m *Mutex2) Unlock() {
	if m.w.Add(^uint32(0)) != 0 {
		m.w.Store(0)
		futex.Wake(&m.w, 1)
	}
}
