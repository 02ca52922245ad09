//! The writer side: [`Writer`], its options and in-place [`Reservation`]s.

use std::ffi::OsStr;
use std::io;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, AsRawFd};
use std::ptr::{self, NonNull};
use std::time::Duration;

use crate::error::{c_name, check, nanos, EINVAL};
use crate::{sys, Gen};

/// How readers fence their pin against the writer's scan of the reader
/// table. Fixed when the channel is created: a writer that reopens a
/// channel asking for another mode gets `EINVAL`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FenceMode {
    /// `membarrier()` where the kernel has it, else [`FenceMode::Xchg`];
    /// a channel that exists keeps its mode.
    #[default]
    Auto,
    /// Readers pin with a plain store; every publish costs the writer one
    /// `membarrier()`. Cheapest reads.
    Membarrier,
    /// Readers pin with `xchg`; publishing makes no syscall. For high
    /// publish rates.
    Xchg,
}

/// What a publish does with live readers that still pin the slot it is
/// about to reuse once the grace period is over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GracePolicy {
    /// Evict them: their [`View::finish`](crate::View::finish) returns
    /// [`Stale`](crate::Stale).
    #[default]
    Evict,
    /// Refuse the publish with `ETIMEDOUT`; nothing changes.
    Refuse,
}

/// Options of [`Writer::open`]. `Default` is the library's defaults.
///
/// ```
/// use std::time::Duration;
/// let opts = mmsync::WriterOptions::new()
///     .grace(Duration::from_millis(50))
///     .max_readers(64);
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, Default)]
pub struct WriterOptions {
    grace: Option<Duration>,
    policy: GracePolicy,
    fence: FenceMode,
    max_readers: u32,
    data_mode: u32,
    state_mode: u32,
    table_mode: u32,
    initial_capacity: u64,
    publish_rate: u32,
}

impl WriterOptions {
    /// The library's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a publish waits for readers of the slot it reuses
    /// (default 1 s). `Duration::ZERO` is taken as 1 ns, the shortest
    /// (the C library reads 0 as "default").
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// What happens to readers still pinned after the grace period.
    pub fn grace_policy(mut self, policy: GracePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The fence mode of a channel this writer creates.
    pub fn fence_mode(mut self, mode: FenceMode) -> Self {
        self.fence = mode;
        self
    }

    /// Reader-table entries of a channel this writer creates (0: 256).
    pub fn max_readers(mut self, n: u32) -> Self {
        self.max_readers = n;
        self
    }

    /// File modes of the data and state files of a channel this writer
    /// creates, which only the writer writes (0: 0640). Read and write
    /// bits only: others are `EINVAL`.
    pub fn modes(mut self, data_mode: u32, state_mode: u32) -> Self {
        self.data_mode = data_mode;
        self.state_mode = state_mode;
        self
    }

    /// File mode of the reader table of a channel this writer creates,
    /// which readers write (0: 0660).
    pub fn table_mode(mut self, mode: u32) -> Self {
        self.table_mode = mode;
        self
    }

    /// Publishes per second this writer expects (0: unknown). With
    /// `FenceMode::Auto`, a channel it creates gets `FenceMode::Xchg` at
    /// 1000 a second or more (`MMSYNC_AUTO_XCHG_RATE`), membarrier below.
    pub fn publish_rate(mut self, per_second: u32) -> Self {
        self.publish_rate = per_second;
        self
    }

    /// Initial capacity of each data slot in bytes; slots grow as needed.
    pub fn initial_capacity(mut self, bytes: u64) -> Self {
        self.initial_capacity = bytes;
        self
    }

    pub(crate) fn to_sys(&self) -> sys::mmsync_writer_opts {
        sys::mmsync_writer_opts {
            grace_ns: self.grace.map_or(0, |g| nanos(g).max(1)),
            grace_policy: match self.policy {
                GracePolicy::Evict => sys::MMSYNC_GRACE_EVICT,
                GracePolicy::Refuse => sys::MMSYNC_GRACE_REFUSE,
            },
            fence_mode: match self.fence {
                FenceMode::Auto => sys::MMSYNC_FENCE_AUTO,
                FenceMode::Membarrier => sys::MMSYNC_FENCE_MEMBARRIER,
                FenceMode::Xchg => sys::MMSYNC_FENCE_XCHG,
            },
            max_readers: self.max_readers,
            data_mode: self.data_mode,
            state_mode: self.state_mode,
            table_mode: self.table_mode,
            initial_capacity: self.initial_capacity,
            publish_rate: self.publish_rate,
            ..Default::default()
        }
    }
}

/// What one publish did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishInfo {
    /// The generation published.
    pub gen: Gen,
    /// XXH3-64 of the payload.
    pub checksum: u64,
    /// Payload bytes.
    pub size: u64,
    /// Time spent waiting for readers of the reused slot.
    pub waited: Duration,
    /// Live readers evicted after the grace period.
    pub evicted: u32,
    /// Dead readers' pins reclaimed (at once, without waiting).
    pub reclaimed: u32,
}

