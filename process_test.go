package shm_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/shmgo/shm"
)

func doNothing() {}

func failWith(msg string) error { return errors.New(msg) }

func panicWith(msg string) { panic(msg) }

func holdForever(started *shm.RawValue[atomic.Int32]) {
	started.Ptr().Store(1)
	sleepForever()
}

type config struct {
	Name   string
	Scale  float64
	Tags   []string
	Limits map[string]int
}

type report struct {
	NameLen  int64
	Scaled   float64
	Tags     int64
	LimitSum int64
}

// copyArgs receives plain values by copy and reports what it got.
func copyArgs(out *shm.RawValue[report], cfg config, n int) {
	out.Store(report{
		NameLen:  int64(len(cfg.Name)),
		Scaled:   cfg.Scale * float64(n),
		Tags:     int64(len(cfg.Tags)),
		LimitSum: int64(cfg.Limits["a"] + cfg.Limits["b"]),
	})
	cfg.Tags[0] = "changed in the child" // a copy: the parent must not see it
}

func incValue(v *shm.Value[int64], n int) {
	for i := 0; i < n; i++ {
		v.Update(func(x int64) int64 { return x + 1 })
	}
}

func incAtomic(c *shm.RawValue[atomic.Int64], n int) {
	for i := 0; i < n; i++ {
		c.Ptr().Add(1)
	}
}

func init() {
	shm.Register(doNothing)
	shm.Register(failWith)
	shm.Register(panicWith)
	shm.Register(holdForever)
	shm.Register(copyArgs)
	shm.Register(incValue)
	shm.Register(incAtomic)
}

func TestStartJoin(t *testing.T) {
	p := start(t, doNothing)
	if p.Pid() <= 0 || p.Pid() == os.Getpid() {
		t.Fatalf("Pid() = %d", p.Pid())
	}
	join(t, p)
	if got := p.ExitCode(); got != 0 {
		t.Fatalf("ExitCode() = %d, want 0", got)
	}
	if err := p.Join(); err != nil {
		t.Fatalf("second Join: %v", err)
	}
}

func TestPlainArgumentsAreCopied(t *testing.T) {
	out, err := shm.NewRawValue(report{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{Name: "sensor", Scale: 1.5, Tags: []string{"a", "b", "c"}, Limits: map[string]int{"a": 2, "b": 40}}
	join(t, start(t, copyArgs, out, cfg, 4))
	want := report{NameLen: 6, Scaled: 6, Tags: 3, LimitSum: 42}
	if got := out.Load(); got != want {
		t.Fatalf("child saw %+v, want %+v", got, want)
	}
	if cfg.Tags[0] != "a" {
		t.Fatalf("the child's change reached the parent's copy: %q", cfg.Tags[0])
	}
}

func TestExactCounts(t *testing.T) {
	const procs, n = 8, 100_000
	v, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := shm.NewRawValue(atomic.Int64{})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*shm.Process
	for i := 0; i < procs; i++ {
		ps = append(ps, start(t, incValue, v, n), start(t, incAtomic, c, n))
	}
	for _, p := range ps {
		join(t, p)
	}
	if got := v.Load(); got != procs*n {
		t.Errorf("Value.Update total = %d, want %d", got, procs*n)
	}
	if got := c.Ptr().Load(); got != procs*n {
		t.Errorf("atomic total = %d, want %d", got, procs*n)
	}
}

func TestChildError(t *testing.T) {
	p := start(t, failWith, "sensor offline")
	err := p.Join()
	var ee *shm.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Join = %v, want an *ExitError", err)
	}
	if ee.Message != "sensor offline" || ee.Panic || ee.ExitCode() != 1 || p.ExitCode() != 1 {
		t.Fatalf("got message %q, panic %v, exit code %d/%d", ee.Message, ee.Panic, ee.ExitCode(), p.ExitCode())
	}
	if want := fmt.Sprintf("shm: github.com/shmgo/shm_test.failWith (pid %d): sensor offline", p.Pid()); err.Error() != want {
		t.Fatalf("error text %q, want %q", err, want)
	}
}

// Targets that panic in different ways: directly, in a function they call,
// and in the runtime.
func panicDeep(msg string) { panicWith(msg) }

func derefNil(p *shm.RawValue[int64]) {
	var q *int64
	p.Store(*q)
}

func indexOut(n int) {
	var xs [3]int
	_ = xs[n]
}

func init() {
	shm.Register(panicDeep)
	shm.Register(derefNil)
	shm.Register(indexOut)
}

// TestChildPanic checks that Join's error carries the panic value and the
// stack of the panicking goroutine from the user's code down to the target,
// without shm's own frames (the deferred recover, panic, the runtime's panic
// helpers, reflect's call and shm.call) around it.
func TestChildPanic(t *testing.T) {
	v, err := shm.NewRawValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fn     any
		arg    any
		value  string
		frames []string // the functions of the stack, top first
	}{
		{panicWith, "gauge broke", "gauge broke", []string{"panicWith"}},
		{panicDeep, "deep", "deep", []string{"panicWith", "panicDeep"}},
		{derefNil, v, "runtime error: invalid memory address or nil pointer dereference", []string{"derefNil"}},
		{indexOut, 5, "runtime error: index out of range [5] with length 3", []string{"indexOut"}},
	}
	for _, c := range cases {
		p := start(t, c.fn, c.arg)
		err := p.Join()
		var ee *shm.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("Join = %v, want an *ExitError", err)
		}
		if !ee.Panic || ee.ExitCode() != 2 || p.ExitCode() != 2 {
			t.Fatalf("panic %v, exit code %d/%d", ee.Panic, ee.ExitCode(), p.ExitCode())
		}
		value, stack, _ := strings.Cut(ee.Message, "\n\n")
		if value != c.value {
			t.Errorf("panic value %q, want %q", value, c.value)
		}
		if got := stackFuncs(stack); !slices.Equal(got, c.frames) {
			t.Errorf("%s: stack shows %q, want %q; message:\n%s", c.value, got, c.frames, ee.Message)
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("shm: %s (pid %d) panicked: %s\n\n", ee.Func, p.Pid(), c.value)) {
			t.Errorf("error text:\n%s", err)
		}
	}
}

