package shm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shmgo/shm"
)

func init() {
	shm.Register(exampleRecord)
	shm.Register(exampleSet)
	shm.Register(examplePrint)
	shm.Register(exampleAddAtomic)
	shm.Register(exampleAddValue)
	shm.Register(exampleSetConfig)
	shm.Register(examplePrintConfig)
	shm.Register(exampleWithdraw)
	shm.Register(exampleAddUnderMutex)
	shm.Register(exampleTransfer)
	shm.Register(exampleSquare)
	shm.Register(exampleDouble)
	shm.Register(exampleSort)
	shm.Register(exampleRollDice)
	shm.Register(exampleStoreResult)
	shm.Register(exampleMoveUnits)
	shm.Register(exampleRotate)
	shm.Register(exampleAddSamples)
	shm.Register(exampleLockAndPrint)
	shm.Register(exampleUnlock)
	shm.Register(exampleTryLock)
	shm.Register(exampleLockAndHold)
	shm.Register(exampleGreet)
	shm.Register(exampleRunJob)
	shm.Register(exampleFail)
	shm.Register(exampleSleep)
	shm.Register(examplePanic)
	shm.Register(exampleReportPid)
	shm.Register(exampleFailWhen)
	shm.Register(exampleReport)
	shm.Register(exampleWhere)
}

// exampleJoin joins p and stops the example if the child failed.
func exampleJoin(p *shm.Process) {
	if err := p.Join(); err != nil {
		log.Fatal(err)
	}
}

// exampleRun starts fn(args...) and waits for it.
func exampleRun(fn any, args ...any) {
	p, err := shm.Start(fn, args...)
	if err != nil {
		log.Fatal(err)
	}
	exampleJoin(p)
}

// exampleRunAll starts one child per argument list, all at once, and waits
// for them all.
func exampleRunAll(fn any, argLists ...[]any) {
	var ps []*shm.Process
	for _, args := range argLists {
		p, err := shm.Start(fn, args...)
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		exampleJoin(p)
	}
}

// exampleAwait waits for a child to raise a flag in shared memory, polling:
// no fixed sleep, however slow the machine.
func exampleAwait(flag *shm.RawValue[atomic.Bool]) {
	deadline := time.Now().Add(time.Minute)
	for !flag.Ptr().Load() {
		if time.Now().After(deadline) {
			log.Fatal("the child never raised its flag")
		}
		time.Sleep(time.Millisecond)
	}
}

// exampleReading is a struct that can live in shared memory: a fixed-size
// byte array, not a string, holds the station's name.
type exampleReading struct {
	Station [16]byte
	Celsius float64
	Count   int32
}

func exampleRecord(r *shm.RawValue[exampleReading], celsius float64) {
	p := r.Ptr()
	p.Celsius = celsius
	p.Count++
}

func ExampleNewRawValue() {
	r, err := shm.NewRawValue(exampleReading{Celsius: 20})
	if err != nil {
		log.Fatal(err)
	}
	copy(r.Ptr().Station[:], "Oslo")

	exampleRun(exampleRecord, r, 21.5) // the child writes to the same memory

	x := r.Load()
	fmt.Printf("%s: %.1f°C, %d reading\n", bytes.TrimRight(x.Station[:], "\x00"), x.Celsius, x.Count)
	// Output: Oslo: 21.5°C, 1 reading
}

func exampleSet(v *shm.RawValue[int64], x int64) { v.Store(x) }

// Join orders the child's Store before the parent's Load: the parent sees
// what the child wrote, without a lock.
func ExampleRawValue_Load() {
	v, err := shm.NewRawValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	exampleRun(exampleSet, v, int64(42))
	fmt.Println(v.Load())
	// Output: 42
}

func examplePrint(v *shm.RawValue[int64]) { fmt.Println("child sees", v.Load()) }

// What the parent stores before Start, the child sees.
func ExampleRawValue_Store() {
	v, err := shm.NewRawValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	v.Store(7)
	exampleRun(examplePrint, v)
	// Output: child sees 7
}