impl From<sys::mmsync_publish_info> for PublishInfo {
    fn from(i: sys::mmsync_publish_info) -> Self {
        PublishInfo {
            gen: i.gen,
            checksum: i.checksum,
            size: i.size,
            waited: Duration::from_nanos(i.waited_ns),
            evicted: i.evicted,
            reclaimed: i.reclaimed,
        }
    }
}

/// The one writer of a channel.
///
/// Holds the channel's writer lock until dropped: a second writer on the
/// same name gets `EBUSY`. Dropping it
/// leaves the files for the next writer, which continues the generation
/// sequence.
///
/// `Send` (use it from any thread, one at a time) but not `Sync`.
#[derive(Debug)]
pub struct Writer {
    w: NonNull<sys::mmsync_writer>,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

// SAFETY: the C handle may be used from any thread, one at a time (the
// header's synchronization table: "one thread per writer handle"); every
// call goes through &mut self or &self on a !Sync type.
unsafe impl Send for Writer {}

impl Writer {
    /// Opens (or creates) channel `name` for writing.
    ///
    /// A name without `/` lives in `$MMSYNC_DIR`, else `/dev/shm`; a name
    /// with `/` is a path prefix (`<name>_state`, `<name>_data_0`, ...).
    ///
    /// Errors carry the library's errno: `EBUSY` another writer holds the
    /// channel, `EBADMSG` the files are not a valid channel (left
    /// untouched), `EINVAL` bad options or name, `ENAMETOOLONG`, `ELOOP`.
    pub fn open(name: impl AsRef<OsStr>, opts: WriterOptions) -> io::Result<Writer> {
        let name = c_name(name.as_ref())?;
        let o = opts.to_sys();
        let mut w = ptr::null_mut();
        // SAFETY: valid NUL-terminated name, options and out pointer.
        check(unsafe { sys::mmsync_writer_open(name.as_ptr(), &o, &mut w) })?;
        let w = NonNull::new(w).ok_or_else(|| io::Error::other("mmsync_writer_open: NULL"))?;
        Ok(Writer {
            w,
            _not_sync: PhantomData,
        })
    }

    /// Publishes `data` as the next generation and returns it.
    ///
    /// Waits, for at most the grace period, until no live reader pins the
    /// slot it reuses. `ETIMEDOUT` under [`GracePolicy::Refuse`];
    /// `ENOSPC`/`ENOMEM`/`EFBIG` when the slot cannot grow. On any error
    /// the previous snapshot stays current.
    pub fn publish(&mut self, data: &[u8]) -> io::Result<Gen> {
        self.publish_info(data).map(|i| i.gen)
    }

    /// [`publish`](Self::publish), returning what it did.
    pub fn publish_info(&mut self, data: &[u8]) -> io::Result<PublishInfo> {
        let mut info = sys::mmsync_publish_info::default();
        // SAFETY: data is valid for data.len() bytes; info is writable.
        check(unsafe {
            sys::mmsync_publish(self.w.as_ptr(), data.as_ptr().cast(), data.len(), &mut info)
        })?;
        Ok(info.into())
    }