// stackFuncs returns the short names of the functions of a stack as
// runtime/debug.Stack prints it: a function line, then its file line, a tab
// in front.
func stackFuncs(stack string) []string {
	var names []string
	for _, l := range strings.Split(stack, "\n") {
		if l == "" || strings.HasPrefix(l, "\t") {
			continue
		}
		name, _, _ := strings.Cut(l, "(")
		names = append(names, strings.TrimPrefix(name, "github.com/shmgo/shm_test."))
	}
	return names
}

// exitMidway ends its process before it returns, as os.Exit or log.Fatal in a
// target does.
func exitMidway(code int) { os.Exit(code) }

func init() { shm.Register(exitMidway) }

// TestChildExitsWithoutResult checks that Join reports a child that exits
// before its target returns, whatever its exit status.
func TestChildExitsWithoutResult(t *testing.T) {
	for _, code := range []int{0, 3} {
		p := start(t, exitMidway, code)
		err := p.Join()
		var ee *shm.ExitError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "without reporting a result") {
			t.Fatalf("exit status %d: Join = %v, want an *ExitError that says the child exited without reporting a result", code, err)
		}
		if ee.ExitCode() != code || p.ExitCode() != code || ee.Panic {
			t.Fatalf("exit status %d: exit code %d/%d, panic %v", code, ee.ExitCode(), p.ExitCode(), ee.Panic)
		}
	}
}

func TestChildKilled(t *testing.T) {
	started := newFlag(t)
	p := start(t, holdForever, started)
	if got := p.ExitCode(); got != -1 {
		t.Fatalf("ExitCode() while running = %d, want -1", got)
	}
	await(t, "the child to start", func() bool { return started.Ptr().Load() == 1 })
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	err := p.Join()
	var ee *shm.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Join = %v, want an *ExitError", err)
	}
	if ee.ExitCode() != -1 || p.ExitCode() != -1 || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("killed child: %v, exit code %d/%d", err, ee.ExitCode(), p.ExitCode())
	}
}

