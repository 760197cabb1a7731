package shm

// Type descriptors: the layout of a type, written into a named segment's
// directory so that any program, in any language, can tell what an object
// holds and check it against what it expects. The format is the spec's
// (see named.go): canonical JSON, keys in a fixed order, no spaces.
//
//	scalar  {"kind":"float64","size":8,"align":8}
//	atomic  {"kind":"int64","size":8,"align":8,"atomic":true}
//	Mutex   {"kind":"mutex","size":8,"align":8}
//	Event   {"kind":"event","size":4,"align":4}
//	Semaphore {"kind":"semaphore","size":16,"align":8}
//	Cond    {"kind":"cond","size":8,"align":8} (its state; the Mutex is apart)
//	Barrier {"kind":"barrier","size":8,"align":8} (one word of its array)
//	array   {"kind":"array","size":32,"align":8,"len":4,"elem":D}
//	struct  {"kind":"struct","size":24,"align":8,"fields":[{"name":"X","offset":0,"type":D},...]}
//
// Two layouts are the same when their descriptors are the same bytes. A
// descriptor read from a segment is accepted only in its canonical form: it
// is parsed, checked, written again, and must come out byte for byte as it
// went in.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// maxDescriptor bounds a descriptor's length in bytes.
const maxDescriptor = 65536

// A desc is a parsed type descriptor.
type desc struct {
	Kind   string      `json:"kind"`
	Size   int64       `json:"size"`
	Align  int64       `json:"align"`
	Atomic bool        `json:"atomic"`
	Len    int64       `json:"len"`
	Elem   *desc       `json:"elem"`
	Fields []descField `json:"fields"`
}

type descField struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Type   *desc  `json:"type"`
}

// scalarLayouts gives the size and alignment of each scalar kind, on the
// 64-bit machines that named segments support.
var scalarLayouts = map[string][2]int64{
	"bool": {1, 1}, "int8": {1, 1}, "int16": {2, 2}, "int32": {4, 4}, "int64": {8, 8},
	"uint8": {1, 1}, "uint16": {2, 2}, "uint32": {4, 4}, "uint64": {8, 8},
	"float32": {4, 4}, "float64": {8, 8}, "complex64": {8, 4}, "complex128": {16, 8},
}

// typeDesc is a Go type's descriptor, worked out once.
type typeDesc struct {
	d     *desc
	bytes []byte // canonical JSON
	hash  uint64 // FNV-1a 64 of bytes
	err   error  // why the type has no descriptor (too large a one)
}

var typeDescs sync.Map // reflect.Type → *typeDesc

// descOf returns T's descriptor. T must have passed infoOf's checks.
func descOf[T any]() *typeDesc { return descOfType(reflect.TypeFor[T]()) }

func descOfType(t reflect.Type) *typeDesc {
	if td, ok := typeDescs.Load(t); ok {
		return td.(*typeDesc)
	}
	d := describeType(t)
	b := d.appendJSON(nil)
	td := &typeDesc{d: d, bytes: b, hash: descHash(b)}
	if len(b) > maxDescriptor {
		td.err = fmt.Errorf("the layout of %s takes a %d-byte descriptor, more than the %d a segment holds", t, len(b), maxDescriptor)
	}
	v, _ := typeDescs.LoadOrStore(t, td)
	return v.(*typeDesc)
}

// descHash is FNV-1a 64 of a descriptor's bytes.
func descHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

var mutexType = reflect.TypeFor[Mutex]()

// syncLayouts gives the descriptor kind, size and alignment of shm's types
// that are described by name rather than by their fields, as a Mutex is:
// their words follow a protocol, not a layout a program may read.
var syncLayouts = map[string]struct {
	t           reflect.Type
	size, align int64
}{
	"mutex":     {mutexType, 8, 8},
	"event":     {reflect.TypeFor[Event](), 4, 4},
	"semaphore": {reflect.TypeFor[Semaphore](), 16, 8},
	"cond":      {reflect.TypeFor[condState](), 8, 8},
	"barrier":   {reflect.TypeFor[barrierWord](), 8, 8},
}

