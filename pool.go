package shm

// A pool of warm workers: Python's multiprocessing.Pool and
// concurrent.futures.ProcessPoolExecutor, made so that a crash cannot break it.
//
// The names. [NewPool](n, opts) starts n workers, each this program run
// again (as [Start]'s children are), and waits until each has run
// [PoolOptions].Init once with [PoolOptions].InitArgs: Python's
// initializer and initargs, the place to hand every worker the shared
// objects it works on. [Pool.Submit](ctx, fn, args...) queues one call of a
// registered function and returns a [Future], whose [Future.Result] waits
// for what fn returned (Python's apply_async and submit; Result is get and
// result). [Map](ctx, pool, fn, items, chunk) calls fn on every item, chunk
// items to a task, and returns the results in input order (Python's map with
// chunksize). [PoolOptions].MaxTasksPerWorker is Python's maxtasksperchild.
// [Pool.Close] finishes the queued work and then stops the workers (Python's
// close and join); [Pool.Kill] stops them now (terminate). [Pool.State]
// tells how many workers are alive and busy, how many tasks are queued, have
// succeeded and have failed, how many workers were started to replace others,
// and the workers' process IDs.
//
// Arguments and results. A task's arguments travel as [Start]'s do: shm
// objects by reference, other values by a copy encoded with encoding/gob.
// Its result (a registered function may return a result, an error, or both)
// travels back by copy. A worker inherits every segment its parent has when
// it starts; the segments of a task's objects that were made since then go
// to the worker that picks the task up, as descriptors over a unix socket
// (SCM_RIGHTS), with the task, and it maps them before it runs it. So
// objects made after NewPool work too, at the cost of a mapping (tens of
// microseconds) per new segment and worker, where replacing the worker by
// one that inherits them, as the pool did at first, cost a worker start
// (tens of milliseconds). A segment that cannot be sent (a named segment
// closed in this process) still makes the pool replace the worker.
//
// Failure, which is the point. A worker that dies while it runs a task
// (the task called os.Exit, a fatal error, SIGKILL, the OOM killer) fails
// exactly that task, with an [*ExitError] that says how the worker ended
// ("signal: killed"); the pool starts another worker in its place, and no
// other task notices. A task that panics or returns an error fails with a
// [*TaskError] carrying the panic and its stack, or the error; a panic is
// recovered in the worker, which prints it to its standard error as a child
// of [Start] does (so that a task whose result nobody reads does not fail
// silently) and goes on to the next task, as Python's pool workers do with
// an exception. A returned error is the task's result, and is not printed. A task whose context ends before the task
// does is abandoned: if it is running, its worker is killed and replaced,
// since a process cannot be interrupted otherwise, and the task fails with
// the context's error. The pool never hangs on a dead worker and never
// turns one failure into the failure of every later task, where Python's
// Pool waits forever for a killed worker's result and ProcessPoolExecutor
// raises BrokenProcessPool for everything that follows.
//
// The transport. Each worker has a slot: 64 KiB of shared memory (a memfd
// that the worker inherits, poolchan.go) holding a turn word and one
// message. The pool writes a task there (poolmsg.go), and gives the turn to
// the worker through the word; the worker writes its reply and gives the
// turn back. The side that waits for its turn spins, then sleeps on the word
// with a futex; the side that gives the turn wakes it only if it sleeps. A
// worker that has replied spins in the same way for its next task; after
// the spin it sleeps, and an idle worker uses no CPU. The spin adapts
// between 10 and 100 us (it doubles after a wait it ended, halves after
// one it did not), and it yields the processor only after its first 4 us.
// Messages too big for the slot go on a pipe each way, which the slot
// announces. The worker's death ends the pool's wait: the goroutine that
// waits for the process marks the word dead and wakes the waiting side,
// which is how Kill and a task's context, which kill the worker, reach it
// too. A worker to retire is told to quit through the word; one whose pool
// dies is killed by the kernel (the parent-death signal).
//
// Each slot has a goroutine that takes queued tasks to its worker and
// replaces the worker when it ends. But when Submit finds a slot idle and
// nothing queued, it writes the task into the slot itself, on the caller's
// goroutine, and Result spins for the reply there too: a round trip then
// wakes no goroutine (see lent). The slot's goroutine takes over the wait
// whenever Result is not there to: Done was called, State asked, the worker
// died, the pool is closing, another task needs the slot.
//
// Why, measured on the 2-core machine this was written on, shared with
// other work (go test -bench PoolRoundTrip, and the bench module's
// pool-rtt row, side by side with Python's pools).
//
//   - Pipes, at first: every round trip woke each process through the
//     kernel, 20 to 30 us median on a quiet machine, 63 to 125 us at a load
//     average of 9. A futex wake-up costs what a pipe's does, so the slot
//     pays only because the sides spin.
//   - The slot, with the slot's goroutine making every trip: medians 6 to
//     18 us, means 24 to 29 us (7.6 times faster than ProcessPoolExecutor):
//     the hand-offs between the caller's goroutine and the slot's woke
//     threads of the Go runtime, which took the core the worker needed.
//   - Trips on the caller's goroutine, with 20 us spins that yielded every
//     half microsecond: mean 8 to 9 us, median 3.5 to 4. Counted: 2.5% of
//     the waits outlasted the spin, and each such trip cost a futex wake-up
//     or two (20 to 50 us here) and made the next one likely to sleep too.
//     Spins of 100 us cut those to 0.06% and the mean to 5.8 us.
//   - A yield is a system call that costs about what the rest of a trip
//     does: spinning 4 us before the first yield halved the median, to 2.0
//     to 2.6 us, and made the mean 3.8 to 5.5 us, 37 times faster than
//     ProcessPoolExecutor in the bench row, at a load average of 2.
//   - The messages in a binary form of their own (poolmsg.go) rather than
//     gob: median 1.35 us, mean 2.3 to 3.2 us.
//
// The yields still matter after those first microseconds: the kernel tends
// to run a process it wakes on the waker's core, and a waker that spins
// without yielding keeps it off that core for the whole spin (this pool's
// first version took 112 us a round trip under load for that). Spinning
// costs CPU, so the sides spin only while the task is the pool's only one
// in flight, where latency is the point: with several, the slots' spinning
// goroutines held the Go scheduler's processors that other slots needed,
// and four workers kept busy on two cores (BenchmarkPoolBusy) took about 15%
// more CPU a task than with no spinning; spinning only when alone brought it
// back to the pipes', within this machine's noise. A side whose turns come
// late, as with tasks that run for milliseconds, spins 10 us a wait.

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shmgo/shm/internal/memfd"
)

