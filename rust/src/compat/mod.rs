//! A drop-in for [mmap-sync] 2.x's `Synchronizer`, on libmmsync
//! (feature `mmap-sync-compat`, rkyv 0.7).
//!
//! A program written against mmap-sync's README examples compiles after
//! changing only its `use` lines: `mmap_sync::` becomes
//! `mmsync::compat::` (the module paths `synchronizer`, `guard` and
//! `instance` exist here too, and the types are also at this level).
//!
//! ```
//! use bytecheck::CheckBytes;
//! use rkyv::{Archive, Deserialize, Serialize};
//! use std::time::Duration;
//! use mmsync::compat::synchronizer::Synchronizer; // was mmap_sync::synchronizer
//!
//! #[derive(Archive, Deserialize, Serialize, Debug, PartialEq)]
//! #[archive_attr(derive(CheckBytes))]
//! pub struct HelloWorld {
//!     pub version: u32,
//!     pub messages: Vec<String>,
//! }
//!
//! # let dir = std::env::temp_dir().join(format!("mmsync-doc-compat-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let prefix = dir.join("hello_world");
//! // let prefix = "/tmp/hello_world";
//! let mut writer = Synchronizer::new(prefix.as_ref());
//! let data = HelloWorld { version: 7, messages: vec!["Hello".into(), "World".into(), "!".into()] };
//! let (written, reset) = writer.write(&data, Duration::from_secs(1)).expect("failed to write data");
//! assert!(written > 0 && !reset);
//!
//! let mut reader = Synchronizer::new(prefix.as_ref());
//! let data = unsafe { reader.read::<HelloWorld>(false) }.expect("failed to read data");
//! assert_eq!(data.version, 7);
//! assert_eq!(data.messages[0], "Hello");
//! # drop(data); drop(reader); drop(writer);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! # Where the semantics differ from mmap-sync
//!
//! The protocol underneath is libmmsync's, not mmap-sync's:
//!
//! - **No torn reads.** mmap-sync can let a reader see a data file while
//!   the writer rewrites it (a reader that pins a copy just after the
//!   writer found it free). Here a read is pinned and re-checked; a
//!   [`ReadResult`]'s bytes never change while it is alive, unless the
//!   reader was evicted, and then [`ReadResult::finish`] says so.
//! - **A slow reader is told, not silently rewritten.** Past the grace
//!   period mmap-sync resets its reader counter and overwrites the data
//!   under a slow reader. Here the writer evicts it the same way, but the
//!   reader's [`ReadResult::finish`] returns
//!   `Err(SynchronizerError::FailedDataRead(e))` with `e` = `ESTALE`
//!   ([`SynchronizerError::is_stale`]). Dropping a `ReadResult`, as
//!   mmap-sync programs do, ends the read without asking.
//! - **Dead readers cost nothing.** A crashed reader is reclaimed at
//!   once, without waiting out the grace period.
//! - **`reset`** (the `bool` of [`Synchronizer::write`]) is true when the
//!   write took over pins: of live readers evicted after the grace
//!   period, or of dead readers reclaimed at once.
//! - **One writer, always.** The first write opens the channel's writer
//!   handle, which holds the writer lock until the `Synchronizer` is
//!   dropped: a second writing `Synchronizer` on the same prefix gets
//!   [`SynchronizerError::WriteLockConflict`] (mmap-sync's default,
//!   `LockDisabled`, lets two writers corrupt each other). There are no
//!   hasher, lock-strategy, scratch-size or sleep type parameters: the
//!   checksum is libmmsync's XXH3-64, the lock always on, the waits the
//!   library's.
//! - **The grace period is a writer setting** in libmmsync. A write with
//!   a different `grace_duration` than the previous one closes and
//!   reopens the writer handle (a few syscalls; another writer could take
//!   the lock in between). `Duration::ZERO` means 1 ns, not the library's
//!   default.
//! - **Files.** A prefix is a path, as in mmap-sync (one without `/` is
//!   taken relative to the current directory, as `./<prefix>`), and
//!   mmap-sync's names are there (`<prefix>_state`, `<prefix>_data_0`,
//!   `<prefix>_data_1`), with libmmsync's `<prefix>_readers` (the reader
//!   table, the only file readers write) and `<prefix>_lock`. The format
//!   is libmmsync's: files an mmap-sync writer left are refused
//!   (`FailedStateRead` with `EBADMSG`, left untouched) and must be
//!   removed first. Data files hold slot capacities, not the payload
//!   length. Readers need write access to `_readers` only.
//! - **`version()`** is an [`InstanceVersion`] that wraps the libmmsync
//!   generation (1, 2, 3, ...), not mmap-sync's packed index/size/checksum
//!   word: equal versions still mean equal data, a new write always gives
//!   a new, larger one.
//! - **`read` with `check_bytes == false`** still checks that the data is
//!   large enough and aligned for `T`'s archived root
//!   (`FailedEntityRead`), which mmap-sync does not; it stays `unsafe`
//!   because rkyv then trusts the bytes otherwise.
//! - **`is_switched()`** is true when this read shows another generation
//!   than this `Synchronizer`'s previous read (mmap-sync: when it
//!   switched data files), so also for the first read.
//! - **Write path.** `write` serializes into a reused buffer and publishes
//!   it with one copy, as mmap-sync does; `write_raw` copies `data`. Use
//!   [`crate::Writer::reserve`] to serialize straight into the slot.
//!
//! [mmap-sync]: https://github.com/cloudflare/mmap-sync

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use rkyv::ser::serializers::{AlignedSerializer, AllocSerializer};
use rkyv::ser::Serializer;
use rkyv::validation::validators::DefaultValidator;
use rkyv::{archived_root, check_archived_root, AlignedVec, Archive, Archived, Serialize};

