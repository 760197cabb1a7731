package shm

// The parent-child protocol, whole.
//
// A child is this program started again by [Start] (the very file, see
// "The executable" below), with os.Args[0] as its only argument. It receives
// three things:
//
//   - The environment variable SHM_CHILD (envChild), set to protocolVersion.
//     Its presence tells the child that it is one: token.go's init joins the
//     parent's token table instead of making its own, and [Main] runs the
//     target instead of returning. Its value is the protocol the parent
//     speaks; a child that speaks another refuses to run. The child removes
//     the variable from its environment before the target runs, so that a
//     program the target execs does not take itself for a child, and Start
//     never passes on its own, nor one that [Cmd.Env] gives (childEnviron).
//     The rest of the environment is the parent's or Cmd.Env, the user's.
//
//   - Descriptors, given through exec.Cmd.ExtraFiles in this order
//     (childFiles): 3 (fdControl) is the control file, a memfd that holds the
//     start message and later the result; 4 (fdTokens) is the family's token
//     table (internal/token); 5 (fdSegments) and up are the segments the
//     arguments live in, and no others. Descriptors 0 to 2 are the user's,
//     as [Cmd] says; the protocol does not use them.
//
//   - The start message (startMsg), gob-encoded at offset 0 of the control
//     file before the child starts: the registry key of the target (its name;
//     for an instantiation of a generic function, its name and place in the
//     executable: see targetKey), the parent's process ID (the child checks that it is still its parent,
//     see watchParent), the inode of the segment at each descriptor from
//     fdSegments on, and one argMsg per argument. A shm object travels as
//     references (objRef: segment inode, offset, size, type fingerprint) that
//     the child checks against the parameter's type and resolves in the
//     segments it inherited (the shmRefs and shmDecode methods in object.go);
//     any other value travels as gob bytes (encodeValue), decoded into a new
//     value of the parameter's type (decodeArg). What may travel is checked
//     twice in the parent: each parameter type once by Register (checkParam),
//     each argument by Start (argValue in process.go, then encodeArg).
//
// The result. When the target returns or panics, the child replaces the
// content of the control file with resultMagic followed by a gob-encoded
// resultMsg: the exit code it is about to exit with (exitOK, exitError,
// exitPanic), the text of the returned error or of the panic with its stack,
// and whether it panicked; it prints the same to its standard error, and
// exits with that code. The parent reads the file once
// wait4 has returned: the child's writes happen before its exit, which
// happens before wait4 returns. A result starts with resultMagic, so that a
// killed child's start message is not mistaken for one. A child that exits
// without a result, or with another exit code than its result's, did not
// finish its target, and Join says so even when the exit status is 0.
//
// The executable. The child runs /proc/self/exe, the parent's own file (see
// executable in spawn_linux.go): were it started by path, a file replaced
// since the parent started would run instead, another program or another
// build, which would not speak this protocol, or a different one.
//
// The control file is one open file description shared by parent and child,
// and so is its file offset: both sides read and write at explicit offsets
// only.
//
// A pool worker (pool.go) is a child whose start message says Pool: its
// Func and Args are the pool's Init, which it runs once; it then receives
// four more descriptors after its segments, the read end of a task pipe at
// fdSegments+len(Segments), the write end of a reply pipe after it, the
// worker's slot after that, a memfd of slotSize bytes (poolchan.go), and
// last a unix socket (poolfds_linux.go) on which the pool sends, with a
// task whose Segments name them, the segments made since the worker
// started; it inherits every segment of its parent rather than those of
// its arguments.
// It tells the pool it is ready, then runs tasks (taskMsg, replyMsg, in the
// binary form of poolmsg.go) passed in the slot, or on the pipes when they do not fit
// in it, until the pool tells it to quit; it then reports its result in the
// control file as any child does. A task's arguments are encoded as a start
// message's are.
//
// The version. protocolVersion changes whenever anything above changes
// (version 2: generic instantiations got keys of their own; version 3: pool
// workers; version 4: a pool worker's slot in shared memory; version 5: the
// pool's messages in a binary form of their own, not gob).

import (
	"bytes"
	"encoding"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
)

// envChild is the environment variable that makes a process a child.
const envChild = "SHM_CHILD"

// protocolVersion is the value of envChild: the version of this protocol.
const protocolVersion = "5"

