# SPDX-License-Identifier: MIT
"""Publish and read back: buffers, reserve/commit, files, names, stats."""
import os
import pathlib
import threading

import pytest

import mmsync


def pattern(n, seed=0):
    return bytes((seed * 31 + i) & 0xFF for i in range(n))


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview",
                                  "numpy"])
def test_publish_any_bytes_like(writer, chan, kind, np):
    data = pattern(10000, 3)
    obj = {"bytes": data, "bytearray": bytearray(data),
           "memoryview": memoryview(data),
           "numpy": np.frombuffer(data, dtype=np.uint8)}[kind]
    gen = writer.publish(obj)
    assert gen == 1 == writer.gen
    with mmsync.Reader(chan) as r:
        assert r.gen == 1
        with r.view() as v:
            assert v.gen == 1
            assert len(v) == len(data)
            assert bytes(v) == data
            assert v.checksum == writer.last_publish.checksum
        assert r.read() == data


def test_generations_and_publish_info(writer, chan):
    assert writer.last_publish is None
    with mmsync.Reader(chan) as r:
        for g in range(1, 6):
            assert writer.publish(pattern(100, g)) == g
            info = writer.last_publish
            assert (info.gen, info.size) == (g, 100)
            assert info.evicted == 0
            with r.view() as v:
                assert (v.gen, bytes(v)) == (g, pattern(100, g))


def test_empty_snapshot(writer, chan):
    writer.publish(b"")
    with mmsync.Reader(chan) as r:
        with r.view() as v:
            assert len(v) == 0
            assert bytes(v) == b""
            assert memoryview(v).nbytes == 0
        assert r.read() == b""


def test_slot_growth(writer, chan):
    with mmsync.Reader(chan) as r:
        for size in (10, 1 << 20, 5 << 20, 100):
            data = os.urandom(size)
            writer.publish(data)
            with r.view() as v:
                assert bytes(v) == data


def test_non_contiguous_buffer_refused(writer, np):
    a = np.arange(100, dtype=np.uint32)[::2]
    with pytest.raises((BufferError, ValueError, TypeError)):
        writer.publish(a)
    assert writer.gen == 0
    with pytest.raises(TypeError):
        writer.publish("a str is not bytes")


def test_writer_reopen_continues(chan):
    with mmsync.Writer(chan) as w:
        w.publish(b"one")
        w.publish(b"two")
    with mmsync.Writer(chan) as w:
        assert w.gen == 2
        assert w.publish(b"three") == 3
    with mmsync.Reader(chan) as r:
        assert r.read() == b"three"


@pytest.mark.parametrize("form", ["str", "bytes", "path"])
def test_name_forms(chan, form):
    name = {"str": chan, "bytes": os.fsencode(chan),
            "path": pathlib.Path(chan)}[form]
    with mmsync.Writer(name) as w, mmsync.Reader(name) as r:
        w.publish(b"abc")
        assert r.read() == b"abc"
        assert r.name == w.name == chan
    assert mmsync.stat(name).gen == 1
    mmsync.unlink(name)
    with pytest.raises(FileNotFoundError):
        mmsync.stat(name)


def test_name_in_mmsync_dir(shmdir, monkeypatch):
    d = os.path.join(shmdir, "dir")
    os.mkdir(d)
    monkeypatch.setenv("MMSYNC_DIR", d)
    with mmsync.Writer("plain") as w, mmsync.Reader("plain") as r:
        w.publish(b"in MMSYNC_DIR")
        assert r.read() == b"in MMSYNC_DIR"
    assert os.path.exists(os.path.join(d, "plain_state"))
    mmsync.unlink("plain")
    assert os.listdir(d) == []


def test_reserve_commit(writer, chan, np):
    with mmsync.Reader(chan) as r:
        res = writer.reserve(1000)
        assert len(res) == 1000 and res.active
        m = memoryview(res)
        assert not m.readonly
        m[:5] = b"hello"
        m.release()
        a = np.frombuffer(res, dtype=np.uint8)
        assert a.flags.writeable
        a[5:10] = 7
        del a
        assert writer.commit(10) == 1
        assert not res.active
        assert r.read() == b"hello" + b"\x07" * 5
        assert writer.last_publish.size == 10

        with writer.reserve(4) as res:
            memoryview(res)[:] = b"full"
            assert res.commit() == 2
        assert r.read() == b"full"


def test_reserve_abort_and_context_exit(writer, chan):
    writer.publish(b"before")
    with mmsync.Reader(chan) as r:
        res = writer.reserve(100)
        memoryview(res)[:3] = b"new"
        writer.abort()
        assert not res.active
        with writer.reserve(100) as res2:
            memoryview(res2)[:3] = b"new"
        # Leaving the block without commit() publishes nothing.
        assert not res2.active
        assert writer.gen == 1
        assert r.read() == b"before"
        with pytest.raises(OSError) as e:
            writer.commit()
        assert e.value.errno == 22  # EINVAL: nothing reserved


