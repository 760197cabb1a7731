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
	err         error  // a *TypeError when T holds Go pointers
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
	if path, bad := findPointer(t, typeName(t)); bad != nil {
		ti.err = &TypeError{Type: t, Field: path, Bad: bad}
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

// findPointer returns the path to, and the type of, the first part of t that
// holds a Go pointer, or a nil type when t holds none.
func findPointer(t reflect.Type, path string) (string, reflect.Type) {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return "", nil
	case reflect.Array:
		if t.Len() == 0 {
			return "", nil // holds nothing, whatever its element
		}
		return findPointer(t.Elem(), path+"[0]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if p, bad := findPointer(f.Type, path+"."+f.Name); bad != nil {
				return p, bad
			}
		}
		return "", nil
	}
	return path, t
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