// The descriptors a child receives: ExtraFiles[i] is descriptor 3+i.
const (
	fdControl  = 3 + iota // the start message in, the result out
	fdTokens              // the family's token table
	fdSegments            // the first segment; the others follow
)

// The exit codes of a child, which its result repeats.
const (
	exitOK    = 0 // the target returned nothing or nil
	exitError = 1 // the target returned an error
	exitPanic = 2 // the target panicked, or the child could not run it
)

// startMsg is what a parent tells a child, through descriptor fdControl.
type startMsg struct {
	Func      string // the target's registry key
	ParentPid int
	Segments  []uint64 // inode of the segment at fdSegments+i
	Args      []argMsg
	Pool      bool // a pool worker: Func is its Init; the pipes follow the segments (see pool.go)
}

// argMsg carries one argument: references for a shm object, gob bytes for a
// plain value.
type argMsg struct {
	Refs []objRef
	Data []byte
}

// resultMsg is what a child tells its parent, in the same file, when done.
type resultMsg struct {
	Code    int // the child's exit code
	Message string
	Panic   bool
}

// resultMagic starts a result, so that a parent can tell one from the start
// message that a killed child left in place.
const resultMagic = "shm result\n"

// maxControl bounds what is read from a control file.
const maxControl = 1 << 30

// childEnviron returns the environment of a child: env, or this process's if
// env is nil, with envChild set to this protocol's version whatever env says.
func childEnviron(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	return append(childEnv(withoutEnv(env, envChild)), envChild+"="+protocolVersion)
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// childFiles returns the files a child receives, in descriptor order from 3.
func childFiles(ctl, tokens *os.File, segments []*os.File) []*os.File {
	return append([]*os.File{fdControl - 3: ctl, fdTokens - 3: tokens}, segments...)
}

// takeChildEnv reads envChild in a child and removes it from the environment.
// It returns an error if the parent speaks another protocol.
func takeChildEnv() error {
	v := os.Getenv(envChild)
	os.Unsetenv(envChild)
	if v != protocolVersion {
		return fmt.Errorf("parent speaks protocol %q, this program %q", v, protocolVersion)
	}
	return nil
}

// isChild reports whether this process was started by Start.
func isChild() bool { return os.Getenv(envChild) != "" }

// writeStart writes the start message into a new control file.
func writeStart(ctl *os.File, msg *startMsg) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(msg); err != nil {
		return err
	}
	if _, err := ctl.WriteAt(buf.Bytes(), 0); err != nil {
		return fmt.Errorf("writing the start message: %w", err)
	}
	return nil
}

// readStart reads the start message, in a child.
func readStart(ctl *os.File) (*startMsg, error) {
	var msg startMsg
	if err := gob.NewDecoder(io.NewSectionReader(ctl, 0, maxControl)).Decode(&msg); err != nil {
		return nil, fmt.Errorf("reading the start message: %w", err)
	}
	return &msg, nil
}

// checkParam reports why a parameter of type pt could never receive an
// argument from a parent, if it could not; [Register] calls it. It refuses only
// what can never work: a pointer that is not a shm object (the child would
// write to its own copy), a shm object by value, a channel, function or
// unsafe.Pointer, a shm object inside a copied value, and a type that
// encoding/gob refuses whatever its value (gob's checks run on the zero
// value, so they are skipped where a type has an encoding of its own, which
// may fail on some values only). An interface parameter passes: whether gob
// can copy the value it gets is known only at Start.
func checkParam(pt reflect.Type) error {
	switch {
	case pt.Implements(objectType):
		return nil
	case reflect.PointerTo(pt).Implements(objectType):
		return fmt.Errorf("passed by value, so the child would get a copy: take *%s", pt)
	}
	switch pt.Kind() {
	case reflect.Pointer:
		return fmt.Errorf("not a shm object, so the child would write to a copy: %s", copyTrapFix(pt, "make it", "take %s to copy the value"))
	case reflect.Chan:
		return errors.New("a channel cannot reach another process; share data through shm objects")
	case reflect.Func:
		return errors.New("a function cannot reach another process; register it and start it instead")
	case reflect.UnsafePointer:
		return errors.New("an unsafe.Pointer cannot reach another process; share data through shm objects")
	case reflect.Interface:
		return nil
	}
	path, obj, custom := inspectCopied(pt, typeName(pt), map[reflect.Type]bool{})
	if obj != nil {
		return fmt.Errorf("it holds a shm object at %s (%s): pass each shm object as a parameter of its own", path, obj)
	}
	if !custom {
		if _, err := encodeValue(reflect.New(pt).Elem()); err != nil {
			return fmt.Errorf("encoding/gob cannot copy it: %v; a copied parameter needs exported fields or a GobEncode method", err)
		}
	}
	return nil
}

