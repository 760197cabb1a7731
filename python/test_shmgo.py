"""Tests of shmgo.py, run from the repository root with

    python3 -m unittest discover -s python -v

SegWriter below builds segment files from the format (the essay at the top of
named.go; descriptors in descriptor.go) with its own code, independent of
both shmgo and the Go package: its JSON comes from json.dumps and its layouts
from Go's rules. named_python_test.go tests Python against Go itself. Cross-process tests use real child
processes (subprocess running python3), and never sleep in place of
synchronisation: they wait for a line from the child or for a state of the
lock word.
"""

import ctypes
import errno
import fcntl
import faulthandler
import json
import os
import random
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import shmgo  # noqa: E402

HANG_LIMIT = 120  # seconds: a hung test dumps its stacks and ends the run
LONG = 30  # seconds: a wait that only a bug makes this long


# ---------------------------------------------------------------------------
# Descriptors, written the way the spec says Go writes them

def scalar(kind, atomic=False):
    size, align = {"bool": (1, 1), "int8": (1, 1), "uint8": (1, 1), "int16": (2, 2), "uint16": (2, 2),
                   "int32": (4, 4), "uint32": (4, 4), "int64": (8, 8), "uint64": (8, 8),
                   "float32": (4, 4), "float64": (8, 8), "complex64": (8, 4), "complex128": (16, 8)}[kind]
    d = {"kind": kind, "size": size, "align": align}
    if atomic:
        d["atomic"] = True
    return d


MUTEX = {"kind": "mutex", "size": 8, "align": 8}
INT32, INT64, FLOAT64, UINT8 = scalar("int32"), scalar("int64"), scalar("float64"), scalar("uint8")


def array(elem, n):
    return {"kind": "array", "size": n * elem["size"], "align": elem["align"], "len": n, "elem": elem}


