# SPDX-License-Identifier: MIT
"""fileno(): the notification descriptor with selectors and asyncio.

Until the library's notification lands, mmsync_reader_fd() returns
-EOPNOTSUPP: fileno() raises OSError(EOPNOTSUPP) and the event-loop tests
skip with that reason. They run as soon as the descriptor is real.
"""
import asyncio
import errno
import os
import selectors
import threading
import time

import pytest

import mmsync


def notify_fd(r):
    try:
        return r.fileno()
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            pytest.skip("mmsync_reader_fd() returns -EOPNOTSUPP: the "
                        "library has no notification descriptor yet")
        raise


def test_fileno_error_or_descriptor(writer, chan):
    with mmsync.Reader(chan) as r:
        try:
            fd = r.fileno()
        except OSError as e:
            assert e.errno == errno.EOPNOTSUPP, e
            assert type(e) is OSError
        else:
            assert fd >= 0 and fd == r.fileno()
            os.fstat(fd)  # a real descriptor


def wait_readable(sel, r, g, timeout=5.0):
    """select() until wait(g, 0) says a generation > g exists; wake-ups
    without one are allowed (spurious). False if none came in time."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if sel.select(timeout=left) and r.wait(g, 0):
            return True


def test_selectors(writer, chan):
    writer.publish(b"one")
    with mmsync.Reader(chan) as r:
        fd = notify_fd(r)
        with selectors.DefaultSelector() as sel:
            key = sel.register(r, selectors.EVENT_READ)  # via r.fileno()
            assert key.fd == fd
            g = r.gen
            assert r.wait(g, 0) is False  # armed for > g
            timer = threading.Timer(0.05, writer.publish, args=(b"two",))
            timer.start()
            try:
                assert wait_readable(sel, r, g), "no wake-up"
            finally:
                timer.join()
            assert r.read() == b"two"


def test_asyncio_add_reader(writer, chan):
    writer.publish(b"one")

    async def main(r):
        loop = asyncio.get_running_loop()
        g = r.gen
        assert r.wait(g, 0) is False  # armed
        woke = loop.create_future()

        def readable():
            # Wake-ups may be spurious: ask wait() what happened.
            if r.wait(g, 0) and not woke.done():
                woke.set_result(r.read())

        loop.add_reader(notify_fd(r), readable)
        try:
            loop.call_later(0.05, writer.publish, b"two")
            return await asyncio.wait_for(woke, timeout=5)
        finally:
            loop.remove_reader(r.fileno())

    with mmsync.Reader(chan) as r:
        notify_fd(r)
        assert asyncio.run(main(r)) == b"two"


def test_no_wakeup_lost_across_generations(writer, chan):
    """Each wait(g, 0) that says False arms the descriptor for > g."""
    writer.publish(b"0")
    with mmsync.Reader(chan) as r:
        notify_fd(r)
        with selectors.DefaultSelector() as sel:
            sel.register(r.fileno(), selectors.EVENT_READ)
            for k in range(5):
                g = r.gen
                assert r.wait(g, 0) is False
                writer.publish(b"%d" % (k + 1))
                assert wait_readable(sel, r, g), "lost wake-up, gen %d" % (
                    g + 1)


def test_publish_from_another_process(chan):
    """The descriptor wakes up for a writer in another process too."""
    with mmsync.Writer(chan) as w:
        w.publish(b"0")
    with mmsync.Reader(chan) as r:
        notify_fd(r)
        g = r.gen
        assert r.wait(g, 0) is False
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                time.sleep(0.05)
                with mmsync.Writer(chan) as w:
                    w.publish(b"from the child")
                code = 0
            finally:
                os._exit(code)
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(r, selectors.EVENT_READ)
                assert wait_readable(sel, r, g), "no wake-up"
        finally:
            _, status = os.waitpid(pid, 0)
        assert status == 0
        assert r.read() == b"from the child"
