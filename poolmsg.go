package shm

// The pool's messages in the slot: taskMsg and replyMsg, in a plain binary
// form of their own rather than gob. Gob's encoders and decoders took 571
// ns to pass a no-op task and its reply, this form 62 (go test -bench
// PoolMsg), out of a round trip whose median was 2.0 us, and 1.35 us after
// the change (go test -bench PoolRoundTrip/pool). The arguments and the
// result inside them stay gob bytes (encodeValue), as Start's do.
//
// The form: a byte of flags, then the fields in order, each number an
// unsigned varint, each string or byte slice its length and its bytes, each
// slice its length and its elements.

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// A poolMsg is a message that travels between a pool and a worker.
type poolMsg interface {
	// appendTo appends the message's encoding to b.
	appendTo(b []byte) []byte
	// decode sets the message from an encoding, copying what it keeps.
	decode(b []byte) error
}

var errBadMsg = errors.New("a malformed pool message")

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// A msgDecoder reads a message's fields in order; after the first error
// every read returns zero, and done reports the error.
type msgDecoder struct {
	b   []byte
	err error
}

func (d *msgDecoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errBadMsg
		return 0
	}
	x := d.b[0]
	d.b = d.b[1:]
	return x
}

func (d *msgDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBadMsg
		return 0
	}
	d.b = d.b[n:]
	return x
}

// bytes returns the next byte slice, which aliases the message; nil if it
// is empty, as gob decodes one.
func (d *msgDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errBadMsg
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

// count returns the length of the next slice, whose elements take at least
// size bytes each: a length that the rest of the message cannot hold is an
// error, so that a bad one cannot make the decoder allocate much.
func (d *msgDecoder) count(size int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/size) {
		d.err = errBadMsg
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// done reports the first error, or bytes left over.
func (d *msgDecoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errBadMsg
	}
	return d.err
}

const taskChunk = 1 << 0 // taskMsg.Chunk

// flag returns f if set, else 0.
func flag(set bool, f byte) byte {
	if set {
		return f
	}
	return 0
}

func (m *taskMsg) appendTo(b []byte) []byte {
	b = append(b, flag(m.Chunk, taskChunk))
	b = appendString(b, m.Func)
	b = binary.AppendUvarint(b, uint64(len(m.Args)))
	for _, a := range m.Args {
		b = binary.AppendUvarint(b, uint64(len(a.Refs)))
		for _, r := range a.Refs {
			b = binary.AppendUvarint(b, r.Seg)
			b = binary.AppendUvarint(b, r.Off)
			b = binary.AppendUvarint(b, r.Size)
			b = binary.AppendUvarint(b, r.Type)
		}
		b = appendBytes(b, a.Data)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Segments)))
	for _, s := range m.Segments {
		b = binary.AppendUvarint(b, s)
	}
	return b
}

func (m *taskMsg) decode(b []byte) error {
	d := msgDecoder{b: b}
	flags := d.byte()
	*m = taskMsg{Chunk: flags&taskChunk != 0, Func: string(d.bytes())}
	if n := d.count(2); n > 0 { // an argument takes at least two bytes
		m.Args = make([]argMsg, n)
		for i := range m.Args {
			if k := d.count(4); k > 0 { // a reference, at least four
				m.Args[i].Refs = make([]objRef, k)
				for j := range m.Args[i].Refs {
					m.Args[i].Refs[j] = objRef{Seg: d.uvarint(), Off: d.uvarint(), Size: d.uvarint(), Type: d.uvarint()}
				}
			}
			m.Args[i].Data = bytes.Clone(d.bytes())
		}
	}
	if n := d.count(1); n > 0 {
		m.Segments = make([]uint64, n)
		for i := range m.Segments {
			m.Segments[i] = d.uvarint()
		}
	}
	return d.done()
}

// replyMsg's flags.
const (
	replyReady = 1 << iota
	replyPanic
	replyFailed
	replyUnknown
)

func (r *replyMsg) appendTo(b []byte) []byte {
	b = append(b, flag(r.Ready, replyReady)|flag(r.Panic, replyPanic)|flag(r.Failed, replyFailed)|flag(r.Unknown, replyUnknown))
	b = appendBytes(b, r.Data)
	return appendString(b, r.Err)
}

func (r *replyMsg) decode(b []byte) error {
	d := msgDecoder{b: b}
	flags := d.byte()
	*r = replyMsg{
		Ready: flags&replyReady != 0, Panic: flags&replyPanic != 0,
		Failed: flags&replyFailed != 0, Unknown: flags&replyUnknown != 0,
	}
	r.Data = bytes.Clone(d.bytes())
	r.Err = string(d.bytes())
	return d.done()
}