func exampleAddAtomic(c *shm.RawValue[atomic.Int64], n int) {
	for range n {
		c.Ptr().Add(1)
	}
}

// A lock-free counter shared by four processes: an atomic.Int64 in a
// RawValue, used through Ptr. With a RawValue[int64] and Store(Load()+1) the
// processes would lose updates.
func ExampleRawValue_Ptr() {
	c, err := shm.NewRawValue(atomic.Int64{})
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleAddAtomic, []any{c, 1000}, []any{c, 1000}, []any{c, 1000}, []any{c, 1000})
	fmt.Println(c.Ptr().Load())
	// Output: 4000
}

func exampleAddValue(v *shm.Value[int64], n int) {
	for range n {
		v.Update(func(x int64) int64 { return x + 1 })
	}
}

// A Value carries its own lock: three processes add to it at once and no
// update is lost.
func ExampleNewValue() {
	v, err := shm.NewValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleAddValue, []any{v, 1000}, []any{v, 1000}, []any{v, 1000})
	fmt.Println(v.Load())
	// Output: 3000
}

type exampleConfig struct {
	Workers int32
	Verbose bool
}

func exampleSetConfig(v *shm.Value[exampleConfig]) {
	v.Store(exampleConfig{Workers: 8, Verbose: true})
}

// Load reads the whole struct under the lock, so it never sees half of a
// Store.
func ExampleValue_Load() {
	v, err := shm.NewValue(exampleConfig{Workers: 1})
	if err != nil {
		log.Fatal(err)
	}
	exampleRun(exampleSetConfig, v)
	fmt.Printf("%+v\n", v.Load())
	// Output: {Workers:8 Verbose:true}
}

func examplePrintConfig(v *shm.Value[exampleConfig]) { fmt.Printf("child: %+v\n", v.Load()) }

func ExampleValue_Store() {
	v, err := shm.NewValue(exampleConfig{})
	if err != nil {
		log.Fatal(err)
	}
	v.Store(exampleConfig{Workers: 4})
	exampleRun(examplePrintConfig, v)
	// Output: child: {Workers:4 Verbose:false}
}

// exampleWithdraw takes amount from the balance, times times, unless that
// would overdraw it. The check and the withdrawal are one Update, so no other
// process can withdraw in between.
func exampleWithdraw(balance *shm.Value[int64], amount int64, times int) {
	for range times {
		balance.Update(func(b int64) int64 {
			if b < amount {
				return b
			}
			return b - amount
		})
	}
}

func ExampleValue_Update() {
	balance, err := shm.NewValue[int64](100)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(balance.Update(func(b int64) int64 { return b * 2 })) // Update returns the new value

	// Three processes try to withdraw 30, five times each: six withdrawals
	// fit in 200, whatever the order.
	exampleRunAll(exampleWithdraw, []any{balance, int64(30), 5}, []any{balance, int64(30), 5}, []any{balance, int64(30), 5})
	fmt.Println(balance.Load())
	// Output:
	// 200
	// 20
}

// exampleAddUnderMutex is Python's "with v.get_lock(): v.value += 1". While
// it holds the lock it uses the Raw value: v.Load or v.Update would lock
// again, and a Mutex is not reentrant.
func exampleAddUnderMutex(v *shm.Value[int64], n int) {
	mu, raw := v.Mutex(), v.Raw()
	for range n {
		mu.Lock()
		raw.Store(raw.Load() + 1)
		mu.Unlock()
	}
}

func ExampleValue_Mutex() {
	v, err := shm.NewValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleAddUnderMutex, []any{v, 500}, []any{v, 500})
	fmt.Println(v.Load())
	// Output: 1000
}

