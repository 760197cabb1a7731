package shm

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shmgo/shm/internal/shmfile"
)

// seedImage returns the file of a segment of 8192 bytes holding a Value, a
// RawArray, a Mutex and a struct, made in memory: a fuzzer's seed.
func seedImage(tb testing.TB) []byte {
	tb.Helper()
	mem := alignedCopy(make([]byte, shmfile.Pad+8192))
	nf := &namedFile{name: "seed", file: mem[shmfile.Pad:], hdr: segHeader{size: 8192, created: 1, pid: 2, uid: 3, token: 4}}
	nf.hdr.write(nf.file)
	binary.NativeEndian.PutUint64(nf.file[hdrChecksum:], checksum(nf.file))
	s := &Segment{name: "seed", seg: &segment{mem: mem, named: nf}}
	type rec struct {
		X float64
		N [4]int32
	}
	for _, err := range []error{
		second(NewValue[int64](7, In(s, "v"))),
		second(NewRawArrayFrom([]int32{1, 2, 3}, In(s, "a"))),
		second(NewMutex(In(s, "m"))),
		second(NewArray[rec](2, In(s, "r"))),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return nf.file
}

func second[T any](_ T, err error) error { return err }

// checkImage checks the segment file b as Open and a look-up would, and
// that what it accepts is sound.
func checkImage(t *testing.T, b []byte) {
	hdr, raw, err := checkHeader("fuzz", b[:min(len(b), segHeaderSize)], int64(len(b)))
	if err != nil {
		if raw || hdr != (segHeader{}) {
			t.Fatalf("error %v with a result", err)
		}
		return
	}
	if raw {
		return
	}
	img := fileImage(alignedCopy(b))
	var dir directory
	dir.refresh("fuzz", img)
	prev := uint64(0)
	for _, r := range dir.list {
		switch {
		case r.at <= prev || r.at < segHeaderSize || r.at+recordFixed > uint64(len(b)):
			t.Fatalf("record at %d after %d accepted", r.at, prev)
		case r.off < segHeaderSize || r.off+r.size > uint64(len(b)) || r.off+r.size < r.off:
			t.Fatalf("record at %d: data [%d, +%d) outside the file", r.at, r.off, r.size)
		case r.lock != 0 && r.lock+8 > uint64(len(b)):
			t.Fatalf("record at %d: lock %d outside the file", r.at, r.lock)
		case checkName("object", r.name) != nil:
			t.Fatalf("record at %d: name %q accepted", r.at, r.name)
		}
		if d, err := parseDesc(r.descBytes); err != nil || d.String() != r.d.String() {
			t.Fatalf("record at %d: descriptor %q: %v", r.at, r.descBytes, err)
		}
		prev = r.at
	}
}

// FuzzOpenHeader feeds whole segment files to the checks Open and look-ups
// make: each must give an error or a sound result, never a panic, a fault or
// an access out of bounds. It reads from a byte slice, as Open reads the
// header with pread, never a mapping.
func FuzzOpenHeader(f *testing.F) {
	img := seedImage(f)
	f.Add(img)
	f.Add(img[:4096])
	f.Add([]byte("shmgoSEG"))
	f.Add([]byte{})
	f.Fuzz(checkImage)
}

// FuzzDirectory feeds directory records, behind a valid header, to the walk
// that look-ups and Objects make.
func FuzzDirectory(f *testing.F) {
	img := seedImage(f)
	f.Add(img[segHeaderSize:binary.NativeEndian.Uint64(img[hdrUsed:])])
	f.Fuzz(func(t *testing.T, recs []byte) {
		size := max(segMinSize, segHeaderSize+int(roundUp(uintptr(len(recs)), pageSize)))
		if len(recs) > 1<<20 {
			return
		}
		b := make([]byte, size)
		h := segHeader{size: uint64(size)}
		h.write(b)
		binary.NativeEndian.PutUint64(b[hdrChecksum:], checksum(b))
		binary.NativeEndian.PutUint64(b[hdrUsed:], uint64(segHeaderSize+len(recs)))
		if len(recs) > 0 {
			binary.NativeEndian.PutUint64(b[hdrFirst:], segHeaderSize)
		}
		copy(b[segHeaderSize:], recs)
		checkImage(t, b)
	})
}

// TestWriteFuzzSeeds writes the seed corpus under testdata/fuzz, when
// SHM_WRITE_FUZZ_SEEDS is set: go test -run TestWriteFuzzSeeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("SHM_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set SHM_WRITE_FUZZ_SEEDS to write the seed corpus")
	}
	img := seedImage(t)
	used := binary.NativeEndian.Uint64(img[hdrUsed:])
	raw := []byte("a raw segment, as Python's SharedMemory makes")
	badSum := append([]byte(nil), img[:segHeaderSize]...)
	badSum[hdrCreated] ^= 1
	for name, b := range map[string][]byte{
		"FuzzOpenHeader/valid":        img,
		"FuzzOpenHeader/header-only":  img[:segHeaderSize],
		"FuzzOpenHeader/raw":          raw,
		"FuzzOpenHeader/bad-checksum": badSum,
		"FuzzDirectory/valid":         img[segHeaderSize:used],
		"FuzzDirectory/first-record":  img[segHeaderSize : segHeaderSize+2*objectAlign],
	} {
		path := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
