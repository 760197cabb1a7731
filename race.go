//go:build race

package shm

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// The race detector ignores synchronisation on memory outside the Go heap, so
// it would not see a Mutex in shared memory order the goroutines of one
// process. Each Mutex gets a shadow byte on the Go heap that the detector can
// see, and Lock and Unlock tell it about that byte, as sync.Mutex does about
// itself.
const raceEnabled = true

var raceShadows sync.Map // *Mutex (or *Event, ...) → unsafe.Pointer to a heap byte

func raceShadow(m any) unsafe.Pointer {
	if p, ok := raceShadows.Load(m); ok {
		return p.(unsafe.Pointer)
	}
	p, _ := raceShadows.LoadOrStore(m, unsafe.Pointer(new(byte)))
	return p.(unsafe.Pointer)
}

func raceAcquire(m *Mutex) { runtime.RaceAcquire(raceShadow(m)) }
func raceRelease(m *Mutex) { runtime.RaceReleaseMerge(raceShadow(m)) }

// raceAcquireObj and raceReleaseObj do the same for the other shared
// objects that order goroutines: an Event, a Cond, a Semaphore, a Barrier.
func raceAcquireObj(p any) { runtime.RaceAcquire(raceShadow(p)) }
func raceReleaseObj(p any) { runtime.RaceReleaseMerge(raceShadow(p)) }

// childEnv adds to a child's environment, in race builds, a race detector
// setting: by default a race-enabled program sleeps a second before it exits,
// to let other goroutines report races, and that second would be added to
// every Join. The user's own GORACE setting wins.
func childEnv(env []string) []string {
	g := os.Getenv("GORACE")
	if strings.Contains(g, "atexit_sleep_ms") {
		return env
	}
	return append(withoutEnv(env, "GORACE"), "GORACE="+strings.TrimSpace(g+" atexit_sleep_ms=0"))
}
