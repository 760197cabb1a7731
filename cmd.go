package shm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"

	"github.com/shmgo/shm/internal/memfd"
)

// A Cmd describes a child process to start, for what [Start] cannot say: where
// its standard input, output and error go, its environment and its working
// directory. It is os/exec's Cmd for a registered function instead of a
// program: Start(fn, args...) is Command(fn, args...).Start().
//
// A Cmd cannot be started again once its Start has succeeded.
type Cmd struct {
	// Func is the function the child runs, registered with [Register].
	Func any

	// Args are Func's arguments, passed as [Start] passes them: shm objects
	// by reference, other values by copy.
	Args []any

	// Stdin specifies the child's standard input.
	//
	// If Stdin is nil, the child reads from the null device (os.DevNull).
	//
	// If Stdin is an *os.File, the child's standard input is connected
	// directly to that file.
	//
	// Otherwise, while the child runs a goroutine reads from Stdin and
	// delivers that data to the child over a pipe. [Process.Join] does not
	// return until that goroutine stops copying, either because it has
	// reached the end of Stdin (EOF or a read error) or because writing to
	// the pipe returned an error.
	Stdin io.Reader

	// Stdout and Stderr specify the child's standard output and error.
	// [Command] sets them to the parent's, os.Stdout and os.Stderr.
	//
	// If either is nil, the child writes it to the null device
	// (os.DevNull), as os/exec does; what its target returns or panics with
	// still reaches [Process.Join].
	//
	// If either is an *os.File, the corresponding output from the child is
	// connected directly to that file.
	//
	// Otherwise, while the child runs a goroutine reads its output over a
	// pipe and writes it to the Writer. [Process.Join], [Process.Done] and
	// the other ways to learn that the child has ended wait for that copy
	// to finish, so the Writer holds the whole output once they report the
	// end, and must not be read before. A process that inherits the pipe
	// and outlives the child (one the target started with os/exec) delays
	// that end until it closes the pipe. If the Writer returns an error,
	// the output that follows is lost and Join reports the error, if the
	// child succeeded otherwise.
	//
	// If Stdout and Stderr are the same writer, and have a type that can be
	// compared with ==, at most one goroutine at a time will call Write.
	Stdout io.Writer
	Stderr io.Writer

	// Env specifies the child's environment, each entry of the form
	// "key=value". If Env is nil, the child uses the parent's environment,
	// as it is when Start is called. If Env contains duplicate keys, only
	// the last value for each key is used. The variable SHM_CHILD belongs to
	// shm, which makes the child one with it: Start replaces any value that
	// Env gives it, and the child removes it from its environment before
	// Func runs.
	Env []string

	// Dir specifies the child's working directory. If Dir is empty, the
	// child runs in the parent's current directory. Dir does not change
	// which program runs: the child is always this program's executable.
	Dir string

	started bool
}

// Command returns a Cmd that runs fn(args...) in a child process as [Start]
// does, with the parent's standard output and error. Set its fields before
// calling [Cmd.Start].
func Command(fn any, args ...any) *Cmd {
	return &Cmd{Func: fn, Args: args, Stdout: os.Stdout, Stderr: os.Stderr}
}

// Start starts the child described by c and returns without waiting for it,
// as [Start] does, with the same checks: it returns an error, and starts no
// process, when c.Func is not registered or c.Args do not fit it. It also
// returns an error, having started nothing, when the child cannot be set up
// as c says, such as when c.Dir does not exist.
//
// Start returns an error if c was started before.
func (c *Cmd) Start() (*Process, error) {
	startCalled.Store(true)
	if !mainCalled.Load() {
		return nil, ErrNoMain
	}
	if c.started {
		return nil, errors.New("shm: Cmd.Start: already started")
	}
	t, err := lookup(c.Func)
	if err != nil {
		return nil, err
	}
	msg := startMsg{Func: t.key, ParentPid: os.Getpid()}
	if msg.Args, err = encodeArgs("Start", t, c.Args); err != nil {
		return nil, err
	}
	if c.Dir != "" {
		// os.StartProcess makes the same check, which is skipped for a
		// child with a parent-death signal: without it, a missing Dir
		// would be reported as a missing executable.
		if _, err := os.Stat(c.Dir); err != nil {
			if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
				pe.Op = "chdir"
			}
			return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
		}
	}
	proc, err := c.launch(t, &msg, nil)
	if err != nil {
		return nil, err
	}
	c.started = true
	return proc, nil
}

// launch starts the child that msg describes, as c says, giving it the
// segments that msg.Args refer to (a pool worker: every segment, so that its
// tasks may name objects in any of them) and then extra, the pipes a pool
// worker gets after its segments (see protocol.go).
func (c *Cmd) launch(t *target, msg *startMsg, extra []*os.File) (*Process, error) {
	tokens, err := tokenTable()
	if err != nil {
		return nil, err
	}
	// A child maps only the segments its arguments live in: a program with
	// many segments does not make every child map them all.
	var files []*os.File
	if msg.Pool {
		msg.Segments, files = theHeap.allFiles()
	} else if msg.Segments, files, err = theHeap.filesFor(msg.Args); err != nil {
		return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
	}
	files = append(files, extra...)
	ctl, err := memfd.Create("shm-control", 0)
	if err != nil {
		return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
	}
	if err := writeStart(ctl, msg); err != nil {
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
	cmd.Env = childEnviron(c.Env)
	cmd.Dir = c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.ExtraFiles = childFiles(ctl, tokens.File(), files)
	if err := startCmd(cmd); err != nil {
		ctl.Close()
		return nil, fmt.Errorf("shm: Start(%s): %w", t, err)
	}
	return newProcess(cmd, t, ctl), nil
}
