package shm

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// A target is a function registered to run in a child.
type target struct {
	name  string
	fn    reflect.Value
	isErr bool // fn returns an error
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*target{}
	mainCalled atomic.Bool
)

var errorType = reflect.TypeFor[error]()

// closureName matches the names the compiler gives function literals and
// method values, which cannot be found again in another process.
var closureName = regexp.MustCompile(`\.func\d+(\.\d+)*$|-fm$|\.gowrap\d+$`)

// Register makes fn startable in a child process by [Start]. Call it from an
// init function, so that the child, which runs the same program, registers
// the same functions before [Main] looks fn up.
//
// fn must be a top-level function or a method expression (not a function
// literal nor a method value) that returns nothing or an error. Its parameters
// may be shm objects (*[RawValue], *[Value], *[RawArray], *[Array], *[Mutex]),
// which the child shares, and any values that encoding/gob can encode, which
// the child receives a copy of. Register panics if fn is not such a function
// or if it is registered twice.
func Register(fn any) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		panic(fmt.Sprintf("shm: Register of %T, not a function", fn))
	}
	name := funcName(v)
	if closureName.MatchString(name) {
		panic(fmt.Sprintf("shm: Register of %s: a function literal or method value cannot be found in another process; register a top-level function", name))
	}
	t := v.Type()
	if t.IsVariadic() {
		panic(fmt.Sprintf("shm: Register of %s: variadic functions are not supported", name))
	}
	isErr := false
	switch {
	case t.NumOut() == 0:
	case t.NumOut() == 1 && t.Out(0) == errorType:
		isErr = true
	default:
		panic(fmt.Sprintf("shm: Register of %s: it must return nothing or an error, not %s", name, t))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("shm: Register of %s twice", name))
	}
	registry[name] = &target{name: name, fn: v, isErr: isErr}
}

func funcName(v reflect.Value) string {
	if f := runtime.FuncForPC(v.Pointer()); f != nil {
		return f.Name()
	}
	return "?"
}

// lookup returns the registered target that fn is.
func lookup(fn any) (*target, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("shm: Start of %T, not a function", fn)
	}
	name := funcName(v)
	registryMu.RLock()
	t := registry[name]
	registryMu.RUnlock()
	switch {
	case t != nil && t.fn.Pointer() == v.Pointer():
		return t, nil
	case closureName.MatchString(name):
		return nil, fmt.Errorf("shm: Start of %s: a function literal or method value cannot be started in another process; register a top-level function", name)
	}
	return nil, fmt.Errorf("shm: Start of %s: not registered; call shm.Register(%s) in an init function", name, shortName(name))
}

// shortName returns a function's name as its own package writes it.
func shortName(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.Index(name, "."); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// Main must be the first line of main, and of TestMain in tests that start
// child processes. In the parent it returns at once. In a child started by
// [Start] it runs the target function and exits the process: with status 0
// when the function returns nothing or nil, 1 when it returns an error, and 2
// when it panics; the error or panic reaches the parent's [Process.Join].
func Main() {
	mainCalled.Store(true)
	if !isChild() {
		return
	}
	os.Exit(runChild())
}
