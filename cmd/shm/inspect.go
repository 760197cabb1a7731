package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shmgo/shm"
)

const inspectUsage = `usage: shm inspect [-n count] [-json] name

Inspect shows a named segment and every object in it: its name, kind
(RawValue, Value, RawArray, Array, Mutex, Event, Semaphore, Barrier or
Cond), type, lock and value. Scalars are printed as Go prints them, structs
as {Field: value ...}, arrays as [a b c ...] shortened to their first
elements, with "… (M more)" after them, an Event, a Semaphore, a Barrier or
a Cond, whether an object or a field of a value, by its state ("set", "2
permits", "4 parties, 1 arrived", "1 waiters, 0 of them signalled"), and a
Mutex, whether an object or a field of a value, as "unlocked" or
"locked by pid P (alive)" or "(dead)", with ", waiters" when a process may
be sleeping on it. A dead owner's PID is known if it created the segment or
if no process has taken its liveness token's slot since; if not, the lock
shows "locked by a dead process (token T)". Another user's locks show their
owner's PID when known, and "(owner's life unknown)". The LOCK column
shows the lock of a Value or an Array and the state of a Mutex; a Mutex
has no other value.
A raw segment (no shm header) has no objects: inspect shows its first bytes.

Inspect takes no lock: it reads the values as they are, so a value being
updated may show half of the update, and it never waits for the owner of a
lock. The flags, which come before the name, are:

	-n count  show the first count elements of an array (default 8);
	          0 shows them all
	-json     print one JSON object instead: "segment" (as shm ls -json
	          gives it), "allocation_lock", and "objects", each with name,
	          kind, type (of an element, for arrays), len, size, offset,
	          lock {locked, waiters, owner, pid, alive} for a Value, an
	          Array or a Mutex, and value (a Mutex has none) as JSON:
	          numbers, true and false, strings for complex numbers and
	          for NaN and infinities, arrays, and objects with the fields
	          in order. -n shortens the arrays that are objects; more
	          says how many elements were left out. Arrays within a value
	          are given whole. For a raw segment, "bytes" and "more".
`

// An inspectResult is what inspect -json prints.
type inspectResult struct {
	Segment        segRow          `json:"segment"`
	AllocationLock *lockJSON       `json:"allocation_lock,omitempty"`
	Objects        []objectJSON    `json:"objects"`
	Bytes          json.RawMessage `json:"bytes,omitempty"` // a raw segment's first bytes
	More           int             `json:"more,omitempty"`  // bytes left out
}

