//! The reader side: [`Reader`], its options and [`View`]s.

use std::ffi::OsStr;
use std::io;
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::fd::BorrowedFd;
use std::ptr::{self, NonNull};
use std::time::Duration;

use crate::error::{c_name, check, errno, nanos, Stale, ESTALE};
use crate::{sys, Gen};

/// Options of [`Reader::open`]. `Default` is the library's defaults.
#[derive(Clone, Debug, Default)]
pub struct ReaderOptions {
    flags: u32,
    poll: Option<Duration>,
    handoff_timeout: Option<Duration>,
}

impl ReaderOptions {
    /// The library's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Verify the XXH3-64 checksum of every view in [`Reader::read`]
    /// (`EIO` on mismatch). Costs a pass over the bytes.
    pub fn verify(mut self, on: bool) -> Self {
        self.set(sys::MMSYNC_READ_VERIFY, on);
        self
    }

    /// Always pin with `xchg`, even on a membarrier channel.
    pub fn xchg(mut self, on: bool) -> Self {
        self.set(sys::MMSYNC_READ_XCHG, on);
        self
    }

    /// Do not install the library's SIGBUS guard (README.md, "Guarantees").
    pub fn no_sigbus_guard(mut self, on: bool) -> Self {
        self.set(sys::MMSYNC_READ_NO_SIGBUS_GUARD, on);
        self
    }

    /// Poll interval of [`Reader::wait`] where it sleep-polls (default
    /// 2 ms; `Duration::ZERO` is taken as 1 ns).
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll = Some(d);
        self
    }

    /// Memfd channels: how long [`Reader::open`] waits for the writer to
    /// serve it (default 10 s).
    pub fn handoff_timeout(mut self, d: Duration) -> Self {
        self.handoff_timeout = Some(d);
        self
    }

    fn set(&mut self, flag: u32, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    fn to_sys(&self) -> sys::mmsync_reader_opts {
        sys::mmsync_reader_opts {
            flags: self.flags,
            poll_ns: self.poll.map_or(0, |d| nanos(d).max(1)),
            handoff_timeout_ns: self.handoff_timeout.map_or(0, |d| nanos(d).max(1)),
            ..Default::default()
        }
    }
}

/// A reader of one channel: one entry in the channel's reader table.
///
/// [`read`](Self::read) opens a [`View`] of the current snapshot in place,
/// with no copy, no lock and no syscall. The view borrows the reader
/// mutably, so the borrow checker enforces the library's rule of one open
/// view per handle, and a view cannot outlive its reader.
///
/// `Send` (a handle may move to another thread, and belongs to one thread
/// at a time) but not `Sync`.
///
/// ```no_run
/// let mut r = mmsync::Reader::open("features", Default::default())?;
/// let v = r.read()?;
/// println!("generation {}: {} bytes", v.generation(), v.len());
/// v.finish()?; // Err(Stale) if the writer evicted us meanwhile
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A second view while the first is open does not compile:
///
/// ```compile_fail,E0499
/// let mut r = mmsync::Reader::open("features", Default::default())?;
/// let a = r.read()?;
/// let b = r.read()?;
/// drop(a);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// but one after the other does:
///
/// ```no_run
/// let mut r = mmsync::Reader::open("features", Default::default())?;
/// let a = r.read()?;
/// drop(a);
/// let b = r.read()?;
/// drop(b);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A view does not outlive its reader:
///
/// ```compile_fail,E0597
/// let v;
/// {
///     let mut r = mmsync::Reader::open("features", Default::default())?;
///     v = r.read()?;
/// }
/// println!("{}", v.len());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// ```compile_fail,E0505
/// let mut r = mmsync::Reader::open("features", Default::default())?;
/// let v = r.read()?;
/// drop(r);
/// println!("{}", v.len());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A reader is `Send`:
///
/// ```no_run
/// fn send<T: Send>(_: T) {}
/// send(mmsync::Reader::open("features", Default::default())?);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// but not `Sync`:
///
/// ```compile_fail,E0277
/// fn sync<T: Sync>(_: &T) {}
/// sync(&mmsync::Reader::open("features", Default::default())?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Reader {
    r: NonNull<sys::mmsync_reader>,
    /// The open view's struct, filled by read_begin and handed back to
    /// read_end in place. Kept here rather than in View so that a read
    /// copies nothing: a copy right after the C call loads 16 bytes
    /// across two of the library's 8-byte stores, which the CPU cannot
    /// forward (measured: 10.4 instead of 3.9 ns per read).
    view: sys::mmsync_view,
    // NonNull already makes Reader !Send and !Sync; Send is restored
    // below, and this keeps it !Sync should the field ever change.
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

