package dist

import "context"

// A Barrier makes a fixed number of parties, processes on any machines,
// wait for each other: the across-machines form of [shm.Barrier] and
// Python's threading.Barrier. It is reusable: when the last party arrives,
// all are released and the next round begins.
//
// A party's arrival is bound to its [Client] lease: a party whose lease
// expires (it died) before the round completes breaks the Barrier for the
// others, who get [ErrBrokenBarrier] rather than hang.
//
// A Barrier is safe for concurrent use. Make it with [NewBarrier].
type Barrier struct {
	c    *Client
	name string
	n    int
}

// NewBarrier returns the Barrier named name, for n parties, making it if it
// does not exist, or opening the existing one, which must be for n parties.
func NewBarrier(ctx context.Context, c *Client, name string, n int) (*Barrier, error) {
	return nil, errNotImplemented
}

// Wait waits until all parties have called Wait, or until ctx ends. It
// returns the order in which this party arrived, from 0 to n-1, or -1 and
// an error: [ErrBrokenBarrier] if the Barrier is or becomes broken, ctx.Err()
// if ctx ended first (which breaks the Barrier for the others), or an error
// from the cluster.
func (b *Barrier) Wait(ctx context.Context) (int, error) { return -1, errNotImplemented }

// Abort breaks the Barrier: every party waiting, and every later call to
// Wait, returns ErrBrokenBarrier.
func (b *Barrier) Abort(ctx context.Context) error { return errNotImplemented }