// Errors a pool returns.
var (
	// ErrPoolClosed is returned by [Pool.Submit] and [Map] once [Pool.Close]
	// or [Pool.Kill] has been called.
	ErrPoolClosed = errors.New("shm: pool closed")

	// ErrPoolKilled is the error of every task that [Pool.Kill] stopped,
	// running or queued.
	ErrPoolKilled = errors.New("shm: pool killed")
)

// PoolOptions configures a [Pool]. The zero value is a pool whose workers
// need no set-up, write to this process's standard output and error, and run
// any number of tasks each.
type PoolOptions struct {
	// Init, if not nil, is a registered function that each worker runs once,
	// with InitArgs, before its first task: Python's initializer and
	// initargs. Its arguments are passed as [Start] passes them, shm objects
	// by reference. A worker whose Init returns an error or panics does not
	// start: NewPool returns the error, and a replacement's error fails the
	// task it was started for.
	Init     any
	InitArgs []any

	// MaxTasksPerWorker, if positive, is how many tasks a worker runs
	// before it exits and another takes its place: Python's
	// maxtasksperchild, for tasks that leak.
	MaxTasksPerWorker int

	// Stdout and Stderr are the workers' standard output and error, as in
	// [Cmd]; nil means this process's.
	Stdout io.Writer
	Stderr io.Writer
}

// A Pool is a set of warm worker processes that run registered functions:
// Python's multiprocessing.Pool and ProcessPoolExecutor. Each worker is this
// program started again, as [Start]'s children are; it runs
// [PoolOptions].Init once, then one task at a time. A task's arguments go as
// Start's do, shm objects by reference and other values by copy; its result
// comes back by copy.
//
// A crash fails only its task: a worker that dies while it runs a task
// (os.Exit, a fatal error, SIGKILL, the OOM killer) fails that task with an
// [*ExitError] that says how the worker ended, and another worker takes its
// place; a worker that dies idle is replaced and fails nothing. A task that
// panics or returns an error fails with a [*TaskError], and its worker,
// which recovered the panic and printed it to its standard error, runs the
// next task. A task whose context ends
// while it runs is abandoned: its worker is killed and replaced.
//
// A worker inherits the segments that exist when it starts; a segment made
// later is sent to a worker, over a unix socket, with the first task of
// that worker that refers to it.
//
// Its methods may be called from any goroutine. A Pool must be ended with
// [Pool.Close] or [Pool.Kill], which wait for its workers.
type Pool struct {
	init     *target
	initArgs []argMsg
	max      int
	stdout   io.Writer
	stderr   io.Writer

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*task
	closed  bool        // Close or Kill was called: no more tasks
	workers []*worker   // by slot; nil while a slot has none
	slots   []slotState // by slot: what Submit and the slot's goroutine know of each other
	killed  chan struct{}
	wg      sync.WaitGroup // the slots' goroutines

	busy      atomic.Int64
	done      atomic.Uint64
	failed    atomic.Uint64
	restarted atomic.Uint64
}

// PoolState is a snapshot of a [Pool], from [Pool.State].
type PoolState struct {
	Workers   int    // workers alive and ready for a task
	Busy      int    // workers running a task
	Queued    int    // tasks waiting for a worker
	Done      uint64 // tasks that succeeded
	Failed    uint64 // tasks that failed, for any reason
	Restarted uint64 // workers started to replace one that ended: died, was killed or reached MaxTasksPerWorker
	Pids      []int  // the process IDs of the live workers
}

// A Future is the result of a task that [Pool.Submit] queued.
type Future struct {
	done chan struct{}
	val  any
	err  error
	lent *lent // if Submit gave the task to a worker itself
}

// Done returns a channel that is closed when the task has finished, failed
// or been abandoned.
func (f *Future) Done() <-chan struct{} {
	if lt := f.lent; lt != nil && lt.owner.CompareAndSwap(lentFree, lentSlot) {
		// Nobody waits for the reply yet: the slot's goroutine does,
		// so that the channel closes.
		lt.handOver()
	}
	return f.done
}

