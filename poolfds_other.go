//go:build !linux

package shm

import (
	"errors"
	"fmt"
	"os"
)

var errNoFdPassing = fmt.Errorf("shm: passing descriptors: %w", errors.ErrUnsupported)

// Pools run on Linux only (NewPool says so); these keep the other systems
// compiling.
func fdSocketPair() (pool, worker *os.File, err error)   { return nil, nil, errNoFdPassing }
func sendFiles(sock *os.File, files []*os.File) error    { return errNoFdPassing }
func recvFiles(sock *os.File, n int) ([]*os.File, error) { return nil, errNoFdPassing }
