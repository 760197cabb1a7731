package shm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/shmgo/shm/internal/memfd"
)

// A Process is a child process started by [Start]: Python's
// multiprocessing.Process after start(). Its methods may be called from any
// goroutine.
//
// A child never outlives its parent: when the parent process dies, however it
// dies, the kernel kills its children (SIGKILL), and any [Mutex] they held is
// taken over by the next process to lock it. Join every child to know how it
// ended.
type Process struct {
	cmd   *exec.Cmd
	t     *target
	ctl   *os.File // the control file: start message in, result out
	once  sync.Once
	err   error
	state atomic.Pointer[os.ProcessState]
}

// Start starts fn in a new process and returns without waiting for it: Python's
// Process(target=fn, args=args).start(). fn must have been registered with
// [Register], and args must fit its parameters: a shm object is passed by
// reference (the child maps the same memory), any other value is passed by
// copy, encoded with encoding/gob. The child is this program's executable run
// again; its [Main] runs fn, and its standard output and error are the
// parent's.
//
// Start checks everything before it starts anything: it returns an error, and
// starts no process, when fn is not registered, when the number or types of
// args do not fit, when a shm object is not in shared memory or when a value
// cannot be encoded.
func Start(fn any, args ...any) (*Process, error) {
	if !mainCalled.Load() {
		return nil, ErrNoMain
	}
	t, err := lookup(fn)
	if err != nil {
		return nil, err
	}
	msg := startMsg{Func: t.key, ParentPid: os.Getpid()}
	if msg.Args, err = encodeArgs(t, args); err != nil {
		return nil, err
	}
	tokens, err := tokenTable()
	if err != nil {
		return nil, err
	}
	// A child maps only the segments its arguments live in: a program with
	// many segments does not make every child map them all.
	var files []*os.File
	msg.Segments, files = theHeap.filesFor(msg.Args)
	ctl, err := memfd.Create("shm-control", 0)
	if err != nil {
		return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
	}
	if err := writeStart(ctl, &msg); err != nil {
		ctl.Close()
		return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
	}

	exe, err := executable()
	if err != nil {
		ctl.Close()
		return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
	}
	cmd := exec.Command(exe)
	cmd.Args = []string{os.Args[0]}
	cmd.Env = childEnviron()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = childFiles(ctl, tokens.File(), files)
	if err := startCmd(cmd); err != nil {
		ctl.Close()
		return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
	}
	return &Process{cmd: cmd, t: t, ctl: ctl}, nil
}

// encodeArgs checks args against t's parameters and encodes them.
func encodeArgs(t *target, args []any) ([]argMsg, error) {
	ft := t.fn.Type()
	if len(args) != ft.NumIn() {
		return nil, fmt.Errorf("shm: Start(%s): %d arguments for %d parameters (%s)", t, len(args), ft.NumIn(), ft)
	}
	out := make([]argMsg, len(args))
	for i, a := range args {
		pt := ft.In(i)
		v, err := argValue(pt, a)
		if err == nil {
			out[i], err = encodeArg(v)
		}
		if err != nil {
			return nil, fmt.Errorf("shm: Start(%s): argument %d (%s): %w", t, i+1, pt, err)
		}
	}
	return out, nil
}

// argValue checks an argument against its parameter's type pt and returns it
// as a value of that type.
func argValue(pt reflect.Type, a any) (reflect.Value, error) {
	av := reflect.ValueOf(a)
	if !av.IsValid() {
		return reflect.Value{}, errors.New("nil cannot be passed to another process")
	}
	at := av.Type()
	if !at.AssignableTo(pt) {
		return reflect.Value{}, fmt.Errorf("got %s", at)
	}
	if _, ok := a.(object); ok {
		if av.Kind() == reflect.Pointer && av.IsNil() {
			return reflect.Value{}, fmt.Errorf("nil %s", at)
		}
		if pt != at {
			return reflect.Value{}, fmt.Errorf("a shm object must go to a parameter of its own type, not %s", pt)
		}
		return av, nil
	}
	if at.Kind() == reflect.Pointer {
		return reflect.Value{}, fmt.Errorf("%s is not a shm object, so the child would write to a copy: %s", at, copyTrapFix(at, "pass", "pass the %s itself to copy it"))
	}
	v := reflect.New(pt).Elem()
	v.Set(av)
	return v, nil
}

// Pid returns the child's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Join waits for the child to exit: Python's join(). It returns nil when the
// target returned nothing or nil; otherwise an [*ExitError] carrying the exit
// code and the error the target returned, its panic message and the first
// lines of its stack, or the signal that killed it. A child that exits
// before its target returns, even with status 0 (the target called os.Exit,
// say), is an error too: the ExitError says that the child exited without
// reporting a result. Join may be called more
// than once, from any goroutine; each call returns the same result.
//
// Everything the child did happens before Join returns: after Join, the
// parent sees every write the child made to shared memory.
func (p *Process) Join() error {
	p.once.Do(p.wait)
	return p.err
}

func (p *Process) wait() {
	werr := p.cmd.Wait()
	res, ok := readResult(p.ctl)
	p.ctl.Close()
	st := p.cmd.ProcessState
	if st == nil {
		p.err = fmt.Errorf("shm: %s: %w", p.t, werr)
		return
	}
	p.state.Store(st)
	p.err = outcome(p.t, st, res, ok)
}

// outcome turns how a child ended, and the result it reported if ok, into
// what Join returns.
func outcome(t *target, st *os.ProcessState, res resultMsg, ok bool) error {
	code := st.ExitCode()
	e := &ExitError{ProcessState: st}
	switch {
	case ok && res.Code == code:
		if code == exitOK {
			return nil
		}
		e.Message, e.Panic = res.Message, res.Panic
	case !st.Exited():
		// Killed by a signal: the ProcessState says which.
	case !ok:
		e.Message = st.String() + " without reporting a result: something ended the child before its target returned (os.Exit, log.Fatal, a fatal error or a panic in another goroutine)"
	default:
		e.Message = fmt.Sprintf("%s, but its target reported exit code %d", st, res.Code)
		if res.Message != "" {
			e.Message += ": " + res.Message
		}
	}
	e.Func = t.String()
	return e
}

// Kill makes the child exit at once (SIGKILL): Python's kill(). It does not
// wait; call [Process.Join] for that.
func (p *Process) Kill() error {
	if p.state.Load() != nil {
		return nil
	}
	return p.cmd.Process.Kill()
}

// ExitCode returns the child's exit code once [Process.Join] has returned,
// and -1 before: 0 for success, 1 when the target returned an error, 2 when it
// panicked. Like [os.ProcessState.ExitCode], it returns -1 for a child killed
// by a signal.
func (p *Process) ExitCode() int {
	if st := p.state.Load(); st != nil {
		return st.ExitCode()
	}
	return -1
}
