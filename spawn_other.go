//go:build !linux

package shm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// executable returns the file a child runs. /proc/self/exe, which names the
// running program itself, is Linux's; elsewhere the fallback is the program's
// path, which a replaced file would change.
func executable() (string, error) { return os.Executable() }

func startCmd(cmd *exec.Cmd) error {
	return fmt.Errorf("shm: child processes: %w", errors.ErrUnsupported)
}

func watchParent(ppid int) error { return nil }
