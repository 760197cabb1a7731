package dist

// The portable encoding. A value of T travels as its fields' bytes in
// order, little-endian, without padding: bool and the 8-bit kinds as one
// byte; int16, int32, float32 as 2 and 4; int, uint and uintptr as 64-bit
// integers whatever the machine's word, then int64, uint64, float64 as 8;
// complex numbers as their real then imaginary parts; an array as its
// elements one after another. Two machines of any byte order and word size
// thus read the same bytes the same way.
//
// Beside the bytes goes T's layout, written as Go would write the type with
// int made int64 (struct {A int64; B [4]float32}), and a program that opens
// a name checks it against its own T's, as shm's named segments check their
// type descriptors.

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// A codec encodes and decodes one type T.
type codec struct {
	t      reflect.Type
	layout string // T's layout, as it is stored and shown
	size   int    // the encoded size in bytes
	root   *node
	err    error // a *TypeError if T cannot be stored
}

// A node is a part of T: a scalar, an array or a struct.
type node struct {
	kind   reflect.Kind
	goSize int     // the part's size in memory
	wire   int     // its encoded size
	n      int     // an array's length
	elem   *node   // an array's element
	fields []field // a struct's fields
}

type field struct {
	off uintptr // offset in memory
	n   *node
}

var codecs sync.Map // reflect.Type → *codec

// codecFor returns T's codec, worked out once.
func codecFor[T any]() *codec { return codecOf(reflect.TypeFor[T]()) }

func codecOf(t reflect.Type) *codec {
	if c, ok := codecs.Load(t); ok {
		return c.(*codec)
	}
	c := &codec{t: t}
	if path, bad, reason := findUnportable(t, typeName(t)); bad != nil {
		c.err = &TypeError{Type: t, Field: path, Bad: bad, Reason: reason}
	} else {
		var b strings.Builder
		c.root = build(t, &b)
		c.layout, c.size = b.String(), c.root.wire
	}
	v, _ := codecs.LoadOrStore(t, c)
	return v.(*codec)
}

func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// findUnportable returns the path to, the type of, and the reason against
// the first part of t that means nothing on another machine, or a nil type
// when every part can be stored.
func findUnportable(t reflect.Type, path string) (string, reflect.Type, string) {
	switch t.PkgPath() {
	case "sync", "internal/sync":
		if t.Size() != 0 {
			return path, t, "locks or waits only within one process; use dist.Mutex"
		}
	case "sync/atomic":
		if t.Size() != 0 {
			return path, t, "is atomic only in one machine's memory; use Value.Update, the atomic operation across machines"
		}
	case "github.com/shmgo/shm":
		if t.Size() != 0 {
			return path, t, "works only between processes of one machine; use dist's Mutex, Event or Barrier"
		}
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return "", nil, ""
	case reflect.Array:
		if t.Len() == 0 {
			return "", nil, ""
		}
		return findUnportable(t.Elem(), path+"[0]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if p, bad, reason := findUnportable(f.Type, path+"."+f.Name); bad != nil {
				return p, bad, reason
			}
		}
		return "", nil, ""
	case reflect.String:
		return path, t, "cannot be stored (a string points to its bytes; use a fixed-size byte array)"
	case reflect.Slice:
		return path, t, "cannot be stored (a slice points to its elements; use a fixed-size array)"
	case reflect.Pointer, reflect.UnsafePointer:
		return path, t, "cannot be stored (an address means nothing on another machine)"
	}
	return path, t, "cannot be stored (it holds Go pointers)"
}

// build returns t's node and writes its layout to b.
func build(t reflect.Type, b *strings.Builder) *node {
	nd := &node{kind: t.Kind(), goSize: int(t.Size())}
	switch k := t.Kind(); k {
	case reflect.Bool, reflect.Int8, reflect.Uint8:
		nd.wire = 1
		b.WriteString(k.String())
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64:
		nd.wire = wireInt(t)
		b.WriteString("int" + strconv.Itoa(8*nd.wire))
	case reflect.Uint, reflect.Uintptr, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		nd.wire = wireInt(t)
		b.WriteString("uint" + strconv.Itoa(8*nd.wire))
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		nd.wire = int(t.Size())
		b.WriteString(k.String())
	case reflect.Array:
		nd.n = t.Len()
		fmt.Fprintf(b, "[%d]", nd.n)
		nd.elem = build(t.Elem(), b)
		nd.wire = nd.n * nd.elem.wire
	case reflect.Struct:
		b.WriteString("struct {")
		first := true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Size() == 0 {
				continue // holds nothing, as a noCopy marker
			}
			if !first {
				b.WriteString("; ")
			}
			first = false
			b.WriteString(f.Name)
			b.WriteByte(' ')
			fn := build(f.Type, b)
			nd.fields = append(nd.fields, field{off: f.Offset, n: fn})
			nd.wire += fn.wire
		}
		b.WriteString("}")
	}
	return nd
}