// SAFETY: a reader handle may be used from any thread, one thread at a
// time (header: "A handle belongs to one thread at a time"); it keeps no
// thread-local state. Reader is !Sync, so two threads never call into
// the same handle at once.
unsafe impl Send for Reader {}

impl Reader {
    /// Opens channel `name` for reading (names as in
    /// [`Writer::open`](crate::Writer::open)).
    ///
    /// `ENOENT` (`io::ErrorKind::NotFound`) if it was never created;
    /// `EBADMSG` if its files are not a valid channel (nothing is written
    /// to them); `EUSERS` if the reader table is full.
    pub fn open(name: impl AsRef<OsStr>, opts: ReaderOptions) -> io::Result<Reader> {
        let name = c_name(name.as_ref())?;
        let o = opts.to_sys();
        let mut r = ptr::null_mut();
        // SAFETY: valid NUL-terminated name, options and out pointer.
        check(unsafe { sys::mmsync_reader_open(name.as_ptr(), &o, &mut r) })?;
        let r = NonNull::new(r).ok_or_else(|| io::Error::other("mmsync_reader_open: NULL"))?;
        Ok(Reader {
            r,
            view: sys::mmsync_view::zeroed(),
            _not_sync: PhantomData,
        })
    }

    /// Opens a view of the current snapshot: no copy, no lock, no
    /// syscall (the library's out-of-line `mmsync_read_begin_ool`).
    ///
    /// `ENODATA` before the first publish; `EIO` on a checksum mismatch
    /// with [`ReaderOptions::verify`]; `EBADMSG` if the channel files are
    /// damaged.
    #[inline]
    pub fn read(&mut self) -> io::Result<View<'_>> {
        // SAFETY: live handle; no view is open (we hold &mut self, and a
        // View holds it for its whole life); the view struct is ours.
        let rc = unsafe { sys::mmsync_read_begin_ool(self.r.as_ptr(), &mut self.view) };
        if rc != 0 {
            return Err(errno(rc));
        }
        Ok(View { reader: self })
    }

    /// Waits until a generation newer than `after` is published: `Ok(true)`
    /// once it is, `Ok(false)` after `timeout` (zero: check once, no wait).
    /// `EPIPE` on a memfd channel whose writer is gone.
    pub fn wait(&mut self, after: Gen, timeout: Duration) -> io::Result<bool> {
        // SAFETY: live handle, used by this thread only.
        match unsafe { sys::mmsync_wait(self.r.as_ptr(), after, nanos(timeout)) } {
            0 => Ok(true),
            rc => match errno(rc) {
                e if e.kind() == io::ErrorKind::TimedOut => Ok(false),
                e => Err(e),
            },
        }
    }

    /// The current generation of the channel (0: nothing published yet).
    pub fn generation(&self) -> Gen {
        // SAFETY: live handle; the call only loads the shared generation.
        unsafe { sys::mmsync_reader_gen(self.r.as_ptr()) }
    }

    /// The descriptor that polls readable (POLLIN) once a generation was
    /// published since [`wait`](Self::wait) last consumed notifications;
    /// for `poll`, epoll or an async runtime. Owned by the reader, hence
    /// borrowed. Spurious wake-ups happen: call `wait(after, ZERO)` to
    /// learn what was published.
    ///
    /// `EOPNOTSUPP` where the library has no notification (then `wait`
    /// sleep-polls); `EMFILE`/`ENOSPC` at the kernel's inotify limits.
    ///
    /// `Reader` itself does not implement `AsFd`: that trait cannot fail,
    /// and this can. The `BorrowedFd` implements `AsFd` and `AsRawFd`.
    pub fn notify_fd(&self) -> io::Result<BorrowedFd<'_>> {
        // SAFETY: live handle; the library creates the descriptor on first
        // use and owns it until mmsync_reader_close().
        let fd = check(unsafe { sys::mmsync_reader_fd(self.r.as_ptr()) })?;
        // SAFETY: fd is open and stays open while the handle does, which
        // the borrow of self guarantees.
        Ok(unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// The C handle, to call libmmsync functions this crate does not wrap
    /// (through [`sys`](crate::sys)). It stays owned by the `Reader`:
    /// do not close it, and end any view you open on it before the next
    /// call on the `Reader`.
    pub fn as_raw(&self) -> *mut sys::mmsync_reader {
        self.r.as_ptr()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // SAFETY: the handle is live and not used again; no View can be
        // open (it would borrow self).
        unsafe { sys::mmsync_reader_close(self.r.as_ptr()) }
    }
}

