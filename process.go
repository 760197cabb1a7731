package shm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"os/exec"
	"reflect"
)

// A Process is a child process started by [Start] or [Cmd.Start]: Python's
// multiprocessing.Process after start(). Its methods may be called from any
// goroutine.
//
// A goroutine waits for every child from the moment it starts, so a child
// that nobody joins does not linger as a zombie, and [Process.Done],
// [Process.Alive] and [Process.ExitCode] tell when it has ended without a
// call to Join. That goroutine costs little, but it waits in a system call,
// which holds an OS thread while the child runs.
//
// A child never outlives its parent: when the parent process dies, however it
// dies, the kernel kills its children (SIGKILL), and any [Mutex] they held is
// taken over by the next process to lock it. Join every child to know how it
// ended.
type Process struct {
	cmd  *exec.Cmd
	t    *target
	ctl  *os.File      // the control file: start message in, result out
	done chan struct{} // closed by wait once err and cmd.ProcessState are set
	err  error
}

// Start starts fn in a new process and returns without waiting for it: Python's
// Process(target=fn, args=args).start(). fn must have been registered with
// [Register], and args must fit its parameters: a shm object is passed by
// reference (the child maps the same memory), any other value is passed by
// copy, encoded with encoding/gob. The child is this program's executable run
// again; its [Main] runs fn, and its standard output and error are the
// parent's. Start(fn, args...) is Command(fn, args...).Start(); see [Cmd] for
// what else a child may be given.
//
// A number of a predeclared type given for a parameter of another numeric
// type is converted when that type holds its value exactly, as an untyped
// constant is in a direct call: Start(f, v, 5) for an int32 parameter. It is
// refused otherwise (3.5 or 1<<40 for an int32, -1 for a uint, 0.1 for a
// float32), and so is a number of a named type for another type.
//
// Start checks everything before it starts anything: it returns an error, and
// starts no process, when fn is not registered, when the number or types of
// args do not fit, when a shm object is not in shared memory, when a pointer
// that is not a shm object is given for an interface parameter (the child
// would write to its copy) or when a value cannot be encoded.
func Start(fn any, args ...any) (*Process, error) {
	return Command(fn, args...).Start()
}

// newProcess returns the Process for a child that cmd has started, and starts
// the goroutine that waits for it.
func newProcess(cmd *exec.Cmd, t *target, ctl *os.File) *Process {
	p := &Process{cmd: cmd, t: t, ctl: ctl, done: make(chan struct{})}
	go p.wait()
	return p
}

