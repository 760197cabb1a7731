package shm

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/shmgo/shm/internal/memfd"
	"github.com/shmgo/shm/internal/token"
)

// Every process that uses shm holds a liveness token (see package
// internal/token): a number that a lock word can name, and that other
// processes can check for life without trusting process IDs. A process takes
// its token when the package is initialised, so that a token is always there
// and Mutex.Lock's fast path is one compare-and-swap: a root process opens
// its user's token table (see openFamily), a child started by Start joins its
// parent's. That
// costs two descriptors (the table and this process's own description of it,
// which holds its slot's lock), two touched pages of the 768 KiB table, and
// about 0.13 ms (BenchmarkCreateAcquire in internal/token).
var (
	family   *token.Table  // the token table of this process's family; set by init
	myToken  atomic.Uint64 // this process's token; never 0 after init
	tokenErr error         // why this process has no token table, if it has none
)

// localToken is the token of a process that could not take a real one. Such a
// process can make no shared objects (tokenErr says why), so only Mutexes in
// its own memory can name it, and for them it works as any token: a process
// always sees itself alive.
const localToken = token.Local

func init() {
	tab, err := openFamily()
	var tok uint64
	if err == nil {
		tok, err = tab.Acquire()
	}
	if err != nil {
		tokenErr = fmt.Errorf("shm: liveness token: %w", err)
		myToken.Store(localToken)
		return
	}
	family = tab
	myToken.Store(tok)
}

// userTableErr says why this process does not hold a token from its user's
// table, if it does not: then only its own family can judge its liveness, and
// it cannot lock in named segments.
var userTableErr error

// openFamily joins the token table inherited from the parent in a child
// started by Start. Elsewhere it opens the table of every process of this
// user, so that unrelated programs can judge each other's locks; where that
// cannot be had (no writable /dev/shm), it creates a family table of its own.
func openFamily() (*token.Table, error) {
	var tab *token.Table
	var err error
	if os.Getenv(envChild) != "" {
		tab, err = token.Open(memfd.Inherit(fdTokens, "shm-tokens"))
	} else if tab, err = token.OpenUser(); err != nil {
		userTableErr = err
		tab, err = token.Create()
	}
	if err == nil && !tab.User() && userTableErr == nil {
		userTableErr = fmt.Errorf("this process's family has no table shared with other programs (%s)", token.UserPath())
	}
	return tab, err
}

// tokenTable returns the family's token table.
func tokenTable() (*token.Table, error) {
	if family == nil {
		return nil, tokenErr
	}
	return family, nil
}

// tokenAlive reports whether the process holding tok is alive; this
// process's own token always is. When it cannot tell, it answers yes: taking
// a live process's lock is the one mistake a waiter must never make.
func tokenAlive(tok uint64) bool {
	if tok == myToken.Load() || family == nil {
		return true
	}
	alive, err := family.Alive(tok)
	return alive || err != nil
}