// Raw gives the value without its lock: for use with the lock held, or when
// no other process is running.
func ExampleValue_Raw() {
	v, err := shm.NewValue[int64](10)
	if err != nil {
		log.Fatal(err)
	}
	raw := v.Raw()
	v.Mutex().Lock()
	raw.Store(raw.Load() * 3) // several steps, all under the lock
	raw.Store(raw.Load() + 1)
	v.Mutex().Unlock()
	fmt.Println(v.Load())
	// Output: 31
}

// exampleTransfer moves amount from one account to the other, times times.
// Both accounts share one lock, so the transfer is one step for every other
// process: none sees the money in neither account or in both.
func exampleTransfer(from, to *shm.Value[int64], amount int64, times int) {
	mu := from.Mutex() // the same as to.Mutex()
	for range times {
		mu.Lock()
		from.Raw().Store(from.Raw().Load() - amount)
		to.Raw().Store(to.Raw().Load() + amount)
		mu.Unlock()
	}
}

// Two Values share one lock, Python's Value(..., lock=lock).
func ExampleWithLock() {
	mu, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	alice, err := shm.NewValue[int64](100, shm.WithLock(mu))
	if err != nil {
		log.Fatal(err)
	}
	bob, err := shm.NewValue[int64](100, shm.WithLock(mu))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(alice.Mutex() == mu, bob.Mutex() == mu)

	exampleRunAll(exampleTransfer, []any{alice, bob, int64(1), 30}, []any{bob, alice, int64(2), 10})

	mu.Lock()
	a, b := alice.Raw().Load(), bob.Raw().Load()
	mu.Unlock()
	fmt.Println(a, b, a+b)
	// Output:
	// true true
	// 90 110 200
}

// exampleSquare stores i*i in element i. Processes that write different
// elements of a RawArray need no lock.
func exampleSquare(a *shm.RawArray[int64], i int) { a.Store(i, int64(i*i)) }

func ExampleNewRawArray() {
	a, err := shm.NewRawArray[int64](5)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Slice()) // zeroed
	var argLists [][]any
	for i := range a.Len() {
		argLists = append(argLists, []any{a, i})
	}
	exampleRunAll(exampleSquare, argLists...)
	fmt.Println(a.Slice())
	// Output:
	// [0 0 0 0 0]
	// [0 1 4 9 16]
}

func exampleDouble(a *shm.RawArray[float64]) {
	for i, x := range a.Slice() {
		a.Store(i, 2*x)
	}
}

func ExampleNewRawArrayFrom() {
	xs := []float64{1.5, 2, 4}
	a, err := shm.NewRawArrayFrom(xs)
	if err != nil {
		log.Fatal(err)
	}
	xs[0] = 100 // the array holds a copy
	exampleRun(exampleDouble, a)
	fmt.Println(a.Slice(), xs)
	// Output: [3 4 8] [100 2 4]
}

func ExampleRawArray_Len() {
	a, err := shm.NewRawArray[byte](1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Len())
	// Output: 1048576
}

func ExampleRawArray_Load() {
	a, err := shm.NewRawArrayFrom([]int32{10, 20, 30})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Load(0), a.Load(2))
	// Output: 10 30
}

func ExampleRawArray_Store() {
	a, err := shm.NewRawArray[int32](3)
	if err != nil {
		log.Fatal(err)
	}
	a.Store(1, 7)
	fmt.Println(a.Slice())

	defer func() { fmt.Println("panic:", recover()) }()
	a.Store(3, 1) // out of range, as for a Go slice
	// Output:
	// [0 7 0]
	// panic: runtime error: index out of range [3] with length 3
}

func exampleSort(a *shm.RawArray[int32]) { slices.Sort(a.Slice()) }

// Slice returns the shared elements themselves: the child sorts the array
// in place, with the standard library.
func ExampleRawArray_Slice() {
	a, err := shm.NewRawArrayFrom([]int32{5, 3, 9, 1, 7})
	if err != nil {
		log.Fatal(err)
	}
	exampleRun(exampleSort, a)
	fmt.Println(a.Slice())
	// Output: [1 3 5 7 9]
}