// describeType returns the descriptor of t, a type that holds no Go pointers.
func describeType(t reflect.Type) *desc {
	d := &desc{Size: int64(t.Size()), Align: int64(t.Align())}
	for k, l := range syncLayouts {
		if t == l.t {
			d.Kind = k
			return d
		}
	}
	if t.PkgPath() == "sync/atomic" {
		switch t.Name() {
		case "Int32", "Int64", "Uint32", "Uint64":
			d.Kind, d.Atomic = strings.ToLower(t.Name()), true
			return d
		case "Uintptr":
			d.Kind, d.Atomic = "uint"+strconv.Itoa(8*int(t.Size())), true
			return d
		case "Bool":
			d.Kind, d.Atomic = "uint32", true
			return d
		}
	}
	switch k := t.Kind(); k {
	case reflect.Bool:
		d.Kind = "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.Kind = "int" + strconv.Itoa(8*int(t.Size()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		d.Kind = "uint" + strconv.Itoa(8*int(t.Size()))
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		d.Kind = k.String()
	case reflect.Array:
		d.Kind, d.Len, d.Elem = "array", int64(t.Len()), describeType(t.Elem())
	case reflect.Struct:
		d.Kind = "struct"
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Size() == 0 {
				continue
			}
			d.Fields = append(d.Fields, descField{Name: f.Name, Offset: int64(f.Offset), Type: describeType(f.Type)})
		}
	default:
		panic("shm: no descriptor for " + t.String()) // infoOf refuses such types first
	}
	return d
}

// appendJSON appends d's canonical JSON to b.
func (d *desc) appendJSON(b []byte) []byte {
	b = append(b, `{"kind":`...)
	b = strconv.AppendQuote(b, d.Kind)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, d.Size, 10)
	b = append(b, `,"align":`...)
	b = strconv.AppendInt(b, d.Align, 10)
	switch d.Kind {
	case "array":
		b = append(b, `,"len":`...)
		b = strconv.AppendInt(b, d.Len, 10)
		b = append(b, `,"elem":`...)
		b = d.Elem.appendJSON(b)
	case "struct":
		b = append(b, `,"fields":[`...)
		for i, f := range d.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendJSONString(b, f.Name)
			b = append(b, `,"offset":`...)
			b = strconv.AppendInt(b, f.Offset, 10)
			b = append(b, `,"type":`...)
			b = f.Type.appendJSON(b)
			b = append(b, '}')
		}
		b = append(b, ']')
	default:
		if d.Atomic {
			b = append(b, `,"atomic":true`...)
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Go identifiers need no
// escapes; anything else is escaped as encoding/json does, without its HTML
// escapes, so that a parsed name is written back the same.
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// parseDesc parses and checks a descriptor read from a segment: it must be
// valid, self-consistent and canonical.
func parseDesc(b []byte) (*desc, error) {
	if len(b) == 0 || len(b) > maxDescriptor {
		return nil, fmt.Errorf("%d bytes long, want 1 to %d", len(b), maxDescriptor)
	}
	var d desc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("not a descriptor: %v", err)
	}
	if err := d.check("type"); err != nil {
		return nil, err
	}
	if c := d.appendJSON(nil); !bytes.Equal(c, b) {
		return nil, fmt.Errorf("not in canonical form: %.80q, want %.80q", b, c)
	}
	return &d, nil
}

// maxDescSize bounds a described type's size, so that sums of sizes and
// offsets never overflow.
const maxDescSize = 1 << 48

