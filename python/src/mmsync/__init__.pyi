# SPDX-License-Identifier: MIT
# Type stubs of the mmsync package (implemented in C: mmsync._mmsync).
import os
from types import TracebackType
from typing import Final, Literal, NamedTuple, Protocol, Self, Sequence

# collections.abc.Buffer from 3.12; typing_extensions has it for 3.11.
from typing_extensions import Buffer as _Buffer

__version__: Final[str]
LIBRARY_VERSION_MAJOR: Final[int]
LIBRARY_VERSION_MINOR: Final[int]

_Name = str | bytes | os.PathLike[str] | os.PathLike[bytes]

class _HasFileno(Protocol):
    def fileno(self) -> int: ...

class StaleError(OSError):
    """The view was evicted (errno ESTALE): discard what was read."""

class Stats(NamedTuple):
    gen: int
    chan_id: int
    pub_age_ns: int
    created_ns: int
    publishes: int
    grace_waits: int
    evictions: int
    reclaims: int
    refusals: int
    waited_ns: int
    writer_opens: int
    slot_gen: tuple[int, int]
    slot_size: tuple[int, int]
    slot_cap: tuple[int, int]
    writer_pid: int
    writer_alive: bool
    fence_mode: Literal["membarrier", "xchg", "unknown"]
    max_readers: int
    readers: int
    pinned: int
    dead: int
    max_lag: int

class ReaderInfo(NamedTuple):
    index: int
    pid: int
    comm: str
    pinned_gen: int
    lag: int
    age_ns: int
    evictions: int
    flags: int
    alive: bool | None
    evicted: bool

class PublishInfo(NamedTuple):
    gen: int
    checksum: int
    waited_ns: int
    evicted: int
    reclaimed: int
    size: int

class View:
    """A zero-copy, read-only view of one snapshot (Reader.view())."""

    @property
    def gen(self) -> int: ...
    @property
    def checksum(self) -> int: ...
    @property
    def ended(self) -> bool: ...
    @property
    def exports(self) -> int: ...
    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def end(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

class Reader:
    def __init__(
        self,
        name: _Name,
        *,
        verify: bool = False,
        xchg: bool = False,
        sigbus_guard: bool = True,
        poll_interval: float | None = None,
        handoff_timeout: float | None = None,
    ) -> None: ...
    @property
    def gen(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def view(self) -> View: ...
    def read(self) -> bytes: ...
    def wait(self, after_gen: int, timeout: float | None = None) -> bool: ...
    def fileno(self) -> int: ...
    def stat(self) -> Stats: ...
    def readers(self) -> list[ReaderInfo]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

class Reservation:
    """The writable bytes of a reservation (Writer.reserve())."""

    @property
    def active(self) -> bool: ...
    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def commit(self, n: int | None = None) -> int: ...
    def abort(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

class Writer:
    def __init__(
        self,
        name: _Name,
        *,
        grace: float | None = 1.0,
        refuse: bool = False,
        max_readers: int | None = None,
        backing: Literal["files", "memfd"] = "files",
        huge_page_size: int | None = 0,
        fence: Literal["auto", "membarrier", "xchg"] = "auto",
        initial_capacity: int | None = 0,
        data_mode: int | None = None,
        state_mode: int | None = None,
        table_mode: int | None = None,
        allow_uids: Sequence[int] | None = None,
        allow_gids: Sequence[int] | None = None,
        publish_rate: int | None = None,
    ) -> None: ...
    @property
    def gen(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def last_publish(self) -> PublishInfo | None: ...
    def publish(self, data: _Buffer, /) -> int: ...
    def publish_file(
        self, file: int | _HasFileno, length: int = 0, offset: int = 0
    ) -> int: ...
    def reserve(self, n: int, /) -> Reservation: ...
    def commit(self, n: int | None = None, /) -> int: ...
    def abort(self) -> None: ...
    def fileno(self) -> int: ...
    def serve(self, timeout: float | None = 0) -> int: ...
    def stat(self) -> Stats: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

def unlink(name: _Name, /) -> None: ...
def stat(name: _Name, /) -> Stats: ...
def readers(name: _Name, /) -> list[ReaderInfo]: ...