// exampleRollDice rolls a die rolls times, from a seed of its own, and counts
// the faces in hist under its lock.
func exampleRollDice(hist *shm.Array[int32], seed uint64, rolls int) {
	r := rand.New(rand.NewPCG(seed, 0))
	for range rolls {
		hist.Update(r.IntN(6), func(n int32) int32 { return n + 1 })
	}
}

// Three processes count dice rolls in one Array at once. Each roll is one
// Update under the array's lock, so no roll is lost.
func ExampleNewArray() {
	hist, err := shm.NewArray[int32](6)
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleRollDice, []any{hist, uint64(1), 100}, []any{hist, uint64(2), 100}, []any{hist, uint64(3), 100})
	counts := hist.Snapshot()
	var total int32
	for _, n := range counts {
		total += n
	}
	fmt.Println(counts, total)
	// Output: [47 47 51 45 52 58] 300
}

func ExampleNewArrayFrom() {
	a, err := shm.NewArrayFrom([]float64{0.5, 0.25})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Len(), a.Snapshot())
	// Output: 2 [0.5 0.25]
}

func ExampleArray_Len() {
	a, err := shm.NewArray[complex128](3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Len())
	// Output: 3
}

func ExampleArray_Load() {
	a, err := shm.NewArrayFrom([]uint16{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Load(2))
	// Output: 3
}

// exampleStoreResult stores a worker's result in the worker's own element.
func exampleStoreResult(results *shm.Array[float64], i int, x float64) {
	results.Store(i, x*x)
}

func ExampleArray_Store() {
	results, err := shm.NewArray[float64](3)
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleStoreResult, []any{results, 0, 1.5}, []any{results, 1, 2.0}, []any{results, 2, 0.5})
	fmt.Println(results.Snapshot())
	// Output: [2.25 4 0.25]
}

func ExampleArray_Update() {
	a, err := shm.NewArrayFrom([]int64{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Update(1, func(x int64) int64 { return x * 10 }))
	fmt.Println(a.Snapshot())
	// Output:
	// 20
	// [1 20 3]
}

// exampleMoveUnits moves one unit from element from to element to, moves
// times, each move under the array's lock: the sum of the elements never
// changes, as any process holding the lock sees.
func exampleMoveUnits(a *shm.Array[int64], from, to, moves int) {
	mu, s := a.Mutex(), a.Raw().Slice()
	for range moves {
		mu.Lock()
		s[from]--
		s[to]++
		mu.Unlock()
	}
}

// Snapshot copies the array under its lock: while two processes move units
// between elements, every snapshot adds up to the same total.
func ExampleArray_Snapshot() {
	a, err := shm.NewArrayFrom([]int64{25, 25, 25, 25})
	if err != nil {
		log.Fatal(err)
	}
	var ps []*shm.Process
	for _, move := range [][3]int{{0, 1, 20}, {3, 2, 10}} {
		p, err := shm.Start(exampleMoveUnits, a, move[0], move[1], move[2])
		if err != nil {
			log.Fatal(err)
		}
		ps = append(ps, p)
	}
	done := make(chan struct{})
	go func() {
		for _, p := range ps {
			exampleJoin(p)
		}
		close(done)
	}()
	allAdd := true
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		var sum int64
		for _, x := range a.Snapshot() {
			sum += x
		}
		allAdd = allAdd && sum == 100
	}
	fmt.Println("every snapshot adds up to 100:", allAdd)
	fmt.Println(a.Snapshot())
	// Output:
	// every snapshot adds up to 100: true
	// [5 45 35 15]
}

// exampleRotate rotates the array left by one, times times: each rotation
// moves every element, so it holds the lock throughout and works on the Raw
// array.
func exampleRotate(a *shm.Array[int32], times int) {
	s := a.Raw().Slice()
	for range times {
		a.Mutex().Lock()
		first := s[0]
		copy(s, s[1:])
		s[len(s)-1] = first
		a.Mutex().Unlock()
	}
}

