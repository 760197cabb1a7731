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
	Resumed   atomic.Int64 // calls that returned nil after the parent set Restarted
	Restarted atomic.Bool  // set by the parent once the server is back
}

// incrementThroughOutage adds 1 to "counter" with Update, each call bounded
// by a short context so that an outage of the server shows as errors, and
// counts the outcomes, until n calls have returned nil after the parent
// said that the server is back.
func incrementThroughOutage(endpoint, ns string, n int64, out *shm.RawValue[outcomes]) error {
	ctx, c, done, err := childClient(endpoint, ns)
	if err != nil {
		return err
	}
	defer done()
	v, err := dist.NewValue(ctx, c, "counter", int64(0))
	if err != nil {
		return err
	}
	o := out.Ptr()
	for o.Resumed.Load() < n {
		if err := ctx.Err(); err != nil {
			return err
		}
		after := o.Restarted.Load()
		opCtx, opCancel := context.WithTimeout(ctx, 500*time.Millisecond)
		o.Attempted.Add(1)
		_, err := v.Update(opCtx, func(x int64) int64 { return x + 1 })
		opCancel()
		switch {
		case err != nil:
			o.Failed.Add(1)
		case after:
			o.Resumed.Add(1)
			fallthrough
		default:
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
	const procs, n = 2, 100
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
	every := func(cond func(o *outcomes) bool) func() bool {
		return func() bool {
			for _, o := range outs {
				if !cond(o.Ptr()) {
					return false
				}
			}
			return true
		}
	}
	sum := func(f func(o *outcomes) int64) (s int64) {
		for _, o := range outs {
			s += f(o.Ptr())
		}
		return s
	}
	await(t, "updates before the outage", every(func(o *outcomes) bool { return o.Acked.Load() >= 20 }))
	server.Stop()
	t.Cleanup(func() { server.Restart() }) // for the tests after this one, if this one fails
	ackedBefore := sum(func(o *outcomes) int64 { return o.Acked.Load() })
	await(t, "every process to see the outage", every(func(o *outcomes) bool { return o.Failed.Load() > 0 }))
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		o.Ptr().Restarted.Store(true)
	}
	for _, p := range ps {
		join(t, p) // each has had n updates acknowledged since the restart
	}
	acked, attempted := sum(func(o *outcomes) int64 { return o.Acked.Load() }), sum(func(o *outcomes) int64 { return o.Attempted.Load() })
	got := load[int64](t, c, "counter")
	t.Logf("acknowledged %d (%d before the outage), attempted %d, failed %d; counter %d", acked, ackedBefore, attempted, sum(func(o *outcomes) int64 { return o.Failed.Load() }), got)
	if got < acked || got > attempted {
		t.Fatalf("counter = %d, want from %d (acknowledged) to %d (attempted)", got, acked, attempted)
	}
}