/// An open view of one snapshot, from [`Reader::read`]: derefs to the
/// snapshot's bytes, in place in shared memory.
///
/// The bytes do not change while the view is open, unless the writer
/// evicted this reader after its grace period (default 1 s):
/// [`finish`](Self::finish) then returns [`Stale`], and what was read
/// must be discarded. Dropping the view ends it too, ignoring that
/// answer. Keep views short.
///
/// The writer is trusted with the bytes, as in the C library: an evicted
/// view's bytes are plain shared memory that another process may be
/// rewriting, so parse them as untrusted input (bounds-checked), which is
/// what safe Rust does anyway.
pub struct View<'r> {
    reader: &'r mut Reader,
}

// SAFETY: &View gives out only the mapped bytes and copies of the view
// struct's fields; it makes no call into the library.
unsafe impl Sync for View<'_> {}

impl View<'_> {
    /// The snapshot's generation (1 for the first publish, +1 each).
    #[inline]
    pub fn generation(&self) -> Gen {
        self.reader.view.gen
    }

    /// XXH3-64 of the snapshot's bytes, as the writer computed it.
    #[inline]
    pub fn checksum(&self) -> u64 {
        self.reader.view.checksum
    }

    /// The bytes (same as `&*view`).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self
    }

    /// Ends the view: `Ok` if its bytes were stable the whole time,
    /// `Err(Stale)` if the writer evicted this reader meanwhile.
    #[inline]
    pub fn finish(self) -> Result<(), Stale> {
        let mut me = std::mem::ManuallyDrop::new(self);
        match me.end() {
            0 => Ok(()),
            _ => Err(Stale {
                gen: me.reader.view.gen,
            }),
        }
    }

    #[inline(always)]
    fn end(&mut self) -> i32 {
        // SAFETY: the view is open on this live handle (we borrow it).
        let r = &mut *self.reader;
        let rc = unsafe { sys::mmsync_read_end_ool(r.r.as_ptr(), &mut r.view) };
        // -EINVAL (no view open) cannot happen: a View exists only
        // between a successful read_begin and this call.
        debug_assert!(rc == 0 || rc == -ESTALE, "mmsync_read_end: {rc}");
        rc
    }
}

impl Deref for View<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the library maps `size` readable bytes at `data` (never
        // NULL) until read_end, and read_end happens only in finish/drop.
        let v = &self.reader.view;
        unsafe { std::slice::from_raw_parts(v.data.cast::<u8>(), v.size) }
    }
}

impl AsRef<[u8]> for View<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for View<'_> {
    #[inline]
    fn drop(&mut self) {
        self.end();
    }
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("generation", &self.generation())
            .field("len", &self.len())
            .field("checksum", &format_args!("{:#018x}", self.checksum()))
            .finish()
    }
}
