# SPDX-License-Identifier: MIT
"""libmmsync for Python: one writer publishes snapshots of bytes, many
reader processes read the latest one in place, zero-copy.

    with mmsync.Writer("features") as w:
        gen = w.publish(array)               # any bytes-like object
    with mmsync.Reader("features") as r:
        with r.view() as v:                  # read-only buffer; v.gen
            a = numpy.frombuffer(v, dtype="f4")   # zero copy
            ...
            del a                            # before the view ends
        r.wait(v.gen, timeout=1.0)           # a newer generation?

Everything is implemented in C (mmsync._mmsync, stable ABI 3.11+); see the
"Python" section of libmmsync's README.md for the rules: views end only
when no buffer export is alive (BufferError), an evicted view ends with
StaleError, handles belong to one thread at a time and to the process that
opened them.
"""
from ._mmsync import (
    LIBRARY_VERSION_MAJOR,
    LIBRARY_VERSION_MINOR,
    PublishInfo,
    Reader,
    ReaderInfo,
    Reservation,
    StaleError,
    Stats,
    View,
    Writer,
    __version__,
    readers,
    stat,
    unlink,
)

__all__ = [
    "LIBRARY_VERSION_MAJOR",
    "LIBRARY_VERSION_MINOR",
    "PublishInfo",
    "Reader",
    "ReaderInfo",
    "Reservation",
    "StaleError",
    "Stats",
    "View",
    "Writer",
    "readers",
    "stat",
    "unlink",
]