use bytecheck::CheckBytes;

use crate::error::{EBUSY, ENODATA};
use crate::{Gen, Reader, View, Writer, WriterOptions};

pub use bytecheck;
pub use rkyv;

/// mmap-sync's module path `mmap_sync::synchronizer`.
pub mod synchronizer {
    pub use super::{Synchronizer, SynchronizerError};
}

/// mmap-sync's module path `mmap_sync::guard`.
pub mod guard {
    pub use super::ReadResult;
}

/// mmap-sync's module path `mmap_sync::instance`.
pub mod instance {
    pub use super::InstanceVersion;
}

/// Scratch space of the serializer, as mmap-sync 2.x's default `N`.
const SCRATCH: usize = 1024;

/// mmap-sync 2.x's `Synchronizer` on a libmmsync channel: one writer,
/// many readers, rkyv-archived entities read in place.
///
/// Files are opened lazily: the writer handle on the first write, the
/// reader handle on the first read or `version()`.
pub struct Synchronizer {
    name: CString,
    writer: Option<(Writer, Duration)>,
    reader: Option<Reader>,
    buf: Option<AlignedVec>,
    last_read: Gen,
    name_err: Option<io::ErrorKind>,
}

/// mmap-sync 2.x's error enum, with the same variants and messages.
///
/// libmmsync's errno is kept in the `io::Error`s: open errors are
/// `FailedStateRead` (`ENOENT`: no writer ever wrote; `EBADMSG`: not a
/// libmmsync channel), publish errors `FailedDataWrite`, read errors and
/// stale reads `FailedDataRead` (see [`is_stale`](Self::is_stale)).
#[derive(Debug)]
pub enum SynchronizerError {
    /// An error occurred while writing to the data file.
    FailedDataWrite(io::Error),
    /// An error occurred while reading from the data file; `ESTALE` when
    /// the writer evicted this reader (see [`ReadResult::finish`]).
    FailedDataRead(io::Error),
    /// An error occurred while opening or reading the state file.
    FailedStateRead(io::Error),
    /// The entity could not be serialized.
    FailedEntityWrite,
    /// The bytes are not a valid archive of the entity's type.
    FailedEntityRead,
    /// Nothing was written yet.
    UninitializedState,
    /// Not produced by this implementation (kept for exhaustive matches).
    InvalidInstanceVersionParams,
    /// Another writer holds the channel.
    WriteLockConflict,
}