// Result waits for the task and returns the result its function returned
// (nil for a function without one) and its error: nil, a [*TaskError], an
// [*ExitError] for a worker that died running it, the error of the task's
// context, or [ErrPoolKilled]. If ctx ends first, Result returns ctx.Err()
// and leaves the task as it is: ctx is the caller's wait, not the task's.
func (f *Future) Result(ctx context.Context) (any, error) {
	select {
	case <-f.done:
		return f.val, f.err
	default:
	}
	if lt := f.lent; lt != nil && lt.owner.CompareAndSwap(lentFree, lentResult) {
		lt.collect(ctx)
	}
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A TaskError reports a pool task whose function returned an error or
// panicked. The worker that ran it goes on with other tasks.
type TaskError struct {
	Func    string // the task's function
	Pid     int    // the worker that ran it
	Message string // the error the function returned, or the panic value and the first lines of its stack
	Panic   bool   // reports whether the function panicked
}

// Error names the function and the worker, then gives the error or panic.
func (e *TaskError) Error() string {
	if e.Panic {
		return fmt.Sprintf("shm: %s (pool worker pid %d) panicked: %s", e.Func, e.Pid, e.Message)
	}
	return fmt.Sprintf("shm: %s (pool worker pid %d): %s", e.Func, e.Pid, e.Message)
}

// A task is one call queued on a pool.
type task struct {
	ctx    context.Context
	t      *target
	msg    taskMsg
	segs   []uint64 // the segments its arguments refer to
	decode func(data []byte) (any, error)
	state  atomic.Int32                // taskQueued, taskRunning or taskOver
	stop   atomic.Pointer[func() bool] // stops the context.AfterFunc
	fut    *Future
	pool   *Pool
	lent   lent // its record if Submit gave it to a worker itself (see lend)
}

const (
	taskQueued = iota
	taskRunning
	taskOver
)

// finish completes the task's future, once.
func (t *task) finish(val any, err error) {
	if t.state.Swap(taskOver) == taskOver {
		return
	}
	if stop := t.stop.Load(); stop != nil {
		(*stop)()
	}
	if err != nil {
		t.pool.failed.Add(1)
	} else {
		t.pool.done.Add(1)
	}
	t.fut.val, t.fut.err = val, err
	close(t.fut.done)
}

// taskMsg is what a pool tells a worker: run Func on Args, or, for a Map
// chunk, on each element of the slice gob-encoded in Args[0].Data.
type taskMsg struct {
	Func     string
	Args     []argMsg
	Chunk    bool
	Segments []uint64 // segments whose files come on the socket first, for the worker to map
}

// replyMsg is what a worker tells its pool: that it is ready, or how a task
// ended.
type replyMsg struct {
	Ready   bool
	Data    []byte // the gob-encoded result, if any
	Err     string
	Panic   bool
	Failed  bool
	Unknown bool // the worker could not run the task at all (Err says why)
}

// A worker is one worker process, seen from the pool.
type worker struct {
	proc    *Process
	ch      *poolChan     // the slot in shared memory, and the pipes for big messages
	fds     *os.File      // the pool's end of the socket that sends segments
	watched chan struct{} // closed once the goroutine that watches for its death has marked the slot
	segs    []uint64      // the segments it inherited
	ran     int           // tasks it has run
	ready   atomic.Bool   // it has run Init

	abandoned atomic.Bool // its task's context ended, and it was killed for that
}

// NewPool starts n worker processes (n < 1 means runtime.NumCPU()) and
// returns once each has run opts.Init, or an error, having started nothing
// that is still running, if opts.Init is not a registered function that
// fits opts.InitArgs or a worker cannot be started or its Init fails. opts
// may be nil. On systems other than Linux it returns an error wrapping
// [errors.ErrUnsupported].
func NewPool(n int, opts *PoolOptions) (*Pool, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("shm: NewPool: %w", errors.ErrUnsupported)
	}
	startCalled.Store(true)
	if !mainCalled.Load() {
		return nil, ErrNoMain
	}
	if opts == nil {
		opts = &PoolOptions{}
	}
	if n < 1 {
		n = runtime.NumCPU()
	}
	p := &Pool{
		max:    opts.MaxTasksPerWorker,
		stdout: opts.Stdout, stderr: opts.Stderr,
		workers: make([]*worker, n), slots: make([]slotState, n), killed: make(chan struct{}),
	}
	if p.stdout == nil {
		p.stdout = os.Stdout
	}
	if p.stderr == nil {
		p.stderr = os.Stderr
	}
	p.cond = sync.NewCond(&p.mu)
	init := opts.Init
	if init == nil {
		init = noInit
	}
	var err error
	if p.init, err = lookup(init); err != nil {
		return nil, err
	}
	if p.initArgs, err = encodeArgs("NewPool", p.init, opts.InitArgs); err != nil {
		return nil, err
	}
	// Start the workers together: each start waits for the child to run
	// Init, and the starts overlap.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.spawn(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for i, w := range p.workers {
			if w != nil {
				p.retire(i, w)
			}
		}
		return nil, err
	}
	for i := range n {
		p.wg.Add(1)
		go p.run(i)
	}
	return p, nil
}

// noInit is the Init of a pool that has none.
func noInit() {}

func init() { Register(noInit) }

// spawn starts a worker for slot i and waits until it has run Init. The
// worker is in the slot from its start, so that Kill can kill it.
func (p *Pool) spawn(i int) (*worker, error) {
	ch, fds, theirs, err := openWorkerChan()
	if err != nil {
		return nil, err
	}
	msg := &startMsg{Func: p.init.key, ParentPid: os.Getpid(), Args: p.initArgs, Pool: true}
	c := &Cmd{Stdout: p.stdout, Stderr: p.stderr}
	proc, err := c.launch(p.init, msg, theirs)
	for _, f := range theirs {
		f.Close()
	}
	if err != nil {
		ch.close()
		fds.Close()
		return nil, err
	}
	w := &worker{proc: proc, ch: ch, fds: fds, segs: msg.Segments, watched: make(chan struct{})}
	go func() {
		// Wake whoever waits for the worker's reply, and the slots, so
		// that slot i sees its worker die even when it has no task.
		<-proc.Done()
		w.ch.markDead()
		close(w.watched)
		p.wakeSlots()
	}()
	p.mu.Lock()
	killed := isClosedChan(p.killed)
	if !killed {
		p.workers[i] = w
	}
	p.mu.Unlock()
	var r replyMsg
	if !killed {
		if _, _, err := w.ch.recv(false, false, &r); err == nil && r.Ready {
			w.ready.Store(true)
			return w, nil
		}
	}
	proc.Kill()
	p.retire(i, w)
	if isClosedChan(p.killed) {
		return nil, ErrPoolKilled
	}
	err = proc.Join()
	if err == nil {
		err = fmt.Errorf("shm: pool worker (pid %d) exited before it was ready", proc.Pid())
	}
	return nil, fmt.Errorf("shm: pool worker Init: %w", err)
}