def struct_(*fields):
    """A struct laid out by Go's rules; fields are (name, descriptor)."""
    off, align, out = 0, 1, []
    for name, d in fields:
        off = -(-off // d["align"]) * d["align"]
        align = max(align, d["align"])
        if d["size"]:
            out.append({"name": name, "offset": off, "type": d})
        off += d["size"]
    size = -(-off // align) * align
    return {"kind": "struct", "size": size, "align": align, "fields": out}


def enc(d):
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) % (1 << 64)
    return h


def align_up(n, a):
    return -(-n // a) * a


# ---------------------------------------------------------------------------
# The test writer

class SegWriter:
    """Builds a segment file as the spec describes (sections 3 and 4)."""

    def __init__(self, size=16384):
        self.size = size
        self.buf = bytearray(size)
        self.used = 4096
        self.first = self.last = self.count = 0
        self.records = {}  # name -> record offset

    def alloc(self, n):
        off = align_up(self.used, 64)
        self.used = off + n
        assert self.used <= self.size, "test segment too small"
        return off

    def _record(self, name, kind, off, size, length, lock, desc):
        nb, db = name.encode(), enc(desc) if isinstance(desc, dict) else desc
        r = self.alloc(64 + len(nb) + len(db))
        struct.pack_into("=QIIQQQQQHHI", self.buf, r, 0, 64 + len(nb) + len(db), kind, off, size, length,
                         lock, fnv(db), len(nb), 0, len(db))
        self.buf[r + 64:r + 64 + len(nb)] = nb
        self.buf[r + 64 + len(nb):r + 64 + len(nb) + len(db)] = db
        if self.last:
            struct.pack_into("=Q", self.buf, self.last, r)
        else:
            self.first = r
        self.last = r
        self.count += 1
        self.records[name] = r
        return r

    def raw_value(self, name, desc, init=b""):
        off = self.alloc(desc["size"])
        self.buf[off:off + len(init)] = init
        self._record(name, 1, off, desc["size"], 1, 0, desc)
        return off

    def value(self, name, desc, init=b""):
        b = self.alloc(align_up(8, max(8, desc["align"])) + desc["size"])
        off = b + align_up(8, max(8, desc["align"]))
        self.buf[off:off + len(init)] = init
        self._record(name, 2, off, desc["size"], 1, b, desc)
        return off

    def raw_array(self, name, elem, n, init=b"", kind=3, lock=0):
        b = self.alloc(64 + n * elem["size"])
        struct.pack_into("=q", self.buf, b, n)
        off = b + 64
        self.buf[off:off + len(init)] = init
        self._record(name, kind, off, n * elem["size"], n, lock, elem)
        return off

    def array(self, name, elem, n, init=b""):
        lock = self.alloc(8)
        return self.raw_array(name, elem, n, init, kind=4, lock=lock)

    def mutex(self, name):
        off = self.alloc(8)
        self._record(name, 5, off, 8, 1, 0, MUTEX)
        return off

    def header(self):
        struct.pack_into("=8sIIIIQqIIQ", self.buf, 0, b"shmgoSEG", 1, 0x01020304, 8, 4096, self.size,
                         time.time_ns(), os.getpid(), os.geteuid(), 0)
        self.fix_checksum()
        struct.pack_into("=QQQQI", self.buf, 64, 0, self.used, self.first, self.last, self.count)

    def fix_checksum(self, buf=None):
        buf = self.buf if buf is None else buf
        struct.pack_into("=Q", buf, 56, fnv(bytes(buf[:56])))

    def bytes(self):
        self.header()
        return bytes(self.buf)


def unique_name():
    return "shmgo-test-%d-%s" % (os.getpid(), uuid.uuid4().hex[:12])


class SegTest(unittest.TestCase):
    """Makes segment files in /dev/shm and removes them after the test."""

    def setUp(self):
        self.names = []
        faulthandler.dump_traceback_later(HANG_LIMIT, exit=True)

    def tearDown(self):
        faulthandler.cancel_dump_traceback_later()
        for n in self.names:
            try:
                os.unlink("/dev/shm/" + n)
            except FileNotFoundError:
                pass

    def publish(self, data, mode=0o600):
        name = unique_name()
        fd = os.open("/dev/shm/" + name, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        self.names.append(name)
        try:
            os.fchmod(fd, mode)
            os.write(fd, data)
        finally:
            os.close(fd)
        return name

    def write_at(self, name, off, data):
        fd = os.open("/dev/shm/" + name, os.O_RDWR)
        try:
            os.pwrite(fd, data, off)
        finally:
            os.close(fd)

    def read_at(self, name, off, n):
        fd = os.open("/dev/shm/" + name, os.O_RDONLY)
        try:
            return os.pread(fd, n, off)
        finally:
            os.close(fd)

    def finishes(self, fn, what):
        """Runs fn in a thread and fails if it is still running after LONG
        seconds (a deadlock), rather than hanging the run."""
        err = []

        def run():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001
                err.append(e)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(LONG)
        self.assertFalse(t.is_alive(), what + " deadlocked")
        if err:
            raise err[0]

    def open(self, name):
        seg = shmgo.open(name)
        self.addCleanup(seg.close)
        return seg


CHILD_PRELUDE = "import os, sys, signal\nsys.path.insert(0, %r)\nimport shmgo\n" % HERE


def child(test, code, *args):
    """Starts python3 running code, with args in sys.argv, talking over pipes;
    the test kills it at its end if it still runs."""
    p = subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + code] + [str(a) for a in args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, bufsize=1)

    def end():
        p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            try:
                f.close()
            except OSError:
                pass
    test.addCleanup(end)
    return p


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def skip_unless_nobody_can_run(test):
    """Skips test unless this process may run this Python as uid 65534."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        test.skipTest("needs root and setpriv to run a child as another user")
    r = subprocess.run(AS_NOBODY + [sys.executable, "-c", "import sys; sys.path.insert(0, %r); import shmgo" % HERE],
                       capture_output=True, text=True, timeout=60, cwd="/")
    if r.returncode != 0:
        test.skipTest("this Python cannot run as uid 65534: " + r.stderr.strip()[-200:])


def poll(test, cond, what):
    """Polls cond until it holds, and fails test if it does not within LONG
    seconds: for a state of another thread or process that no line announces,
    such as a waiter's mark on a lock word."""
    deadline = time.monotonic() + LONG
    while not cond():
        if time.monotonic() > deadline:
            test.fail("%s: not within %d s" % (what, LONG))
        time.sleep(0.001)


def expect_line(test, p, want):
    line = p.stdout.readline().strip()
    if line != want:
        p.kill()
        _, err = p.communicate()
        test.fail("child said %r, want %r; stderr:\n%s" % (line, want, err))


# ---------------------------------------------------------------------------
# Header checks (section 3)

class HeaderTest(SegTest):
    def good(self):
        w = SegWriter()
        w.raw_value("x", INT64, struct.pack("=q", 7))
        return w

    def corrupt(self, fmt, off, value, fix_checksum=True):
        w = self.good()
        b = bytearray(w.bytes())
        struct.pack_into(fmt, b, off, value)
        if fix_checksum:
            w.fix_checksum(b)
        return self.publish(bytes(b))

    def assertLayoutError(self, name, field):
        with self.assertRaises(shmgo.LayoutError) as cm:
            shmgo.open(name)
        e = cm.exception
        self.assertEqual(e.field, field, str(e))
        self.assertEqual(e.segment, name)
        self.assertIsNone(e.offset)
        self.assertIn(name, str(e))
        self.assertIn(field, str(e))
        return e

    def test_good_header(self):
        name = self.publish(self.good().bytes())
        seg = self.open(name)
        self.assertFalse(seg.raw)
        self.assertFalse(seg.readonly)
        self.assertEqual(seg.names(), ["x"])
        self.assertEqual(seg["x"].value, 7)
        self.assertEqual(seg.creator_pid, os.getpid())
        self.assertEqual(seg.creator_uid, os.geteuid())

    def test_each_field(self):
        cases = [  # (format, offset, value, field)
            ("=I", 8, 2, "version"),
            ("=I", 12, 0x04030201, "byte order"),
            ("=I", 12, 0x11223344, "byte order"),
            ("=I", 16, 4, "word size"),
            ("=I", 20, 8192, "header size"),
            ("=Q", 24, 16384 + 4096, "file size"),
            ("=Q", 24, 0, "file size"),
            ("=Q", 72, 4095, "used"),
            ("=Q", 72, 16385, "used"),
            ("=Q", 80, 8, "first"),
            ("=Q", 80, 16385, "first"),
            ("=Q", 88, 4000, "last"),
            ("=Q", 88, 1 << 63, "last"),
        ]
        for fmt, off, value, field in cases:
            with self.subTest(field=field, value=value):
                self.assertLayoutError(self.corrupt(fmt, off, value), field)

    def test_checksum(self):
        for off in (0 + 7, 32, 40, 44, 48, 56):  # magic's last byte would make it raw
            with self.subTest(off=off):
                w = self.good()
                b = bytearray(w.bytes())
                b[off] ^= 0x40
                if off == 7:
                    continue
                self.assertLayoutError(self.publish(bytes(b)), "checksum")

    def test_order(self):
        # Version is checked before the checksum, byte order before word size.
        w = self.good()
        b = bytearray(w.bytes())
        struct.pack_into("=I", b, 8, 3)
        struct.pack_into("=I", b, 16, 4)
        self.assertLayoutError(self.publish(bytes(b)), "version")
        b = bytearray(w.bytes())
        struct.pack_into("=I", b, 12, 5)
        struct.pack_into("=I", b, 16, 4)
        self.assertLayoutError(self.publish(bytes(b)), "byte order")

    def test_other_byte_order_hint(self):
        w = self.good()
        b = bytearray(w.bytes())
        for off in (8, 12, 16, 20):
            b[off:off + 4] = b[off:off + 4][::-1]
        e = self.assertLayoutError(self.publish(bytes(b)), "version")
        self.assertIn("other byte order", str(e))

    def test_short_file_with_magic(self):
        b = self.good().bytes()
        for n in (8, 100, 4095):
            with self.subTest(n=n):
                self.assertLayoutError(self.publish(b[:n]), "file size")

    def test_header_read_before_mapping(self):
        # A file whose header claims a bigger size than the file is refused
        # before any mapping (a mapping past the end would SIGBUS).
        w = SegWriter(size=8192)
        b = bytearray(w.bytes())
        struct.pack_into("=Q", b, 24, 1 << 40)
        w.fix_checksum(b)
        self.assertLayoutError(self.publish(bytes(b)), "file size")

    def test_missing(self):
        name = unique_name()
        with self.assertRaises(shmgo.SegmentNotFoundError) as cm:
            shmgo.open(name)
        self.assertIsInstance(cm.exception, FileNotFoundError)
        self.assertIn(name, str(cm.exception))

    def test_bad_names(self):
        for name, why in [("", "empty"), ("a/b", "'/'"), ("a\0b", "NUL"), (".", "'.'"), ("..", "'..'"),
                          ("x" * 256, "256 bytes"), (".shm-tokens-0", "reserved")]:
            with self.subTest(name=name):
                with self.assertRaises(shmgo.InvalidNameError) as cm:
                    shmgo.open(name)
                self.assertIn(why, str(cm.exception))
        shmgo._check_name("x" * 255, "segment")  # the longest valid name

    def test_not_regular(self):
        name = unique_name()
        os.mkfifo("/dev/shm/" + name, 0o600)
        self.names.append(name)
        with self.assertRaises(shmgo.ShmError) as cm:
            shmgo.open(name)  # O_NONBLOCK: must not hang on a FIFO
        self.assertIn("not a regular file", str(cm.exception))

    def test_symlink(self):
        target = self.publish(self.good().bytes())
        name = unique_name()
        os.symlink("/dev/shm/" + target, "/dev/shm/" + name)
        self.names.append(name)
        with self.assertRaises(shmgo.ShmError) as cm:
            shmgo.open(name)
        self.assertIn("symbolic link", str(cm.exception))

    def test_failed_open_does_not_unlink(self):
        name = self.corrupt("=I", 8, 9)
        self.assertRaises(shmgo.LayoutError, shmgo.open, name)
        self.assertTrue(os.path.exists("/dev/shm/" + name))


# ---------------------------------------------------------------------------
# Records (section 4)

class RecordTest(SegTest):
    def build(self):
        w = SegWriter()
        w.raw_value("a", INT64)
        w.value("v", FLOAT64)
        w.raw_array("arr", INT32, 4)
        w.mutex("mu")
        return w

    def patch(self, w, rec, fmt, off, value, fix_hash=False):
        b = bytearray(w.bytes())
        r = w.records[rec]
        struct.pack_into(fmt, b, r + off, value)
        return self.publish(bytes(b)), r

    def assertRecordError(self, name, field, offset):
        # As in Go, the open succeeds, and reading the directory fails.
        seg = self.open(name)
        with self.assertRaises(shmgo.LayoutError) as cm:
            seg.objects()
        e = cm.exception
        self.assertEqual((e.field, e.offset), (field, offset), str(e))
        self.assertIn("record at offset %d" % offset, str(e))
        self.assertIn(name, str(e))
        return e

    def test_good(self):
        seg = self.open(self.publish(self.build().bytes()))
        self.assertEqual(seg.names(), ["a", "v", "arr", "mu"])
        kinds = [(o.name, o.kind, o.length) for o in seg.objects()]
        self.assertEqual(kinds, [("a", "RawValue", 1), ("v", "Value", 1), ("arr", "RawArray", 4), ("mu", "Mutex", 1)])
        self.assertEqual(seg.objects()[2].type, "int32 (4 bytes)")

    def test_fields(self):
        w = self.build()
        cases = [  # (record, format, offset in record, value, field)
            ("a", "=I", 12, 0, "kind"),
            ("a", "=I", 12, 6, "descriptor"),  # an Event described as int64
            ("a", "=H", 56, 0, "name length"),
            ("a", "=H", 56, 256, "name length"),
            ("a", "=H", 58, 1, "bytes 58-59"),
            ("a", "=I", 60, 0, "descriptor length"),
            ("a", "=I", 60, 65537, "descriptor length"),
            ("a", "=I", 8, 64, "record size"),
            ("a", "=I", 8, 1 << 20, "record size"),
            ("a", "=Q", 48, 12345, "type hash"),
            ("a", "=Q", 16, 4100, "off"),          # not 8-aligned for an int64
            ("a", "=Q", 16, 100, "off"),           # inside the header
            ("a", "=Q", 16, 16380, "off"),         # runs past the end
            ("a", "=Q", 16, (1 << 64) - 8, "off"),  # overflow
            ("a", "=Q", 24, 16, "size"),
            ("a", "=Q", 32, 2, "length"),
            ("a", "=Q", 40, 4096, "lock"),         # a RawValue has no lock
            ("v", "=Q", 40, 0, "lock"),            # a Value must have one
            ("v", "=Q", 40, 4100, "lock"),         # misaligned
            ("v", "=Q", 40, 16384, "lock"),        # past the end
            ("arr", "=Q", 32, 5, "size"),          # size no longer length x 4
            ("mu", "=Q", 32, 2, "length"),
        ]
        for rec, fmt, off, value, field in cases:
            with self.subTest(rec=rec, field=field, value=value):
                name, r = self.patch(w, rec, fmt, off, value)
                self.assertRecordError(name, field, r)

    def test_array_length_word(self):
        # The word lies with the array's data: checked at the look-up, as Go
        # does, not with the directory.
        w = self.build()
        b = bytearray(w.bytes())
        off = struct.unpack_from("=Q", b, w.records["arr"] + 16)[0]
        struct.pack_into("=q", b, off - 64, 5)
        seg = self.open(self.publish(bytes(b)))
        self.assertEqual(seg.names(), ["a", "v", "arr", "mu"])
        with self.assertRaises(shmgo.LayoutError) as cm:
            seg["arr"]
        self.assertEqual((cm.exception.field, cm.exception.offset), ("length", w.records["arr"]))
        self.assertEqual(seg["a"].value, 0)

    def test_as_go_checks(self):
        # What Go refuses, shmgo refuses too.
        w = self.build()
        rsize = struct.unpack_from("=I", w.bytes(), w.records["a"] + 8)[0]
        arr = struct.unpack_from("=Q", w.bytes(), w.records["arr"] + 16)[0]
        for rec, fmt, off, value, field in [
            ("a", "=I", 8, rsize + 8, "record size"),  # larger than its name and descriptor
            ("arr", "=Q", 16, arr + 4, "off"),         # an array 4-aligned, not 8
        ]:
            with self.subTest(field=field):
                name, r = self.patch(w, rec, fmt, off, value)
                self.assertRecordError(name, field, r)
        # Data of size 0 at the very end of the file.
        w = SegWriter()
        w.raw_value("e", struct_())
        name, r = self.patch(w, "e", "=Q", 16, w.size)
        self.assertRecordError(name, "off", r)

    def set_name(self, w, rec, newname):
        b = bytearray(w.bytes())
        r = w.records[rec]
        nlen = struct.unpack_from("=H", b, r + 56)[0]
        assert len(newname) == nlen
        b[r + 64:r + 64 + nlen] = newname
        return self.publish(bytes(b)), r

    def test_names(self):
        w = self.build()
        for bad in (b"/", b"\0", b"."):
            with self.subTest(name=bad):
                self.assertRecordError(self.set_name(w, "a", bad)[0], "name", w.records["a"])
        name, _ = self.set_name(w, "v", b"a")  # a second "a"
        self.assertRecordError(name, "name", w.records["v"])

    def test_descriptor(self):
        bad = [
            b'{"kind":"int64", "size":8,"align":8}',              # a space
            b'{"size":8,"kind":"int64","align":8}',               # key order
            b'{"kind":"int64","size":8,"align":4}',               # wrong align
            b'{"kind":"int64","size":8,"align":8,"atomic":false}',
            b'{"kind":"float64","size":8,"align":8,"atomic":true}',
            b'{"kind":"int64","size":8.0,"align":8}',
            b'{"kind":"int64","size":true,"align":8}',
            b'{"kind":"int64","size":8,"align":8,"size":8}',
            b'{"kind":"int65","size":8,"align":8}',
            b'{"kind":"int64","size":8,"align":8',
            b'\xff{}',
            b'[' * 5000 + b']' * 5000,
            b'{"kind":"int64","size":NaN,"align":8}',
            b'{"kind":"mutex","size":8,"align":8}',               # a mutex is not 8 bytes of int64 data... fine, but size matches
        ]
        for d in bad[:-1]:
            with self.subTest(desc=d[:60]):
                w = SegWriter()
                w.raw_value("a", INT64)
                w.records.clear()
                r = w._record("b", 1, w.alloc(8), 8, 1, 0, d)
                self.assertRecordError(self.publish(w.bytes()), "descriptor", r)

    def test_mutex_needs_mutex_type(self):
        w = SegWriter()
        off = w.alloc(8)
        r = w._record("m", 5, off, 8, 1, 0, INT64)
        self.assertRecordError(self.publish(w.bytes()), "descriptor", r)

    def test_walk(self):
        w = self.build()
        # A loop back to the first record.
        name, r = self.patch(w, "mu", "=Q", 0, w.records["a"])
        self.assertRecordError(name, "next", r)
        # A next that goes back without a loop: offsets must grow.
        name, r = self.patch(w, "v", "=Q", 0, w.records["a"])
        self.assertRecordError(name, "next", r)
        # A next outside [4096, used), or not 64-aligned.
        for target in (8, 4097, w.records["mu"] + 8, w.used, 1 << 62):
            with self.subTest(next=target):
                name, r = self.patch(w, "v", "=Q", 0, target)
                self.assertRecordError(name, "next", r)

    def test_failed_open_closes_once(self):
        # A failed open closes its descriptor once: the number may belong to
        # another file by the time the half-made Segment is collected.
        w = self.build()
        b = bytearray(w.bytes())
        struct.pack_into("=I", b, 8, 2)  # the format version
        try:
            shmgo.open(self.publish(bytes(b)))
        except shmgo.LayoutError as e:
            err = e
        fd = os.open("/dev/null", os.O_RDONLY)  # takes the lowest free number: the one just closed
        try:
            del err
            import gc
            gc.collect()
            os.fstat(fd)  # still open
        finally:
            try:
                os.close(fd)
            except OSError:
                pass

    def test_record_past_used(self):
        w = self.build()
        b = bytearray(w.bytes())
        struct.pack_into("=Q", b, 72, w.records["mu"] + 70)  # used: cuts the last record short
        name = self.publish(bytes(b))
        with self.assertRaises(shmgo.LayoutError) as cm:
            self.open(name).objects()
        self.assertEqual(cm.exception.offset, w.records["mu"])

    def test_damage_after(self):
        # As in Go: the objects before a damaged record stay reachable; the
        # look-ups that reach it, and the directory, fail.
        w = self.build()
        name, r = self.patch(w, "arr", "=I", 12, 0)  # its kind
        seg = self.open(name)
        self.assertEqual(seg["a"].value, 0)
        self.assertEqual(seg["v"].value, 0.0)
        for f in (lambda: seg["mu"], lambda: seg["nothing"], seg.objects, seg.names):
            with self.assertRaises(shmgo.LayoutError) as cm:
                f()
            self.assertEqual((cm.exception.field, cm.exception.offset), ("kind", r))

    def test_kind_of_a_later_version(self):
        # As in Go: a kind past those this version knows is listed, and only
        # its look-up fails; the other objects stay usable.
        w = self.build()
        name, r = self.patch(w, "arr", "=I", 12, 100)
        seg = self.open(name)
        self.assertEqual([(o.name, o.kind) for o in seg.objects()],
                         [("a", "RawValue"), ("v", "Value"), ("arr", "kind 100"), ("mu", "Mutex")])
        self.assertEqual(seg.objects()[2].type, "")
        with self.assertRaisesRegex(shmgo.ShmError, "kind 100, which this version of shmgo does not know"):
            seg["arr"]
        self.assertEqual(seg["a"].value, 0)

    def test_published_later(self):
        # A record linked after the open is found by a later look-up.
        w = SegWriter()
        w.raw_value("a", INT64)
        name = self.publish(w.bytes())
        seg = self.open(name)
        self.assertEqual(seg.names(), ["a"])
        with self.assertRaises(shmgo.ObjectNotFoundError):
            seg["b"]
        w.raw_value("b", INT64, struct.pack("=q", 42))
        self.write_at(name, 0, w.bytes())
        self.assertEqual(seg["b"].value, 42)
        self.assertEqual(seg.names(), ["a", "b"])

    def test_truncated_later(self):
        w = self.build()
        name = self.publish(w.bytes())
        seg = self.open(name)
        os.truncate("/dev/shm/" + name, 8192)
        with self.assertRaises(shmgo.ShmError) as cm:
            seg["nope"]
        self.assertIn("truncated", str(cm.exception))


# ---------------------------------------------------------------------------
# Descriptors to ctypes (section 5)

class DescriptorTest(unittest.TestCase):
    def parse(self, d):
        return shmgo._parse_descriptor(enc(d))

    def test_scalars(self):
        want = {"bool": ctypes.c_bool, "int8": ctypes.c_int8, "int16": ctypes.c_int16, "int32": ctypes.c_int32,
                "int64": ctypes.c_int64, "uint8": ctypes.c_uint8, "uint16": ctypes.c_uint16,
                "uint32": ctypes.c_uint32, "uint64": ctypes.c_uint64, "float32": ctypes.c_float,
                "float64": ctypes.c_double, "complex64": shmgo.Complex64, "complex128": shmgo.Complex128}
        for kind, c in want.items():
            with self.subTest(kind=kind):
                t = self.parse(scalar(kind))
                self.assertIs(t.ctype, c)
                self.assertEqual(ctypes.sizeof(c), scalar(kind)["size"])

    def test_atomic(self):
        for kind in ("int32", "int64", "uint32", "uint64"):
            t = self.parse(scalar(kind, atomic=True))
            self.assertEqual(ctypes.sizeof(t.ctype), scalar(kind)["size"])
            self.assertEqual(t.text(), "atomic " + kind)
        for kind in ("bool", "float64", "int8"):
            with self.assertRaises(shmgo._DescError):
                self.parse(scalar(kind, atomic=True))

    def test_mutex(self):
        self.assertIs(self.parse(MUTEX).ctype, shmgo.Mutex)
        with self.assertRaises(shmgo._DescError):
            self.parse({"kind": "mutex", "size": 4, "align": 4})

    def test_arrays(self):
        t = self.parse(array(array(INT32, 3), 2))
        self.assertEqual(ctypes.sizeof(t.ctype), 24)
        self.assertEqual(t.text(), "[2][3]int32")
        self.assertEqual(self.parse(array(INT64, 0)).size, 0)
        bad = array(INT32, 3)
        bad["size"] = 16
        self.assertRaises(shmgo._DescError, self.parse, bad)
        bad = array(INT32, 3)
        bad["align"] = 8
        self.assertRaises(shmgo._DescError, self.parse, bad)

    def test_struct_offsets(self):
        inner = struct_(("A", UINT8), ("B", INT64))
        d = struct_(("Flag", scalar("bool")), ("X", FLOAT64), ("_", INT32), ("In", inner),
                    ("N", array(scalar("int16"), 3)), ("Z", scalar("complex64")), ("Mu", MUTEX),
                    ("C", scalar("int64", atomic=True)), ("E", array(INT32, 0)), ("Last", UINT8))
        t = self.parse(d)
        c = t.ctype
        self.assertEqual(ctypes.sizeof(c), d["size"])
        for f in d["fields"]:
            if f["name"] != "_":
                self.assertEqual(getattr(c, f["name"]).offset, f["offset"], f["name"])
        self.assertEqual(getattr(c, "In").size, 16)
        self.assertEqual(t.text(), "struct {Flag bool @0; X float64 @8; _ int32 @16; In struct {A uint8 @0; "
                                   "B int64 @8} @24; N [3]int16 @40; Z complex64 @48; Mu shm.Mutex @56; "
                                   "C atomic int64 @64; Last uint8 @72}")
        self.assertEqual(c._shmgo_layout, t.text() + " (80 bytes)")
        # The fields are views: writing one writes its bytes at its offset.
        buf = bytearray(80)
        s = c.from_buffer(buf)
        s.X, s.In.B, s.Last = 2.5, -3, 7
        s.Z.value = 1 + 2j
        s.N[2] = 9
        self.assertEqual(struct.unpack_from("=d", buf, 8)[0], 2.5)
        self.assertEqual(struct.unpack_from("=q", buf, 32)[0], -3)
        self.assertEqual(buf[72], 7)
        self.assertEqual(struct.unpack_from("=ff", buf, 48), (1.0, 2.0))
        self.assertEqual(struct.unpack_from("=h", buf, 44)[0], 9)
        self.assertIsInstance(s.Mu, shmgo.Mutex)
        self.assertEqual(ctypes.addressof(s.Mu) - ctypes.addressof(s), 56)

    def test_trailing_align(self):
        # struct{ a int32; _ [0]int64 }: the zero-size field is left out but
        # still aligns the struct to 8, so its size is 8.
        d = {"kind": "struct", "size": 8, "align": 8,
             "fields": [{"name": "a", "offset": 0, "type": INT32}]}
        self.assertEqual(ctypes.sizeof(self.parse(d).ctype), 8)
        self.assertEqual(ctypes.sizeof(self.parse(array(d, 3)).ctype), 24)

    def test_empty_struct(self):
        self.assertEqual(ctypes.sizeof(self.parse(struct_()).ctype), 0)

    def test_bad_structs(self):
        good = struct_(("A", INT32), ("B", INT64))

        def variant(f):
            d = json.loads(json.dumps(good))
            f(d)
            return d
        bad = {
            "overlap": variant(lambda d: d["fields"][1].update(offset=2)),
            "misaligned": variant(lambda d: d["fields"][1].update(offset=12)),
            "past end": variant(lambda d: d.update(size=8, align=8)),
            "size not multiple": variant(lambda d: d.update(size=20)),
            "zero size field": variant(lambda d: d["fields"].append(
                {"name": "E", "offset": 16, "type": array(INT32, 0)})),
            "empty name": variant(lambda d: d["fields"][0].update(name="")),
            "field align above struct's": variant(lambda d: d.update(align=4)),
            "align 3": variant(lambda d: d.update(align=3, size=18)),
            "align 8192": variant(lambda d: d.update(align=8192, size=8192)),
            "size above 2^48": variant(lambda d: d.update(size=(1 << 48) + 8)),
        }
        for why, d in bad.items():
            with self.subTest(why):
                self.assertRaises(shmgo._DescError, self.parse, d)

    def test_unreachable_field_names(self):
        # Go accepts any field names; those that cannot be attributes of a
        # ctypes.Structure keep their place in the layout, unreachable by name.
        names = ["A", "A", "_fields_", "__class__", "from_buffer", "_shmgo_names", "_", "value"]
        d = struct_(*[(n, INT32) for n in names])
        t = self.parse(d)
        self.assertEqual(ctypes.sizeof(t.ctype), 4 * len(names))
        self.assertEqual(t.ctype._shmgo_names, ("A", "value"))
        self.assertEqual(t.text(), "struct {%s}" % "; ".join("%s int32 @%d" % (n, 4 * i) for i, n in enumerate(names)))
        buf = bytearray(struct.pack("=8i", *range(10, 18)))
        s = t.ctype.from_buffer(buf)
        self.assertEqual((s.A, s.value), (10, 17))  # the first A
        self.assertIs(type(s).from_buffer.__self__, type(s))  # ctypes's own method still works

    def test_big_align(self):
        d = struct_(("A", INT64))
        d.update(align=4096, size=4096)
        t = self.parse(d)
        self.assertEqual(ctypes.sizeof(t.ctype), 4096)
        self.assertEqual(ctypes.sizeof(self.parse(array(d, 2)).ctype), 8192)

    def test_json_strings_as_go(self):
        # Go's encoding/json escapes U+2028 and U+2029, and no HTML.
        self.assertEqual(shmgo._json_string("a\u2028b\u2029<>&\b\x7f\x01"), '"a\\u2028b\\u2029<>&\\b\x7f\\u0001"')
        ok = b'{"kind":"struct","size":4,"align":4,"fields":[{"name":"a\\u2028","offset":0,"type":' + enc(INT32) + b"}]}"
        self.assertEqual(self.parse_bytes(ok).text(), "struct {a\u2028 int32 @0}")
        self.assertRaises(shmgo._DescError, self.parse_bytes, ok.replace(b"\\u2028", "\u2028".encode()))
        lone = ok.replace(b"\\u2028", b"\\ud800")  # Go reads it as U+FFFD: not canonical
        self.assertRaises(shmgo._DescError, self.parse_bytes, lone)

    def parse_bytes(self, b):
        return shmgo._parse_descriptor(b)

    def test_deep(self):
        # As deep as Go goes: what fits in a 65536-byte descriptor.
        # (Built as text: json.dumps would reach the recursion limit.)
        d = b'{"kind":"array","size":4,"align":4,"len":1,"elem":' * 1250 + enc(INT32) + b"}" * 1250
        self.assertLessEqual(len(d), 65536)
        self.assertEqual(self.parse_bytes(d).text(), "[1]" * 1250 + "int32")
        d = b'{"kind":"struct","size":4,"align":4,"fields":[{"name":"F","offset":0,"type":' * 800 + \
            enc(INT32) + b"}]}" * 800
        self.assertLessEqual(len(d), 65536)
        self.assertEqual(ctypes.sizeof(self.parse_bytes(d).ctype), 4)
        limit = sys.getrecursionlimit()
        self.assertRaises(shmgo._DescError, self.parse_bytes, b"[" * 32768 + b"]" * 32768)
        self.assertEqual(sys.getrecursionlimit(), limit)

    def test_same_layout_same_class(self):
        d = struct_(("X", FLOAT64))
        self.assertIs(self.parse(d).ctype, self.parse(d).ctype)

    def test_fuzz_json(self):
        # Mutated descriptors: only _DescError, never another exception.
        rng = random.Random(7)
        base = [enc(struct_(("A", INT32), ("B", array(FLOAT64, 2)), ("M", MUTEX))), enc(array(INT64, 4))]
        for i in range(3000):
            b = bytearray(rng.choice(base))
            for _ in range(rng.randint(1, 4)):
                p = rng.randrange(len(b))
                r = rng.random()
                if r < 0.4:
                    b[p] = rng.randrange(256)
                elif r < 0.7:
                    b[p] = ord(rng.choice('0123456789{}[],:"-'))
                else:
                    b[p:p] = rng.choice([b"9", b"00", b'"', b"[", b"{}"])
            try:
                shmgo._parse_descriptor(bytes(b))
            except shmgo._DescError:
                pass
            except Exception as e:  # noqa: BLE001
                self.fail("descriptor %r (iteration %d): %r" % (bytes(b), i, e))


# ---------------------------------------------------------------------------
# Objects

class ObjectTest(SegTest):
    def test_raw_value_scalars(self):
        w = SegWriter()
        offs = {}
        for kind in ("bool", "int8", "uint16", "int32", "uint64", "float32", "float64", "complex64", "complex128"):
            offs[kind] = w.raw_value(kind, scalar(kind))
        name = self.publish(w.bytes())
        seg = self.open(name)
        vals = {"bool": True, "int8": -5, "uint16": 65535, "int32": -70000, "uint64": 1 << 63,
                "float32": 1.5, "float64": 2.25, "complex64": 1 - 2j, "complex128": 3.5 + 4j}
        fmts = {"bool": "?", "int8": "b", "uint16": "H", "int32": "i", "uint64": "Q", "float32": "f",
                "float64": "d", "complex64": "ff", "complex128": "dd"}
        for kind, v in vals.items():
            with self.subTest(kind=kind):
                rv = seg[kind]
                self.assertIsInstance(rv, shmgo.RawValue)
                rv.value = v
                self.assertEqual(rv.value, v)
                got = struct.unpack("=" + fmts[kind], self.read_at(name, offs[kind], struct.calcsize(fmts[kind])))
                want = (v.real, v.imag) if isinstance(v, complex) else (v,)
                self.assertEqual(got, want)

    def test_values_are_live(self):
        w = SegWriter()
        off = w.raw_value("x", FLOAT64)
        name = self.publish(w.bytes())
        seg = self.open(name)
        self.write_at(name, off, struct.pack("=d", 6.5))
        self.assertEqual(seg["x"].value, 6.5)

    def test_struct(self):
        d = struct_(("X", FLOAT64), ("N", array(INT32, 4)), ("Z", scalar("complex128")))
        w = SegWriter()
        off = w.raw_value("r", d)
        voff = w.value("v", d)
        name = self.publish(w.bytes())
        seg = self.open(name)
        r = seg["r"].value
        self.assertIsInstance(r, ctypes.Structure)
        r.X = 1.25
        r.N[3] = 44
        r.Z.value = 2j
        self.assertEqual(struct.unpack("=d4i", self.read_at(name, off, 24)), (1.25, 0, 0, 0, 44))
        self.assertEqual(struct.unpack("=dd", self.read_at(name, off + 24, 16)), (0.0, 2.0))
        self.assertIs(seg["r"].get_obj(), seg["r"].get_obj())
        # Setting copies a struct of the same layout in.
        v = seg["v"]
        v.value = r
        self.assertEqual(self.read_at(name, voff, 40), self.read_at(name, off, 40))
        # Value.value is a copy taken under the lock; get_obj() is live.
        c = v.value
        c.X = 99.0
        self.assertEqual(v.get_obj().X, 1.25)
        v.get_obj().X = 3.0
        self.assertEqual(struct.unpack("=d", self.read_at(name, voff, 8))[0], 3.0)
        with self.assertRaises(TypeError):
            v.value = 5
        with self.assertRaises(ValueError):
            v.value = b"short"
        self.assertIn("X=3.0", repr(v.value))

    def test_array_value(self):
        w = SegWriter()
        off = w.raw_value("a", array(INT64, 3))
        name = self.publish(w.bytes())
        seg = self.open(name)
        seg["a"].value = [1, 2, 3]
        self.assertEqual(struct.unpack("=3q", self.read_at(name, off, 24)), (1, 2, 3))
        self.assertEqual(seg["a"].value[:], [1, 2, 3])
        with self.assertRaises(ValueError):
            seg["a"].value = [1, 2]

    def test_value_locks(self):
        w = SegWriter()
        off = w.value("v", INT64)
        name = self.publish(w.bytes())
        seg = self.open(name)
        v = seg["v"]
        lock_off = struct.unpack_from("=Q", w.bytes(), w.records["v"] + 40)[0]
        m = v.get_lock()
        self.assertIsInstance(m, shmgo.Mutex)
        self.assertEqual(ctypes.addressof(m) - ctypes.addressof(v.get_obj()), lock_off - off)
        v.value = 5
        self.assertEqual(v.value, 5)
        self.assertFalse(m.locked())
        # The multiprocessing idiom works: .value does not lock again.
        def idiom():
            with v.get_lock():
                self.assertTrue(m.locked())
                v.value += 1
        self.finishes(idiom, ".value under get_lock()")
        self.assertEqual(struct.unpack("=q", self.read_at(name, off, 8))[0], 6)
        self.assertEqual(self.read_at(name, lock_off, 8), bytes(8))
        # .value takes the lock: while another thread holds it, .value waits.
        got = []
        m.acquire()
        t = threading.Thread(target=lambda: got.append(v.value))
        t.start()
        word = ctypes.c_uint64.from_buffer(seg._mm, lock_off)
        poll(self, lambda: word.value & shmgo.MARK, "the reader marks the word and sleeps")
        self.assertEqual(got, [])
        v.get_obj().value = 7
        m.release()
        t.join()
        self.assertEqual(got, [7])

    def test_raw_array(self):
        w = SegWriter()
        off = w.raw_array("a", INT32, 5, struct.pack("=5i", 1, 2, 3, 4, 5))
        name = self.publish(w.bytes())
        seg = self.open(name)
        a = seg["a"]
        self.assertIsInstance(a, ctypes.Array)
        self.assertEqual(len(a), 5)
        self.assertEqual(a[:], [1, 2, 3, 4, 5])
        a[4] = -1
        self.assertEqual(struct.unpack("=i", self.read_at(name, off + 16, 4))[0], -1)
        self.assertFalse(hasattr(a, "get_lock"))

    def test_array_of_structs(self):
        d = struct_(("A", UINT8), ("B", INT64))
        w = SegWriter()
        off = w.array("a", d, 3)
        name = self.publish(w.bytes())
        seg = self.open(name)
        a = seg["a"]
        self.assertIs(a.get_obj(), a)
        with a.get_lock():
            a[2].B = 77
        self.assertEqual(struct.unpack("=q", self.read_at(name, off + 2 * 16 + 8, 8))[0], 77)
        lock_off = struct.unpack_from("=Q", w.bytes(), w.records["a"] + 40)[0]
        self.assertEqual(ctypes.addressof(a.get_lock()), ctypes.addressof(ctypes.c_char.from_buffer(seg._mm)) + lock_off)

    def test_mutex_object(self):
        w = SegWriter()
        off = w.mutex("mu")
        name = self.publish(w.bytes())
        seg = self.open(name)
        m = seg["mu"]
        self.assertIsInstance(m, shmgo.Mutex)
        with m:
            word = struct.unpack("=Q", self.read_at(name, off, 8))[0]
            self.assertEqual(word, shmgo._runtime().token)
        self.assertEqual(self.read_at(name, off, 8), bytes(8))

    def test_mutex_in_struct(self):
        d = struct_(("N", INT64), ("Mu", MUTEX))
        w = SegWriter()
        off = w.raw_value("s", d)
        voff = w.value("v", d)
        name = self.publish(w.bytes())
        seg = self.open(name)
        s = seg["s"].value
        with s.Mu:
            self.assertEqual(struct.unpack("=Q", self.read_at(name, off + 8, 8))[0], shmgo._runtime().token)
        # A copy's Mutex is not the shared lock: locking it is an error.
        copy = seg["v"].value
        with self.assertRaises(shmgo.ShmError) as cm:
            copy.Mu.acquire()
        self.assertIn("copy", str(cm.exception))
        self.assertEqual(self.read_at(name, voff + 8, 8), bytes(8))

    def test_lookup_errors(self):
        w = SegWriter()
        w.raw_value("a", INT64)
        seg = self.open(self.publish(w.bytes()))
        with self.assertRaises(shmgo.ObjectNotFoundError) as cm:
            seg["b"]
        self.assertIsInstance(cm.exception, KeyError)
        self.assertIn("'b'", str(cm.exception))
        self.assertIn(seg.name, str(cm.exception))
        self.assertIn("a", seg)
        self.assertNotIn("b", seg)
        self.assertIs(seg["a"], seg[b"a"])
        with self.assertRaises(shmgo.ShmError):
            seg.buf

    def test_close(self):
        w = SegWriter()
        w.raw_value("a", INT64)
        w.raw_array("b", INT32, 2)
        name = self.publish(w.bytes())
        with shmgo.open(name) as seg:
            a, b = seg["a"], seg["b"]
        with self.assertRaises(shmgo.ShmError):
            seg["a"]
        # Objects stay valid after close, as in Go.
        a.value = 3
        b[1] = 4
        with shmgo.open(name) as seg2:
            self.assertEqual(seg2["a"].value, 3)
            self.assertEqual(seg2["b"][:], [0, 4])
            # The same file opened again shares the mapping.
            self.assertEqual(ctypes.addressof(seg2["a"].get_obj()), ctypes.addressof(a.get_obj()))

    def test_raw_segment(self):
        from multiprocessing import shared_memory
        shm = shared_memory.SharedMemory(create=True, size=100)
        self.addCleanup(shm.unlink)
        try:
            shm.buf[:5] = b"hello"
            seg = self.open(shm.name)
            self.assertTrue(seg.raw)
            self.assertEqual(seg.size, 100)
            self.assertEqual(bytes(seg.buf[:5]), b"hello")
            seg.buf[5] = ord("!")
            self.assertEqual(bytes(shm.buf[:6]), b"hello!")
            self.assertEqual(seg.names(), [])
            with self.assertRaises(shmgo.ShmError) as cm:
                seg["x"]
            self.assertIn("no shm header", str(cm.exception))
            seg.close()
        finally:
            shm.close()

    def test_empty_raw(self):
        name = self.publish(b"")
        seg = self.open(name)
        self.assertTrue(seg.raw)
        self.assertEqual(len(seg.buf), 0)

    def test_read_only(self):
        # Another user (uid 65534) opens a 0644 segment: read-only. As root,
        # the child drops to uid 65534; otherwise a 0444 file is read-only to us.
        w = SegWriter()
        d = struct_(("X", FLOAT64), ("Mu", MUTEX))
        w.raw_value("f", FLOAT64, struct.pack("=d", 1.5))
        w.value("v", INT64, struct.pack("=q", 9))
        w.raw_array("a", INT32, 3, struct.pack("=3i", 4, 5, 6))
        w.raw_value("s", d, struct.pack("=d", 2.5))
        w.mutex("mu")
        if os.geteuid() == 0:
            skip_unless_nobody_can_run(self)
            name = self.publish(w.bytes(), mode=0o644)
            prefix = AS_NOBODY
        else:
            name = self.publish(w.bytes(), mode=0o444)
            prefix = []
        code = CHILD_PRELUDE + r"""
seg = shmgo.open(sys.argv[1])
out = [seg.readonly, seg["f"].value, seg["v"].value, seg["a"][:], len(seg["a"]), seg["a"][-1],
       seg["s"].value.X]
def fails(f, exc):
    try:
        f()
    except exc as e:
        return type(e).__name__
    return "no error"
def set_f(): seg["f"].value = 2.0
def set_a(): seg["a"][0] = 1
out += [fails(set_f, shmgo.ReadOnlyError), fails(set_a, shmgo.ReadOnlyError),
        fails(seg["mu"].acquire, shmgo.ReadOnlyError), fails(seg["v"].get_lock().acquire, shmgo.ReadOnlyError),
        fails(seg["s"].value.Mu.acquire, shmgo.ShmError)]
print(repr(out))
"""
        r = subprocess.run(prefix + [sys.executable, "-c", code, name], capture_output=True, text=True, timeout=60,
                           cwd="/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(eval(r.stdout), [True, 1.5, 9, [4, 5, 6], 3, 6, 2.5, "ReadOnlyError", "ReadOnlyError",
                                          "ReadOnlyError", "ReadOnlyError", "ShmError"])
        self.assertEqual(self.read_at(name, 0, 8), b"shmgoSEG")

    def test_no_access(self):
        skip_unless_nobody_can_run(self)
        w = SegWriter()
        name = self.publish(w.bytes(), mode=0o600)
        code = CHILD_PRELUDE + r"""
try:
    shmgo.open(sys.argv[1])
except shmgo.ShmError as e:
    print(e)
"""
        r = subprocess.run(AS_NOBODY + [sys.executable, "-c", code, name], capture_output=True, text=True,
                           timeout=60, cwd="/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Permission denied", r.stdout)
        self.assertIn(name, r.stdout)


# ---------------------------------------------------------------------------
# Fuzzing the header and the records

class FuzzTest(SegTest):
    def test_flips(self):
        w = SegWriter()
        w.raw_value("f", FLOAT64)
        w.value("v", struct_(("X", FLOAT64), ("N", array(INT32, 3)), ("Mu", MUTEX)))
        w.raw_array("a", INT32, 4)
        w.array("b", struct_(("A", UINT8), ("Z", scalar("complex64"))), 2)
        w.mutex("mu")
        good = w.bytes()
        regions = [(0, 100)] + [(r, r + 64 + 80) for r in w.records.values()]
        name = self.publish(good)
        rng = random.Random(int(os.environ.get("SHMGO_FUZZ_SEED", "1")))
        outcomes = {}
        for i in range(1500):
            b = bytearray(good)
            for _ in range(rng.randint(1, 6)):
                lo, hi = rng.choice(regions)
                p = rng.randrange(lo, min(hi, len(b)))
                if rng.random() < 0.5:
                    b[p] ^= 1 << rng.randrange(8)
                else:
                    b[p] = rng.choice([0, 0xff, rng.randrange(256)])
            if rng.random() < 0.7:
                w.fix_checksum(b)
            if rng.random() < 0.5:  # fix the hashes too, so the descriptors get parsed
                for r in w.records.values():
                    nlen, _, dlen = struct.unpack_from("=HHI", b, r + 56)
                    if 64 + nlen + dlen < 2000:
                        struct.pack_into("=Q", b, r + 48, fnv(bytes(b[r + 64 + nlen:r + 64 + nlen + dlen])))
            self.write_at(name, 0, bytes(b))
            try:
                seg = shmgo.open(name)
                try:
                    for n in seg.names():
                        o = seg[n]
                        if isinstance(o, shmgo.RawValue):
                            repr(o.get_obj())
                            if not isinstance(o, shmgo.Value):
                                o.value
                        elif isinstance(o, ctypes.Array):
                            o[:]
                        elif isinstance(o, shmgo.Mutex):
                            o.locked()
                finally:
                    seg.close()
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except shmgo.ShmError as e:
                k = type(e).__name__ + ":" + getattr(e, "field", "")
                outcomes[k] = outcomes.get(k, 0) + 1
            except Exception as e:  # noqa: BLE001
                self.fail("iteration %d: %r (bytes differ at %s)" % (
                    i, e, [j for j in range(len(b)) if b[j] != good[j]]))
        # The flips reached deep checks, not only the first ones.
        for k in ("ok", "LayoutError:checksum", "LayoutError:descriptor", "LayoutError:type hash"):
            self.assertIn(k, outcomes, outcomes)


# ---------------------------------------------------------------------------
# Liveness tokens (section 6)

class TokenTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "tokens")
        self.atomics = shmgo._runtime().atomics
        self.tables = []

    def tearDown(self):
        for t in self.tables:
            t.close()
        shutil.rmtree(self.dir)

    def table(self, path=None):
        t = shmgo._TokenTable(path or self.path, self.atomics)
        self.tables.append(t)
        return t

    def test_formula(self):
        for s, g in [(0, 1), (5, 0x7fff), (65535, 0x8000), (1, shmgo.LAST_GEN)]:
            t = shmgo.make_token(s, g)
            self.assertEqual((shmgo.token_slot(t), shmgo.token_generation(t)), (s, g))
            self.assertEqual(t & 0x80000000, 0)
            self.assertTrue(shmgo.token_valid(t))
        self.assertEqual(shmgo.make_token(3, 0x8001), 3 | 1 << 16 | 1 << 32)
        self.assertFalse(shmgo.token_valid(shmgo.make_token(1, 0)))
        self.assertFalse(shmgo.token_valid(shmgo.make_token(1, shmgo.LAST_GEN + 1)))
        self.assertFalse(shmgo.token_valid(shmgo.make_token(1, 1) | shmgo.MARK))

    def test_my_token_in_user_table(self):
        # What this process wrote to its user's table, read back through
        # another description, follows the spec byte for byte.
        rt = shmgo._runtime()
        tok = rt.token
        path = shmgo.user_table_path()
        self.assertEqual(path, "/dev/shm/.shm-tokens-%d" % os.geteuid())
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(st.st_size, 786432)
        self.assertEqual(st.st_mode & 0o077, 0)
        self.assertEqual(st.st_uid, os.geteuid())
        s = tok & 0xffff
        fd = os.open(path, os.O_RDONLY)
        try:
            word = struct.unpack("=Q", os.pread(fd, 8, 8 * s))[0]
            pid = struct.unpack("=I", os.pread(fd, 4, 524288 + 4 * s))[0]
            lk = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, struct.pack("@hhqqi4x", fcntl.F_WRLCK, 0, s, 1, 0))
        finally:
            os.close(fd)
        self.assertEqual(word, tok)
        self.assertEqual(pid, os.getpid())
        gen = (tok >> 16) & 0x7fff | (tok >> 32) << 15
        self.assertEqual(tok, s | (gen & 0x7fff) << 16 | (gen >> 15) << 32)
        self.assertTrue(1 <= gen <= (1 << 47) - 2)
        self.assertEqual(tok & (1 << 31), 0)
        l_type, l_whence, l_start, l_len = struct.unpack("@hhqqi4x", lk)[:4]
        self.assertEqual((l_type, l_start, l_len), (fcntl.F_WRLCK, s, 1))
        self.assertTrue(rt.table.alive(tok))  # never its own token dead

    def test_alive(self):
        a, b = self.table(), self.table()
        ta = a.acquire()
        tb = b.acquire()
        self.assertNotEqual(shmgo.token_slot(ta), shmgo.token_slot(tb))
        self.assertEqual(shmgo.token_slot(ta), 0)  # the lowest free slot
        self.assertTrue(b.alive(ta))
        self.assertTrue(a.alive(tb))
        self.assertEqual(b.pid(ta), os.getpid())
        a.close()
        self.assertFalse(b.alive(ta))
        # The slot is taken again, by the next generation: the old token stays dead.
        c = self.table()
        tc = c.acquire()
        self.assertEqual(shmgo.token_slot(tc), shmgo.token_slot(ta))
        self.assertEqual(shmgo.token_generation(tc), shmgo.token_generation(ta) + 1)
        self.assertFalse(b.alive(ta))
        self.assertTrue(b.alive(tc))
        self.assertFalse(b.alive(0))
        self.assertFalse(b.alive(tc | shmgo.MARK))

    def test_retired_slot(self):
        a = self.table()
        a.acquire()
        a.close()
        fd = os.open(self.path, os.O_RDWR)
        os.pwrite(fd, struct.pack("=Q", shmgo.make_token(0, shmgo.LAST_GEN)), 0)
        os.close(fd)
        b = self.table()
        tb = b.acquire()
        self.assertEqual(shmgo.token_slot(tb), 1)
        self.assertEqual(shmgo.token_generation(tb), 1)

    def test_table_checks(self):
        self.table().close()  # made: 0600, the right size
        st = os.stat(self.path)
        self.assertEqual((st.st_size, st.st_mode & 0o777), (786432, 0o600))
        link = os.path.join(self.dir, "link")
        os.symlink(self.path, link)
        with self.assertRaisesRegex(shmgo.ShmError, "symbolic link"):
            self.table(link)
        os.chmod(self.path, 0o640)
        with self.assertRaisesRegex(shmgo.ShmError, "mode 0o640"):
            self.table()
        os.chmod(self.path, 0o600)
        os.truncate(self.path, 1000)
        with self.assertRaisesRegex(shmgo.ShmError, "1000 bytes, want 786432"):
            self.table()
        os.truncate(self.path, 0)
        self.table()  # size 0: sized again
        self.assertEqual(os.stat(self.path).st_size, 786432)
        d = os.path.join(self.dir, "dir")
        os.mkdir(d, 0o700)
        with self.assertRaisesRegex(shmgo.ShmError, "dir"):
            self.table(d)
        if os.geteuid() == 0:
            os.chown(self.path, 65534, 65534)
            with self.assertRaisesRegex(shmgo.ShmError, "belongs to user 65534"):
                self.table()

    def test_child_token(self):
        # A child's token is alive while it runs, and dead once it is killed.
        p = child(self, "rt = shmgo._runtime()\nprint(rt.token, flush=True)\nsys.stdin.readline()\n")
        tok = int(p.stdout.readline())
        t = shmgo._runtime().table
        self.assertTrue(t.alive(tok))
        self.assertNotEqual(tok, shmgo._runtime().token)
        p.kill()
        p.wait()
        self.assertFalse(t.alive(tok))

    def test_fork(self):
        # A forked child takes a token of its own, and does not keep its parent's alive.
        parent = shmgo._runtime().token
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                os.write(w, b"%d\n" % shmgo._runtime().token)
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            tok = int(f.readline())
        os.waitpid(pid, 0)
        self.assertNotEqual(tok, parent)
        self.assertTrue(shmgo.token_valid(tok))


