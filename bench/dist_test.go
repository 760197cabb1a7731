//go:build linux

package main

import (
	"path/filepath"
	"testing"
)

// TestServeFailureLeavesNoData checks that a server that cannot start
// leaves no data directory behind in /dev/shm.
func TestServeFailureLeavesNoData(t *testing.T) {
	before, err := filepath.Glob(filepath.Join(memDir(), "shm-bench-etcd-*"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serve(filepath.Join(t.TempDir(), "no-such-distbench")); err == nil {
		t.Fatal("serve of a missing program succeeded")
	}
	after, err := filepath.Glob(filepath.Join(memDir(), "shm-bench-etcd-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) > len(before) {
		t.Fatalf("data directories before %v, after %v", before, after)
	}
}
