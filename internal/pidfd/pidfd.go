// Package pidfd tells a process at once when another process exits, through a
// pidfd: a descriptor for a process that becomes readable when it exits.
package pidfd
