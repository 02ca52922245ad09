#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""View cost of the mmsync binding against py-lmdb, in the same run.

    bench_views.py [--rounds R] [--iters N] [--quick] [--out FILE.md]

Cases, each timed over N iterations per round, R rounds interleaved (so
that a noisy moment hits every case alike), reported as the median of the
per-round ns/op. Both sides read one snapshot of SIZE bytes in tmpfs:
libmmsync a channel, LMDB (Debian's python3-lmdb) a one-key database read
with get(buffers=True), its zero-copy mode.

  open+close          mmsync: with r.view() as v          (pins the bytes)
                      lmdb:   with env.begin(buffers=True) as t: t.get(k)
  bytes->numpy        numpy.frombuffer(buf, uint8) of an open view / txn
  open+numpy+close    both, plus reading one element
  GIL release pair    Py_BEGIN/END_ALLOW_THREADS (what view() would add)
  verified view       mmsync view with verify=True (hashes, drops the GIL)
  empty loop          the timing loop alone, included in every figure
"""
import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

import mmsync

try:
    import lmdb
except ImportError:  # the comparison needs it; say so in the table
    lmdb = None

KEY = b"k"


def timed(fn, n):
    t0 = time.perf_counter_ns()
    fn(n)
    return (time.perf_counter_ns() - t0) / n


def empty_loop(n):
    for _ in range(n):
        pass


def mm_cases(r, rv):
    def view(n):
        for _ in range(n):
            with r.view():
                pass

    def view_end(n):
        for _ in range(n):
            r.view().end()

    def numpy_(n):
        with r.view() as v:
            for _ in range(n):
                a = np.frombuffer(v, np.uint8)
                del a

    def cycle(n):
        for _ in range(n):
            with r.view() as v:
                a = np.frombuffer(v, np.uint8)
                a[7]
                del a

    def verified(n):
        for _ in range(n):
            with rv.view():
                pass

    return {"open+close": view, "open+end()": view_end,
            "bytes->numpy": numpy_, "open+numpy+close": cycle,
            "verified view": verified}


def lmdb_cases(env):
    def txn(n):
        for _ in range(n):
            with env.begin(buffers=True) as t:
                t.get(KEY)

    def numpy_(n):
        with env.begin(buffers=True) as t:
            buf = t.get(KEY)
            for _ in range(n):
                a = np.frombuffer(buf, np.uint8)
                del a

    def cycle(n):
        for _ in range(n):
            with env.begin(buffers=True) as t:
                a = np.frombuffer(t.get(KEY), np.uint8)
                a[7]
                del a

    return {"open+close": txn, "bytes->numpy": numpy_,
            "open+numpy+close": cycle}


def run(size, rounds, iters, tmp):
    payload = os.urandom(size)
    chan = os.path.join(tmp, "chan")
    results = {}
    with mmsync.Writer(chan) as w:
        w.publish(payload)
        env = None
        if lmdb:
            env = lmdb.open(os.path.join(tmp, "lmdb%d" % size),
                            map_size=max(4 * size, 1 << 24), subdir=True,
                            lock=True, sync=False)
            with env.begin(write=True) as t:
                t.put(KEY, payload)
        with mmsync.Reader(chan) as r, \
                mmsync.Reader(chan, verify=True) as rv:
            cases = {("mmsync", k): f for k, f in mm_cases(r, rv).items()}
            if env:
                cases.update({("lmdb", k): f
                              for k, f in lmdb_cases(env).items()})
            cases[("python", "empty loop")] = empty_loop
            gil = mmsync._mmsync._allow_threads_ns  # times itself
            gil(1000)
            for fn in cases.values():  # warm up: map slots, fault pages
                fn(min(iters, 100))
            for _ in range(rounds):
                for key, fn in cases.items():
                    n = iters
                    if key[1] == "verified view":  # hashes SIZE bytes
                        n = max(3, min(iters, (1 << 28) // size))
                    results.setdefault(key, []).append(timed(fn, n))
                results.setdefault(("python", "GIL release pair"),
                                   []).append(gil(iters))
        if env:
            env.close()
    return {k: statistics.median(v) for k, v in results.items()}


def fmt(ns):
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if ns >= 1e4:
        return "%.1f us" % (ns / 1e3)
    return "%.0f ns" % ns


def report(all_results, rounds, iters):
    out = []
    load = os.getloadavg()
    out.append("date: %s" % time.strftime("%Y-%m-%d %H:%M UTC",
                                          time.gmtime()))
    out.append("python %s, numpy %s, py-lmdb %s (LMDB %s)" % (
        platform.python_version(), np.__version__,
        lmdb.__version__ if lmdb else "missing",
        ".".join(map(str, lmdb.version())) if lmdb else "-"))
    out.append("kernel: %s, %d CPUs, load %.2f %.2f %.2f" % (
        platform.release(), os.cpu_count(), *load))
    out.append("medians of %d interleaved rounds of %d iterations "
               "(loop overhead included)" % (rounds, iters))
    out.append("")
    out.append("| snapshot | measure | mmsync | py-lmdb (buffers=True) "
               "| mmsync / lmdb |")
    out.append("|---|---|---|---|---|")
    for size, res in all_results.items():
        label = "%d KiB" % (size >> 10) if size < (1 << 20) else \
            "%d MiB" % (size >> 20)
        for m in ("open+close", "bytes->numpy", "open+numpy+close"):
            a = res.get(("mmsync", m))
            b = res.get(("lmdb", m))
            ratio = "-"
            if a and b:
                ratio = "%.2fx" % (a / b) if a / b >= 0.1 else \
                    "%.4fx" % (a / b)
            out.append("| %s | %s | %s | %s | %s |" % (
                label, m, fmt(a), fmt(b) if b else "n/a", ratio))
        out.append("| %s | open+end() (no with) | %s | | |" % (
            label, fmt(res[("mmsync", "open+end()")])))
        out.append("| %s | verified view (XXH3, GIL released) | %s | | |" %
                   (label, fmt(res[("mmsync", "verified view")])))
    res = next(iter(all_results.values()))
    out.append("")
    out.append("GIL release + re-acquire pair: %s; empty timing loop: "
               "%s per iteration." % (
                   fmt(res[("python", "GIL release pair")]),
                   fmt(res[("python", "empty loop")])))
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--quick", action="store_true",
                   help="3 rounds of 500: a smoke run")
    p.add_argument("--out", help="also write the table to this file")
    a = p.parse_args()
    if a.quick:
        a.rounds, a.iters = 3, 500
    tmp = tempfile.mkdtemp(prefix="mmsync-bench-py-", dir="/dev/shm")
    try:
        results = {}
        for size in (4096, 64 << 20):
            results[size] = run(size, a.rounds, a.iters, tmp)
            for f in os.listdir(tmp):
                path = os.path.join(tmp, f)
                (shutil.rmtree if os.path.isdir(path) else os.unlink)(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(results, a.rounds, a.iters)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
