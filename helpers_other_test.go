//go:build !linux

package shm_test

import (
	"errors"
	"testing"
)

func noChildren(tb testing.TB) {}

func pinToCPU(cpu int) error { return errors.ErrUnsupported }

func umask(mask int) int { return 0 }
