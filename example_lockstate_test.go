package shm_test

import (
	"fmt"
	"log"
	"os"

	"github.com/shmgo/shm"
)

// LockState tells who holds a Mutex of a named segment, without taking it:
// what `shm inspect` shows of every lock.
func ExampleSegment_LockState() {
	name := exampleName("lockstate")
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	m, err := shm.NewMutex(shm.In(seg, "m"))
	if err != nil {
		log.Fatal(err)
	}
	objs, err := seg.Objects()
	if err != nil {
		log.Fatal(err)
	}
	off := objs[0].Offset // the Mutex's word

	st, _ := seg.LockState(off)
	fmt.Println("locked:", st.Locked)
	m.Lock()
	st, _ = seg.LockState(off)
	fmt.Println("locked:", st.Locked, "by me:", st.Pid == os.Getpid(), "alive:", st.Alive)
	m.Unlock()
	// Output:
	// locked: false
	// locked: true by me: true alive: true
}

// A Value's lock is at the Lock offset that Objects gives.
func ExampleLockState() {
	name := exampleName("valuelock")
	seg, err := shm.Create(name, 1<<16)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	v, err := shm.NewValue[int64](0, shm.In(seg, "count"))
	if err != nil {
		log.Fatal(err)
	}
	objs, err := seg.Objects()
	if err != nil {
		log.Fatal(err)
	}
	v.Mutex().Lock()
	st, err := seg.LockState(objs[0].Lock)
	v.Mutex().Unlock()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: locked %v, known %v, alive %v\n", objs[0].Name, st.Locked, st.Known, st.Alive)
	// Output: count: locked true, known true, alive true
}
