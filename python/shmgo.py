"""Python on the same memory as shm: named segments, typed views and shm's lock.

shmgo opens a named segment made by the Go package github.com/shmgo/shm (a file
under /dev/shm) and gives its objects by name as ctypes views of the shared
memory, with a Mutex that speaks shm's lock protocol, so Python and Go
processes that are not related can share values, arrays and locks::

    import shmgo

    with shmgo.open("sensors") as seg:
        seg["temp"].value = 21.5            # a RawValue[float64] or Value[float64]
        print(seg["counts"][:])             # a RawArray[int32]: a ctypes array
        r = seg["reading"].value            # a RawValue[struct]: a ctypes.Structure
        r.X += 1.0                          # written straight into the segment
        with seg["mu"]:                     # a Mutex
            ...
        v = seg["total"]                    # a Value[int64]
        with v.get_lock():
            v.value += 1                    # .value does not lock again here

It needs only the standard library and Linux, plus libatomic.so.1 (gcc's
runtime library, package libatomic1 on Debian and Ubuntu, libatomic on Fedora,
RHEL and Alpine) for the Mutex: Python has no 64-bit atomic operations of its
own. Without it, opening and reading segments work, and the first lock
operation raises ShmError saying what to install; the module never falls back
to operations that are not atomic.

Segments
--------
open(name) opens /dev/shm/NAME read-write, or read-only (Segment.readonly,
Segment.readonly_reason says why) when the file is only readable, or when it
has an shm header and belongs to another user: locks judge their owners'
liveness in the owner's user's table, so only the owner's processes lock, as
in Go. It checks the header before it trusts anything:
the file must be a regular file (a symbolic link or a FIFO is refused); its
first 4096 bytes are read with pread and checked in this order: magic,
version, byte order, word size, header size, file size, checksum, then the
used, first and last offsets; only then is the file mapped. Then it walks the
directory and checks every record: bounds, alignment, name, type hash and type
descriptor. A damaged record does not fail the open, as in Go: objects(),
names() and the look-ups that reach it raise the error, while the objects
before it stay reachable. Every failure raises ShmError (LayoutError for a
bad header, record or descriptor) naming the segment, the field and, for a
record, its offset; corrupted or hostile bytes never raise anything else.

Object names follow the rules for segment names (1 to 255 bytes, no '/', no
NUL, not "." or "..", not starting with ".shm-"); a name that is not UTF-8
comes back with surrogate escapes, and look-ups take str or bytes.

A file without the magic (for example one made by Python's
multiprocessing.shared_memory.SharedMemory) opens as a *raw* segment:
Segment.raw is true, it has no objects, look-ups raise ShmError, and
Segment.buf is a memoryview of the whole file (read-only if the segment is).
A file that has the magic but is shorter than the 4096-byte header is a
LayoutError, not a raw segment.

seg[name] returns, by the object's kind:

* RawValue: a RawValue whose .value gets and sets the value. Numbers and
  booleans come as Python numbers, complex64 and complex128 as Python complex;
  a struct or an array comes as a live ctypes object over the shared bytes
  (get_obj() gives the same object for every type; setting .value copies a
  ctypes object of the same type or bytes of the same size in). No lock.
* Value: the same with its Mutex: .value takes the lock as
  multiprocessing's Value does, get_lock() returns the Mutex, get_obj() the
  live ctypes object. A struct or an array read through .value is a copy taken
  under the lock (a live view would outlive the lock); get_obj() is the live
  one. Unlike shm's Go Value, .value works while the calling thread holds the
  lock (the common ``with v.get_lock(): v.value += 1`` works as with
  multiprocessing's RLock): it then reads or writes without locking again. The
  Mutex itself is not re-entrant.
* RawArray: a live ctypes array of the elements (len(), a[i], a[i] = x,
  a[:]).
* Array: the same, with get_lock() and get_obj() (the array itself). Element
  access on the ctypes array takes no lock: hold get_lock() around it.
* Mutex: a Mutex.

Structs are ctypes.Structure classes built from the type descriptor, with
explicit padding so that every field's offset is the Go field's. A field keeps
its place but cannot be reached by name when it is blank ("_"), a second
field of one name, or named as ctypes's own attributes (from_buffer,
_fields_, names starting with "__" or "_shmgo"): a segment that Go can open,
shmgo opens too. Types nest as deep as Go's do. sync/atomic fields are plain ctypes
integers (aligned loads and stores of them are atomic on 64-bit machines, but
Python has no atomic read-modify-write). Mutex fields are Mutex objects.

Objects taken from a segment stay valid after Segment.close(), as in Go: the
mapping goes away when the segment and every object from it are gone.
Opening a segment that this process has mapped already (same file, same size,
same access) reuses its mapping.

A process that can write the segment's file (its owner, or any user the mode
lets write) can truncate it; touching the lost pages afterwards kills this
process with SIGBUS, which Python cannot catch. The directory walk checks the
size again, but a truncation can come at any time: share a segment only with
programs you trust not to truncate it.

Read-only segments. Without write access nothing can be written, not even a
lock word, and ctypes has no read-only objects. So .value returns a copy read
at the time of the call, without the lock (a struct being updated may read
half-updated); setting it raises ReadOnlyError; arrays come as a ReadOnlyArray
(len, indexing, slicing and iteration read the shared bytes at each access);
get_obj() returns a copy and a Mutex raises ReadOnlyError when locked.

Locks
-----
Mutex follows the lock protocol of the Go package (mutex.go): the 8-byte word is 0 when
unlocked, else the owner's liveness token with bit 31 set when someone may
be sleeping, and waiters sleep on the 32-bit half with shared futex
operations. acquire(blocking=True, timeout=-1), release() and ``with m:``
behave as threading.Lock's, between the threads of one process as between
processes. A Mutex belongs to the process that locked it: any thread of that
process may release it, another process may not (LockError). It is not
re-entrant: a thread that acquires a lock it holds waits, as with
threading.Lock. An uncontended acquire and release costs two ctypes calls
into libatomic, a few microseconds, several times multiprocessing's lock;
under contention between processes they cost about the same.

Owner death. When the process that held the lock died holding it (SIGKILL
included), acquire takes the lock over and raises OwnerDeadError *with the
lock held*: the dead process may have left the data it guards half-updated,
so check it, then release the lock (the error's .mutex is the lock)::

    try:
        m.acquire()
    except shmgo.OwnerDeadError:
        repair()            # this process holds the lock here
    try:
        use()
    finally:
        m.release()

``with m:`` raises it from its start, also with the lock held, so the body
does not run and the handler must release; Value.value raises it before
reading or writing. A waiter already sleeping learns of the death within its
polling interval (1 ms doubling to 1 s). A non-blocking acquire also takes a
dead owner's lock, and so also raises OwnerDeadError.

Liveness token. On its first lock operation a process opens its user's token
table /dev/shm/.shm-tokens-EUID (creating it if absent; a table that is a
symbolic link, not a regular file, owned by another user, readable or
writable by others, or of the wrong size is refused), takes the lowest free
slot with an open-file-description lock, and keeps the table open for its
life, as shm's Go processes do, so Go and Python judge each other's life the
same way. A child made with os.fork (or multiprocessing's "fork") does not
inherit its parent's token: it takes its own at its first lock operation.

Caveats. A KeyboardInterrupt (or another asynchronous exception) that comes
while acquire runs can leave the lock held by this process: it stays held
until the process releases it or exits (the next locker then gets
OwnerDeadError). Locks are not shared between users: each user's processes
judge liveness in their own table, so a segment with a header opens
read-only in the processes of any user but its file's owner (root included).
"""

import ctypes
import ctypes.util
import errno
import fcntl
import json
import json.scanner
import mmap
import os
import stat
import struct
import sys
import threading
import time
import weakref

__all__ = [
    "open", "Segment", "RawValue", "Value", "ReadOnlyArray", "Mutex", "ObjectInfo",
    "ShmError", "LayoutError", "SegmentNotFoundError", "ObjectNotFoundError",
    "ReadOnlyError", "OwnerDeadError", "LockError", "InvalidNameError",
]