// encodeArgs checks args against t's parameters and encodes them; op names
// the call in an error.
func encodeArgs(op string, t *target, args []any) ([]argMsg, error) {
	ft := t.fn.Type()
	if len(args) != ft.NumIn() {
		return nil, fmt.Errorf("shm: %s(%s): %d arguments for %d parameters (%s)", op, t, len(args), ft.NumIn(), ft)
	}
	out := make([]argMsg, len(args))
	for i, a := range args {
		pt := ft.In(i)
		v, err := argValue(pt, a)
		if err == nil {
			out[i], err = encodeArg(v)
		}
		if err != nil {
			return nil, fmt.Errorf("shm: %s(%s): argument %d (%s): %w", op, t, i+1, pt, err)
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
		if isNumber(at) && at.PkgPath() == "" && isNumber(pt) {
			if v, ok := convertNumber(av, pt); ok {
				return v, nil
			}
			return reflect.Value{}, fmt.Errorf("got %v (%s), which %s cannot hold exactly", a, at, pt)
		}
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

// isNumber reports whether t is an integer or floating-point type.
func isNumber(t reflect.Type) bool {
	return isInt(t.Kind()) || isUint(t.Kind()) || t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64
}

func isInt(k reflect.Kind) bool { return reflect.Int <= k && k <= reflect.Int64 }

func isUint(k reflect.Kind) bool { return reflect.Uint <= k && k <= reflect.Uintptr }

// convertNumber converts av, a number, to the numeric type pt if pt holds av's
// value exactly: Start's ...any turns the untyped constant 5 into an int, which
// an int32 parameter must still take, as Go would in a direct call. Nothing
// is rounded, not even 0.1 to float32, which Go rounds for a constant: a
// float64 variable is not a constant, and rounding it would go unseen.
func convertNumber(av reflect.Value, pt reflect.Type) (reflect.Value, bool) {
	var x big.Float // av's value, exactly
	switch k := av.Kind(); {
	case isInt(k):
		x.SetInt64(av.Int())
	case isUint(k):
		x.SetUint64(av.Uint())
	default:
		f := av.Float()
		if math.IsNaN(f) {
			if isInt(pt.Kind()) || isUint(pt.Kind()) {
				return reflect.Value{}, false
			}
			return reflect.ValueOf(f).Convert(pt), true // NaN is a float32 too
		}
		x.SetFloat64(f)
	}
	v := reflect.New(pt).Elem()
	switch k := pt.Kind(); {
	case isInt(k):
		i, acc := x.Int64()
		if !x.IsInt() || acc != big.Exact || v.OverflowInt(i) {
			return reflect.Value{}, false
		}
		v.SetInt(i)
	case isUint(k):
		u, acc := x.Uint64()
		if !x.IsInt() || acc != big.Exact || v.OverflowUint(u) {
			return reflect.Value{}, false
		}
		v.SetUint(u)
	case k == reflect.Float32:
		f, acc := x.Float32()
		if acc != big.Exact {
			return reflect.Value{}, false
		}
		v.SetFloat(float64(f))
	default:
		f, acc := x.Float64()
		if acc != big.Exact {
			return reflect.Value{}, false
		}
		v.SetFloat(f)
	}
	return v, true
}

// Pid returns the child's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Join waits for the child to exit: Python's join(). It returns nil when the
// target returned nothing or nil; otherwise an [*ExitError] carrying the exit
// code and the error the target returned, its panic message and the first
// lines of its stack, or the signal that killed it. A child that exits
// before its target returns, even with status 0 (the target called os.Exit,
// say), is an error too: the ExitError says that the child exited without
// reporting a result. Join may be called more than once, from any
// goroutine; each call returns the same result.
//
// Everything the child did happens before Join returns: after Join, the
// parent sees every write the child made to shared memory, and the writers
// of [Cmd.Stdout] and [Cmd.Stderr] hold all its output.
func (p *Process) Join() error {
	<-p.done
	return p.err
}

// JoinContext waits, as [Process.Join] does, for the child to exit or for ctx
// to be done: Python's join(timeout). It returns what Join returns, or
// ctx.Err() with the child left running, as Python leaves it; call Join,
// JoinContext or [Process.Kill] after that. A child that has exited already
// gives its result, whatever ctx.
func (p *Process) JoinContext(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done returns a channel that is closed when the child has exited and been
// waited for: Python's sentinel. Once it is closed, [Process.Join] returns at
// once, [Process.ExitCode] is the child's and [Process.Alive] reports false.
// Each call returns the same channel.
func (p *Process) Done() <-chan struct{} { return p.done }

// Alive reports whether the child is still running: Python's is_alive(). It
// reports false once [Process.Done] is closed; a child that has just exited
// is reported alive until it has been waited for (and its output copied, see
// [Cmd.Stdout]), a moment later.
func (p *Process) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the child, from the goroutine that newProcess starts, and
// records how it ended.
func (p *Process) wait() {
	defer close(p.done)
	werr := p.cmd.Wait()
	res, ok := readResult(p.ctl)
	p.ctl.Close()
	st := p.cmd.ProcessState
	if st == nil {
		p.err = fmt.Errorf("shm: %s: %w", p.t, werr)
		return
	}
	p.err = outcome(p.t, st, res, ok)
	var exitErr *exec.ExitError
	if p.err == nil && werr != nil && !errors.As(werr, &exitErr) {
		// The child succeeded, but copying to or from it failed.
		p.err = fmt.Errorf("shm: %s (pid %d): %w", p.t, st.Pid(), werr)
	}
}

// exited returns how the child ended once [Process.Done] is closed, and nil
// before. The wait goroutine sets cmd.ProcessState before it closes done, and
// never after, so reading it after done needs no lock.
func (p *Process) exited() *os.ProcessState {
	select {
	case <-p.done:
		return p.cmd.ProcessState
	default:
		return nil
	}
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
// wait; call [Process.Join] for that. Killing a child that has exited does
// nothing and returns nil, before, during and after Join.
func (p *Process) Kill() error {
	return p.signal(os.Kill, "Kill")
}

// Signal sends sig to the child: Signal(syscall.SIGTERM) is Python's
// terminate(). It does not wait; call [Process.Join] for that. Signaling a
// child that has exited does nothing and returns nil, as [Process.Kill] does.
// A child that ends because of sig, having no handler for it, ends without
// reporting a result: Join returns an [*ExitError] whose ProcessState names
// the signal.
func (p *Process) Signal(sig os.Signal) error {
	return p.signal(sig, fmt.Sprintf("Signal(%v)", sig))
}

// signal sends sig to the child; op names the call in an error.
func (p *Process) signal(sig os.Signal, op string) error {
	if !p.Alive() {
		return nil
	}
	// The child may be reaped at any moment: os.Process then reports that
	// it is done, which is success. os.Process signals through a pidfd, so
	// a reused process ID cannot redirect the signal.
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("shm: %s of %s (pid %d): %w", op, p.t, p.Pid(), err)
	}
	return nil
}

// ExitCode returns the child's exit code once it has exited and been waited
// for (see [Process.Done]), and -1 before: 0 for success, 1 when the target
// returned an error, 2 when it panicked. Like [os.ProcessState.ExitCode], it
// returns -1 for a child killed by a signal.
func (p *Process) ExitCode() int {
	return p.exited().ExitCode() // -1 for a nil ProcessState
}
