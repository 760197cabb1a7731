//go:build !linux

package memfd

import (
	"errors"
	"fmt"
	"os"
)

var errUnsupported = fmt.Errorf("shared memory files are not available on this system: %w", errors.ErrUnsupported)

func Create(name string, size int64) (*os.File, error)       { return nil, errUnsupported }
func CreateSealed(name string, size int64) (*os.File, error) { return nil, errUnsupported }
func Map(f *os.File, size int) ([]byte, error)               { return nil, errUnsupported }
func Unmap(b []byte) error                                   { return errUnsupported }
func Stat(f *os.File) (size int64, ino uint64, err error)    { return 0, 0, errUnsupported }
func Reopen(f *os.File) (*os.File, error)                    { return nil, errUnsupported }
func Inherit(fd int, name string) *os.File                   { return os.NewFile(uintptr(fd), name) }
func TryLockByte(f *os.File, off int64) (bool, error)        { return false, errUnsupported }
func ByteLocked(f *os.File, off int64) (bool, error)         { return false, errUnsupported }
func UnlockByte(f *os.File, off int64) error                 { return errUnsupported }
