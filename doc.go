// Package shm lets separate processes share typed values, arrays and locks
// through shared memory: Python's multiprocessing.sharedctypes (RawValue,
// Value, RawArray, Array, handed to child processes that are then joined),
// done the Go way.
//
// # The model
//
// Memory is the handle. A shared object is a Go value whose bytes live in
// shared memory: a *[RawValue] points straight into a mapping, so Load and
// Store are plain memory accesses, and a [RawValue] of an [sync/atomic] type
// is a lock-free shared counter. A [Value] is a [Mutex] next to a value, and
// its [Value.Update] is an atomic read-modify-write across processes. [RawArray]
// and [Array] are the same for fixed-length arrays.
//
// Objects are allocated from anonymous shared files (memfd) that this process
// maps for the rest of its life and hands to every child it starts. They have
// no name in any file system, so a crash leaks nothing: the kernel frees the
// memory when the last process that maps it exits. Objects
// are never freed before that, which is what keeps every pointer into them
// valid; make shared objects up front, not in a loop.
//
// # Allowed types
//
// T may be any type without Go pointers: booleans, integers, floats, complex
// numbers, fixed-size arrays and structs of those, the sync/atomic types
// (atomic.Int64, atomic.Bool, ...) and shm's own [Mutex], [Event] and
// [Semaphore]. Strings, slices, maps, pointers, interfaces, channels and functions mean nothing in another
// process; the constructors refuse them with a [*TypeError] that names the
// offending field, such as "reading.Names[0]: string cannot live in shared
// memory". Use fixed-size byte arrays for text. The types of package sync
// (sync.Mutex, sync.WaitGroup, ...) are refused too: they lock and wait only
// within one process. Use [Mutex].
//
// # Starting children
//
// Go cannot fork, so a child is the same program started again. Register each
// function a child may run in an init function, call [Main] first in main
// (and in TestMain), and start children with [Start]:
//
//	func sensor(temp *shm.RawValue[float64]) { temp.Store(temp.Load() + 1.5) }
//
//	func init() { shm.Register(sensor) }
//
//	func main() {
//		shm.Main()
//		temp, err := shm.NewRawValue(20.0)
//		if err != nil {
//			log.Fatal(err)
//		}
//		p, err := shm.Start(sensor, temp)
//		if err != nil {
//			log.Fatal(err)
//		}
//		if err := p.Join(); err != nil {
//			log.Fatal(err)
//		}
//		fmt.Println(temp.Load()) // 21.5
//	}
//
// Shared objects reach the child by reference, other arguments by copy
// (encoding/gob). [Process.Join] reports the child's returned error or panic,
// which the child also prints to its standard error.
// A child never outlives its parent: when the parent dies, the kernel kills
// its children.
//
// # Pools of workers
//
// [NewPool] starts warm workers, this program started again as children are,
// that run registered functions for [Pool.Submit] and [Map] and send their
// results back: Python's multiprocessing.Pool and ProcessPoolExecutor. A
// worker that dies fails only the task it was running, with an [*ExitError]
// that says how it died, and is replaced; see [Pool] and the essay at the top
// of pool.go.
//
// # Named segments
//
// Unrelated programs, in Go or in Python (python/shmgo.py), share objects
// through a named segment: a file in /dev/shm that one program makes with
// [Create] and the others open with [Open]. [In] places an object in a
// segment under a name, with any constructor, and [LookupValue] and its kin
// find it, checking that its layout is the type's:
//
//	seg, err := shm.Create("scores", 1<<20)           // or shm.Open("scores")
//	score, err := shm.NewValue(0, shm.In(seg, "score"))
//	// in another program:
//	score, err := shm.LookupValue[int](seg, "score")
//
// A Mutex in a named segment works between any processes of its owner's
// user: a program killed holding it is detected as a child is. Other users
// may be let read a segment ([Mode]); they open it read-only. A segment
// outlives its programs until [Remove] removes it, as a file does: decide
// which program removes it when the data is no longer needed, or use
// `shm rm`. A process of the same user can write, or truncate, a segment's
// file: share segments only with programs you trust with that memory.
//
// # Memory model
//
// In the terms of the Go memory model, everything a child did happens before
// [Process.Join] returns: once Join has returned, the parent sees every write
// the child made to shared memory, with no lock. Likewise everything the parent
// did before [Start] happens before the child's target starts. The
// [sync/atomic] types in shared memory behave between processes as they do
// between goroutines: their operations are atomic and sequentially consistent
// in every process that maps them. A [Mutex] orders the processes that lock it
// as a [sync.Mutex] orders goroutines.
//
// # Locks and crashes
//
// A [Mutex] is a futex word that names its owner's liveness token, which the
// kernel releases when the owner dies, whatever kills it. A process that dies
// holding a lock does not deadlock the others: the next locker takes the
// lock, and [Mutex.LockContext] tells it so with [ErrOwnerDead].
//
// # Waiting for each other
//
// An [Event] is a flag that processes wait for, a [Cond] lets them wait for
// data that a Mutex guards to change, a [Semaphore] counts permits and a
// [Barrier] makes a fixed number of parties wait for each other: Python's
// Event, Condition, Semaphore and BoundedSemaphore, and Barrier. Their waits
// take a context. None of them lets a dead process block a live one: a
// notifier (Set, Signal, Broadcast, Release, the last party to reach a
// Barrier) only changes shared memory and asks the kernel to wake the
// sleepers, so it never waits for a waiter, which may have died. A Barrier
// whose party died while others wait for it is broken for them, and a Cond
// waiter whose Mutex's owner died gets [ErrOwnerDead], with the lock. A
// Semaphore has no owner, so a permit held by a process that died is lost:
// bound Acquire with a context. Waiters sleep in the kernel and cost no CPU.
//
// There is no RLock, a lock that its holder may lock again. A re-entrant
// lock must know which goroutine holds it, and Go deliberately gives
// goroutines no identity that code could use; a [Mutex] belongs to a
// process, which is all that another process can check. Lock a Mutex once,
// and give the functions that run under it what it guards rather than the
// lock, as [Value.Raw] does for a Value's own lock.
//
// # What happens at init
//
// Every process that links shm takes a liveness token when the package is
// initialised, from the token table that every shm process of its user
// shares: the file /dev/shm/.shm-tokens-UID, 768 KiB of which a process
// touches two pages, made by the first process that needs it and never
// removed (remove it only when no shm process of the user runs). A child
// started by [Start] takes its token from the table its parent used. Where
// /dev/shm cannot be used, a process makes an anonymous table for itself and
// its children. That costs about 0.13 ms and two file descriptors, and is what
// lets [Mutex.Lock] be a single compare-and-swap and any process of the user
// judge the life of a lock's owner. Nothing else runs at init: no goroutine,
// no thread.
//
// # Caveats
//
// Linux only for now, on 64-bit processors: on other systems the constructors and
// Start return errors wrapping [errors.ErrUnsupported]. The race detector does
// not see memory outside the Go heap, so it cannot report races between
// processes on shared objects; it does see the ordering that a Mutex gives
// the goroutines of one process.
package shm
