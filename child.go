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
	if msg.Pool {
		return runWorker(ctl, msg, fn, args)
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
		f := memfd.Inherit(fdSegments+i, "shm")
		var s *segment
		var err error
		if ino&namedBit != 0 {
			s, err = mapInherited(f, ino)
		} else {
			s, err = mapSegment(f)
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if s.ino != ino {
			return nil, nil, nil, fmt.Errorf("descriptor %d is segment %d, want %d", fdSegments+i, s.ino, ino)
		}
		segs[i] = s
	}
	theHeap.adopt(segs)

	t, err := registered(msg.Func)
	if err != nil {
		return nil, nil, nil, err
	}
	args, err := decodeArgs(t, msg.Args)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", t, err)
	}
	return msg, t, args, nil
}

// registered returns the target whose registry key a parent sent: to a child
// in its start message, to a pool worker in a task.
func registered(key string) (*target, error) {
	registryMu.RLock()
	t := registry[key]
	registryMu.RUnlock()
	if t == nil {
		name, _, _ := strings.Cut(key, "@")
		return nil, fmt.Errorf("%s is not registered in this program; call %s in an init function", name, registerHint(name))
	}
	return t, nil
}

// decodeArgs makes t's arguments from what a parent sent for them.
func decodeArgs(t *target, msgs []argMsg) ([]reflect.Value, error) {
	ft := t.fn.Type()
	if len(msgs) != ft.NumIn() {
		return nil, fmt.Errorf("%d arguments for %d parameters", len(msgs), ft.NumIn())
	}
	args := make([]reflect.Value, len(msgs))
	for i, a := range msgs {
		v, err := decodeArg(ft.In(i), a)
		if err != nil {
			return nil, fmt.Errorf("argument %d (%s): %w", i+1, ft.In(i), err)
		}
		args[i] = v
	}
	return args, nil
}

// call runs the target and turns what it returns, or its panic, into a
// result. A panic is printed to standard error as the runtime prints an
// uncaught one, and so is a returned error, on one line: the parent's Join
// reports both, but a parent that drops Join's error must not make a failure
// silent.
func call(t *target, args []reflect.Value) (res resultMsg) {
	defer func() {
		if r := recover(); r != nil {
			header, frames, msg := panicReport(r, call)
			fmt.Fprintf(os.Stderr, "panic: %v\n\n%s\n%s", r, header, strings.Join(frames, ""))
			res = resultMsg{Code: exitPanic, Panic: true, Message: msg}
		}
	}()
	out := t.fn.Call(args)
	if e := t.errOf(out); e != nil {
		msg := e.Error()
		fmt.Fprintf(os.Stderr, "shm: child %s (pid %d): %s\n", t, os.Getpid(), msg)
		return resultMsg{Code: exitError, Message: msg}
	}
	return resultMsg{}
}

// errOf returns the error among out, fn's results, if fn returns one and it
// is not nil.
func (t *target) errOf(out []reflect.Value) error {
	if !t.isErr || out[len(out)-1].IsNil() {
		return nil
	}
	return out[len(out)-1].Interface().(error)
}

// maxFrames bounds the frames of a panic's stack that reach the parent.
const maxFrames = 16

// panicReport describes a panic with value v, recovered in a deferred
// function of caller, the function that called the target: the goroutine's
// header line and the frames of the user's code (see panicFrames), and the
// message that reaches the parent, v and at most maxFrames of the frames.
func panicReport(v, caller any) (header string, frames []string, msg string) {
	header, frames = panicFrames(debug.Stack(), funcName(reflect.ValueOf(caller)))
	short := frames
	if len(short) > maxFrames {
		short = append(short[:maxFrames:maxFrames], "...additional frames elided...\n")
	}
	return header, frames, fmt.Sprint(v) + "\n\n" + strings.TrimSuffix(strings.Join(short, ""), "\n")
}

// panicFrames cuts a stack printed by runtime/debug.Stack in a deferred
// function of call, after a panic, down to the frames of the user's code:
// from the function that panicked to the target. It drops the frames above
// (debug.Stack, the deferred function, panic and the runtime's panic helpers
// such as runtime.sigpanic) and below (reflect's call and shm's own, from
// the frame of the function named caller). It returns the goroutine's header line and the frames, each a function line and
// a file line ending in a newline.
func panicFrames(stack []byte, caller string) (header string, frames []string) {
	lines := strings.Split(strings.TrimSuffix(string(stack), "\n"), "\n")
	header, lines = lines[0], lines[1:]
	var all []string // function line, then its file line, as one string
	for i := 0; i < len(lines); i++ {
		f := lines[i] + "\n"
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			f += lines[i+1] + "\n"
			i++
		}
		all = append(all, f)
	}
	end := len(all)
	for i, f := range all {
		if strings.HasPrefix(f, caller+"(") {
			end = i
			break
		}
	}
	for end > 0 && strings.HasPrefix(all[end-1], "reflect.") {
		end--
	}
	start := 0
	for i, f := range all[:end] {
		if strings.HasPrefix(f, "panic(") {
			start = i + 1
		}
	}
	for start < end && strings.HasPrefix(all[start], "runtime.") {
		start++
	}
	return header, all[start:end]
}