# ---------------------------------------------------------------------------
# Errors

class ShmError(Exception):
    """The base of every error this module raises about segments and locks."""


class InvalidNameError(ShmError, ValueError):
    """A segment or object name that the spec does not allow."""


class SegmentNotFoundError(ShmError, FileNotFoundError):
    """No segment of that name exists (also a FileNotFoundError)."""


class LayoutError(ShmError):
    """A header, directory record or type descriptor that fails its checks.

    segment is the segment's name, field the field that failed, and offset the
    record's offset in the file (None for the header).
    """

    def __init__(self, segment, field, msg, offset=None):
        where = "header" if offset is None else "record at offset %d" % offset
        super().__init__("shmgo: segment %r: %s: %s: %s" % (segment, where, field, msg))
        self.segment, self.field, self.offset = segment, field, offset


class ObjectNotFoundError(ShmError, KeyError):
    """No object of that name in the segment (also a KeyError)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class ReadOnlyError(ShmError):
    """A write, or a lock, through a segment opened read-only."""


class OwnerDeadError(ShmError):
    """The lock's previous owner died holding it; the caller now holds it.

    The data the lock guards may be half-updated: check it, then release the
    lock (mutex is the Mutex).
    """

    def __init__(self, mutex, token):
        super().__init__("shmgo: previous owner (token %#x) died holding the lock; "
                         "this process holds it now: check the data, then release it" % token)
        self.mutex, self.token = mutex, token


class LockError(ShmError, RuntimeError):
    """Misuse of a Mutex: releasing a lock this process does not hold."""


# ---------------------------------------------------------------------------
# The format (the essay at the top of named.go in the Go package)

MAGIC = b"shmgoSEG"
VERSION = 1
BYTE_ORDER_MARK = 0x01020304
WORD_SIZE = 8
HEADER_SIZE = 4096
BLOCK_ALIGN = 64
SHM_DIR = b"/dev/shm/"

_HEADER = struct.Struct("=8sIIIIQqIIQQ")          # bytes 0-63: the fields that never change
_MUTABLE = struct.Struct("=QQQQI")                # bytes 64-99: lock, used, first, last, count
_RECORD = struct.Struct("=QIIQQQQQHHI")           # 64 bytes
_KINDS = {1: "RawValue", 2: "Value", 3: "RawArray", 4: "Array", 5: "Mutex",
          6: "Event", 7: "Semaphore", 8: "Barrier", 9: "Cond"}
# Kinds past 9 come from a later version of the format: listed, not looked up.
# The descriptor kind each of shm's own types carries, with its size, align,
# ctypes type (a stand-in of the right layout: its words follow Go's protocols)
# and the text Go's layout gives it.
_SYNC = {
    "mutex": (8, 8, None, "shm.Mutex"),
    "event": (4, 4, ctypes.c_uint32, "shm.Event"),
    "semaphore": (16, 8, ctypes.c_uint64 * 2, "shm.Semaphore"),
    "cond": (8, 8, ctypes.c_uint64, "shm.Cond"),
    "barrier": (8, 8, ctypes.c_uint64, "shm.Barrier word"),
}
_SYNC_KINDS = {5: "mutex", 6: "event", 7: "semaphore", 8: "barrier", 9: "cond"}
_MAX_DESCRIPTOR = 65536
_MAX_ARRAY = 1 << 46                              # elements, as Go's largest object
_MAX_SIZE = 1 << 48                               # of any type in a descriptor, as Go's bound
_MAX_ALIGN = 4096


def fnv1a64(data):
    """Returns the 64-bit FNV-1a hash of data, as Go's hash/fnv New64a."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def _check_name(name, what):
    """Returns name as bytes if it is valid by section 1, else raises InvalidNameError."""
    if isinstance(name, str):
        try:
            b = os.fsencode(name)
        except UnicodeError as e:
            raise InvalidNameError("shmgo: %s name %r: %s" % (what, name, e)) from None
    elif isinstance(name, (bytes, bytearray)):
        b = bytes(name)
    else:
        raise TypeError("shmgo: %s name must be str or bytes, not %s" % (what, type(name).__name__))
    why = None
    if not b:
        why = "it is empty"
    elif len(b) > 255:
        why = "it is %d bytes long, more than 255" % len(b)
    elif b"/" in b:
        why = "it contains '/'"
    elif b"\0" in b:
        why = "it contains a NUL byte"
    elif b in (b".", b".."):
        why = "it is %r" % b.decode()
    elif b.startswith(b".shm-"):
        why = "names starting with '.shm-' are reserved for shm's own files"
    if why:
        raise InvalidNameError("shmgo: invalid %s name %r: %s" % (what, name, why))
    return b


# Type descriptors.

_SCALARS = {  # kind: (size, align, ctypes type)
    "bool": (1, 1, ctypes.c_bool),
    "int8": (1, 1, ctypes.c_int8), "uint8": (1, 1, ctypes.c_uint8),
    "int16": (2, 2, ctypes.c_int16), "uint16": (2, 2, ctypes.c_uint16),
    "int32": (4, 4, ctypes.c_int32), "uint32": (4, 4, ctypes.c_uint32),
    "int64": (8, 8, ctypes.c_int64), "uint64": (8, 8, ctypes.c_uint64),
    "float32": (4, 4, ctypes.c_float), "float64": (8, 8, ctypes.c_double),
    "complex64": (8, 4, None), "complex128": (16, 8, None),
}
_ATOMIC_KINDS = ("int32", "int64", "uint32", "uint64")  # atomic.Bool is uint32, Uintptr uint64


class _Complex:
    @property
    def value(self):
        """The number as a Python complex."""
        return complex(self.real, self.imag)

    @value.setter
    def value(self, z):
        z = complex(z)
        self.real, self.imag = z.real, z.imag

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.value)


class Complex64(_Complex, ctypes.Structure):
    """Go's complex64: two float32, real then imaginary; .value is a Python complex."""
    _fields_ = [("real", ctypes.c_float), ("imag", ctypes.c_float)]


class Complex128(_Complex, ctypes.Structure):
    """Go's complex128: two float64, real then imaginary; .value is a Python complex."""
    _fields_ = [("real", ctypes.c_double), ("imag", ctypes.c_double)]


class _Type:
    """A parsed, checked type descriptor."""
    __slots__ = ("kind", "size", "align", "atomic", "len", "elem", "fields", "ctype", "_enc", "_text")

    def __init__(self, kind, size, align):
        self.kind, self.size, self.align = kind, size, align
        self.atomic, self.len, self.elem, self.fields, self.ctype = False, 0, None, (), None
        self._enc = self._text = None

    # encode and text recurse through plain calls, never through join() of a
    # generator, so that a deeply nested type (see _deep) costs no C stack.

    def encode(self):
        """Returns the canonical JSON of section 5."""
        if self._enc is None:
            self._enc = self._encode()
        return self._enc

    def text(self):
        """Returns the layout in readable form, as in `struct {X float64 @0; N [4]int32 @8}`."""
        if self._text is None:
            self._text = self._readable()
        return self._text

    def _encode(self):
        head = '{"kind":"%s","size":%d,"align":%d' % (self.kind, self.size, self.align)
        if self.kind == "array":
            return head + ',"len":%d,"elem":%s}' % (self.len, self.elem.encode())
        if self.kind == "struct":
            parts = []
            for n, off, t in self.fields:
                parts.append('{"name":%s,"offset":%d,"type":%s}' % (_json_string(n), off, t.encode()))
            return head + ',"fields":[%s]}' % ",".join(parts)
        return head + (',"atomic":true}' if self.atomic else "}")

    def _readable(self):
        if self.kind == "array":
            return "[%d]%s" % (self.len, self.elem.text())
        if self.kind == "struct":
            parts = []
            for n, off, t in self.fields:
                parts.append("%s %s @%d" % (n, t.text(), off))
            return "struct {%s}" % "; ".join(parts)
        if self.kind in _SYNC:
            return _SYNC[self.kind][3]
        return "atomic %s" % self.kind if self.atomic else self.kind

    @property
    def scalar(self):
        return self.kind in _SCALARS


