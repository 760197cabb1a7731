//go:build linux

package main

// The hardware limit: the same operations with no library around them, on a
// bare memfd mapping, between processes started with a bare exec.Command of
// this same binary.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/shmgo/shm/internal/futex"
	"github.com/shmgo/shm/internal/futexref"
	"github.com/shmgo/shm/internal/memfd"
)

// A bare child learns its role from the environment and finds its mapping at
// descriptor 3.
const (
	envRole  = "SHMBENCH_ROLE"
	envN     = "SHMBENCH_N"
	envProcs = "SHMBENCH_PROCS" // wait at the barrier for this many

	fdMem = 3
)

// A mapping is a bare memfd mapping.
type mapping struct {
	f   *os.File
	mem []byte
}

func newMapping(size int) (*mapping, error) {
	size = (size + 4095) &^ 4095
	f, err := memfd.Create("bench", int64(size))
	if err != nil {
		return nil, err
	}
	mem, err := memfd.Map(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &mapping{f: f, mem: mem}, nil
}

func (m *mapping) close() {
	memfd.Unmap(m.mem)
	m.f.Close()
}

func at[T any](mem []byte, off int) *T { return (*T)(unsafe.Pointer(&mem[off])) }

// floats returns the n float64s at off.
func floats(mem []byte, off, n int) []float64 {
	return unsafe.Slice(at[float64](mem, off), n)
}

// ---- single process ----

var single *mapping // one page for the single-process loops

func singleMem() ([]byte, error) {
	if single == nil {
		m, err := newMapping(4096)
		if err != nil {
			return nil, err
		}
		single = m
	}
	clear(single.mem)
	return single.mem, nil
}

//go:noinline
func loopLoad(p *int64, n int) int64 {
	var s int64
	for i := 0; i < n; i++ {
		s += *p
	}
	return s
}

//go:noinline
func loopStore(p *int64, n int) {
	for i := 0; i < n; i++ {
		*p = int64(i)
	}
}

//go:noinline
func loopInc(p *int64, n int) {
	for i := 0; i < n; i++ {
		*p = *p + 1
	}
}

//go:noinline
func loopAtomic(p *atomic.Int64, n int) {
	for i := 0; i < n; i++ {
		p.Add(1)
	}
}

// The counter guarded by a futexref.Mutex2 sits next to it, in one cache line, as a
// Value's does.
//
//go:noinline
func loopMutexInc(m *futexref.Mutex2, p *int64, n int) {
	for i := 0; i < n; i++ {
		m.Lock()
		*p = *p + 1
		m.Unlock()
	}
}

//go:noinline
func loopMutexInc2(m *futexref.Mutex2, p *int64, n int) {
	for i := 0; i < n; i++ {
		m.Lock()
		x := *p
		m.Unlock()
		m.Lock()
		*p = x + 1
		m.Unlock()
	}
}

//go:noinline
func loopMutex2(m *futexref.Mutex2, n int) {
	for i := 0; i < n; i++ {
		m.Lock()
		m.Unlock()
	}
}

func bareLoad(n int) (sample, error) {
	mem, err := singleMem()
	if err != nil {
		return sample{}, err
	}
	*at[int64](mem, 0) = 1
	t := time.Now()
	sink += loopLoad(at[int64](mem, 0), n)
	return elapsed(t, n), nil
}

func bareStore(n int) (sample, error) {
	mem, err := singleMem()
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopStore(at[int64](mem, 0), n)
	return elapsed(t, n), nil
}

func bareInc(n int) (sample, error) {
	mem, err := singleMem()
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopInc(at[int64](mem, 0), n)
	s := elapsed(t, n)
	return s, expect(*at[int64](mem, 0), n)
}

func bareAtomicAdd(n int) (sample, error) {
	mem, err := singleMem()
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopAtomic(at[atomic.Int64](mem, 0), n)
	s := elapsed(t, n)
	return s, expect(at[atomic.Int64](mem, 0).Load(), n)
}

func bareMutexInc(n int) (sample, error) {
	mem, err := singleMem()
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopMutexInc(at[futexref.Mutex2](mem, 0), at[int64](mem, 8), n)
	s := elapsed(t, n)
	return s, expect(*at[int64](mem, 8), n)
}

func bareMutex(n int) (sample, error) {
	mem, err := singleMem()
	if err != nil {
		return sample{}, err
	}
	t := time.Now()
	loopMutex2(at[futexref.Mutex2](mem, 0), n)
	return elapsed(t, n), nil
}

// ---- bare children ----

// bareCmd returns the command that runs this binary as a bare child of role,
// with m (if any) at descriptor 3.
func bareCmd(role string, n int, m *mapping) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envRole+"="+role, envN+"="+strconv.Itoa(n))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if m != nil {
		cmd.ExtraFiles = []*os.File{m.f}
		// Die with the parent, as shm's children do, rather than spin forever.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	return cmd
}

