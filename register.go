package shm

import (
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
)

// A target is a function registered to run in a child.
type target struct {
	key   string // in the registry: see targetKey
	fn    reflect.Value
	isErr bool         // fn's last result is an error
	res   reflect.Type // fn's result other than an error, or nil

	nameOnce sync.Once
	name     string // see fullName
}

// String returns the target's name, with the type arguments of an
// instantiation of a generic function: pkg.f or pkg.f[int].
func (t *target) String() string {
	t.nameOnce.Do(func() { t.name = fullName(t.fn.Pointer()) })
	return t.name
}

var (
	registryMu  sync.RWMutex
	registry    = map[string]*target{}
	mainCalled  atomic.Bool // Main was called
	startCalled atomic.Bool // Start was called, perhaps before Main
)

var errorType = reflect.TypeFor[error]()

// Register makes fn startable in a child process by [Start]. Call it from an
// init function, so that the child, which runs the same program, registers
// the same functions before [Main] looks fn up.
//
// fn must be a top-level function or a method expression (not a function
// literal, a method value nor a function made by reflect.MakeFunc) that
// returns nothing, an error, a result, or a result and an error. A result
// travels back by copy, encoded with encoding/gob, from a [Pool]'s worker to
// [Future.Result]; [Start] runs fn for its effects and drops its result. Its parameters may be shm objects (*[RawValue],
// *[Value], *[RawArray], *[Array], *[Mutex]), which the child shares, and
// values that encoding/gob can copy, which the child receives a copy of.
// Register refuses, once and for all, a parameter that could never be passed:
// a pointer that is not a shm object (the child would write to its copy), a
// shm object by value, a channel, a function, an unsafe.Pointer, a value
// holding a shm object, and a type that gob cannot encode whatever its value,
// such as a struct with no exported fields. An interface parameter is checked
// at [Start], on the value it is given, which gob must know (gob.Register). Each instantiation of a generic function is a
// function of its own, registered on its own: shm.Register(f[int]). Register
// panics if fn is not such a function or if it is registered twice.
func Register(fn any) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		panic(fmt.Sprintf("shm: Register of %T, not a function", fn))
	}
	name := funcName(v)
	t := v.Type()
	if t.IsVariadic() {
		panic(fmt.Sprintf("shm: Register of %s: variadic functions are not supported", name))
	}
	isErr := false
	var res reflect.Type
	switch {
	case t.NumOut() == 0:
	case t.NumOut() == 1 && t.Out(0) == errorType:
		isErr = true
	case t.NumOut() == 1 && t.Out(0) != errorType:
		res = t.Out(0)
	case t.NumOut() == 2 && t.Out(0) != errorType && t.Out(1) == errorType:
		res, isErr = t.Out(0), true
	default:
		panic(fmt.Sprintf("shm: Register of %s: it must return nothing, an error, a result, or a result and an error, not %s", name, t))
	}
	if res != nil && !isChild() {
		if err := checkResult(res); err != nil {
			panic(fmt.Sprintf("shm: Register of %s: result (%s): %v", name, res, err))
		}
	}
	// A child runs the same Register calls as its parent, which checked the
	// parameters already: a child skips the work, which costs every Start.
	for i := 0; i < t.NumIn() && !isChild(); i++ {
		if err := checkParam(t.In(i)); err != nil {
			panic(fmt.Sprintf("shm: Register of %s: parameter %d (%s): %v", name, i+1, t.In(i), err))
		}
	}
	switch {
	case closureName.MatchString(name):
		panic(fmt.Sprintf("shm: Register of %s: a function literal or method value cannot be found in another process; register a top-level function", name))
	case name == makeFuncName:
		panic("shm: Register of a function made by reflect.MakeFunc: a function made by reflect.MakeFunc cannot be found in another process; register a top-level function")
	}
	key := targetKey(v)
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[key]; dup {
		panic(fmt.Sprintf("shm: Register of %s twice", fullName(v.Pointer())))
	}
	registry[key] = &target{key: key, fn: v, isErr: isErr, res: res}
}

// lookup returns the registered target that fn is.
func lookup(fn any) (*target, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("shm: Start of %T, not a function", fn)
	}
	key := targetKey(v)
	registryMu.RLock()
	t := registry[key]
	registryMu.RUnlock()
	if t != nil && t.fn.Pointer() == v.Pointer() {
		return t, nil
	}
	name := fullName(v.Pointer())
	if closureName.MatchString(name) {
		return nil, fmt.Errorf("shm: Start of %s: a function literal or method value cannot be started in another process; register a top-level function", name)
	}
	return nil, fmt.Errorf("shm: Start of %s: not registered; call %s in an init function", name, registerHint(name))
}

// Main must be the first line of main, and of TestMain in tests that start
// child processes. In the parent it returns at once. In a child started by
// [Start] it runs the target function and exits the process: with status 0
// when the function returns nothing or nil, 1 when it returns an error, and 2
// when it panics; the error or panic reaches the parent's [Process.Join].
//
// A child runs everything its program does before Main again, so Main panics
// if this process called [Start] or made a shared object before it: make
// shared objects after Main, not in package-level variables or init
// functions. Calls after the first return at once.
func Main() {
	if mainCalled.Swap(true) {
		return
	}
	switch {
	case startCalled.Load():
		panic("shm: Main called after Start: Main must be the first line of main (and of TestMain), or each child runs the parent's code up to it again")
	case !theHeap.empty():
		panic("shm: Main called after shared objects were made: a child would make its own again, not share them; make them after Main, which must be the first line of main (and of TestMain), not in package-level variables or init functions")
	}
	if !isChild() {
		return
	}
	os.Exit(runChild())
}
