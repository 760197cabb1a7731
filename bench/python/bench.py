#!/usr/bin/env python3
"""The Python references of shm's benchmark (bench/, `go run .`).

Each command does one run of one workload with multiprocessing.sharedctypes
(standard library only, fork start method unless told otherwise) and prints
one JSON object on its last line:

    {"seconds": s, "ops": n, "bytes": b, "lost": l, "failed": "why"}

The Go harness turns that into the workload's figure exactly as it does for
its own runs. Every command first runs a small untimed warm-up of itself.

    bench.py raw-load N | raw-store N | raw-inc N | locked-inc N | lock N | semaphore N
    bench.py count raw|value|locked PROCS N
    bench.py rawarray N | array N
    bench.py pingpong event|pipe|cond N
    bench.py barrier PARTIES N
    bench.py startjoin fork|spawn N
    bench.py ownerdeath TIMEOUT 1
    bench.py pool-rtt executor|pool N | pool-map CHUNK N | pool-start N
    bench.py named-lookup SEG N | named-locked-inc SEG N
    bench.py manager-locked-inc N | manager-handoff N | manager-pingpong N

The named-* commands use python/shmgo.py on the segment SEG that the Go
harness made, rather than multiprocessing. The manager-* commands are the
anchor of the "across machines" rows: a multiprocessing Manager, the server
process whose proxies Python's programs use across hosts, here on loopback.
"""

import json
import multiprocessing as mp
import os
import random
import sys
import time
from multiprocessing import sharedctypes

ctx = mp.get_context("fork")
now = time.perf_counter


def out(seconds, ops=0, nbytes=0, lost=0, failed=""):
    r = {"seconds": seconds, "ops": ops}
    if nbytes:
        r["bytes"] = nbytes
    if lost:
        r["lost"] = lost
    if failed:
        r["failed"] = failed
    print(json.dumps(r))


# ---- single process ----

def raw_load(n):
    v = sharedctypes.RawValue("q", 1)
    s = 0
    t = now()
    for _ in range(n):
        s += v.value
    return now() - t


def raw_store(n):
    v = sharedctypes.RawValue("q", 0)
    t = now()
    for i in range(n):
        v.value = i
    return now() - t


def raw_inc(n):
    v = sharedctypes.RawValue("q", 0)
    t = now()
    for _ in range(n):
        v.value += 1
    d = now() - t
    assert v.value == n
    return d


def locked_inc(n):
    v = sharedctypes.Value("q", 0, ctx=ctx)
    t = now()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
    d = now() - t
    assert v.value == n
    return d


def lock(n):
    lk = ctx.Lock()
    t = now()
    for _ in range(n):
        lk.acquire()
        lk.release()
    return now() - t


def semaphore(n):
    s = ctx.Semaphore(1)
    t = now()
    for _ in range(n):
        s.acquire()
        s.release()
    return now() - t