// bareChild runs a bare child's role and returns its exit status.
func bareChild(role string) int {
	if role == "noop" {
		return 0
	}
	n, _ := strconv.Atoi(os.Getenv(envN))
	f := memfd.Inherit(fdMem, "bench")
	size, _, err := memfd.Stat(f)
	if err == nil {
		var mem []byte
		if mem, err = memfd.Map(f, int(size)); err == nil {
			err = bareRole(role, mem, n)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: bare child %s: %v\n", role, err)
		return 1
	}
	return 0
}

func bareRole(role string, mem []byte, n int) error {
	if procs, _ := strconv.Atoi(os.Getenv(envProcs)); procs > 0 {
		barrier(at[atomic.Int32](mem, barrierOff), procs)
	}
	switch role {
	case "inc-plain":
		loopInc(at[int64](mem, 8), n)
	case "inc-atomic":
		loopAtomic(at[atomic.Int64](mem, 8), n)
	case "inc-mutex":
		loopMutexInc(at[futexref.Mutex2](mem, 0), at[int64](mem, 8), n)
	case "inc-mutex2x":
		loopMutexInc2(at[futexref.Mutex2](mem, 0), at[int64](mem, 8), n)
	case "fill":
		s := floats(mem, arrayOff, n)
		for i := range s {
			s[i] = float64(i)
		}
	case "fill-locked":
		m := at[futexref.Mutex2](mem, 0)
		s := floats(mem, arrayOff, n)
		for i := range s {
			m.Lock()
			s[i] = float64(i)
			m.Unlock()
		}
	case "pong-spin":
		w := at[atomic.Uint32](mem, 0)
		for i := 0; i < n; i++ {
			for j := 1; w.Load() != uint32(2*i+1); j++ {
				if j%spinYield == 0 {
					futex.Yield()
				}
			}
			w.Store(uint32(2*i + 2))
		}
	case "pong-futex":
		w := at[atomic.Uint32](mem, 0)
		for i := 0; i < n; i++ {
			for x := w.Load(); x != uint32(2*i+1); x = w.Load() {
				futex.Wait(w, x, 0)
			}
			w.Store(uint32(2*i + 2))
			futex.Wake(w, 1)
		}
	case "pong-mutex-turn", "pong-mutex-turn-1line":
		mu, x := at[futexref.Mutex2](mem, 0), at[int64](mem, 8)
		turns := turnOff(role == "pong-mutex-turn-1line")
		ping, pong := at[atomic.Uint32](mem, turns), at[atomic.Uint32](mem, turns+4)
		for i := 0; i < n; i++ {
			futexref.AwaitTurn(ping, uint32(i+1), futexref.SpinFutex)
			mu.Lock()
			got := *x
			mu.Unlock()
			if got != int64(2*i+1) {
				return fmt.Errorf("pong %d: the value holds %d, want %d", i, got, 2*i+1)
			}
			mu.Lock()
			*x = int64(2*i + 2)
			mu.Unlock()
			futexref.GiveTurn(pong, uint32(i+1))
		}
	case "pong-spinfutex":
		w := at[atomic.Uint32](mem, 0)
		for i := 0; i < n; i++ {
			futexref.AwaitTurn(w, uint32(2*i+1), futexref.SpinFutex)
			futexref.GiveTurn(w, uint32(2*i+2))
		}
	case "barrier-futex", "barrier-spinfutex":
		parties, err := strconv.Atoi(os.Getenv(envParties))
		if err != nil {
			return fmt.Errorf("%s: %w", envParties, err)
		}
		loopBareBarrier(at[futexref.Barrier](mem, 0), parties, n, role == "barrier-spinfutex")
	case "hold-robust":
		return holdRobust(mem)
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	return nil
}

// ---- P processes x n increments ----

var countRoles = map[countKind]string{
	countRaw: "inc-plain", countAtomic: "inc-atomic", countUpdate: "inc-mutex", countLoadStore: "inc-mutex2x",
}

func countBare(kind countKind, procs int) func(n int) (sample, error) {
	return func(n int) (sample, error) {
		m, err := newMapping(4096)
		if err != nil {
			return sample{}, err
		}
		defer m.close()
		t := time.Now()
		cmds := make([]*exec.Cmd, 0, procs)
		for range procs {
			c := bareCmd(countRoles[kind], n, m)
			c.Env = append(c.Env, envProcs+"="+strconv.Itoa(procs))
			if err := c.Start(); err != nil {
				return sample{}, err
			}
			cmds = append(cmds, c)
		}
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				return sample{}, err
			}
		}
		s := sample{Seconds: time.Since(t).Seconds(), Ops: float64(procs * n)}
		got := *at[int64](m.mem, 8)
		return s, checkCount(kind == countRaw || kind == countLoadStore, got, procs*n, &s)
	}
}

