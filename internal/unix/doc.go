// Package unix re-exports the few parts of golang.org/x/sys/unix that shm uses.
// It is the only package of the module that imports golang.org/x/sys/unix, so the
// system surface of shm can be read in one place. On systems other than Linux it
// is empty.
package unix