def single(fn, n):
    fn(max(n // 10, 1))
    out(fn(n), n)


# ---- named segments, through shmgo ----

def shmgo():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import shmgo as m
    return m


def named_lookup(seg, n):
    name = "obj-57"
    seg[name]
    t = now()
    for _ in range(n):
        seg[name]
    return now() - t


def named_locked_inc(seg, n):
    v = seg["counter"]
    v.value = 0
    lk = v.get_lock()
    t = now()
    for _ in range(n):
        with lk:
            v.value += 1  # under the lock, .value does not lock again
    d = now() - t
    assert v.value == n, v.value
    return d


# ---- P processes x n increments ----

def barrier(b, procs):
    # Count this process in and spin until the others are in too, yielding the
    # processor (to the parent starting them) when there are more processes
    # than cores: the same barrier as the Go children's.
    with b.get_lock():
        b.value += 1
    yield_ = procs > os.cpu_count()
    while b.value < procs:
        if yield_:
            os.sched_yield()


def inc_raw(v, b, procs, n):
    barrier(b, procs)
    for _ in range(n):
        v.value += 1


def inc_value(v, b, procs, n):
    # Python's Value.value += 1: a locked read, then a locked write.
    barrier(b, procs)
    for _ in range(n):
        v.value += 1


def inc_locked(v, b, procs, n):
    barrier(b, procs)
    lk = v.get_lock()
    for _ in range(n):
        with lk:
            v.value += 1


def count(kind, procs, n):
    if kind == "raw":
        v, fn = sharedctypes.RawValue("q", 0), inc_raw
    elif kind == "value":
        v, fn = sharedctypes.Value("q", 0, ctx=ctx), inc_value
    elif kind == "locked":
        v, fn = sharedctypes.Value("q", 0, ctx=ctx), inc_locked
    else:
        raise SystemExit("unknown count kind " + kind)
    b = sharedctypes.Value("i", 0, ctx=ctx)
    t = now()
    ps = [ctx.Process(target=fn, args=(v, b, procs, n)) for _ in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
        if p.exitcode != 0:
            raise SystemExit("child failed")
    d = now() - t
    got = v.value
    lost = procs * n - got
    if kind == "locked" and lost:
        raise SystemExit("locked count lost %d updates" % lost)
    return d, procs * n, lost


# ---- arrays ----

def fill_raw(a, n):
    for i in range(n):
        a[i] = i


def fill_locked(a, n):
    # a[i] = x on a synchronized Array takes its lock for each element.
    for i in range(n):
        a[i] = i


def rawarray(n):
    t = now()
    a = sharedctypes.RawArray("d", n)
    p = ctx.Process(target=fill_raw, args=(a, n))
    p.start()
    p.join()
    # The fastest standard-library sum of a shared double array: through a
    # memoryview (sum(a) is ten times slower).
    s = sum(memoryview(a).cast("B").cast("d"))
    d = now() - t
    assert s == n * (n - 1) / 2, s
    return d


def array(n):
    t = now()
    a = sharedctypes.Array("d", n, ctx=ctx)
    p = ctx.Process(target=fill_locked, args=(a, n))
    p.start()
    p.join()
    with a.get_lock():
        snap = a[:]
    s = sum(snap)
    d = now() - t
    assert s == n * (n - 1) / 2, s
    return d


# ---- latency ----

WARM = 200


def pong_event(ping, pong, n):
    for _ in range(n):
        ping.wait()
        ping.clear()
        pong.set()


def pong_pipe(c, n):
    for _ in range(n):
        c.send_bytes(c.recv_bytes())


def pong_cond(c, turn, n):
    # Turn i: wait for the parent's 2i+1, answer 2i+2; the lock is held
    # except inside wait, as shm's Cond ping-pong does.
    with c:
        for i in range(n):
            c.wait_for(lambda: turn.value == 2 * i + 1)
            turn.value = 2 * i + 2
            c.notify()


def event_pingpong(ping, pong, warm, n):
    """Times n round trips through the Events ping and pong, after warm."""
    p = ctx.Process(target=pong_event, args=(ping, pong, warm + n))
    p.start()

    def trips(k):
        for _ in range(k):
            ping.set()
            pong.wait()
            pong.clear()
    trips(warm)
    t = now()
    trips(n)
    d = now() - t
    p.join()
    return d


def pingpong(kind, n):
    if kind == "event":
        return event_pingpong(ctx.Event(), ctx.Event(), WARM, n)
    if kind == "pipe":
        a, b = ctx.Pipe()
        p = ctx.Process(target=pong_pipe, args=(b, WARM + n))
        p.start()

        def trips(k):
            for _ in range(k):
                a.send_bytes(b"x")
                a.recv_bytes()
    elif kind == "cond":
        c, turn = ctx.Condition(), sharedctypes.RawValue("q", 0)
        p = ctx.Process(target=pong_cond, args=(c, turn, WARM + n))
        p.start()

        def trips(k):
            with c:
                for _ in range(k):
                    v = turn.value + 1
                    turn.value = v
                    c.notify()
                    c.wait_for(lambda: turn.value == v + 1)
    else:
        raise SystemExit("unknown pingpong kind " + kind)
    trips(WARM)
    t = now()
    trips(n)
    d = now() - t
    p.join()
    return d


# ---- barriers ----

def barrier_party(b, n):
    for _ in range(n):
        b.wait()


def barrier_rounds(parties, n):
    # This process and parties-1 children, n rounds timed after one that has
    # them all running, as the Go versions do.
    b = ctx.Barrier(parties)
    ps = [ctx.Process(target=barrier_party, args=(b, 1 + n)) for _ in range(parties - 1)]
    for p in ps:
        p.start()
    b.wait()
    t = now()
    barrier_party(b, n)
    d = now() - t
    for p in ps:
        p.join()
        if p.exitcode != 0:
            raise SystemExit("child failed")
    return d


# ---- processes ----

def noop():
    pass


def startjoin(method, n):
    c = mp.get_context(method)
    w = c.Process(target=noop)  # warm-up
    w.start()
    w.join()
    t = now()
    for _ in range(n):
        p = c.Process(target=noop)
        p.start()
        p.join()
    return now() - t


def hold(lk, ready):
    lk.acquire()
    ready.set()
    time.sleep(3600)


def ownerdeath(timeout):
    lk, ready = ctx.Lock(), ctx.Event()
    p = ctx.Process(target=hold, args=(lk, ready))
    p.start()
    ready.wait()
    time.sleep(0.01 + random.random() * 0.01)
    t = now()
    p.kill()
    got = lk.acquire(timeout=timeout)
    d = now() - t
    p.join()
    if not got:
        return d, "never: the Lock of a killed holder is never released (acquire timed out after %g s)" % timeout
    return d, ""


# ---- pools ----

def inc(x):
    return x + 1


def pool_rtt(kind, n):
    if kind == "executor":
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(1, mp_context=ctx) as ex:
            for _ in range(max(n // 10, 1)):
                ex.submit(noop).result()
            t = now()
            for _ in range(n):
                ex.submit(noop).result()
            return now() - t
    with ctx.Pool(1) as p:
        for _ in range(max(n // 10, 1)):
            p.apply_async(noop).get()
        t = now()
        for _ in range(n):
            p.apply_async(noop).get()
        return now() - t


def pool_map(chunk, n):
    xs = list(range(n))
    with ctx.Pool(2) as p:
        p.map(inc, xs[: max(n // 10, 1)], chunksize=chunk)
        t = now()
        r = p.map(inc, xs, chunksize=chunk)
        d = now() - t
    assert r[-1] == n
    return d


def pool_start(n):
    t = now()
    for _ in range(n):
        p = ctx.Pool(4)
        p.apply(noop)  # a worker is ready
        p.close()
        p.join()
    return now() - t


# ---- across machines: a multiprocessing Manager ----

def manager_locked_inc(n):
    # Lock, read, write, unlock: four round trips to the Manager, as
    # dist's Mutex Lock, Load, Store, Unlock are four to etcd.
    with ctx.Manager() as m:
        v, lk = m.Value("q", 0), m.Lock()

        def inc(k):
            for _ in range(k):
                with lk:
                    v.value += 1
        w = max(n // 10, 1)
        inc(w)
        t = now()
        inc(n)
        d = now() - t
        assert v.value == w + n, v.value
        return d


def handoff_party(lk, turn, times, me, first, total, b):
    # Turn t goes to process t % 2, taken under the lock; a process that
    # finds it is not its turn unlocks and locks again (as in distbench).
    b.wait()
    while True:
        with lk:
            t = turn.value
            if t < total and t % 2 == me:
                if t == first:
                    times[0] = now()
                elif t == total - 1:
                    times[1] = now()
                turn.value = t + 1
        if t >= total - 1:
            return


def manager_handoff(n):
    # time.perf_counter is CLOCK_MONOTONIC, one clock for every process.
    with ctx.Manager() as m:
        lk = m.Lock()
        turn, times = sharedctypes.RawValue("q", 0), sharedctypes.RawArray("d", 2)
        b = ctx.Barrier(2)
        first = max(n // 10, 1)
        total = first + n + 1
        ps = [ctx.Process(target=handoff_party, args=(lk, turn, times, me, first, total, b)) for me in range(2)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
            if p.exitcode != 0:
                raise SystemExit("child failed")
        assert turn.value == total, turn.value
        return times[1] - times[0]


def manager_pingpong(n):
    with ctx.Manager() as m:
        return event_pingpong(m.Event(), m.Event(), max(n // 10, 1), n)


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd in ("raw-load", "raw-store", "raw-inc", "locked-inc", "lock", "semaphore"):
        fn = {"raw-load": raw_load, "raw-store": raw_store, "raw-inc": raw_inc,
              "locked-inc": locked_inc, "lock": lock, "semaphore": semaphore}[cmd]
        single(fn, int(args[0]))
    elif cmd == "count":
        kind, procs, n = args[0], int(args[1]), int(args[2])
        count(kind, procs, max(n // 10, 1))
        d, ops, lost = count(kind, procs, n)
        out(d, ops, lost=lost)
    elif cmd in ("rawarray", "array"):
        fn = rawarray if cmd == "rawarray" else array
        n = int(args[0])
        fn(max(n // 10, 1))
        out(fn(n), nbytes=8 * n)
    elif cmd == "pingpong":
        kind, n = args[0], int(args[1])
        pingpong(kind, max(n // 10, 1))
        out(pingpong(kind, n), n)
    elif cmd == "barrier":
        parties, n = int(args[0]), int(args[1])
        barrier_rounds(parties, max(n // 10, 1))
        out(barrier_rounds(parties, n), n)
    elif cmd == "startjoin":
        method, n = args[0], int(args[1])
        out(startjoin(method, n), n)
    elif cmd in ("named-lookup", "named-locked-inc"):
        fn = named_lookup if cmd == "named-lookup" else named_locked_inc
        seg, n = shmgo().open(args[0]), int(args[1])
        fn(seg, max(n // 10, 1))
        out(fn(seg, n), n)
    elif cmd == "ownerdeath":
        d, failed = ownerdeath(float(args[0]))
        out(d, 1, failed=failed)
    elif cmd == "pool-rtt":
        kind, n = args[0], int(args[1])
        out(pool_rtt(kind, n), n)
    elif cmd == "pool-map":
        chunk, n = int(args[0]), int(args[1])
        out(pool_map(chunk, n), n)
    elif cmd == "pool-start":
        n = int(args[0])
        out(pool_start(n), n)
    elif cmd in ("manager-locked-inc", "manager-handoff", "manager-pingpong"):
        fn = {"manager-locked-inc": manager_locked_inc, "manager-handoff": manager_handoff,
              "manager-pingpong": manager_pingpong}[cmd]
        n = int(args[0])
        out(fn(n), n)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
