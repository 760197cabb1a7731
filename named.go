package shm

// Named segments: shared memory that unrelated programs find by name.
//
// # Files
//
// A segment named NAME is the regular file /dev/shm/NAME, as Python's
// multiprocessing.shared_memory.SharedMemory(NAME) makes it. Valid names are
// 1 to 255 bytes, without '/' or NUL, not "." or "..", and not starting with
// ".shm-", which shm keeps for its own files (the token tables). Objects in a
// segment have names by the same rule. The file is made with mode 0600 (set
// with fchmod, whatever the umask), or what [Mode] gives.
//
// A segment outlives the processes that use it: the file stays in /dev/shm,
// memory included, until someone removes it or the machine restarts. Only
// [Remove] (and `shm rm`) removes one; a failed Open, a reader's exit or a
// crash never does. So whoever decides that the data is no longer needed
// removes it: usually the program that created it, when its work is done, or
// an operator with `shm rm`. Removing a segment only takes its name away:
// the processes that have it mapped keep using its memory, which the kernel
// frees when the last of them exits, and a new segment of the same name is
// another file.
//
// # Publishing
//
// [Create] never shows a half-made segment: it makes a file that has no
// name (O_TMPFILE) in /dev/shm, sets its mode, size and header, and only
// then links it under NAME (linkat through /proc/self/fd). The link is the
// one step that others can see, and it fails if NAME exists, so of several
// creators of one name exactly one wins and the others get an error wrapping
// [fs.ErrExist]. A creator killed at any step before the link leaves nothing
// behind (the kernel frees a nameless file with its last descriptor);
// killed after it, it leaves a complete segment.
//
// # Format
//
// All integers are in the machine's byte order. The first 4096 bytes are the
// header:
//
//	off size field
//	0   8    magic "shmgoSEG"
//	8   4    format version, 1
//	12  4    byte-order mark 0x01020304
//	16  4    word size, 8
//	20  4    header size, 4096
//	24  8    file size in bytes
//	32  8    created, Unix time in nanoseconds
//	40  4    creator's process ID
//	44  4    creator's user ID
//	48  8    creator's liveness token (internal/token)
//	56  8    checksum: FNV-1a 64 of bytes 0-55, which never change
//	64  8    allocation lock, a Mutex word, guarding the fields below and the directory
//	72  8    used: offset of the first free byte (starts at 4096, only grows)
//	80  8    first: offset of the first directory record, 0 if none
//	88  8    last: offset of the last directory record, 0 if none
//	96  4    count: number of records
//
// The rest of the file holds objects and directory records, each in a block
// carved from used, aligned to 64 bytes. A record describes one named object:
//
//	off size field
//	0   8    next: offset of the next record, 0 for the last
//	8   4    record size, 64 + name length + descriptor length
//	12  4    kind: 1 RawValue, 2 Value, 3 RawArray, 4 Array, 5 Mutex,
//	         6 Event, 7 Semaphore, 8 Barrier, 9 Cond
//	16  8    off: offset of the data
//	24  8    size: bytes of data (element size x length)
//	32  8    length: number of elements (1 but for arrays)
//	40  8    lock: offset of the guarding Mutex word (Value, Array), of the
//	         Mutex a Cond is bound to (Cond), else 0
//	48  8    type hash: FNV-1a 64 of the descriptor
//	56  2    name length, 1 to 255
//	58  2    zero
//	60  4    descriptor length, 1 to 65536
//	64       the name, then the descriptor
//
// The descriptor is the layout of the object's type (of its elements, for an
// array) in canonical JSON; see descriptor.go. Objects are laid out as
// shm's handles need them in place: a RawValue's T at off; a Value's lock
// word and then its T, at the next multiple of T's alignment and at least 8,
// in one block (or the T alone, when [WithLock] gave a lock, which must be
// in the same segment); a RawArray's length, an int64, at off-64 and its
// elements from off; an Array's lock in a block of its own and a RawArray;
// a Mutex's word at off.
//
// shm's own types are described by name, not by their fields, since their
// words follow a protocol rather than a layout a program may read or write:
// a Mutex {"kind":"mutex","size":8,"align":8}; an Event
// {"kind":"event","size":4,"align":4}, its word at off; a Semaphore
// {"kind":"semaphore","size":16,"align":8}, its state word (permits in bits
// 0-31, processes asleep in bits 32-63) and then its limit (1 + its bound,
// 0 for none; a bounded Semaphore is a Semaphore with a limit, not a kind of
// its own); a Cond {"kind":"cond","size":8,"align":8}, its state word at off
// and its Mutex, which must be in the same segment, at lock; a Barrier
// {"kind":"barrier","size":8,"align":8}, the descriptor of one of its words,
// laid out as a RawArray of n+1 of them (length n+1, their number at off-64):
// its state, then one liveness slot per party. The same kind names describe
// these types inside a struct of a Value. A record of kinds 5 to 9 must
// carry its kind's descriptor.
//
// Kinds are added without a new format version: a reader that meets a kind
// past the last it knows (a segment of a later version of shm) checks the
// record's name, sizes and hash, lists it (as "kind N", with no type), and
// refuses only a look-up of it, with an error that says so; the rest of the
// segment stays usable. Bumping the version would make old readers refuse
// the whole segment for one object they never look up. Kind 0 is damage.
// (Readers from before kinds 6-9, which refused every kind past 5, fail the
// directory of a segment that holds one, with a FormatError naming the
// field "kind".)
//
// # Allocation
//
// An object is placed (see [In]) under the header's allocation lock, a
// [Mutex] like any other, so allocations by any number of processes never
// overlap. The allocator carves the blocks from used and stores the new used
// first, then writes the object's initial value and its record, and only
// then links the record: the previous record's next (or first), then last,
// then count. A reader walks the list from first without the lock: a record
// is complete before anything points to it, and a walk checks every record
// it meets. An allocator that dies holding the lock leaves at worst carved
// bytes that no record names, which are lost, or a linked record with a
// stale last or count; the next allocator is told by [ErrOwnerDead], walks
// the list to its true end and sets last and count from it. Names are
// unique in a segment: placing a name that exists fails with an error
// wrapping [fs.ErrExist]. The directory is append-only, and each process
// keeps what it has read of it, so a look-up reads only records new since
// its last.
//
// # Opening and checking
//
// [Open] checks a segment before it trusts anything in it, reading the
// header with pread rather than through a mapping: a regular file; the
// magic (a file without it is a raw segment: see below); version; byte
// order; word size; header size; the size field against the file's size;
// the checksum; used, first and last inside the file. Only then is the file
// mapped, and only as large as it was checked to be. Every record is checked
// before it is used: inside the used part, its data, lock and descriptor
// inside the file and consistent, its name valid and unique, its
// descriptor canonical and matching its hash. A look-up checks the type
// asked for against the record's descriptor, byte for byte, and reports a
// [*LayoutError] that shows both layouts when they differ. A damaged header
// or record gives a [*FormatError] naming the segment and the field; never a
// panic.
//
// What checks cannot stop: another process of the same user (or root) can
// write anything into the file, and can truncate it. Accessing a page past
// the new end of a file raises SIGBUS, which kills the process: the Go
// runtime turns a fault in its own code into a crash, not a panic. shm
// guards its own reads of the header and directory (a truncation then gives
// an error, not a crash), but the memory behind a *RawValue, a slice from
// Slice or a Mutex is read and written directly, at full speed, and cannot be
// guarded. Nothing prevents this for a file that others may write: a named
// segment is shared with every process that can open it for writing, so give
// it only to programs that you trust with its memory. A process of another
// user cannot write a segment unless its mode lets it (see [Mode]), and
// cannot truncate it.
//
// # Users, permissions and read-only segments
//
// A Mutex names its owner by a liveness token from a table that every
// process of a user shares (/dev/shm/.shm-tokens-EUID), so that any process
// of that user can tell whether the owner lives. Tokens of another user are
// in another table, which cannot be trusted (or even read): so only the
// processes of the file's owner open a segment for writing. Any other
// process that may read the file (mode 0644, say, or root) opens it
// read-only, and so does a process that holds no token from its user's table;
// [Segment.ReadOnly] reports it. A read-only segment is mapped without write
// access: [LookupRawValue], [LookupRawArray] and [Segment.Bytes] give views
// to read (Load, Slice) that must not be written, since a write to
// read-only memory kills the process (SIGSEGV); [LookupValue],
// [LookupArray] and [LookupMutex] fail with an error wrapping
// [fs.ErrPermission], since even reading a Value takes its lock. To read a
// Value or an Array of a read-only segment, look it up with LookupRawValue or
// LookupRawArray: that reads its memory without the lock, so a read may see
// an update half-done. For the same reason, Mode refuses to let other users
// write.
//
// # Raw segments
//
// A file in /dev/shm without the magic, such as one made by Python's
// SharedMemory, opens as a raw segment: it has no directory, look-ups fail,
// and [Segment.Bytes] returns its bytes as a *RawArray[byte]. Every named
// segment is mapped after a page of private memory, so that the array's
// 64-byte header (its length) can sit before the file's first byte.
//
// # Mappings in a process
//
// A process maps a segment once: opening the same file again (the same
// inode) reuses the mapping, so open/close loops do not grow. [Segment.Close]
// closes the descriptor but keeps the mapping for the life of the process,
// as for anonymous segments, so the objects looked up stay valid. Objects of
// a named segment can be passed to [Start]: the child receives the segment's
// descriptor, as it does an anonymous segment's, and maps it; the segment
// must be open in the parent (not closed) while Start runs.
//
// # Finer points, which python/shmgo.py follows too
//
//   - A file shorter than a header is a raw segment if it lacks the magic (a
//     Python SharedMemory of 100 bytes opens), and damaged (field "file
//     size") if it has it: the magic is checked before the size.
//   - Object names follow the rules for segment names, ".shm-" and "." and
//     ".." included, so that one check serves both.
//   - A Barrier's length must be at least 2 (one party), and its length word
//     at off-64 is checked against the record when it is looked up, as an
//     array's is. A Cond's lock, like a Value's, must be 8-aligned in the
//     file; it is not checked to name a Mutex record.
//   - first and last may be 0 (no record); count and last are not checked
//     against the list at Open, since a dead allocator may leave them
//     stale: readers follow next from first, and the next allocator repairs
//     them (last = the list's true end, count = its length). An allocator
//     links a new record after the last record it walked to, not after the
//     header's last, so a stale last never hides a record.
//   - Offsets grow along the list: a next that does not point past its
//     record is damage. This is what an allocator that carves from used
//     always produces, and it makes every walk end.
//   - A descriptor must be canonical: parsed and written again, it must
//     come out the same bytes. It must also be consistent: scalar sizes as
//     on 64-bit machines, an array's size its length times its element's,
//     struct fields in order, aligned, not overlapping, none of size 0.
//   - For arrays, off-64 (the length) must lie in the file, and the length
//     there must equal the record's when an array is looked up. A record's
//     lock must be 0 but for Value and Array, and 8-aligned in the file for
//     them; length must be 1 but for arrays.
//   - A look-up of a RawValue also finds a Value (its value, unlocked), and
//     one of a RawArray an Array: that is how a read-only process reads
//     them. A Value or Array can only be looked up as itself.
//   - Read-only: a segment with a header is opened for writing only by
//     processes of the file's owner that hold a token from their user's
//     table; a raw segment, which has no locks, whenever the file's mode
//     lets the process write.
//   - Mode accepts subsets of 0644 that include 0600.
//   - Creator's user ID is the effective one (the token table's); created is
//     time.Now in nanoseconds.
//   - Go's uintptr and atomic.Uintptr are described as uint64 (by size).
//   - Create's test knob has eight steps, finer than the four above (see
//     createChecked and what follows).
//
// # Look-ups
//
// There is one look-up function per kind, LookupValue[T] and so on, rather
// than one generic Lookup: the kind decides what the result is (a handle
// made of a lock and a value, or a pointer into the memory) and what must be
// checked, and the functions mirror the constructors, NewValue[T] and so on.
// A single Lookup[P] would have to take the kind from a type parameter that
// Go cannot constrain to these five types, so a mistake would show only at
// run time. The same holds for Events, Semaphores, Barriers and Conds:
// LookupEvent and so on.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/shmgo/shm/internal/shmfile"
)