// Mutex gives the array's lock, for changes to several elements at once.
func ExampleArray_Mutex() {
	a, err := shm.NewArrayFrom([]int32{1, 2, 3, 4})
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleRotate, []any{a, 3}, []any{a, 2}) // five rotations by one
	fmt.Println(a.Snapshot())
	// Output: [2 3 4 1]
}

// Raw gives the array without its lock: here, to fill it in one go under
// the lock rather than lock once per element.
func ExampleArray_Raw() {
	a, err := shm.NewArray[int32](5)
	if err != nil {
		log.Fatal(err)
	}
	s := a.Raw().Slice()
	a.Mutex().Lock()
	for i := range s {
		s[i] = int32(10 * i)
	}
	a.Mutex().Unlock()
	fmt.Println(a.Snapshot())
	// Output: [0 10 20 30 40]
}

type exampleStats struct {
	Count, Sum, Max int64
}

// exampleAddSamples adds n random samples to stats. Three fields change
// together, so they change under one lock.
func exampleAddSamples(mu *shm.Mutex, stats *shm.RawValue[exampleStats], seed uint64, n int) {
	r := rand.New(rand.NewPCG(seed, 0))
	for range n {
		x := r.Int64N(1000)
		mu.Lock()
		s := stats.Ptr()
		s.Count++
		s.Sum += x
		s.Max = max(s.Max, x)
		mu.Unlock()
	}
}

// A Mutex of its own guards a struct in a RawValue.
func ExampleNewMutex() {
	mu, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	stats, err := shm.NewRawValue(exampleStats{})
	if err != nil {
		log.Fatal(err)
	}
	exampleRunAll(exampleAddSamples, []any{mu, stats, uint64(1), 300}, []any{mu, stats, uint64(2), 300})
	mu.Lock()
	s := stats.Load()
	mu.Unlock()
	fmt.Printf("%+v\n", s)
	// Output: {Count:600 Sum:295904 Max:999}
}

func exampleLockAndPrint(mu *shm.Mutex, v *shm.RawValue[int64]) {
	mu.Lock()
	fmt.Println("child: locked, value", v.Load())
	mu.Unlock()
}

// The child's Lock waits for the parent's Unlock, so it sees what the parent
// stored while holding the lock.
func ExampleMutex_Lock() {
	mu, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	v, err := shm.NewRawValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	mu.Lock()
	p, err := shm.Start(exampleLockAndPrint, mu, v)
	if err != nil {
		log.Fatal(err)
	}
	v.Store(42)
	fmt.Println("parent: unlocking")
	mu.Unlock()
	exampleJoin(p)
	// Output:
	// parent: unlocking
	// child: locked, value 42
}

func exampleUnlock(mu *shm.Mutex) { mu.Unlock() }

// A locked Mutex belongs to the process that locked it: any of its goroutines
// may unlock it, another process may not.
func ExampleMutex_Unlock() {
	mu, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	mu.Lock()
	done := make(chan struct{})
	go func() { mu.Unlock(); close(done) }() // another goroutine: fine
	<-done

	mu.Lock()
	p, err := shm.Start(exampleUnlock, mu)
	if err != nil {
		log.Fatal(err)
	}
	var e *shm.ExitError
	if err := p.Join(); !errors.As(err, &e) {
		log.Fatal(err)
	}
	msg, _, _ := strings.Cut(e.Message, " (token")
	fmt.Println("child panicked:", e.Panic, msg)
	mu.Unlock()
	// Output: child panicked: true shm: unlock of a Mutex locked by another process
}

func exampleTryLock(mu *shm.Mutex, got *shm.RawValue[bool]) {
	got.Store(mu.TryLock())
	if got.Load() {
		mu.Unlock()
	}
}

