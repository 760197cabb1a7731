package unix

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Errors that callers compare against.
const (
	EAGAIN    = unix.EAGAIN
	EINTR     = unix.EINTR
	ETIMEDOUT = unix.ETIMEDOUT
	ENOSYS    = unix.ENOSYS
	EACCES    = unix.EACCES
	ELOOP     = unix.ELOOP
)

// Flags and commands.
const (
	MFD_CLOEXEC       = unix.MFD_CLOEXEC
	MFD_ALLOW_SEALING = unix.MFD_ALLOW_SEALING
	F_ADD_SEALS       = unix.F_ADD_SEALS
	F_GET_SEALS       = unix.F_GET_SEALS
	F_SEAL_SHRINK     = unix.F_SEAL_SHRINK
	F_SEAL_GROW       = unix.F_SEAL_GROW
	F_SEAL_SEAL       = unix.F_SEAL_SEAL
	O_RDWR            = unix.O_RDWR
	O_CLOEXEC         = unix.O_CLOEXEC
	O_CREAT           = unix.O_CREAT
	O_NOFOLLOW        = unix.O_NOFOLLOW
	S_IFMT            = unix.S_IFMT
	S_IFREG           = unix.S_IFREG
	PROT_READ         = unix.PROT_READ
	PROT_WRITE        = unix.PROT_WRITE
	MAP_SHARED        = unix.MAP_SHARED
	F_OFD_SETLK       = unix.F_OFD_SETLK
	F_OFD_GETLK       = unix.F_OFD_GETLK
	F_WRLCK           = unix.F_WRLCK
	F_UNLCK           = unix.F_UNLCK
	SEEK_SET          = unix.SEEK_SET
	PR_SET_PDEATHSIG  = unix.PR_SET_PDEATHSIG
	PIDFD_NONBLOCK    = unix.PIDFD_NONBLOCK

	// For named segments (internal/shmfile): files under /dev/shm made with
	// O_TMPFILE and linked into place, read with pread before they are
	// mapped, and mapped after a page of private memory.
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

type (
	Stat_t   = unix.Stat_t
	Flock_t  = unix.Flock_t
	Timespec = unix.Timespec
	CPUSet   = unix.CPUSet
	Statfs_t = unix.Statfs_t
)

func MemfdCreate(name string, flags int) (int, error) { return unix.MemfdCreate(name, flags) }
func Ftruncate(fd int, size int64) error              { return unix.Ftruncate(fd, size) }
func Fstat(fd int, st *Stat_t) error                  { return unix.Fstat(fd, st) }
func Stat(path string, st *Stat_t) error              { return unix.Stat(path, st) }
func Open(path string, mode int, perm uint32) (int, error) {
	return unix.Open(path, mode, perm)
}
func Close(fd int) error                        { return unix.Close(fd) }
func PidfdOpen(pid int, flags int) (int, error) { return unix.PidfdOpen(pid, flags) }
func Mmap(fd int, offset int64, length int, prot int, flags int) ([]byte, error) {
	return unix.Mmap(fd, offset, length, prot, flags)
}
func Munmap(b []byte) error                             { return unix.Munmap(b) }
func FcntlFlock(fd uintptr, cmd int, lk *Flock_t) error { return unix.FcntlFlock(fd, cmd, lk) }
func FcntlInt(fd uintptr, cmd, arg int) (int, error)    { return unix.FcntlInt(fd, cmd, arg) }
func CloseOnExec(fd int)                                { unix.CloseOnExec(fd) }
func NsecToTimespec(ns int64) Timespec                  { return unix.NsecToTimespec(ns) }
func SchedSetaffinity(tid int, set *CPUSet) error       { return unix.SchedSetaffinity(tid, set) }
func MmapPtr(fd int, offset int64, addr unsafe.Pointer, length uintptr, prot int, flags int) (unsafe.Pointer, error) {
	return unix.MmapPtr(fd, offset, addr, length, prot, flags)
}
func MunmapPtr(addr unsafe.Pointer, length uintptr) error { return unix.MunmapPtr(addr, length) }
func Fchmod(fd int, mode uint32) error                    { return unix.Fchmod(fd, mode) }
func Pread(fd int, p []byte, offset int64) (int, error)   { return unix.Pread(fd, p, offset) }
func Unlink(path string) error                            { return unix.Unlink(path) }
func Fstatfs(fd int, st *Statfs_t) error                  { return unix.Fstatfs(fd, st) }
func Linkat(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) error {
	return unix.Linkat(olddirfd, oldpath, newdirfd, newpath, flags)
}
func SetNonblock(fd int, nonblocking bool) error { return unix.SetNonblock(fd, nonblocking) }

// SchedYield gives the processor to another runnable thread, of any process.
// runtime.Gosched yields only to goroutines of this process.
func SchedYield() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// Futex calls futex(2) with the operation op on the word at addr.
func Futex(addr unsafe.Pointer, op int, val uint32, ts *Timespec) (int, syscall.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(addr), uintptr(op), uintptr(val),
		uintptr(unsafe.Pointer(ts)), 0, 0)
	return int(r), e
}