impl SynchronizerError {
    /// True for the error of a read whose bytes may have changed under it
    /// (the writer evicted the reader after the grace period).
    pub fn is_stale(&self) -> bool {
        matches!(self, SynchronizerError::FailedDataRead(e)
            if e.raw_os_error() == Some(crate::error::ESTALE))
    }
}

impl fmt::Display for SynchronizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SynchronizerError::*;
        match self {
            FailedDataWrite(e) => write!(f, "error writing data file: {e}"),
            FailedDataRead(e) => write!(f, "error reading data file: {e}"),
            FailedStateRead(e) => write!(f, "error reading state file: {e}"),
            FailedEntityWrite => f.write_str("error writing entity"),
            FailedEntityRead => f.write_str("error reading entity"),
            UninitializedState => f.write_str("uninitialized state"),
            InvalidInstanceVersionParams => f.write_str("invalid instance version params"),
            WriteLockConflict => f.write_str("write blocked by conflicting lock"),
        }
    }
}

impl std::error::Error for SynchronizerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SynchronizerError::FailedDataWrite(e)
            | SynchronizerError::FailedDataRead(e)
            | SynchronizerError::FailedStateRead(e) => Some(e),
            _ => None,
        }
    }
}

/// The version of the data a channel holds: here the libmmsync
/// generation (1 for the first write, +1 for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceVersion(pub(crate) u64);

impl InstanceVersion {
    /// The generation.
    pub fn generation(&self) -> Gen {
        self.0
    }
}

impl TryFrom<u64> for InstanceVersion {
    type Error = SynchronizerError;

    /// 0 (nothing written) is `UninitializedState`, as in mmap-sync.
    fn try_from(v: u64) -> Result<Self, SynchronizerError> {
        match v {
            0 => Err(SynchronizerError::UninitializedState),
            v => Ok(InstanceVersion(v)),
        }
    }
}

impl From<InstanceVersion> for u64 {
    fn from(v: InstanceVersion) -> u64 {
        v.0
    }
}

impl Synchronizer {
    /// A synchronizer for the channel at `path_prefix` (files
    /// `<path_prefix>_state`, `_data_0`, `_data_1`). Opens nothing yet.
    pub fn new(path_prefix: &OsStr) -> Self {
        // libmmsync takes a name without '/' from $MMSYNC_DIR; mmap-sync
        // takes it as a path relative to the current directory.
        let mut bytes = path_prefix.as_bytes().to_vec();
        if !bytes.is_empty() && !bytes.contains(&b'/') {
            bytes.splice(0..0, *b"./");
        }
        let (name, name_err) = match CString::new(bytes) {
            Ok(n) => (n, None),
            // Reported by the first write or read, as mmap-sync reports
            // what is wrong with a path when it opens the file.
            Err(_) => (CString::default(), Some(io::ErrorKind::InvalidInput)),
        };
        Synchronizer {
            name,
            writer: None,
            reader: None,
            buf: Some(AlignedVec::new()),
            last_read: 0,
            name_err,
        }
    }

    /// Serializes `entity` with rkyv, checks that the bytes archive a
    /// valid `T`, and publishes them as the next version, waiting at most
    /// `grace_duration` for readers of the copy it reuses.
    ///
    /// Returns the bytes written and whether pins were taken over (live
    /// readers evicted after `grace_duration`, or dead readers reclaimed).
    pub fn write<T>(
        &mut self,
        entity: &T,
        grace_duration: Duration,
    ) -> Result<(usize, bool), SynchronizerError>
    where
        T: Serialize<AllocSerializer<SCRATCH>>,
        T::Archived: for<'b> CheckBytes<DefaultValidator<'b>>,
    {
        let mut buf = self.buf.take().unwrap_or_default();
        buf.clear();
        let mut serializer = AllocSerializer::<SCRATCH>::new(
            AlignedSerializer::new(buf),
            Default::default(),
            Default::default(),
        );
        serializer
            .serialize_value(entity)
            .map_err(|_| SynchronizerError::FailedEntityWrite)?;
        let data = serializer.into_serializer().into_inner();
        let res = match check_archived_root::<T>(&data) {
            Ok(_) => self.publish(&data, grace_duration),
            Err(_) => Err(SynchronizerError::FailedEntityRead),
        };
        self.buf = Some(data);
        res
    }