// wireInt is an integer type's encoded size: int, uint and uintptr are 8
// bytes on every machine.
func wireInt(t reflect.Type) int {
	switch t.Kind() {
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		return 8
	}
	return int(t.Size())
}

// encode appends the encoding of the value at mem (T's bytes in memory) to b.
func (nd *node) encode(b []byte, mem []byte) []byte {
	le := binary.LittleEndian
	switch nd.kind {
	case reflect.Bool:
		if mem[0] != 0 {
			return append(b, 1)
		}
		return append(b, 0)
	case reflect.Int8, reflect.Uint8:
		return append(b, mem[0])
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		var x uint64
		if nd.goSize == 8 {
			x = ne.Uint64(mem)
		} else if nd.kind == reflect.Int {
			x = uint64(int64(int32(ne.Uint32(mem))))
		} else {
			x = uint64(ne.Uint32(mem))
		}
		return le.AppendUint64(b, x)
	case reflect.Int16, reflect.Uint16:
		return le.AppendUint16(b, ne.Uint16(mem))
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		return le.AppendUint32(b, ne.Uint32(mem))
	case reflect.Int64, reflect.Uint64, reflect.Float64:
		return le.AppendUint64(b, ne.Uint64(mem))
	case reflect.Complex64:
		return le.AppendUint32(le.AppendUint32(b, ne.Uint32(mem)), ne.Uint32(mem[4:]))
	case reflect.Complex128:
		return le.AppendUint64(le.AppendUint64(b, ne.Uint64(mem)), ne.Uint64(mem[8:]))
	case reflect.Array:
		es := nd.elem.goSize
		for i := 0; i < nd.n; i++ {
			b = nd.elem.encode(b, mem[i*es:])
		}
		return b
	case reflect.Struct:
		for _, f := range nd.fields {
			b = f.n.encode(b, mem[f.off:])
		}
		return b
	}
	panic("dist: encode of " + nd.kind.String())
}

// decode reads the encoding in b into mem, T's bytes in memory, and returns
// the rest of b. It reports an int that does not fit this machine's int.
func (nd *node) decode(b []byte, mem []byte) ([]byte, error) {
	le := binary.LittleEndian
	switch nd.kind {
	case reflect.Bool:
		mem[0] = 0
		if b[0] != 0 {
			mem[0] = 1
		}
		return b[1:], nil
	case reflect.Int8, reflect.Uint8:
		mem[0] = b[0]
		return b[1:], nil
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		x := le.Uint64(b)
		switch {
		case nd.goSize == 8:
			ne.PutUint64(mem, x)
		case nd.kind == reflect.Int && int64(int32(x)) == int64(x), nd.kind != reflect.Int && x <= math.MaxUint32:
			ne.PutUint32(mem, uint32(x))
		default:
			return nil, fmt.Errorf("%d does not fit a %d-bit %s", int64(x), 8*nd.goSize, nd.kind)
		}
		return b[8:], nil
	case reflect.Int16, reflect.Uint16:
		ne.PutUint16(mem, le.Uint16(b))
		return b[2:], nil
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		ne.PutUint32(mem, le.Uint32(b))
		return b[4:], nil
	case reflect.Int64, reflect.Uint64, reflect.Float64:
		ne.PutUint64(mem, le.Uint64(b))
		return b[8:], nil
	case reflect.Complex64:
		ne.PutUint32(mem, le.Uint32(b))
		ne.PutUint32(mem[4:], le.Uint32(b[4:]))
		return b[8:], nil
	case reflect.Complex128:
		ne.PutUint64(mem, le.Uint64(b))
		ne.PutUint64(mem[8:], le.Uint64(b[8:]))
		return b[16:], nil
	case reflect.Array:
		es := nd.elem.goSize
		var err error
		for i := 0; i < nd.n && err == nil; i++ {
			b, err = nd.elem.decode(b, mem[i*es:])
		}
		return b, err
	case reflect.Struct:
		var err error
		for _, f := range nd.fields {
			if b, err = f.n.decode(b, mem[f.off:]); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	panic("dist: decode of " + nd.kind.String())
}

// appendValue appends the encoding of x to b.
func appendValue[T any](c *codec, b []byte, x *T) []byte {
	return c.root.encode(b, bytesOf(x))
}

// decodeValue decodes b, which must be exactly one encoded T, into x.
func decodeValue[T any](c *codec, b []byte, x *T) error {
	if len(b) != c.size {
		return fmt.Errorf("%d bytes, not the %d of %s", len(b), c.size, c.layout)
	}
	var tmp T
	if _, err := c.root.decode(b, bytesOf(&tmp)); err != nil {
		return err
	}
	*x = tmp
	return nil
}