# ---------------------------------------------------------------------------
# Mutex (section 7)

class MutexTest(SegTest):
    def seg_with_counter(self):
        w = SegWriter()
        voff = w.value("counter", INT64)
        moff = w.mutex("mu")
        self.moff = moff
        name = self.publish(w.bytes())
        return name, self.open(name)

    def word(self, name):
        return struct.unpack("=Q", self.read_at(name, self.moff, 8))[0]

    def test_processes_count(self):
        name, seg = self.seg_with_counter()
        n = 20000
        code = "import interop\ninterop.count(sys.argv[1], int(sys.argv[2]))\n"  # says ready, then done
        ps = [child(self, code, name, n) for _ in range(2)]
        for p in ps:
            expect_line(self, p, "ready")
        for p in ps:
            p.stdin.write("go\n")
            p.stdin.flush()
        for _ in range(n):  # and this process too, through the same lock
            with seg["counter"].get_lock():
                seg["counter"].value += 1
        for p in ps:
            expect_line(self, p, "done")
            p.wait()
        self.assertEqual(seg["counter"].value, 3 * n)
        self.assertFalse(seg["counter"].get_lock().locked())

    def test_threads_count(self):
        name, seg = self.seg_with_counter()
        m, obj = seg["mu"], seg["counter"].get_obj()
        n = 5000

        def work():
            for _ in range(n):
                with m:
                    obj.value += 1
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(obj.value, 4 * n)
        self.assertEqual(self.word(name), 0)

    def hold_in_child(self, name):
        p = child(self, r"""
seg = shmgo.open(sys.argv[1])
m = seg["mu"]
m.acquire()
print("locked", flush=True)
if sys.stdin.readline().strip() == "release":
    m.release()
    print("released", flush=True)
    sys.stdin.readline()
""", name)
        expect_line(self, p, "locked")
        return p

    def wait_marked(self, name):
        poll(self, lambda: self.word(name) & shmgo.MARK, "the waiter marks the word and sleeps")

    def test_owner_killed(self):
        name, seg = self.seg_with_counter()
        p = self.hold_in_child(name)
        m = seg["mu"]
        theirs = self.word(name)
        self.assertNotEqual(theirs, shmgo._runtime().token)
        self.assertFalse(m.acquire(blocking=False))
        self.assertFalse(m.acquire(timeout=0.01))
        p.kill()
        p.wait()
        with self.assertRaises(shmgo.OwnerDeadError) as cm:
            m.acquire(timeout=LONG)  # a broken check would wait forever: fail instead
        self.assertIs(cm.exception.mutex, m)
        self.assertEqual(cm.exception.token, theirs)
        self.assertEqual(self.word(name) & ~shmgo.MARK, shmgo._runtime().token)  # held by this process
        m.release()
        self.assertEqual(self.word(name), 0)
        self.assertTrue(m.acquire(blocking=False))
        m.release()

    def test_owner_killed_while_waiting(self):
        name, seg = self.seg_with_counter()
        p = self.hold_in_child(name)
        m = seg["mu"]
        result = []

        def wait():
            try:
                result.append(m.acquire(timeout=LONG))
            except shmgo.OwnerDeadError as e:
                result.append(e)
        t = threading.Thread(target=wait)
        t.start()
        self.wait_marked(name)
        p.kill()
        p.wait()
        t.join()
        self.assertEqual(len(result), 1)
        self.assertIsInstance(result[0], shmgo.OwnerDeadError)
        self.assertEqual(self.word(name), shmgo._runtime().token | shmgo.MARK)
        m.release()
        self.assertEqual(self.word(name), 0)

    def test_owner_killed_nonblocking(self):
        name, seg = self.seg_with_counter()
        p = self.hold_in_child(name)
        p.kill()
        p.wait()
        with self.assertRaises(shmgo.OwnerDeadError):
            seg["mu"].acquire(blocking=False)
        seg["mu"].release()

    def test_value_owner_killed(self):
        name, seg = self.seg_with_counter()
        p = child(self, r"""
seg = shmgo.open(sys.argv[1])
seg["counter"].get_lock().acquire()
print("locked", flush=True)
sys.stdin.readline()
""", name)
        expect_line(self, p, "locked")
        p.kill()
        p.wait()
        v = seg["counter"]

        def take_over():
            with self.assertRaises(shmgo.OwnerDeadError):
                v.value = 5
            self.assertEqual(v.get_obj().value, 0)  # not written
            self.assertTrue(v.get_lock().locked())
            v.value = 5  # this thread holds the lock: no locking again
            v.get_lock().release()
        self.finishes(take_over, "taking over a dead owner's Value")
        self.assertEqual(v.value, 5)

    def test_wait_for_release(self):
        name, seg = self.seg_with_counter()
        p = self.hold_in_child(name)
        m = seg["mu"]
        result = []
        t = threading.Thread(target=lambda: result.append(m.acquire(timeout=LONG)))
        t.start()
        self.wait_marked(name)
        self.assertEqual(result, [])
        p.stdin.write("release\n")
        p.stdin.flush()
        expect_line(self, p, "released")
        t.join()
        self.assertEqual(result, [True])
        # Acquired after sleeping: with the mark.
        self.assertEqual(self.word(name), shmgo._runtime().token | shmgo.MARK)
        m.release()
        self.assertEqual(self.word(name), 0)

    def test_timeout(self):
        name, seg = self.seg_with_counter()
        self.hold_in_child(name)
        m = seg["mu"]
        self.assertFalse(m.acquire(timeout=0.05))
        self.assertFalse(m.acquire(False))
        with self.assertRaises(ValueError):
            m.acquire(False, 1)
        with self.assertRaises(ValueError):
            m.acquire(timeout=-2)

    def test_release_errors(self):
        name, seg = self.seg_with_counter()
        m = seg["mu"]
        with self.assertRaisesRegex(shmgo.LockError, "unlocked"):
            m.release()
        self.assertIsInstance(shmgo.LockError("x"), RuntimeError)
        self.hold_in_child(name)
        with self.assertRaisesRegex(shmgo.LockError, "another process"):
            m.release()
        self.assertNotEqual(self.word(name), 0)

    def test_release_from_another_thread(self):
        name, seg = self.seg_with_counter()
        m = seg["mu"]
        m.acquire()
        t = threading.Thread(target=m.release)
        t.start()
        t.join()
        self.assertEqual(self.word(name), 0)

    def test_not_in_segment(self):
        with self.assertRaisesRegex(shmgo.ShmError, "copy"):
            shmgo.Mutex().acquire()

    def test_no_libatomic(self):
        name, _ = self.seg_with_counter()
        code = r"""
import ctypes, ctypes.util
ctypes.util.find_library = lambda n: None
real = ctypes.CDLL
class CDLL(real):
    def __init__(self, name, *a, **k):
        if name and "atomic" in name:
            raise OSError(name + ": cannot open shared object file")
        real.__init__(self, name, *a, **k)
ctypes.CDLL = CDLL
seg = shmgo.open(sys.argv[1])
print(seg["counter"].get_obj().value)
try:
    seg["mu"].acquire()
except shmgo.ShmError as e:
    print(e)
"""
        r = subprocess.run([sys.executable, "-c", CHILD_PRELUDE + code, name], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.splitlines()
        self.assertEqual(out[0], "0")  # reading needs no libatomic
        self.assertIn("libatomic.so.1", out[1])
        self.assertIn("apt-get install libatomic1", out[1])
        self.assertEqual(self.word(name), 0)


# ---------------------------------------------------------------------------
# Against Go's own Mutex (sections 6 and 7)
#
# A small Go program (built in a temporary module that uses this repository)
# puts a Mutex and a counter in its anonymous shared memory, and Python maps
# the same memfd through /proc/PID/fd. Both sides then speak the protocol
# with their own code. Named segments made by Go are checked against shmgo
# by the Go tests in named_python_test.go and readme_test.go.

GO_PROGRAM = r"""package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/shmgo/shm"
)

type shared struct {
	Mu shm.Mutex
	N  int64
}

// where returns the inode of the file mapped at p and p's offset in it.
func where(p uintptr) (ino uint64, off uint64) {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		panic(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		r := strings.SplitN(f[0], "-", 2)
		lo, _ := strconv.ParseUint(r[0], 16, 64)
		hi, _ := strconv.ParseUint(r[1], 16, 64)
		if uint64(p) >= lo && uint64(p) < hi {
			fo, _ := strconv.ParseUint(f[2], 16, 64)
			ino, _ = strconv.ParseUint(f[4], 10, 64)
			return ino, uint64(p) - lo + fo
		}
	}
	panic("not mapped")
}

func main() {
	shm.Main()
	v, err := shm.NewRawValue(shared{})
	if err != nil {
		panic(err)
	}
	s := v.Ptr()
	ino, off := where(uintptr(unsafe.Pointer(s)))
	fmt.Println(os.Getpid(), ino, off)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "lock":
			s.Mu.Lock()
			fmt.Println("locked")
		case "unlock":
			s.Mu.Unlock()
			fmt.Println("unlocked")
		case "lockctx":
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := s.Mu.LockContext(ctx)
			cancel()
			switch err {
			case nil:
				fmt.Println("ok")
			case shm.ErrOwnerDead:
				fmt.Println("ownerdead")
			default:
				fmt.Println("error", err)
			}
		case "count":
			n, _ := strconv.Atoi(f[1])
			for i := 0; i < n; i++ {
				s.Mu.Lock()
				s.N++
				s.Mu.Unlock()
			}
			fmt.Println("counted")
		}
	}
}
"""


def map_go_memory(pid, ino):
    """Maps the memfd of process pid that has inode ino; returns the mmap."""
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        path = os.path.join(d, fd)
        try:
            if os.stat(path).st_ino != ino:
                continue
        except OSError:
            continue
        f = os.open(path, os.O_RDWR)
        try:
            import mmap
            return mmap.mmap(f, os.fstat(f).st_size)
        finally:
            os.close(f)
    raise AssertionError("no descriptor of process %d has inode %d" % (pid, ino))


class GoShared(ctypes.Structure):
    _fields_ = [("Mu", shmgo.Mutex), ("N", ctypes.c_int64)]


class GoTest(SegTest):
    @classmethod
    def setUpClass(cls):
        cls.tmp = None
        if shutil.which("go") is None:
            raise unittest.SkipTest("go is not installed: the Go side cannot be checked")
        repo = os.path.dirname(HERE)
        cls.tmp = tempfile.mkdtemp()
        with open(os.path.join(repo, "go.mod")) as f:
            godir = next(l for l in f if l.startswith("go "))
        with open(os.path.join(cls.tmp, "go.mod"), "w") as f:
            f.write("module interop\n\n%s\nrequire github.com/shmgo/shm v0.0.0\n\n"
                    "replace github.com/shmgo/shm => %s\n" % (godir, repo))
        shutil.copy(os.path.join(repo, "go.sum"), cls.tmp)
        with open(os.path.join(cls.tmp, "main.go"), "w") as f:
            f.write(GO_PROGRAM)
        cls.exe = os.path.join(cls.tmp, "interop")
        r = subprocess.run(["go", "build", "-mod=mod", "-o", cls.exe, "."], cwd=cls.tmp, capture_output=True,
                           text=True, timeout=900)
        if r.returncode != 0:
            shutil.rmtree(cls.tmp)
            raise AssertionError("building the Go side failed:\n" + r.stderr)

    @classmethod
    def tearDownClass(cls):
        if cls.tmp:
            shutil.rmtree(cls.tmp)

    def start_go(self):
        p = subprocess.Popen([self.exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, bufsize=1)

        def end():
            p.kill()
            p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                f.close()
        self.addCleanup(end)
        pid, ino, off = map(int, p.stdout.readline().split())
        mm = map_go_memory(pid, ino)
        return p, pid, ino, off, GoShared.from_buffer(mm, off)

    def go(self, p, command, want):
        p.stdin.write(command + "\n")
        p.stdin.flush()
        if want is not None:
            expect_line(self, p, want)

    def test_count_with_go(self):
        p, _, _, _, s = self.start_go()
        n = 100000
        self.go(p, "count %d" % n, None)
        for _ in range(n):
            with s.Mu:
                s.N += 1
        expect_line(self, p, "counted")
        self.assertEqual(s.N, 2 * n)
        self.assertEqual(s.Mu._word, 0)

    def test_go_waits_for_python(self):
        p, _, _, _, s = self.start_go()
        s.Mu.acquire()
        self.go(p, "lockctx", None)
        poll(self, lambda: s.Mu._word & shmgo.MARK, "Go marks the word and sleeps")
        s.Mu.release()
        expect_line(self, p, "ok")
        self.assertFalse(s.Mu.acquire(blocking=False))  # Go holds it now
        self.go(p, "unlock", "unlocked")
        self.assertTrue(s.Mu.acquire(blocking=False))
        s.Mu.release()

    def test_go_killed(self):
        p, _, _, _, s = self.start_go()
        self.go(p, "lock", "locked")
        go_token = s.Mu.owner()
        self.assertTrue(shmgo._runtime().table.alive(go_token))
        self.assertFalse(s.Mu.acquire(blocking=False))
        p.kill()
        p.wait()
        self.assertFalse(shmgo._runtime().table.alive(go_token))
        with self.assertRaises(shmgo.OwnerDeadError) as cm:
            s.Mu.acquire(timeout=LONG)
        self.assertEqual(cm.exception.token, go_token)
        s.Mu.release()

    def test_python_killed(self):
        p, pid, ino, off, s = self.start_go()
        c = child(self, r"""
import ctypes, mmap
pid, ino, off = map(int, sys.argv[1:4])
d = "/proc/%d/fd" % pid
for fd in os.listdir(d):
    try:
        if os.stat(os.path.join(d, fd)).st_ino == ino:
            break
    except OSError:
        pass
f = os.open(os.path.join(d, fd), os.O_RDWR)
mm = mmap.mmap(f, os.fstat(f).st_size)
m = shmgo.Mutex.from_buffer(mm, off)
m.acquire()
print("locked", flush=True)
sys.stdin.readline()
""", pid, ino, off)
        expect_line(self, c, "locked")
        self.go(p, "lockctx", None)
        poll(self, lambda: s.Mu._word & shmgo.MARK, "Go marks the word and sleeps")
        c.kill()
        c.wait()
        expect_line(self, p, "ownerdead")
        self.go(p, "unlock", "unlocked")
        self.assertEqual(s.Mu._word, 0)


if __name__ == "__main__":
    unittest.main()
