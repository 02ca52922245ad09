//! Raw declarations of the libmmsync functions and structs this crate uses,
//! written by hand from `include/mmsync.h` (no bindgen, no dependency).
//!
//! `tests/abi.rs` compiles every declaration below, translated to C,
//! against the header: a function whose parameter or return types differ,
//! or a struct whose size or field offsets differ, fails that test. Keep
//! one `pub fn` per declaration in the `extern "C"` block and only the
//! types that test knows (it says which).
//!
//! The read fast path is `static inline` in the header; Rust calls its
//! exported out-of-line copies, [`mmsync_read_begin_ool`] and
//! [`mmsync_read_end_ool`], and never mirrors the inline code.
#![allow(non_camel_case_types, missing_docs)]

use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_int, c_void};

/// `off_t` of the C library (64 bits on the 64-bit targets it supports).
pub type off_t = i64;

/// Opaque writer handle.
#[repr(C)]
pub struct mmsync_writer {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Opaque reader handle.
#[repr(C)]
pub struct mmsync_reader {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `enum mmsync_fence_mode`.
pub const MMSYNC_FENCE_AUTO: u32 = 0;
pub const MMSYNC_FENCE_MEMBARRIER: u32 = 1;
pub const MMSYNC_FENCE_XCHG: u32 = 2;
/// `enum mmsync_grace_policy`.
pub const MMSYNC_GRACE_EVICT: u32 = 0;
pub const MMSYNC_GRACE_REFUSE: u32 = 1;
/// Reader flags.
pub const MMSYNC_READ_VERIFY: u32 = 1 << 0;
pub const MMSYNC_READ_XCHG: u32 = 1 << 1;
pub const MMSYNC_READ_NO_SIGBUS_GUARD: u32 = 1 << 2;

/// `struct mmsync_writer_opts`; `sz` is set to this struct's size, so the
/// library knows which fields this crate was built with.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmsync_writer_opts {
    pub sz: usize,
    pub grace_ns: i64,
    pub grace_policy: u32,
    pub fence_mode: u32,
    pub max_readers: u32,
    pub data_mode: u32,
    pub state_mode: u32,
    pub __pad0: u32,
    pub initial_capacity: u64,
    pub fd_depth: u32,
    pub fd_flags: u32,
    pub fd_chunk: u64,
    pub backing: u32,
    pub nr_allow_uids: u32,
    pub huge_page_size: u64,
    pub allow_uids: *const u32,
    pub allow_gids: *const u32,
    pub nr_allow_gids: u32,
    pub table_mode: u32,
    pub publish_rate: u32,
    pub __pad1: u32,
}

impl Default for mmsync_writer_opts {
    fn default() -> Self {
        mmsync_writer_opts {
            sz: std::mem::size_of::<Self>(),
            grace_ns: 0,
            grace_policy: 0,
            fence_mode: 0,
            max_readers: 0,
            data_mode: 0,
            state_mode: 0,
            __pad0: 0,
            initial_capacity: 0,
            fd_depth: 0,
            fd_flags: 0,
            fd_chunk: 0,
            backing: 0,
            nr_allow_uids: 0,
            huge_page_size: 0,
            allow_uids: std::ptr::null(),
            allow_gids: std::ptr::null(),
            nr_allow_gids: 0,
            table_mode: 0,
            publish_rate: 0,
            __pad1: 0,
        }
    }
}

/// `struct mmsync_reader_opts`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmsync_reader_opts {
    pub sz: usize,
    pub flags: u32,
    pub __pad0: u32,
    pub poll_ns: i64,
    pub handoff_timeout_ns: i64,
}

impl Default for mmsync_reader_opts {
    fn default() -> Self {
        mmsync_reader_opts {
            sz: std::mem::size_of::<Self>(),
            flags: 0,
            __pad0: 0,
            poll_ns: 0,
            handoff_timeout_ns: 0,
        }
    }
}

/// `struct mmsync_publish_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct mmsync_publish_info {
    pub gen: u64,
    pub checksum: u64,
    pub waited_ns: u64,
    pub evicted: u32,
    pub reclaimed: u32,
    pub size: u64,
    pub __reserved: [u64; 3],
}

/// `struct mmsync_view`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mmsync_view {
    pub data: *const c_void,
    pub size: usize,
    pub gen: u64,
    pub checksum: u64,
    pub __priv: [u64; 2],
}

impl mmsync_view {
    /// An empty view to hand to `mmsync_read_begin_ool`.
    #[inline(always)]
    pub const fn zeroed() -> Self {
        mmsync_view {
            data: std::ptr::null(),
            size: 0,
            gen: 0,
            checksum: 0,
            __priv: [0; 2],
        }
    }
}

extern "C" {
    pub fn mmsync_writer_open(
        name: *const c_char,
        opts: *const mmsync_writer_opts,
        out: *mut *mut mmsync_writer,
    ) -> c_int;
    pub fn mmsync_publish(
        w: *mut mmsync_writer,
        buf: *const c_void,
        len: usize,
        info: *mut mmsync_publish_info,
    ) -> c_int;
    pub fn mmsync_reserve(w: *mut mmsync_writer, len: usize, ptr: *mut *mut c_void) -> c_int;
    pub fn mmsync_commit(
        w: *mut mmsync_writer,
        len: usize,
        info: *mut mmsync_publish_info,
    ) -> c_int;
    pub fn mmsync_abort(w: *mut mmsync_writer);
    pub fn mmsync_publish_fd(
        w: *mut mmsync_writer,
        fd: c_int,
        offset: off_t,
        len: usize,
        info: *mut mmsync_publish_info,
    ) -> c_int;
    pub fn mmsync_writer_gen(w: *const mmsync_writer) -> u64;
    pub fn mmsync_writer_close(w: *mut mmsync_writer);

    pub fn mmsync_reader_open(
        name: *const c_char,
        opts: *const mmsync_reader_opts,
        out: *mut *mut mmsync_reader,
    ) -> c_int;
    pub fn mmsync_reader_close(r: *mut mmsync_reader);
    pub fn mmsync_read_begin_ool(r: *mut mmsync_reader, v: *mut mmsync_view) -> c_int;
    pub fn mmsync_read_end_ool(r: *mut mmsync_reader, v: *mut mmsync_view) -> c_int;
    pub fn mmsync_wait(r: *mut mmsync_reader, after_gen: u64, timeout_ns: i64) -> c_int;
    pub fn mmsync_reader_fd(r: *mut mmsync_reader) -> c_int;
    pub fn mmsync_reader_gen(r: *const mmsync_reader) -> u64;

    pub fn mmsync_unlink(name: *const c_char) -> c_int;
}
