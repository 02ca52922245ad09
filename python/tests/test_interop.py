# SPDX-License-Identifier: MIT
"""Python against C, both ways, in separate processes."""
import errno
import subprocess

import pytest

import mmsync


def pattern(gen, n):
    return bytes((gen * 31 + i) & 0xFF for i in range(n))


def test_python_reader_c_writer(chan, c_peer):
    out = subprocess.run([c_peer, "write", chan, "3", "100000"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    sums = {int(g): int(c) for _, g, _, c in
            (line.split() for line in out.stdout.splitlines())}
    assert sorted(sums) == [1, 2, 3]
    with mmsync.Reader(chan) as r:
        with r.view() as v:
            assert v.gen == 3 and len(v) == 100000
            assert v.checksum == sums[3]
            assert bytes(v) == pattern(3, 100000)
    # The C writer is gone; a Python writer continues its generations.
    with mmsync.Writer(chan) as w:
        assert w.publish(b"continued") == 4


def test_c_reader_python_writer(chan, c_peer, np):
    data = np.arange(50000, dtype=np.float32)
    with mmsync.Writer(chan) as w:
        w.publish(b"first")
        w.publish(data)
        out = subprocess.run([c_peer, "read", chan], capture_output=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        head, _, payload = out.stdout.partition(b"\n")
        _, gen, _, size, _, csum = head.split()
        assert (int(gen), int(size)) == (2, data.nbytes)
        assert int(csum) == w.last_publish.checksum
        assert payload == data.tobytes()


def test_c_reader_evicted_by_python_writer(chan, c_peer):
    with mmsync.Writer(chan, grace=0.1) as w:
        w.publish(b"one")
        p = subprocess.Popen([c_peer, "hold", chan, "1.0"],
                             stdout=subprocess.PIPE, text=True)
        try:
            assert p.stdout.readline().split() == ["pinned", "1"]
            w.publish(b"two")
            w.publish(b"three")  # reuses the C reader's slot: evicts it
            assert w.last_publish.evicted == 1
            assert p.stdout.readline().split() == [
                "end", str(-errno.ESTALE)]
        finally:
            p.stdout.close()
            assert p.wait(timeout=30) == 0


def test_python_reader_pinned_against_c_writer(chan, c_peer):
    """A Python view pins its slot against a C writer too: the C writer
    waits its grace period (1 s default), then evicts: StaleError."""
    with mmsync.Writer(chan) as w:
        w.publish(b"python")
    with mmsync.Reader(chan) as r:
        v = r.view()
        out = subprocess.run([c_peer, "write", chan, "2", "10"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        with pytest.raises(mmsync.StaleError):
            v.end()  # the C writer reused our slot: never silent
        assert mmsync.stat(chan).evictions == 1
