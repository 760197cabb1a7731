package shm

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// A pool sends a worker the segments made after it started over a unix
// socket, as descriptors (SCM_RIGHTS): mapping a segment costs the worker
// tens of microseconds, where starting another worker in its place costs
// tens of milliseconds.

// fdSocketPair returns the two ends of a unix socket for descriptors, the
// pool's and the worker's, both close-on-exec.
func fdSocketPair() (pool, worker *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: pool worker: socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "shm-pool-fds"), os.NewFile(uintptr(fds[1]), "shm-pool-fds"), nil
}

// sendFiles sends files over sock, in one message.
func sendFiles(sock *os.File, files []*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	err := syscall.Sendmsg(int(sock.Fd()), []byte{0}, syscall.UnixRights(fds...), nil, syscall.MSG_NOSIGNAL)
	runtime.KeepAlive(files)
	if err != nil {
		return fmt.Errorf("sending %d segments: %w", len(files), err)
	}
	return nil
}

// recvFiles receives n files that sendFiles sent over sock, close-on-exec.
func recvFiles(sock *os.File, n int) ([]*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, syscall.CmsgSpace(4*n))
	_, oobn, flags, _, err := syscall.Recvmsg(int(sock.Fd()), buf, oob, syscall.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receiving segments: %w", err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receiving segments: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "shm"))
		}
	}
	if flags&syscall.MSG_CTRUNC != 0 || len(files) != n {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("receiving segments: %d descriptors for %d", len(files), n)
	}
	return files, nil
}