func ExampleMutex_TryLock() {
	mu, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	got, err := shm.NewRawValue(false)
	if err != nil {
		log.Fatal(err)
	}
	mu.Lock()
	fmt.Println("parent, again:", mu.TryLock()) // not reentrant
	exampleRun(exampleTryLock, mu, got)
	fmt.Println("child, while the parent holds it:", got.Load())
	mu.Unlock()
	exampleRun(exampleTryLock, mu, got)
	fmt.Println("child, after Unlock:", got.Load())
	// Output:
	// parent, again: false
	// child, while the parent holds it: false
	// child, after Unlock: true
}

// exampleLockAndHold locks mu, says so through held, and never unlocks.
func exampleLockAndHold(mu *shm.Mutex, held *shm.RawValue[atomic.Bool]) {
	mu.Lock()
	held.Ptr().Store(true)
	for {
		time.Sleep(time.Hour)
	}
}

// A child dies holding the lock. The lock is not lost: the next LockContext
// gets it, and reports ErrOwnerDead so that the caller checks the data the
// lock guards, which the dead process may have left half-updated.
func ExampleMutex_LockContext() {
	mu, err := shm.NewMutex()
	if err != nil {
		log.Fatal(err)
	}
	held, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleLockAndHold, mu, held)
	if err != nil {
		log.Fatal(err)
	}
	exampleAwait(held)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(mu.LockContext(ctx)) // the child holds it

	if err := p.Kill(); err != nil {
		log.Fatal(err)
	}
	var e *shm.ExitError
	if err := p.Join(); !errors.As(err, &e) { // killed, as intended
		log.Fatal(err)
	}
	err = mu.LockContext(context.Background())
	fmt.Println(err, errors.Is(err, shm.ErrOwnerDead))
	mu.Unlock() // the lock is ours
	// Output:
	// context deadline exceeded
	// shm: previous owner died holding the lock true
}

func exampleGreet(name string) { fmt.Println("hello,", name) }

func exampleNotRegistered() {}

// A function must be registered, in an init function, before Start can run it
// in a child:
//
//	func init() { shm.Register(exampleGreet) }
//
// The child is this program run again: its init functions register the same
// functions, and its Main finds the one to run.
func ExampleRegister() {
	exampleRun(exampleGreet, "child")

	_, err := shm.Start(exampleNotRegistered)
	fmt.Println(err)
	// Output:
	// hello, child
	// shm: Start of github.com/shmgo/shm_test.exampleNotRegistered: not registered; call shm.Register(exampleNotRegistered) in an init function
}

// Main is the first line of main, and of TestMain in tests that start
// children:
//
//	func main() {
//		shm.Main() // in a child: runs its target, then exits
//		...
//	}
//
//	func TestMain(m *testing.M) {
//		shm.Main()
//		os.Exit(m.Run())
//	}
//
// In the parent, Main returns at once.
func ExampleMain() {
	shm.Main()
	fmt.Println("the parent goes on")
	// Output: the parent goes on
}

// exampleJob is copied to the child: its fields are encoded with
// encoding/gob, so it may hold strings and slices.
type exampleJob struct {
	Name  string
	Files []string
}

func exampleRunJob(job exampleJob, runs *shm.RawValue[int32]) {
	job.Name = "changed" // the child's own copy
	runs.Store(runs.Load() + 1)
	fmt.Printf("child: %d files\n", len(job.Files))
}

// Start passes shm objects by reference and other values by copy, and checks
// the arguments before it starts anything.
func ExampleStart() {
	runs, err := shm.NewRawValue[int32](0)
	if err != nil {
		log.Fatal(err)
	}
	job := exampleJob{Name: "backup", Files: []string{"a", "b"}}
	p, err := shm.Start(exampleRunJob, job, runs)
	if err != nil {
		log.Fatal(err)
	}
	exampleJoin(p)
	fmt.Println(job.Name, runs.Load())

	_, err = shm.Start(exampleRunJob, "backup", runs)
	fmt.Println(err)
	// Output:
	// child: 2 files
	// backup 1
	// shm: Start(github.com/shmgo/shm_test.exampleRunJob): argument 1 (shm_test.exampleJob): got string
}

