// Package dist shares typed values, arrays, locks, events and barriers
// between processes on any number of machines, through an etcd cluster: the
// across-machines form of package shm, for programs whose workers outgrow
// one machine.
//
// # The model
//
// A [Client] is one connection to etcd and one session lease, which the
// Client keeps alive. Objects are named, in a namespace ([Config.Namespace]):
// every process that makes an object of the same kind and name, against the
// same cluster and namespace, shares it. [Value] and [Array] hold any type
// that shm accepts and that means the same on every machine; [Mutex],
// [Event] and [Barrier] have shm's names and meaning, with a context and an
// error wherever the network can fail.
//
//	c, err := dist.Connect(ctx, dist.Config{Endpoints: []string{"http://10.0.0.1:2379"}})
//	hits, err := dist.NewValue(ctx, c, "hits", int64(0))
//	n, err := hits.Update(ctx, func(n int64) int64 { return n + 1 })
//
// Package dist/embedded runs an etcd server inside a test or a demo; point
// real programs at a real cluster.
//
// # Allowed types
//
// T may be a boolean, an integer, a float, a complex number, or a
// fixed-size array or struct of those. It is stored in a portable encoding:
// fields in order, little-endian, without padding, with int, uint and
// uintptr as 64-bit integers. T's layout is stored beside it, and a program
// that opens a name with another layout gets a [*LayoutError] that shows
// both. Types that mean nothing on another machine are refused with a
// [*TypeError] naming the field: pointers, strings, slices, maps and the
// like, as in shm, and also the sync/atomic types and shm's Mutex, Event,
// Semaphore and Barrier, which work only in one machine's memory.
//
// # One program, two backends
//
// [Updater], [ArrayUpdater], [Locker], [Flag] and [Party] are what a worker
// needs of a shared object. A dist object satisfies them, and [Local],
// [LocalArray], [LocalMutex], [LocalEvent] and [LocalBarrier] make a shm
// object satisfy them, so that a worker written once runs on one machine or
// many. What cannot be the same:
//
//   - Latency. Every dist operation is a round trip to the etcd cluster and
//     a disk write on its leader for writes: about a millisecond on a LAN,
//     against nanoseconds for shm.
//   - Update runs f more than once. [Value.Update] is a compare-and-swap on
//     the key's revision, retried when another process wrote first; shm's
//     runs f once under a lock. Give f no side effects, or use
//     [Value.UpdateLocked], which runs it once under a [Mutex].
//   - Owner death is seen late. shm learns of a dead lock owner at once,
//     from the kernel; dist only when the owner's lease expires, a TTL
//     ([Config.TTL], seconds) after the owner stopped renewing it. A live
//     owner that pauses, or is cut off from the cluster, for longer looks
//     dead too, and may wake believing it holds the lock: hence fencing
//     tokens ([Mutex.Fence]), which the systems written to under the lock
//     must check.
//   - Failure. Every operation may fail when the cluster cannot be reached;
//     the adapters of local objects never fail.
//
// # Keys
//
// Objects live under the namespace, one letter to a kind: NS/v/NAME holds a
// Value (a header naming its layout, then its bytes); NS/a/NAME an Array's
// layout and length, and NS/a/NAME/I its element I (an element never
// written has no key); NS/m/NAME a Mutex's held marker and owner key;
// NS/e/NAME an Event, present while it is set; NS/b/NAME/ a Barrier's state
// and arrivals. Names cannot contain '/'. dist never removes an object:
// remove a namespace's keys (etcdctl del --prefix NS/) when no program uses
// them. A value travels in one etcd request, which etcd limits to 1.5 MiB
// by default.
//
// # Locks
//
// A [Mutex] is not fair: when it is released every waiter tries again and
// one wins, in no set order. A hold lasts until Unlock or until the
// holder's lease expires; see the essay at the top of mutex.go for the
// protocol.
//
// # Memory model
//
// etcd's operations are linearizable: each operation of a Value, Array,
// Mutex, Event or Barrier takes effect at one instant between its call and
// its return, in one order that every process sees. A [Mutex] orders the
// processes that lock it as a sync.Mutex orders goroutines.
package dist
