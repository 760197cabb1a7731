//go:build !linux

package shmfile

import (
	"errors"
	"fmt"
	"os"
)

var errUnsupported = fmt.Errorf("named shared memory is not available on this system: %w", errors.ErrUnsupported)

func Path(name string) string                                   { return Dir + "/" + name }
func CreateTemp() (*os.File, error)                             { return nil, errUnsupported }
func Chmod(f *os.File, perm uint32) error                       { return errUnsupported }
func Truncate(f *os.File, size int64) error                     { return errUnsupported }
func Link(f *os.File, name string) error                        { return errUnsupported }
func Open(name string, write bool) (*os.File, error)            { return nil, errUnsupported }
func Reopen(f *os.File, write bool) (*os.File, error)           { return nil, errUnsupported }
func Stat(f *os.File) (Info, error)                             { return Info{}, errUnsupported }
func Writable(f *os.File) (bool, error)                         { return false, errUnsupported }
func ReadAt(f *os.File, b []byte, off int64) (int, error)       { return 0, errUnsupported }
func Free(f *os.File) (int64, error)                            { return 0, errUnsupported }
func Remove(name string) error                                  { return errUnsupported }
func Map(f *os.File, size int64, writable bool) ([]byte, error) { return nil, errUnsupported }
func Unmap(mem []byte) error                                    { return errUnsupported }
