//go:build race

package shm

import (
	"runtime"
	"sync"
	"unsafe"
)

// The race detector ignores synchronisation on memory outside the Go heap, so
// it would not see a Mutex in shared memory order the goroutines of one
// process. Each Mutex gets a shadow byte on the Go heap that the detector can
// see, and Lock and Unlock tell it about that byte, as sync.Mutex does about
// itself.
var raceShadows sync.Map // *Mutex → unsafe.Pointer to a heap byte

func raceShadow(m *Mutex) unsafe.Pointer {
	if p, ok := raceShadows.Load(m); ok {
		return p.(unsafe.Pointer)
	}
	p, _ := raceShadows.LoadOrStore(m, unsafe.Pointer(new(byte)))
	return p.(unsafe.Pointer)
}

func raceAcquire(m *Mutex) { runtime.RaceAcquire(raceShadow(m)) }
func raceRelease(m *Mutex) { runtime.RaceReleaseMerge(raceShadow(m)) }
