package shm_test

// The scenarios of the article that package shm grew from, on Python's
// multiprocessing.sharedctypes.RawValue, written with shm. Their output must
// be the same on every run, so where several children update at once the
// totals come from Value.Update or a sync/atomic type, and children print
// only where the order of their lines is fixed. "go run ./cmd/shm demo" runs
// the same scenarios as the article does, at the mercy of the scheduler.

import (
	"fmt"
	"log"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/shmgo/shm"
)

func init() {
	shm.Register(exampleSensorUpdate)
	shm.Register(exampleIncrementCounter)
	shm.Register(exampleIncrementLocked)
	shm.Register(exampleIncrementRaw)
	shm.Register(examplePlayer)
	shm.Register(exampleWorker)
}

// A RawValue holding a float64: Python's RawValue(ctypes.c_double, 25.0).
func Example_initialValue() {
	temperature, err := shm.NewRawValue(25.0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Initial temperature: %.1f°C\n", temperature.Load())
	// Output: Initial temperature: 25.0°C
}

func exampleSensorUpdate(temp *shm.RawValue[float64]) {
	for range 5 {
		temp.Store(temp.Load() + 1.5) // simulate temperature rising
		fmt.Printf("Sensor updated temperature to: %.1f°C\n", temp.Load())
		time.Sleep(10 * time.Millisecond) // the article sleeps 0.5 s
	}
}

// A child process updates a RawValue; after Join, the parent sees what the
// child wrote. A single child can use a plain RawValue: nobody else writes.
func Example_sensor() {
	temperature, err := shm.NewRawValue(20.0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Starting temperature: %.1f°C\n", temperature.Load())
	p, err := shm.Start(exampleSensorUpdate, temperature)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Join(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Final temperature: %.1f°C\n", temperature.Load())
	// Output:
	// Starting temperature: 20.0°C
	// Sensor updated temperature to: 21.5°C
	// Sensor updated temperature to: 23.0°C
	// Sensor updated temperature to: 24.5°C
	// Sensor updated temperature to: 26.0°C
	// Sensor updated temperature to: 27.5°C
	// Final temperature: 27.5°C
}

// exampleIncrementCounter is the article's increment_counter. The article's
// counter.value += amount on a plain RawValue[int32] would be
// counter.Store(counter.Load() + amount): a read and then a write, between
// which the other process can write, and its update is then lost. An
// atomic.Int32 in the RawValue needs no lock and loses nothing.
func exampleIncrementCounter(counter *shm.RawValue[atomic.Int32], amount int32, times int) {
	for range times {
		counter.Ptr().Add(amount)
		time.Sleep(6 * time.Millisecond) // the article sleeps 0.3 s
	}
}

// Two processes add to one counter at once. The article's children print
// "Counter updated to: ..." as they go; those lines would come in a different
// order on every run, so here the children keep quiet.
func Example_twoCounters() {
	counter, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		log.Fatal(err)
	}
	p1, err := shm.Start(exampleIncrementCounter, counter, int32(1), 5)
	if err != nil {
		log.Fatal(err)
	}
	p2, err := shm.Start(exampleIncrementCounter, counter, int32(2), 5)
	if err != nil {
		log.Fatal(err)
	}
	if err := p1.Join(); err != nil {
		log.Fatal(err)
	}
	if err := p2.Join(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Final counter value: %d\n", counter.Ptr().Load())
	// Output: Final counter value: 15
}

// exampleIncrementLocked is the article's increment for a Value. Python's
// shared_var.value += 1 locks to read and locks again to write, so even a
// Value can lose updates there; Value.Update holds the lock from the read to
// the write. The line is printed under the lock, so the two processes'
// lines come out in the order of their updates.
func exampleIncrementLocked(v *shm.Value[int32], times int) {
	for range times {
		v.Update(func(x int32) int32 {
			x++
			fmt.Printf("Updated value: %d\n", x)
			return x
		})
		time.Sleep(2 * time.Millisecond) // the article sleeps 0.1 s
	}
}

// exampleIncrementRaw is the article's increment for a RawValue: no lock.
func exampleIncrementRaw(v *shm.RawValue[int32], times int) {
	for range times {
		v.Store(v.Load() + 1)
		fmt.Printf("Updated value: %d\n", v.Load())
		time.Sleep(2 * time.Millisecond)
	}
}

// A Value has a lock, a RawValue has none. Two processes update the Value at
// once and no update is lost. The RawValue's two processes run one after the
// other (each is joined before the next starts): at once, two plain
// Store(Load()+1) could read the same value and lose an update.
func Example_valueVsRawValue() {
	// Using Value (with locking)
	lockedValue, err := shm.NewValue[int32](0)
	if err != nil {
		log.Fatal(err)
	}
	p1, err := shm.Start(exampleIncrementLocked, lockedValue, 5)
	if err != nil {
		log.Fatal(err)
	}
	p2, err := shm.Start(exampleIncrementLocked, lockedValue, 5)
	if err != nil {
		log.Fatal(err)
	}
	if err := p1.Join(); err != nil {
		log.Fatal(err)
	}
	if err := p2.Join(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Final locked Value: %d\n", lockedValue.Load())

	// Using RawValue (no locking)
	rawValue, err := shm.NewRawValue[int32](0)
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		p, err := shm.Start(exampleIncrementRaw, rawValue, 5)
		if err != nil {
			log.Fatal(err)
		}
		if err := p.Join(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("Final RawValue: %d\n", rawValue.Load())
	// Output:
	// Updated value: 1
	// Updated value: 2
	// Updated value: 3
	// Updated value: 4
	// Updated value: 5
	// Updated value: 6
	// Updated value: 7
	// Updated value: 8
	// Updated value: 9
	// Updated value: 10
	// Final locked Value: 10
	// Updated value: 1
	// Updated value: 2
	// Updated value: 3
	// Updated value: 4
	// Updated value: 5
	// Updated value: 6
	// Updated value: 7
	// Updated value: 8
	// Updated value: 9
	// Updated value: 10
	// Final RawValue: 10
}

// examplePlayer is the article's player, with its random numbers drawn from
// a seed of its own so that the game is the same on every run.
func examplePlayer(name string, seed uint64, score *shm.RawValue[int32], rounds int) {
	r := rand.New(rand.NewPCG(seed, 0))
	for range rounds {
		points := int32(r.IntN(10) + 1)
		score.Store(score.Load() + points)
		fmt.Printf("%s scored %d points, total: %d\n", name, points, score.Load())
		time.Sleep(time.Duration(2+r.IntN(4)) * time.Millisecond) // the article: 0.1 to 0.3 s
	}
}

// Players add points to a shared score, a RawValue. Here they take turns, one
// process at a time: playing at once, their lines would interleave
// differently on every run, and two plain Store(Load()+points) could read the
// same total and lose points (a Value's Update, or an atomic.Int32, would not).
func Example_scoreTracker() {
	// Shared RawValue to hold the total score
	totalScore, err := shm.NewRawValue[int32](0)
	if err != nil {
		log.Fatal(err)
	}
	for i, name := range []string{"Harry", "Hermione", "Ron"} {
		p, err := shm.Start(examplePlayer, name, uint64(i+1), totalScore, 5)
		if err != nil {
			log.Fatal(err)
		}
		if err := p.Join(); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("\nFinal total score: %d\n", totalScore.Load())
	// Output:
	// Harry scored 6 points, total: 6
	// Harry scored 8 points, total: 14
	// Harry scored 8 points, total: 22
	// Harry scored 9 points, total: 31
	// Harry scored 4 points, total: 35
	// Hermione scored 7 points, total: 42
	// Hermione scored 4 points, total: 46
	// Hermione scored 2 points, total: 48
	// Hermione scored 1 points, total: 49
	// Hermione scored 9 points, total: 58
	// Ron scored 3 points, total: 61
	// Ron scored 2 points, total: 63
	// Ron scored 6 points, total: 69
	// Ron scored 9 points, total: 78
	// Ron scored 10 points, total: 88
	//
	// Final total score: 88
}

// exampleWorker is the article's worker, adding to an atomic.Int32 in a
// RawValue: three workers at once would lose updates of a plain
// RawValue[int32] with Store(Load()+1), as the article's do when unlucky.
func exampleWorker(name string, counter *shm.RawValue[atomic.Int32]) {
	for range 3 {
		counter.Ptr().Add(1)
		time.Sleep(3 * time.Millisecond) // the article: 0.1 to 0.3 s
	}
}

// Start every worker, then Join every one: Join waits for the process to
// exit and reports how it ended, so nothing is left running and the counter
// holds every update. The workers keep quiet, since their lines would
// interleave differently on every run.
func Example_cleanShutdown() {
	sharedCounter, err := shm.NewRawValue(atomic.Int32{})
	if err != nil {
		log.Fatal(err)
	}
	names := []string{"Amber", "Stewie", "Brian"}
	var processes []*shm.Process
	for _, name := range names {
		p, err := shm.Start(exampleWorker, name, sharedCounter)
		if err != nil {
			log.Fatal(err)
		}
		processes = append(processes, p)
	}
	// Wait for all child processes to finish
	for i, p := range processes {
		if err := p.Join(); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s joined, exit code %d\n", names[i], p.ExitCode())
	}
	fmt.Printf("\nFinal counter value: %d\n", sharedCounter.Ptr().Load())
	// Output:
	// Amber joined, exit code 0
	// Stewie joined, exit code 0
	// Brian joined, exit code 0
	//
	// Final counter value: 9
}
