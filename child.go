package shm

// The child's side of the protocol (protocol.go): what Main runs in a child.

import (
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"strings"

	"github.com/shmgo/shm/internal/memfd"
)

func runChild() int {
	if err := takeChildEnv(); err != nil {
		fmt.Fprintf(os.Stderr, "shm: child: %v\n", err)
		return exitPanic
	}
	ctl := memfd.Inherit(fdControl, "shm-control")
	msg, fn, args, err := setUpChild(ctl)
	if err != nil {
		fmt.Fprintf(os.Stderr, "shm: child: %v\n", err)
		writeResult(ctl, resultMsg{Code: exitPanic, Message: err.Error()})
		return exitPanic
	}
	if msg == nil {
		return exitPanic // the parent died before the child started: nobody to report to
	}
	res := call(fn, args)
	writeResult(ctl, res)
	return res.Code
}

func setUpChild(ctl *os.File) (*startMsg, *target, []reflect.Value, error) {
	msg, err := readStart(ctl)
	if err != nil {
		return nil, nil, nil, err
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
	return msg, t, args, nil
}

// call runs the target and turns what it returns, or its panic, into a result.
func call(t *target, args []reflect.Value) (res resultMsg) {
	defer func() {
		if r := recover(); r != nil {
			res = resultMsg{Code: exitPanic, Panic: true, Message: fmt.Sprint(r) + "\n\n" + panicStack(debug.Stack())}
		}
	}()
	out := t.fn.Call(args)
	if t.isErr && !out[0].IsNil() {
		return resultMsg{Code: exitError, Message: out[0].Interface().(error).Error()}
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
