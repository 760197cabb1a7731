//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
)

// A sample is what one run of one version of a workload measured. The metric
// of the workload is computed from it (see unit).
type sample struct {
	Seconds float64 `json:"seconds"`          // the time measured
	Ops     float64 `json:"ops,omitempty"`    // operations (or round trips) timed
	Bytes   float64 `json:"bytes,omitempty"`  // bytes moved, for throughput
	Lost    float64 `json:"lost,omitempty"`   // lost updates, where counted
	Failed  string  `json:"failed,omitempty"` // why the run could not measure anything
}

// An impl is one version of a workload: shm's, a Python one or a bare limit.
type impl struct {
	Name string
	N    int                         // size of one run
	Run  func(n int) (sample, error) // Go versions
	Py   []string                    // Python versions: arguments of python/bench.py, with N last
	Dist []string                    // Go versions run by distbench: its arguments, without N
}

// A target is a goal from the issue: a minimum speed-up over Python and a
// maximum overhead over the limit (0: none).
type target struct {
	MinSpeedup  float64 `json:"min_speedup,omitempty"`
	MaxOverhead float64 `json:"max_overhead,omitempty"`
	// Vs names the limit that MaxOverhead, and the shm / limit column, are
	// against; the fastest limit if empty.
	Vs string `json:"vs,omitempty"`
}

type workload struct {
	ID, Name, Group string
	Unit            string // see metric
	Lost            bool   // lost updates are counted
	Note            string
	Shm             impl
	Python          []impl
	Limit           []impl
	Target          target
	// Setup, if set, runs in the worker before any version, and the function
	// it returns after all of them.
	Setup func() (cleanup func(), err error)
	// Etcd says that the workload needs distbench and its etcd server, which
	// the parent starts (see dist.go).
	Etcd bool
	// QuickRounds, if not 0, is the number of rounds with -quick, where each
	// round runs every version, Python's included.
	QuickRounds int
}

// Units.
const (
	nsPerOp    = "ns/op"
	usPerTrip  = "µs/round trip"
	usPerRound = "µs/round"
	msPerOp    = "ms/op"
	msTotal    = "ms"
	mbPerSec   = "MB/s"
	opsPerSec  = "op/s"
	msPerTrip  = "ms/round trip"
	msPerHand  = "ms/hand-off"
)

// metric turns a sample into the workload's figure.
func metric(unit string, s sample) float64 {
	switch unit {
	case nsPerOp:
		return s.Seconds / s.Ops * 1e9
	case usPerTrip, usPerRound:
		return s.Seconds / s.Ops * 1e6
	case msPerOp, msPerTrip, msPerHand:
		return s.Seconds / s.Ops * 1e3
	case opsPerSec:
		return s.Ops / s.Seconds
	case msTotal:
		return s.Seconds * 1e3
	case mbPerSec:
		return s.Bytes / s.Seconds / 1e6
	}
	panic("unknown unit " + unit)
}

// higherIsBetter reports whether bigger figures are better in unit.
func higherIsBetter(unit string) bool { return unit == mbPerSec || unit == opsPerSec }

func goImpl(name string, n int, run func(int) (sample, error)) impl {
	return impl{Name: name, N: n, Run: run}
}

func pyImpl(name string, n int, args ...string) impl {
	return impl{Name: name, N: n, Py: append(args, strconv.Itoa(n))}
}

