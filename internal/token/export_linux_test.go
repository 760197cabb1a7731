package token

import "github.com/shmgo/shm/internal/memfd"

// ByteLockedForTest reports whether another description holds slot s's byte.
func (t *Table) ByteLockedForTest(s int) (bool, error) { return memfd.ByteLocked(t.own, int64(s)) }
