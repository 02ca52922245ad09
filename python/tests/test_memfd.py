# SPDX-License-Identifier: MIT
"""Memfd channels: the writer serves readers (serve() releases the GIL)."""
import errno
import os
import selectors
import threading

import pytest

import mmsync


def serve_in_thread(w, timeout=5.0):
    t = threading.Thread(target=w.serve, args=(timeout,))
    t.start()
    return t


def test_memfd_round_trip(chan):
    with mmsync.Writer(chan, backing="memfd") as w:
        w.publish(b"anonymous")
        assert not os.path.exists(chan + "_state")
        t = serve_in_thread(w)
        try:
            r = mmsync.Reader(chan, handoff_timeout=5)
        finally:
            t.join()
        with r:
            assert r.read() == b"anonymous"
            w.publish(b"again")
            assert r.wait(1, 1.0) and r.read() == b"again"
            w.close()
            # The channel ended with its writer; the snapshot stays.
            with pytest.raises(BrokenPipeError):
                r.wait(2, 1.0)
            assert r.read() == b"again"


def test_serve_without_readers(chan):
    with mmsync.Writer(chan, backing="memfd") as w:
        assert w.serve() == 0  # timeout 0: does not wait
        assert w.serve(0.05) == 0
        fd = w.fileno()
        assert fd >= 0
        # The listening socket polls readable once a reader connects.
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            assert sel.select(timeout=0) == []
            got = []
            t = threading.Thread(target=lambda: got.append(
                mmsync.Reader(chan, handoff_timeout=5)))
            t.start()
            try:
                assert sel.select(timeout=5)
                assert w.serve(0) == 1
            finally:
                t.join()
        with got[0] as r:
            with pytest.raises(OSError) as e:
                r.view()
            assert e.value.errno == errno.ENODATA


def test_serve_and_close_from_two_threads(chan):
    with mmsync.Writer(chan, backing="memfd") as w:
        t = serve_in_thread(w, 0.5)
        try:
            with pytest.raises(RuntimeError, match="serving"):
                w.close()
            with pytest.raises(RuntimeError, match="serving"):
                w.serve(0)
            w.publish(b"publish may run beside serve")
        finally:
            t.join()


def test_reader_open_releases_the_gil(chan):
    """Opening a memfd reader waits for serve() without the GIL, so the
    serving thread can be started after it."""
    with mmsync.Writer(chan, backing="memfd") as w:
        w.publish(b"x")
        timer = threading.Timer(0.1, w.serve, args=(5.0,))
        timer.start()
        try:
            with mmsync.Reader(chan, handoff_timeout=5) as r:
                assert r.read() == b"x"
        finally:
            timer.join()


def test_no_writer(chan):
    with pytest.raises(FileNotFoundError):
        mmsync.Reader(chan)
