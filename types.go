package shm

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"sync"
)

// typeInfo is what shm learns once about a type T that is to live in shared memory.
type typeInfo struct {
	err         error  // a *TypeError when T cannot be shared
	fingerprint uint64 // a hash of T's layout, checked when an object reaches a child
}

var typeInfos sync.Map // reflect.Type → *typeInfo

// infoOf returns what shm knows of T, working it out on first use.
func infoOf[T any]() *typeInfo { return infoOfType(reflect.TypeFor[T]()) }

func infoOfType(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{fingerprint: fingerprint(t)}
	if path, bad, reason := findUnshareable(t, typeName(t)); bad != nil {
		ti.err = &TypeError{Type: t, Field: path, Bad: bad, Reason: reason}
	}
	v, _ := typeInfos.LoadOrStore(t, ti)
	return v.(*typeInfo)
}

func typeName(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// findUnshareable returns the path to, the type of, and the reason against
// the first part of t that cannot be shared between processes, or a nil type
// when every part can: a part that holds a Go pointer, or a sync type, which
// holds no pointer in some cases but works only within one process.
func findUnshareable(t reflect.Type, path string) (string, reflect.Type, string) {
	if reason := syncReason(t); reason != "" {
		return path, t, reason
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return "", nil, ""
	case reflect.Array:
		if t.Len() == 0 {
			return "", nil, "" // holds nothing, whatever its element
		}
		return findUnshareable(t.Elem(), path+"[0]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if p, bad, reason := findUnshareable(f.Type, path+"."+f.Name); bad != nil {
				return p, bad, reason
			}
		}
		return "", nil, ""
	}
	return path, t, pointerReason(t.Kind())
}

// syncReason says why t, if it is one of package sync's types, cannot be
// shared, and what to use instead; it returns "" for any other type. The
// sync/atomic types are another package and work across processes. Package
// internal/sync is checked too: it holds sync.Mutex's state, which is what a
// type defined from sync.Mutex (type myMutex sync.Mutex) is left with. The
// zero-size sync.noCopy marker holds nothing and is let through.
func syncReason(t reflect.Type) string {
	if (t.PkgPath() != "sync" && t.PkgPath() != "internal/sync") || t.Size() == 0 {
		return ""
	}
	switch t.Name() {
	case "Mutex", "RWMutex":
		return "locks only within one process; use shm.Mutex"
	case "WaitGroup":
		return "waits only within one process; use shm.Mutex, or Process.Join to wait for a child"
	case "Once":
		return "runs its function once per process, not once for all; use shm.Mutex and a flag"
	case "Cond":
		return "wakes goroutines of one process only; use shm.Mutex"
	case "Map", "Pool":
		return "holds Go pointers and works only within one process; use a fixed-size array under shm.Mutex"
	}
	return "works only within one process; use shm.Mutex"
}

// fingerprint hashes t's name and layout: its kind, size, alignment, and the
// names, offsets and layouts of its fields and elements.
func fingerprint(t reflect.Type) uint64 {
	var b strings.Builder
	describe(&b, t)
	h := fnv.New64a()
	h.Write([]byte(b.String()))
	return h.Sum64()
}

func describe(b *strings.Builder, t reflect.Type) {
	fmt.Fprintf(b, "%s:%d:%d:%d", t.String(), t.Kind(), t.Size(), t.Align())
	switch t.Kind() {
	case reflect.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		describe(b, t.Elem())
	case reflect.Struct:
		b.WriteString("{")
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			fmt.Fprintf(b, "%s@%d ", f.Name, f.Offset)
			describe(b, f.Type)
			b.WriteString(";")
		}
		b.WriteString("}")
	}
}
