package dist

import (
	"encoding/binary"
	"unsafe"
)

// ne is this machine's byte order, in which T's bytes lie in memory.
var ne = binary.NativeEndian

// bytesOf returns the memory of *x as bytes. It is sound for the types a
// codec accepts: they hold no Go pointers (findUnportable refuses them), so
// reading and writing their bytes cannot hide a pointer from the garbage
// collector, and every byte pattern the decoder writes is a valid value of
// the field's kind (bools are written as 0 or 1). The slice lives no longer
// than x, which the caller keeps alive.
func bytesOf[T any](x *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(x)), unsafe.Sizeof(*x))
}
