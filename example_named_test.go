package shm_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"

	"github.com/shmgo/shm"
)

// exampleName returns a segment name for an example: name, made unique to
// this run so that examples running side by side on one machine never meet.
func exampleName(name string) string { return segPrefix + "example-" + name }

// A program creates a segment and places named objects in it; any program of
// the same user, in Go or Python, opens it by name and finds them.
func ExampleCreate() {
	name := exampleName("scores")
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name) // the segment outlives its processes until removed
	defer seg.Close()

	score, err := shm.NewValue[int64](0, shm.In(seg, "score"))
	if err != nil {
		log.Fatal(err)
	}
	score.Update(func(x int64) int64 { return x + 10 })

	// Another program would do this:
	other, err := shm.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	v, err := shm.LookupValue[int64](other, "score")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Load())
	// Output: 10
}

// Of two creators of one name, exactly one wins.
func ExampleCreate_exists() {
	name := exampleName("once")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	_, err = shm.Create(name, 8192)
	fmt.Println(errors.Is(err, fs.ErrExist))
	// Output: true
}

func ExampleOpen() {
	_, err := shm.Open(exampleName("nobody-made-this"))
	fmt.Println(errors.Is(err, fs.ErrNotExist))
	// Output: true
}

// Remove takes the name away; the memory lives on for the processes that
// map it.
func ExampleRemove() {
	name := exampleName("temp")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	v, err := shm.NewRawValue(1.5, shm.In(seg, "x"))
	if err != nil {
		log.Fatal(err)
	}
	if err := shm.Remove(name); err != nil {
		log.Fatal(err)
	}
	_, err = shm.Open(name)
	fmt.Println(errors.Is(err, fs.ErrNotExist), v.Load())
	// Output: true 1.5
}

// Objects found through a segment stay valid after Close.
func ExampleSegment_Close() {
	name := exampleName("closed")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	n, err := shm.NewValue(41, shm.In(seg, "n"))
	if err != nil {
		log.Fatal(err)
	}
	if err := seg.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.Update(func(x int) int { return x + 1 }))
	_, err = shm.LookupValue[int](seg, "n")
	fmt.Println(errors.Is(err, fs.ErrClosed))
	// Output:
	// 42
	// true
}

func ExampleSegment_Name() {
	name := exampleName("named")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	fmt.Println(seg.Name() == name, "/dev/shm/"+seg.Name() == "/dev/shm/"+name)
	// Output: true true
}

// The creator's processes open a segment for writing; other users that its
// mode lets read it open it read-only.
func ExampleSegment_ReadOnly() {
	name := exampleName("public")
	seg, err := shm.Create(name, 8192, shm.Mode(0o644))
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	fmt.Println(seg.ReadOnly())
	// Output: false
}

// A file made by another program, such as Python's SharedMemory, opens as a
// raw segment: its bytes, without names.
func ExampleSegment_Bytes() {
	name := exampleName("from-python")
	if err := os.WriteFile("/dev/shm/"+name, []byte("hello"), 0o600); err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	seg, err := shm.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	b, err := seg.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", b.Slice())
	// Output: hello
}

// Objects lists what a segment holds, as `shm inspect` shows it.
func ExampleSegment_Objects() {
	name := exampleName("inventory")
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	type point struct{ X, Y float32 }
	shm.NewValue(point{1, 2}, shm.In(seg, "origin"))
	shm.NewRawArray[uint16](100, shm.In(seg, "histogram"))
	shm.NewMutex(shm.In(seg, "lock"))

	objs, err := seg.Objects()
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range objs {
		fmt.Printf("%-9s %-8s %3d x %s\n", o.Name, o.Kind, o.Len, o.Type)
	}
	// Output:
	// origin    Value      1 x struct {X float32 @0; Y float32 @4}
	// histogram RawArray 100 x uint16
	// lock      Mutex      1 x shm.Mutex
}