    /// Publishes bytes that already are an archived `T`, unchecked.
    pub fn write_raw<T>(
        &mut self,
        data: &[u8],
        grace_duration: Duration,
    ) -> Result<(usize, bool), SynchronizerError>
    where
        T: Serialize<AllocSerializer<SCRATCH>>,
        T::Archived: for<'b> CheckBytes<DefaultValidator<'b>>,
    {
        self.publish(data, grace_duration)
    }

    /// Reads the current version in place: a [`ReadResult`] that derefs
    /// to the archived `T` in shared memory, and ends the read when
    /// dropped.
    ///
    /// `check_bytes`: validate the archive with bytecheck (safe against
    /// any bytes) or trust it.
    ///
    /// # Safety
    ///
    /// As in mmap-sync: with `check_bytes == false` the bytes must be a
    /// valid archive of `T` (rkyv's `archived_root`); and the result must
    /// be dropped before the writer's grace period runs out, because an
    /// evicted reader's bytes may be rewritten under the references it
    /// hands out (rkyv's relative pointers included). Unlike mmap-sync,
    /// [`ReadResult::finish`] then tells.
    pub unsafe fn read<T>(
        &mut self,
        check_bytes: bool,
    ) -> Result<ReadResult<'_, T>, SynchronizerError>
    where
        T: Archive,
        T::Archived: for<'b> CheckBytes<DefaultValidator<'b>>,
    {
        self.open_reader()?;
        let Some(reader) = self.reader.as_mut() else {
            unreachable!("open_reader() opened it");
        };
        let view = reader.read().map_err(|e| match e.raw_os_error() {
            Some(ENODATA) => SynchronizerError::UninitializedState,
            _ => SynchronizerError::FailedDataRead(e),
        })?;
        let entity = root::<T>(&view, check_bytes)?;
        let switched = view.generation() != self.last_read;
        self.last_read = view.generation();
        Ok(ReadResult {
            view,
            entity,
            switched,
            _entity: PhantomData,
        })
    }

    /// The current version of the channel, to tell whether the entity
    /// changed; `UninitializedState` before the first write.
    pub fn version(&mut self) -> Result<InstanceVersion, SynchronizerError> {
        let gen = match (&self.reader, &self.writer) {
            (Some(r), _) => r.generation(),
            (None, Some((w, _))) => w.generation(),
            (None, None) => {
                self.open_reader()?;
                self.reader.as_ref().map_or(0, Reader::generation)
            }
        };
        InstanceVersion::try_from(gen)
    }

    fn publish(
        &mut self,
        data: &[u8],
        grace: Duration,
    ) -> Result<(usize, bool), SynchronizerError> {
        if let Some(kind) = self.name_err {
            return Err(SynchronizerError::FailedStateRead(bad_name(kind)));
        }
        // The grace period is fixed when a libmmsync writer opens.
        if self.writer.as_ref().is_some_and(|(_, g)| *g != grace) {
            self.writer = None;
        }
        if self.writer.is_none() {
            let opts = WriterOptions::new().grace(grace);
            let w = Writer::open(OsStr::from_bytes(self.name.as_bytes()), opts).map_err(|e| {
                if e.raw_os_error() == Some(EBUSY) {
                    SynchronizerError::WriteLockConflict
                } else {
                    SynchronizerError::FailedStateRead(e)
                }
            })?;
            self.writer = Some((w, grace));
        }
        let Some((w, _)) = self.writer.as_mut() else {
            unreachable!("opened above");
        };
        let info = w
            .publish_info(data)
            .map_err(SynchronizerError::FailedDataWrite)?;
        Ok((data.len(), info.evicted + info.reclaimed > 0))
    }