// TestKillExited kills and signals a child that has exited: after it was
// waited for but before Join, while it is being waited for, and after Join.
// Each call must return nil, as it does for a child that is running.
func TestKillExited(t *testing.T) {
	t.Run("before Join", func(t *testing.T) {
		p := start(t, doNothing)
		awaitDone(t, p)
		if err := p.Kill(); err != nil {
			t.Fatalf("Kill of an exited child before Join = %v, want nil", err)
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("Signal to an exited child before Join = %v, want nil", err)
		}
		join(t, p)
	})
	t.Run("while waited for", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			exiting := newFlag(t)
			p := start(t, raiseFlag, exiting)
			await(t, "the child to finish its target", func() bool { return exiting.Ptr().Load() == 1 })
			for kills := 0; p.Alive(); kills++ {
				if err := p.Kill(); err != nil {
					t.Fatalf("Kill %d of an exiting child = %v, want nil", kills, err)
				}
			}
			p.Join() // the child ends as it ends: a Kill may have come first
		}
	})
	t.Run("after Join", func(t *testing.T) {
		p := start(t, doNothing)
		join(t, p)
		if err := p.Kill(); err != nil {
			t.Fatalf("Kill after Join = %v, want nil", err)
		}
	})
}

// raiseFlag sets the flag and returns.
func raiseFlag(f *shm.RawValue[atomic.Int32]) { f.Ptr().Store(1) }

func init() { shm.Register(raiseFlag) }

// isZombie reports whether process pid has exited and waits to be reaped.
func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func TestConcurrentJoin(t *testing.T) {
	p := start(t, failWith, "once")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Join()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil || err != errs[0] {
			t.Fatalf("Join results differ: %v", errs)
		}
	}
}

