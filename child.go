package shm

// The protocol between a parent and the children it starts, and the child's
// side of it: what Main runs in a child.

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"strings"

	"github.com/shmgo/shm/internal/memfd"
)

// A child learns that it is one, and which protocol its parent speaks, from
// this environment variable. Everything else comes through descriptor 3.
const envChild = "SHM_CHILD"

const protocolVersion = "1"

// The descriptors a child receives.
const (
	fdControl  = 3 // the start message in, the result out
	fdTokens   = 4 // the family's token table
	fdSegments = 5 // the first segment; the others follow
)

// startMsg is what a parent tells a child, through descriptor fdControl.
type startMsg struct {
	Func      string
	ParentPid int
	Segments  []uint64 // inode of the segment at fdSegments+i
	Args      []argMsg
}

// argMsg carries one argument: references for a shm object, gob bytes for a
// plain value.
type argMsg struct {
	Refs []objRef
	Data []byte
}

// resultMsg is what a child tells its parent, in the same file, when done.
type resultMsg struct {
	Code    int
	Message string
	Panic   bool
}

// resultMagic starts a result, so that a parent can tell one from the start
// message that a killed child left in place.
const resultMagic = "shm result\n"

func runChild() int {
	v := os.Getenv(envChild)
	os.Unsetenv(envChild)
	if v != protocolVersion {
		fmt.Fprintf(os.Stderr, "shm: child: parent speaks protocol %q, this program %q\n", v, protocolVersion)
		return 2
	}
	ctl := memfd.Inherit(fdControl, "shm-control")
	msg, fn, args, err := setUpChild(ctl)
	if err != nil {
		fmt.Fprintf(os.Stderr, "shm: child: %v\n", err)
		writeResult(ctl, resultMsg{Code: 2, Message: err.Error()})
		return 2
	}
	if msg == nil {
		return 2 // the parent died before the child started: nobody to report to
	}
	res := call(fn, args)
	writeResult(ctl, res)
	return res.Code
}

func setUpChild(ctl *os.File) (*startMsg, *target, []reflect.Value, error) {
	var msg startMsg
	// The descriptor shares its file offset with the parent's: read at offsets.
	if err := gob.NewDecoder(io.NewSectionReader(ctl, 0, maxControl)).Decode(&msg); err != nil {
		return nil, nil, nil, fmt.Errorf("reading the start message: %w", err)
	}
	if err := watchParent(msg.ParentPid); err != nil {
		return nil, nil, nil, nil
	}
	if tokenErr != nil {
		return nil, nil, nil, tokenErr
	}
	segs := make([]*segment, len(msg.Segments))
	for i, ino := range msg.Segments {
		s, err := mapSegment(memfd.Inherit(fdSegments+i, "shm"))
		if err != nil {
			return nil, nil, nil, err
		}
		if s.ino != ino {
			return nil, nil, nil, fmt.Errorf("descriptor %d is segment %d, want %d", fdSegments+i, s.ino, ino)
		}
		segs[i] = s
	}
	theHeap.adopt(segs)

	registryMu.RLock()
	t := registry[msg.Func]
	registryMu.RUnlock()
	if t == nil {
		return nil, nil, nil, fmt.Errorf("%s is not registered in this program; call shm.Register(%s) in an init function", msg.Func, shortName(msg.Func))
	}
	ft := t.fn.Type()
	if len(msg.Args) != ft.NumIn() {
		return nil, nil, nil, fmt.Errorf("%s takes %d arguments, got %d", t.name, ft.NumIn(), len(msg.Args))
	}
	args := make([]reflect.Value, len(msg.Args))
	for i, a := range msg.Args {
		v, err := decodeArg(ft.In(i), a)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: argument %d (%s): %w", t.name, i+1, ft.In(i), err)
		}
		args[i] = v
	}
	return &msg, t, args, nil
}

func decodeArg(pt reflect.Type, a argMsg) (reflect.Value, error) {
	if pt.Implements(objectType) {
		return reflect.Zero(pt).Interface().(object).shmDecode(a.Refs)
	}
	v := reflect.New(pt)
	if err := gob.NewDecoder(bytes.NewReader(a.Data)).DecodeValue(v); err != nil {
		return reflect.Value{}, err
	}
	return v.Elem(), nil
}

// call runs the target and turns what it returns, or its panic, into a result.
func call(t *target, args []reflect.Value) (res resultMsg) {
	defer func() {
		if r := recover(); r != nil {
			res = resultMsg{Code: 2, Panic: true, Message: fmt.Sprint(r) + "\n\n" + panicStack(debug.Stack())}
		}
	}()
	out := t.fn.Call(args)
	if t.isErr && !out[0].IsNil() {
		return resultMsg{Code: 1, Message: out[0].Interface().(error).Error()}
	}
	return resultMsg{}
}

// panicStack returns the first frames of a stack below the call to panic.
func panicStack(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			start = i + 2 // the panic call and its file line
		}
	}
	const frames = 4
	end := min(start+2*frames, len(lines))
	if start >= end {
		return ""
	}
	return strings.Join(lines[start:end], "\n")
}

func writeResult(ctl *os.File, res resultMsg) {
	var buf bytes.Buffer
	buf.WriteString(resultMagic)
	if err := gob.NewEncoder(&buf).Encode(res); err != nil {
		return
	}
	if err := ctl.Truncate(0); err != nil {
		return
	}
	ctl.WriteAt(buf.Bytes(), 0)
}

// readResult reads what a finished child wrote into its control file.
func readResult(ctl *os.File) (resultMsg, bool) {
	b, _ := io.ReadAll(io.NewSectionReader(ctl, 0, maxControl))
	return parseResult(b)
}

func parseResult(b []byte) (resultMsg, bool) {
	if !bytes.HasPrefix(b, []byte(resultMagic)) {
		return resultMsg{}, false
	}
	var res resultMsg
	if err := gob.NewDecoder(bytes.NewReader(b[len(resultMagic):])).Decode(&res); err != nil {
		return resultMsg{}, false
	}
	return res, true
}

// maxControl bounds what is read from a control file.
const maxControl = 1 << 30
