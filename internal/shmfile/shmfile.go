// Package shmfile makes, opens and maps the files of named segments: regular
// files in /dev/shm, as Python's multiprocessing.shared_memory makes them.
//
// A new file is made nameless (O_TMPFILE), filled, and only then linked under
// its name, so that nobody ever sees it half-made. A file is read with pread
// before it is mapped, so that a header can be checked without touching a
// mapping that a truncation could turn into SIGBUS. A file is mapped after a
// page of private memory (Pad bytes), so that the 64-byte header of a
// RawArray can precede the bytes of a file that has none.
package shmfile

// Dir is the directory of named segments.
const Dir = "/dev/shm"

// Pad is the size of the private memory mapped before a file.
const Pad = 4096

// Info is what Stat reports of a file.
type Info struct {
	Size    int64
	Ino     uint64
	Uid     uint32
	Perm    uint32 // the permission bits
	Regular bool   // a regular file, not a directory, device or pipe
}
