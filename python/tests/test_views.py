# SPDX-License-Identifier: MIT
"""Zero copy, and no way for Python code to reach bytes after read_end."""
import errno
import threading
import time

import pytest

import mmsync

MiB = 1 << 20


def test_view_is_read_only(writer, chan, np):
    writer.publish(b"\x01" * 4096)
    with mmsync.Reader(chan) as r, r.view() as v:
        m = memoryview(v)
        assert m.readonly and m.format == "B" and m.nbytes == 4096
        with pytest.raises(TypeError):
            m[0] = 2
        m.release()
        a = np.frombuffer(v, dtype=np.uint32)
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError):
            a.flags.writeable = True
        with pytest.raises(ValueError):
            a[0] = 5
        del a


def test_numpy_64mib_zero_copy(writer, chan, np):
    src = np.arange(16 * MiB, dtype=np.float32)  # 64 MiB
    writer.publish(src)
    with mmsync.Reader(chan) as r, r.view() as v:
        times = []
        for _ in range(9):
            t0 = time.perf_counter()
            a = np.frombuffer(v, dtype=np.float32)
            times.append(time.perf_counter() - t0)
            del a
        # A copy of 64 MiB takes milliseconds; a view takes microseconds.
        med = sorted(times)[len(times) // 2]
        assert med < 200e-6, "frombuffer of 64 MiB took %.1f us" % (
            med * 1e6)
        a = np.frombuffer(v, dtype=np.float32)
        b = np.frombuffer(v, dtype=np.uint8)
        assert np.shares_memory(a, b)  # both point into the mapping
        assert a.shape == (16 * MiB,) and not a.flags.writeable
        assert a[12345] == 12345.0 and a[-1] == 16 * MiB - 1
        assert v.exports == 2
        del a, b
        assert v.exports == 0


def test_end_refused_while_exported(writer, chan, np):
    writer.publish(bytes(range(256)) * 16)
    with mmsync.Reader(chan) as r:
        v = r.view()
        m = memoryview(v)
        a = np.frombuffer(v, dtype=np.uint8)[10:20]  # a slice keeps it
        for _ in range(2):
            with pytest.raises(BufferError):
                v.end()
            with pytest.raises(BufferError):
                v.__exit__(None, None, None)
            with pytest.raises(BufferError):
                r.close()
            assert not v.ended and not r.closed
            assert r.stat().pinned == 1  # still pinned: the bytes are safe
            assert m[10] == 10 and a[0] == 10
        m.release()
        with pytest.raises(BufferError):
            v.end()
        del a
        v.end()
        assert v.ended and r.stat().pinned == 0


def test_no_bytes_after_end(writer, chan, np):
    writer.publish(b"secret" * 100)
    r = mmsync.Reader(chan)
    with r.view() as v:
        m = memoryview(v)
        assert bytes(m[:6]) == b"secret"
        m.release()
    assert v.ended
    with pytest.raises(ValueError):
        m[0]  # a released memoryview
    with pytest.raises(ValueError):
        memoryview(v)
    with pytest.raises(ValueError):
        bytes(v)
    with pytest.raises(ValueError):
        np.frombuffer(v, dtype=np.uint8)
    with pytest.raises(ValueError):
        v.__enter__()
    v.end()  # idempotent
    assert len(v) == 600 and v.gen == 1  # metadata stays
    r.close()
    with pytest.raises(ValueError):
        memoryview(v)


def test_exception_in_block_with_live_export(writer, chan, np):
    writer.publish(b"x" * 64)
    with mmsync.Reader(chan) as r:
        with pytest.raises(BufferError) as e:
            with r.view() as v:
                a = np.frombuffer(v, dtype=np.uint8)
                raise KeyError("user error")
        # The user's exception is not lost: it is the context.
        assert isinstance(e.value.__context__, KeyError)
        assert not v.ended
        del a
        e = None
        v.end()


def test_close_ends_the_view(writer, chan):
    writer.publish(b"abc")
    r = mmsync.Reader(chan)
    v = r.view()
    r.close()
    assert v.ended and r.closed
    with pytest.raises(ValueError):
        memoryview(v)
    with pytest.raises(ValueError):
        r.view()
    r.close()  # idempotent


def test_one_view_at_a_time(writer, chan):
    writer.publish(b"abc")
    with mmsync.Reader(chan) as r, r.view():
        with pytest.raises(OSError) as e:
            r.view()
        assert e.value.errno == errno.EBUSY
        with pytest.raises(OSError) as e:
            r.read()
        assert e.value.errno == errno.EBUSY


def test_dropped_view_warns_and_unpins(writer, chan):
    writer.publish(b"abc")
    with mmsync.Reader(chan) as r:
        v = r.view()
        assert r.stat().pinned == 1
        with pytest.warns(ResourceWarning, match="never ended"):
            del v
        assert r.stat().pinned == 0
        with r.view() as v:
            assert bytes(v) == b"abc"


def evict(writer, view_gen):
    """Publish until the slot of view_gen is reused (waits the grace)."""
    while writer.gen < view_gen + 2:
        writer.publish(b"new bytes %d" % writer.gen)


def test_evicted_view_raises_stale(writer, chan):
    writer.publish(b"old")
    with mmsync.Reader(chan) as r:
        with pytest.raises(mmsync.StaleError) as e:
            with r.view() as v:
                evict(writer, v.gen)
        assert isinstance(e.value, OSError)
        assert e.value.errno == errno.ESTALE
        assert v.ended
        assert writer.last_publish.evicted == 1
        assert writer.stat().evictions == 1
        with r.view() as v:
            assert bytes(v) == b"new bytes 2"
        # end() says it too, and the view is over either way.
        v = r.view()
        evict(writer, v.gen)
        with pytest.raises(mmsync.StaleError):
            v.end()
        assert v.ended
        v.end()


def test_evicted_with_export_alive(writer, chan, np):
    writer.publish(b"o" * 100)
    with mmsync.Reader(chan) as r:
        v = r.view()
        a = np.frombuffer(v, dtype=np.uint8)
        evict(writer, v.gen)
        with pytest.raises(BufferError):
            v.end()
        del a
        with pytest.raises(mmsync.StaleError):
            v.end()


def test_refuse_policy(chan):
    with mmsync.Writer(chan, grace=0.05, refuse=True) as w, \
            mmsync.Reader(chan) as r:
        w.publish(b"one")
        w.publish(b"two")
        with r.view() as v:
            assert bytes(v) == b"two"
            w.publish(b"three")  # the other slot: no wait
            with pytest.raises(TimeoutError):
                w.publish(b"four")  # would reuse the pinned slot
            assert w.gen == 3 and bytes(v) == b"two"
        assert w.publish(b"four") == 4
        assert w.stat().refusals == 1


def test_no_torn_view_reported_clean(chan, np):
    """A writer thread republishing 1 MiB with a 1 us grace against a
    reader: every view that ends cleanly saw one generation's bytes."""
    size = MiB
    stop = threading.Event()
    w = mmsync.Writer(chan, grace=1e-6)
    w.publish(bytes(size))

    def publisher():
        k = 1
        while not stop.is_set():
            w.publish(bytes([k & 0xFF]) * size)
            k += 1

    t = threading.Thread(target=publisher)
    t.start()
    clean = stale = copies = 0
    try:
        with mmsync.Reader(chan) as r:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                v = r.view()
                a = np.frombuffer(v, dtype=np.uint8)
                lo, hi = int(a.min()), int(a.max())
                del a
                try:
                    v.end()
                except mmsync.StaleError:
                    stale += 1
                    continue
                assert lo == hi, "torn view reported clean"
                clean += 1
                try:
                    b = r.read()
                except mmsync.StaleError:
                    continue
                assert b.count(b[:1]) == size, "torn copy from read()"
                copies += 1
    finally:
        stop.set()
        t.join()
        w.close()
    assert clean > 0 and copies > 0
    print("clean views %d, stale views %d, clean copies %d" % (
        clean, stale, copies))


def test_view_tied_to_its_thread(writer, chan, np):
    writer.publish(b"abc")
    errors = []
    with mmsync.Reader(chan) as r:
        v = r.view()

        def other():
            for op in (lambda: memoryview(v), lambda: bytes(v),
                       lambda: np.frombuffer(v, dtype=np.uint8), v.end,
                       v.__enter__, lambda: v.__exit__(None, None, None),
                       r.view, r.read, lambda: r.wait(0, 0), r.close):
                try:
                    op()
                except RuntimeError as e:
                    errors.append(str(e))
                else:
                    errors.append("no error")

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(errors) == 10
        assert "no error" not in errors, errors
        assert len(v) == 3 and v.gen == 1  # metadata is fine anywhere
        v.end()

        # Without a view, a handle may move between threads.
        out = []
        t = threading.Thread(target=lambda: out.append(r.read()))
        t.start()
        t.join()
        assert out == [b"abc"]


def test_reader_busy_in_another_thread(writer, chan):
    writer.publish(b"abc")
    with mmsync.Reader(chan) as r:
        got = []
        t = threading.Thread(target=lambda: got.append(r.wait(1, 10)))
        t.start()
        time.sleep(0.1)  # t is in wait(), without the GIL
        for op in (r.view, r.read, lambda: r.wait(1, 0), r.close):
            with pytest.raises(RuntimeError, match="another thread"):
                op()
        writer.publish(b"def")
        t.join()
        assert got == [True]
        assert r.read() == b"def"


def test_writer_busy_in_another_thread(chan):
    with mmsync.Writer(chan, grace=0.5) as w, mmsync.Reader(chan) as r:
        w.publish(b"one")
        w.publish(b"two")
        v = r.view()
        t = threading.Thread(target=w.publish, args=(b"three",))
        t2 = threading.Thread(target=w.publish, args=(b"four",))
        t.start()
        t.join()  # slot of "one" is free: no wait
        t2.start()  # waits up to 0.5 s for our view of "two"
        time.sleep(0.1)
        for op in (lambda: w.publish(b"x"), lambda: w.reserve(1), w.commit,
                   w.abort, w.close):
            with pytest.raises(RuntimeError, match="another thread"):
                op()
        t2.join()
        with pytest.raises(mmsync.StaleError):
            v.end()
        assert w.gen == 4