class _DescError(Exception):
    """A descriptor problem; the caller turns it into a LayoutError."""


def _json_string(n):
    """Returns n as a JSON string, as Go's encoding/json writes it without its
    HTML escapes: UTF-8, with U+2028 and U+2029 escaped."""
    return json.dumps(n, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _usable_name(name, seen):
    """Reports whether a struct field can be an attribute of its ctypes.Structure:
    not blank, not a second field of that name, not a name of ctypes's own."""
    return not (name == "_" or name in seen or name.startswith("__") or name.startswith("_shmgo")
                or hasattr(ctypes.Structure, name)
                or name in ("_fields_", "_pack_", "_anonymous_", "_swappedbytes_", "_align_", "_layout_"))


def _int(d, key, lo=0, hi=_MAX_SIZE):
    v = d[key]
    if type(v) is not int:
        raise _DescError("%s is %s, not an integer" % (key, json.dumps(v)))
    if not lo <= v <= hi:
        raise _DescError("%s is %d, out of range [%d, %d]" % (key, v, lo, hi))
    return v


def _keys(d, want, where):
    if not isinstance(d, dict):
        raise _DescError("%s: want an object, got %s" % (where, type(d).__name__))
    if tuple(d) != want:
        raise _DescError("%s: keys %s, want %s in that order" % (where, list(d), list(want)))


def _object_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise _DescError("key %r twice" % k)
        d[k] = v
    return d


def _no_constant(s):
    raise _DescError("%s is not allowed" % s)


def _parse_type(d, where):
    if not isinstance(d, dict) or "kind" not in d:
        raise _DescError("%s: want an object with a kind" % where)
    kind = d["kind"]
    if kind in _SCALARS:
        _keys(d, ("kind", "size", "align", "atomic") if "atomic" in d else ("kind", "size", "align"), where)
        size, align, _ = _SCALARS[kind]
        t = _Type(kind, _int(d, "size"), _int(d, "align"))
        if (t.size, t.align) != (size, align):
            raise _DescError("%s: %s has size %d align %d, want %d and %d" % (where, kind, t.size, t.align, size, align))
        if "atomic" in d:
            if d["atomic"] is not True:
                raise _DescError("%s: atomic is %s, want true or no key" % (where, json.dumps(d["atomic"])))
            if kind not in _ATOMIC_KINDS:
                raise _DescError("%s: sync/atomic has no %s type" % (where, kind))
            t.atomic = True
        return t
    if kind in _SYNC:
        _keys(d, ("kind", "size", "align"), where)
        t = _Type(kind, _int(d, "size"), _int(d, "align"))
        size, align = _SYNC[kind][:2]
        if (t.size, t.align) != (size, align):
            raise _DescError("%s: %s has size %d align %d, want %d and %d" % (where, kind, t.size, t.align, size, align))
        return t
    if kind == "array":
        _keys(d, ("kind", "size", "align", "len", "elem"), where)
        t = _Type(kind, _int(d, "size"), _int(d, "align"))
        t.len = _int(d, "len", hi=(1 << 63) - 1)  # any length, for elements of size 0
        t.elem = _parse_type(d["elem"], where + "[]")
        if t.size != t.len * t.elem.size:
            raise _DescError("%s: array size %d, want len %d x element size %d" % (where, t.size, t.len, t.elem.size))
        if t.align != t.elem.align:
            raise _DescError("%s: array align %d, want the element's %d" % (where, t.align, t.elem.align))
        return t
    if kind == "struct":
        _keys(d, ("kind", "size", "align", "fields"), where)
        t = _Type(kind, _int(d, "size"), _int(d, "align"))
        if t.align < 1 or t.align > _MAX_ALIGN or t.align & (t.align - 1):
            raise _DescError("%s: struct align %d, want a power of two up to %d" % (where, t.align, _MAX_ALIGN))
        if t.size % t.align:
            raise _DescError("%s: struct size %d is not a multiple of its align %d" % (where, t.size, t.align))
        fields = d["fields"]
        if not isinstance(fields, list):
            raise _DescError("%s: fields is not a list" % where)
        out, end = [], 0
        for i, f in enumerate(fields):
            fw = "%s.fields[%d]" % (where, i)
            _keys(f, ("name", "offset", "type"), fw)
            name = f["name"]
            if not isinstance(name, str) or not name:
                raise _DescError("%s: name is %s, want a non-empty string" % (fw, json.dumps(name)))
            fw = where + "." + name
            off = _int(f, "offset")
            ft = _parse_type(f["type"], fw)
            if ft.size == 0:
                raise _DescError("%s: a field of size 0 (such fields are left out)" % fw)
            if off < end:
                raise _DescError("%s: offset %d overlaps the previous field, which ends at %d" % (fw, off, end))
            if off % ft.align:
                raise _DescError("%s: offset %d is not a multiple of its align %d" % (fw, off, ft.align))
            if ft.align > t.align:
                raise _DescError("%s: align %d is more than the struct's %d" % (fw, ft.align, t.align))
            end = off + ft.size
            if end > t.size:
                raise _DescError("%s: ends at %d, past the struct's size %d" % (fw, end, t.size))
            out.append((name, off, ft))
        t.fields = tuple(out)
        return t
    raise _DescError("%s: unknown kind %s" % (where, json.dumps(kind)))


_ctypes_cache = {}  # canonical descriptor bytes -> ctypes type
_struct_count = [0]


def _build_ctype(t):
    """Returns the ctypes type of t, checking that its size and offsets are the descriptor's."""
    if t.ctype is not None:
        return t.ctype
    key = t.encode()
    c = _ctypes_cache.get(key)
    if c is None:
        if t.kind in ("complex64", "complex128"):
            c = Complex64 if t.kind == "complex64" else Complex128
        elif t.scalar:
            c = _SCALARS[t.kind][2]
        elif t.kind == "mutex":
            c = Mutex
        elif t.kind in _SYNC:
            c = _SYNC[t.kind][2]
        elif t.kind == "array":
            c = _build_ctype(t.elem) * t.len
        else:
            c = _build_struct(t)
        if ctypes.sizeof(c) != t.size:
            raise _DescError("%s: ctypes makes it %d bytes, the descriptor says %d" % (t.text(), ctypes.sizeof(c), t.size))
        _ctypes_cache[key] = c
    t.ctype = c
    return c


def _build_struct(t):
    # A field that cannot be an attribute (blank, a second field of a name, or
    # a name of ctypes's own, such as from_buffer) still takes its place in
    # the layout, under a name that no attribute access reaches.
    fields, pos, seen, names = [], 0, set(), []
    for name, off, ft in t.fields:
        if off > pos:
            fields.append((" pad@%d" % pos, ctypes.c_uint8 * (off - pos)))
        if _usable_name(name, seen):
            pyname = name
            names.append(name)
            seen.add(name)
        else:
            pyname = " field@%d" % off
        fields.append((pyname, _build_ctype(ft)))
        pos = off + ft.size
    if t.size > pos:
        fields.append((" pad@%d" % pos, ctypes.c_uint8 * (t.size - pos)))
    _struct_count[0] += 1
    cls = type("struct_%d" % _struct_count[0], (_Struct,), {
        "_fields_": fields,
        "_shmgo_layout": "%s (%d bytes)" % (t.text(), t.size),
        "_shmgo_names": tuple(names),
    })
    for pyname, _ in fields:
        want = int(pyname.split("@")[1]) if pyname.startswith(" ") else \
            next(off for n, off, _ in t.fields if n == pyname)
        if getattr(cls, pyname).offset != want:
            raise _DescError("%s: ctypes puts field %r at %d, the descriptor at %d"
                             % (t.text(), pyname.strip(), getattr(cls, pyname).offset, want))
    return cls


class _Struct(ctypes.Structure):
    """The base of the ctypes.Structure classes built from descriptors."""
    _fields_ = []
    _shmgo_layout = "struct {} (0 bytes)"
    _shmgo_names = ()

    def __repr__(self):
        parts = []
        for n in self._shmgo_names:
            v = getattr(self, n)
            if isinstance(v, ctypes.Array):
                v = v[:]
            parts.append("%s=%r" % (n, v))
        return "struct(%s)" % ", ".join(parts)


_deep_lock = threading.Lock()
_DEEP_FRAMES = 20000  # more than the deepest type a 65536-byte descriptor can describe needs


def _parse_descriptor(data):
    """Returns the _Type of descriptor bytes data, or raises _DescError.

    Types nest as deep as Go lets them, which is as deep as fits in the
    descriptor's 65536 bytes: about 1250 arrays, or 800 structs, 2400 levels
    of JSON. A descriptor too deep for Python's recursion limit is parsed
    again with a higher limit and Python's own JSON scanner, which recurses
    without the C stack."""
    try:
        return _parse_descriptor_at(data, json.loads)
    except RecursionError:
        pass
    with _deep_lock:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(old + _DEEP_FRAMES)
        try:
            return _parse_descriptor_at(data, _py_json_loads)
        except RecursionError:
            raise _DescError("nested too deeply") from None
        finally:
            sys.setrecursionlimit(old)


def _py_json_loads(text, **kw):
    dec = json.JSONDecoder(**kw)
    dec.scan_once = json.scanner.py_make_scanner(dec)
    return dec.decode(text)


def _parse_descriptor_at(data, loads):
    try:
        doc = loads(data.decode("utf-8"), object_pairs_hook=_object_pairs, parse_constant=_no_constant)
    except _DescError:
        raise
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _DescError("not valid JSON: %s" % e) from None
    t = _parse_type(doc, "type")
    try:
        canon = t.encode().encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape
        raise _DescError("a string is not valid Unicode") from None
    if canon != data:
        raise _DescError("not in canonical form: want %s" % canon.decode("utf-8", "replace"))
    try:
        _build_ctype(t)
    except _DescError:
        raise
    except (TypeError, ValueError, OverflowError, MemoryError) as e:
        raise _DescError("ctypes cannot build %s: %s" % (t.text(), e)) from None
    t.text()  # now, while the recursion limit allows it
    return t


# ---------------------------------------------------------------------------
# Atomics and futex, through ctypes

_SEQ_CST = 5
MARK = 1 << 31                                    # the waiters mark: bit 31, in no token
_OWNER_MASK = 0xFFFFFFFFFFFFFFFF ^ MARK
_SYS_FUTEX = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98,
              "loongarch64": 98, "ppc64le": 221, "ppc64": 221, "s390x": 238}
