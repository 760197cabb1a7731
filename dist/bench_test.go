package dist_test

import (
	"testing"

	"github.com/shmgo/shm/dist"
)

func BenchmarkUpdate(b *testing.B) {
	c := connect(b)
	ctx := bounded(b)
	v, err := dist.NewValue(ctx, c, "n", int64(0))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := v.Update(ctx, func(x int64) int64 { return x + 1 }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockUnlock(b *testing.B) {
	c := connect(b)
	ctx := bounded(b)
	m, err := dist.NewMutex(ctx, c, "m")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := m.Lock(ctx); err != nil {
			b.Fatal(err)
		}
		if err := m.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
