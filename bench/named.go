//go:build linux

package main

// Named segments: finding a named object, and a Value in a named segment
// beside an anonymous one, from Go and from Python through python/shmgo.py.
// The worker of such a workload makes one segment (setupNamed) that its shm,
// limit and Python versions all use.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/shmgo/shm"
)

const (
	namedObjects = 100      // Value[int64]s "obj-0" to "obj-99" in the segment
	lookupName   = "obj-57" // the one looked up
	counterName  = "counter"
)

// benchSegName is the name of the segment of the worker whose process ID is
// pid. workloads() names it for bench.py with the worker's own ID, since only
// the worker runs the Python versions.
func benchSegName(pid int) string { return fmt.Sprintf("shm-bench-%d", pid) }

// benchSeg is the segment setupNamed made, in a worker.
var benchSeg *shm.Segment

// setupNamed makes this worker's segment and returns what removes it.
func setupNamed() (func(), error) {
	name := benchSegName(os.Getpid())
	if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err // one left by an earlier process of this ID, if removable
	}
	seg, err := shm.Create(name, 1<<20)
	if err != nil {
		return nil, err
	}
	cleanup := func() {
		seg.Close()
		shm.Remove(name)
	}
	for i := range namedObjects {
		if _, err := shm.NewValue[int64](0, shm.In(seg, fmt.Sprintf("obj-%d", i))); err != nil {
			cleanup()
			return nil, err
		}
	}
	if _, err := shm.NewValue[int64](0, shm.In(seg, counterName)); err != nil {
		cleanup()
		return nil, err
	}
	benchSeg = seg
	return cleanup, nil
}

// removeBenchSeg removes the segment of a worker that has exited, in case it
// could not.
func removeBenchSeg(pid int) { shm.Remove(benchSegName(pid)) }

//go:noinline
func loopLookup(seg *shm.Segment, name string, n int) error {
	for i := 0; i < n; i++ {
		if _, err := shm.LookupValue[int64](seg, name); err != nil {
			return err
		}
	}
	return nil
}

func shmLookup(n int) (sample, error) {
	t := time.Now()
	err := loopLookup(benchSeg, lookupName, n)
	return elapsed(t, n), err
}

//go:noinline
func loopMapLookup(m map[string]*int64, name string, n int) *int64 {
	var p *int64
	for i := 0; i < n; i++ {
		p = m[name]
	}
	return p
}

// bareLookup is the least a look-up by name costs: a map from names to the
// objects of a directory already read.
func bareLookup(n int) (sample, error) {
	m := make(map[string]*int64, namedObjects)
	for i := range namedObjects {
		m[fmt.Sprintf("obj-%d", i)] = new(int64)
	}
	t := time.Now()
	p := loopMapLookup(m, lookupName, n)
	s := elapsed(t, n)
	if p == nil {
		return s, fmt.Errorf("%s not in the map", lookupName)
	}
	return s, nil
}

func shmNamedUpdate(n int) (sample, error) {
	v, err := shm.LookupValue[int64](benchSeg, counterName)
	if err != nil {
		return sample{}, err
	}
	v.Store(0)
	t := time.Now()
	loopValueUpdate(v, n)
	s := elapsed(t, n)
	return s, expect(v.Load(), n)
}