// The format's constants (see Format above).
const (
	segMagic      = "shmgoSEG"
	segVersion    = 1
	segByteOrder  = 0x01020304
	segWordSize   = 8
	segHeaderSize = 4096
	segMinSize    = 2 * segHeaderSize // the header and a page of objects
	maxName       = 255
	recordFixed   = 64 // a record's size before its name

	// Header fields.
	hdrVersion  = 8
	hdrOrder    = 12
	hdrWord     = 16
	hdrHdrSize  = 20
	hdrSize     = 24
	hdrCreated  = 32
	hdrPid      = 40
	hdrUid      = 44
	hdrToken    = 48
	hdrChecksum = 56
	hdrLock     = 64
	hdrUsed     = 72
	hdrFirst    = 80
	hdrLast     = 88
	hdrCount    = 96

	// Record fields.
	recNext     = 0
	recSize     = 8
	recKind     = 12
	recOff      = 16
	recDataSize = 24
	recLen      = 32
	recLock     = 40
	recHash     = 48
	recNameLen  = 56
	recZero     = 58
	recDescLen  = 60
)

// namedBit marks the heap's key of a named segment: its inode number with the
// top bit set, so that it never equals the inode number of a memfd, which
// lives in another file system that numbers its own inodes.
const namedBit = 1 << 63

// objKind is the kind of a named object, as its record gives it.
type objKind uint32

const (
	kindRawValue objKind = 1 + iota
	kindValue
	kindRawArray
	kindArray
	kindMutex
	kindEvent
	kindSemaphore
	kindBarrier
	kindCond
	kindLast = kindCond // the last kind this version knows
)

func (k objKind) String() string {
	switch k {
	case kindRawValue:
		return "RawValue"
	case kindValue:
		return "Value"
	case kindRawArray:
		return "RawArray"
	case kindArray:
		return "Array"
	case kindMutex:
		return "Mutex"
	case kindEvent:
		return "Event"
	case kindSemaphore:
		return "Semaphore"
	case kindBarrier:
		return "Barrier"
	case kindCond:
		return "Cond"
	}
	return fmt.Sprintf("kind %d", uint32(k))
}

// A Segment is a named shared memory segment, opened by this process: a file
// in /dev/shm that unrelated programs, in Go or in Python (python/shmgo.py),
// open by name. Make one with [Create] and open one with [Open]; place
// objects in it with [In] and find them with [LookupValue] and its kin.
//
// A Segment may be used by several goroutines at once. Its methods, but for
// Name, return an error once it is closed; the objects found through it stay
// valid.
type Segment struct {
	name   string
	seg    *segment // the mapping, shared by every Segment of the same file in this process
	closed atomic.Bool
}

// namedFile is what a mapping of a named segment knows of its file.
type namedFile struct {
	name   string // the name it was first opened by; "" if inherited and not opened since
	file   []byte // the file's bytes: mem[shmfile.Pad:]
	raw    bool   // has no shm header
	roWhy  string // why it is mapped without write access; "" if it is not
	hdr    segHeader
	refs   int  // open Segments; guarded by theHeap.mu
	pinned bool // inherited from the parent: its descriptor stays open for the process's children
	dir    directory
}

// A SegmentOption changes how [Create] makes a segment.
type SegmentOption func(*segmentOptions)

type segmentOptions struct {
	mode fs.FileMode
	bad  error
}

// Mode sets the permission bits of a new segment's file; the default is
// 0600, and the umask plays no part. The owner must be able to read and
// write; others may be let read (0640, 0604, 0644), never write: locks judge
// their owners' liveness through a table of the owner's user, which another
// user's processes do not share, so shm opens a segment for writing only in
// processes of its owner (see [Open]), and refuses a mode that would have
// others write.
func Mode(perm fs.FileMode) SegmentOption {
	return func(o *segmentOptions) {
		if perm&^0o644 != 0 || perm&0o600 != 0o600 {
			o.bad = fmt.Errorf("Mode(%#o): the owner must read and write (0600), others may only read (0644 at most)", uint32(perm))
			return
		}
		o.mode = perm
	}
}

// createHook, when set by a test, is called after each step of Create.
var createHook func(step int)

// The steps of Create after which createHook is called.
const (
	createChecked = 1 + iota // name, size and options checked
	createOpened             // the nameless file made
	createModeSet            // its mode set
	createSized              // its size set
	createMapped             // mapped
	createFilled             // the header written, all but the checksum
	createSummed             // the checksum written
	createLinked             // linked under its name: published
	createSteps   = createLinked
)

func createStep(step int) {
	if createHook != nil {
		createHook(step)
	}
}

