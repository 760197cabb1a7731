//go:build linux

package shm_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/shmgo/shm"
)

// exampleHits is the counter that each worker's Init receives.
var exampleHits *shm.Value[int64]

// exampleInitWorker is the pool's Init: Python's initializer.
func exampleInitWorker(hits *shm.Value[int64]) { exampleHits = hits }

// exampleVisit counts a visit and returns its page's length.
func exampleVisit(page string) int {
	exampleHits.Update(func(n int64) int64 { return n + 1 })
	return len(page)
}

// exampleCube is what Map calls on each item.
func exampleCube(x int) int { return x * x * x }

// exampleCrash ends its worker as the OOM killer would.
func exampleCrash() { os.Exit(137) }

func init() {
	shm.Register(exampleInitWorker)
	shm.Register(exampleVisit)
	shm.Register(exampleCube)
	shm.Register(exampleCrash)
}

// A pool of two workers, each given the shared counter once; a task that
// crashes its worker fails alone.
func ExampleNewPool() {
	hits, err := shm.NewValue(int64(0))
	if err != nil {
		panic(err)
	}
	p, err := shm.NewPool(2, &shm.PoolOptions{Init: exampleInitWorker, InitArgs: []any{hits}})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	var futs []*shm.Future
	for _, page := range []string{"home", "about", "contact"} {
		f, err := p.Submit(ctx, exampleVisit, page)
		if err != nil {
			panic(err)
		}
		futs = append(futs, f)
	}
	crash, err := p.Submit(ctx, exampleCrash)
	if err != nil {
		panic(err)
	}
	for _, f := range futs {
		n, err := f.Result(ctx)
		fmt.Println(n, err)
	}
	_, err = crash.Result(ctx)
	var ee *shm.ExitError
	fmt.Println("crash:", errors.As(err, &ee), ee.ExitCode())
	if err := p.Close(); err != nil {
		panic(err)
	}
	fmt.Println("hits:", hits.Load())
	// Output:
	// 4 <nil>
	// 5 <nil>
	// 7 <nil>
	// crash: true 137
	// hits: 3
}

func ExampleMap() {
	p, err := shm.NewPool(2, nil)
	if err != nil {
		panic(err)
	}
	defer p.Close()
	cubes, err := shm.Map(context.Background(), p, exampleCube, []int{1, 2, 3, 4, 5}, 2)
	fmt.Println(cubes, err)
	// Output: [1 8 27 64 125] <nil>
}

func ExamplePool_State() {
	p, err := shm.NewPool(3, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, x := range []int{2, 3} {
		f, _ := p.Submit(ctx, exampleCube, x)
		f.Result(ctx)
	}
	f, _ := p.Submit(ctx, exampleVisit, "no Init gave this worker a counter")
	_, err = f.Result(ctx)
	s := p.State()
	fmt.Println(s.Workers, len(s.Pids), s.Done, s.Failed)
	var te *shm.TaskError
	fmt.Println(errors.As(err, &te) && te.Panic)
	p.Close()
	fmt.Println(p.State().Workers)
	// Output:
	// 3 3 2 1
	// true
	// 0
}

func ExamplePool_Kill() {
	p, err := shm.NewPool(1, nil)
	if err != nil {
		panic(err)
	}
	p.Kill()
	_, err = p.Submit(context.Background(), exampleCube, 2)
	fmt.Println(err)
	// Output: shm: pool closed
}
