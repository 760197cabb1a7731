package shm_test

import (
	"context"
	"fmt"
	"log"

	"github.com/shmgo/shm"
)

// An Event placed in a named segment is found by any program of the user.
func ExampleLookupEvent() {
	name := exampleName("event")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	if _, err := shm.NewEvent(shm.In(seg, "ready")); err != nil {
		log.Fatal(err)
	}

	ready, err := shm.LookupEvent(seg, "ready") // in another program, say
	if err != nil {
		log.Fatal(err)
	}
	ready.Set()
	fmt.Println("set:", ready.IsSet())
	// Output: set: true
}

// A Semaphore placed in a named segment keeps its permits for every program.
func ExampleLookupSemaphore() {
	name := exampleName("semaphore")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	if _, err := shm.NewSemaphore(2, shm.In(seg, "slots")); err != nil {
		log.Fatal(err)
	}

	slots, err := shm.LookupSemaphore(seg, "slots")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(slots.TryAcquire(), slots.TryAcquire(), slots.TryAcquire())
	slots.Release()
	slots.Release()
	// Output: true true false
}

// A Barrier placed in a named segment lets programs that find it by name
// meet; here, a Barrier of one party.
func ExampleLookupBarrier() {
	name := exampleName("barrier")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	if _, err := shm.NewBarrier(1, shm.In(seg, "start")); err != nil {
		log.Fatal(err)
	}

	start, err := shm.LookupBarrier(seg, "start")
	if err != nil {
		log.Fatal(err)
	}
	i, err := start.Wait(context.Background())
	fmt.Println(i, err)
	// Output: 0 <nil>
}

// A Cond placed in a named segment comes back bound to its Mutex, which must
// be in the same segment.
func ExampleLookupCond() {
	name := exampleName("cond")
	seg, err := shm.Create(name, 8192)
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(name)
	defer seg.Close()
	m, err := shm.NewMutex(shm.In(seg, "lock"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := shm.NewCond(m, shm.In(seg, "changed")); err != nil {
		log.Fatal(err)
	}

	changed, err := shm.LookupCond(seg, "changed")
	if err != nil {
		log.Fatal(err)
	}
	changed.Broadcast() // wakes every program waiting on it; none here
	fmt.Println("broadcast")
	// Output: broadcast
}
