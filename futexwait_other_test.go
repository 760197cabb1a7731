//go:build !linux

package shm_test

import (
	"errors"
	"testing"
)

func asleepOn(tb testing.TB, pid int, addr uintptr) bool {
	tb.Skip("needs Linux")
	return false
}

func stopProcess(pid int, stop bool) error { return errors.ErrUnsupported }