    /// Publishes `len` bytes read from `fd` (a file, pipe, socket or block
    /// device), straight into the slot with io_uring where it can.
    ///
    /// Regular files are read from offset 0 without moving their file
    /// offset (see [`publish_fd_at`](Self::publish_fd_at)); streams are
    /// consumed. `len == 0` means "to end of file / until the peer
    /// closes". `ENODATA` if the source ended early; nothing is published
    /// on any error.
    pub fn publish_fd(&mut self, fd: &impl AsFd, len: usize) -> io::Result<Gen> {
        self.publish_fd_at(fd, 0, len).map(|i| i.gen)
    }

    /// [`publish_fd`](Self::publish_fd) from `offset` of a regular file or
    /// block device (must be 0 for streams: `ESPIPE`).
    pub fn publish_fd_at(
        &mut self,
        fd: &impl AsFd,
        offset: u64,
        len: usize,
    ) -> io::Result<PublishInfo> {
        let offset =
            sys::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(EINVAL))?;
        let mut info = sys::mmsync_publish_info::default();
        let fd = fd.as_fd();
        // SAFETY: the descriptor is borrowed for the call; info is writable.
        check(unsafe {
            sys::mmsync_publish_fd(self.w.as_ptr(), fd.as_raw_fd(), offset, len, &mut info)
        })?;
        Ok(info.into())
    }

    /// Reserves `len` bytes of the next generation's slot, to serialize in
    /// place with no extra copy; waits for readers like
    /// [`publish`](Self::publish). The bytes hold whatever the slot held
    /// before. [`Reservation::commit`] publishes; dropping the
    /// reservation publishes nothing.
    pub fn reserve(&mut self, len: usize) -> io::Result<Reservation<'_>> {
        let mut p = ptr::null_mut();
        // SAFETY: out pointer is valid.
        check(unsafe { sys::mmsync_reserve(self.w.as_ptr(), len, &mut p) })?;
        let data = NonNull::new(p.cast::<u8>()).unwrap_or(NonNull::dangling());
        Ok(Reservation {
            writer: self,
            data,
            len,
        })
    }

    /// The last generation published on the channel (0: none yet).
    pub fn generation(&self) -> Gen {
        // SAFETY: the handle is live.
        unsafe { sys::mmsync_writer_gen(self.w.as_ptr()) }
    }

    /// The C handle, to call libmmsync functions this crate does not wrap
    /// (through [`sys`](crate::sys)). It stays owned by the `Writer`: do
    /// not close it.
    pub fn as_raw(&self) -> *mut sys::mmsync_writer {
        self.w.as_ptr()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // SAFETY: the handle is live and not used again.
        unsafe { sys::mmsync_writer_close(self.w.as_ptr()) }
    }
}

/// Bytes of the next generation's slot, from [`Writer::reserve`]:
/// a `&mut [u8]` of the reserved length. [`commit`](Self::commit)
/// publishes a prefix of it; dropping it aborts (nothing is published).
///
/// It borrows the writer, so nothing else can publish, reserve or close
/// while it lives, which is what keeps its pointer valid.
pub struct Reservation<'w> {
    writer: &'w mut Writer,
    data: NonNull<u8>,
    len: usize,
}

impl Reservation<'_> {
    /// Publishes the first `len` bytes (at most the reserved length:
    /// `EINVAL` otherwise, and the reservation is aborted).
    pub fn commit(self, len: usize) -> io::Result<Gen> {
        self.commit_info(len).map(|i| i.gen)
    }

    /// [`commit`](Self::commit), returning what it did.
    pub fn commit_info(self, len: usize) -> io::Result<PublishInfo> {
        let w = self.writer.w.as_ptr();
        // Commit or abort exactly once: not again in Drop.
        std::mem::forget(self);
        let mut info = sys::mmsync_publish_info::default();
        // SAFETY: the reservation is open on this live handle.
        let rc = unsafe { sys::mmsync_commit(w, len, &mut info) };
        if rc < 0 {
            // SAFETY: as above; abort is a no-op without a reservation.
            unsafe { sys::mmsync_abort(w) };
        }
        check(rc)?;
        Ok(info.into())
    }
}

impl Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the library mapped `len` writable bytes at `data`, valid
        // until commit/abort/next reserve/close, which all need the writer
        // we borrow mutably.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }
}

impl DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; we hold the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is live; nothing is published.
        unsafe { sys::mmsync_abort(self.writer.w.as_ptr()) }
    }
}

impl std::fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("len", &self.len)
            .finish()
    }
}