_FUTEX_WAIT, _FUTEX_WAKE = 0, 1
_LIBATOMIC_HELP = ("shmgo: Mutex needs libatomic.so.1 (gcc's runtime library) for 64-bit atomic "
                   "operations, and it was not found (%s); install it: Debian and Ubuntu: "
                   "apt-get install libatomic1; Fedora and RHEL: dnf install libatomic; "
                   "Alpine: apk add libatomic")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_libatomic():
    names = []
    found = ctypes.util.find_library("atomic")
    if found:
        names.append(found)
    names.append("libatomic.so.1")
    errs = []
    for n in names:
        try:
            lib = ctypes.CDLL(n)
            fns = (lib.__atomic_compare_exchange_8, lib.__atomic_exchange_8,
                   lib.__atomic_load_8, lib.__atomic_store_8)
        except (OSError, AttributeError) as e:
            errs.append("%s: %s" % (n, e))
            continue
        cas, xchg, load, store = fns
        # A second handle on the same function, with no argtypes: the lock's
        # fast paths pass it ctypes objects made once, and skip the conversion
        # of each argument that argtypes costs (about a third of a call).
        bare_cas = lib["__atomic_compare_exchange_8"]
        bare_cas.restype = ctypes.c_bool
        cas.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int, ctypes.c_int]
        cas.restype = ctypes.c_bool
        xchg.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int]
        xchg.restype = ctypes.c_uint64
        load.argtypes = [ctypes.c_void_p, ctypes.c_int]
        load.restype = ctypes.c_uint64
        store.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int]
        store.restype = None
        return fns + (bare_cas,)
    raise ShmError(_LIBATOMIC_HELP % "; ".join(errs))


class _Atomics:
    """64-bit atomic operations from libatomic, and the futex system call."""

    def __init__(self):
        self._cas, self._xchg, self._load, self._store, self._bare_cas = _load_libatomic()
        self._tls = threading.local()
        machine = os.uname().machine
        nr = _SYS_FUTEX.get(machine)
        if nr is None:
            raise ShmError("shmgo: Mutex: no futex system call number known for machine %r" % machine)
        libc = ctypes.CDLL(None, use_errno=True)
        self._syscall = libc.syscall
        self._syscall.restype = ctypes.c_long
        self._nr = nr
        self.low_half = 0 if sys.byteorder == "little" else 4

    def _expected(self, old):
        """Returns this thread's buffer of the word a compare-and-swap expects,
        holding old, and a pointer to it: the call writes the word it found
        there, so each thread has its own."""
        try:
            exp, exp_ptr = self._tls.exp
        except AttributeError:
            exp = ctypes.c_uint64()
            exp_ptr = ctypes.c_void_p(ctypes.addressof(exp))
            self._tls.exp = exp, exp_ptr
        exp.value = old
        return exp_ptr

    def cas(self, addr, old, new):
        """Compare-and-swap of the 8 bytes at addr; reports whether it swapped."""
        return self._cas(addr, self._expected(old), new, _SEQ_CST, _SEQ_CST)

    def cas_fast(self, word, old, new):
        """cas for the lock's fast paths: word is a ctypes.c_void_p of the
        address and new a ctypes.c_uint64, both made once by the caller."""
        return self._bare_cas(word, self._expected(old), new, _SEQ_CST, _SEQ_CST)

    def load(self, addr):
        return self._load(addr, _SEQ_CST)

    def store(self, addr, v):
        self._store(addr, v, _SEQ_CST)

    def swap(self, addr, v):
        return self._xchg(addr, v, _SEQ_CST)

    def wait(self, addr, val, timeout):
        """futex_wait on the 32-bit word at addr while it holds val, for at
        most timeout seconds; reports False if the timeout passed."""
        ts = _Timespec(int(timeout), int((timeout - int(timeout)) * 1e9))
        r = self._syscall(ctypes.c_long(self._nr), ctypes.c_void_p(addr), ctypes.c_long(_FUTEX_WAIT),
                          ctypes.c_long(val), ctypes.byref(ts), ctypes.c_void_p(0), ctypes.c_long(0))
        if r == 0:
            return True
        e = ctypes.get_errno()
        if e in (errno.EAGAIN, errno.EINTR):
            return True
        if e == errno.ETIMEDOUT:
            return False
        raise ShmError("shmgo: futex wait: %s" % os.strerror(e))

    def wake(self, addr, n):
        r = self._syscall(ctypes.c_long(self._nr), ctypes.c_void_p(addr), ctypes.c_long(_FUTEX_WAKE),
                          ctypes.c_long(n), ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_long(0))
        if r < 0:
            raise ShmError("shmgo: futex wake: %s" % os.strerror(ctypes.get_errno()))
        return r


# ---------------------------------------------------------------------------
# Liveness tokens (section 6)

SLOTS = 1 << 16
LAST_GEN = (1 << 47) - 2
TABLE_BYTES = SLOTS * 8 + SLOTS * 4
_PIDS_OFF = SLOTS * 8
_FLOCK = struct.Struct("@hhqqi4x") if struct.calcsize("@hhqqi4x") == 32 else struct.Struct("@hhqqi")


def make_token(slot, gen):
    """Returns the token of slot in generation gen (section 6)."""
    return slot | (gen & 0x7FFF) << 16 | (gen >> 15) << 32


def token_slot(t):
    return t & 0xFFFF


def token_generation(t):
    return (t >> 16) & 0x7FFF | (t >> 32) << 15


def token_valid(t):
    g = token_generation(t)
    return t & MARK == 0 and 1 <= g <= LAST_GEN


