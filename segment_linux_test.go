package shm_test

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
	"testing"
	"unsafe"

	"github.com/shmgo/shm"
)

// TestSegmentsAreSealed: anyone who can open a segment through /proc/PID/fd
// could truncate it, and every process that maps it would die of SIGBUS on
// the pages cut off. Segments are sealed against shrinking and growing.
func TestSegmentsAreSealed(t *testing.T) {
	// An array large enough to get a segment of its own, so that a shrink
	// that succeeds (the bug) cuts only this test's memory.
	const n = 8 << 20
	a, err := shm.NewRawArray[byte](n)
	if err != nil {
		t.Fatal(err)
	}
	s := a.Slice()
	s[0], s[n-1] = 1, 2
	v, err := shm.NewValue[int64](42)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		p      unsafe.Pointer
		n      uintptr
		shrink bool
	}{
		{"own segment", unsafe.Pointer(unsafe.SliceData(s)), n, true},
		{"shared segment", unsafe.Pointer(v.Raw().Ptr()), 8, false},
	} {
		fd, size := shm.SegmentFd(c.p, c.n)
		if fd < 0 {
			t.Fatalf("%s: no segment holds the object", c.name)
		}
		f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		sizes := []int64{int64(size) * 2}
		if c.shrink {
			sizes = append(sizes, int64(size)-4096, 0)
		}
		for _, to := range sizes {
			if err := f.Truncate(to); !errors.Is(err, syscall.EPERM) {
				t.Errorf("%s: truncate from %d to %d bytes through /proc: %v, want EPERM", c.name, size, to, err)
			}
		}
		f.Close()
	}
	if got := readAfterFault(t, func() int { return int(s[n-1]) }); got != 2 {
		t.Errorf("last byte of the array = %d, want 2", got)
	}
	if got := v.Load(); got != 42 {
		t.Errorf("value = %d, want 42", got)
	}
}

// readAfterFault returns read(), failing the test instead of crashing it
// when the memory read is gone (SIGBUS).
func readAfterFault(t *testing.T, read func() int) (x int) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("reading the object faulted: %v", r)
			x = -1
		}
	}()
	return read()
}