    #[inline]
    fn open_reader(&mut self) -> Result<(), SynchronizerError> {
        if self.reader.is_some() {
            return Ok(());
        }
        if let Some(kind) = self.name_err {
            return Err(SynchronizerError::FailedStateRead(bad_name(kind)));
        }
        let r = Reader::open(OsStr::from_bytes(self.name.as_bytes()), Default::default())
            .map_err(SynchronizerError::FailedStateRead)?;
        self.reader = Some(r);
        Ok(())
    }
}

fn bad_name(kind: io::ErrorKind) -> io::Error {
    io::Error::new(kind, "path prefix contains a NUL byte")
}

/// The archived root of `T` at the end of `bytes`, as rkyv lays it out.
fn root<T>(bytes: &[u8], check_bytes: bool) -> Result<*const Archived<T>, SynchronizerError>
where
    T: Archive,
    T::Archived: for<'b> CheckBytes<DefaultValidator<'b>>,
{
    if check_bytes {
        return check_archived_root::<T>(bytes)
            .map(|a| a as *const Archived<T>)
            .map_err(|_| SynchronizerError::FailedEntityRead);
    }
    // rkyv trusts the bytes from here on; at least make sure the root it
    // computes lies inside them and is aligned (mmap-sync does not).
    let size = std::mem::size_of::<Archived<T>>();
    let fits = bytes.len() >= size
        && (bytes.as_ptr() as usize + bytes.len() - size) % std::mem::align_of::<Archived<T>>()
            == 0;
    if !fits {
        return Err(SynchronizerError::FailedEntityRead);
    }
    // SAFETY: the caller of Synchronizer::read (unsafe) vouches that the
    // bytes are an archived T; the root is in bounds and aligned.
    Ok(unsafe { archived_root::<T>(bytes) } as *const Archived<T>)
}

/// A read in progress, from [`Synchronizer::read`]: derefs to the
/// archived entity, in place in shared memory. Dropping it ends the read.
pub struct ReadResult<'a, T: Archive> {
    view: View<'a>,
    entity: *const Archived<T>,
    switched: bool,
    _entity: PhantomData<&'a Archived<T>>,
}

// SAFETY: the entity pointer points into the view's bytes; sharing or
// sending it is sharing or sending an &Archived<T>, hence the bound, as
// mmap-sync's ReadResult has it.
unsafe impl<T: Archive> Send for ReadResult<'_, T> where Archived<T>: Sync {}
// SAFETY: as above.
unsafe impl<T: Archive> Sync for ReadResult<'_, T> where Archived<T>: Sync {}

impl<T: Archive> ReadResult<'_, T> {
    /// Whether this read shows another version than the previous read of
    /// the same `Synchronizer` (true for the first read).
    pub fn is_switched(&self) -> bool {
        self.switched
    }

    /// The generation this read shows (not in mmap-sync).
    pub fn generation(&self) -> Gen {
        self.view.generation()
    }

    /// The XXH3-64 checksum the writer stored (not in mmap-sync).
    pub fn checksum(&self) -> u64 {
        self.view.checksum()
    }

    /// Ends the read and says whether its bytes were stable the whole time
    /// (not in mmap-sync): `Err(FailedDataRead(ESTALE))` if the writer
    /// evicted this reader after the grace period; discard what was read.
    pub fn finish(self) -> Result<(), SynchronizerError> {
        self.view
            .finish()
            .map_err(|s| SynchronizerError::FailedDataRead(s.into()))
    }
}

impl<T: Archive> Deref for ReadResult<'_, T> {
    type Target = Archived<T>;

    fn deref(&self) -> &Archived<T> {
        // SAFETY: entity points into the view's bytes, which stay mapped
        // and unchanged (unless evicted: see Synchronizer::read) while the
        // view, which we own, is open.
        unsafe { &*self.entity }
    }
}

impl<T: Archive> fmt::Debug for ReadResult<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadResult")
            .field("generation", &self.view.generation())
            .field("switched", &self.switched)
            .finish_non_exhaustive()
    }
}
