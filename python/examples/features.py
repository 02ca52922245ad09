#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A feature store on libmmsync: one writer publishes a numpy table of
feature vectors, any number of reader processes serve lookups from it in
place, with no copy of the table.

    features.py write NAME [--items N] [--dim D] [--count K] [--every S]
    features.py serve NAME [--lookups N]
    features.py demo  NAME          # both, in two processes, checked

Snapshot layout: a 16-byte header (uint64 items, uint64 dim), then
items x dim float32, row-major. Generation g holds row i = i + g / 1000
in every column, so a reader can check what it saw.
"""
import argparse
import subprocess
import sys
import time

import numpy as np

import mmsync

HEADER = 16


def fill(buf, items, dim, gen):
    """Serialize generation gen straight into buf (a Reservation)."""
    hdr = np.frombuffer(buf, dtype=np.uint64, count=2)
    hdr[:] = (items, dim)
    table = np.frombuffer(buf, dtype=np.float32, offset=HEADER)
    table = table.reshape(items, dim)
    table[:] = np.arange(items, dtype=np.float32)[:, None] + gen / 1000
    # Drop the arrays: the reservation cannot be committed while they
    # could still write into the slot.
    del hdr, table


def write(name, items, dim, count, every):
    with mmsync.Writer(name) as w:
        for _ in range(count):
            gen = w.gen + 1
            with w.reserve(HEADER + items * dim * 4) as res:
                fill(res, items, dim, gen)
                res.commit()
            print("published gen %d: %d x %d float32 (%.1f MiB)" % (
                gen, items, dim, (HEADER + items * dim * 4) / 2**20),
                flush=True)
            time.sleep(every)


class FeatureReader:
    """Lookups against the latest table, zero-copy."""

    def __init__(self, name, timeout=10.0):
        end = time.monotonic() + timeout
        while True:
            try:
                self.reader = mmsync.Reader(name)
                return
            except FileNotFoundError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)  # the writer has not created it yet

    def close(self):
        self.reader.close()

    def lookup(self, ids):
        """(gen, rows for ids): copies, they outlive the view."""
        while True:
            try:
                with self.reader.view() as v:
                    hdr = np.frombuffer(v, np.uint64, count=2)
                    items, dim = int(hdr[0]), int(hdr[1])
                    table = np.frombuffer(v, np.float32, offset=HEADER)
                    rows = table.reshape(items, dim)[ids]  # a copy
                    # Drop the zero-copy arrays before the view ends.
                    del hdr, table
                    return v.gen, rows
            except mmsync.StaleError:
                continue  # evicted while reading (a slow lookup): retry

    def items(self):
        with self.reader.view() as v:
            n = int(np.frombuffer(v, np.uint64, count=1)[0])
            return v.gen, n


def serve(name, lookups, deadline=30.0):
    fr = FeatureReader(name)
    try:
        rng = np.random.default_rng(1)
        last, done, end = 0, 0, time.monotonic() + deadline
        while done < lookups and time.monotonic() < end:
            # Serve each new generation (a server would serve continuously).
            if not fr.reader.wait(last, timeout=1.0):
                continue
            last, items = fr.items()
            ids = rng.integers(0, items, size=8)
            gen, rows = fr.lookup(ids)
            want = ids.astype(np.float32)[:, None] + gen / 1000
            ok = np.allclose(rows, want)
            print("gen %d: lookup(%s) -> %s" % (
                gen, ids[:3].tolist(), "ok" if ok else "WRONG"), flush=True)
            if not ok:
                return 1
            done += 1
        return 0 if done >= lookups else 1
    finally:
        fr.close()


def demo(name):
    writer = subprocess.Popen([sys.executable, __file__, "write", name,
                               "--items", "200000", "--dim", "32",
                               "--count", "4", "--every", "0.2"])
    try:
        code = serve(name, lookups=3)
    finally:
        writer.wait(timeout=60)
    try:
        mmsync.unlink(name)
    except FileNotFoundError:
        pass
    return code or writer.returncode


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["write", "serve", "demo"])
    p.add_argument("name")
    p.add_argument("--items", type=int, default=100000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--every", type=float, default=0.5)
    p.add_argument("--lookups", type=int, default=5)
    a = p.parse_args()
    if a.mode == "write":
        write(a.name, a.items, a.dim, a.count, a.every)
        return 0
    if a.mode == "serve":
        return serve(a.name, a.lookups)
    return demo(a.name)


if __name__ == "__main__":
    sys.exit(main())
