# SPDX-License-Identifier: MIT
"""Fixtures of the mmsync test suite.

Channels live in one private directory, /dev/shm/mmsync-test-$RUN-py-XXXXXX
($RUN: tests/run.sh's MMSYNC_TEST_RUN), removed at the end of the session
(tests/run.sh fails a run that leaves one of its directories behind); every
channel name is a path prefix in it.
"""
import itertools
import os
import shutil
import tempfile

import pytest

import mmsync

_names = itertools.count()


@pytest.fixture(scope="session")
def shmdir():
    run = os.environ.get("MMSYNC_TEST_RUN", "")
    prefix = "mmsync-test-%s-py-" % run if run else "mmsync-test-py-"
    d = tempfile.mkdtemp(prefix=prefix, dir="/dev/shm")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def chan(shmdir):
    """A fresh channel name, unlinked after the test."""
    name = os.path.join(shmdir, "c%d" % next(_names))
    yield name
    try:
        mmsync.unlink(name)
    except FileNotFoundError:
        pass


@pytest.fixture
def writer(chan):
    """A Writer on chan with a short grace period (50 ms)."""
    w = mmsync.Writer(chan, grace=0.05)
    yield w
    w.close()


@pytest.fixture
def c_peer():
    """The C peer program (python/tests/c_peer.c) built by make."""
    path = os.environ.get("MMSYNC_C_PEER", "")
    if not os.access(path, os.X_OK):
        pytest.skip("no C peer: run the suite through make "
                    "(build/<variant>/tests/python), which builds it")
    return path


@pytest.fixture(scope="session")
def np():
    return pytest.importorskip("numpy", reason="no numpy (python3-numpy)")