// ---- arrays ----

// barrierOff is where the count workloads keep their barrier.
const barrierOff = 64

// arrayOff is where a bare array starts: after a page for its lock.
const arrayOff = 4096

func bareRawArray(n int) (sample, error) { return bareArrayRun("fill", n, false) }
func bareArray(n int) (sample, error)    { return bareArrayRun("fill-locked", n, true) }

func bareArrayRun(role string, n int, locked bool) (sample, error) {
	t := time.Now()
	m, err := newMapping(arrayOff + 8*n)
	if err != nil {
		return sample{}, err
	}
	defer m.close()
	if err := bareCmd(role, n, m).Run(); err != nil {
		return sample{}, err
	}
	data := floats(m.mem, arrayOff, n)
	var got float64
	if locked {
		mu := at[futexref.Mutex2](m.mem, 0)
		snap := make([]float64, n)
		mu.Lock()
		copy(snap, data)
		mu.Unlock()
		got = sum(snap)
	} else {
		got = sum(data)
	}
	s := sample{Seconds: time.Since(t).Seconds(), Bytes: float64(8 * n)}
	return s, checkSum(got, n)
}

// ---- latency ----

func barePingPongSpin(n int) (sample, error) { return barePingPong("pong-spin", n) }

// barePingPongMutexTurn does the work of the Value + Event ping-pong with
// the bare references: each side stores the next number in an int64 under a
// futexref.Mutex2, gives the other its turn on a spin+futex turn word (the
// two words in one cache line, as the Events of the pair are), waits for
// its own, and loads the answer under the mutex. The mutex and the number
// are in one cache line, as a Value's are, and the turn words in another.
func barePingPongMutexTurn(n int) (sample, error) { return barePingPongMutexTurnAt(n, false) }

// barePingPongMutexTurn1Line is barePingPongMutexTurn with the turn words in
// the cache line of the mutex and the number, which a Value and the Events,
// two objects, cannot share: the difference between the two is what the
// second line costs.
func barePingPongMutexTurn1Line(n int) (sample, error) { return barePingPongMutexTurnAt(n, true) }

// turnOff returns the offset of the turn words of a mutex+turn ping-pong: in
// the line of the mutex (at 0) and the number (at 8), or two lines further.
func turnOff(oneLine bool) int {
	if oneLine {
		return 16
	}
	return 128
}

func barePingPongMutexTurnAt(n int, oneLine bool) (sample, error) {
	m, err := newMapping(4096)
	if err != nil {
		return sample{}, err
	}
	defer m.close()
	role := "pong-mutex-turn"
	if oneLine {
		role = "pong-mutex-turn-1line"
	}
	c := bareCmd(role, warmTrips+n, m)
	if err := c.Start(); err != nil {
		return sample{}, err
	}
	mu, x := at[futexref.Mutex2](m.mem, 0), at[int64](m.mem, 8)
	turns := turnOff(oneLine)
	ping, pong := at[atomic.Uint32](m.mem, turns), at[atomic.Uint32](m.mem, turns+4)
	trips := func(from, to int) error {
		for i := from; i < to; i++ {
			mu.Lock()
			*x = int64(2*i + 1)
			mu.Unlock()
			futexref.GiveTurn(ping, uint32(i+1))
			futexref.AwaitTurn(pong, uint32(i+1), futexref.SpinFutex)
			mu.Lock()
			got := *x
			mu.Unlock()
			if got != int64(2*i+2) {
				return fmt.Errorf("ping %d: the value holds %d, want %d", i, got, 2*i+2)
			}
		}
		return nil
	}
	if err := trips(0, warmTrips); err != nil {
		c.Process.Kill()
		c.Wait()
		return sample{}, err
	}
	t := time.Now()
	err = trips(warmTrips, warmTrips+n)
	s := elapsed(t, n)
	if err != nil {
		c.Process.Kill()
		c.Wait()
		return sample{}, err
	}
	return s, c.Wait()
}
func barePingPongFutex(n int) (sample, error) { return barePingPong("pong-futex", n) }

