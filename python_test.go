package shm_test

import (
	"os/exec"
	"testing"
)

// TestPython runs the tests of python/shmgo.py, the Python module that speaks
// shm's segment format and lock protocol, so that `go test ./...` covers both
// languages. It is skipped only where there is no python3, and never in CI.
func TestPython(t *testing.T) {
	cmd := exec.Command(python3(t), "-m", "unittest", "discover", "-s", "python")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest discover -s python: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
