# SPDX-License-Identifier: MIT
"""fork() with open handles.

A child must not read through handles it inherited: it opens its own. The
binding refuses every use of an inherited Reader, View or Writer in the
child (RuntimeError), except closing or dropping it, which touches nothing
of the parent's (its pin, its writer pid, a memfd writer's socket stay):
the library lets go of the shared state in the child at fork time, so a
child that lives on also never keeps a dead parent's reader entries or
writer lock alive.
"""
import errno
import gc
import os
import signal
import subprocess
import sys
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


# A process that opens a handle (and a view), forks a child that keeps the
# inherited copies and sleeps, and prints the child's pid.
HOLDER = r"""
import os, sys, time
import mmsync
name, what = sys.argv[1], sys.argv[2]
if what == "reader":
    h = mmsync.Reader(name)
    v = h.view()
else:
    h = mmsync.Writer(name)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    # fork() has returned here: the library's atfork handler has run and
    # let go of the parent's locks (until then the child shares them).
    os.write(w, b"k")
    time.sleep(60)
    os._exit(0)
os.read(r, 1)
print(pid, flush=True)
time.sleep(60)
"""


def gone(pid, timeout=10.0):
    """Wait until pid (not our child) is dead: gone, or a zombie."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


def start_holder(chan, what):
    p = subprocess.Popen([sys.executable, "-c", HOLDER, chan, what],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    p.stdout.close()
    assert line.strip().isdigit(), "holder failed"
    return p, int(line)


def test_child_does_not_keep_a_dead_parents_pin(chan):
    with mmsync.Writer(chan, grace=2.0) as w:
        w.publish(b"one")
        p, child = start_holder(chan, "reader")
        try:
            p.kill()
            p.wait()
            w.publish(b"two")
            t0 = time.monotonic()
            w.publish(b"three")  # reuses the slot the dead parent pinned
            took = time.monotonic() - t0
            info = w.last_publish
            # Reclaimed at once; a child holding the parent's lock would
            # have made the writer wait 2 s and evict instead.
            assert (info.reclaimed, info.evicted) == (1, 0), info
            assert took < 1.0
        finally:
            os.kill(child, signal.SIGKILL)
            assert gone(child)


def test_child_does_not_keep_a_dead_parents_writer_lock(chan):
    p, child = start_holder(chan, "writer")
    try:
        p.kill()
        p.wait()
        with mmsync.Writer(chan) as w:  # no EBUSY: the lock died with p
            assert w.publish(b"taken over") == 1
    finally:
        os.kill(child, signal.SIGKILL)
        assert gone(child)