// An objectJSON is one object of inspect -json.
type objectJSON struct {
	Name   string          `json:"name"`
	Kind   string          `json:"kind"`
	Type   string          `json:"type"` // of an element, for an array
	Len    int             `json:"len"`
	Size   int             `json:"size"`
	Offset int64           `json:"offset"`
	Lock   *lockJSON       `json:"lock,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
	More   int             `json:"more,omitempty"` // elements left out
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, inspectUsage) }
	n := fs.Int("n", 8, "elements of an array to show; 0 for all")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, "usage: shm inspect [-n count] [-json] name\n")
		return 2
	}
	if *n < 0 {
		fmt.Fprintf(stderr, "shm inspect: -n %d: must be at least 0\n", *n)
		return 2
	}
	name := fs.Arg(0)
	seg, err := shm.Open(name)
	if err != nil {
		fmt.Fprintf(stderr, "shm inspect: %s\n", errText(nameHint(name, err)))
		return 1
	}
	defer seg.Close()
	var out bytes.Buffer
	err = guardFault(func() error {
		if *asJSON {
			return inspectJSONOut(&out, seg, *n)
		}
		return inspectText(&out, seg, *n)
	})
	if err != nil {
		fmt.Fprintf(stderr, "shm inspect: %s\n", errText(err))
		return 1
	}
	stdout.Write(out.Bytes())
	return 0
}

// An object is an object of the segment, decoded.
type object struct {
	shm.ObjectInfo
	lock  *lockJSON // of a Value, Array or Mutex
	value *node     // nil for a Mutex
}

// inspect reads the segment and decodes its objects: the first top
// elements of the objects that are arrays, and the first limit of the
// arrays within values (0: all).
func inspect(seg *shm.Segment, top, limit int) (segRow, *lockJSON, []object, error) {
	row, err := describe(seg, time.Now())
	if err != nil || row.Raw {
		return row, nil, nil, err
	}
	alloc := lockAt(seg, 64)
	infos, err := seg.Objects()
	if err != nil {
		return row, nil, nil, err
	}
	objs := make([]object, len(infos))
	for i, o := range infos {
		objs[i].ObjectInfo = o
		if strings.HasPrefix(o.Kind, "kind ") { // of a later version of shm: its fields are unknown
			objs[i].value = textNode("a kind this version of shm does not know")
			continue
		}
		var d desc
		if err := json.Unmarshal(o.Descriptor, &d); err != nil {
			return row, nil, nil, fmt.Errorf("object %q: descriptor %s: %v", o.Name, o.Descriptor, err)
		}
		dec := decoder{seg: seg, limit: limit}
		switch o.Kind {
		case "Event", "Semaphore", "Barrier", "Cond":
			objs[i].value = syncState(d.Kind, o.Data, o.Len)
		case "Mutex":
			objs[i].lock = lockAt(seg, o.Offset)
		case "RawArray", "Array":
			n := o.Len
			if top > 0 {
				n = min(n, top)
			}
			a := &node{isArr: true, more: int64(o.Len - n)}
			for j := 0; j < n; j++ {
				at := int64(j) * d.Size
				a.elems = append(a.elems, dec.decode(&d, o.Data[at:], o.Offset+at))
			}
			objs[i].value = a
		default:
			objs[i].value = dec.decode(&d, o.Data, o.Offset)
		}
		if o.Lock != 0 {
			objs[i].lock = lockAt(seg, o.Lock)
		}
	}
	return row, alloc, objs, nil
}

// textNode is a value shown as the text s, a JSON string.
func textNode(s string) *node { return &node{text: s, json: strconv.Quote(s)} }

// syncState describes the state of an Event, a Semaphore, a Barrier (of n
// words) or a Cond, by the kind its descriptor gives, from its words b (see
// the Format section of the shm package's named.go), read without
// synchronisation: a snapshot that may be changing.
func syncState(kind string, b []byte, n int) *node {
	ne := binary.NativeEndian
	switch kind {
	case "event":
		if ne.Uint32(b)&1 != 0 {
			return textNode("set")
		}
		return textNode("clear")
	case "semaphore":
		w, limit := ne.Uint64(b), ne.Uint64(b[8:])
		s := fmt.Sprintf("%d permits", uint32(w))
		if limit != 0 {
			s += fmt.Sprintf(" (bounded to %d)", limit-1)
		}
		if n := w >> 32; n > 0 {
			s += fmt.Sprintf(", %d processes asleep", n)
		}
		return textNode(s)
	case "barrier":
		w := ne.Uint64(b)
		s := fmt.Sprintf("%d parties, %d arrived", n-1, w>>32)
		if w&(1<<31) != 0 {
			s += ", broken"
		}
		return textNode(s)
	default: // Cond
		w := ne.Uint64(b)
		sig, m, q := w>>16&0xffff, w>>32&0xffff, w>>48
		return textNode(fmt.Sprintf("%d waiters, %d of them signalled", m+q, sig))
	}
}

func lockAt(seg *shm.Segment, off int64) *lockJSON {
	st, err := seg.LockState(off)
	if err != nil {
		return &lockJSON{Error: err.Error()}
	}
	return lockOf(st)
}

func inspectText(w io.Writer, seg *shm.Segment, n int) error {
	row, alloc, objs, err := inspect(seg, n, n)
	if err != nil {
		return err
	}
	if row.Raw {
		b, err := seg.Bytes()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "segment %s: %s, raw: no shm header, so no named objects\n", row.Name, humanSize(row.Size))
		xs := b.Slice()
		a := &node{isArr: true}
		if n > 0 && len(xs) > n {
			xs, a.more = xs[:n], int64(len(xs)-n)
		}
		for _, x := range xs {
			a.elems = append(a.elems, &node{text: strconv.Itoa(int(x))})
		}
		fmt.Fprintf(w, "bytes: %s\n", a.textOf(n))
		return nil
	}
	objects := "objects"
	if row.Objects == 1 {
		objects = "object"
	}
	fmt.Fprintf(w, "segment %s: %s, %s used, %d %s, mode %s", row.Name, humanSize(row.Size), humanSize(row.Used), row.Objects, objects, row.Mode)
	if row.ReadOnly {
		fmt.Fprint(w, ", read-only")
	}
	fmt.Fprintf(w, ", created by pid %s %s ago\n", row.Creator.text(os.Geteuid()), humanAge(*row.AgeNs))
	if alloc.Locked || alloc.Error != "" {
		fmt.Fprintf(w, "allocation lock: %s\n", alloc.text())
	}
	if len(objs) == 0 {
		fmt.Fprintln(w, "(no objects)")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tTYPE\tLOCK\tVALUE")
	for _, o := range objs {
		typ := o.Type
		if o.Kind == "RawArray" || o.Kind == "Array" {
			typ = fmt.Sprintf("[%d]%s", o.Len, o.Type)
		}
		lock, value := "-", "-"
		if o.lock != nil {
			lock = o.lock.text()
		}
		if o.value != nil {
			value = o.value.textOf(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Name, o.Kind, typ, lock, value)
	}
	return tw.Flush()
}

func inspectJSONOut(w io.Writer, seg *shm.Segment, n int) error {
	row, alloc, objs, err := inspect(seg, n, 0)
	if err != nil {
		return err
	}
	res := inspectResult{Segment: row, AllocationLock: alloc, Objects: []objectJSON{}}
	if row.Raw {
		b, err := seg.Bytes()
		if err != nil {
			return err
		}
		xs := b.Slice()
		if n > 0 && len(xs) > n {
			xs, res.More = xs[:n], len(xs)-n
		}
		var buf []byte
		buf = append(buf, '[')
		for i, x := range xs {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendUint(buf, uint64(x), 10)
		}
		res.Bytes = append(buf, ']')
	}
	for _, o := range objs {
		oj := objectJSON{Name: o.Name, Kind: o.Kind, Type: o.Type, Len: o.Len, Size: o.Size, Offset: o.Offset, Lock: o.lock}
		if o.value != nil {
			oj.Value, oj.More = o.value.appendJSON(nil), int(o.value.more)
		}
		res.Objects = append(res.Objects, oj)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// A desc is a type descriptor, as the segment's directory holds it (see
// package shm's descriptor.go).
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

// A node is a decoded value: a scalar (text and JSON), an array, a struct
// or a lock.
type node struct {
	text   string      // a scalar as Go prints it
	json   string      // a scalar in JSON
	elems  []*node     // an array's elements, perhaps only the first
	more   int64       // elements of an array not decoded
	fields []fieldNode // a struct's fields
	lock   *lockJSON   // a Mutex
	isArr  bool        // an array, even an empty one
}

type fieldNode struct {
	name string
	val  *node
}

// A decoder decodes values of a segment; limit bounds the elements decoded
// of an array within a value (0: all).
type decoder struct {
	seg   *shm.Segment
	limit int
}

// decode decodes b, the bytes of a value of layout d at offset off of the
// segment. The segment checked the descriptor and the object's bounds.
func (dec decoder) decode(d *desc, b []byte, off int64) *node {
	ne := binary.NativeEndian
	scalar := func(s string) *node { return &node{text: s, json: s} }
	switch d.Kind {
	case "bool":
		return scalar(strconv.FormatBool(b[0] != 0))
	case "int8":
		return scalar(strconv.FormatInt(int64(int8(b[0])), 10))
	case "int16":
		return scalar(strconv.FormatInt(int64(int16(ne.Uint16(b))), 10))
	case "int32":
		return scalar(strconv.FormatInt(int64(int32(ne.Uint32(b))), 10))
	case "int64":
		return scalar(strconv.FormatInt(int64(ne.Uint64(b)), 10))
	case "uint8":
		return scalar(strconv.FormatUint(uint64(b[0]), 10))
	case "uint16":
		return scalar(strconv.FormatUint(uint64(ne.Uint16(b)), 10))
	case "uint32":
		return scalar(strconv.FormatUint(uint64(ne.Uint32(b)), 10))
	case "uint64":
		return scalar(strconv.FormatUint(ne.Uint64(b), 10))
	case "float32":
		return floatNode(float64(math.Float32frombits(ne.Uint32(b))), 32)
	case "float64":
		return floatNode(math.Float64frombits(ne.Uint64(b)), 64)
	case "complex64":
		c := complex(float64(math.Float32frombits(ne.Uint32(b))), float64(math.Float32frombits(ne.Uint32(b[4:]))))
		return complexNode(c, 64)
	case "complex128":
		c := complex(math.Float64frombits(ne.Uint64(b)), math.Float64frombits(ne.Uint64(b[8:])))
		return complexNode(c, 128)
	case "mutex":
		return &node{lock: lockAt(dec.seg, off)}
	case "event", "semaphore": // the sync types that a value can hold
		return syncState(d.Kind, b, 1)
	case "array":
		n := d.Len
		if dec.limit > 0 && n > int64(dec.limit) {
			n = int64(dec.limit)
		}
		a := &node{isArr: true, more: d.Len - n}
		for i := int64(0); i < n; i++ {
			at := i * d.Elem.Size
			a.elems = append(a.elems, dec.decode(d.Elem, b[at:], off+at))
		}
		return a
	case "struct":
		s := &node{fields: []fieldNode{}}
		for _, f := range d.Fields {
			s.fields = append(s.fields, fieldNode{f.Name, dec.decode(f.Type, b[f.Offset:], off+f.Offset)})
		}
		return s
	}
	return scalar(strconv.Quote("unknown kind " + d.Kind))
}

func floatNode(f float64, bits int) *node {
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &node{text: s, json: strconv.Quote(s)}
	}
	return &node{text: s, json: s}
}

func complexNode(c complex128, bits int) *node {
	s := strconv.FormatComplex(c, 'g', -1, bits)
	return &node{text: s, json: strconv.Quote(s)}
}

// textOf shows the value as Go would print it, arrays cut after n elements
// (0: all).
func (v *node) textOf(n int) string {
	var b strings.Builder
	v.writeText(&b, n)
	return b.String()
}

func (v *node) writeText(b *strings.Builder, n int) {
	switch {
	case v.lock != nil:
		b.WriteString(v.lock.text())
	case v.fields != nil:
		b.WriteByte('{')
		for i, f := range v.fields {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(f.name)
			b.WriteString(": ")
			f.val.writeText(b, n)
		}
		b.WriteByte('}')
	case v.isArr:
		b.WriteByte('[')
		more := v.more
		elems := v.elems
		if n > 0 && len(elems) > n {
			more += int64(len(elems) - n)
			elems = elems[:n]
		}
		for i, e := range elems {
			if i > 0 {
				b.WriteByte(' ')
			}
			e.writeText(b, n)
		}
		if more > 0 {
			fmt.Fprintf(b, " … (%d more)", more)
		}
		b.WriteByte(']')
	default:
		b.WriteString(v.text)
	}
}

// appendJSON appends the value in JSON; arrays whole, as far as decoded.
func (v *node) appendJSON(b []byte) []byte {
	switch {
	case v.lock != nil:
		j, _ := json.Marshal(v.lock)
		return append(b, j...)
	case v.fields != nil:
		b = append(b, '{')
		for i, f := range v.fields {
			if i > 0 {
				b = append(b, ',')
			}
			name, _ := json.Marshal(f.name)
			b = append(b, name...)
			b = append(b, ':')
			b = f.val.appendJSON(b)
		}
		return append(b, '}')
	case v.isArr:
		b = append(b, '[')
		for i, e := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		return append(b, ']')
	}
	return append(b, v.json...)
}