// pipe returns a pipe in blocking mode: a read waits in the kernel, which
// wakes the reader sooner than the runtime's poller does, and a worker, which
// inherits the pipe's mode, gets blocking reads too. (Fd puts a file in
// blocking mode.)
func pipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("shm: pool worker: %w", err)
	}
	r.Fd()
	w.Fd()
	return r, w, nil
}

// retire takes w out of slot i and ends it: it tells an idle worker to
// quit, waits for the process to end, and closes the pipes and the slot. A
// busy worker must be killed first.
func (p *Pool) retire(i int, w *worker) {
	p.mu.Lock()
	p.workers[i] = nil
	p.mu.Unlock()
	w.ch.give(stQuit)
	<-w.proc.Done()
	<-w.watched
	w.ch.close()
	w.fds.Close()
}

// run is slot i's goroutine: it gives queued tasks to the slot's worker, and
// replaces the worker when it ends.
func (p *Pool) run(i int) {
	defer p.wg.Done()
	p.mu.Lock()
	w := p.workers[i]
	p.mu.Unlock()
	for {
		t, lt := p.next(i, w)
		if lt != nil {
			w = p.collected(i, w, lt)
			continue
		}
		if w != nil && !w.proc.Alive() {
			// It died idle, or as t reached it: no task was running on it.
			p.retire(i, w)
			w = nil
		}
		if t == nil {
			if p.drained() {
				break
			}
			w, _ = p.replace(i) // on failure, the next task fails with the error
			continue
		}
		var send []uint64 // segments to send the worker with t
		if w != nil && !subset(t.segs, w.segs) {
			if send = p.sendSegments(w, t); send == nil {
				p.retire(i, w) // it cannot have them: a new worker inherits them
				w = nil
			}
		}
		if w == nil {
			var err error
			if w, err = p.replace(i); err != nil {
				t.finish(nil, err)
				continue
			}
		}
		w = p.after(i, p.runTask(i, w, t, send))
	}
	if w != nil {
		p.retire(i, w)
	}
}

// after sees to slot i's worker w, or its lack (nil), once a task is over:
// it retires a worker that has run MaxTasksPerWorker tasks, and starts one
// in place of one that has ended. It returns the slot's worker.
func (p *Pool) after(i int, w *worker) *worker {
	if w != nil && p.max > 0 && w.ran >= p.max {
		p.retire(i, w)
		w = nil
	}
	if w == nil && !p.isClosed() {
		w, _ = p.replace(i) // eagerly, so that the pool has n workers; on failure, at the next task
	}
	return w
}

// sendSegments sends w the files of the segments that t refers to and w
// lacks, over its socket, and returns them; nil if they cannot be sent.
func (p *Pool) sendSegments(w *worker, t *task) []uint64 {
	inos, files, err := theHeap.filesFor(t.msg.Args)
	if err != nil {
		return nil
	}
	var send []uint64
	var out []*os.File
	for k, ino := range inos {
		if !slices.Contains(w.segs, ino) {
			send = append(send, ino)
			out = append(out, files[k])
		}
	}
	if len(send) == 0 || sendFiles(w.fds, out) != nil {
		return nil
	}
	return send
}

// replace starts a worker for slot i in place of one that ended.
func (p *Pool) replace(i int) (*worker, error) {
	// Counted before the worker can show in State, so that State never
	// shows a replacement that Restarted does not count.
	p.restarted.Add(1)
	w, err := p.spawn(i)
	if err != nil {
		p.restarted.Add(^uint64(0))
		return nil, err
	}
	return w, nil
}