func exampleFail(msg string) error { return errors.New(msg) }

// The error a child returns comes back from Join, in an ExitError.
func ExampleProcess_Join() {
	p, err := shm.Start(exampleFail, "disk full")
	if err != nil {
		log.Fatal(err)
	}
	err = p.Join()
	var e *shm.ExitError
	if !errors.As(err, &e) {
		log.Fatal(err)
	}
	fmt.Println(e.ExitCode(), e.Message)
	// Output: 1 disk full
}

func exampleSleep(started *shm.RawValue[atomic.Bool]) {
	started.Ptr().Store(true)
	for {
		time.Sleep(time.Hour)
	}
}

func ExampleProcess_Kill() {
	started, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleSleep, started)
	if err != nil {
		log.Fatal(err)
	}
	exampleAwait(started)
	if err := p.Kill(); err != nil {
		log.Fatal(err)
	}
	err = p.Join()
	var e *shm.ExitError
	if !errors.As(err, &e) {
		log.Fatal(err)
	}
	fmt.Println(e.ProcessState, p.ExitCode())
	// Output: signal: killed -1
}

func exampleFailWhen(release *shm.RawValue[atomic.Bool], msg string) error {
	for !release.Ptr().Load() {
		time.Sleep(time.Millisecond)
	}
	return errors.New(msg)
}

func ExampleProcess_ExitCode() {
	release, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleFailWhen, release, "no")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.ExitCode()) // -1 while the child runs
	release.Ptr().Store(true)
	var e *shm.ExitError
	if err := p.Join(); !errors.As(err, &e) { // the error "no", as intended
		log.Fatal(err)
	}
	fmt.Println(p.ExitCode())
	// Output:
	// -1
	// 1
}

func exampleReportPid(pid *shm.RawValue[int64]) { pid.Store(int64(os.Getpid())) }

func ExampleProcess_Pid() {
	pid, err := shm.NewRawValue[int64](0)
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleReportPid, pid)
	if err != nil {
		log.Fatal(err)
	}
	exampleJoin(p)
	fmt.Println(p.Pid() > 0, p.Pid() != os.Getpid(), int64(p.Pid()) == pid.Load())
	// Output: true true true
}

// JoinContext gives up waiting when its context ends, and leaves the child
// running, as Python's join(timeout) does.
func ExampleProcess_JoinContext() {
	started, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleSleep, started)
	if err != nil {
		log.Fatal(err)
	}
	exampleAwait(started)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(p.JoinContext(ctx), p.Alive())

	p.Kill()
	var e *shm.ExitError
	if err := p.JoinContext(context.Background()); !errors.As(err, &e) { // killed, as intended
		log.Fatal(err)
	}
	fmt.Println(e.ProcessState, p.Alive())
	// Output:
	// context deadline exceeded true
	// signal: killed false
}

// Done tells when a child has ended, without Join; select on it beside other
// channels.
func ExampleProcess_Done() {
	p, err := shm.Start(exampleGreet, "Done")
	if err != nil {
		log.Fatal(err)
	}
	select {
	case <-p.Done():
		fmt.Println("exited:", p.ExitCode())
	case <-time.After(time.Minute):
		fmt.Println("still running after a minute")
	}
	// Output:
	// hello, Done
	// exited: 0
}

func ExampleProcess_Alive() {
	started, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleSleep, started)
	if err != nil {
		log.Fatal(err)
	}
	exampleAwait(started)
	fmt.Println(p.Alive())
	p.Kill()
	p.Join() // killed, as intended
	fmt.Println(p.Alive())
	// Output:
	// true
	// false
}