// short writes n as 1M, 100k, 500.
func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// workloads returns every workload, in the order of the table.
func workloads(c config) []*workload {
	const (
		single  = "single process"
		two     = "two processes"
		scaling = "scaling"
		arrays  = "arrays"
		latency = "latency"
		syncs   = "semaphores and barriers"
		named   = "named segments"
		procs   = "processes"
		pools   = "pools"
	)
	var ws []*workload
	add := func(w *workload) { ws = append(ws, w) }

	// Single process: N operations in a loop, divided by N.
	add(&workload{ID: "raw-load", Name: "RawValue Load", Group: single, Unit: nsPerOp,
		Shm:    goImpl("shm", c.n(100_000_000), shmRawLoad),
		Python: []impl{pyImpl("RawValue .value", c.n(2_000_000), "raw-load")},
		Limit:  []impl{goImpl("plain load", c.n(100_000_000), bareLoad)},
		Target: target{MaxOverhead: 1.2}})
	add(&workload{ID: "raw-store", Name: "RawValue Store", Group: single, Unit: nsPerOp,
		Shm:    goImpl("shm", c.n(100_000_000), shmRawStore),
		Python: []impl{pyImpl("RawValue .value =", c.n(2_000_000), "raw-store")},
		Limit:  []impl{goImpl("plain store", c.n(100_000_000), bareStore)},
		Target: target{MaxOverhead: 1.2}})
	add(&workload{ID: "raw-inc", Name: "RawValue += 1", Group: single, Unit: nsPerOp,
		Shm:    goImpl("shm", c.n(100_000_000), shmRawInc),
		Python: []impl{pyImpl("RawValue .value += 1", c.n(2_000_000), "raw-inc")},
		Limit:  []impl{goImpl("plain ++", c.n(100_000_000), bareInc)},
		Target: target{MaxOverhead: 1.2}})
	add(&workload{ID: "atomic-add", Name: "RawValue[atomic.Int64].Add", Group: single, Unit: nsPerOp,
		Note:   "Python has no atomics: its equivalent is a Value += 1 under get_lock()",
		Shm:    goImpl("shm", c.n(50_000_000), shmAtomicAdd),
		Python: []impl{pyImpl("Value get_lock(): += 1", c.n(200_000), "locked-inc")},
		Limit:  []impl{goImpl("atomic.Int64.Add", c.n(50_000_000), bareAtomicAdd)},
		Target: target{MinSpeedup: 50, MaxOverhead: 1.2}})
	add(&workload{ID: "value-update", Name: "Value.Update (+1)", Group: single, Unit: nsPerOp,
		Shm:    goImpl("shm", c.n(10_000_000), shmValueUpdate),
		Python: []impl{pyImpl("Value get_lock(): += 1", c.n(200_000), "locked-inc")},
		Limit:  []impl{goImpl("futex mutex", c.n(10_000_000), bareMutexInc)},
		Target: target{MinSpeedup: 50, MaxOverhead: 1.5}})
	add(&workload{ID: "mutex", Name: "Mutex Lock+Unlock", Group: single, Unit: nsPerOp,
		Shm:    goImpl("shm", c.n(10_000_000), shmMutex),
		Python: []impl{pyImpl("Lock acquire+release", c.n(1_000_000), "lock")},
		Limit:  []impl{goImpl("futex mutex", c.n(10_000_000), bareMutex)},
		Target: target{MaxOverhead: 1.5}})

	// Two processes, each adding 1 to one shared value 1,000,000 times: from the
	// start of the first child to the join of the last.
	n2 := c.n(1_000_000)
	k2 := short(n2)
	add(&workload{ID: "2p-raw", Name: "2 procs x " + k2 + " RawValue += 1", Group: two, Unit: msTotal, Lost: true,
		Shm:    goImpl("shm", n2, countShm(countRaw, 2)),
		Python: []impl{pyImpl("RawValue += 1", n2, "count", "raw", "2")},
		Limit:  []impl{goImpl("plain ++", n2, countBare(countRaw, 2))},
		Target: target{MaxOverhead: 1.2}})
	add(&workload{ID: "2p-atomic", Name: "2 procs x " + k2 + " atomic.Int64.Add", Group: two, Unit: msTotal,
		Note:   "Python has no atomics: its equivalent is a Value += 1 under get_lock()",
		Shm:    goImpl("shm", n2, countShm(countAtomic, 2)),
		Python: []impl{pyImpl("Value get_lock(): += 1", n2, "count", "locked", "2")},
		Limit:  []impl{goImpl("atomic.Int64.Add", n2, countBare(countAtomic, 2))},
		Target: target{MinSpeedup: 50, MaxOverhead: 1.2}})
	add(&workload{ID: "2p-update", Name: "2 procs x " + k2 + " Value.Update", Group: two, Unit: msTotal,
		Shm:    goImpl("shm", n2, countShm(countUpdate, 2)),
		Python: []impl{pyImpl("Value get_lock(): += 1", n2, "count", "locked", "2")},
		Limit:  []impl{goImpl("futex mutex", n2, countBare(countUpdate, 2))},
		Target: target{MinSpeedup: 50, MaxOverhead: 1.5}})
	add(&workload{ID: "2p-loadstore", Name: "2 procs x " + k2 + " Value.Store(Load()+1)", Group: two, Unit: msTotal, Lost: true,
		Note:   "two locked operations per increment, as Python's Value.value += 1 does: both lose updates",
		Shm:    goImpl("shm", n2, countShm(countLoadStore, 2)),
		Python: []impl{pyImpl("Value .value += 1", n2, "count", "value", "2")},
		Limit:  []impl{goImpl("futex mutex x2", n2, countBare(countLoadStore, 2))},
		Target: target{MinSpeedup: 50, MaxOverhead: 1.5}})

	// Scaling: P processes x 100,000 Value.Update.
	ns := c.n(100_000)
	for _, p := range []int{1, 2, 4, 8} {
		ps := strconv.Itoa(p)
		add(&workload{ID: "scale-" + ps, Name: ps + " procs x " + short(ns) + " Value.Update", Group: scaling, Unit: msTotal,
			Shm:    goImpl("shm", ns, countShm(countUpdate, p)),
			Python: []impl{pyImpl("Value get_lock(): += 1", ns, "count", "locked", ps)},
			Limit:  []impl{goImpl("futex mutex", ns, countBare(countUpdate, p))},
			Target: target{MinSpeedup: 50, MaxOverhead: 1.5}})
	}

	// Arrays: allocate, a child fills, the parent reads; bytes over the time.
	na := 1_000_000
	if c.Quick {
		na = 200_000
	}
	add(&workload{ID: "rawarray", Name: "RawArray " + short(na) + " float64: child fills, parent sums", Group: arrays, Unit: mbPerSec,
		Note:   "time from allocation to the parent's sum, over the bytes of the array (8 per element)",
		Shm:    goImpl("shm", na, shmRawArray),
		Python: []impl{pyImpl("RawArray", na, "rawarray")},
		Limit:  []impl{goImpl("bare mapping", na, bareRawArray)}})
	add(&workload{ID: "array", Name: "Array " + short(na) + " float64: child Stores, parent Snapshot", Group: arrays, Unit: mbPerSec,
		Note:   "one locked store per element (as Python's Array does), then a copy under the lock",
		Shm:    goImpl("shm", na, shmArray),
		Python: []impl{pyImpl("Array a[i]=, a[:]", na, "array")},
		Limit:  []impl{goImpl("futex mutex + copy", na, bareArray)},
		Target: target{MinSpeedup: 50}})

	// Latency: round trips between two processes.
	pingLimits := func() []impl {
		return []impl{
			goImpl("futex", c.n(20_000), barePingPongFutex),
			goImpl("spin", c.n(100_000), barePingPongSpin),
			goImpl("spin+futex", c.n(100_000), barePingPongSpinFutex),
		}
	}
	pingPython := func() []impl {
		return []impl{pyImpl("Event", c.n(3000), "pingpong", "event"), pyImpl("Pipe", c.n(3000), "pingpong", "pipe")}
	}
	add(&workload{ID: "event-pingpong", Name: "Event ping-pong round trip", Group: latency, Unit: usPerTrip,
		Note: "each side Sets the other's Event and Waits on its own, then Clears it; limit: one futex word that the sides take turns on, waited on by sleeping at once, by spinning, and by spinning 5 µs, yielding once and then sleeping, as an Event's waiter does; " +
			"the target is against spin+futex, which waits as the Event does; on a loaded machine both it and the Event yield the processor on most trips and wait for the other process to be scheduled, which sets their times, while bare spin never yields",
		Shm:    goImpl("shm", c.n(100_000), shmEventPingPong),
		Python: pingPython(),
		Limit:  pingLimits(),
		Target: target{MaxOverhead: 1.3, Vs: "spin+futex"}})
	add(&workload{ID: "pingpong", Name: "ping-pong round trip (Value + Event)", Group: latency, Unit: usPerTrip,
		Note: "each side Stores the next number in a Value, Clears its own Event and Sets the other's, then Waits on its own and Loads the answer " +
			"(each clears its own Event just before it sets the other's, so that the two writes to the Events' cache line come together; a Clear just after Wait writes that line again while the other process spins on it); " +
			"limits: the bare ping-pongs, which only take turns on one word, and mutex+turn, the same work as shm's with the bare references " +
			"(a futex mutex around the number, spin+futex turn words: the mutex and the number in one cache line, as a Value's, and the turn words in another, as the Events); " +
			"mutex+turn, 1 line, the same with all of it in one cache line, which two objects cannot share, shows what the second line costs: " +
			"each half trip has the waiter fetch it from the other core after the line of its turn word; " +
			"the target is against spin+futex, which waits as the Event does (see event-pingpong)",
		Shm:    goImpl("shm", c.n(100_000), shmPingPong),
		Python: pingPython(),
		Limit: append(pingLimits(),
			goImpl("mutex+turn", c.n(100_000), barePingPongMutexTurn),
			goImpl("mutex+turn, 1 line", c.n(100_000), barePingPongMutexTurn1Line)),
		Target: target{MaxOverhead: 1.3, Vs: "spin+futex"}})
	add(&workload{ID: "pingpong-1line", Name: "ping-pong round trip (Mutex, number and Events in one struct)", Group: latency, Unit: usPerTrip,
		Note: "the pingpong row with its state in one RawValue of a struct: a Mutex and the number it guards, as a Value holds them, and the two Events, all in one cache line; " +
			"each side does what the pingpong row's does (the number read and written under the lock, its own Event cleared just before it sets the other's); limit: mutex+turn, 1 line is the same work bare",
		Shm:    goImpl("shm", c.n(100_000), shmLinePingPong),
		Python: pingPython(),
		Limit:  append(pingLimits(), goImpl("mutex+turn, 1 line", c.n(100_000), barePingPongMutexTurn1Line)),
		Target: target{MaxOverhead: 1.3, Vs: "spin+futex"}})
	add(&workload{ID: "pingpong-atomic", Name: "ping-pong round trip (RawValue[atomic.Int64])", Group: latency, Unit: usPerTrip,
		Note:   "each side polls an atomic in a RawValue for its partner's number: no lock, and no sleep",
		Shm:    goImpl("shm", c.n(100_000), shmPingPongAtomic),
		Python: pingPython(),
		Limit:  pingLimits(),
		Target: target{MaxOverhead: 1.3}})

	add(&workload{ID: "cond-pingpong", Name: "Cond ping-pong round trip", Group: latency, Unit: usPerTrip,
		Note: "both sides hold the Cond's Mutex except inside Wait: each stores its turn's number in a RawValue, Signals, and Waits until the other's number is there; " +
			"Python: the same with a multiprocessing Condition (notify, wait_for); limit: the bare futex word of the other ping-pongs, which has no lock to take back after each wake-up",
		Shm:    goImpl("shm", c.n(20_000), shmCondPingPong),
		Python: []impl{pyImpl("Condition", c.n(3000), "pingpong", "cond")},
		Limit:  pingLimits()})

	// Semaphores and barriers.
	add(&workload{ID: "semaphore", Name: "Semaphore Acquire+Release", Group: syncs, Unit: nsPerOp,
		Note:   "uncontended; limit: the Lock and Unlock of a bare futex mutex",
		Shm:    goImpl("shm", c.n(10_000_000), shmSemaphore),
		Python: []impl{pyImpl("Semaphore acquire+release", c.n(1_000_000), "semaphore")},
		Limit:  []impl{goImpl("futex mutex", c.n(10_000_000), bareMutex)},
		Target: target{MaxOverhead: 1.5}})
	for _, p := range []int{2, 4} {
		ps := strconv.Itoa(p)
		pyRounds := c.n(4000 / p / p) // Python's 4-party round is 15 times its 2-party one
		add(&workload{ID: "barrier-" + ps, Name: "Barrier round, " + ps + " procs", Group: syncs, Unit: usPerRound,
			Note:   "limit: a bare counting barrier on a futex word, waited on by sleeping at once, and by spinning 5 µs then sleeping, as a Barrier's waiter does",
			Shm:    goImpl("shm", c.n(40_000/p/p), shmBarrier(p)),
			Python: []impl{pyImpl("Barrier", pyRounds, "barrier", ps)},
			Limit: []impl{
				goImpl("futex", c.n(40_000/p/p), bareBarrierRun(p, false)),
				goImpl("spin+futex", c.n(40_000/p/p), bareBarrierRun(p, true)),
			}})
	}

	// Named segments, shared with unrelated programs in Go and Python.
	seg := benchSegName(os.Getpid())
	add(&workload{ID: "named-lookup", Name: "LookupValue of 1 of " + strconv.Itoa(namedObjects) + " named objects", Group: named, Unit: nsPerOp,
		Note:   "Python: shmgo's seg[name], which returns the handle it made at the first look-up; limit: a Go map from names to objects",
		Setup:  setupNamed,
		Shm:    goImpl("shm", c.n(2_000_000), shmLookup),
		Python: []impl{pyImpl("shmgo seg[name]", c.n(1_000_000), "named-lookup", seg)},
		Limit:  []impl{goImpl("map", c.n(50_000_000), bareLookup)}})
	add(&workload{ID: "named-update", Name: "Value.Update (+1) on a named Value", Group: named, Unit: nsPerOp,
		Note:   "limit: the same Update on an anonymous Value; Python: shmgo's Value in the same segment, and multiprocessing's own Value, each += 1 under get_lock()",
		Setup:  setupNamed,
		Shm:    goImpl("shm", c.n(10_000_000), shmNamedUpdate),
		Python: []impl{pyImpl("shmgo", c.n(200_000), "named-locked-inc", seg), pyImpl("sharedctypes", c.n(200_000), "locked-inc")},
		Limit:  []impl{goImpl("anonymous Value", c.n(10_000_000), shmValueUpdate)},
		Target: target{MaxOverhead: 1.2}})

	// Processes.
	add(&workload{ID: "start-join", Name: "Start+Join of a child that does nothing", Group: procs, Unit: msPerOp,
		Shm:    goImpl("shm", c.n(50), shmStartJoin),
		Python: []impl{pyImpl("fork", c.n(50), "startjoin", "fork"), pyImpl("spawn", max(c.n(10), 2), "startjoin", "spawn")},
		Limit:  []impl{goImpl("exec", c.n(50), bareExec)},
		Target: target{MaxOverhead: 1.5}})
	deathWait := "1.0"
	if c.Quick {
		deathWait = "0.2"
	}
	add(&workload{ID: "owner-death", Name: "owner death: SIGKILL of holder -> waiter holds lock", Group: procs, Unit: msTotal,
		Note:   "Python's Lock is not robust: the waiter never gets it (acquire gives up after " + deathWait + " s)",
		Shm:    goImpl("shm", 1, shmOwnerDeath),
		Python: []impl{pyImpl("Lock", 1, "ownerdeath", deathWait)},
		Limit:  []impl{goImpl("robust futex", 1, bareOwnerDeath)}})

	// Pools: warm workers that run registered functions.
	add(&workload{ID: "pool-rtt", Name: "pool round trip of a no-op task", Group: pools, Unit: usPerTrip,
		Note:   "one worker, one task at a time: Submit then Result; Python: submit().result() and apply_async().get(); limits: a bare round trip between two processes on a futex word (sleeping at once, and spinning 5 us first) and a goroutine over channels",
		Shm:    goImpl("shm", c.n(20_000), shmPoolRoundTrip),
		Python: []impl{pyImpl("ProcessPoolExecutor", c.n(3000), "pool-rtt", "executor"), pyImpl("Pool", c.n(3000), "pool-rtt", "pool")},
		Limit: []impl{
			goImpl("futex", c.n(20_000), barePingPongFutex),
			goImpl("spin+futex", c.n(100_000), barePingPongSpinFutex),
			goImpl("goroutine", c.n(1_000_000), bareGoroutineRoundTrip),
		},
		Target: target{MinSpeedup: 20}})
	nm := c.n(1_000_000)
	add(&workload{ID: "pool-map", Name: "pool map of " + short(nm) + " ints (+1), 2 workers", Group: pools, Unit: nsPerOp,
		Note:   "per item; chunks of n/8 items (each worker gets four); Python: Pool(2).map with the same chunksize; limit: two goroutines over the same chunks",
		Shm:    goImpl("shm", nm, shmPoolMap),
		Python: []impl{pyImpl("Pool.map", nm, "pool-map", strconv.Itoa(max(nm/8, 1)))},
		Limit:  []impl{goImpl("goroutines", nm, bareGoroutineMap)}})
	add(&workload{ID: "pool-start", Name: "start a pool of 4 workers until ready, then close it", Group: pools, Unit: msPerOp,
		Note:   "NewPool returns once every worker has run its Init; Python: Pool(4) and one apply, which waits for a worker only",
		Shm:    goImpl("shm", c.n(10), shmPoolStart),
		Python: []impl{pyImpl("Pool(4)", c.n(10), "pool-start")}})

	// Across machines: package dist, on etcd.
	ws = append(ws, distWorkloads(c)...)
	return ws
}