// copyTrapFix says how to share or copy what a pointer of type pt points to:
// a shm object if its element can live in shared memory, and always a copy.
// verb introduces the shm object; copyFmt formats the copy with the element.
func copyTrapFix(pt reflect.Type, verb, copyFmt string) string {
	elem := pt.Elem()
	cp := fmt.Sprintf(copyFmt, elem)
	if infoOfType(elem).err != nil {
		return cp
	}
	return fmt.Sprintf("%s a shm object such as *shm.RawValue[%s], or %s", verb, elem, cp)
}

// Types that encode themselves, which gob uses instead of their fields.
var (
	gobEncoderType    = reflect.TypeFor[gob.GobEncoder]()
	binaryMarshalType = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalType   = reflect.TypeFor[encoding.TextMarshaler]()
)

// inspectCopied walks the parts of t that gob copies: exported struct fields
// other than channels and functions (which gob skips), elements, map keys and
// what pointers point to; not what is in an interface nor the parts of a type
// that encodes itself. It returns the path to a shm object among them, if
// any, and reports whether a part encodes itself.
func inspectCopied(t reflect.Type, path string, seen map[reflect.Type]bool) (objPath string, obj reflect.Type, custom bool) {
	if seen[t] {
		return "", nil, false
	}
	seen[t] = true
	if t.Implements(objectType) || reflect.PointerTo(t).Implements(objectType) {
		return path, t, false
	}
	for _, m := range []reflect.Type{gobEncoderType, binaryMarshalType, textMarshalType} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return "", nil, true
		}
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Array, reflect.Slice:
		return inspectCopied(t.Elem(), path+"[0]", seen)
	case reflect.Map:
		p, o, c1 := inspectCopied(t.Key(), path+"[key]", seen)
		if o != nil {
			return p, o, c1
		}
		p, o, c2 := inspectCopied(t.Elem(), path+"[value]", seen)
		return p, o, c1 || c2
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Type.Kind() == reflect.Chan || f.Type.Kind() == reflect.Func {
				continue
			}
			p, o, c := inspectCopied(f.Type, path+"."+f.Name, seen)
			if o != nil {
				return p, o, c
			}
			custom = custom || c
		}
	}
	return "", nil, custom
}

// encodeArg encodes v, an argument that Start checked against its parameter:
// a shm object as references, any other value by copy.
func encodeArg(v reflect.Value) (argMsg, error) {
	if o, ok := v.Interface().(object); ok {
		refs, err := o.shmRefs()
		return argMsg{Refs: refs}, err
	}
	data, err := encodeValue(v)
	if err != nil {
		return argMsg{}, fmt.Errorf("cannot be copied to another process: %v", err)
	}
	return argMsg{Data: data}, nil
}

// encodeValue encodes v, a value of a parameter's type, to travel by copy.
func encodeValue(v reflect.Value) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).EncodeValue(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeArg makes, in a child, the value of a parameter of type pt from what
// the parent sent.
func decodeArg(pt reflect.Type, a argMsg) (reflect.Value, error) {
	if pt.Implements(objectType) {
		return reflect.Zero(pt).Interface().(object).shmDecode(a.Refs)
	}
	return decodeValue(pt, a.Data)
}

// decodeValue decodes data, from encodeValue, into a new value of type pt.
func decodeValue(pt reflect.Type, data []byte) (reflect.Value, error) {
	v := reflect.New(pt)
	if err := gob.NewDecoder(bytes.NewReader(data)).DecodeValue(v); err != nil {
		return reflect.Value{}, err
	}
	return v.Elem(), nil
}

// writeResult replaces the start message with the result, in a child.
func writeResult(ctl *os.File, res resultMsg) error {
	var buf bytes.Buffer
	buf.WriteString(resultMagic)
	if err := gob.NewEncoder(&buf).Encode(res); err != nil {
		return err
	}
	if err := ctl.Truncate(0); err != nil {
		return err
	}
	_, err := ctl.WriteAt(buf.Bytes(), 0)
	return err
}

// readResult reads what a finished child wrote into its control file. It
// reports false if there is no result.
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
