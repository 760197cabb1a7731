//go:build !race

package shm

const raceEnabled = false

func raceAcquire(m *Mutex) {}
func raceRelease(m *Mutex) {}

func raceAcquireObj(p any) {}
func raceReleaseObj(p any) {}

func childEnv(env []string) []string { return env }