// Stat describes a segment, as `shm ls` shows it.
func ExampleSegment_Stat() {
	name := exampleName("stat")
	seg, err := shm.Create(name, 10000) // rounded up to pages
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	shm.NewRawValue(int64(1), shm.In(seg, "x"))

	st, err := seg.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Size, st.Objects, st.Mode, st.CreatorPid == os.Getpid(), st.CreatorAlive)
	// Output: 12288 1 -rw------- true true
}

// The owner reads and writes; others may be let read, not write.
func ExampleMode() {
	for _, perm := range []fs.FileMode{0o600, 0o644, 0o666} {
		name := exampleName("mode")
		seg, err := shm.Create(name, 8192, shm.Mode(perm))
		if err != nil {
			fmt.Printf("%v: refused\n", perm)
			continue
		}
		fmt.Printf("%v: made\n", perm)
		seg.Close()
		shm.Remove(name)
	}
	// Output:
	// -rw-------: made
	// -rw-r--r--: made
	// -rw-rw-rw-: refused
}

// In places every kind of object; names are unique in a segment.
func ExampleIn() {
	name := exampleName("in")
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	m, err := shm.NewMutex(shm.In(seg, "lock"))
	if err != nil {
		log.Fatal(err)
	}
	// Two objects under one lock; the lock must be in the same segment.
	shm.NewValue(0, shm.In(seg, "a"), shm.WithLock(m))
	shm.NewArray[float64](8, shm.In(seg, "b"), shm.WithLock(m))

	_, err = shm.NewRawValue(1, shm.In(seg, "a"))
	fmt.Println(errors.Is(err, fs.ErrExist))
	// Output: true
}

func ExampleLookupRawValue() {
	name := exampleName("raw-value")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	shm.NewRawValue(20.5, shm.In(seg, "temperature"))

	t, err := shm.LookupRawValue[float64](seg, "temperature")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Load())
	// Output: 20.5
}

// LookupRawValue reads a Value without its lock, which a read-only segment
// needs; LookupValue takes the lock.
func ExampleLookupValue() {
	name := exampleName("value")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	shm.NewValue[int64](7, shm.In(seg, "count"))

	v, err := shm.LookupValue[int64](seg, "count")
	if err != nil {
		log.Fatal(err)
	}
	v.Update(func(x int64) int64 { return x * 6 })
	raw, err := shm.LookupRawValue[int64](seg, "count")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Load(), raw.Load())
	// Output: 42 42
}

func ExampleLookupRawArray() {
	name := exampleName("raw-array")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	shm.NewRawArrayFrom([]int32{3, 1, 2}, shm.In(seg, "ids"))

	a, err := shm.LookupRawArray[int32](seg, "ids")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Len(), a.Slice())
	// Output: 3 [3 1 2]
}

func ExampleLookupArray() {
	name := exampleName("array")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	shm.NewArray[float64](4, shm.In(seg, "samples"))

	a, err := shm.LookupArray[float64](seg, "samples")
	if err != nil {
		log.Fatal(err)
	}
	a.Update(2, func(x float64) float64 { return x + 0.5 })
	fmt.Println(a.Snapshot())
	// Output: [0 0 0.5 0]
}

func ExampleLookupMutex() {
	name := exampleName("mutex")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	shm.NewMutex(shm.In(seg, "lock"))

	m, err := shm.LookupMutex(seg, "lock")
	if err != nil {
		log.Fatal(err)
	}
	if err := m.LockContext(context.Background()); err != nil {
		fmt.Println(err) // ErrOwnerDead: a program died holding it
	}
	fmt.Println("locked")
	m.Unlock()
	// Output: locked
}

// A look-up with a type of another layout shows both.
func ExampleLayoutError() {
	name := exampleName("layout")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	type v1 struct{ X, Y float32 }
	shm.NewRawValue(v1{}, shm.In(seg, "pos"))

	type v2 struct{ X, Y, Z float32 }
	_, err = shm.LookupRawValue[v2](seg, "pos")
	var le *shm.LayoutError
	if errors.As(err, &le) {
		fmt.Println("have:", le.Have)
		fmt.Println("want:", le.Want)
	}
	// Output:
	// have: struct {X float32 @0; Y float32 @4} (8 bytes)
	// want: struct {X float32 @0; Y float32 @4; Z float32 @8} (12 bytes)
}

