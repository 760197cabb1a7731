package shm

// All the pointer arithmetic of package shm is in this file. Every pointer made
// here points into a segment: memory mapped with mmap outside the Go heap, kept
// mapped for the life of the process, never moved by the garbage collector, and
// holding only types checked by findPointer to contain no Go pointers.

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"
)

// segPointer returns the address of byte off of segment s. off is inside the
// mapping (the heap and resolve check it), so the result stays in bounds.
func segPointer(s *segment, off uintptr) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(s.mem)), off)
}

// as converts a pointer into a segment to *T. Sound when p is aligned to T
// (blocks are aligned to objectAlign, at least the alignment of any Go type)
// and the block is at least unsafe.Sizeof(T) long: the callers allocate or
// resolve exactly that size.
func as[T any](p unsafe.Pointer) *T { return (*T)(p) }

// arrayData returns the elements of a, which follow its header in the same
// block. The block was sized for a.n elements of T at arrayHeader bytes in,
// a multiple of objectAlign, so the elements are aligned and in bounds.
func arrayData[T any](a *RawArray[T]) []T {
	return unsafe.Slice((*T)(unsafe.Add(unsafe.Pointer(a), arrayHeader)), a.n)
}

// addr returns the address of an object, to find its segment.
func addr[T any](p *T) unsafe.Pointer { return unsafe.Pointer(p) }

// futexWord returns the 32-bit half of a 64-bit lock word that holds its bits
// 0-31: the half the kernel's futex compares. It is the first half in memory
// on little-endian machines and the second on big-endian ones. Sound because
// an atomic.Uint64 is 8 bytes aligned to 8, so either half is a 4-byte word
// aligned to 4 inside it, and the kernel and sync/atomic both access it as a
// whole aligned word.
func futexWord(w *atomic.Uint64) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Add(unsafe.Pointer(w), lowHalf))
}

// lowHalf is the offset of bits 0-31 in a 64-bit word.
var lowHalf = 4 * uintptr(binary.NativeEndian.Uint16([]byte{0, 1})&1)

// wordAt returns the 64-bit word at byte off of b, to be read and written
// atomically. Sound because b is a named segment's file image, which starts
// page aligned (a mapping) or 8-aligned (alignedCopy), and every offset
// passed here is a header field's (a multiple of 8) or a record's, checked
// to be a multiple of 64; the index expression checks that the 8 bytes are
// inside b. The memory is outside the Go heap or in a []uint64, and holds no
// Go pointers.
func wordAt(b []byte, off uint64) *atomic.Uint64 {
	_ = b[off+7]
	return (*atomic.Uint64)(unsafe.Pointer(&b[off]))
}

// word32At is wordAt for the 32-bit header field count, at a multiple of 4,
// and for the turn word at offset 0 of a pool worker's slot (poolchan.go), a
// mapping of its own, page aligned.
func word32At(b []byte, off uint64) *atomic.Uint32 {
	_ = b[off+3]
	return (*atomic.Uint32)(unsafe.Pointer(&b[off]))
}

// alignedCopy returns a copy of b that starts 8-aligned, as a mapping does,
// so that wordAt may be used on it: the bytes of a new []uint64, which the
// garbage collector keeps alive through the returned slice.
func alignedCopy(b []byte) []byte {
	words := make([]uint64, (len(b)+7)/8)
	c := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:len(b)]
	copy(c, b)
	return c
}
