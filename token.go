package shm

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/shmgo/shm/internal/token"
)

// Every process that locks a Mutex holds a liveness token (see package
// internal/token): a number that a lock word can name, and that other
// processes can check for life without trusting process IDs.
var (
	familyMu sync.Mutex
	family   atomic.Pointer[token.Table] // the token table of this process's family
	myToken  atomic.Uint32               // this process's token, 0 until it first locks
)

// tokenTable returns the family's token table, creating it in a root process.
func tokenTable() (*token.Table, error) {
	if t := family.Load(); t != nil {
		return t, nil
	}
	familyMu.Lock()
	defer familyMu.Unlock()
	if t := family.Load(); t != nil {
		return t, nil
	}
	t, err := token.Create()
	if err != nil {
		return nil, fmt.Errorf("shm: liveness token table: %w", err)
	}
	family.Store(t)
	return t, nil
}

// joinFamily maps the token table inherited from the parent.
func joinFamily(f *os.File) error {
	t, err := token.Open(f)
	if err != nil {
		return fmt.Errorf("shm: liveness token table: %w", err)
	}
	family.Store(t)
	return nil
}

// ownToken returns this process's token, taking one on first use.
func ownToken() (uint32, error) {
	if t := myToken.Load(); t != 0 {
		return t, nil
	}
	tab, err := tokenTable()
	if err != nil {
		return 0, err
	}
	familyMu.Lock()
	defer familyMu.Unlock()
	if t := myToken.Load(); t != 0 {
		return t, nil
	}
	t, err := tab.Acquire()
	if err != nil {
		return 0, fmt.Errorf("shm: liveness token: %w", err)
	}
	myToken.Store(t)
	return t, nil
}

// tokenAlive reports whether the process holding tok is alive. When it cannot
// tell, it answers yes: taking a live process's lock is the one mistake a
// waiter must never make.
func tokenAlive(tok uint32) bool {
	if tok == myToken.Load() {
		return true
	}
	t := family.Load()
	if t == nil {
		return true
	}
	alive, err := t.Alive(tok)
	return alive || err != nil
}
