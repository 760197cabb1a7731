package shm

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"
)

// An objRef names an object in shared memory for another process of the
// family: the segment (by inode), the object's place in it, and a fingerprint
// of its type, checked on arrival.
type objRef struct {
	Seg  uint64
	Off  uint64
	Size uint64
	Type uint64
}

// object is implemented by the shm types that can be passed to [Start]. The
// decode method is called on a nil receiver, to build the object in the child.
type object interface {
	shmRefs() ([]objRef, error)
	shmDecode(refs []objRef) (reflect.Value, error)
}

var objectType = reflect.TypeFor[object]()

var (
	errNotShared = errors.New("not in shared memory: make it with an shm constructor")
	errZeroValue = errors.New("a zero Value: make it with NewValue")
	errZeroArray = errors.New("a zero Array: make it with NewArray")
)

// refOf returns the reference to the size bytes at p, of type fingerprint fp.
func refOf(p unsafe.Pointer, size uintptr, fp uint64) (objRef, error) {
	s, off, ok := theHeap.find(p, size)
	if !ok {
		return objRef{}, errNotShared
	}
	return objRef{Seg: s.ino, Off: uint64(off), Size: uint64(size), Type: fp}, nil
}

// resolve returns the address named by r after checking it against what the
// receiving parameter expects: its type fingerprint, size and alignment.
func resolve(r objRef, size, align uintptr, fp uint64) (unsafe.Pointer, error) {
	if r.Type != fp {
		return nil, errors.New("type differs from the sender's")
	}
	if r.Size != uint64(size) {
		return nil, fmt.Errorf("size %d differs from the sender's %d", size, r.Size)
	}
	s := theHeap.byIno(r.Seg)
	if s == nil {
		return nil, fmt.Errorf("segment %d was not inherited", r.Seg)
	}
	if r.Off > uint64(len(s.mem)) || r.Size > uint64(len(s.mem))-r.Off {
		return nil, fmt.Errorf("bytes %d to %d are outside segment %d of %d bytes", r.Off, r.Off+r.Size, r.Seg, len(s.mem))
	}
	if r.Off%uint64(align) != 0 {
		return nil, fmt.Errorf("offset %d is not aligned to %d", r.Off, align)
	}
	return segPointer(s, uintptr(r.Off)), nil
}

func needRefs(refs []objRef, n int) error {
	if len(refs) != n {
		return fmt.Errorf("%d references, want %d", len(refs), n)
	}
	return nil
}

func (m *Mutex) shmRefs() ([]objRef, error) {
	r, err := refOf(addr(m), unsafe.Sizeof(Mutex{}), infoOf[Mutex]().fingerprint)
	return []objRef{r}, err
}

func (*Mutex) shmDecode(refs []objRef) (reflect.Value, error) { return valueOf(decodeMutex(refs)) }

func decodeMutex(refs []objRef) (*Mutex, error) {
	if err := needRefs(refs, 1); err != nil {
		return nil, err
	}
	p, err := resolve(refs[0], unsafe.Sizeof(Mutex{}), unsafe.Alignof(Mutex{}), infoOf[Mutex]().fingerprint)
	if err != nil {
		return nil, err
	}
	return as[Mutex](p), nil
}

func (v *RawValue[T]) shmRefs() ([]objRef, error) {
	r, err := refOf(addr(v), unsafe.Sizeof(*v), infoOf[T]().fingerprint)
	return []objRef{r}, err
}

func (*RawValue[T]) shmDecode(refs []objRef) (reflect.Value, error) {
	return valueOf(decodeRawValue[T](refs))
}

func decodeRawValue[T any](refs []objRef) (*RawValue[T], error) {
	if err := needRefs(refs, 1); err != nil {
		return nil, err
	}
	var zero RawValue[T]
	p, err := resolve(refs[0], unsafe.Sizeof(zero), unsafe.Alignof(zero), infoOf[T]().fingerprint)
	if err != nil {
		return nil, err
	}
	return as[RawValue[T]](p), nil
}

func (a *RawArray[T]) shmRefs() ([]objRef, error) {
	size, _ := arraySize[T](a.Len())
	r, err := refOf(addr(a), size, infoOf[T]().fingerprint)
	return []objRef{r}, err
}

func (*RawArray[T]) shmDecode(refs []objRef) (reflect.Value, error) {
	return valueOf(decodeRawArray[T](refs))
}

func decodeRawArray[T any](refs []objRef) (*RawArray[T], error) {
	if err := needRefs(refs, 1); err != nil {
		return nil, err
	}
	r := refs[0]
	fp := infoOf[T]().fingerprint
	// Read the header first, then check the whole array against its length.
	var zero RawArray[T]
	hr := objRef{Seg: r.Seg, Off: r.Off, Size: uint64(unsafe.Sizeof(zero)), Type: r.Type}
	p, err := resolve(hr, unsafe.Sizeof(zero), objectAlign, fp)
	if err != nil {
		return nil, err
	}
	a := as[RawArray[T]](p)
	size, err := arraySize[T](a.Len())
	if err != nil {
		return nil, err
	}
	if _, err := resolve(r, size, objectAlign, fp); err != nil {
		return nil, err
	}
	return a, nil
}

