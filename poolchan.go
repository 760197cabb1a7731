package shm

// The channel between a pool and one of its workers: a page-aligned block of
// shared memory, the slot, that holds a turn word and one message, and the
// two pipes for messages too big for the slot. See "The transport" in
// pool.go for why it is built this way.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm/internal/futex"
	"github.com/shmgo/shm/internal/memfd"
)

// The slot's layout. The turn word is alone in the first cache line; the
// message's length follows in the second, its bytes from slotData on.
const (
	slotSize = 64 << 10 // a whole number of pages, so that the mapping covers the file
	slotLen  = 64       // uint32: the message's length; more than slotCap means it is on the pipe
	slotSpin = 68       // uint32: not zero if the worker is to spin for the next task after this one
	slotData = 128
	slotCap  = slotSize - slotData

	keepBuf = 1 << 20 // the most a side keeps of a buffer after a big message: a rare giant is let go
)

// The turn word: the state in bits 2 and up, and two marks. A state that is
// odd is the worker's turn (a task, or quit), one that is even and not zero
// the pool's (a reply); the side whose turn it is not waits for the other to
// change the state. Only the side whose turn it is changes the state; the
// waiting side only adds turnSleeping, and the pool's goroutine that
// watches for the worker's death only turnDead, which a giver keeps. Every
// write is a compare-and-swap or an atomic or, so none is lost.
const (
	turnSleeping = 1 << 0 // the waiting side sleeps on the futex: the giver must wake it
	turnDead     = 1 << 1 // the worker has died, seen by the pool: no reply will come

	stStart = 0 // the worker is starting: it replies when ready
	stTask  = 1 // a task is in the slot
	stReply = 2 // a reply is in the slot
	stQuit  = 3 // the worker is to exit
)

// How long each side spins for its turn before it sleeps on the futex (see
// "The transport" in pool.go): a worker that has replied spins for the next
// task, and the pool's side that has given a task spins for its reply. The
// spin adapts to the tasks, between minSpin and maxSpin: it doubles after a
// wait that ended within it, and halves after one that did not, so that a
// side whose turns come late, as with long tasks, stops spending a core on
// them. For its first yieldAfter, the spinner only looks at the word: a
// trip with both sides running takes less, and a yield is a system call
// that costs about as much as the rest of the trip. After that it yields the
// processor every spinYield rounds (about half a microsecond), so that the
// other side runs if the kernel put it on this core, as it tends to put a
// process it wakes.
const (
	minSpin    = 10 * time.Microsecond
	maxSpin    = 100 * time.Microsecond
	yieldAfter = 4 * time.Microsecond
	spinYield  = 256
)

// errWorkerDead is what the pool's side of a channel returns once its
// worker has died; the pool then asks the process how.
var errWorkerDead = errors.New("shm: pool worker died")

// A poolChan is one side of the channel between a pool and a worker.
type poolChan struct {
	mem  []byte
	turn *atomic.Uint32
	in   *os.File // the pipe that big messages come in on
	out  *os.File // the pipe that big messages go out on

	big []byte // a big message read from the pipe

	spinFor time.Duration // how long this side spins for its turn next time
}

// newSlot makes a slot's shared file, in the pool, and maps it.
func newSlot() (*os.File, []byte, error) {
	f, err := memfd.CreateSealed("shm-pool-slot", slotSize)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: pool worker: %w", err)
	}
	mem, err := memfd.Map(f, slotSize)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("shm: pool worker: %w", err)
	}
	return f, mem, nil
}

// mapSlot maps the slot a worker inherited at f and closes f.
func mapSlot(f *os.File) ([]byte, error) {
	defer f.Close()
	size, _, err := memfd.Stat(f)
	if err != nil {
		return nil, err
	}
	if size != slotSize {
		return nil, fmt.Errorf("the pool's slot has %d bytes, want %d", size, slotSize)
	}
	return memfd.Map(f, slotSize)
}

// openWorkerChan makes the pool's side of the channel to a new worker, and
// the pool's end of the socket that sends it segments (poolfds_linux.go).
// theirs are the worker's ends, for it to inherit in this order after its
// segments (see protocol.go): the task pipe's read end, the reply pipe's
// write end, the slot and the socket; the pool closes them once the worker
// has started.
func openWorkerChan() (ch *poolChan, fds *os.File, theirs []*os.File, err error) {
	var opened []*os.File // closed if a step fails
	fail := func(err error) (*poolChan, *os.File, []*os.File, error) {
		for _, f := range opened {
			f.Close()
		}
		return nil, nil, nil, err
	}
	tr, tw, err := pipe()
	if err != nil {
		return fail(err)
	}
	opened = append(opened, tr, tw)
	rr, rw, err := pipe()
	if err != nil {
		return fail(err)
	}
	opened = append(opened, rr, rw)
	sf, mem, err := newSlot()
	if err != nil {
		return fail(err)
	}
	opened = append(opened, sf)
	fds, fw, err := fdSocketPair()
	if err != nil {
		memfd.Unmap(mem)
		return fail(err)
	}
	return newPoolChan(mem, rr, tw), fds, []*os.File{tr, rw, sf, fw}, nil
}

func newPoolChan(mem []byte, in, out *os.File) *poolChan {
	return &poolChan{mem: mem, turn: word32At(mem, 0), in: in, out: out, spinFor: maxSpin}
}