// runWorker runs one workload in this process: every version, Runs times,
// rotating the order from run to run.
func runWorker(cfg config, id, out string) error {
	var w *workload
	for _, x := range workloads(cfg) {
		if x.ID == id {
			w = x
		}
	}
	if w == nil {
		return fmt.Errorf("no workload %q", id)
	}
	if w.Setup != nil {
		cleanup, err := w.Setup()
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		defer cleanup()
	}
	py := ""
	if !*noPython {
		py, _ = findPython()
	}
	type version struct {
		kind string // "shm", "python", "limit"
		impl impl
		s    []sample
	}
	vs := []*version{{kind: "shm", impl: w.Shm}}
	if py != "" {
		for _, p := range w.Python {
			vs = append(vs, &version{kind: "python", impl: p})
		}
	}
	for _, l := range w.Limit {
		vs = append(vs, &version{kind: "limit", impl: l})
	}
	runOne := func(v *version, warm bool) (sample, error) {
		if v.impl.Py != nil {
			return runPython(py, v.impl.Py)
		}
		if v.impl.Dist != nil {
			return runDist(v.impl.Dist[0], v.impl.N) // warms up on its own
		}
		n := v.impl.N
		if warm {
			n = max(n/10, 1)
		}
		return v.impl.Run(n)
	}
	// Warm up the Go versions: the first Start of a process starts the thread
	// that starts children, the first run faults the pages in, and so on.
	for _, v := range vs {
		if v.impl.Run != nil {
			if _, err := runOne(v, true); err != nil {
				return fmt.Errorf("%s (warm-up): %w", v.impl.Name, err)
			}
		}
	}
	// The Go versions are cheap and the noise of a shared machine hits them
	// hardest: they run GoRunsX times as often as the Python ones, which run
	// every GoRunsX'th round.
	rounds := cfg.Runs * cfg.GoRunsX
	if cfg.Quick && w.QuickRounds > 0 {
		rounds = w.QuickRounds
	}
	for r := 0; r < rounds; r++ {
		progress("        round %d/%d:", r+1, rounds)
		for k := range vs {
			v := vs[(k+r)%len(vs)]
			if v.impl.Py != nil && r%cfg.GoRunsX != 0 {
				continue
			}
			s, err := runOne(v, false)
			if err != nil {
				// Any failure fails the workload, so that CI's -quick run
				// catches a broken version.
				progress(" %s: error\n", v.impl.Name)
				return fmt.Errorf("%s %s: %w", v.kind, v.impl.Name, err)
			}
			v.s = append(v.s, s)
			if s.Failed != "" {
				progress(" %s: %s;", v.impl.Name, "failed")
			} else {
				progress(" %s %s;", v.impl.Name, fmtNum(metric(w.Unit, s)))
			}
		}
		progress("\n")
	}
	res := &result{ID: w.ID, Name: w.Name, Group: w.Group, Unit: w.Unit,
		HigherIsBetter: higherIsBetter(w.Unit), Target: w.Target, Note: w.Note}
	for _, v := range vs {
		st := summarize(v.impl.Name, v.impl.N, w.Unit, w.Lost, v.s)
		switch v.kind {
		case "shm":
			res.Shm = st
		case "python":
			res.Python = append(res.Python, st)
		case "limit":
			res.Limit = append(res.Limit, st)
		}
	}
	if py == "" && len(w.Python) > 0 {
		res.Warnings = append(res.Warnings, "Python references skipped")
	}
	res.compare()
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}
