//go:build !linux

package shm

import (
	"errors"
	"fmt"
	"os/exec"
)

func startCmd(cmd *exec.Cmd) error {
	return fmt.Errorf("shm: child processes: %w", errors.ErrUnsupported)
}

func watchParent(ppid int) error { return nil }
