package shmfile

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/shmgo/shm/internal/unix"
)

// Map maps the size bytes of f, shared, for reading or for reading and
// writing, after Pad bytes of private, writable memory, and returns the
// whole: the file's byte i is byte Pad+i of the result. The mapping is made
// in one reserved range, so the two parts are always adjacent: an anonymous
// private mapping of the whole length is made first, and the file is mapped
// over its end with MAP_FIXED, which replaces that part of the mapping this
// function itself just made and nothing else.
func Map(f *os.File, size int64, writable bool) ([]byte, error) {
	if size < 0 || uint64(size) > uint64(^uintptr(0)>>1)-2*Pad {
		return nil, fmt.Errorf("mmap: unusable size %d", size)
	}
	fileLen := (uintptr(size) + Pad - 1) &^ (Pad - 1)
	total := Pad + fileLen
	base, err := unix.MmapPtr(-1, 0, nil, total, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", total, err)
	}
	if fileLen > 0 {
		prot := unix.PROT_READ
		if writable {
			prot |= unix.PROT_WRITE
		}
		// base+Pad is inside the range just reserved, page aligned.
		if _, err := unix.MmapPtr(int(f.Fd()), 0, unsafe.Add(base, Pad), fileLen, prot, unix.MAP_SHARED|unix.MAP_FIXED); err != nil {
			unix.MunmapPtr(base, total)
			return nil, fmt.Errorf("mmap %d bytes of %s: %w", size, f.Name(), err)
		}
	}
	// The range is total bytes long, mapped for the life of the mapping,
	// outside the Go heap; the slice shows only the pad and the file's bytes.
	return unsafe.Slice((*byte)(base), total)[:Pad+uintptr(size)], nil
}

// Unmap undoes Map.
func Unmap(mem []byte) error {
	return unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(mem)), uintptr(cap(mem)))
}
