# SPDX-License-Identifier: MIT
"""Every error is an OSError subclass with the library's errno; misuse
raises the usual Python exceptions."""
import errno
import os

import pytest

import mmsync


def test_missing_channel(chan):
    with pytest.raises(FileNotFoundError) as e:
        mmsync.Reader(chan)
    assert e.value.errno == errno.ENOENT and e.value.filename == chan
    with pytest.raises(FileNotFoundError):
        mmsync.stat(chan)
    with pytest.raises(FileNotFoundError):
        mmsync.readers(chan)
    with pytest.raises(FileNotFoundError):
        mmsync.unlink(chan)


def test_nothing_published_yet(writer, chan):
    with mmsync.Reader(chan) as r:
        assert r.gen == 0
        for call in (r.view, r.read):
            with pytest.raises(OSError) as e:
                call()
            assert e.value.errno == errno.ENODATA


def test_second_writer(writer, chan):
    with pytest.raises(OSError) as e:
        mmsync.Writer(chan)
    assert e.value.errno == errno.EBUSY and e.value.filename == chan


def test_bad_names(shmdir):
    with pytest.raises(OSError) as e:
        mmsync.Writer("")
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        mmsync.Writer(os.path.join(shmdir, "n" * 300))
    assert e.value.errno == errno.ENAMETOOLONG
    with pytest.raises(ValueError):
        mmsync.Writer(os.path.join(shmdir, "nul\0byte"))
    with pytest.raises(TypeError):
        mmsync.Reader(42)
    # Nothing half-made.
    assert not [f for f in os.listdir(shmdir) if f.startswith("n" * 20)]
    assert not [f for f in os.listdir(shmdir) if f.startswith("nul")]


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def test_not_a_channel(chan):
    with open(chan + "_state", "wb") as f:
        f.write(os.urandom(8192))
    before = read_file(chan + "_state")
    with pytest.raises(OSError) as e:
        mmsync.Reader(chan)
    assert e.value.errno == errno.EBADMSG
    with pytest.raises(OSError) as e:
        mmsync.Writer(chan)
    assert e.value.errno == errno.EBADMSG
    with pytest.raises(OSError) as e:
        mmsync.stat(chan)
    assert e.value.errno == errno.EBADMSG
    assert read_file(chan + "_state") == before  # nothing written


def test_reader_table_full(chan):
    with mmsync.Writer(chan, max_readers=2) as w:
        w.publish(b"x")
        with mmsync.Reader(chan), mmsync.Reader(chan):
            with pytest.raises(OSError) as e:
                mmsync.Reader(chan)
            assert e.value.errno == errno.EUSERS
        with mmsync.Reader(chan) as r:  # entries come back on close
            assert r.read() == b"x"
        assert w.stat().max_readers == 2


def test_checksum_mismatch_with_verify(writer, chan):
    writer.publish(b"A" * 4096)
    # Damage the slot behind the writer's back (we own the file).
    with open(chan + "_data_1", "r+b") as f:
        f.write(b"B")
    with mmsync.Reader(chan) as r:
        assert r.read()[:1] == b"B"  # without verify nobody checks
    with mmsync.Reader(chan, verify=True) as r:
        for call in (r.view, r.read):
            with pytest.raises(OSError) as e:
                call()
            assert e.value.errno == errno.EIO


def test_closed_handles(writer, chan):
    writer.publish(b"x")
    r = mmsync.Reader(chan)
    r.close()
    for call in (r.view, r.read, lambda: r.wait(0, 0), r.fileno, r.stat,
                 r.readers, lambda: r.gen, r.__enter__):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert r.closed and "closed" in repr(r)
    writer.close()
    for call in (lambda: writer.publish(b"x"), lambda: writer.reserve(1),
                 writer.commit, writer.abort, writer.fileno, writer.serve,
                 lambda: writer.gen, writer.stat,
                 lambda: writer.publish_file(0)):
        with pytest.raises(ValueError, match="closed"):
            call()
    writer.close()  # idempotent


@pytest.mark.parametrize("kwargs", [
    {"grace": 0}, {"grace": -1.0}, {"grace": float("nan")},
    {"max_readers": -1}, {"max_readers": 2**32}, {"backing": "tape"},
    {"fence": "sometimes"}, {"huge_page_size": -1}, {"data_mode": 0o10000},
    {"allow_uids": [-1]}, {"publish_rate": -1}, {"publish_rate": 2**32},
])
def test_bad_writer_options(chan, kwargs):
    with pytest.raises(ValueError):
        mmsync.Writer(chan, **kwargs)
    assert not os.path.exists(chan + "_state")


@pytest.mark.parametrize("kwargs", [
    {"backing": 1}, {"grace": "1"}, {"allow_uids": 5}, {"nonsense": 1},
])
def test_writer_option_types(chan, kwargs):
    with pytest.raises(TypeError):
        mmsync.Writer(chan, **kwargs)


def test_positional_options_refused(chan):
    with pytest.raises(TypeError):
        mmsync.Writer(chan, 1.0)
    with pytest.raises(TypeError):
        mmsync.Reader(chan, True)


@pytest.mark.parametrize("kwargs", [
    {"poll_interval": 0}, {"poll_interval": -1}, {"handoff_timeout": -1},
])
def test_bad_reader_options(writer, chan, kwargs):
    with pytest.raises(ValueError):
        mmsync.Reader(chan, **kwargs)


def test_huge_page_size_on_tmpfs(chan):
    # FILES backing: huge_page_size asserts a hugetlbfs directory.
    with pytest.raises(OSError) as e:
        mmsync.Writer(chan, huge_page_size=2 << 20)
    assert e.value.errno == errno.EINVAL


def test_memfd_calls_on_a_file_channel(writer):
    for call in (writer.fileno, writer.serve):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EOPNOTSUPP


def test_unclosed_handles_warn(chan):
    w = mmsync.Writer(chan)
    r = mmsync.Reader(chan)
    with pytest.warns(ResourceWarning, match="unclosed mmsync.Reader"):
        del r
    with pytest.warns(ResourceWarning, match="unclosed mmsync.Writer"):
        del w
    # Dropped handles were closed: a new writer can take the channel.
    with mmsync.Writer(chan) as w:
        assert w.stat().readers == 0


def test_stale_error_type():
    assert issubclass(mmsync.StaleError, OSError)
    e = mmsync.StaleError(errno.ESTALE, os.strerror(errno.ESTALE))
    assert e.errno == errno.ESTALE and mmsync.StaleError.__doc__


def test_destructor_warnings_keep_no_reference(chan):
    """A destructor's ResourceWarning must not carry the dying object as
    its source: the warning outlives it (this crashed the interpreter)."""
    import gc
    import warnings

    w = mmsync.Writer(chan)
    w.publish(b"x")
    r = mmsync.Reader(chan)
    v = r.view()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        del v, r, w
        gc.collect()
    assert [m.category for m in rec] == [ResourceWarning] * 3
    for m in rec:
        assert m.source is None
        repr(m.source), str(m.message)
