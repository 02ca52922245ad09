//! Safe Rust bindings to libmmsync (this repository's C library): one writer process publishes
//! snapshots of bytes, many reader processes read the latest one in place,
//! with no copy, no lock and no syscall on the read path.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let mut w = mmsync::Writer::open("features", Default::default())?;
//! let gen = w.publish(b"hello")?;
//!
//! let mut r = mmsync::Reader::open("features", Default::default())?;
//! let v = r.read()?; // Deref<Target = [u8]>, in place in shared memory
//! assert_eq!(&v[..], b"hello");
//! assert_eq!(v.generation(), gen);
//! v.finish()?; // Err(Stale) if the writer evicted us meanwhile
//!
//! let newer = r.wait(gen, Duration::from_secs(1))?; // false: timed out
//! # let _ = newer;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Every error is an [`std::io::Error`] carrying the library's errno
//! (`raw_os_error()`), except [`View::finish`]'s [`Stale`], which
//! converts into one (`ESTALE`).
//!
//! # The rules the types enforce
//!
//! - One open view per reader: [`Reader::read`] borrows the reader
//!   mutably for as long as the [`View`] lives, so a second view, or a
//!   view that outlives its reader, does not compile (see [`Reader`]).
//! - [`Reader`] and [`Writer`] are `Send` but not `Sync`: a handle
//!   belongs to one thread at a time.
//! - A [`Reservation`] borrows its writer, so its bytes stay valid until
//!   it is committed or dropped (which aborts it).
//!
//! # Linking
//!
//! `build.rs` links `MMSYNC_LIB_DIR` if set, else, inside a libmmsync
//! checkout, that checkout's `build/default/libmmsync.a` (running
//! `make lib` first), else what `pkg-config libmmsync` says. The README's
//! "Rust" section has the details.
//!
//! # mmap-sync
//!
//! With the `mmap-sync-compat` feature, [`compat::Synchronizer`] is a
//! drop-in for mmap-sync 2.x's `Synchronizer` (rkyv 0.7).
#![warn(missing_docs)]

mod error;
mod reader;
pub mod sys;
mod writer;

#[cfg(feature = "mmap-sync-compat")]
pub mod compat;

pub use error::Stale;
pub use reader::{Reader, ReaderOptions, View};
pub use writer::{FenceMode, GracePolicy, PublishInfo, Reservation, Writer, WriterOptions};

/// A generation: 1 for the first publish of a channel, +1 for each one
/// after it, continued across writers.
pub type Gen = u64;

/// Removes the files of channel `name`. Open handles keep working on the
/// unlinked files. `ENOENT` if there was no such channel.
pub fn unlink(name: impl AsRef<std::ffi::OsStr>) -> std::io::Result<()> {
    let name = error::c_name(name.as_ref())?;
    // SAFETY: valid NUL-terminated name.
    error::check(unsafe { sys::mmsync_unlink(name.as_ptr()) }).map(drop)
}
