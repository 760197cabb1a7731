package unix

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// What named segments (internal/shmfile) use: files under /dev/shm made
// with O_TMPFILE and linked into place, read with pread before they are
// mapped, and mapped after a page of private memory.

const (
	EEXIST = unix.EEXIST
	ENOENT = unix.ENOENT

	O_RDONLY          = unix.O_RDONLY
	O_NONBLOCK        = unix.O_NONBLOCK
	O_TMPFILE         = unix.O_TMPFILE
	O_ACCMODE         = unix.O_ACCMODE
	F_GETFL           = unix.F_GETFL
	AT_FDCWD          = unix.AT_FDCWD
	AT_SYMLINK_FOLLOW = unix.AT_SYMLINK_FOLLOW
	MAP_PRIVATE       = unix.MAP_PRIVATE
	MAP_ANONYMOUS     = unix.MAP_ANONYMOUS
	MAP_FIXED         = unix.MAP_FIXED
)

type Statfs_t = unix.Statfs_t

func MmapPtr(fd int, offset int64, addr unsafe.Pointer, length uintptr, prot int, flags int) (unsafe.Pointer, error) {
	return unix.MmapPtr(fd, offset, addr, length, prot, flags)
}
func MunmapPtr(addr unsafe.Pointer, length uintptr) error { return unix.MunmapPtr(addr, length) }
func Fchmod(fd int, mode uint32) error                    { return unix.Fchmod(fd, mode) }
func Pread(fd int, p []byte, offset int64) (int, error)   { return unix.Pread(fd, p, offset) }
func Unlink(path string) error                            { return unix.Unlink(path) }
func Fstatfs(fd int, st *Statfs_t) error                  { return unix.Fstatfs(fd, st) }
func Geteuid() int                                        { return unix.Geteuid() }
func Linkat(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) error {
	return unix.Linkat(olddirfd, oldpath, newdirfd, newpath, flags)
}
func SetNonblock(fd int, nonblocking bool) error { return unix.SetNonblock(fd, nonblocking) }
