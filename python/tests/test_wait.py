# SPDX-License-Identifier: MIT
"""wait(), and which calls release the GIL."""
import signal
import threading
import time

import pytest

import mmsync


def test_wait_without_publish(writer, chan):
    writer.publish(b"1")
    with mmsync.Reader(chan) as r:
        assert r.wait(0, 0) is True
        assert r.wait(1, 0) is False
        t0 = time.monotonic()
        assert r.wait(1, 0.15) is False
        assert time.monotonic() - t0 >= 0.15


def test_wait_with_publish(writer, chan):
    with mmsync.Reader(chan) as r:
        timer = threading.Timer(0.1, writer.publish, args=(b"now",))
        timer.start()
        t0 = time.monotonic()
        try:
            assert r.wait(0) is True  # timeout=None: until it comes
        finally:
            timer.join()
        assert 0.09 <= time.monotonic() - t0 < 5
        assert r.read() == b"now"
        timer = threading.Timer(0.05, writer.publish, args=(b"again",))
        timer.start()
        try:
            assert r.wait(1, timeout=5.0) is True
        finally:
            timer.join()


def test_wait_arguments(writer, chan):
    with mmsync.Reader(chan) as r:
        with pytest.raises(ValueError):
            r.wait(0, -1)
        with pytest.raises(OverflowError):
            r.wait(-1, 0)
        with pytest.raises(TypeError):
            r.wait("1", 0)
        assert r.wait(2**64 - 1, 0) is False


def test_wait_interruptible(writer, chan):
    """A signal handler runs during an endless wait (Ctrl-C works)."""
    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted

    old = signal.signal(signal.SIGALRM, handler)
    try:
        with mmsync.Reader(chan) as r:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            t0 = time.monotonic()
            with pytest.raises(Interrupted):
                r.wait(0)
            assert time.monotonic() - t0 < 1.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def loop_rate():
    """Turns per second of the loop spin_while() runs, alone."""
    done = threading.Event()
    turns, end = 0, time.monotonic() + 0.05
    while not done.is_set():
        turns += 1
        if turns % 1024 == 0 and time.monotonic() >= end:
            break
    return turns / 0.05


def spin_while(call):
    """Run call() in a thread; count Python loop turns meanwhile: if
    call() held the GIL, this thread could only spin for a switch
    interval or two (5 ms each)."""
    done = threading.Event()
    out = []

    def run():
        try:
            out.append(call())
        except BaseException as e:  # noqa: B036 - reported below
            out.append(e)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    turns = 0
    while not done.is_set():
        turns += 1
    t.join()
    return turns, out[0]


def test_wait_releases_the_gil(writer, chan):
    with mmsync.Reader(chan) as r:
        t0 = time.monotonic()
        rate = loop_rate()
        turns, res = spin_while(lambda: r.wait(0, 0.3))
        assert res is False and time.monotonic() - t0 >= 0.3
        # 0.1 s of spinning is 20 switch intervals.
        assert turns > 0.1 * rate, (turns, rate)


def test_publish_releases_the_gil(chan):
    with mmsync.Writer(chan, grace=0.3) as w, mmsync.Reader(chan) as r:
        w.publish(b"a")
        w.publish(b"b")
        v = r.view()
        w.publish(b"c")
        rate = loop_rate()
        t0 = time.monotonic()
        # Reusing the slot of our view waits the grace period, 0.3 s.
        turns, res = spin_while(lambda: w.publish(b"d"))
        assert res == 4 and time.monotonic() - t0 >= 0.25
        assert turns > 0.1 * rate, (turns, rate)
        assert w.last_publish.evicted == 1
        with pytest.raises(mmsync.StaleError):
            v.end()


def test_publish_file_releases_the_gil(chan):
    import os

    rfd, wfd = os.pipe()
    with mmsync.Writer(chan) as w:
        rate = loop_rate()
        timer = threading.Timer(0.3, os.close, args=(wfd,))
        timer.start()
        try:
            turns, res = spin_while(lambda: w.publish_file(rfd))
        finally:
            timer.join()
            os.close(rfd)
        assert res == 1 and turns > 0.1 * rate, (turns, rate)


def test_verified_view_releases_the_gil(chan, np):
    """verify=True hashes the whole snapshot in view(): without the GIL.
    One view() of 128 MiB takes ~7 ms; this thread must get to run in the
    middle of it (it cannot if view() holds the GIL). A 10 us switch
    interval keeps the Python code around the call from lending this
    thread whole 5 ms intervals."""
    import sys

    old = sys.getswitchinterval()
    with mmsync.Writer(chan) as w:
        w.publish(np.zeros(32 << 20, dtype=np.float32))  # 128 MiB
        with mmsync.Reader(chan, verify=True) as r:
            try:
                sys.setswitchinterval(1e-5)
                check_progress_in_verified_view(r)
            finally:
                sys.setswitchinterval(old)


def check_progress_in_verified_view(r):
    r.view().end()  # maps the slot and faults its pages in first
    for _ in range(5):
        call = []

        def one_view():
            t0 = time.monotonic()
            r.view().end()
            call.append((t0, time.monotonic()))

        stamps = []
        t = threading.Thread(target=one_view)
        t.start()
        while t.is_alive():
            stamps.append(time.monotonic())
        t.join()
        ((t0, t1),) = call
        assert t1 - t0 > 0.003, "the hash was too quick to tell"
        if [s for s in stamps if t0 + 0.001 < s < t1 - 0.001]:
            return
    raise AssertionError("no progress during any verified view()")