def user_table_path():
    """Returns the path of this user's token table."""
    return "/dev/shm/.shm-tokens-%d" % os.geteuid()


class _TokenTable:
    """A user's token table: the file mapped, and this process's own open file
    description of it, which holds the slot lock."""

    def __init__(self, path, atomics):
        self.path, self._a = path, atomics
        flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags | os.O_CREAT, 0o600)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ShmError("shmgo: open %s: it is a symbolic link" % path) from None
            raise ShmError("shmgo: open %s: %s" % (path, e.strerror)) from None
        try:
            st = os.fstat(fd)
            self._check(st)
            if st.st_size == 0:
                # New: size it. Several processes may do this at once, to the same size.
                os.ftruncate(fd, TABLE_BYTES)
            # Map through a description of its own: a forked child keeps the
            # mapping's, but must not keep the one that holds the slot lock.
            mfd = os.open(path, flags)
            try:
                mst = os.fstat(mfd)
                if (mst.st_dev, mst.st_ino) != (st.st_dev, st.st_ino):
                    raise ShmError("shmgo: %s was replaced while being opened" % path)
                self._check(mst)
                self.mm = mmap.mmap(mfd, TABLE_BYTES, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            finally:
                os.close(mfd)
        except OSError as e:
            os.close(fd)
            raise ShmError("shmgo: token table %s: %s" % (path, e)) from None
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.words = (ctypes.c_uint64 * SLOTS).from_buffer(self.mm)
        self.pids = (ctypes.c_uint32 * SLOTS).from_buffer(self.mm, _PIDS_OFF)
        self._base = ctypes.addressof(self.words)
        self.token = 0

    def _check(self, st):
        p = self.path
        if not stat.S_ISREG(st.st_mode):
            raise ShmError("shmgo: %s is not a regular file" % p)
        if st.st_uid != os.geteuid():
            raise ShmError("shmgo: %s belongs to user %d, not to this process's user %d" % (p, st.st_uid, os.geteuid()))
        if st.st_mode & 0o077:
            raise ShmError("shmgo: %s has mode %#o: other users could fake a process's life"
                           % (p, st.st_mode & 0o777))
        if st.st_size not in (0, TABLE_BYTES):
            raise ShmError("shmgo: %s is %d bytes, want %d" % (p, st.st_size, TABLE_BYTES))

    def _lock(self, cmd, typ, slot):
        return fcntl.fcntl(self.fd, cmd, _FLOCK.pack(typ, os.SEEK_SET, slot, 1, 0))

    def acquire(self):
        """Takes the lowest free slot and returns this process's new token."""
        for s in range(SLOTS):
            try:
                self._lock(fcntl.F_OFD_SETLK, fcntl.F_WRLCK, s)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    continue
                raise ShmError("shmgo: %s: fcntl F_OFD_SETLK: %s" % (self.path, e.strerror)) from None
            addr = self._base + 8 * s
            g = token_generation(self._a.load(addr)) + 1
            if g > LAST_GEN:  # retired: every token of the slot was handed out once
                self._lock(fcntl.F_OFD_SETLK, fcntl.F_UNLCK, s)
                continue
            tok = make_token(s, g)
            # Mark the slot busy (the previous token with bit 31, its
            # generation kept), then the pid, then the token: a reader that
            # sees the same token before and after reading the pid has its pid.
            self._a.store(addr, make_token(s, g - 1) | MARK)
            self.pids[s] = os.getpid()
            self._a.store(addr, tok)
            self.token = tok
            return tok
        raise ShmError("shmgo: %s: all %d liveness slots are taken" % (self.path, SLOTS))

    def alive(self, t):
        """Reports whether the process holding token t is alive. This process's
        own token always is; when it cannot tell, it answers yes (taking a live
        process's lock is the one mistake a waiter must never make)."""
        if t == self.token:
            return True
        if not token_valid(t):
            return False
        s = token_slot(t)
        if self._a.load(self._base + 8 * s) != t:
            return False
        try:
            r = self._lock(fcntl.F_OFD_GETLK, fcntl.F_WRLCK, s)
        except OSError:
            return True
        return _FLOCK.unpack(r)[0] != fcntl.F_UNLCK

    def pid(self, t):
        """Returns the process ID recorded for token t if t is still its slot's
        latest token, else 0. Only a hint: process IDs are reused."""
        if not token_valid(t):
            return 0
        s = token_slot(t)
        addr = self._base + 8 * s
        if self._a.load(addr) != t:
            return 0
        pid = self.pids[s]
        return pid if self._a.load(addr) == t else 0

    def close(self):
        """Gives up the token (for tests: a process keeps its token for life)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.token = 0


class _Runtime:
    """What the first lock operation sets up: atomics, futex and this process's token."""

    def __init__(self):
        self.atomics = _Atomics()
        try:
            self.table = _TokenTable(user_table_path(), self.atomics)
        except ShmError as e:
            raise ShmError("shmgo: Mutex needs a liveness token from this user's table: %s" % e) from None
        self.token = self.table.acquire()
        # The new words of the lock's fast paths, as ctypes.c_uint64 made once.
        self.locked_word, self.unlocked_word = ctypes.c_uint64(self.token), ctypes.c_uint64(0)


_rt = None
_rt_lock = threading.Lock()
_holders = {}  # address of a lock word -> ident of the thread that locked it, for Value.value


def _runtime():
    rt = _rt
    if rt is None:
        rt = _init_runtime()
    return rt


def _init_runtime():
    global _rt
    with _rt_lock:
        if _rt is None:
            _rt = _Runtime()
        return _rt


def _after_fork_in_child():
    # The child shares its parent's description of the table, and with it the
    # slot lock: drop it, so that the lock follows the parent's life alone, and
    # take a token of its own at the first lock operation.
    global _rt, _rt_lock
    _rt_lock = threading.Lock()
    _holders.clear()
    if _rt is not None:
        try:
            os.close(_rt.table.fd)
        except OSError:
            pass
        _rt.table.fd = -1
        _rt = None


os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------------------
# Mutex (section 7)

class Mutex(ctypes.Structure):
    """A lock in a segment, shared with Go's shm.Mutex (the protocol of mutex.go).

    acquire, release and ``with m:`` work as threading.Lock's. If the previous
    owner died holding the lock, acquire takes it and raises OwnerDeadError with
    the lock held. A Mutex works only where it lies in a segment: a copy (such
    as a field of a struct read through Value.value, or anything read from a
    read-only segment) raises ShmError when locked.
    """
    _fields_ = [("_word", ctypes.c_uint64)]

    def _where(self):
        """Returns the address of the lock word and a ctypes.c_void_p of it,
        found once per Mutex object."""
        w = self.__dict__.get("_shmgo_word")
        if w is not None:
            return w
        ro = self.__dict__.get("_shmgo_readonly")
        if ro is not None:
            raise ReadOnlyError("shmgo: %s: its locks cannot be taken" % ro)
        root = self
        while root._b_base_ is not None:
            root = root._b_base_
        if root._b_needsfree_:
            raise ShmError("shmgo: this Mutex is a copy in this process's memory, not the lock in the "
                           "segment (a copy comes from Value.value, from_buffer_copy or a read-only segment)")
        addr = ctypes.addressof(self)
        w = self.__dict__["_shmgo_word"] = addr, ctypes.c_void_p(addr)
        return w

    def acquire(self, blocking=True, timeout=-1):
        """Locks the mutex and returns True, or returns False if it could not
        (blocking is false and the lock is held, or timeout seconds passed).
        If the previous owner died holding the lock, it takes the lock and
        raises OwnerDeadError with the lock held."""
        if not blocking and timeout != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        if timeout < 0 and timeout != -1:
            raise ValueError("timeout value must be a non-negative number")
        addr, word = self._where()
        rt = _runtime()
        if rt.atomics.cas_fast(word, 0, rt.locked_word):
            _holders[addr] = threading.get_ident()
            return True
        return self._acquire_slow(rt, addr, rt.token, blocking, timeout)

    def _acquire_slow(self, rt, addr, me, blocking, timeout):
        a = rt.atomics
        fw = addr + a.low_half
        deadline = None if timeout == -1 else time.monotonic() + timeout
        followed, checked, poll, slept = None, False, 0.001, False
        while True:
            w = a.load(addr)
            o = w & _OWNER_MASK
            if o == 0:
                # After a sleep, acquire with the mark: other sleepers may still wait.
                if a.cas(addr, w, me | (MARK if slept else w & MARK)):
                    _holders[addr] = threading.get_ident()
                    return True
                continue
            if o != followed:
                followed, checked, poll = o, False, 0.001
            if not checked:
                if not rt.table.alive(o):
                    if a.cas(addr, w, me | MARK):
                        _holders[addr] = threading.get_ident()
                        raise OwnerDeadError(self, o)
                    continue
                checked = True
            if not blocking:
                return False
            if w & MARK == 0:
                if not a.cas(addr, w, w | MARK):
                    continue
                w |= MARK
            t = poll
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    if slept:
                        a.wake(fw, 1)  # pass on a wake-up this waiter may have taken
                    return False
                t = min(t, left)
            woken = a.wait(fw, w & 0xFFFFFFFF, t)
            slept = True
            if not woken:
                checked, poll = False, min(poll * 2, 1.0)

    def release(self):
        """Unlocks the mutex. It raises LockError if the mutex is not locked,
        or is locked by another process. Any thread of the locking process may
        release it."""
        addr, word = self._where()
        rt = _runtime()
        a = rt.atomics
        me = rt.token
        if not a.cas_fast(word, me, rt.unlocked_word):
            w = a.load(addr)
            o = w & _OWNER_MASK
            if o == 0:
                raise LockError("shmgo: release of an unlocked Mutex")
            if o != me:
                raise LockError("shmgo: release of a Mutex locked by another process (token %#x)" % o)
            # Only this process can change the owner now; waiters may only add the mark.
            if a.swap(addr, 0) & MARK:
                a.wake(addr + a.low_half, 1)
        _holders.pop(addr, None)

    def locked(self):
        """Reports whether some process holds the lock."""
        return self._word & _OWNER_MASK != 0

    def owner(self):
        """Returns the liveness token of the process holding the lock, 0 if none."""
        return self._word & _OWNER_MASK

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        o = self.owner()
        return "<shmgo.Mutex %s>" % ("unlocked" if o == 0 else "locked by token %#x" % o)


def _held_by_me(m):
    """Reports whether the calling thread locked Mutex m (for Value.value)."""
    try:
        return _holders.get(ctypes.addressof(m)) == threading.get_ident()
    except TypeError:
        return False


# ---------------------------------------------------------------------------
# Objects

class ObjectInfo:
    """A directory record, checked: what Segment.objects() lists."""
    __slots__ = ("name", "kind", "type", "descriptor", "length", "size", "offset", "lock", "record", "_t")

    def __init__(self, name, kind, t, descriptor, length, size, offset, lock, record):
        self.name, self.kind, self.descriptor = name, kind, descriptor
        self.length, self.size, self.offset, self.lock, self.record = length, size, offset, lock, record
        self._t = t
        self.type = "" if t is None else "%s (%d bytes)" % (t.text(), t.size)

    def __repr__(self):
        return "ObjectInfo(name=%r, kind=%r, type=%r, length=%d, size=%d, offset=%d, lock=%d)" % (
            self.name, self.kind, self.type, self.length, self.size, self.offset, self.lock)


def _copy_in(ctype, dst, x):
    """Returns the bytes to store for a compound value x of type ctype."""
    if isinstance(x, ctype):
        return bytes(x)
    if isinstance(x, (bytes, bytearray, memoryview)):
        b = bytes(x)
        if len(b) != ctypes.sizeof(ctype):
            raise ValueError("shmgo: %d bytes given for a value of %d bytes" % (len(b), ctypes.sizeof(ctype)))
        return b
    if issubclass(ctype, ctypes.Array) and not isinstance(x, (str, dict)):
        xs = list(x)
        if len(xs) != ctype._length_:
            raise ValueError("shmgo: %d elements given for an array of %d" % (len(xs), ctype._length_))
        tmp = ctype()
        for i, e in enumerate(xs):
            tmp[i] = e
        return bytes(tmp)
    raise TypeError("shmgo: cannot store %s in a value of type %s" % (type(x).__name__, ctype.__name__))


class RawValue:
    """A RawValue in a segment: .value gets and sets it without a lock."""

    def __init__(self, seg, info):
        self._seg, self._info = seg, info
        self._ctype = info._t.ctype
        self._kind = ("complex" if info._t.kind in ("complex64", "complex128")
                      else "simple" if info._t.scalar else "compound")
        self._obj = None if seg.readonly else self._ctype.from_buffer(seg._mm, info.offset)

    @property
    def name(self):
        return self._info.name

    def _snapshot(self):
        return self._ctype.from_buffer_copy(self._seg._mm, self._info.offset)

    def _get(self, copy):
        obj = self._obj if self._obj is not None else self._snapshot()
        if self._kind != "compound":
            return obj.value  # a Python number (Complex64/128.value is a complex)
        return type(obj).from_buffer_copy(obj) if copy else obj

    def _set(self, x):
        if self._obj is None:
            raise ReadOnlyError("shmgo: %s: %s cannot be set" % (self._seg._ro(), self.name))
        if self._kind in ("simple", "complex"):
            self._obj.value = x
        else:
            b = _copy_in(self._ctype, self._obj, x)
            ctypes.memmove(ctypes.addressof(self._obj), b, len(b))

    @property
    def value(self):
        """The value: a Python number, or a live ctypes object for a struct or an array."""
        return self._get(False)

    @value.setter
    def value(self, x):
        self._set(x)

    def get_obj(self):
        """Returns the live ctypes object (a copy in a read-only segment)."""
        return self._obj if self._obj is not None else self._snapshot()

    def __repr__(self):
        return "<shmgo.%s %r: %s>" % (type(self).__name__, self.name, self._info.type)


class Value(RawValue):
    """A Value in a segment: .value gets and sets it under its Mutex."""

    def __init__(self, seg, info):
        super().__init__(seg, info)
        self._lock = seg._mutex_at(info.lock)

    def get_lock(self):
        """Returns the Mutex that guards the value."""
        return self._lock

    @property
    def value(self):
        """The value, read under the lock: a Python number, or for a struct or
        an array a copy taken under the lock (get_obj() is the live one). In a
        read-only segment, read without the lock."""
        if self._obj is None or _held_by_me(self._lock):
            return self._get(True)
        self._lock.acquire()
        try:
            return self._get(True)
        finally:
            self._lock.release()

    @value.setter
    def value(self, x):
        if self._obj is None or _held_by_me(self._lock):
            self._set(x)
            return
        self._lock.acquire()
        try:
            self._set(x)
        finally:
            self._lock.release()


class _ArrayMethods:
    def get_lock(self):
        """Returns the Mutex that guards the array. Element access takes no lock."""
        return self._shmgo_lock

    def get_obj(self):
        """Returns the array itself (Python's Array.get_obj())."""
        return self


_array_types = {}


def _locked_array_type(base):
    c = _array_types.get(base)
    if c is None:
        c = type("Array_" + base.__name__, (_ArrayMethods, base), {})
        _array_types[base] = c
    return c


class ReadOnlyArray:
    """An array in a read-only segment: each access reads the shared bytes."""

    def __init__(self, seg, info, lock=None):
        self._seg, self._info, self._lock = seg, info, lock
        self._elem = info._t.ctype
        self._esize = info._t.size
        self._simple = info._t.scalar and info._t.kind not in ("complex64", "complex128")

    def __len__(self):
        return self._info.length

    def _at(self, i):
        e = self._elem.from_buffer_copy(self._seg._mm, self._info.offset + i * self._esize)
        return e.value if self._simple else e

    def __getitem__(self, i):
        n = self._info.length
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(n))]
        i = i.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("shmgo: index out of range")
        return self._at(i)

    def __iter__(self):
        for i in range(self._info.length):
            yield self._at(i)

    def __setitem__(self, i, x):
        raise ReadOnlyError("shmgo: %s: %s cannot be set" % (self._seg._ro(), self._info.name))

    def get_lock(self):
        if self._lock is None:
            raise AttributeError("a RawArray has no lock")
        return self._lock

    def get_obj(self):
        return self

    def __repr__(self):
        return "<shmgo.ReadOnlyArray %r: %d x %s>" % (self._info.name, self._info.length, self._info.type)