// Signal(syscall.SIGTERM) is Python's terminate(). A target that handles the
// signal (os/signal) can clean up before it returns.
func ExampleProcess_Signal() {
	started, err := shm.NewRawValue(atomic.Bool{})
	if err != nil {
		log.Fatal(err)
	}
	p, err := shm.Start(exampleSleep, started)
	if err != nil {
		log.Fatal(err)
	}
	exampleAwait(started)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		log.Fatal(err)
	}
	var e *shm.ExitError
	if err := p.Join(); !errors.As(err, &e) {
		log.Fatal(err)
	}
	fmt.Println(e.ProcessState)
	// Output: signal: terminated
}

func exampleReport(station string) error {
	fmt.Printf("%s: 21.5°C\n", station)
	if station == "" {
		return errors.New("no station name")
	}
	return nil
}

// Command is Start's long form: set the Cmd's fields, then start it. Here
// the child's output goes to a buffer, which holds all of it once Join
// returns.
func ExampleCommand() {
	var out bytes.Buffer
	c := shm.Command(exampleReport, "roof")
	c.Stdout = &out
	p, err := c.Start()
	if err != nil {
		log.Fatal(err)
	}
	exampleJoin(p)
	fmt.Printf("%q\n", out.String())
	// Output: "roof: 21.5°C\n"
}

// A Cmd made without Command writes nothing where Stdout and Stderr are nil:
// the child's output goes to the null device, as with os/exec. What the
// target returns still reaches Join.
func ExampleCmd() {
	var out bytes.Buffer
	c := &shm.Cmd{Func: exampleReport, Args: []any{""}, Stdout: &out} // Stderr: nil
	p, err := c.Start()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Join() != nil)
	fmt.Print(out.String())
	// Output:
	// true
	// : 21.5°C
}

func exampleWhere() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	fmt.Println(os.Getenv("STATION"), "in", filepath.Base(wd))
	return nil
}

// Start runs the child with the Cmd's environment and working directory.
func ExampleCmd_Start() {
	tmp, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "station-7")
	if err := os.Mkdir(dir, 0o755); err != nil {
		log.Fatal(err)
	}

	c := shm.Command(exampleWhere)
	c.Env = append(os.Environ(), "STATION=roof")
	c.Dir = dir
	p, err := c.Start()
	if err != nil {
		log.Fatal(err)
	}
	exampleJoin(p)

	_, err = c.Start()
	fmt.Println(err)
	// Output:
	// roof in station-7
	// shm: Cmd.Start: already started
}

type exampleSensorConfig struct {
	Name     string
	Interval time.Duration
}

// A type that holds Go pointers, here a string, cannot live in shared memory.
func ExampleTypeError() {
	_, err := shm.NewRawValue(exampleSensorConfig{})
	fmt.Println(err)
	var e *shm.TypeError
	if errors.As(err, &e) {
		fmt.Println(e.Type, e.Field, e.Bad)
	}
	fmt.Println(errors.Is(err, shm.ErrNotShareable))
	// Output:
	// shm: exampleSensorConfig.Name: string cannot live in shared memory (a string points to its bytes; use a fixed-size byte array)
	// shm_test.exampleSensorConfig exampleSensorConfig.Name string
	// true
}

func examplePanic() { panic("out of coffee") }

// A child that panics: the ExitError carries the panic value and the stack
// from the panicking function down to the target. The child also prints the
// panic to its standard error. The error's text names the process ID,
// replaced here.
func ExampleExitError() {
	p, err := shm.Start(examplePanic)
	if err != nil {
		log.Fatal(err)
	}
	err = p.Join()
	var e *shm.ExitError
	if !errors.As(err, &e) {
		log.Fatal(err)
	}
	fmt.Println(e.Func, e.ExitCode(), e.Panic)
	first, _, _ := strings.Cut(err.Error(), "\n")
	fmt.Println(strings.Replace(first, strconv.Itoa(p.Pid()), "PID", 1))
	// Output:
	// github.com/shmgo/shm_test.examplePanic 2 true
	// shm: github.com/shmgo/shm_test.examplePanic (pid PID) panicked: out of coffee
}
