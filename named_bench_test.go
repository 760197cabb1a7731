package shm_test

import (
	"fmt"
	"testing"

	"github.com/shmgo/shm"
)

// BenchmarkLookup measures finding a named object in a segment of 100, as a
// program that opened the segment does for each object it uses.
func BenchmarkLookup(b *testing.B) {
	seg := createSeg(b, 1<<20)
	for i := range 100 {
		if _, err := shm.NewValue[int64](0, shm.In(seg, fmt.Sprintf("obj-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("LookupValue", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := shm.LookupValue[int64](seg, "obj-57"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open+LookupValue+Close", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s, err := shm.Open(seg.Name())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := shm.LookupValue[int64](s, "obj-57"); err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
}

// BenchmarkUpdateNamed is BenchmarkUpdate's Value beside one in a named
// segment: the same code on other memory.
func BenchmarkUpdateNamed(b *testing.B) {
	b.Run("anonymous", func(b *testing.B) {
		v, _ := shm.NewValue[int64](0)
		for i := 0; i < b.N; i++ {
			v.Update(func(x int64) int64 { return x + 1 })
		}
	})
	b.Run("named", func(b *testing.B) {
		seg := createSeg(b, 8192)
		v, err := shm.NewValue[int64](0, shm.In(seg, "v"))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			v.Update(func(x int64) int64 { return x + 1 })
		}
	})
	b.Run("named/2 processes", func(b *testing.B) {
		seg := createSeg(b, 8192)
		v, err := shm.NewValue[int64](0, shm.In(seg, "v"))
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			p1 := start(b, incValue, v, 1_000_000)
			p2 := start(b, incValue, v, 1_000_000)
			join(b, p1)
			join(b, p2)
		}
	})
}
