//go:build linux

package shm

import (
	"bytes"
	"testing"
)

// TestPoolChanLetsGiantsGo sends a message far bigger than the slot through
// a poolChan and checks that neither side keeps a buffer of its size after
// it, as a worker would for the rest of its life.
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
		var got []byte
		_, _, err := wk.recv(true, false, &got)
		if err == nil && !bytes.Equal(got, giant) {
			t.Errorf("the worker got %d bytes, want %d", len(got), len(giant))
		}
		done <- err
	}()
	if err := pool.send(stTask, giant, false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := pool.buf.Cap(); c > 1<<20 {
		t.Errorf("the sender keeps a buffer of %d bytes", c)
	}
	if c := cap(wk.big); c > 1<<20 {
		t.Errorf("the receiver keeps a buffer of %d bytes", c)
	}
}
