package shmfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/shmgo/shm/internal/unix"
)

var errNotRegular = errors.New("not a regular file")

// Path returns the path of the file named name.
func Path(name string) string { return Dir + "/" + name }

// CreateTemp makes a new file in Dir that has no name yet, open for reading
// and writing, of mode 0600 or less (the umask applies: set the mode with
// Chmod).
func CreateTemp() (*os.File, error) {
	fd, err := unix.Open(Dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &fs.PathError{Op: "open O_TMPFILE", Path: Dir, Err: err}
	}
	return os.NewFile(uintptr(fd), Dir+"/(unnamed)"), nil
}

// Chmod sets the permission bits of f to perm exactly, whatever the umask.
func Chmod(f *os.File, perm uint32) error {
	if err := unix.Fchmod(int(f.Fd()), perm); err != nil {
		return &fs.PathError{Op: "fchmod", Path: f.Name(), Err: err}
	}
	return nil
}

// Truncate sets the size of f.
func Truncate(f *os.File, size int64) error {
	if err := unix.Ftruncate(int(f.Fd()), size); err != nil {
		return &fs.PathError{Op: "ftruncate", Path: f.Name(), Err: err}
	}
	return nil
}

// Link gives f, made by CreateTemp, the name name. It fails with an error
// wrapping fs.ErrExist if the name is taken: of several processes linking
// files under one name, exactly one succeeds.
func Link(f *os.File, name string) error {
	from := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if err := unix.Linkat(unix.AT_FDCWD, from, unix.AT_FDCWD, Path(name), unix.AT_SYMLINK_FOLLOW); err != nil {
		return &fs.PathError{Op: "link", Path: Path(name), Err: err}
	}
	return nil
}

// Open opens the file named name, for reading only or for reading and
// writing. It does not follow a symbolic link, and it does not wait on a
// pipe: it refuses anything but a regular file.
func Open(name string, write bool) (*os.File, error) {
	fd, err := open(Path(name), write, unix.O_NOFOLLOW)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), Path(name)), nil
}

// Reopen opens f again, for reading only or for reading and writing: the same
// file, whatever has become of its name.
func Reopen(f *os.File, write bool) (*os.File, error) {
	fd, err := open(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), write, 0) // the magic link must be followed
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func open(path string, write bool, flags int) (int, error) {
	mode := unix.O_RDONLY
	if write {
		mode = unix.O_RDWR
	}
	fd, err := unix.Open(path, mode|flags|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, &fs.PathError{Op: "open", Path: path, Err: errNotRegular}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return -1, &fs.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return fd, nil
}

// Stat returns what shm needs to know of f.
func Stat(f *os.File) (Info, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return Info{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return Info{
		Size:    st.Size,
		Ino:     st.Ino,
		Uid:     st.Uid,
		Perm:    st.Mode & 0o7777,
		Regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
	}, nil
}

// Writable reports whether f is open for writing.
func Writable(f *os.File) (bool, error) {
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return false, &fs.PathError{Op: "fcntl F_GETFL", Path: f.Name(), Err: err}
	}
	return fl&unix.O_ACCMODE == unix.O_RDWR, nil
}

// ReadAt reads len(b) bytes of f from offset off, or fewer at its end.
func ReadAt(f *os.File, b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(int(f.Fd()), b[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "pread", Path: f.Name(), Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// Free returns the bytes free for an unprivileged user in the file system
// that holds f.
func Free(f *os.File) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, &fs.PathError{Op: "fstatfs", Path: f.Name(), Err: err}
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Remove removes the name name; the file lives on while it is open or mapped.
func Remove(name string) error {
	if err := unix.Unlink(Path(name)); err != nil {
		return &fs.PathError{Op: "unlink", Path: Path(name), Err: err}
	}
	return nil
}
