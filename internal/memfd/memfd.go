// Package memfd creates anonymous shared files and maps them. An anonymous
// file has no name in any file system: it lives while a process holds a
// descriptor or a mapping of it, so a crash leaks nothing.
package memfd