func barePingPong(role string, n int) (sample, error) {
	m, err := newMapping(4096)
	if err != nil {
		return sample{}, err
	}
	defer m.close()
	c := bareCmd(role, warmTrips+n, m)
	if err := c.Start(); err != nil {
		return sample{}, err
	}
	w := at[atomic.Uint32](m.mem, 0)
	trips := func(from, to int) {
		for i := from; i < to; i++ {
			w.Store(uint32(2*i + 1))
			if role == "pong-futex" {
				futex.Wake(w, 1)
				for x := w.Load(); x != uint32(2*i+2); x = w.Load() {
					futex.Wait(w, x, 0)
				}
			} else {
				for j := 1; w.Load() != uint32(2*i+2); j++ {
					if j%spinYield == 0 {
						futex.Yield()
					}
				}
			}
		}
	}
	trips(0, warmTrips)
	t := time.Now()
	trips(warmTrips, warmTrips+n)
	s := elapsed(t, n)
	return s, c.Wait()
}

// ---- processes ----

// bareExec runs this binary n times, as a child that exits at once.
func bareExec(n int) (sample, error) {
	t := time.Now()
	for range n {
		if err := bareCmd("noop", 0, nil).Run(); err != nil {
			return sample{}, err
		}
	}
	return elapsed(t, n), nil
}

// Owner death with a robust futex (set_robust_list(2)): the kernel itself
// marks the lock word of a thread that dies holding it and wakes a waiter.
// That is the fastest takeover there can be.
const (
	futexWaiters   = 0x80000000
	futexOwnerDied = 0x40000000
	futexTIDMask   = 0x3fffffff

	robustWord  = 0   // the lock word
	robustEntry = 64  // struct robust_list {next}
	robustHead  = 128 // struct robust_list_head {list, futex_offset, list_op_pending}
	robustReady = 256 // set once the child holds the lock
)

// holdRobust, in the child, takes the lock as a robust futex owned by this
// thread and waits to be killed.
func holdRobust(mem []byte) error {
	runtime.LockOSThread() // the robust list and the TID in the word belong to this thread
	base := uintptr(unsafe.Pointer(&mem[0]))
	*at[uintptr](mem, robustEntry) = base + robustHead       // entry.next = &head: the list ends
	*at[uintptr](mem, robustHead) = base + robustEntry       // head.list.next = &entry
	*at[int64](mem, robustHead+8) = robustWord - robustEntry // futex_offset
	*at[uintptr](mem, robustHead+16) = 0                     // list_op_pending
	tid := uint32(syscall.Gettid())
	if !at[atomic.Uint32](mem, robustWord).CompareAndSwap(0, tid) {
		return errors.New("robust lock already held")
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SET_ROBUST_LIST, base+robustHead, 24, 0); e != 0 {
		return fmt.Errorf("set_robust_list: %w", e)
	}
	at[atomic.Int32](mem, robustReady).Store(1)
	time.Sleep(time.Hour)
	return nil
}

// robustLock takes the robust lock at w for the waiter me; it reports whether
// the previous owner died.
func robustLock(w *atomic.Uint32, me uint32) bool {
	for {
		x := w.Load()
		if x&futexTIDMask == 0 {
			if w.CompareAndSwap(x, me|x&futexWaiters) {
				return x&futexOwnerDied != 0
			}
			continue
		}
		if x&futexWaiters == 0 {
			if !w.CompareAndSwap(x, x|futexWaiters) {
				continue
			}
			x |= futexWaiters
		}
		futex.Wait(w, x, 0)
	}
}

func bareOwnerDeath(int) (sample, error) {
	m, err := newMapping(4096)
	if err != nil {
		return sample{}, err
	}
	defer m.close()
	c := bareCmd("hold-robust", 0, m)
	if err := c.Start(); err != nil {
		return sample{}, err
	}
	defer c.Wait()
	defer c.Process.Kill()
	if err := waitFlag(at[atomic.Int32](m.mem, robustReady)); err != nil {
		return sample{}, err
	}
	type got struct {
		t    time.Time
		died bool
	}
	ch := make(chan got, 1)
	go func() {
		died := robustLock(at[atomic.Uint32](m.mem, robustWord), uint32(os.Getpid()))
		ch <- got{time.Now(), died}
	}()
	settle()
	t := time.Now()
	if err := c.Process.Kill(); err != nil {
		return sample{}, err
	}
	var g got
	select {
	case g = <-ch:
	case <-time.After(10 * time.Second):
		return sample{}, errors.New("the waiter did not get the robust lock within 10 s")
	}
	if !g.died {
		return sample{}, errors.New("the robust lock was not marked FUTEX_OWNER_DIED")
	}
	return sample{Seconds: g.t.Sub(t).Seconds(), Ops: 1}, nil
}