// drained reports whether the pool is closed and its queue empty.
func (p *Pool) drained() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed && len(p.queue) == 0
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// subset reports whether every segment in need is in have.
func subset(need, have []uint64) bool {
	for _, s := range need {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// next returns the next queued task that has not been abandoned, waiting for
// one; nil once the pool is closed and its queue empty, or when w, the worker
// of slot i, has died idle. While it waits with a worker that can take a
// task, Submit may give the worker one itself (see lend); next then returns
// that task instead, as lt, once the slot's goroutine is to take its reply:
// when Result or Done asks, the worker dies, the pool closes, or other tasks
// are queued, which need the slot.
func (p *Pool) next(i int, w *worker) (t *task, lt *lent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.slots[i]
	for {
		if lt := s.lent; lt != nil {
			if lt.started && (lt.owner.Load() == lentSlot ||
				(!w.proc.Alive() || p.closed || len(p.queue) > 0) && lt.owner.CompareAndSwap(lentFree, lentSlot)) {
				return nil, lt
			}
			p.cond.Wait()
			continue
		}
		s.idle = false
		if w != nil && !w.proc.Alive() {
			return nil, nil
		}
		for len(p.queue) > 0 {
			t := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			if t.state.CompareAndSwap(taskQueued, taskRunning) {
				return t, nil
			}
		}
		if p.closed {
			return nil, nil
		}
		s.idle = w != nil && w.ready.Load()
		p.cond.Wait()
	}
}

// The direct path. A round trip through the slot's goroutine costs two
// hand-offs between goroutines (the caller's to the slot's, and back),
// which on this machine cost more than the trip to the worker: each wakes a
// thread of the Go runtime, which takes a core from the worker. So Submit,
// finding a slot idle and no task queued, lends itself the slot: it writes
// the task into the worker's slot on the caller's goroutine, and Result,
// spinning as the slot's goroutine would, takes the reply there too. The
// slot's goroutine stays asleep, and takes over the wait for the reply
// whenever it is better placed: Result gave up its spin, Done was called
// (its channel must close without Result), the worker died, the pool is
// closing, or another task needs the slot. A lent task is owned by one side
// at a time, through its owner word, so that the reply is read once.
type lent struct {
	t *task // whose pool is t.pool
	i int   // the slot
	w *worker

	started bool // under p.mu: the task is in the slot; before, nobody may wait for its reply
	owner   atomic.Int32

	// Written by the lender and by Result, for the slot's goroutine, before
	// the owner word gives it the task.
	stop  func() bool // stops the task's context.AfterFunc
	alone bool        // the task was the pool's only one in flight when sent
	recvd bool        // the reply, or the send's failure, is in r and err
	r     replyMsg
	err   error
	over  bool // Result has finished the task; the slot's goroutine has only the worker to see to
}

// Who waits for a lent task's reply.
const (
	lentFree   = iota // nobody yet
	lentResult        // Result, spinning
	lentSlot          // the slot's goroutine
)

// slotState is what Submit and slot i's goroutine know of each other, under
// the pool's mu.
type slotState struct {
	idle bool  // the slot's goroutine waits in next with its worker, p.workers[i], which can take a task now
	lent *lent // the task Submit gave that worker itself; the slot takes no other before it is over
}

// lend gives t a slot whose goroutine waits for a task with a ready worker
// that has the segments t needs, if the queue is empty; nil if there is
// none, or t's context has ended already: t is then queued.
func (p *Pool) lend(t *task) *lent {
	if t.ctx.Err() != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.queue) > 0 {
		return nil
	}
	for i := range p.slots {
		s, w := &p.slots[i], p.workers[i]
		if !s.idle || s.lent != nil || !w.proc.Alive() || p.max > 0 && w.ran >= p.max || !subset(t.segs, w.segs) {
			continue
		}
		s.idle = false
		lt := &t.lent
		*lt = lent{t: t, i: i, w: w}
		s.lent = lt
		t.state.Store(taskRunning)
		t.fut.lent = lt
		return lt
	}
	return nil
}

// start sends the lent task to its worker, on the caller's goroutine.
func (lt *lent) start() {
	t, w := lt.t, lt.w
	p := t.pool
	lt.alone = p.busy.Add(1) == 1
	w.ran++
	lt.stop = p.watchContext(w, t)
	if err := w.ch.send(stTask, &t.msg, lt.alone); err != nil {
		lt.recvd, lt.err = true, err
		lt.owner.Store(lentSlot)
	}
	p.mu.Lock()
	lt.started = true
	wake := lt.owner.Load() == lentSlot || p.closed || len(p.queue) > 0
	p.mu.Unlock()
	if wake {
		p.cond.Broadcast()
	}
}

// collect waits for the lent task's reply, in Result, which owns it: it
// spins as the slot's goroutine would, if the task is the pool's only one
// in flight, and finishes the task if the reply comes. Otherwise (no reply
// within the spin, ctx ended, the worker died, the task's context was
// ended) it hands the task to the slot's goroutine, and Result waits for the
// future as for any other.
func (lt *lent) collect(ctx context.Context) {
	w := lt.w
	if lt.alone {
		if x, ok := w.ch.spin(false, ctx.Done()); ok && myTurn(x>>2, false) {
			_, lt.err = w.ch.read(x>>2, &lt.r)
			lt.recvd = true
			if lt.err == nil && lt.stop() {
				lt.t.pool.busy.Add(-1) // before the task counts as done: see State
				lt.t.finish(lt.t.result(w, lt.r))
				lt.giveBack()
				return
			}
		}
	}
	lt.owner.Store(lentSlot)
	lt.handOver()
}

// giveBack returns the slot of a lent task that Result has finished to its
// goroutine, which has slept throughout, and which Submit may lend again;
// the goroutine is woken if it has something to do: queued tasks, a closing
// pool, or a worker to retire.
func (lt *lent) giveBack() {
	p := lt.t.pool
	p.mu.Lock()
	s := &p.slots[lt.i]
	if p.max > 0 && lt.w.ran >= p.max {
		lt.over = true
		lt.owner.Store(lentSlot)
		p.mu.Unlock()
		p.cond.Broadcast()
		return
	}
	s.lent = nil
	s.idle = true
	wake := p.closed || len(p.queue) > 0
	p.mu.Unlock()
	if wake {
		p.cond.Broadcast()
	}
}

// handOver wakes the slot's goroutine to take a lent task that its owner
// word has just given it.
func (lt *lent) handOver() { lt.t.pool.wakeSlots() }

// wakeSlots wakes the slots' goroutines to look again at what they wait
// for, which has changed without p.mu: p.mu is taken and let go first, so
// that a goroutine is either waiting in p.cond or yet to look.
func (p *Pool) wakeSlots() {
	p.mu.Lock()
	p.mu.Unlock()
	p.cond.Broadcast()
}

// collected is the slot's goroutine's side of a lent task: it waits for the
// reply, unless Result has it, and finishes the task as runTask does, then
// frees the slot. It returns the slot's worker, as after does.
func (p *Pool) collected(i int, w *worker, lt *lent) *worker {
	if !lt.over {
		if !lt.recvd {
			_, _, lt.err = w.ch.recv(false, false, &lt.r)
		}
		w = p.end(i, w, lt.t, nil, lt.stop, lt.r, lt.err)
	}
	p.mu.Lock()
	p.slots[i].lent = nil
	p.mu.Unlock()
	return p.after(i, w)
}

// watchContext arranges for w to be killed, as abandoned, if t's context
// ends, and returns the function that stops that.
func (p *Pool) watchContext(w *worker, t *task) func() bool {
	if t.ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(t.ctx, func() {
		w.abandoned.Store(true)
		w.proc.Kill()
	})
}

// runTask runs t on w, in slot i. It returns w, or nil if w has ended.
//
// The slot's goroutine waits for the reply in the slot, and for nothing
// else: whatever must stop the task (its context, Kill) kills the worker,
// and the goroutine that watches the worker marks the slot dead, which ends
// the wait.
func (p *Pool) runTask(i int, w *worker, t *task, send []uint64) *worker {
	// Both sides spin for the other only while this is the pool's one
	// task: see "The transport".
	alone := p.busy.Add(1) == 1
	w.ran++
	stop := p.watchContext(w, t)
	// Sending to a worker that has died fails, and so does the wait.
	var r replyMsg
	msg := &t.msg
	if send != nil {
		m := t.msg
		m.Segments = send
		msg = &m
	}
	err := w.ch.send(stTask, msg, alone)
	if err == nil {
		_, _, err = w.ch.recv(false, alone, &r)
	}
	return p.end(i, w, t, send, stop, r, err)
}

// end finishes t, which w in slot i ran, from w's reply r or the error of
// sending t or waiting for r, and from stop, which stops the watch on t's
// context and reports whether it had not fired. It returns w, or nil if w
// has ended.
func (p *Pool) end(i int, w *worker, t *task, send []uint64, stop func() bool, r replyMsg, err error) *worker {
	if err == nil && send != nil && !r.Unknown {
		w.segs = append(w.segs, send...)
	}
	ok := stop() && err == nil
	p.busy.Add(-1) // before the task counts as done or failed: see State
	if ok {
		t.finish(t.result(w, r))
		return w
	}
	// The worker died, or is dying: killed for t's context, or by Kill.
	w.proc.Kill()
	<-w.proc.Done()
	switch {
	case isClosedChan(p.killed):
		err = ErrPoolKilled
	case w.abandoned.Load():
		err = fmt.Errorf("shm: %s abandoned, its pool worker (pid %d) killed: %w", t.t, w.proc.Pid(), t.ctx.Err())
	default:
		err = p.deathError(t, w)
	}
	p.retire(i, w)
	t.finish(nil, err)
	return nil
}

// deathError says how w, which ran t, ended.
func (p *Pool) deathError(t *task, w *worker) error {
	st := w.proc.exited()
	if st == nil {
		return fmt.Errorf("shm: %s: its pool worker (pid %d) ended: %w", t.t, w.proc.Pid(), w.proc.err)
	}
	return &ExitError{ProcessState: st, Func: t.t.String(), Message: fmt.Sprintf("the pool worker running it ended (%s)", st)}
}

// result turns a worker's reply into the task's result.
func (t *task) result(w *worker, r replyMsg) (any, error) {
	switch {
	case r.Unknown:
		return nil, fmt.Errorf("shm: %s (pool worker pid %d): %s", t.t, w.proc.Pid(), r.Err)
	case r.Failed:
		return nil, &TaskError{Func: t.t.String(), Pid: w.proc.Pid(), Message: r.Err, Panic: r.Panic}
	}
	return t.decode(r.Data)
}

// Submit queues fn(args...) to run in a worker and returns its [Future]:
// Python's apply_async and ProcessPoolExecutor.submit. fn must be
// registered, and args must fit it as [Start] requires; Submit returns an
// error, and queues nothing, if they do not, or [ErrPoolClosed] after
// [Pool.Close] or [Pool.Kill]. If a worker is idle and no task is queued,
// Submit gives the task to that worker itself, which starts it at once, and
// the [Future.Result] that follows takes the reply from the worker without
// waking any other goroutine: the fastest round trip.
//
// ctx is the task's: if it ends before the task is done, the task is
// abandoned and fails with ctx's error; a running task's worker is killed
// and replaced.
func (p *Pool) Submit(ctx context.Context, fn any, args ...any) (*Future, error) {
	tk, err := p.newCall(ctx, fn, args)
	if err != nil {
		return nil, err
	}
	if lt := p.lend(tk); lt != nil {
		lt.start()
		return tk.fut, nil
	}
	if err := p.enqueue(tk); err != nil {
		return nil, err
	}
	return tk.fut, nil
}

// newCall checks and encodes fn(args...) for Submit, and returns its task.
func (p *Pool) newCall(ctx context.Context, fn any, args []any) (*task, error) {
	t, err := lookup(fn)
	if err != nil {
		return nil, err
	}
	msgArgs, err := encodeArgs("Submit", t, args)
	if err != nil {
		return nil, err
	}
	return p.newTask(ctx, t, taskMsg{Func: t.key, Args: msgArgs}, func(data []byte) (any, error) {
		if t.res == nil {
			return nil, nil
		}
		v, err := decodeValue(t.res, data)
		if err != nil {
			return nil, fmt.Errorf("shm: %s: decoding its result: %w", t, err)
		}
		return v.Interface(), nil
	}), nil
}

func (p *Pool) newTask(ctx context.Context, t *target, msg taskMsg, decode func([]byte) (any, error)) *task {
	tk := &task{ctx: ctx, t: t, msg: msg, decode: decode, fut: &Future{done: make(chan struct{})}, pool: p}
	for _, a := range msg.Args {
		for _, r := range a.Refs {
			if !slices.Contains(tk.segs, r.Seg) {
				tk.segs = append(tk.segs, r.Seg)
			}
		}
	}
	return tk
}

// enqueue queues t, and arranges for it to fail if its context ends first.
func (p *Pool) enqueue(t *task) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	if t.ctx.Done() != nil {
		stop := context.AfterFunc(t.ctx, func() {
			if t.state.CompareAndSwap(taskQueued, taskRunning) {
				t.finish(nil, t.ctx.Err())
			}
		})
		t.stop.Store(&stop)
	}
	p.queue = append(p.queue, t)
	lent := slices.ContainsFunc(p.slots, func(s slotState) bool { return s.lent != nil })
	p.mu.Unlock()
	if lent {
		// A slot whose lent task nobody waits for must take its reply,
		// to be free for the queue (see next): wake them all.
		p.cond.Broadcast()
	} else {
		p.cond.Signal()
	}
	return nil
}

