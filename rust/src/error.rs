//! Errors: the library's `-errno` as [`io::Error`], and [`Stale`].

use std::ffi::{CString, OsStr};
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;

use crate::Gen;

/// ESTALE: the asm-generic value, and the architectures that differ.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
pub(crate) const ESTALE: i32 = 151;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
pub(crate) const ESTALE: i32 = 70;
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
pub(crate) const ESTALE: i32 = 116;
/// ENODATA, likewise.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
#[allow(dead_code)]
pub(crate) const ENODATA: i32 = 96;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
#[allow(dead_code)]
pub(crate) const ENODATA: i32 = 111;
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
#[allow(dead_code)]
pub(crate) const ENODATA: i32 = 61;
/// EBUSY (the same everywhere).
#[allow(dead_code)]
pub(crate) const EBUSY: i32 = 16;
/// EINVAL (the same everywhere).
pub(crate) const EINVAL: i32 = 22;

/// Turns a `-errno` return into an [`io::Error`] carrying that errno.
#[cold]
#[inline(never)]
pub(crate) fn errno(rc: i32) -> io::Error {
    io::Error::from_raw_os_error(-rc)
}

/// `0` (or a count) is success; anything negative is `-errno`.
#[inline]
pub(crate) fn check(rc: i32) -> io::Result<i32> {
    if rc < 0 {
        Err(errno(rc))
    } else {
        Ok(rc)
    }
}

/// A channel name as the C library takes it; a NUL byte in it is
/// [`io::ErrorKind::InvalidInput`], as the standard library does for paths.
pub(crate) fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "channel name contains a NUL byte",
        )
    })
}

/// Saturating conversion for the library's `int64_t` nanoseconds.
pub(crate) fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The writer evicted this view after its grace period and may have
/// rewritten its bytes while they were read: discard what was read and
/// read again. The library's `mmsync_read_end()` returned `-ESTALE`.
///
/// Converts into an [`io::Error`] whose `raw_os_error()` is `ESTALE`, so
/// `view.finish()?` works in functions that return [`io::Result`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stale {
    pub(crate) gen: Gen,
}

impl Stale {
    /// The generation the stale view showed.
    pub fn generation(&self) -> Gen {
        self.gen
    }
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "view of generation {} was evicted by the writer (ESTALE): its bytes may have changed while they were read",
            self.gen
        )
    }
}

impl std::error::Error for Stale {}

impl From<Stale> for io::Error {
    fn from(_: Stale) -> io::Error {
        io::Error::from_raw_os_error(ESTALE)
    }
}