func TestStartRefusesBadCalls(t *testing.T) {
	v, err := shm.NewRawValue(0.0)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := shm.NewValue[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	var onHeap shm.RawValue[report]
	closure := func() {}
	cases := []struct {
		name string
		fn   any
		args []any
		want string
	}{
		{"too few", copyArgs, []any{v}, "1 arguments for 3 parameters"},
		{"too many", doNothing, []any{1}, "1 arguments for 0 parameters"},
		{"wrong plain type", incValue, []any{counter, "ten"}, "argument 2 (int): got string"},
		{"wrong object type", incAtomic, []any{v, 1}, "argument 1 (*shm.RawValue[sync/atomic.Int64]): got *shm.RawValue[float64]"},
		{"plain value for object", incAtomic, []any{&atomic.Int64{}, 1}, "argument 1 (*shm.RawValue[sync/atomic.Int64]): got *atomic.Int64"},
		{"nil object", incAtomic, []any{(*shm.RawValue[atomic.Int64])(nil), 1}, "nil *shm.RawValue"},
		{"untyped nil", failWith, []any{nil}, "nil cannot be passed"},
		{"object not in shared memory", copyArgs, []any{&onHeap, config{}, 1}, "not in shared memory"},
		{"value gob cannot copy", takesAny, []any{v, make(chan int)}, "argument 2 (interface {}): cannot be copied to another process"},
		{"pointer to a plain value", takesAny, []any{v, new(int)}, "argument 2 (interface {}): *int is not a shm object, so the child would write to a copy: pass a shm object such as *shm.RawValue[int], or pass the int itself to copy it"},
		{"pointer to a struct with strings", takesAny, []any{v, &config{}}, "argument 2 (interface {}): *shm_test.config is not a shm object, so the child would write to a copy: pass the shm_test.config itself to copy it"},
		{"unregistered", unregistered, nil, "not registered; call shm.Register(unregistered)"},
		{"closure", closure, nil, "function literal"},
		{"not a function", 42, nil, "not a function"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := shm.Start(c.fn, c.args...)
			if err == nil {
				p.Kill()
				p.Join()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			noChildren(t)
		})
	}
}

func unregistered() {}

func takesAny(out *shm.RawValue[float64], v any) {}

func init() { shm.Register(takesAny) }

func TestStartNeedsMain(t *testing.T) {
	shm.SetMainCalled(false)
	defer shm.SetMainCalled(true)
	if _, err := shm.Start(doNothing); !errors.Is(err, shm.ErrNoMain) {
		t.Fatalf("Start without Main = %v, want ErrNoMain", err)
	}
	noChildren(t)
}

func TestRegisterRefuses(t *testing.T) {
	cases := []struct {
		name string
		fn   any
		want string
	}{
		{"twice", doNothing, "twice"},
		{"closure", func() {}, "function literal"},
		{"not a function", "doNothing", "not a function"},
		{"bad result", func2results, "must return nothing, an error, a result, or a result and an error"},
		{"variadic", variadic, "variadic"},
		{"made by reflect.MakeFunc", funcOf(reflect.TypeFor[int]()), "a function made by reflect.MakeFunc cannot be found in another process"},
		{"pointer to a number", takesIntPtr, "parameter 1 (*int): not a shm object, so the child would write to a copy: make it a shm object such as *shm.RawValue[int], or take int to copy the value"},
		{"pointer to a struct with strings", takesConfigPtr, "parameter 1 (*shm_test.config): not a shm object, so the child would write to a copy: take shm_test.config to copy the value"},
		{"pointer to a pointer to an object", takesObjectPtrPtr, "parameter 1 (**shm.RawValue[int64]): not a shm object"},
		{"chan", takesChan, "parameter 2 (chan int): a channel cannot reach another process"},
		{"func", takesFunc, "parameter 1 (func()): a function cannot reach another process"},
		{"unsafe.Pointer", takesUnsafePointer, "parameter 1 (unsafe.Pointer): an unsafe.Pointer cannot reach another process"},
		{"unexported fields only", takesSecret, "parameter 1 (shm_test.secret): encoding/gob cannot copy it: gob: type shm_test.secret has no exported fields"},
		{"map of channels", takesMapOfChans, "parameter 1 (map[string]chan int): encoding/gob cannot copy it"},
		{"object inside a struct", takesHolder, "parameter 1 (shm_test.holder): it holds a shm object at holder.Counter (*shm.RawValue[int64]): pass each shm object as a parameter of its own"},
		{"RawValue by value", funcOf(reflect.TypeFor[shm.RawValue[int]]()), "parameter 1 (shm.RawValue[int]): passed by value, so the child would get a copy: take *shm.RawValue[int]"},
		{"Mutex by value", funcOf(reflect.TypeFor[shm.Mutex]()), "parameter 1 (shm.Mutex): passed by value, so the child would get a copy: take *shm.Mutex"},
		{"Array by value", funcOf(reflect.TypeFor[shm.Array[int32]]()), "parameter 1 (shm.Array[int32]): passed by value, so the child would get a copy: take *shm.Array[int32]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), c.want) {
					t.Fatalf("Register panicked with %v, want a message with %q", r, c.want)
				}
			}()
			shm.Register(c.fn)
		})
	}
}

func func2results() (int, int) { return 0, 0 }
func variadic(xs ...int)       {}

// Functions whose parameters can never be passed to a child.
func takesIntPtr(p *int)                        {}
func takesConfigPtr(c *config)                  {}
func takesObjectPtrPtr(v **shm.RawValue[int64]) {}
func takesChan(n int, c chan int)               {}
func takesFunc(f func())                        {}
func takesUnsafePointer(p unsafe.Pointer)       {}
func takesSecret(s secret)                      {}
func takesMapOfChans(m map[string]chan int)     {}
func takesHolder(h holder)                      {}

type secret struct{ a, b int }

type holder struct {
	Name    string
	Counter *shm.RawValue[int64]
}

// funcOf returns a function with one parameter of type t: a shm object by
// value, which vet would rightly refuse in a declaration.
func funcOf(t reflect.Type) any {
	ft := reflect.FuncOf([]reflect.Type{t}, nil, false)
	return reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value { return nil }).Interface()
}

// plain holds what a copied parameter may be made of: gob copies its exported
// fields, skips the channel and function ones, and the time.Time through its
// GobEncode method.
type plain struct {
	When  time.Time
	Done  chan int
	Hook  func()
	Count int
	Any   any
	Empty struct{}
}

