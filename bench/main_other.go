//go:build !linux

// Command bench measures shm on Linux, the only system shm supports so far.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "bench: shm's benchmark runs on Linux only, not %s\n", runtime.GOOS)
	os.Exit(1)
}
