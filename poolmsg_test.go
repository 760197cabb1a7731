package shm

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"testing"
)

// poolMsgs are messages of every shape a pool sends, for the tests below.
func poolMsgs() []poolMsg {
	return []poolMsg{
		&taskMsg{Func: "main.noop"},
		&taskMsg{Func: "main.add", Args: []argMsg{{Data: []byte{1, 2, 3}}, {Refs: []objRef{{Seg: 1 << 63, Off: 4096, Size: 8, Type: 77}}}}, Segments: []uint64{1 << 63, 5}},
		&taskMsg{Func: "main.inc", Chunk: true, Args: []argMsg{{Data: make([]byte, 300)}}},
		&replyMsg{Ready: true},
		&replyMsg{Data: []byte("result")},
		&replyMsg{Failed: true, Panic: true, Err: "the sky fell"},
		&replyMsg{Unknown: true, Err: "no function"},
	}
}

// TestPoolMsgRoundTrip checks that each message decodes to itself, and that
// every shorter or longer encoding is an error.
func TestPoolMsgRoundTrip(t *testing.T) {
	for _, m := range poolMsgs() {
		b := m.appendTo(nil)
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(poolMsg)
		if err := got.decode(b); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("decoded %+v, want %+v", got, m)
		}
		for n := range len(b) {
			if err := got.decode(b[:n]); err == nil {
				t.Fatalf("%+v: the first %d of %d bytes decoded without an error", m, n, len(b))
			}
		}
		if err := got.decode(append(b, 0)); err == nil {
			t.Fatalf("%+v: a byte too many decoded without an error", m)
		}
	}
}

// TestPoolMsgDecodeCopies checks that a decoded message keeps nothing of the
// bytes it came from, which are the slot's, and change with the next message.
func TestPoolMsgDecodeCopies(t *testing.T) {
	for _, m := range poolMsgs() {
		b := m.appendTo(nil)
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface().(poolMsg)
		if err := got.decode(b); err != nil {
			t.Fatal(err)
		}
		clear(b)
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("after its bytes were overwritten, the message is %+v, want %+v", got, m)
		}
	}
}

// FuzzPoolMsg feeds arbitrary bytes to the decoders of the pool's messages:
// each must return an error or a message that encodes back to the same
// bytes, never panic.
func FuzzPoolMsg(f *testing.F) {
	for _, m := range poolMsgs() {
		f.Add(m.appendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []poolMsg{&taskMsg{}, &replyMsg{}} {
			if m.decode(b) != nil {
				continue
			}
			if again := m.appendTo(nil); string(again) != string(b) {
				// Varints have one shortest form, but a decoder
				// accepts longer ones: compare the messages instead.
				n := reflect.New(reflect.TypeOf(m).Elem()).Interface().(poolMsg)
				if err := n.decode(again); err != nil || !reflect.DeepEqual(n, m) {
					t.Fatalf("%x decoded to %+v, which encodes to %x, decoded to %+v (%v)", b, m, again, n, err)
				}
			}
		}
	})
}

// BenchmarkPoolMsg encodes and decodes a no-op task and its reply, as a
// round trip through the pool does, in the pool's binary form and, for
// comparison, as one gob stream each way (the form before).
//
//	go test -run '^$' -bench PoolMsg
func BenchmarkPoolMsg(b *testing.B) {
	task, reply := &taskMsg{Func: "github.com/shmgo/shm_test.noop"}, &replyMsg{}
	b.Run("binary", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		var t taskMsg
		var r replyMsg
		for range b.N {
			if t.decode(task.appendTo(buf[:0])) != nil || r.decode(reply.appendTo(buf[:0])) != nil {
				b.Fatal("decode failed")
			}
		}
	})
	b.Run("gob", func(b *testing.B) {
		var tb, rb bytes.Buffer
		te, re := gob.NewEncoder(&tb), gob.NewEncoder(&rb)
		td, rd := gob.NewDecoder(&tb), gob.NewDecoder(&rb)
		var t taskMsg
		var r replyMsg
		for range b.N {
			if te.Encode(task) != nil || td.Decode(&t) != nil || re.Encode(reply) != nil || rd.Decode(&r) != nil {
				b.Fatal("gob failed")
			}
		}
	})
}