// check reports what makes d impossible, naming the part at path.
func (d *desc) check(path string) error {
	if d.Size < 0 || d.Size > maxDescSize {
		return fmt.Errorf("%s: size %d out of range", path, d.Size)
	}
	if d.Align < 1 || d.Align > 4096 || d.Align&(d.Align-1) != 0 {
		return fmt.Errorf("%s: alignment %d is not a power of two up to 4096", path, d.Align)
	}
	if d.Size%d.Align != 0 {
		return fmt.Errorf("%s: size %d is not a multiple of its alignment %d", path, d.Size, d.Align)
	}
	if d.Kind != "array" && (d.Len != 0 || d.Elem != nil) || d.Kind != "struct" && d.Fields != nil {
		return fmt.Errorf("%s: a %s has no len, elem or fields", path, d.Kind)
	}
	if d.Atomic && d.Kind != "int32" && d.Kind != "int64" && d.Kind != "uint32" && d.Kind != "uint64" {
		return fmt.Errorf("%s: no atomic %s", path, d.Kind)
	}
	switch d.Kind {
	case "mutex", "event", "semaphore", "cond", "barrier":
		if l := syncLayouts[d.Kind]; d.Size != l.size || d.Align != l.align {
			return fmt.Errorf("%s: a %s has size %d and alignment %d, not %d and %d", path, d.Kind, l.size, l.align, d.Size, d.Align)
		}
	case "array":
		if d.Elem == nil {
			return fmt.Errorf("%s: an array without elem", path)
		}
		if err := d.Elem.check(path + "[0]"); err != nil {
			return err
		}
		if d.Len < 0 || d.Elem.Size != 0 && d.Len > maxDescSize/d.Elem.Size || d.Len*d.Elem.Size != d.Size {
			return fmt.Errorf("%s: %d elements of %d bytes do not make %d bytes", path, d.Len, d.Elem.Size, d.Size)
		}
		if d.Elem.Align != d.Align {
			return fmt.Errorf("%s: alignment %d differs from its elements' %d", path, d.Align, d.Elem.Align)
		}
	case "struct":
		end := int64(0)
		for i, f := range d.Fields {
			fp := path + "." + f.Name
			if f.Name == "" {
				return fmt.Errorf("%s: field %d has no name", path, i)
			}
			if f.Type == nil {
				return fmt.Errorf("%s: no type", fp)
			}
			if err := f.Type.check(fp); err != nil {
				return err
			}
			t := f.Type
			switch {
			case t.Size == 0:
				return fmt.Errorf("%s: a field of size 0 is left out of a descriptor", fp)
			case f.Offset < end || f.Offset > d.Size || t.Size > d.Size-f.Offset:
				return fmt.Errorf("%s: bytes %d to %d overlap another field or pass the end (%d)", fp, f.Offset, f.Offset+t.Size, d.Size)
			case f.Offset%t.Align != 0:
				return fmt.Errorf("%s: offset %d is not aligned to %d", fp, f.Offset, t.Align)
			case t.Align > d.Align:
				return fmt.Errorf("%s: alignment %d is more than the struct's %d", fp, t.Align, d.Align)
			}
			end = f.Offset + t.Size
		}
	default:
		l, ok := scalarLayouts[d.Kind]
		if !ok {
			return fmt.Errorf("%s: unknown kind %q", path, d.Kind)
		}
		if d.Size != l[0] || d.Align != l[1] {
			return fmt.Errorf("%s: a %s has size %d and alignment %d, not %d and %d", path, d.Kind, l[0], l[1], d.Size, d.Align)
		}
	}
	return nil
}

// String renders d readably, as Go would write the type:
// struct {X float64 @0; N [4]int32 @8}.
func (d *desc) String() string {
	var b strings.Builder
	d.render(&b)
	return b.String()
}

func (d *desc) render(b *strings.Builder) {
	switch d.Kind {
	case "mutex":
		b.WriteString("shm.Mutex")
	case "event":
		b.WriteString("shm.Event")
	case "semaphore":
		b.WriteString("shm.Semaphore")
	case "cond":
		b.WriteString("shm.Cond")
	case "barrier":
		b.WriteString("shm.Barrier word")
	case "array":
		fmt.Fprintf(b, "[%d]", d.Len)
		d.Elem.render(b)
	case "struct":
		b.WriteString("struct {")
		for i, f := range d.Fields {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(f.Name)
			b.WriteByte(' ')
			f.Type.render(b)
			fmt.Fprintf(b, " @%d", f.Offset)
		}
		b.WriteString("}")
	default:
		if d.Atomic {
			b.WriteString("atomic ")
		}
		b.WriteString(d.Kind)
	}
}

// layout renders d with its size: struct {X float64 @0} (8 bytes).
func (d *desc) layout() string { return fmt.Sprintf("%s (%d bytes)", d, d.Size) }

// A LayoutError reports a look-up of a named object whose layout in the
// segment differs from the layout of the type asked for.
type LayoutError struct {
	Segment string // the segment's name
	Object  string // the object's name
	Type    reflect.Type
	Want    string // the layout of Type, readably
	Have    string // the layout in the segment, readably
}

// Error shows both layouts.
func (e *LayoutError) Error() string {
	return fmt.Sprintf("shm: segment %q, object %q: the segment holds %s, not %s (%s)", e.Segment, e.Object, e.Have, e.Type, e.Want)
}

// Unwrap returns [ErrLayout].
func (e *LayoutError) Unwrap() error { return ErrLayout }

// ErrLayout is wrapped by a [LayoutError].
var ErrLayout = errors.New("shm: layouts differ")
