package dist_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmgo/shm"
	"github.com/shmgo/shm/dist"
)

// outcomes are what a child counts of its Updates.
type outcomes struct {
	Attempted atomic.Int64 // calls to Update
	Acked     atomic.Int64 // calls that returned nil
	Failed    atomic.Int64 // calls that returned an error
}

// incrementThroughOutage adds 1 to "counter" with Update until n calls have
// returned nil, each call bounded by a short context so that an outage of
// the server shows as errors, and counts the outcomes.
func incrementThroughOutage(endpoint, ns string, n int64, out *shm.RawValue[outcomes]) error {
	ctx, cancel := minute()
	defer cancel()
	c, err := childConnect(endpoint, ns)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := dist.NewValue(ctx, c, "counter", int64(0))
	if err != nil {
		return err
	}
	o := out.Ptr()
	for o.Acked.Load() < n {
		if err := ctx.Err(); err != nil {
			return err
		}
		opCtx, opCancel := context.WithTimeout(ctx, 500*time.Millisecond)
		o.Attempted.Add(1)
		_, err := v.Update(opCtx, func(x int64) int64 { return x + 1 })
		opCancel()
		if err != nil {
			o.Failed.Add(1)
		} else {
			o.Acked.Add(1)
		}
	}
	return nil
}

func init() { shm.Register(incrementThroughOutage) }

// TestServerRestart stops the etcd server while two processes update a
// Value and starts it again on the same directory: their updates fail or
// wait while it is down, then resume, and no acknowledged update is lost.
func TestServerRestart(t *testing.T) {
	c := connect(t)
	const procs, n = 2, 300
	var outs []*shm.RawValue[outcomes]
	var ps []*shm.Process
	for range procs {
		out, err := shm.NewRawValue(outcomes{})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		ps = append(ps, start(t, incrementThroughOutage, endpoint, namespace(t), int64(n), out))
	}
	sum := func(f func(o *outcomes) int64) (s int64) {
		for _, o := range outs {
			s += f(o.Ptr())
		}
		return s
	}
	await(t, "updates before the outage", func() bool { return sum(func(o *outcomes) int64 { return o.Acked.Load() }) >= 50 })
	server.Stop()
	t.Cleanup(func() { server.Restart() }) // for the tests after this one, if this one fails
	ackedBefore := sum(func(o *outcomes) int64 { return o.Acked.Load() })
	await(t, "every process to see the outage", func() bool {
		for _, o := range outs {
			if o.Ptr().Failed.Load() == 0 {
				return false
			}
		}
		return true
	})
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		join(t, p)
	}
	acked, attempted := sum(func(o *outcomes) int64 { return o.Acked.Load() }), sum(func(o *outcomes) int64 { return o.Attempted.Load() })
	got := load[int64](t, c, "counter")
	t.Logf("acknowledged %d (%d before the outage), attempted %d, failed %d; counter %d", acked, ackedBefore, attempted, sum(func(o *outcomes) int64 { return o.Failed.Load() }), got)
	if got < acked || got > attempted {
		t.Fatalf("counter = %d, want from %d (acknowledged) to %d (attempted)", got, acked, attempted)
	}
	if acked != procs*n {
		t.Fatalf("acknowledged %d, want %d", acked, procs*n)
	}
}
