//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runPython runs one run of python/bench.py with args and returns what it
// measured. The script prints one JSON object on its last line of output.
func runPython(py string, args []string) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	script := filepath.Join(sourceDir(), "python", "bench.py")
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	// No __pycache__ in the source tree.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("python3 bench.py %s: %v: %s", strings.Join(args, " "), err, lastLine(errb.String()))
	}
	var s sample
	line := lastLine(out.String())
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		return sample{}, fmt.Errorf("python3 bench.py %s: bad output %q: %v", strings.Join(args, " "), line, err)
	}
	return s, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