// Map calls fn on each of items in the pool's workers, chunk items to a task,
// and returns the results in the order of items: Python's Pool.map with
// chunksize. chunk < 1 chooses a size that gives each worker about four
// tasks. fn must be registered. Map waits for every task, and returns the
// first error in the order of items: a [*TaskError] if fn panicked, or what
// [Future.Result] returns otherwise. ctx is every task's, as in
// [Pool.Submit].
func Map[In, Out any](ctx context.Context, p *Pool, fn func(In) Out, items []In, chunk int) ([]Out, error) {
	t, err := lookup(fn)
	if err != nil {
		return nil, err
	}
	if it := reflect.TypeFor[In](); it.Implements(objectType) {
		return nil, fmt.Errorf("shm: Map(%s): items of type %s: a shm object cannot travel in a slice; pass it through PoolOptions.Init", t, it)
	}
	if chunk < 1 {
		chunk = max(1, (len(items)+4*len(p.workers)-1)/(4*len(p.workers)))
	}
	var futs []*Future
	for lo := 0; lo < len(items); lo += chunk {
		part := items[lo:min(lo+chunk, len(items))]
		data, err := encodeValue(reflect.ValueOf(part))
		if err != nil {
			return nil, fmt.Errorf("shm: Map(%s): items %d to %d: %w", t, lo, lo+len(part)-1, err)
		}
		tk := p.newTask(ctx, t, taskMsg{Func: t.key, Args: []argMsg{{Data: data}}, Chunk: true}, func(data []byte) (any, error) {
			var out []Out
			if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&out); err != nil {
				return nil, fmt.Errorf("shm: Map(%s): decoding results: %w", t, err)
			}
			if len(out) != len(part) {
				return nil, fmt.Errorf("shm: Map(%s): %d results for %d items", t, len(out), len(part))
			}
			return out, nil
		})
		if err := p.enqueue(tk); err != nil {
			return nil, err
		}
		futs = append(futs, tk.fut)
	}
	results := make([]Out, 0, len(items))
	var first error
	for _, f := range futs {
		<-f.done
		if f.err != nil {
			if first == nil {
				first = f.err
			}
			continue
		}
		results = append(results, f.val.([]Out)...)
	}
	if first != nil {
		return nil, first
	}
	return results, nil
}