// Create makes a new segment of size bytes named name and opens it. size is
// the size of the whole file, rounded up to a multiple of 4096, at least
// 8192: the first 4096 bytes hold the header. The file's mode is 0600, or
// what [Mode] gives.
//
// Create returns an error wrapping [fs.ErrExist] if name is taken: of
// several programs creating one name at once, exactly one succeeds. It
// returns an error if this process holds no liveness token from its user's
// table (when /dev/shm is not writable, say), since then other programs
// could not judge its locks. The segment appears under its name complete or
// not at all, even if the creator is killed during Create: it is built
// without a name and linked into place when done.
func Create(name string, size int, opts ...SegmentOption) (*Segment, error) {
	s, err := create(name, size, opts)
	if err != nil {
		return nil, fmt.Errorf("shm: Create(%q): %w", name, err)
	}
	return s, nil
}

func create(name string, size int, opts []SegmentOption) (*Segment, error) {
	o := segmentOptions{mode: 0o600}
	for _, f := range opts {
		f(&o)
	}
	if o.bad != nil {
		return nil, o.bad
	}
	if err := checkName("segment", name); err != nil {
		return nil, err
	}
	if err := checkWordSize(); err != nil {
		return nil, err
	}
	if size < 0 || uint64(size) > uint64(maxObject) {
		return nil, fmt.Errorf("size %d is out of range (at most %d)", size, maxObject)
	}
	fileSize := int64(roundUp(uintptr(size), pageSize))
	if fileSize < segMinSize {
		return nil, fmt.Errorf("size %d is less than the least segment, %d bytes (a 4096-byte header and a page of objects)", size, segMinSize)
	}
	if err := canLock(); err != nil {
		return nil, err
	}
	createStep(createChecked)

	f, err := shmfile.CreateTemp()
	if err != nil {
		return nil, err
	}
	createStep(createOpened)
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	if err := shmfile.Chmod(f, uint32(o.mode)); err != nil {
		return nil, err
	}
	createStep(createModeSet)
	if free, err := shmfile.Free(f); err == nil && free < fileSize {
		return nil, fmt.Errorf("%d bytes do not fit in the %d bytes free in %s", fileSize, free, shmfile.Dir)
	}
	if err := shmfile.Truncate(f, fileSize); err != nil {
		return nil, err
	}
	createStep(createSized)
	mem, err := shmfile.Map(f, fileSize, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			shmfile.Unmap(mem)
		}
	}()
	createStep(createMapped)
	hdr := segHeader{
		size:    uint64(fileSize),
		created: time.Now().UnixNano(),
		pid:     uint32(os.Getpid()),
		uid:     uint32(os.Geteuid()),
		token:   myToken.Load(),
	}
	file := fileImage(mem[shmfile.Pad:])
	hdr.write(file)
	createStep(createFilled)
	binary.NativeEndian.PutUint64(file[hdrChecksum:], checksum(file))
	createStep(createSummed)
	if err := shmfile.Link(f, name); err != nil {
		return nil, err
	}
	createStep(createLinked)
	info, err := shmfile.Stat(f)
	if err != nil {
		return nil, err
	}
	nf := &namedFile{name: name, file: file, hdr: hdr}
	s, err := theHeap.attachNamed(info.Ino|namedBit, f, fileSize, true, func() (*segment, error) {
		return &segment{file: f, ino: info.Ino | namedBit, mem: mem, named: nf}, nil
	})
	if err != nil {
		return nil, err
	}
	ok = true
	return &Segment{name: name, seg: s}, nil
}

// Open opens the segment named name, made by [Create] in this or another
// program, or a raw segment: a file without shm's header, such as Python's
// SharedMemory makes. It returns an error wrapping [fs.ErrNotExist] if there
// is none, one wrapping [fs.ErrPermission] if this process may not read it,
// and a [*FormatError] if its header is damaged. It opens the segment
// read-only (see [Segment.ReadOnly]) where this process may not take part in
// its locks: when another user owns the file, when its mode does not let
// this process write, or when this process has no liveness token from its
// user's table.
func Open(name string) (*Segment, error) {
	s, err := open(name)
	if err != nil {
		return nil, fmt.Errorf("shm: Open(%q): %w", name, err)
	}
	return s, nil
}

