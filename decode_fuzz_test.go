package shm

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzDecodeArg feeds arbitrary references to the decoders a child runs on
// what its parent sent: each must return an object or an error, never panic,
// and nothing but an error when it fails.
func FuzzDecodeArg(f *testing.F) {
	raw, err := NewRawArrayFrom([]int32{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewValue(int64(7))
	if err != nil {
		f.Fatal(err)
	}
	refs, _ := raw.shmRefs()
	vrefs, _ := v.shmRefs()
	for _, rs := range [][]objRef{refs, vrefs, {{}}, {{Seg: refs[0].Seg, Off: 1 << 62, Size: 8}}} {
		f.Add(encodeRefs(rs))
	}
	decoders := []object{(*Mutex)(nil), (*RawValue[int64])(nil), (*Value[int64])(nil), (*RawArray[int32])(nil), (*Array[int32])(nil)}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs := decodeRefs(b)
		for _, d := range decoders {
			got, err := d.shmDecode(rs)
			if err != nil && got.IsValid() {
				t.Fatalf("%T: error %v with a result %v", d, err, got)
			}
			if err == nil && (!got.IsValid() || got.IsNil()) {
				t.Fatalf("%T: no error and no result", d)
			}
		}
	})
}

func encodeRefs(rs []objRef) []byte {
	var b bytes.Buffer
	for _, r := range rs {
		binary.Write(&b, binary.LittleEndian, r)
	}
	return b.Bytes()
}

func decodeRefs(b []byte) []objRef {
	var rs []objRef
	for len(b) >= 32 {
		var r objRef
		binary.Read(bytes.NewReader(b[:32]), binary.LittleEndian, &r)
		rs = append(rs, r)
		b = b[32:]
	}
	return rs
}

// FuzzReadResult checks that a parent reading whatever a child left in its
// control file never panics.
func FuzzReadResult(f *testing.F) {
	f.Add([]byte(resultMagic + "garbage"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf bytes.Buffer
		buf.Write(b)
		parseResult(buf.Bytes())
	})
}