// copyPlain receives parameters that Register must accept, and reports them.
func copyPlain(out *shm.RawValue[report], p plain, e error, x any, empty struct{}) {
	out.Store(report{NameLen: int64(p.When.Year()), Tags: int64(p.Count), LimitSum: int64(len(e.Error())), Scaled: x.(float64)})
}

func init() {
	shm.Register(copyPlain)
	gob.Register(gobError(""))
}

// TestRegisterAccepts starts a child whose parameters Register must accept:
// interfaces, a struct with channel and function fields beside others, a type
// with a GobEncode method, an empty struct.
func TestRegisterAccepts(t *testing.T) {
	out, err := shm.NewRawValue(report{})
	if err != nil {
		t.Fatal(err)
	}
	p := plain{When: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), Done: make(chan int), Count: 3}
	join(t, start(t, copyPlain, out, p, gobError("broken"), 2.5, struct{}{}))
	if got, want := out.Load(), (report{NameLen: 2024, Tags: 3, LimitSum: 6, Scaled: 2.5}); got != want {
		t.Fatalf("child got %+v, want %+v", got, want)
	}
}

// gobError is an error that encoding/gob can copy.
type gobError string

func (e gobError) Error() string { return string(e) }

// middleParent starts a grandchild and then waits to be killed.
func middleParent(grandchild *shm.RawValue[atomic.Int64]) error {
	if _, err := shm.Start(reportPidAndWait, grandchild); err != nil {
		return err
	}
	sleepForever()
	return nil
}

func reportPidAndWait(pid *shm.RawValue[atomic.Int64]) {
	pid.Ptr().Store(int64(os.Getpid()))
	sleepForever()
}

func init() {
	shm.Register(middleParent)
	shm.Register(reportPidAndWait)
}

// TestChildDiesWithParent kills a child that has a child of its own: the
// grandchild must not outlive its parent.
func TestChildDiesWithParent(t *testing.T) {
	grandchild, err := shm.NewRawValue(atomic.Int64{})
	if err != nil {
		t.Fatal(err)
	}
	middle := start(t, middleParent, grandchild)
	await(t, "the grandchild to start", func() bool { return grandchild.Ptr().Load() != 0 })
	pid := grandchild.Ptr().Load()
	middle.Kill()
	middle.Join()
	await(t, fmt.Sprintf("grandchild %d to die with its parent", pid), func() bool {
		// A dead process waiting to be reaped by its new parent is a zombie.
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return err != nil || isZombie(int(pid))
	})
}

func countSegments(out *shm.RawValue[int64]) { out.Store(int64(shm.SegmentCount())) }

func init() { shm.Register(countSegments) }

// TestChildMapsOnlyItsSegments checks that a child maps the segments its
// arguments live in and no others, however many the parent has.
func TestChildMapsOnlyItsSegments(t *testing.T) {
	for i := 0; i < 3; i++ {
		if _, err := shm.NewRawArray[byte](8 << 20); err != nil { // a segment of its own
			t.Fatal(err)
		}
	}
	out, err := shm.NewRawValue(int64(0))
	if err != nil {
		t.Fatal(err)
	}
	join(t, start(t, countSegments, out))
	if got := out.Load(); got != 1 {
		t.Fatalf("child maps %d segments, want 1 (the parent has %d)", got, shm.SegmentCount())
	}
}

// awaitDone waits for p's Done channel, failing the test if it is not closed
// within a minute.
func awaitDone(t *testing.T, p *shm.Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(time.Minute):
		t.Fatalf("Done not closed a minute after the child's exit")
	}
}

