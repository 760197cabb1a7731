//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shmgo/shm/dist/embedded"
)

// serve runs an embedded etcd server with its data in dir until standard
// input closes, after printing "endpoints" and its endpoints on a line.
func serve(dir string) error {
	s, err := embedded.Start(dir)
	if err != nil {
		return err
	}
	defer s.Stop()
	fmt.Println("endpoints", strings.Join(s.Endpoints(), ","))
	io.Copy(io.Discard, os.Stdin)
	return nil
}