// close closes the pipes and unmaps the slot, in the pool, once neither
// side can touch it: the worker has exited and its watcher has marked it
// dead.
func (c *poolChan) close() {
	c.in.Close()
	c.out.Close()
	memfd.Unmap(c.mem)
	c.mem, c.turn = nil, nil
}

// send encodes m into the slot, or onto the pipe if it does not fit, and
// gives the turn to the other side with state st (stQuit, which has no
// message, goes by give alone). spin, in a task, tells the worker whether to
// spin for the next one. It fails with errWorkerDead, in the pool, if the
// worker has died.
func (c *poolChan) send(st uint32, m poolMsg, spin bool) error {
	// m is encoded in place, in the slot, which is this side's until it
	// gives the turn; append moves a message too big for the slot to a
	// buffer of its own, which goes on the pipe and is then let go.
	data := m.appendTo(c.mem[slotData:slotData:slotSize])
	if len(data) > math.MaxUint32 {
		return fmt.Errorf("a message of %d bytes", len(data))
	}
	binary.NativeEndian.PutUint32(c.mem[slotLen:], uint32(len(data)))
	var sp uint32
	if spin {
		sp = 1
	}
	binary.NativeEndian.PutUint32(c.mem[slotSpin:], sp)
	if !c.give(st) {
		return errWorkerDead
	}
	if len(data) > slotCap {
		// The other side reads it once it has the turn; a pipe's writer
		// fails once its reader has died.
		_, err := c.out.Write(data)
		return err
	}
	return nil
}

// recv waits for this side's turn, spinning first if spin, and decodes the
// message into m, unless the state is stQuit. It returns the state, and
// whether the message says to spin for the next.
func (c *poolChan) recv(worker bool, spin bool, m poolMsg) (st uint32, spinNext bool, err error) {
	st, ok := c.await(worker, spin)
	if !ok {
		return 0, false, errWorkerDead
	}
	spinNext, err = c.read(st, m)
	return st, spinNext, err
}

// read decodes the message of state st into m, once it is this side's
// turn, unless st is stQuit, and reports whether it says to spin for the
// next.
func (c *poolChan) read(st uint32, m poolMsg) (spinNext bool, err error) {
	if st == stQuit {
		return false, nil
	}
	spinNext = binary.NativeEndian.Uint32(c.mem[slotSpin:]) != 0
	n := int(binary.NativeEndian.Uint32(c.mem[slotLen:]))
	if n <= slotCap {
		return spinNext, m.decode(c.mem[slotData : slotData+n])
	}
	if cap(c.big) < n {
		c.big = make([]byte, n)
	}
	if _, err := io.ReadFull(c.in, c.big[:n]); err != nil {
		return false, err
	}
	err = m.decode(c.big[:n])
	if cap(c.big) > keepBuf {
		c.big = nil
	}
	return spinNext, err
}

// myTurn reports whether state st is the worker's turn, if worker, or the
// pool's.
func myTurn(st uint32, worker bool) bool {
	if worker {
		return st&1 == 1
	}
	return st == stReply
}

// await waits for this side's turn: it spins, if spin, yields the processor
// once, so that the other side may run if it shares this core, and then
// sleeps on the futex. It returns the state, or false, in the pool, once
// the worker has died.
func (c *poolChan) await(worker bool, spin bool) (uint32, bool) {
	if spin {
		if x, ok := c.spin(worker, nil); ok {
			return x >> 2, x&turnDead == 0 || myTurn(x>>2, worker)
		}
		futex.Yield()
	}
	for {
		x := c.turn.Load()
		if myTurn(x>>2, worker) {
			return x >> 2, true
		}
		if x&turnDead != 0 {
			return 0, false
		}
		if x&turnSleeping == 0 && !c.turn.CompareAndSwap(x, x|turnSleeping) {
			continue
		}
		futex.Wait(c.turn, x|turnSleeping, 0)
	}
}

// spin spins for up to c.spinFor, or until stop is closed, for this side's
// turn or the worker's death, yielding the processor every spinYield rounds
// once yieldAfter has passed, and adapts c.spinFor. It returns the turn word and true once either has
// come, or false if the time passed or stop closed first.
func (c *poolChan) spin(worker bool, stop <-chan struct{}) (uint32, bool) {
	start := time.Now()
	yield := false
	for i := 1; ; i++ {
		x := c.turn.Load()
		if myTurn(x>>2, worker) || x&turnDead != 0 {
			c.spinFor = min(2*c.spinFor, maxSpin)
			return x, true
		}
		if i%64 == 0 {
			d := time.Since(start)
			if d > c.spinFor {
				c.spinFor = max(c.spinFor/2, minSpin)
				return 0, false
			}
			yield = d > yieldAfter
			select {
			case <-stop:
				return 0, false
			default:
			}
		}
		if yield && i%spinYield == 0 {
			futex.Yield()
		}
	}
}

// give sets the state to st, keeping turnDead, and wakes the other side if
// it sleeps. Only one side sleeps at a time: the one whose turn it is not.
// It reports false, having changed nothing, once the worker has died.
func (c *poolChan) give(st uint32) bool {
	for {
		x := c.turn.Load()
		if x&turnDead != 0 {
			return false
		}
		if c.turn.CompareAndSwap(x, st<<2) {
			if x&turnSleeping != 0 {
				futex.Wake(c.turn, 1)
			}
			return true
		}
	}
}

// markDead tells the pool's side that the worker has died, waking it if it
// sleeps.
func (c *poolChan) markDead() {
	c.turn.Or(turnDead)
	futex.Wake(c.turn, math.MaxInt32)
}