func open(name string) (*Segment, error) {
	if err := checkName("segment", name); err != nil {
		return nil, err
	}
	if err := checkWordSize(); err != nil {
		return nil, err
	}
	f, err := shmfile.Open(name, false)
	if err != nil {
		return nil, err
	}
	nf, info, err := readNamed(f, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	// Open for writing where this process may take part in the locks.
	switch {
	case !nf.raw && info.Uid != uint32(os.Geteuid()):
		nf.roWhy = fmt.Sprintf("the file belongs to user %d, and only its owner's processes can judge each other's locks", info.Uid)
	case !nf.raw && canLock() != nil:
		nf.roWhy = canLock().Error()
	default:
		w, err := shmfile.Reopen(f, true)
		if err != nil {
			if !errors.Is(err, fs.ErrPermission) {
				f.Close()
				return nil, err
			}
			nf.roWhy = fmt.Sprintf("its mode %#o does not let this process write", info.Perm)
			break
		}
		f.Close()
		f = w
	}
	id := info.Ino | namedBit
	s, err := theHeap.attachNamed(id, f, info.Size, !nf.readOnly(), func() (*segment, error) {
		mem, err := shmfile.Map(f, info.Size, !nf.readOnly())
		if err != nil {
			return nil, err
		}
		nf.file = mem[shmfile.Pad:]
		s := &segment{file: f, ino: id, mem: mem, named: nf}
		s.setRawLength()
		return s, nil
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Segment{name: name, seg: s}, nil
}

// readNamed checks the file f of a named segment before it is mapped: its
// header, read with pread.
func readNamed(f *os.File, name string) (*namedFile, shmfile.Info, error) {
	info, err := shmfile.Stat(f)
	if err != nil {
		return nil, info, err
	}
	if !info.Regular {
		return nil, info, fmt.Errorf("%s is not a regular file", shmfile.Path(name))
	}
	h := make([]byte, min(info.Size, segHeaderSize))
	n, err := shmfile.ReadAt(f, h, 0)
	if err != nil {
		return nil, info, err
	}
	hdr, raw, err := checkHeader(name, h[:n], info.Size)
	if err != nil {
		return nil, info, err
	}
	return &namedFile{name: name, raw: raw, hdr: hdr}, info, nil
}

// mapInherited maps the named segment f that a child received from its
// parent, under the heap key id.
func mapInherited(f *os.File, id uint64) (*segment, error) {
	info, err := shmfile.Stat(f)
	if err != nil {
		return nil, err
	}
	if info.Ino|namedBit != id {
		return nil, fmt.Errorf("inherited segment is inode %d, want %d", info.Ino, id&^namedBit)
	}
	label := fmt.Sprintf("(inode %d)", info.Ino)
	nf, _, err := readNamed(f, label)
	if err != nil {
		return nil, err
	}
	nf.name = ""
	w, err := shmfile.Writable(f)
	if err != nil {
		return nil, err
	}
	if !w {
		nf.roWhy = "the parent opened it read-only"
	}
	nf.pinned = true
	mem, err := shmfile.Map(f, info.Size, w)
	if err != nil {
		return nil, err
	}
	nf.file = mem[shmfile.Pad:]
	s := &segment{file: f, ino: id, mem: mem, named: nf}
	s.setRawLength()
	return s, nil
}

// setRawLength writes, in the private page before a raw segment's bytes, the
// header of the RawArray[byte] that Bytes returns: its length.
func (s *segment) setRawLength() {
	if s.named.raw {
		as[RawArray[byte]](segPointer(s, shmfile.Pad-arrayHeader)).n = int64(len(s.named.file))
	}
}

// attachNamed returns this process's mapping of the named segment id, made
// by mapFn if there is none yet. f is the descriptor just opened, of a file
// of size bytes: it becomes the mapping's if that has none open (reopened to
// match the mapping's access if need be), and is closed otherwise. write
// says whether f is open for writing.
func (h *heap) attachNamed(id uint64, f *os.File, size int64, write bool, mapFn func() (*segment, error)) (*segment, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.lookupIno(id)
	if s == nil {
		s, err := mapFn()
		if err != nil {
			return nil, err
		}
		s.named.refs = 1
		h.segs = append(h.segs, s)
		return s, nil
	}
	nf := s.named
	if nf == nil {
		return nil, fmt.Errorf("inode %d is mapped as an anonymous segment", id&^namedBit)
	}
	if size != int64(len(nf.file)) {
		return nil, fmt.Errorf("the file is %d bytes, but was %d when this process mapped it", size, len(nf.file))
	}
	switch {
	case s.file != nil:
		f.Close()
	case write == !nf.readOnly():
		s.file = f
	default:
		// Keep the descriptor as the mapping is, for the children it goes to.
		g, err := shmfile.Reopen(f, !nf.readOnly())
		if err != nil {
			return nil, fmt.Errorf("this process mapped it for writing, and cannot open it for writing now: %w", err)
		}
		f.Close()
		s.file = g
	}
	if nf.name == "" {
		nf.name = nameOf(f)
	}
	nf.refs++
	return s, nil
}

func nameOf(f *os.File) string {
	n := f.Name()
	if len(n) > len(shmfile.Dir)+1 && n[:len(shmfile.Dir)+1] == shmfile.Dir+"/" {
		return n[len(shmfile.Dir)+1:]
	}
	return ""
}

// Remove removes the segment named name: its name only. Processes that have
// it mapped go on using its memory, which the kernel frees when the last of
// them has exited; the name is free for [Create] at once. Remove returns an
// error wrapping [fs.ErrNotExist] if there is no such segment. It removes a
// raw segment too, such as one made by Python's SharedMemory.
func Remove(name string) error {
	if err := checkName("segment", name); err != nil {
		return fmt.Errorf("shm: Remove(%q): %w", name, err)
	}
	if err := shmfile.Remove(name); err != nil {
		return fmt.Errorf("shm: Remove(%q): %w", name, err)
	}
	return nil
}

// Close closes the segment's descriptor, unless another Segment of this
// process has the same file open. The memory stays mapped for the life of
// the process, so the objects found through s stay valid, and opening the
// segment again reuses the mapping. Close does not remove the segment: see
// [Remove]. Closing a closed Segment returns an error wrapping
// [fs.ErrClosed].
func (s *Segment) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("shm: segment %q: %w", s.name, fs.ErrClosed)
	}
	theHeap.mu.Lock()
	defer theHeap.mu.Unlock()
	nf := s.seg.named
	nf.refs--
	if nf.refs == 0 && !nf.pinned && s.seg.file != nil {
		err := s.seg.file.Close()
		s.seg.file = nil
		if err != nil {
			return fmt.Errorf("shm: segment %q: %w", s.name, err)
		}
	}
	return nil
}

// Name returns the name the segment was created or opened by.
func (s *Segment) Name() string { return s.name }

// ReadOnly reports whether the segment is mapped read-only in this process:
// see [Open] for when it is, and [LookupRawValue] for what can be read.
func (s *Segment) ReadOnly() bool { return s.seg.named.readOnly() }

// readOnly reports whether the file is mapped without write access.
func (nf *namedFile) readOnly() bool { return nf.roWhy != "" }

// check returns the segment's file for an operation op, or why op cannot
// use it.
func (s *Segment) check(op string) (*namedFile, error) {
	if s == nil {
		return nil, fmt.Errorf("%s: nil *Segment", op)
	}
	if s.closed.Load() {
		return nil, fmt.Errorf("segment %q: %w", s.name, fs.ErrClosed)
	}
	return s.seg.named, nil
}

// checkWrite is check for an operation that writes or locks.
func (s *Segment) checkWrite(op string) (*namedFile, error) {
	nf, err := s.check(op)
	if err != nil {
		return nil, err
	}
	if nf.readOnly() {
		return nil, fmt.Errorf("segment %q is open read-only (%s): %w", s.name, nf.roWhy, fs.ErrPermission)
	}
	return nf, nil
}

// errRaw is the error of a look-up or allocation in a raw segment.
func errRaw(name string) error {
	return fmt.Errorf("segment %q has no shm header (a raw segment, such as Python's SharedMemory makes): it has no named objects; use Segment.Bytes", name)
}

// Bytes returns the bytes of a raw segment (see [Open]): the whole file, as
// a RawArray that can be passed to [Start] like any other. If the segment is
// read-only, the array must not be written. Bytes returns an error for a
// segment that has shm's header: look its objects up by name.
func (s *Segment) Bytes() (*RawArray[byte], error) {
	nf, err := s.check("Bytes")
	if err != nil {
		return nil, fmt.Errorf("shm: Bytes: %w", err)
	}
	if !nf.raw {
		return nil, fmt.Errorf("shm: Bytes: segment %q has shm's header: look its objects up by name", s.name)
	}
	return as[RawArray[byte]](segPointer(s.seg, shmfile.Pad-arrayHeader)), nil
}

// ObjectInfo describes a named object, as [Segment.Objects] lists it.
type ObjectInfo struct {
	Name       string
	Kind       string // "RawValue", "Value", "RawArray", "Array", "Mutex", "Event", "Semaphore", "Barrier", "Cond"; "kind N" for a kind of a later version, whose other fields are zero but for Descriptor
	Type       string // the layout of the value, or of an element for an array (and a Barrier): struct {X float64 @0; N [4]int32 @8}
	Descriptor []byte // the canonical type descriptor, as in the segment (see descriptor.go)
	Len        int    // the number of elements: 1 but for arrays
	Size       int    // bytes of data: Len times the element's size
	Offset     int64  // the data's offset in the file
	Lock       int64  // the offset of the guarding Mutex word for a Value or an Array, of a Cond's Mutex, else 0
	Data       []byte // the data itself, in the mapping: for reading only, and without the lock it may be half-updated
}

// Objects returns the segment's directory: every named object, in the order
// they were placed. It is what `shm inspect` shows. A raw segment has none.
func (s *Segment) Objects() ([]ObjectInfo, error) {
	nf, err := s.check("Objects")
	if err != nil {
		return nil, fmt.Errorf("shm: Objects: %w", err)
	}
	if nf.raw {
		return nil, nil
	}
	recs, err := nf.records()
	if err != nil {
		return nil, err
	}
	out := make([]ObjectInfo, len(recs))
	for i, r := range recs {
		if r.kind > kindLast {
			out[i] = ObjectInfo{Name: r.name, Kind: r.kind.String(), Descriptor: append([]byte(nil), r.descBytes...)}
			continue
		}
		out[i] = ObjectInfo{
			Name:       r.name,
			Kind:       r.kind.String(),
			Type:       r.d.String(),
			Descriptor: append([]byte(nil), r.descBytes...),
			Len:        int(r.length),
			Size:       int(r.size),
			Offset:     int64(r.off),
			Lock:       int64(r.lock),
			Data:       nf.file[r.off : r.off+r.size : r.off+r.size],
		}
	}
	return out, nil
}

// SegmentInfo describes a segment, as [Segment.Stat] reports it.
type SegmentInfo struct {
	Name     string
	Size     int64       // bytes, the file's size
	Used     int64       // bytes allocated, header included; Size for a raw segment
	Objects  int         // named objects
	Raw      bool        // the segment has no shm header (see [Open])
	Mode     fs.FileMode // the file's permission bits
	ReadOnly bool        // this process opened it read-only

	// For a segment with shm's header: who created it, and when.
	Created    time.Time
	CreatorPid int
	CreatorUid int
	// CreatorAlive reports whether the creating process still lives. It is
	// known only when the creator is a process of this process's user,
	// whose liveness tokens it can check: CreatorKnown says so. The PID is
	// not enough: the kernel reuses PIDs.
	CreatorAlive bool
	CreatorKnown bool
}

// Stat describes the segment: what `shm ls` shows.
func (s *Segment) Stat() (SegmentInfo, error) {
	nf, err := s.check("Stat")
	if err != nil {
		return SegmentInfo{}, fmt.Errorf("shm: Stat: %w", err)
	}
	theHeap.mu.Lock()
	f := s.seg.file
	var info shmfile.Info
	if f != nil {
		info, err = shmfile.Stat(f)
	}
	theHeap.mu.Unlock()
	if err != nil {
		return SegmentInfo{}, fmt.Errorf("shm: Stat(%q): %w", s.name, err)
	}
	si := SegmentInfo{
		Name:     s.name,
		Size:     int64(len(nf.file)),
		Used:     int64(len(nf.file)),
		Raw:      nf.raw,
		Mode:     fs.FileMode(info.Perm & 0o777),
		ReadOnly: nf.readOnly(),
	}
	if nf.raw {
		return si, nil
	}
	recs, err := nf.records()
	if err == nil {
		err = guardFault(s.name, func() error {
			si.Used = int64(fileImage(nf.file).load64(hdrUsed))
			return nil
		})
	}
	if err != nil {
		return SegmentInfo{}, err
	}
	si.Objects = len(recs)
	si.Created = time.Unix(0, nf.hdr.created)
	si.CreatorPid = int(nf.hdr.pid)
	si.CreatorUid = int(nf.hdr.uid)
	si.CreatorAlive, si.CreatorKnown = creatorAlive(nf.hdr)
	return si, nil
}

// creatorAlive reports whether the creator of a segment lives, and whether
// this process can tell.
func creatorAlive(h segHeader) (alive, known bool) {
	switch {
	case h.token == 0 || h.uid != uint32(os.Geteuid()) || family == nil || !family.User():
		return false, false
	case h.token == myToken.Load():
		return true, true
	}
	alive, err := family.Alive(h.token)
	return alive, err == nil
}

// canLock returns why this process cannot take part in the locks of named
// segments, or nil if it can: it needs a token from its user's table.
func canLock() error {
	if tokenErr != nil {
		return tokenErr
	}
	if userTableErr != nil {
		return fmt.Errorf("this process has no liveness token from its user's table, so other programs could not judge its locks: %w", userTableErr)
	}
	return nil
}

// checkWordSize refuses named segments on machines whose words are not 8
// bytes: the format's lengths and Go's int would disagree.
func checkWordSize() error {
	if unsafe.Sizeof(uintptr(0)) != segWordSize {
		return fmt.Errorf("named segments need a 64-bit machine: %w", errors.ErrUnsupported)
	}
	return nil
}

// checkName checks the name of a segment or an object (what says which).
func checkName(what, name string) error {
	why := ""
	switch {
	case name == "":
		why = "it is empty"
	case len(name) > maxName:
		why = fmt.Sprintf("it is %d bytes long, more than %d", len(name), maxName)
	case name == "." || name == "..":
		why = "it names a directory"
	case len(name) >= 5 && name[:5] == ".shm-":
		why = `names starting with ".shm-" are kept for shm's own files`
	default:
		for i := 0; i < len(name); i++ {
			switch name[i] {
			case '/':
				why = fmt.Sprintf("it holds a '/' at byte %d", i)
			case 0:
				why = fmt.Sprintf("it holds a NUL byte at byte %d", i)
			}
			if why != "" {
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("invalid %s name %q: %s: %w", what, name, why, fs.ErrInvalid)
}

// A FormatError reports a named segment whose header or directory is not
// what shm writes: damaged, truncated, or made by another program.
type FormatError struct {
	Segment string // the segment's name
	Record  int64  // the offset of the record at fault, or 0 for the header
	Field   string // the field at fault, such as "checksum" or "descriptor"
	Problem string // what is wrong with it
}

// Error names the segment, the record (if any), the field and the problem.
func (e *FormatError) Error() string {
	if e.Record == 0 {
		return fmt.Sprintf("shm: segment %q: header field %s: %s", e.Segment, e.Field, e.Problem)
	}
	return fmt.Sprintf("shm: segment %q: record at offset %d: field %s: %s", e.Segment, e.Record, e.Field, e.Problem)
}

// fileImage is the bytes of a named segment's file, from its offset 0: its
// mapping, or for a check without one, an aligned copy.
type fileImage []byte

func (b fileImage) u16(off uint64) uint16 { return binary.NativeEndian.Uint16(b[off:]) }
func (b fileImage) u32(off uint64) uint32 { return binary.NativeEndian.Uint32(b[off:]) }
func (b fileImage) u64(off uint64) uint64 { return binary.NativeEndian.Uint64(b[off:]) }

// load64 and store64 access a field that changes while others read it.
func (b fileImage) load64(off uint64) uint64     { return wordAt(b, off).Load() }
func (b fileImage) store64(off uint64, v uint64) { wordAt(b, off).Store(v) }

// segHeader holds the header fields that never change.
type segHeader struct {
	size    uint64
	created int64
	pid     uint32
	uid     uint32
	token   uint64
}

// write writes a new header into b.
func (h segHeader) write(b fileImage) {
	copy(b, segMagic)
	ne := binary.NativeEndian
	ne.PutUint32(b[hdrVersion:], segVersion)
	ne.PutUint32(b[hdrOrder:], segByteOrder)
	ne.PutUint32(b[hdrWord:], segWordSize)
	ne.PutUint32(b[hdrHdrSize:], segHeaderSize)
	ne.PutUint64(b[hdrSize:], h.size)
	ne.PutUint64(b[hdrCreated:], uint64(h.created))
	ne.PutUint32(b[hdrPid:], h.pid)
	ne.PutUint32(b[hdrUid:], h.uid)
	ne.PutUint64(b[hdrToken:], h.token)
	ne.PutUint64(b[hdrUsed:], segHeaderSize)
}

// checksum is FNV-1a 64 of the header's bytes 0-55.
func checksum(b []byte) uint64 { return descHash(b[:hdrChecksum]) }

// checkHeader checks the header h, the first bytes (up to 4096) of a file of
// fileSize bytes, in the order given above (Opening and checking). It reports raw for a file without the
// magic. A file shorter than a header is raw if it lacks the magic (Python's
// SharedMemory makes files of any size), and damaged if it has it.
func checkHeader(name string, h []byte, fileSize int64) (hdr segHeader, raw bool, err error) {
	bad := func(field, format string, args ...any) (segHeader, bool, error) {
		return segHeader{}, false, &FormatError{Segment: name, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	if len(h) < len(segMagic) || string(h[:len(segMagic)]) != segMagic {
		return segHeader{}, true, nil
	}
	if fileSize < segHeaderSize || len(h) < segHeaderSize {
		return bad("file size", "the file is %d bytes, shorter than its %d-byte header", fileSize, segHeaderSize)
	}
	b := fileImage(h)
	if v := b.u32(hdrVersion); v != segVersion {
		return bad("version", "format version %d; this program reads version %d", v, segVersion)
	}
	if v := b.u32(hdrOrder); v != segByteOrder {
		return bad("byte order", "byte-order mark %#08x, want %#08x: written on a machine of another byte order", v, segByteOrder)
	}
	if v := b.u32(hdrWord); v != segWordSize {
		return bad("word size", "%d, want %d", v, segWordSize)
	}
	if v := b.u32(hdrHdrSize); v != segHeaderSize {
		return bad("header size", "%d, want %d", v, segHeaderSize)
	}
	hdr.size = b.u64(hdrSize)
	if hdr.size != uint64(fileSize) {
		return bad("size", "%d, but the file is %d bytes: it was truncated or extended", hdr.size, fileSize)
	}
	if sum, want := b.u64(hdrChecksum), checksum(b); sum != want {
		return bad("checksum", "%#016x, want %#016x: bytes 0-55 were changed", sum, want)
	}
	if used := b.u64(hdrUsed); used < segHeaderSize || used > hdr.size {
		return bad("used", "%d, outside [%d, %d]", used, segHeaderSize, hdr.size)
	}
	for _, f := range []struct {
		name string
		off  uint64
	}{{"first", hdrFirst}, {"last", hdrLast}} {
		// Within [4096, size] as the header's doc says: last is never trusted (see
		// refresh), and a first at the end fails as a record.
		if v := b.u64(f.off); v != 0 && (v < segHeaderSize || v > hdr.size) {
			return bad(f.name, "%d, neither 0 nor inside [%d, %d]", v, segHeaderSize, hdr.size)
		}
	}
	hdr.created = int64(b.u64(hdrCreated))
	hdr.pid = b.u32(hdrPid)
	hdr.uid = b.u32(hdrUid)
	hdr.token = b.u64(hdrToken)
	return hdr, false, nil
}

// A record is a checked directory record.
type record struct {
	at        uint64 // the record's offset
	kind      objKind
	off       uint64
	size      uint64
	length    uint64
	lock      uint64
	name      string
	descBytes []byte // a copy, not the file's bytes
	d         *desc
}

// readRecord reads and checks the record at offset at of the file image b,
// whose used field was used.
func readRecord(segName string, b fileImage, at, used uint64) (*record, error) {
	bad := func(field, format string, args ...any) (*record, error) {
		return nil, &FormatError{Segment: segName, Record: int64(at), Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	fileSize := uint64(len(b))
	if used > fileSize {
		return nil, &FormatError{Segment: segName, Field: "used", Problem: fmt.Sprintf("%d, past the end of the file (%d)", used, fileSize)}
	}
	if at < segHeaderSize || at%objectAlign != 0 || at > used || used-at < recordFixed {
		return bad("offset", "not a multiple of %d inside [%d, %d)", objectAlign, segHeaderSize, used)
	}
	r := &record{at: at, kind: objKind(b.u32(at + recKind))}
	size := uint64(b.u32(at + recSize))
	nameLen := uint64(b.u16(at + recNameLen))
	descLen := uint64(b.u32(at + recDescLen))
	switch {
	case nameLen < 1 || nameLen > maxName:
		return bad("name length", "%d, want 1 to %d", nameLen, maxName)
	case b.u16(at+recZero) != 0:
		return bad("zero", "%d, want 0", b.u16(at+recZero))
	case descLen < 1 || descLen > maxDescriptor:
		return bad("descriptor length", "%d, want 1 to %d", descLen, maxDescriptor)
	case size != recordFixed+nameLen+descLen:
		return bad("record size", "%d, want %d for a %d-byte name and a %d-byte descriptor", size, recordFixed+nameLen+descLen, nameLen, descLen)
	case size > used-at:
		return bad("record size", "%d bytes from %d pass used (%d)", size, at, used)
	case r.kind < kindRawValue:
		return bad("kind", "%d, want 1 or more", uint32(r.kind))
	}
	r.off = b.u64(at + recOff)
	r.size = b.u64(at + recDataSize)
	r.length = b.u64(at + recLen)
	r.lock = b.u64(at + recLock)
	hash := b.u64(at + recHash)
	// The name and descriptor are copied out of the file: a record is
	// checked once and kept, and its bytes in the file may be changed, or
	// truncated away, after.
	r.name = string(b[at+recordFixed : at+recordFixed+nameLen])
	r.descBytes = slices.Clone(b[at+recordFixed+nameLen : at+size])
	if err := checkName("object", r.name); err != nil {
		return bad("name", "%v", err)
	}
	if h := descHash(r.descBytes); h != hash {
		return bad("type hash", "%#016x, but the descriptor hashes to %#016x", hash, h)
	}
	if r.kind > kindLast {
		// A kind of a later version: its fields may mean anything, so they
		// are left to the look-up, which refuses it.
		return r, nil
	}
	d, err := parseDesc(r.descBytes)
	if err != nil {
		return bad("descriptor", "%v", err)
	}
	r.d = d
	if r.off < segHeaderSize || r.off >= fileSize || r.size > fileSize-r.off {
		return bad("off", "data at %d of %d bytes is not inside [%d, %d)", r.off, r.size, segHeaderSize, fileSize)
	}
	if r.off%uint64(d.Align) != 0 {
		return bad("off", "%d is not aligned to %d, the alignment of %s", r.off, d.Align, d)
	}
	elem := uint64(d.Size)
	if elem != 0 && r.length > fileSize/elem || r.length*elem != r.size {
		return bad("size", "%d, but %d elements of %d bytes make %d", r.size, r.length, elem, r.length*elem)
	}
	switch r.kind {
	case kindRawArray, kindArray, kindBarrier:
		if r.off < segHeaderSize+arrayHeader || r.off%8 != 0 {
			return bad("off", "%d leaves no room for the array's header before it", r.off)
		}
		if r.length > uint64(maxObject) {
			return bad("length", "%d is too large", r.length)
		}
		if r.kind == kindBarrier && r.length < 2 {
			return bad("length", "%d, want 2 or more for a Barrier (its state and a word per party)", r.length)
		}
	default:
		if r.length != 1 {
			return bad("length", "%d, want 1 for a %s", r.length, r.kind)
		}
	}
	if want := syncKinds[r.kind]; want != "" && d.Kind != want {
		return bad("descriptor", "%s described as %s", withArticle(r.kind), d)
	}
	switch r.kind {
	case kindValue, kindArray, kindCond:
		if r.lock < segHeaderSize || r.lock%8 != 0 || r.lock > fileSize-8 {
			return bad("lock", "%d is not an 8-aligned offset inside [%d, %d)", r.lock, segHeaderSize, fileSize)
		}
	default:
		if r.lock != 0 {
			return bad("lock", "%d, want 0 for a %s", r.lock, r.kind)
		}
	}
	return r, nil
}

// A directory is what this process has read of a segment's directory. The
// directory only grows, and a linked record never changes but for its next
// field, so what was read stays true.
type directory struct {
	mu     sync.Mutex
	list   []*record
	byName map[string]*record
	tail   uint64 // the offset of the last record read; 0 before the first
}

// refresh reads the records linked since the last refresh, checking each.
// Offsets must grow along the list, so a walk always ends.
func (dir *directory) refresh(segName string, b fileImage) error {
	for {
		var at uint64
		if dir.tail == 0 {
			at = b.load64(hdrFirst)
		} else {
			at = b.load64(dir.tail + recNext)
		}
		if at == 0 {
			return nil
		}
		if at <= dir.tail {
			return &FormatError{Segment: segName, Record: int64(dir.tail), Field: "next", Problem: fmt.Sprintf("%d does not come after the record", at)}
		}
		r, err := readRecord(segName, b, at, b.load64(hdrUsed))
		if err != nil {
			return err
		}
		if o := dir.byName[r.name]; o != nil {
			return &FormatError{Segment: segName, Record: int64(at), Field: "name", Problem: fmt.Sprintf("%q is the name of the record at %d too", r.name, o.at)}
		}
		if dir.byName == nil {
			dir.byName = make(map[string]*record)
		}
		dir.byName[r.name] = r
		dir.list = append(dir.list, r)
		dir.tail = at
	}
}

// records returns every record of the segment, read up to now.
func (nf *namedFile) records() ([]*record, error) {
	var recs []*record
	err := guardFault(nf.name, func() error {
		nf.dir.mu.Lock()
		defer nf.dir.mu.Unlock()
		err := nf.dir.refresh(nf.name, nf.file)
		recs = nf.dir.list[:len(nf.dir.list):len(nf.dir.list)]
		return err
	})
	return recs, err
}

// find returns the record named name, or nil if there is none. A record
// read before is found without touching the file, so without guardFault.
func (nf *namedFile) find(name string) (*record, error) {
	nf.dir.mu.Lock()
	defer nf.dir.mu.Unlock()
	if r := nf.dir.byName[name]; r != nil {
		return r, nil
	}
	err := guardFault(nf.name, func() error { return nf.dir.refresh(nf.name, nf.file) })
	return nf.dir.byName[name], err
}

// guardFault runs f, turning a memory fault in it into an error: reading a
// segment that another process truncated raises SIGBUS, which would
// otherwise crash the process.
func guardFault(segName string, f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if fe, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("shm: segment %q: memory fault at %#x reading it: was its file truncated? (%v)", segName, fe.Addr(), r)
				return
			}
			panic(r)
		}
	}()
	return f()
}

// allocHook, when set by a test, is called after each step of an allocation.
var allocHook func(step int)

// The steps of an allocation after which allocHook is called.
const (
	allocCarved  = 1 + iota // used moved past the new blocks
	allocFilled             // the object and its record written
	allocLinked             // the previous record's next (or first) set
	allocLast               // last set
	allocCounted            // count set
)

func allocStep(step int) {
	if allocHook != nil {
		allocHook(step)
	}
}

// Where a new named object's lock goes.
type lockPlace int

const (
	noLock    lockPlace = iota
	lockFirst           // the first 8 bytes of the object's block (a Value)
	lockApart           // a block of its own (an Array)
	lockGiven           // an existing Mutex of the segment (WithLock)
)

// A placement is what an allocation in a named segment needs to know.
type placement struct {
	kind   objKind
	td     *typeDesc // the value's, or an element's for an array
	length uint64
	block  uintptr // bytes of the object's block
	data   uintptr // the data's offset in the block
	lock   lockPlace
	fill   func(block unsafe.Pointer) // writes the initial value into the block
}

// inOption is what In records in the options.
type inOption struct {
	seg  *Segment
	name string
}

// In places a new object in the segment s under the name name, for every
// constructor: NewValue(0, In(seg, "score")), NewRawArray[float64](n,
// In(seg, "samples")), NewMutex(In(seg, "lock")). The constructor returns an
// error wrapping [fs.ErrExist] if s holds an object of that name, and an
// error if s is read-only, closed, raw or full. With [WithLock], the Mutex
// must be in s. Other programs find the object with [LookupValue] and its
// kin. Names follow the rules for segment names (see [Create]).
func In(s *Segment, name string) Option {
	return func(o *options) { o.in = &inOption{seg: s, name: name} }
}

// place allocates the object p in the segment o.in names, under the name it
// gives, and returns the object's block and its lock.
func place(o options, p placement) (block unsafe.Pointer, lock *Mutex, err error) {
	s, name := o.in.seg, o.in.name
	defer func() {
		if err != nil {
			err = fmt.Errorf("shm: In(%q, %q): %w", segName(s), name, err)
		}
	}()
	if s == nil {
		return nil, nil, errors.New("nil *Segment")
	}
	nf, err := s.checkWrite("In")
	if err != nil {
		return nil, nil, err
	}
	if nf.raw {
		return nil, nil, errRaw(s.name)
	}
	if err := checkName("object", name); err != nil {
		return nil, nil, err
	}
	if err := canLock(); err != nil {
		return nil, nil, err
	}
	if p.td.err != nil {
		return nil, nil, p.td.err
	}
	var lockAt uint64
	if p.lock == lockGiven {
		off, ok := s.seg.contains(addr(o.lock), unsafe.Sizeof(Mutex{}))
		if !ok || off < shmfile.Pad {
			return nil, nil, fmt.Errorf("WithLock: the Mutex is not in segment %q: a named object's lock must be in its segment, for the programs that open it to find", s.name)
		}
		lockAt = uint64(off - shmfile.Pad)
	}
	var at uint64
	err = guardFault(s.name, func() error {
		var err error
		at, lockAt, err = nf.allocate(s.seg, name, p, lockAt)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if p.lock != noLock {
		lock = as[Mutex](segPointer(s.seg, shmfile.Pad+uintptr(lockAt)))
	}
	return segPointer(s.seg, shmfile.Pad+uintptr(at)), lock, nil
}

// allocate carves and publishes a new object under the allocation lock. It
// returns the offsets of its block and of its lock.
func (nf *namedFile) allocate(seg *segment, name string, p placement, lockAt uint64) (at, lock uint64, err error) {
	b := fileImage(nf.file)
	m := as[Mutex](segPointer(seg, shmfile.Pad+hdrLock))
	lockErr := m.LockContext(context.Background())
	if lockErr != nil && lockErr != ErrOwnerDead {
		return 0, 0, lockErr
	}
	defer m.Unlock()
	nf.dir.mu.Lock()
	defer nf.dir.mu.Unlock()
	if err := nf.dir.refresh(nf.name, b); err != nil {
		return 0, 0, err
	}
	if lockErr == ErrOwnerDead {
		// An allocator died holding the lock: the list is whole (records are
		// linked only once complete), but last and count may lag.
		b.store64(hdrLast, nf.dir.tail)
		word32At(b, hdrCount).Store(uint32(len(nf.dir.list)))
	}
	if nf.dir.byName[name] != nil {
		return 0, 0, fmt.Errorf("segment %q already holds an object named %q: %w", seg.named.name, name, fs.ErrExist)
	}
	recBytes := uint64(recordFixed + len(name) + len(p.td.bytes))
	used := b.load64(hdrUsed)
	size := uint64(len(b))
	end := used
	carve := func(n uint64) uint64 {
		start := (end + objectAlign - 1) &^ (objectAlign - 1)
		end = start + n
		return start
	}
	if p.lock == lockApart {
		lock = carve(uint64(unsafe.Sizeof(Mutex{})))
	}
	at = carve(uint64(p.block))
	if p.lock == lockFirst {
		lock = at
	}
	if p.lock == lockGiven {
		lock = lockAt
	}
	rec := carve(recBytes)
	if used > size || end > size || end < used {
		return 0, 0, fmt.Errorf("segment %q is full: %q needs %d bytes, %d are free", seg.named.name, name, end-used, size-min(used, size))
	}
	b.store64(hdrUsed, end)
	allocStep(allocCarved)

	p.fill(segPointer(seg, shmfile.Pad+uintptr(at)))
	ne := binary.NativeEndian
	r := b[rec : rec+recBytes]
	ne.PutUint64(r[recNext:], 0)
	ne.PutUint32(r[recSize:], uint32(recBytes))
	ne.PutUint32(r[recKind:], uint32(p.kind))
	ne.PutUint64(r[recOff:], at+uint64(p.data))
	ne.PutUint64(r[recDataSize:], p.length*uint64(p.td.d.Size))
	ne.PutUint64(r[recLen:], p.length)
	if p.lock != noLock {
		ne.PutUint64(r[recLock:], lock)
	}
	ne.PutUint64(r[recHash:], p.td.hash)
	ne.PutUint16(r[recNameLen:], uint16(len(name)))
	ne.PutUint32(r[recDescLen:], uint32(len(p.td.bytes)))
	copy(r[recordFixed:], name)
	copy(r[recordFixed+len(name):], p.td.bytes)
	allocStep(allocFilled)

	if nf.dir.tail == 0 {
		b.store64(hdrFirst, rec)
	} else {
		b.store64(nf.dir.tail+recNext, rec)
	}
	allocStep(allocLinked)
	b.store64(hdrLast, rec)
	allocStep(allocLast)
	word32At(b, hdrCount).Store(uint32(len(nf.dir.list) + 1))
	allocStep(allocCounted)
	return at, lock, nf.dir.refresh(nf.name, b)
}

// lookupObject is what every look-up function fn does: it finds the object name
// of one of kinds in s and checks that T is its type (its element's, for an
// array). write says whether the handle fn returns takes locks. Its errors
// are fn's.
func lookupObject[T any](s *Segment, fn, name string, write bool, kinds ...objKind) (*record, error) {
	if err := infoOf[T]().err; err != nil {
		return nil, err
	}
	r, err := findObject(s, fn, name, descOf[T](), reflect.TypeFor[T](), write, kinds)
	if err != nil {
		return nil, lookupErr(fn, s, name, err)
	}
	return r, nil
}

// lookupArray is lookupObject for the kinds laid out as a RawArray of T, which it
// returns too.
func lookupArray[T any](s *Segment, fn, name string, write bool, kinds ...objKind) (*record, *RawArray[T], error) {
	r, err := lookupObject[T](s, fn, name, write, kinds...)
	if err != nil {
		return nil, nil, err
	}
	a, err := arrayAt[T](s, r)
	if err != nil {
		return nil, nil, lookupErr(fn, s, name, err)
	}
	return r, a, nil
}

// findObject finds the object name of one of kinds in s for the look-up
// function fn, checks its layout against td, the descriptor of t, and
// returns it.
func findObject(s *Segment, fn, name string, td *typeDesc, t reflect.Type, write bool, kinds []objKind) (*record, error) {
	var nf *namedFile
	var err error
	if write {
		nf, err = s.checkWrite(fn)
	} else {
		nf, err = s.check(fn)
	}
	if err != nil {
		return nil, err
	}
	if nf.raw {
		return nil, errRaw(s.name)
	}
	if err := checkName("object", name); err != nil {
		return nil, err
	}
	if write {
		if err := canLock(); err != nil {
			return nil, err
		}
	}
	r, err := nf.find(name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("segment %q holds no object named %q: %w", s.name, name, fs.ErrNotExist)
	}
	ok := false
	for _, k := range kinds {
		ok = ok || r.kind == k
	}
	if !ok {
		if r.kind > kindLast {
			return nil, fmt.Errorf("object %q of segment %q is of kind %d, which this version of shm does not know (a later version placed it), not %s", name, s.name, uint32(r.kind), withArticle(kinds[0]))
		}
		return nil, fmt.Errorf("object %q of segment %q is %s, not %s", name, s.name, withArticle(r.kind), withArticle(kinds[0]))
	}
	if string(r.descBytes) != string(td.bytes) {
		return nil, &LayoutError{Segment: s.name, Object: name, Type: t, Want: td.d.layout(), Have: r.d.layout()}
	}
	return r, nil
}

// withArticle returns "a RawValue", "an Array" and so on.
func withArticle(k objKind) string {
	if k == kindArray || k == kindEvent {
		return "an " + k.String()
	}
	return "a " + k.String()
}

// at returns the address of byte off of the segment's file.
func (s *Segment) at(off uint64) unsafe.Pointer { return segPointer(s.seg, shmfile.Pad+uintptr(off)) }

// segName returns s's name for an error message, whatever s is.
func segName(s *Segment) string {
	if s == nil {
		return "<nil>"
	}
	return s.name
}

// lookupErr prefixes err with the look-up that failed, unless err already
// names everything (a FormatError or a LayoutError).
func lookupErr(fn string, s *Segment, name string, err error) error {
	var fe *FormatError
	var le *LayoutError
	if errors.As(err, &fe) || errors.As(err, &le) {
		return err
	}
	return fmt.Errorf("shm: %s(%q, %q): %w", fn, segName(s), name, err)
}

// LookupRawValue returns the RawValue named name in s, placed there by this
// or another program with NewRawValue and [In]. It finds a Value's value
// too, without its lock: that is how to read a Value of a read-only segment,
// and such a read may see an update half-done. The layout of T must be the
// object's (see [LayoutError]).
//
// In a read-only segment (see [Segment.ReadOnly]) the RawValue must not be
// written: a write to read-only memory kills the process (SIGSEGV).
func LookupRawValue[T any](s *Segment, name string) (*RawValue[T], error) {
	r, err := lookupObject[T](s, "LookupRawValue", name, false, kindRawValue, kindValue)
	if err != nil {
		return nil, err
	}
	return as[RawValue[T]](s.at(r.off)), nil
}

// LookupValue returns the Value named name in s, placed there by this or
// another program with NewValue and [In]; its lock is the one the maker
// gave it. The layout of T must be the object's (see [LayoutError]).
// LookupValue fails with an error wrapping [fs.ErrPermission] if s is
// read-only, since every method of a Value takes its lock: use
// [LookupRawValue] to read it.
func LookupValue[T any](s *Segment, name string) (*Value[T], error) {
	r, err := lookupObject[T](s, "LookupValue", name, true, kindValue)
	if err != nil {
		return nil, err
	}
	return &Value[T]{mu: as[Mutex](s.at(r.lock)), raw: as[RawValue[T]](s.at(r.off))}, nil
}

// LookupRawArray returns the RawArray named name in s, placed there by this
// or another program with NewRawArray or NewRawArrayFrom and [In]. It finds
// an Array's elements too, without its lock (see [LookupRawValue]). T must
// have the layout of the object's elements.
//
// In a read-only segment the RawArray must not be written: a write to
// read-only memory kills the process (SIGSEGV).
func LookupRawArray[T any](s *Segment, name string) (*RawArray[T], error) {
	_, a, err := lookupArray[T](s, "LookupRawArray", name, false, kindRawArray, kindArray)
	return a, err
}

// LookupArray returns the Array named name in s, placed there by this or
// another program with NewArray or NewArrayFrom and [In]. T must have the
// layout of the object's elements. LookupArray fails with an error wrapping
// [fs.ErrPermission] if s is read-only: use [LookupRawArray] to read it.
func LookupArray[T any](s *Segment, name string) (*Array[T], error) {
	r, a, err := lookupArray[T](s, "LookupArray", name, true, kindArray)
	if err != nil {
		return nil, err
	}
	return &Array[T]{mu: as[Mutex](s.at(r.lock)), raw: a}, nil
}

// arrayAt returns the RawArray of record r, after checking that the length
// in its header is the record's: the array's methods trust that length.
func arrayAt[T any](s *Segment, r *record) (*RawArray[T], error) {
	a := as[RawArray[T]](s.at(r.off - arrayHeader))
	var n int64
	if err := guardFault(s.name, func() error { n = a.n; return nil }); err != nil {
		return nil, err
	}
	if uint64(n) != r.length {
		return nil, &FormatError{Segment: s.name, Record: int64(r.at), Field: "length", Problem: fmt.Sprintf("%d, but the array's header says %d", r.length, n)}
	}
	return a, nil
}

// LookupMutex returns the Mutex named name in s, placed there by this or
// another program with NewMutex and [In]. It fails with an error wrapping
// [fs.ErrPermission] if s is read-only.
func LookupMutex(s *Segment, name string) (*Mutex, error) {
	r, err := lookupObject[Mutex](s, "LookupMutex", name, true, kindMutex)
	if err != nil {
		return nil, err
	}
	return as[Mutex](s.at(r.off)), nil
}

// rawOptions is makeOptions for the constructor fn of a kind that has no
// lock (all but Value and Array), for which WithLock means nothing.
func rawOptions(fn string, opts []Option) (options, error) {
	o, err := makeOptions(opts)
	if err == nil && o.lockSet {
		err = fmt.Errorf("shm: %s: WithLock is for a Value or an Array, which have a lock", fn)
	}
	return o, err
}

// newRawValueIn is NewRawValue with options.
func newRawValueIn[T any](init T, opts []Option) (*RawValue[T], error) {
	o, err := rawOptions("NewRawValue", opts)
	if err != nil {
		return nil, err
	}
	if o.in == nil {
		return NewRawValue(init)
	}
	p, _, err := place(o, placement{
		kind: kindRawValue, td: descOf[T](), length: 1,
		block: max(unsafe.Sizeof(RawValue[T]{}), 1),
		fill:  func(b unsafe.Pointer) { as[RawValue[T]](b).v = init },
	})
	if err != nil {
		return nil, err
	}
	return as[RawValue[T]](p), nil
}

// newNamedValue is NewValue with In.
func newNamedValue[T any](o options, init T) (*Value[T], error) {
	if o.lock != nil {
		p, m, err := place(o, placement{
			kind: kindValue, td: descOf[T](), length: 1, lock: lockGiven,
			block: max(unsafe.Sizeof(RawValue[T]{}), 1),
			fill:  func(b unsafe.Pointer) { as[RawValue[T]](b).v = init },
		})
		if err != nil {
			return nil, err
		}
		return &Value[T]{mu: m, raw: as[RawValue[T]](p)}, nil
	}
	var lv lockedValue[T]
	p, _, err := place(o, placement{
		kind: kindValue, td: descOf[T](), length: 1, lock: lockFirst,
		block: unsafe.Sizeof(lv), data: unsafe.Offsetof(lv.v),
		fill: func(b unsafe.Pointer) { as[lockedValue[T]](b).v.v = init },
	})
	if err != nil {
		return nil, err
	}
	v := as[lockedValue[T]](p)
	return &Value[T]{mu: &v.mu, raw: &v.v}, nil
}

// newRawArrayIn is NewRawArray (xs nil) and NewRawArrayFrom with options.
func newRawArrayIn[T any](fn string, n int, xs []T, opts []Option) (*RawArray[T], error) {
	o, err := rawOptions(fn, opts)
	if err != nil {
		return nil, err
	}
	if o.in == nil {
		if xs != nil {
			return NewRawArrayFrom(xs)
		}
		return NewRawArray[T](n)
	}
	if err := infoOf[T]().err; err != nil {
		return nil, err
	}
	p, _, err := placeArray(o, kindRawArray, n, xs)
	return p, err
}

// newNamedArray is NewArray and NewArrayFrom with In.
func newNamedArray[T any](o options, n int, xs []T) (*Array[T], error) {
	if err := infoOf[T]().err; err != nil {
		return nil, err
	}
	a, m, err := placeArray(o, kindArray, n, xs)
	if err != nil {
		return nil, err
	}
	return &Array[T]{mu: m, raw: a}, nil
}

func placeArray[T any](o options, kind objKind, n int, xs []T) (*RawArray[T], *Mutex, error) {
	size, err := arraySize[T](n)
	if err != nil {
		return nil, nil, err
	}
	lp := noLock
	if kind == kindArray {
		lp = lockApart
		if o.lock != nil {
			lp = lockGiven
		}
	}
	p, m, err := place(o, placement{
		kind: kind, td: descOf[T](), length: uint64(n), lock: lp,
		block: size, data: arrayHeader,
		fill: func(b unsafe.Pointer) {
			a := as[RawArray[T]](b)
			a.n = int64(n)
			copy(arrayData(a), xs)
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return as[RawArray[T]](p), m, nil
}

// newMutexIn is NewMutex with options.
func newMutexIn(opts []Option) (*Mutex, error) {
	o, err := rawOptions("NewMutex", opts)
	if err != nil {
		return nil, err
	}
	if o.in == nil {
		return NewMutex()
	}
	p, _, err := place(o, placement{
		kind: kindMutex, td: descOf[Mutex](), length: 1,
		block: unsafe.Sizeof(Mutex{}),
		fill:  func(unsafe.Pointer) {},
	})
	if err != nil {
		return nil, err
	}
	return as[Mutex](p), nil
}