// TestJoinContextLeavesChildRunning checks that JoinContext returns when its
// context ends, leaving the child running as Python's join(timeout) does, and
// that Join still works afterwards.
func TestJoinContextLeavesChildRunning(t *testing.T) {
	started := newFlag(t)
	p := start(t, holdForever, started)
	await(t, "the child to start", func() bool { return started.Ptr().Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.JoinContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("JoinContext with a deadline on a sleeping child = %v, want context.DeadlineExceeded", err)
	}
	if !p.Alive() {
		t.Fatal("Alive() = false after JoinContext timed out")
	}
	select {
	case <-p.Done():
		t.Fatal("Done closed after JoinContext timed out")
	default:
	}
	if got := p.ExitCode(); got != -1 {
		t.Fatalf("ExitCode() = %d, want -1 for a running child", got)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.JoinContext(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("JoinContext with a cancelled context = %v, want context.Canceled", err)
	}
	// The child is still the one that was started: killing it is what ends it.
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	err := p.Join()
	var ee *shm.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("Join after Kill = %v, want an *ExitError for SIGKILL", err)
	}
	if err2 := p.JoinContext(cancelled); err2 != err {
		t.Fatalf("JoinContext after exit, cancelled context = %v, want Join's %v", err2, err)
	}
}

// TestJoinContextSameAsJoin checks that JoinContext returns what Join does.
func TestJoinContextSameAsJoin(t *testing.T) {
	for _, c := range []struct {
		fn   any
		args []any
	}{{doNothing, nil}, {failWith, []any{"broken"}}, {panicWith, []any{"boom"}}} {
		p := start(t, c.fn, c.args...)
		got := p.JoinContext(bounded(t))
		if want := p.Join(); got != want {
			t.Fatalf("JoinContext = %v, Join = %v", got, want)
		}
	}
}

// TestJoinRaces joins one child from several goroutines at once, with Join
// and with JoinContext, some of whose contexts end first. Every call that
// does not give up must return the one result; run it with -race.
func TestJoinRaces(t *testing.T) {
	release := newFlag(t)
	p := start(t, failAfter, release, "late")
	var wg sync.WaitGroup
	results := make([]error, 8)
	gaveUp := make(chan struct{})
	var giveUps sync.WaitGroup
	for i := range results {
		wg.Add(1)
		if i%2 == 1 {
			giveUps.Add(1)
		}
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0:
				results[i] = p.Join()
			case 1, 3:
				ctx, cancel := context.WithCancel(context.Background())
				go func() { <-gaveUp; cancel() }()
				results[i] = p.JoinContext(ctx)
				if !errors.Is(results[i], context.Canceled) {
					t.Errorf("JoinContext %d = %v, want context.Canceled: the child waits for the release", i, results[i])
				}
				giveUps.Done()
				cancel()
			case 2:
				results[i] = p.JoinContext(bounded(t))
			}
		}()
	}
	close(gaveUp)
	giveUps.Wait()
	release.Ptr().Store(1)
	wg.Wait()
	var want error
	for i, err := range results {
		if i%2 == 1 {
			continue
		}
		if want == nil {
			want = err
		}
		if err == nil || err != want {
			t.Fatalf("results differ: %v", results)
		}
	}
	if !strings.Contains(want.Error(), "late") {
		t.Fatalf("Join = %v, want the child's error", want)
	}
}

// failAfter waits for the release, then returns an error.
func failAfter(release *shm.RawValue[atomic.Int32], msg string) error {
	holdUntil(release)
	return errors.New(msg)
}

func init() { shm.Register(failAfter) }

// TestDoneWithoutJoin checks that Done is closed when the child exits, with
// no Join, and that ExitCode and Alive then tell how it ended.
func TestDoneWithoutJoin(t *testing.T) {
	p := start(t, failWith, "done")
	if p.Done() != p.Done() {
		t.Fatal("Done returns different channels")
	}
	awaitDone(t, p)
	if p.Alive() {
		t.Fatal("Alive() = true after Done was closed")
	}
	if got := p.ExitCode(); got != 1 {
		t.Fatalf("ExitCode() after Done = %d, want 1", got)
	}
	if err := p.Join(); err == nil || !strings.Contains(err.Error(), "done") {
		t.Fatalf("Join after Done = %v, want the child's error", err)
	}
}

// TestSignal ends a child with SIGTERM, Python's terminate(), and signals it
// again once it has exited.
func TestSignal(t *testing.T) {
	started := newFlag(t)
	p := start(t, holdForever, started)
	await(t, "the child to start", func() bool { return started.Ptr().Load() == 1 })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM) = %v", err)
	}
	err := p.Join()
	var ee *shm.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("Join after SIGTERM = %v, want an *ExitError for SIGTERM", err)
	}
	if !strings.Contains(err.Error(), "terminated") {
		t.Fatalf("error text %q does not say terminated", err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal after exit = %v, want nil", err)
	}
}
