package shm

import (
	"fmt"
	"unsafe"

	"github.com/shmgo/shm/internal/shmfile"
)

// Events, Semaphores, Barriers and Conds in named segments (see the Format
// section of named.go for their records).

// syncKinds gives the descriptor kind that the record of each kind of shm's
// own types must carry.
var syncKinds = map[objKind]string{
	kindMutex:     "mutex",
	kindEvent:     "event",
	kindSemaphore: "semaphore",
	kindBarrier:   "barrier",
	kindCond:      "cond",
}

// newNamedEvent is NewEvent with In.
func newNamedEvent(o options) (*Event, error) {
	p, _, err := place(o, placement{
		kind: kindEvent, td: descOf[Event](), length: 1,
		block: unsafe.Sizeof(Event{}),
		fill:  func(b unsafe.Pointer) { as[Event](b).w.Store(0) },
	})
	if err != nil {
		return nil, err
	}
	return as[Event](p), nil
}

// newNamedSemaphore is NewSemaphore and NewBoundedSemaphore with In; limit
// is the Semaphore's limit field.
func newNamedSemaphore(o options, n int, limit uint64) (*Semaphore, error) {
	p, _, err := place(o, placement{
		kind: kindSemaphore, td: descOf[Semaphore](), length: 1,
		block: unsafe.Sizeof(Semaphore{}),
		fill: func(b unsafe.Pointer) {
			s := as[Semaphore](b)
			s.w.Store(uint64(n))
			s.limit = limit
		},
	})
	if err != nil {
		return nil, err
	}
	return as[Semaphore](p), nil
}

// newNamedBarrier is NewBarrier with In: its n+1 words are laid out as a
// RawArray's elements, their number at off-64.
func newNamedBarrier(o options, n int) (*Barrier, error) {
	size, err := arraySize[barrierWord](n + 1)
	if err != nil {
		return nil, err
	}
	p, _, err := place(o, placement{
		kind: kindBarrier, td: descOf[barrierWord](), length: uint64(n + 1),
		block: size, data: arrayHeader,
		fill: func(b unsafe.Pointer) {
			a := as[RawArray[barrierWord]](b)
			a.n = int64(n + 1)
			for i := range arrayData(a) {
				arrayData(a)[i].w.Store(0)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return &Barrier{a: as[RawArray[barrierWord]](p)}, nil
}

// newNamedCond is NewCond with In: the record's lock is m's offset, so m must
// be in the same segment.
func newNamedCond(o options, m *Mutex) (*Cond, error) {
	s := o.in.seg
	if s != nil && s.seg != nil {
		if off, ok := s.seg.contains(addr(m), unsafe.Sizeof(Mutex{})); !ok || off < shmfile.Pad+segHeaderSize {
			return nil, fmt.Errorf("shm: NewCond: In(%q, %q): the Mutex is not in segment %q: a named Cond's Mutex must be in its segment, for the programs that look the Cond up to find", s.name, o.in.name, s.name)
		}
	}
	o.lock = m
	p, _, err := place(o, placement{
		kind: kindCond, td: descOf[condState](), length: 1, lock: lockGiven,
		block: unsafe.Sizeof(condState{}),
		fill:  func(b unsafe.Pointer) { as[condState](b).w.Store(0) },
	})
	if err != nil {
		return nil, err
	}
	return &Cond{m: m, s: as[condState](p)}, nil
}

// LookupEvent returns the Event named name in s, placed there by this or
// another program with NewEvent and [In]. It fails with an error wrapping
// [fs.ErrPermission] if s is read-only.
func LookupEvent(s *Segment, name string) (*Event, error) {
	r, err := lookupObject[Event](s, "LookupEvent", name, true, kindEvent)
	if err != nil {
		return nil, err
	}
	return as[Event](s.at(r.off)), nil
}

// LookupSemaphore returns the Semaphore named name in s, placed there by
// this or another program with NewSemaphore or NewBoundedSemaphore and [In];
// it is bounded if it was made so. It fails with an error wrapping
// [fs.ErrPermission] if s is read-only.
func LookupSemaphore(s *Segment, name string) (*Semaphore, error) {
	r, err := lookupObject[Semaphore](s, "LookupSemaphore", name, true, kindSemaphore)
	if err != nil {
		return nil, err
	}
	return as[Semaphore](s.at(r.off)), nil
}

// LookupBarrier returns the Barrier named name in s, placed there by this or
// another program with NewBarrier and [In], for as many parties as it was
// made for. It fails with an error wrapping [fs.ErrPermission] if s is
// read-only.
func LookupBarrier(s *Segment, name string) (*Barrier, error) {
	_, a, err := lookupArray[barrierWord](s, "LookupBarrier", name, true, kindBarrier)
	if err != nil {
		return nil, err
	}
	return &Barrier{a: a}, nil
}

// LookupCond returns the Cond named name in s, placed there by this or
// another program with NewCond and [In], bound to the Mutex it was made
// with, which lies in s. It fails with an error wrapping [fs.ErrPermission]
// if s is read-only.
func LookupCond(s *Segment, name string) (*Cond, error) {
	r, err := lookupObject[condState](s, "LookupCond", name, true, kindCond)
	if err != nil {
		return nil, err
	}
	return &Cond{m: as[Mutex](s.at(r.lock)), s: as[condState](s.at(r.off))}, nil
}
