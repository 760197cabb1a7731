//go:build linux

package shm

import (
	"bytes"
	"testing"
)

// TestPoolChanLetsGiantsGo sends a message far bigger than the slot through
// a poolChan and checks that the receiver does not keep a buffer of its size
// after it, as a worker would for the rest of its life. (The sender encodes
// into the slot, and a message too big for it into a buffer that it drops.)
func TestPoolChanLetsGiantsGo(t *testing.T) {
	f, mem, err := newSlot()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	tr, tw, err := pipe()
	if err != nil {
		t.Fatal(err)
	}
	rr, rw, err := pipe()
	if err != nil {
		t.Fatal(err)
	}
	pool, wk := newPoolChan(mem, rr, tw), newPoolChan(mem, tr, rw)
	defer pool.close()
	defer tr.Close()
	defer rw.Close()
	giant := bytes.Repeat([]byte{7}, 8<<20)
	done := make(chan error, 1)
	go func() {
		var got replyMsg
		_, _, err := wk.recv(true, false, &got)
		if err == nil && !bytes.Equal(got.Data, giant) {
			t.Errorf("the worker got %d bytes, want %d", len(got.Data), len(giant))
		}
		done <- err
	}()
	if err := pool.send(stTask, &replyMsg{Data: giant}, false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := cap(wk.big); c > 1<<20 {
		t.Errorf("the receiver keeps a buffer of %d bytes", c)
	}
}