// A Value or an Array travels as its lock's reference followed by its raw
// object's.

func (v *Value[T]) shmRefs() ([]objRef, error) {
	if v.mu == nil {
		return nil, errZeroValue
	}
	return lockedRefs(v.mu, v.raw)
}

func (*Value[T]) shmDecode(refs []objRef) (reflect.Value, error) {
	m, raw, err := decodeLocked(refs, decodeRawValue[T])
	return valueOf(&Value[T]{mu: m, raw: raw}, err)
}

func (a *Array[T]) shmRefs() ([]objRef, error) {
	if a.mu == nil {
		return nil, errZeroArray
	}
	return lockedRefs(a.mu, a.raw)
}

func (*Array[T]) shmDecode(refs []objRef) (reflect.Value, error) {
	m, raw, err := decodeLocked(refs, decodeRawArray[T])
	return valueOf(&Array[T]{mu: m, raw: raw}, err)
}

func lockedRefs(m *Mutex, raw object) ([]objRef, error) {
	mr, err := m.shmRefs()
	if err != nil {
		return nil, err
	}
	rr, err := raw.shmRefs()
	return append(mr, rr...), err
}

func decodeLocked[R any](refs []objRef, decodeRaw func([]objRef) (R, error)) (*Mutex, R, error) {
	var raw R
	if err := needRefs(refs, 2); err != nil {
		return nil, raw, err
	}
	m, err := decodeMutex(refs[:1])
	if err != nil {
		return nil, raw, err
	}
	raw, err = decodeRaw(refs[1:])
	return m, raw, err
}

// valueOf turns a decoder's result into what shmDecode returns: a value, or
// an error and nothing else.
func valueOf[P any](p P, err error) (reflect.Value, error) {
	if err != nil {
		return reflect.Value{}, err
	}
	return reflect.ValueOf(p), nil
}

// An Event or a Semaphore travels as one reference, as a Mutex does.

func (e *Event) shmRefs() ([]objRef, error) {
	r, err := refOf(addr(e), unsafe.Sizeof(Event{}), infoOf[Event]().fingerprint)
	return []objRef{r}, err
}

func (*Event) shmDecode(refs []objRef) (reflect.Value, error) {
	return valueOf(decodeFixed[Event](refs))
}

func (s *Semaphore) shmRefs() ([]objRef, error) {
	r, err := refOf(addr(s), unsafe.Sizeof(Semaphore{}), infoOf[Semaphore]().fingerprint)
	return []objRef{r}, err
}

func (*Semaphore) shmDecode(refs []objRef) (reflect.Value, error) {
	return valueOf(decodeFixed[Semaphore](refs))
}

func (cs *condState) shmRefs() ([]objRef, error) {
	r, err := refOf(addr(cs), unsafe.Sizeof(condState{}), infoOf[condState]().fingerprint)
	return []objRef{r}, err
}

func (*condState) shmDecode(refs []objRef) (reflect.Value, error) {
	return valueOf(decodeFixed[condState](refs))
}

// decodeFixed resolves the one reference to a shared object of type T.
func decodeFixed[T any](refs []objRef) (*T, error) {
	if err := needRefs(refs, 1); err != nil {
		return nil, err
	}
	var zero T
	p, err := resolve(refs[0], unsafe.Sizeof(zero), unsafe.Alignof(zero), infoOf[T]().fingerprint)
	if err != nil {
		return nil, err
	}
	return as[T](p), nil
}

// A Cond travels as its Mutex's reference followed by its state's, as a
// Value does; a Barrier as its array of words.

func (c *Cond) shmRefs() ([]objRef, error) {
	if c.s == nil {
		return nil, errors.New("a zero Cond: make it with NewCond")
	}
	return lockedRefs(c.m, c.s)
}

func (*Cond) shmDecode(refs []objRef) (reflect.Value, error) {
	m, s, err := decodeLocked(refs, decodeFixed[condState])
	return valueOf(&Cond{m: m, s: s}, err)
}

func (b *Barrier) shmRefs() ([]objRef, error) {
	if b.a == nil {
		return nil, errors.New("a zero Barrier: make it with NewBarrier")
	}
	return b.a.shmRefs()
}

func (*Barrier) shmDecode(refs []objRef) (reflect.Value, error) {
	a, err := decodeRawArray[barrierWord](refs)
	if err == nil && a.Len() < 2 {
		err = fmt.Errorf("a Barrier of %d words", a.Len())
	}
	return valueOf(&Barrier{a: a}, err)
}
