package shm

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"unsafe"
)

const (
	// objectAlign is the alignment of every shared object: a cache line, so
	// that two objects written by different processes never share one.
	objectAlign = 64
	pageSize    = 4096

	firstSegment = 1 << 20  // size of the first segment of a process
	maxSegment   = 64 << 20 // segments double up to this size
)

// The heap hands out zeroed, aligned blocks of shared memory. Memory is never
// reused: a block lives as long as the processes that map it, which is what
// lets every pointer into it stay valid. The pages of a segment cost nothing
// until they are touched.
type heap struct {
	mu   sync.Mutex
	segs []*segment // every segment mapped here: inherited ones first, then this process's own
	cur  *segment   // the segment being carved, one this process created
	used uintptr    // bytes of cur handed out
	next int64      // size of the next shared segment
}

var theHeap heap

// alloc returns a zeroed block of size bytes aligned to objectAlign.
func (h *heap) alloc(size uintptr) (unsafe.Pointer, error) {
	if size == 0 {
		size = 1
	}
	if tokenErr != nil {
		return nil, tokenErr // its locks could not name this process
	}
	if size > maxObject {
		return nil, fmt.Errorf("shm: %d bytes is more than one object can hold", size)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.next == 0 {
		h.next = firstSegment
	}
	if size > uintptr(h.next)/4 {
		// A large object gets a segment of its own, sized to fit.
		s, err := newSegment(int64(roundUp(size, pageSize)))
		if err != nil {
			return nil, err
		}
		h.segs = append(h.segs, s)
		return segPointer(s, 0), nil
	}
	if h.cur == nil || roundUp(h.used, objectAlign)+size > uintptr(len(h.cur.mem)) {
		s, err := newSegment(h.next)
		if err != nil {
			return nil, err
		}
		if h.next < maxSegment {
			h.next *= 2
		}
		h.segs = append(h.segs, s)
		h.cur, h.used = s, 0
	}
	off := roundUp(h.used, objectAlign)
	h.used = off + size
	return segPointer(h.cur, off), nil
}

// maxObject bounds an object's size so that sizes and offsets never overflow:
// 64 TiB on 64-bit systems, 1 GiB on 32-bit ones.
const maxObject = uintptr(1) << (30 + 16*(^uintptr(0)>>63))

// find returns the segment holding the n bytes at p, and p's offset in it.
func (h *heap) find(p unsafe.Pointer, n uintptr) (*segment, uintptr, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.segs {
		if off, ok := s.contains(p, n); ok {
			return s, off, true
		}
	}
	return nil, 0, false
}

// byIno returns the segment whose file has inode ino.
func (h *heap) byIno(ino uint64) *segment {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lookupIno(ino)
}

// lookupIno is byIno for a caller that holds h.mu.
func (h *heap) lookupIno(ino uint64) *segment {
	for _, s := range h.segs {
		if s.ino == ino {
			return s
		}
	}
	return nil
}

// filesFor returns the segments that args refer to, as the inode numbers
// that name them and the files to pass to a child.
func (h *heap) filesFor(args []argMsg) ([]uint64, []*os.File, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var inos []uint64
	var files []*os.File
	for _, a := range args {
		for _, r := range a.Refs {
			if slices.Contains(inos, r.Seg) {
				continue
			}
			if s := h.lookupIno(r.Seg); s != nil {
				if s.file == nil {
					return nil, nil, fmt.Errorf("segment %q is closed: open it again to pass its objects to a child", s.named.name)
				}
				inos = append(inos, s.ino)
				files = append(files, s.file)
			}
		}
	}
	return inos, files, nil
}

// allFiles returns every segment that can be passed to a child, as the inode
// numbers that name them and their files: what a pool worker inherits.
func (h *heap) allFiles() ([]uint64, []*os.File) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var inos []uint64
	var files []*os.File
	for _, s := range h.segs {
		if s.file != nil {
			inos = append(inos, s.ino)
			files = append(files, s.file)
		}
	}
	return inos, files
}

// adopt adds segments inherited from the parent.
func (h *heap) adopt(segs []*segment) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.segs = append(h.segs, segs...)
}

// empty reports whether the heap has no segment: none made, none inherited.
func (h *heap) empty() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.segs) == 0
}

func roundUp(n, to uintptr) uintptr { return (n + to - 1) &^ (to - 1) }
