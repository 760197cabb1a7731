package shm

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/shmgo/shm/internal/memfd"
)

// A segment is one anonymous shared file (a memfd), mapped into this process
// for the rest of its life. Segments are never unmapped: pointers into them,
// such as a *RawValue or the slice from RawArray.Slice, stay valid. The kernel
// frees a segment's memory when the last process that maps it exits.
type segment struct {
	file  *os.File // kept open so it can be passed to children; nil for a named segment closed in this process
	ino   uint64   // names the segment to the other processes of the family; see namedBit
	mem   []byte
	named *namedFile // set for a named segment (named.go)
}

// newSegment creates and maps a zeroed segment of size bytes. Its size is
// sealed: a truncate through /proc/PID/fd would otherwise kill every process
// that maps it with SIGBUS.
func newSegment(size int64) (*segment, error) {
	f, err := memfd.CreateSealed("shm", size)
	if err != nil {
		return nil, fmt.Errorf("shm: %w", err)
	}
	s, err := mapSegment(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// mapSegment maps the whole of f, a segment made by this process or inherited.
func mapSegment(f *os.File) (*segment, error) {
	size, ino, err := memfd.Stat(f)
	if err != nil {
		return nil, fmt.Errorf("shm: %w", err)
	}
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("shm: segment %d has unusable size %d", ino, size)
	}
	mem, err := memfd.Map(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("shm: segment %d: %w", ino, err)
	}
	return &segment{file: f, ino: ino, mem: mem}, nil
}

// contains reports whether the n bytes at p lie inside s; if so it returns p's offset.
func (s *segment) contains(p unsafe.Pointer, n uintptr) (uintptr, bool) {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s.mem)))
	a := uintptr(p)
	if a < base || a-base > uintptr(len(s.mem)) || n > uintptr(len(s.mem))-(a-base) {
		return 0, false
	}
	return a - base, true
}
