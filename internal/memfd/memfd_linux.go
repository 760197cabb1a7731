package memfd

import (
	"fmt"
	"os"

	"github.com/shmgo/shm/internal/unix"
)

// Create returns a new anonymous file of size bytes, all zero, opened
// close-on-exec. The name only shows in /proc/PID/maps and /proc/PID/fd.
func Create(name string, size int64) (*os.File, error) {
	fd, err := create(name, size, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// CreateSealed is Create for a file whose size never changes: it is sealed
// against shrinking and growing, and against more seals. Any process that
// can open /proc/PID/fd/N of a process that holds the file could otherwise
// truncate it, and every process that maps it would die of SIGBUS on the
// pages cut off; or seal it against writes, and every later mapping of it
// would fail.
func CreateSealed(name string, size int64) (*os.File, error) {
	fd, err := create(name, size, unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func create(name string, size int64, flags int) (int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|flags)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ftruncate memfd to %d bytes: %w", size, err)
	}
	return fd, nil
}

// Map maps size bytes of f, shared and writable.
func Map(f *os.File, size int) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return b, nil
}

// Unmap undoes Map.
func Unmap(b []byte) error { return unix.Munmap(b) }

// Stat returns the size of f and its inode number, which names the file
// uniquely among the files that exist.
func Stat(f *os.File) (size int64, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, 0, fmt.Errorf("fstat: %w", err)
	}
	return st.Size, st.Ino, nil
}

// Reopen opens f again through /proc/self/fd, which gives a new open file
// description: locks taken on it are this process's alone and are dropped by
// the kernel when the process dies. The new descriptor is close-on-exec.
func Reopen(f *os.File) (*os.File, error) {
	path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Inherit wraps descriptor fd, received from a parent process, and marks it
// close-on-exec so that it reaches no program but the ones it is passed to.
func Inherit(fd int, name string) *os.File {
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), name)
}

// TryLockByte takes an exclusive lock on byte off of f's open file
// description without waiting, and reports whether it got it.
func TryLockByte(f *os.File, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: unix.SEEK_SET, Start: off, Len: 1}
	err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	switch err {
	case nil:
		return true, nil
	case unix.EAGAIN, unix.EACCES:
		return false, nil
	}
	return false, fmt.Errorf("fcntl F_OFD_SETLK: %w", err)
}

// ByteLocked reports whether another open file description holds a lock on
// byte off of f. Locks held through f itself are not seen.
func ByteLocked(f *os.File, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: unix.SEEK_SET, Start: off, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, fmt.Errorf("fcntl F_OFD_GETLK: %w", err)
	}
	return lk.Type != unix.F_UNLCK, nil
}

// UnlockByte drops the lock on byte off of f's open file description.
func UnlockByte(f *os.File, off int64) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: unix.SEEK_SET, Start: off, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		return fmt.Errorf("fcntl F_OFD_SETLK unlock: %w", err)
	}
	return nil
}