# ---------------------------------------------------------------------------
# Segments

_maps = weakref.WeakValueDictionary()  # (dev, ino, size, writable) -> mmap, to reuse mappings


class Segment:
    """An open named segment. Use open() to get one."""

    def __init__(self, name, fd, st, writable, raw, mm, header, why=None):
        self.name = name
        self.readonly = not writable
        self.readonly_reason = why  # why it is read-only, or None
        self.raw = raw
        self.size = st.st_size
        self._fd, self._mm, self._header = fd, mm, header
        self._records = {}       # name -> ObjectInfo, in directory order
        self._tail = None        # offset of the last record walked
        self._handles = {}
        self._base = None
        if mm is not None and writable and not raw:
            try:
                self._base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
            except (TypeError, ValueError, BufferError):
                self._base = None
        if not raw:
            try:
                self._walk()
            except LayoutError:
                # As in Go, a damaged record fails objects() and the look-ups
                # that reach it, not the open: the objects before it stay
                # reachable.
                pass
            except BaseException:
                self._fd = -1  # open() closes it: closing it here too could close another file
                raise

    # Header fields, for tools.
    @property
    def created_ns(self):
        """When the segment was made, in Unix nanoseconds (None for raw segments)."""
        return None if self.raw else self._header[6]

    @property
    def creator_pid(self):
        return None if self.raw else self._header[7]

    @property
    def creator_uid(self):
        return None if self.raw else self._header[8]

    @property
    def creator_token(self):
        return None if self.raw else self._header[9]

    @property
    def buf(self):
        """The whole file as a memoryview: raw segments only."""
        self._check_open()
        if not self.raw:
            raise ShmError("shmgo: segment %r has an shm header: reach its objects by name, not as bytes" % self.name)
        if self._mm is None:
            return memoryview(b"")
        return memoryview(self._mm)

    def _check_open(self):
        if self._fd < 0:
            raise ShmError("shmgo: segment %r is closed" % self.name)

    def _u64(self, off):
        """Loads the 8-byte word at off, atomically where the mapping allows."""
        if self._base is not None and _rt is not None:
            return _rt.atomics.load(self._base + off)
        return struct.unpack_from("=Q", self._mm, off)[0]

    def _err(self, field, msg, offset=None):
        return LayoutError(self.name, field, msg, offset)

    def _used(self):
        used = self._u64(72)
        if not HEADER_SIZE <= used <= self.size:
            raise self._err("used", "%d, outside [%d, %d]" % (used, HEADER_SIZE, self.size))
        return used

    def _walk(self):
        """Checks the records published since the last walk."""
        try:
            st = os.fstat(self._fd)
        except OSError as e:
            raise ShmError("shmgo: segment %r: fstat: %s" % (self.name, e.strerror)) from None
        if st.st_size < self.size:
            raise ShmError("shmgo: segment %r was truncated from %d to %d bytes: touching the lost pages "
                           "would kill this process" % (self.name, self.size, st.st_size))
        if self._tail is None:
            nxt, field, at = self._u64(80), "first", None
        else:
            nxt, field, at = self._u64(self._tail), "next", self._tail
        while nxt != 0:
            used = self._used()
            if nxt % BLOCK_ALIGN or not HEADER_SIZE <= nxt or nxt + _RECORD.size > used:
                raise self._err(field, "%d: a record must lie in [%d, used=%d) and be %d-aligned"
                                % (nxt, HEADER_SIZE, used, BLOCK_ALIGN), at)
            # Records are carved from used, which only grows: so offsets grow
            # along the list, and every walk ends.
            if at is not None and nxt <= at:
                raise self._err(field, "%d does not come after the record" % nxt, at)
            info = self._record(nxt, used)
            if info.name in self._records:
                raise self._err("name", "%r: a second object of that name" % info.name, nxt)
            self._records[info.name] = info
            self._tail = nxt
            nxt, field, at = self._u64(nxt), "next", nxt

    def _record(self, off, used):
        (_next, rsize, kind, doff, size, length, lock, thash, nlen, zero,
         dlen) = _RECORD.unpack_from(self._mm, off)
        err = lambda f, m: self._err(f, m, off)
        if kind < 1:
            raise err("kind", "%d, want 1 or more" % kind)
        if not 1 <= nlen <= 255:
            raise err("name length", "%d, want 1 to 255" % nlen)
        if zero != 0:
            raise err("bytes 58-59", "%d, want 0" % zero)
        if not 1 <= dlen <= _MAX_DESCRIPTOR:
            raise err("descriptor length", "%d, want 1 to %d" % (dlen, _MAX_DESCRIPTOR))
        if rsize != _RECORD.size + nlen + dlen:
            raise err("record size", "%d, want 64 + name %d + descriptor %d" % (rsize, nlen, dlen))
        if off + rsize > used:
            raise err("record size", "%d: the record ends at %d, past used=%d" % (rsize, off + rsize, used))
        p = off + _RECORD.size
        bname = bytes(self._mm[p:p + nlen])
        try:
            _check_name(bname, "object")
        except InvalidNameError as e:
            raise err("name", str(e)[len("shmgo: "):]) from None
        name = bname.decode("utf-8", "surrogateescape")
        desc = bytes(self._mm[p + nlen:p + nlen + dlen])
        h = fnv1a64(desc)
        if h != thash:
            raise err("type hash", "%#x, but the descriptor hashes to %#x" % (thash, h))
        if kind not in _KINDS:  # of a later version: its fields may mean anything
            return ObjectInfo(name, "kind %d" % kind, None, desc, 0, 0, 0, 0, off)
        try:
            t = _parse_descriptor(desc)
        except _DescError as e:
            raise err("descriptor", str(e)) from None
        kname = _KINDS[kind]
        if kind not in (3, 4, 8) and length != 1:
            raise err("length", "%d, want 1 for a %s" % (length, kname))
        if kind in _SYNC_KINDS and t.kind != _SYNC_KINDS[kind]:
            raise err("descriptor", "a %s's type is %s, want %s" % (kname, t.text(), _SYNC[_SYNC_KINDS[kind]][3]))
        if size != length * t.size:
            raise err("size", "%d, want length %d x element size %d" % (size, length, t.size))
        if not HEADER_SIZE <= doff < self.size or doff + size > self.size:
            raise err("off", "%d: data of %d bytes must lie in [%d, %d)" % (doff, size, HEADER_SIZE, self.size))
        if doff % t.align:
            raise err("off", "%d is not a multiple of the element's align %d" % (doff, t.align))
        if kind in (2, 4, 9):
            if lock % 8 or not HEADER_SIZE <= lock or lock + 8 > self.size:
                raise err("lock", "%d: the lock word must be 8-aligned in [%d, %d)" % (lock, HEADER_SIZE, self.size))
        elif lock != 0:
            raise err("lock", "%d, want 0 for a %s" % (lock, kname))
        if kind in (3, 4, 8):
            if doff - 64 < HEADER_SIZE or doff % 8:
                raise err("off", "%d: an array's 8-aligned length word at off-64 must lie after the header" % doff)
            if length > _MAX_ARRAY:
                raise err("length", "%d is too large" % length)
            if kind == 8 and length < 2:
                raise err("length", "%d, want 2 or more for a Barrier (its state and a word per party)" % length)
        return ObjectInfo(name, kname, t, desc, length, size, doff, lock, off)

    def _check_length(self, info):
        """Checks an array's length word, at off-64, against its record. The
        word lies with the array's data, which any writer may change, so it is
        checked when the array is looked up, not with the directory, as Go
        does."""
        n = struct.unpack_from("=q", self._mm, info.offset - 64)[0]
        if n != info.length:
            raise self._err("length", "%d, but the array's length word at off-64 holds %d"
                            % (info.length, n), info.record)

    def _ro(self):
        return "segment %r is open read-only (%s)" % (self.name, self.readonly_reason)

    def _mutex_at(self, off):
        if self.readonly:
            m = Mutex.from_buffer_copy(self._mm, off)
            m._shmgo_readonly = self._ro()
            return m
        return Mutex.from_buffer(self._mm, off)

    def _info(self, name):
        self._check_open()
        if self.raw:
            raise ShmError("shmgo: segment %r has no shm header (a raw segment): it has no objects; "
                           "use its bytes, Segment.buf" % self.name)
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("utf-8", "surrogateescape")
        elif not isinstance(name, str):
            raise TypeError("shmgo: object names are str or bytes, not %s" % type(name).__name__)
        info = self._records.get(name)
        if info is None:
            self._walk()  # it may have been published since
            info = self._records.get(name)
        if info is None:
            raise ObjectNotFoundError("shmgo: segment %r has no object %r" % (self.name, name))
        return info

    def __getitem__(self, name):
        """Returns the object named name: RawValue, Value, a ctypes array
        (ReadOnlyArray in a read-only segment) or Mutex. An Event, a
        Semaphore, a Barrier or a Cond raises ShmError: not supported from
        Python yet (they are listed by objects() and names())."""
        info = self._info(name)
        h = self._handles.get(info.name)
        if h is not None:
            return h
        k = info.kind
        if k.startswith("kind "):
            raise ShmError("shmgo: object %r of segment %r is of %s, which this version of shmgo does not "
                           "know (a later version placed it)" % (info.name, self.name, k))
        if k in ("Event", "Semaphore", "Barrier", "Cond"):
            raise ShmError("shmgo: object %r of segment %r is a shm.%s: not supported from Python yet "
                           "(use it from Go: shm.Lookup%s)" % (info.name, self.name, k, k))
        if k in ("RawArray", "Array"):
            self._check_length(info)
        if k == "RawValue":
            h = RawValue(self, info)
        elif k == "Value":
            h = Value(self, info)
        elif k == "Mutex":
            h = self._mutex_at(info.offset)
        else:
            lock = self._mutex_at(info.lock) if k == "Array" else None
            if self.readonly:
                h = ReadOnlyArray(self, info, lock)
            else:
                base = info._t.ctype * info.length
                if lock is not None:
                    h = _locked_array_type(base).from_buffer(self._mm, info.offset)
                    h._shmgo_lock = lock
                else:
                    h = base.from_buffer(self._mm, info.offset)
        self._handles[info.name] = h
        return h

    def __contains__(self, name):
        try:
            self._info(name)
        except ObjectNotFoundError:
            return False
        return True

    def names(self):
        """Returns the names of the segment's objects, in the order they were made."""
        self._check_open()
        if self.raw:
            return []
        self._walk()
        return list(self._records)

    def objects(self):
        """Returns the checked directory: one ObjectInfo per object."""
        self.names()
        return list(self._records.values())

    def close(self):
        """Closes the segment's descriptor. Objects taken from it stay valid;
        the mapping goes when they are all gone."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._mm = None
        self._base = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "<shmgo.Segment %r, %d bytes%s%s>" % (self.name, self.size, ", raw" if self.raw else "",
                                                     ", read-only" if self.readonly else "")


def _pread_all(fd, n):
    out = b""
    while len(out) < n:
        b = os.pread(fd, n - len(out), len(out))
        if not b:
            break
        out += b
    return out


def open(name):
    """Opens the segment named name (the file /dev/shm/NAME), read-write, or
    read-only if this process may only read it, checks its header and
    directory, and returns a Segment. It raises SegmentNotFoundError (a
    FileNotFoundError) if there is no such segment, InvalidNameError for a bad
    name, LayoutError for a bad header, record or descriptor, and ShmError for
    any other failure."""
    bname = _check_name(name, "segment")
    sname = name if isinstance(name, str) else bname.decode("utf-8", "surrogateescape")
    path = SHM_DIR + bname
    flags = os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    writable, why = True, None
    try:
        try:
            fd = os.open(path, os.O_RDWR | flags)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            fd = os.open(path, os.O_RDONLY | flags)
            writable, why = False, "its mode does not let this process write"
    except FileNotFoundError:
        raise SegmentNotFoundError(errno.ENOENT, "shmgo: segment %r does not exist" % sname,
                                   os.fsdecode(path)) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ShmError("shmgo: segment %r: %s is a symbolic link" % (sname, os.fsdecode(path))) from None
        raise ShmError("shmgo: segment %r: open %s: %s" % (sname, os.fsdecode(path), e.strerror)) from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ShmError("shmgo: segment %r: %s is not a regular file" % (sname, os.fsdecode(path)))
        size = st.st_size
        head = _pread_all(fd, min(size, HEADER_SIZE))
        raw = len(head) < len(MAGIC) or head[:len(MAGIC)] != MAGIC
        header = None if raw else _check_header(sname, head, size)
        if not raw and writable and st.st_uid != os.geteuid():
            # As in Go: the lock words name tokens of the owner's table, which
            # only the owner's processes share and can judge. Another user
            # (root, say) who could write the file would take a live owner's
            # lock for a dead one's: it reads, and does not lock.
            rfd = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY | os.O_CLOEXEC)
            os.close(fd)
            fd, writable = rfd, False
            why = ("the file belongs to user %d, and only its owner's processes can judge each other's locks"
                   % st.st_uid)
        mm = None
        if size > 0:
            key = (st.st_dev, st.st_ino, size, writable)
            mm = _maps.get(key)
            if mm is None:
                access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
                mm = mmap.mmap(fd, size, access=access)
                _maps[key] = mm
        return Segment(sname, fd, st, writable, raw, mm, header, why)
    except OSError as e:
        os.close(fd)
        raise ShmError("shmgo: segment %r: %s" % (sname, e)) from None
    except BaseException:
        os.close(fd)
        raise


def _check_header(name, head, size):
    """Checks the header bytes head of a file of size bytes, in the order named.go gives."""
    def err(field, msg):
        return LayoutError(name, field, msg)
    if size < HEADER_SIZE or len(head) < HEADER_SIZE:
        raise err("file size", "the file is %d bytes, shorter than the %d-byte header" % (size, HEADER_SIZE))
    h = _HEADER.unpack_from(head, 0)
    _magic, version, bom, word, hsize, fsize = h[:6]
    if version != VERSION:
        hint = ""
        if bom == 0x04030201:
            hint = " (the byte-order mark says it was written on a machine of the other byte order)"
        raise err("version", "%d, want %d%s" % (version, VERSION, hint))
    if bom != BYTE_ORDER_MARK:
        why = "the other byte order" if bom == 0x04030201 else "not a byte-order mark"
        raise err("byte order", "mark %#010x, want %#010x: %s" % (bom, BYTE_ORDER_MARK, why))
    if word != WORD_SIZE:
        raise err("word size", "%d, want %d" % (word, WORD_SIZE))
    if hsize != HEADER_SIZE:
        raise err("header size", "%d, want %d" % (hsize, HEADER_SIZE))
    if fsize != size:
        raise err("file size", "the header says %d bytes, the file is %d" % (fsize, size))
    sum_ = fnv1a64(head[:56])
    if h[10] != sum_:
        raise err("checksum", "%#x, but bytes 0-55 hash to %#x" % (h[10], sum_))
    _lock, used, first, last, _count = _MUTABLE.unpack_from(head, 64)
    if not HEADER_SIZE <= used <= size:
        raise err("used", "%d, outside [%d, %d]" % (used, HEADER_SIZE, size))
    for field, v in (("first", first), ("last", last)):
        if v != 0 and not HEADER_SIZE <= v <= size:
            raise err(field, "%d, neither 0 nor in [%d, %d]" % (v, HEADER_SIZE, size))
    return h