def test_reservation_ends_safely(writer, np):
    res = writer.reserve(64)
    m = memoryview(res)
    for end in (writer.commit, writer.abort, lambda: writer.publish(b"x"),
                lambda: writer.reserve(8), writer.close):
        with pytest.raises(BufferError):
            end()
        assert res.active
    m.release()
    a = np.frombuffer(res, dtype=np.uint8)
    with pytest.raises(BufferError):
        writer.commit()
    del a
    writer.publish(b"replaces the reservation")
    assert not res.active
    with pytest.raises(ValueError):
        memoryview(res)
    with pytest.raises(ValueError):
        res.commit()


def test_commit_more_than_reserved(writer):
    writer.reserve(4)
    with pytest.raises(OSError) as e:
        writer.commit(5)
    assert e.value.errno == 22
    assert writer.commit(4) == 1


def test_reserve_zero(writer, chan):
    with writer.reserve(0) as res:
        assert len(res) == 0
        assert writer.commit() == 1
    with mmsync.Reader(chan) as r:
        assert r.read() == b""


def test_publish_file(writer, chan, shmdir):
    path = os.path.join(shmdir, "payload")
    data = os.urandom(300000)
    with open(path, "wb") as f:
        f.write(data)
    with mmsync.Reader(chan) as r:
        with open(path, "rb") as f:
            f.read(10)  # the file position does not matter
            assert writer.publish_file(f) == 1
        assert r.read() == data
        fd = os.open(path, os.O_RDONLY)
        try:
            writer.publish_file(fd, length=1000, offset=5)
            assert r.read() == data[5:1005]
            with pytest.raises(OSError) as e:
                writer.publish_file(fd, length=len(data) + 1)
            assert e.value.errno == 61  # ENODATA: the file is shorter
            assert r.read() == data[5:1005]  # nothing published
        finally:
            os.close(fd)
    os.unlink(path)


def test_publish_file_from_pipe(writer, chan):
    rfd, wfd = os.pipe()
    data = os.urandom(1 << 20)

    def feed():
        with os.fdopen(wfd, "wb") as f:
            f.write(data)

    t = threading.Thread(target=feed)
    t.start()
    try:
        writer.publish_file(rfd)
    finally:
        t.join()
        os.close(rfd)
    with mmsync.Reader(chan) as r:
        assert r.read() == data


def test_publish_file_errors(writer):
    with pytest.raises(TypeError):
        writer.publish_file(object())
    rfd, wfd = os.pipe()
    os.close(rfd)
    os.close(wfd)
    with pytest.raises(OSError) as e:
        writer.publish_file(rfd)
    assert e.value.errno == 9  # EBADF


def test_stat_and_readers(writer, chan):
    writer.publish(b"x" * 4096)
    with mmsync.Reader(chan) as r:
        st = r.stat()
        assert st.gen == 1 and st.publishes == 1
        assert st.writer_alive and st.writer_pid == os.getpid()
        assert st.readers == 1 and st.pinned == 0
        assert st.fence_mode in ("membarrier", "xchg")
        assert st.slot_size[1] == 4096
        with r.view():
            (entry,) = r.readers()
            assert entry.pid == os.getpid()
            assert entry.pinned_gen == 1 and entry.alive is True
            assert not entry.evicted
            assert mmsync.stat(chan).pinned == 1
        assert mmsync.readers(chan)[0].pinned_gen == 0
    assert writer.stat().readers == 0


def test_fence_option(chan):
    with mmsync.Writer(chan, fence="xchg") as w:
        w.publish(b"x")
        assert w.stat().fence_mode == "xchg"
    with pytest.raises(OSError) as e:
        mmsync.Writer(chan, fence="membarrier")
    assert e.value.errno == 22  # the mode is fixed at creation


def test_publish_rate_picks_xchg(chan):
    with mmsync.Writer(chan, publish_rate=10000) as w:
        assert w.stat().fence_mode == "xchg"
    # The channel keeps its mode, whatever a later writer expects.
    with mmsync.Writer(chan, publish_rate=1) as w:
        assert w.stat().fence_mode == "xchg"


def test_reader_options(writer, chan):
    writer.publish(b"verified")
    with mmsync.Reader(chan, verify=True, xchg=True, sigbus_guard=False,
                       poll_interval=0.001, handoff_timeout=1) as r:
        with r.view() as v:
            assert bytes(v) == b"verified"
        assert r.read() == b"verified"
        assert r.readers()[0].flags == 7


def test_file_modes(chan):
    import stat as st

    with mmsync.Writer(chan, data_mode=0o600, state_mode=0o644,
                       table_mode=0o666) as w:
        w.publish(b"x")
        mode = {part: st.S_IMODE(os.stat(chan + "_" + part).st_mode)
                for part in ("data_1", "state", "readers")}
    assert mode == {"data_1": 0o600, "state": 0o644, "readers": 0o666}
    with pytest.raises(OSError) as e:  # exec bits are refused
        mmsync.Writer(chan + "x", data_mode=0o755)
    assert e.value.errno == 22
