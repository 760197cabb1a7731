package shm

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"strings"
)

// The names of functions, which is how a parent tells a child what to run.

// closureName matches the names the compiler gives function literals and
// method values, which cannot be found again in another process.
var closureName = regexp.MustCompile(`\.func\d+(\.\d+)*$|-fm$|\.gowrap\d+$`)

// makeFuncName is the name of every function made by reflect.MakeFunc, which
// cannot be told apart by name.
const makeFuncName = "reflect.makeFuncStub"

// funcName returns the name the runtime gives the function v: pkg.f, or
// pkg.f[...] for an instantiation of a generic function.
func funcName(v reflect.Value) string {
	if f := runtime.FuncForPC(v.Pointer()); f != nil {
		return f.Name()
	}
	return "?"
}

// isInstantiation reports whether name is that of an instantiation of a
// generic function, whose type arguments the runtime does not show.
func isInstantiation(name string) bool { return strings.Contains(name, "[...]") }

// targetKey returns the registry key of the function v: its name, the same in
// a parent and its children, which run the same executable. The
// instantiations of a generic function share a name, pkg.f[...]; their key
// adds the distance from Register's code to theirs, also the same in every
// process that runs the executable.
func targetKey(v reflect.Value) string {
	name := funcName(v)
	if !isInstantiation(name) {
		return name
	}
	return fmt.Sprintf("%s@%+#x", name, int64(v.Pointer()-reflect.ValueOf(Register).Pointer()))
}

// fullName returns the name of the function at pc with its type arguments,
// pkg.f[int] where the runtime says pkg.f[...]. They are in the executable's
// function table (.gopclntab, which even a stripped binary keeps), read here
// at a cost of tens of milliseconds: this is for messages only. It returns
// the runtime's name when it cannot read the table.
func fullName(pc uintptr) string {
	name := "?"
	if f := runtime.FuncForPC(pc); f != nil {
		name = f.Name()
	}
	if !isInstantiation(name) {
		return name
	}
	exe, err := executable()
	if err != nil {
		return name
	}
	f, err := elf.Open(exe)
	if err != nil {
		return name
	}
	defer f.Close()
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		return name
	}
	data, err := pcln.Data()
	if err != nil {
		return name
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return name
	}
	// The executable may be loaded elsewhere than its table says (PIE):
	// Register's place in both gives the difference.
	reg := tab.LookupFunc(funcName(reflect.ValueOf(Register)))
	if reg == nil {
		return name
	}
	delta := reflect.ValueOf(Register).Pointer() - uintptr(reg.Entry)
	if fn := tab.PCToFunc(uint64(pc - delta)); fn != nil && strings.HasPrefix(fn.Name, strings.TrimSuffix(name, "[...]")+"[") {
		return fn.Name
	}
	return name
}

// registerHint returns how the package of the function named name, with its
// type arguments, registers it: a call in Go, such as shm.Register(f) or
// shm.Register(f[int]).
func registerHint(name string) string {
	pkg, rest := splitPkg(name)
	if isInstantiation(rest) {
		return fmt.Sprintf("shm.Register with this instantiation of %s", strings.ReplaceAll(rest, "[...]", ""))
	}
	// Types of the function's own package go unqualified, those of others
	// qualified by the last element of their path.
	if pkg != "" {
		rest = strings.ReplaceAll(rest, pkg+".", "")
	}
	return "shm.Register(" + pathPrefix.ReplaceAllString(rest, "") + ")"
}

// pathPrefix matches the directories of an import path: a/b/ in a/b/c.T.
var pathPrefix = regexp.MustCompile(`([\w.~-]+/)+`)

// splitPkg splits a function's name into its package path and the rest:
// pkg/path and f, T.M, (*T).M or f[int].
func splitPkg(name string) (pkg, rest string) {
	end := strings.IndexAny(name, "[(")
	if end < 0 {
		end = len(name)
	}
	slash := strings.LastIndex(name[:end], "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return "", name
	}
	return name[:slash+1+dot], name[slash+1+dot+1:]
}