// Close stops the pool once the queued tasks are done: no more tasks are
// taken, the workers finish what is queued and exit, and Close returns when
// they have all exited: Python's close() and join(). Close after Close or
// [Pool.Kill] waits in the same way and returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
	return nil
}

// Kill stops the pool now: every worker is killed (SIGKILL), every running
// and queued task fails with [ErrPoolKilled], and Kill returns when the
// workers have exited: Python's terminate(). Kill after Close or Kill
// returns once the workers have exited.
func (p *Pool) Kill() error {
	p.mu.Lock()
	p.closed = true
	if !isClosedChan(p.killed) {
		close(p.killed)
	}
	queued := p.queue
	p.queue = nil
	for _, w := range p.workers {
		if w != nil {
			w.proc.Kill()
		}
	}
	p.mu.Unlock()
	p.cond.Broadcast()
	for _, t := range queued {
		if t.state.CompareAndSwap(taskQueued, taskRunning) {
			t.finish(nil, ErrPoolKilled)
		}
	}
	p.wg.Wait()
	return nil
}

func isClosedChan(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// State returns a snapshot of the pool's workers and tasks.
func (p *Pool) State() PoolState {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Lent tasks that nobody waits for are finished by their slots, so
	// that Done and Failed come to count them.
	for _, s := range p.slots {
		if lt := s.lent; lt != nil && lt.started && lt.owner.CompareAndSwap(lentFree, lentSlot) {
			p.cond.Broadcast() // the slots wait for p.mu, which they get after this returns
		}
	}
	// A task stops counting as busy before it counts as done or failed,
	// and those are read first, so that no snapshot counts a task twice.
	s := PoolState{Done: p.done.Load(), Failed: p.failed.Load()}
	s.Busy, s.Queued, s.Restarted = int(p.busy.Load()), len(p.queue), p.restarted.Load()
	for _, w := range p.workers {
		if w != nil && w.ready.Load() && w.proc.Alive() {
			s.Workers++
			s.Pids = append(s.Pids, w.proc.Pid())
		}
	}
	return s
}

// checkResult reports why a function's result of type rt could never travel
// back to a pool, if it could not; [Register] calls it.
func checkResult(rt reflect.Type) error {
	if rt.Implements(objectType) || reflect.PointerTo(rt).Implements(objectType) {
		return errors.New("a shm object cannot be returned to another process: pass it as a parameter")
	}
	return checkParam(rt)
}

// The worker's side.

// runWorker runs a pool worker, in a child whose Init has been decoded: it
// runs init, then the tasks from its slot until the pool tells it to quit,
// and returns its exit code.
func runWorker(ctl *os.File, msg *startMsg, init *target, args []reflect.Value) int {
	fd := fdSegments + len(msg.Segments)
	taskR := os.NewFile(uintptr(fd), "shm-tasks")
	replyW := os.NewFile(uintptr(fd+1), "shm-replies")
	fds := memfd.Inherit(fd+3, "shm-pool-fds")
	mem, err := mapSlot(memfd.Inherit(fd+2, "shm-pool-slot"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "shm: pool worker: %v\n", err)
		writeResult(ctl, resultMsg{Code: exitPanic, Message: err.Error()})
		return exitPanic
	}
	if res := call(init, args); res.Code != exitOK {
		writeResult(ctl, res)
		return res.Code
	}
	ch := newPoolChan(mem, taskR, replyW)
	if ch.send(stReply, &replyMsg{Ready: true}, false) != nil {
		return exitPanic // the pool is gone
	}
	spin := false
	for {
		var m taskMsg
		st, spinNext, err := ch.recv(true, spin, &m)
		if err != nil {
			fmt.Fprintf(os.Stderr, "shm: pool worker: reading a task: %v\n", err)
			writeResult(ctl, resultMsg{Code: exitPanic, Message: err.Error()})
			return exitPanic
		}
		if st == stQuit {
			break
		}
		var r replyMsg
		if err := takeSegments(fds, m.Segments); err != nil {
			r = replyMsg{Unknown: true, Err: err.Error()}
		} else {
			r = runTask(&m)
		}
		if ch.send(stReply, &r, false) != nil {
			return exitPanic
		}
		spin = spinNext
	}
	writeResult(ctl, resultMsg{})
	return exitOK
}

// takeSegments receives the files of the segments inos from the pool's
// socket, in a worker, and maps them, as a child maps those it inherits. A
// segment it maps already is not mapped again: the pool sends one again
// when a task that carried it did not run (its mapping failed part way, or
// the worker did not know its function), not knowing which it took.
func takeSegments(sock *os.File, inos []uint64) error {
	if len(inos) == 0 {
		return nil
	}
	files, err := recvFiles(sock, len(inos))
	if err != nil {
		return err
	}
	segs := make([]*segment, 0, len(inos))
	for k, f := range files {
		if theHeap.byIno(inos[k]) != nil {
			f.Close()
			continue
		}
		var s *segment
		if inos[k]&namedBit != 0 {
			s, err = mapInherited(f, inos[k])
		} else {
			s, err = mapSegment(f)
		}
		if err == nil && s.ino != inos[k] {
			err = fmt.Errorf("received segment %d, want %d", s.ino, inos[k])
		}
		if err != nil {
			for _, g := range files[k:] {
				g.Close()
			}
			theHeap.adopt(segs) // those mapped stay so
			return fmt.Errorf("mapping the segments sent: %w", err)
		}
		segs = append(segs, s)
	}
	theHeap.adopt(segs)
	return nil
}

// runTask runs one task in a worker and returns its reply.
func runTask(m *taskMsg) replyMsg {
	t, err := registered(m.Func)
	if err != nil {
		return replyMsg{Unknown: true, Err: err.Error()}
	}
	if m.Chunk {
		items, err := decodeValue(reflect.SliceOf(t.fn.Type().In(0)), m.Args[0].Data)
		if err != nil {
			return replyMsg{Unknown: true, Err: fmt.Sprintf("decoding the items: %v", err)}
		}
		return callChunk(t, items)
	}
	args, err := decodeArgs(t, m.Args)
	if err != nil {
		return replyMsg{Unknown: true, Err: err.Error()}
	}
	return callTask(t, args)
}

// callTask calls t and turns what it returns, or its panic, into a reply.
func callTask(t *target, args []reflect.Value) (r replyMsg) {
	defer recoverTask(&r, callTask)
	out := t.fn.Call(args)
	if err := t.errOf(out); err != nil {
		return replyMsg{Failed: true, Err: err.Error()}
	}
	if t.res != nil {
		data, err := encodeValue(out[0])
		if err != nil {
			return replyMsg{Failed: true, Err: fmt.Sprintf("encoding its result: %v", err)}
		}
		return replyMsg{Data: data}
	}
	return replyMsg{}
}

// callChunk calls t on each of items and replies with the results, as a
// slice.
func callChunk(t *target, items reflect.Value) (r replyMsg) {
	defer recoverTask(&r, callChunk)
	out := reflect.MakeSlice(reflect.SliceOf(t.res), items.Len(), items.Len())
	arg := make([]reflect.Value, 1)
	for i := range items.Len() {
		arg[0] = items.Index(i)
		out.Index(i).Set(t.fn.Call(arg)[0])
	}
	data, err := encodeValue(out)
	if err != nil {
		return replyMsg{Failed: true, Err: fmt.Sprintf("encoding the results: %v", err)}
	}
	return replyMsg{Data: data}
}

// recoverTask turns a task's panic into its reply, with the panic's value
// and the frames of the user's code, as [Process.Join] reports a child's.
// caller is the function that called the task. It prints the panic to
// standard error as a child of [Start] does (see call), so that a task whose
// Result nobody reads does not fail silently; an error that a task returns
// is its result, and is not printed.
func recoverTask(r *replyMsg, caller any) {
	v := recover()
	if v == nil {
		return
	}
	header, frames, msg := panicReport(v, caller)
	fmt.Fprintf(os.Stderr, "panic: %v\n\n%s\n%s", v, header, strings.Join(frames, ""))
	*r = replyMsg{Failed: true, Panic: true, Err: msg}
}