// A damaged header gives a FormatError naming the field.
func ExampleFormatError() {
	name := exampleName("damaged")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	seg.Close()
	f, err := os.OpenFile("/dev/shm/"+name, os.O_WRONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	f.WriteAt([]byte{9}, 8) // the format version
	f.Close()

	_, err = shm.Open(name)
	var fe *shm.FormatError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field)
	}
	// Output: version
}

// visit adds 1 to the visit counter "n" of the segment name, which the first
// program to come creates, and returns the count. Any number of programs
// may run it at once.
func visit(name string) (int64, error) {
	seg, err := shm.Create(name, 1<<16) // the first program creates it
	if errors.Is(err, fs.ErrExist) {
		seg, err = shm.Open(name) // the others open it
	}
	if err != nil {
		return 0, err
	}
	defer seg.Close()
	n, err := shm.NewValue[int64](0, shm.In(seg, "n"))
	if errors.Is(err, fs.ErrExist) {
		n, err = shm.LookupValue[int64](seg, "n")
	}
	if err != nil {
		return 0, err
	}
	return n.Update(func(x int64) int64 { return x + 1 }), nil
}

// Unrelated programs share a counter by name: each run of a program calling
// visit counts one more (the README's program).
func Example_visits() {
	name := exampleName("visits")
	defer shm.Remove(name)
	for range 3 {
		n, err := visit(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("visit", n)
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}

func exampleAddVisit(v *shm.Value[int64]) {
	v.Update(func(x int64) int64 { return x + 1 })
}

func init() { shm.Register(exampleAddVisit) }

// A Segment is a file of objects that any program of the user opens by
// name; its objects also pass to children, which map the same file.
func ExampleSegment() {
	name := exampleName("segment")
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	v, err := shm.NewValue[int64](0, shm.In(seg, "n"))
	if err != nil {
		log.Fatal(err)
	}
	exampleRun(exampleAddVisit, v) // a child, like any shared object
	n, err := visit(name)          // a look-up by name
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, v.Load())
	// Output: 2 2
}

// Options go to Create; Mode is the one there is.
func ExampleSegmentOption() {
	name := exampleName("option")
	opts := []shm.SegmentOption{shm.Mode(0o640)}
	seg, err := shm.Create(name, 8192, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	st, err := seg.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Mode)
	// Output: -rw-r-----
}

// The descriptor is the layout that Python's shmgo and other programs read:
// canonical JSON, the same bytes for the same layout.
func ExampleObjectInfo() {
	name := exampleName("object-info")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	type pair struct {
		A int32
		B bool
	}
	shm.NewValue(pair{7, true}, shm.In(seg, "p"))

	objs, err := seg.Objects()
	if err != nil {
		log.Fatal(err)
	}
	o := objs[0]
	fmt.Println(o.Name, o.Kind, o.Len, o.Size, o.Lock != 0)
	fmt.Println(o.Type)
	fmt.Printf("%s\n", o.Descriptor)
	// Output:
	// p Value 1 8 true
	// struct {A int32 @0; B bool @4}
	// {"kind":"struct","size":8,"align":4,"fields":[{"name":"A","offset":0,"type":{"kind":"int32","size":4,"align":4}},{"name":"B","offset":4,"type":{"kind":"bool","size":1,"align":1}}]}
}

// A raw segment, such as Python's SharedMemory makes, has no objects and no
// creator: all of it counts as used.
func ExampleSegmentInfo() {
	name := exampleName("info")
	if err := os.WriteFile("/dev/shm/"+name, make([]byte, 100), 0o600); err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	seg, err := shm.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Close()
	st, err := seg.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Raw, st.Size, st.Used, st.Objects, st.CreatorKnown)
	// Output: true 100 100 0 false
}
