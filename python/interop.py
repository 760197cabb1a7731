#!/usr/bin/env python3
"""The Python side of the Go tests in named_python_test.go.

Each command is one unrelated Python program that uses shmgo on a segment that
a Go test made, or makes a plain SharedMemory for Go to read. It talks to the
test through its standard input and output, one line at a time, so that the
test never has to guess when a step is done:

    interop.py values SEG NEW       print the objects of SEG as JSON, then store NEW (JSON)
    interop.py count SEG N          at a line on stdin, N locked increments of the Value "counter"
    interop.py hold SEG NAME        lock the Mutex NAME, say "locked", wait to be killed
    interop.py acquire SEG NAME     report a held lock, then wait for it: "ownerdead" if its owner died
    interop.py sharedmemory NAME SIZE   a plain SharedMemory for Go to read and write
    interop.py open NAME...         for each segment: whether it opens, its objects or the error
    interop.py readonly SEG VALUE   how SEG opens (read-only or not), VALUE, and whether its lock locks
"""

import json
import os
import sys
from multiprocessing import shared_memory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shmgo  # noqa: E402


def say(*args):
    print(*args, flush=True)


def wait_line():
    if not sys.stdin.readline():
        raise SystemExit("interop.py: standard input closed")


def plain(x):
    """Returns x, read from a segment, as JSON-able data."""
    if isinstance(x, shmgo.Mutex):
        return {"locked": x.locked()}
    if hasattr(x, "_shmgo_names"):  # a struct built from a descriptor
        return {n: plain(getattr(x, n)) for n in x._shmgo_names}
    if isinstance(x, complex):
        return [x.real, x.imag]
    if hasattr(x, "_length_"):  # a ctypes array
        return [plain(e) for e in x]
    if hasattr(x, "value") and not isinstance(x, (int, float, bool)):
        return plain(x.value)
    return x


def layout(o):
    """Returns the readable layout of object o without its size, as Go's
    ObjectInfo.Type gives it."""
    return o.type.rsplit(" (", 1)[0]


def values(name, new):
    """Reads a Value[float64] "temp", a RawArray[int32] "counts" and a
    Value[struct] "reading", prints them with the layouts shmgo read, and then
    writes the values of new into them."""
    seg = shmgo.open(name)
    temp, counts, reading = seg["temp"], seg["counts"], seg["reading"]
    got = {
        "layouts": {o.name: [o.kind, layout(o)] for o in seg.objects()},
        "temp": temp.value,
        "counts": counts[:],
        "reading": plain(reading.value),
    }
    say(json.dumps(got, sort_keys=True))
    new = json.loads(new)
    temp.value = new["temp"]
    for i, x in enumerate(new["counts"]):
        counts[i] = x
    with reading.get_lock():
        r = reading.get_obj()  # the live struct: written in place, under the lock
        set_fields(r, new["reading"])
    say("written")


def set_fields(obj, d):
    for k, v in d.items():
        cur = getattr(obj, k)
        if isinstance(v, dict):
            set_fields(cur, v)
        elif isinstance(v, list):
            for i, e in enumerate(v):
                cur[i] = e
        else:
            setattr(obj, k, v)


def count(name, n):
    seg = shmgo.open(name)
    v = seg["counter"]
    lock = v.get_lock()
    say("ready")
    wait_line()
    for _ in range(n):
        with lock:
            v.value += 1  # the lock is held: .value does not lock again
    say("done")


def hold(name, obj):
    seg = shmgo.open(name)
    m = seg[obj]
    m.acquire()
    say("locked", hex(m.owner()))
    wait_line()


def acquire(name, obj):
    seg = shmgo.open(name)
    m = seg[obj]
    if m.acquire(blocking=False):
        say("not held")
        m.release()
        return
    say("held", hex(m.owner()))
    try:
        m.acquire(timeout=60)
    except shmgo.OwnerDeadError as e:
        # acquire took the lock over: this process holds it here.
        say("ownerdead", hex(e.token), m.owner() == shmgo._runtime().token)
        m.release()
        say("released")
        return
    say("acquired")
    m.release()


def sharedmemory(name, size):
    """Makes a plain SharedMemory of size bytes, fills it for Go to read, and
    at each line on stdin reports what it holds; it unlinks it at the end,
    when stdin closes."""
    shm = shared_memory.SharedMemory(name, create=True, size=size)
    try:
        for i in range(size):
            shm.buf[i] = i * 7 % 251
        seg = shmgo.open(name)
        say("ready", seg.raw, len(seg.buf), seg.readonly)
        seg.close()
        while sys.stdin.readline():
            say("sum", sum(shm.buf[:size]))
    finally:
        shm.close()
        shm.unlink()


def open_all(names):
    """Opens each segment and reads its directory, saying how far it got."""
    for name in names:
        v = {"name": name, "opened": False, "ok": False}
        try:
            seg = shmgo.open(name)
            v["opened"] = True
            objs = seg.objects()
            v.update(ok=True, objects=[[o.name, o.kind, layout(o)] for o in objs])
            seg.close()
        except shmgo.ShmError as e:
            v["error"] = str(e)
        except Exception as e:  # shmgo promises ShmError for any bad segment: the test fails on this
            v.update(error="not a ShmError: %r" % e, crash=True)
        say(json.dumps(v))


def readonly(name, value):
    seg = shmgo.open(name)
    say("readonly", seg.readonly)
    v = seg[value]
    say("value", v.value)
    try:
        v.get_lock().acquire(blocking=False)
        say("locked")
    except shmgo.ReadOnlyError as e:
        say("ReadOnlyError", e)


def main(argv):
    cmd = argv[0]
    if cmd == "values":
        values(argv[1], argv[2])
    elif cmd == "count":
        count(argv[1], int(argv[2]))
    elif cmd == "hold":
        hold(argv[1], argv[2])
    elif cmd == "acquire":
        acquire(argv[1], argv[2])
    elif cmd == "sharedmemory":
        sharedmemory(argv[1], int(argv[2]))
    elif cmd == "open":
        open_all(argv[1:])
    elif cmd == "readonly":
        readonly(argv[1], argv[2])
    else:
        raise SystemExit("interop.py: unknown command %r" % cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
