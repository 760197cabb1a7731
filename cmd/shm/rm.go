package main

import (
	"fmt"
	"io"

	"github.com/shmgo/shm"
)

const rmUsage = `usage: shm rm name ...

Rm removes the named segments: their names, as shm.Remove does. Processes
that have a segment mapped go on using its memory, which the kernel frees
when the last of them exits. Rm removes raw segments too (files in /dev/shm
without shm's header, such as Python's SharedMemory makes), but refuses
names that are not valid segment names (a path, say, or shm's own files:
.shm-*, the token tables).

Rm reports an error for each name it could not remove, goes on with the
others, and then exits with status 1.
`

func runRm(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, rmUsage)
		return 2
	}
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, rmUsage)
		return 0
	}
	code := 0
	for _, name := range args {
		if err := shm.Remove(name); err != nil {
			fmt.Fprintf(stderr, "shm rm: %s\n", errText(nameHint(name, err)))
			code = 1
		}
	}
	return code
}
