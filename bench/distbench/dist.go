//go:build linux

package main

// The dist versions: what a user of package dist writes.

import (
	"context"
	"fmt"

	"github.com/shmgo/shm/dist"
)

func init() {
	versions["dist-locked-inc"] = distLockedInc
	versions["dist-cas"] = distCAS
	versions["dist-handoff"] = handoff("dist")
	versions["dist-pingpong"] = pingPong("dist")
	backends["dist"] = dialDist
}

func connect(ctx context.Context, endpoints []string, ns string) (*dist.Client, error) {
	return dist.Connect(ctx, dist.Config{Endpoints: endpoints, Namespace: ns})
}

// distLockedInc adds 1 to a Value n times under a Mutex: Lock, Load, Store,
// Unlock.
func distLockedInc(ctx context.Context, endpoints []string, ns string, n int) (sample, error) {
	c, err := connect(ctx, endpoints, ns)
	if err != nil {
		return sample{}, err
	}
	defer c.Close()
	mu, err := dist.NewMutex(ctx, c, "lock")
	if err != nil {
		return sample{}, err
	}
	v, err := dist.NewValue(ctx, c, "counter", int64(0))
	if err != nil {
		return sample{}, err
	}
	inc := func(k int) error {
		for range k {
			if err := mu.Lock(ctx); err != nil {
				return err
			}
			x, err := v.Load(ctx)
			if err != nil {
				return err
			}
			if err := v.Store(ctx, x+1); err != nil {
				return err
			}
			if err := mu.Unlock(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	s, err := warmThenTime(n, inc)
	if err != nil {
		return s, err
	}
	return s, checkValue(ctx, v, warm(n)+n)
}

// distCAS adds 1 to a Value n times with Update.
func distCAS(ctx context.Context, endpoints []string, ns string, n int) (sample, error) {
	c, err := connect(ctx, endpoints, ns)
	if err != nil {
		return sample{}, err
	}
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "counter", int64(0))
	if err != nil {
		return sample{}, err
	}
	inc := func(k int) error {
		for range k {
			if _, err := v.Update(ctx, func(x int64) int64 { return x + 1 }); err != nil {
				return err
			}
		}
		return nil
	}
	s, err := warmThenTime(n, inc)
	if err != nil {
		return s, err
	}
	return s, checkValue(ctx, v, warm(n)+n)
}

func checkValue(ctx context.Context, v *dist.Value[int64], want int) error {
	got, err := v.Load(ctx)
	if err != nil {
		return err
	}
	if got != int64(want) {
		return fmt.Errorf("counter = %d, want %d", got, want)
	}
	return nil
}

// distConn is dist as a backend of the two-process versions.
type distConn struct{ c *dist.Client }

func dialDist(ctx context.Context, endpoints []string, ns string) (conn, error) {
	c, err := connect(ctx, endpoints, ns)
	if err != nil {
		return nil, err
	}
	return distConn{c}, nil
}

func (d distConn) Close() error { return d.c.Close() }

func (d distConn) locker(ctx context.Context, name string) (locker, error) {
	return dist.NewMutex(ctx, d.c, name)
}

func (d distConn) flag(ctx context.Context, name string, wait bool) (flag, error) {
	return dist.NewEvent(ctx, d.c, name)
}
