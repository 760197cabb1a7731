package shm

import "unsafe"

// SegmentFd returns the descriptor of the segment that holds the n bytes at
// p, and the segment's size, or -1 when no segment holds them.
func SegmentFd(p unsafe.Pointer, n uintptr) (fd int, size int) {
	s, _, ok := theHeap.find(p, n)
	if !ok {
		return -1, 0
	}
	return int(s.file.Fd()), len(s.mem)
}
