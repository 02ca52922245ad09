# SPDX-License-Identifier: MIT
"""fork() with open handles.

A child must not read through handles it inherited: the reader-table
entry, its pin and its lock are the parent's. The binding refuses every
use in the child (RuntimeError), and when the child closes or drops the
objects, nothing shared is touched (the parent's pin, its writer pid and a
memfd writer's socket stay). A child opens its own handles.
"""
import errno
import gc
import os
import threading
import time
import traceback

import pytest

import mmsync


def in_child(body):
    """Run body() in a forked child; fail with its traceback if it did."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        code = 0
        try:
            body()
        except BaseException:
            os.write(wfd, traceback.format_exc().encode())
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        report = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report


def refused(call):
    with pytest.raises(RuntimeError, match="before fork"):
        call()


def test_child_refuses_inherited_handles(chan, np):
    w = mmsync.Writer(chan, grace=0.05)
    w.publish(b"parent's snapshot")
    r = mmsync.Reader(chan)
    v = r.view()

    def child():
        for call in (r.view, r.read, lambda: r.wait(0, 0), r.fileno,
                     r.stat, r.readers, lambda: r.gen, r.__enter__,
                     lambda: memoryview(v), lambda: bytes(v),
                     lambda: np.frombuffer(v, dtype=np.uint8), v.end,
                     lambda: w.publish(b"x"), lambda: w.reserve(1),
                     w.commit, w.abort, lambda: w.gen, w.stat, w.fileno):
            refused(call)
        assert len(v) == 17 and v.gen == 1  # metadata only

    in_child(child)
    # Nothing changed for the parent.
    assert bytes(v) == b"parent's snapshot"
    v.end()
    r.close()
    w.close()


def test_child_close_leaves_the_parent_alone(chan):
    """The child closes and drops the inherited Writer, Reader and open
    View: the parent's pin is intact (its read_end is clean, where a
    cleared pin would give StaleError) and its writer still holds the
    channel."""
    w = mmsync.Writer(chan, grace=0.2)
    w.publish(b"one")
    r = mmsync.Reader(chan)
    v = r.view()
    ppid = os.getpid()

    def child():
        nonlocal w, r, v
        r.close()
        w.close()
        assert r.closed and w.closed
        del v, r, w
        gc.collect()
        # A child's own handles work.
        with mmsync.Reader(chan) as mine:
            assert mine.read() == b"one"

    in_child(child)
    st = mmsync.stat(chan)
    assert st.writer_alive and st.writer_pid == ppid
    assert st.pinned == 1
    (entry,) = [e for e in mmsync.readers(chan) if e.pid == ppid]
    assert entry.pinned_gen == 1 and not entry.evicted
    with pytest.raises(OSError) as e:
        mmsync.Writer(chan)  # the parent's lock is still held
    assert e.value.errno == errno.EBUSY
    w.publish(b"two")  # the other slot
    v.end()  # clean: the child did not unpin us
    r.close()
    w.close()


def test_child_exit_with_interpreter_shutdown(chan):
    """A child that exits through normal interpreter shutdown (not
    os._exit) runs every destructor: still nothing shared is touched."""
    import subprocess
    import sys

    code = r'''
import os, sys
import mmsync
name = sys.argv[1]
w = mmsync.Writer(name, grace=0.2)
w.publish(b"one")
r = mmsync.Reader(name)
v = r.view()
pid = os.fork()
if pid == 0:
    sys.exit(0)         # finalization drops w, r, v in the child
_, status = os.waitpid(pid, 0)
assert status == 0
assert mmsync.stat(name).writer_pid == os.getpid()
assert mmsync.stat(name).pinned == 1
v.end()                 # no StaleError: our pin survived the child
r.close()
w.close()
print("ok")
'''
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-X", "dev", "-c", code, chan],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_memfd_writer_survives_child(chan):
    w = mmsync.Writer(chan, backing="memfd")
    try:
        w.publish(b"memfd")

        def child():
            w.close()  # must not remove the parent's socket

        in_child(child)
        assert os.path.exists(chan + "_sock")
        t = threading.Thread(target=w.serve, args=(5,))
        t.start()
        try:
            with mmsync.Reader(chan) as r:
                assert r.read() == b"memfd"
        finally:
            t.join()
    finally:
        w.close()


def test_fork_while_waiting_thread(chan):
    """fork() while another thread waits without the GIL: the child's
    copy of the handle is refused like any other."""
    with mmsync.Writer(chan) as w, mmsync.Reader(chan) as r:
        w.publish(b"x")
        t = threading.Thread(target=r.wait, args=(1, 2.0))
        t.start()
        time.sleep(0.05)
        try:
            in_child(lambda: refused(lambda: r.wait(1, 0)))
        finally:
            w.publish(b"y")
            t.join()
