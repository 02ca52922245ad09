/* SPDX-License-Identifier: MIT */
/*
 * mmsync.h - one writer publishes snapshots of bytes, many reader processes
 * read the latest one in place: zero-copy, no lock, no syscall on the read
 * path.
 *
 * Copyright (c) 2026 The libmmsync authors
 *
 * A channel NAME is a set of objects (files NAME_* in a directory, or
 * memfds): NAME_state, written only by the writer (the current generation,
 * per-slot metadata, counters; readers map it read-only), NAME_readers, the
 * reader table with one cache line per reader handle (the only thing
 * readers write), and the data slots NAME_data_0 and NAME_data_1.
 * Generation g lives in slot g & 1. A reader pins the generation it reads
 * in its own entry; the writer waits, for at most a grace period, until no
 * live reader pins the slot it is about to overwrite, marks the slot, then
 * rewrites it. read_end checks that the slot still holds the view's
 * generation, so a view whose bytes changed is never reported clean.
 *
 * Trust model (README.md, "Guarantees"): a process that may read a channel
 * can only harm itself. Whatever it writes into the reader table, locks,
 * truncates or leaves behind, the writer and the other readers get no
 * crash, no signal, no torn, forged or rolled-back view reported clean, no
 * publish waiting longer than the grace period; at worst publishes wait up
 * to the grace period, other readers see -ESTALE and retry, or the reader
 * table is full (-EUSERS).
 *
 * Backings (mmsync_writer_opts.backing; README.md, "Backings"): the files live
 * in a directory (tmpfs by default, or any directory, a hugetlbfs mount
 * included), or they are anonymous memfds (MFD_HUGETLB ones on request)
 * that the writer hands to readers over a Unix socket, from its own loop
 * (mmsync_writer_handoff_fd(), mmsync_writer_serve()). Readers do not
 * choose: mmsync_reader_open() finds NAME_state, or else the socket.
 *
 * Conventions
 *   - Functions return 0 (or a count) on success and -errno on failure.
 *     They never crash on bad input (NULL handles included).
 *   - Handles are opaque. Options structs start with `size_t sz`; declare
 *     them with MMSYNC_OPTS() so that they can grow without breaking you.
 *     `opts == NULL` means defaults.
 *
 * Synchronization table (who may run what at the same time)
 *
 *   operation             | concurrent with                | needs
 *   ----------------------+--------------------------------+------------------
 *   mmsync_publish        | any reader operation, in any   | one thread per
 *                         | process                        | writer handle
 *   mmsync_read_begin/end | publish, other reader handles  | one thread per
 *                         | (own thread or process)        | reader handle
 *   mmsync_wait           | publish, other reader handles  | one thread per
 *                         |                                | reader handle
 *   mmsync_writer_serve   | publish and everything else on | one thread at a
 *                         | the handle but close           | time per writer
 *   mmsync_stat,          | everything, in any process     | nothing: they
 *   mmsync_foreach_reader |                                | only read (racy)
 *   *_open / *_close      | everything except the same     | caller excludes
 *                         | handle                         | use-after-close
 *
 *   What pairs with what (the memory-ordering contract; each site in the
 *   code names its partner, for x86-TSO and ARM64):
 *   - publish's release store of hot.gen pairs with read_begin's acquire
 *     load of it: a reader that sees generation g sees the slot metadata
 *     and the bytes of g.
 *   - read_begin's pin store, then its re-load of hot.gen, against
 *     publish's full fence, then its scan of the table (store-buffering,
 *     both sides fenced): the writer's membarrier() on a membarrier
 *     channel, the reader's xchg and the writer's smp_mb() on a fence
 *     channel. Either the scan sees the pin, or the reader sees the newer
 *     generation and retries.
 *   - read_end's release store of 0 in its pin pairs with the scan's
 *     acquire load of the pin: bytes a reader read are read before the
 *     writer reuses the slot.
 *   - publish marks the slot (slot.gen = 0), then a release fence, then
 *     rewrites the bytes; read_end issues an acquire fence after the
 *     view's loads, then loads slot.gen (the seqlock read side): if any
 *     load of the view saw a rewritten byte, read_end sees the mark or a
 *     later generation and returns -ESTALE.
 *   - a reader claims its table entry with a seq_cst read-modify-write of
 *     the table's claimed count before it first loads hot.gen; a writer
 *     that reads the count as 0 after a full fence skips the fence and the
 *     scan (no reader can pin the slot it reuses).
 *
 * Fork: a child forked (without exec) never keeps its parent's reader
 * entries or writer lock alive. In the child, inherited reader handles take
 * an entry of their own on their next mmsync_read_begin() (a view open at
 * fork time ends as usual, -ESTALE if its slot was reused); inherited writer
 * handles may only be closed (every other call returns -EBADFD).
 */
#ifndef MMSYNC_H
#define MMSYNC_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MMSYNC_API
#define MMSYNC_API __attribute__((visibility("default")))
#endif

#define MMSYNC_VERSION_MAJOR 0
#define MMSYNC_VERSION_MINOR 1

struct mmsync_writer;
struct mmsync_reader;

/**
 * MMSYNC_OPTS - declare an options struct: its size set, every field not
 * named zero.
 * Example: MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = 50000000);
 */
#define MMSYNC_OPTS(TYPE, NAME, ...)                                    \
	struct TYPE NAME = ({                                           \
		MMSYNC__DIAG_PUSH                                       \
		struct TYPE NAME##__init = { .sz = sizeof(struct TYPE), \
					     __VA_ARGS__ };             \
		MMSYNC__DIAG_POP                                        \
		NAME##__init;                                           \
	})

#ifdef __cplusplus
/* C++ -Wextra warns about the fields a designated initializer leaves out. */
#define MMSYNC__DIAG_PUSH                       \
	_Pragma("GCC diagnostic push") _Pragma( \
		"GCC diagnostic ignored \"-Wmissing-field-initializers\"")
#define MMSYNC__DIAG_POP _Pragma("GCC diagnostic pop")
#else
#define MMSYNC__DIAG_PUSH
#define MMSYNC__DIAG_POP
#endif

/** How readers fence their pin against the writer's scan. */
enum mmsync_fence_mode {
	/** membarrier() if the kernel has it, else fence (default). */
	MMSYNC_FENCE_AUTO = 0,
	/** Readers: store + compiler barrier; writer: membarrier() per publish. */
	MMSYNC_FENCE_MEMBARRIER = 1,
	/** Readers: xchg; writer: no syscall to publish. For high publish rates. */
	MMSYNC_FENCE_XCHG = 2,
};

/** What publish does with live readers still pinned after the grace period. */
enum mmsync_grace_policy {
	/** Evict them; their mmsync_read_end() returns -ESTALE (default). */
	MMSYNC_GRACE_EVICT = 0,
	/** Refuse the publish with -ETIMEDOUT; nothing changes. */
	MMSYNC_GRACE_REFUSE = 1,
};

/** Where a channel's bytes live (mmsync_writer_opts.backing). */
enum mmsync_backing {
	/**
	 * Files NAME_state, NAME_readers, NAME_data_0, NAME_data_1 and
	 * NAME_lock in a directory: tmpfs (/dev/shm) by default, or any
	 * directory; in a hugetlbfs mount the slots are huge pages. The
	 * channel outlives its writer (default).
	 */
	MMSYNC_BACKING_FILES = 0,
	/**
	 * Anonymous memfds, sealed, handed to readers over a Unix socket
	 * (state and data read-only, the reader table read-write): "@x"
	 * listens on the abstract socket "x", any other name on the socket
	 * file NAME_sock. The channel dies with its writer.
	 */
	MMSYNC_BACKING_MEMFD = 1,
};

struct mmsync_writer_opts {
	size_t sz; /* sizeof(struct mmsync_writer_opts) */
	/* Grace period in ns; 0 = 1 s. */
	int64_t grace_ns;
	/* enum mmsync_grace_policy */
	uint32_t grace_policy;
	/*
	 * enum mmsync_fence_mode. Fixed when the channel is created; a writer
	 * that reopens a channel asking for another mode gets -EINVAL.
	 */
	uint32_t fence_mode;
	/* Reader-table entries, set when the channel is created; 0 = 256. */
	uint32_t max_readers;
	/*
	 * File modes at creation (rw bits only: setuid, setgid, sticky or
	 * exec bits are -EINVAL); 0 = 0640 for data and state, which only
	 * the writer writes. The reader table has table_mode (0660: readers
	 * must write it). Give readers of other users read access to state
	 * and data and write access to the table. Memfd backing: the memfds
	 * are handed over read-only (the table read-write), and table_mode
	 * is the socket file's mode too (connecting needs write access).
	 */
	uint32_t data_mode;
	uint32_t state_mode;
	uint32_t __pad0;
	/* Initial capacity of each data slot in bytes; slots grow as needed. */
	uint64_t initial_capacity;
	/*
	 * mmsync_publish_fd() tuning; 0 = the defaults measured on the
	 * reference machine (lib/publish_fd.c says how): 16 reads in flight,
	 * each a sixteenth of the payload in 512 KiB..4 MiB (1 MiB for pipes
	 * and sockets). fd_depth: reads in flight, 1..1024. fd_chunk: bytes
	 * per read, a multiple of 4096 in 4 KiB..64 MiB. fd_flags:
	 * MMSYNC_FD_*.
	 */
	uint32_t fd_depth;
	uint32_t fd_flags;
	uint64_t fd_chunk;
	/* enum mmsync_backing; 0 = files in a directory. */
	uint32_t backing;
	/* Entries in allow_uids. */
	uint32_t nr_allow_uids;
	/*
	 * Huge page size in bytes; 0 = normal pages. MEMFD: the data slots
	 * are MFD_HUGETLB memfds of this size (2 MiB, 1 GiB where the CPU
	 * and kernel have it). FILES: asserts that the directory is a
	 * hugetlbfs mount of this page size (-EINVAL if not); with 0 a
	 * hugetlbfs directory is used as it is. Slot sizes are rounded up
	 * to the page size either way.
	 */
	uint64_t huge_page_size;
	/*
	 * MEMFD: who may receive the channel, by the credentials the kernel
	 * gives the socket (SO_PEERCRED, SO_PEERGROUPS): a peer whose uid is
	 * in allow_uids, or whose gid or a supplementary group is in
	 * allow_gids. Both empty: the writer's effective uid only (root is
	 * not implied). The lists are copied. FILES: must be empty (file
	 * modes decide).
	 */
	const uid_t *allow_uids;
	const gid_t *allow_gids;
	uint32_t nr_allow_gids;
	/* Mode of the reader table file at creation; 0 = 0660. */
	uint32_t table_mode;
	/*
	 * Publishes per second the writer expects, for MMSYNC_FENCE_AUTO
	 * when it creates the channel; 0 = unknown. At MMSYNC_AUTO_XCHG_RATE
	 * or more, AUTO picks MMSYNC_FENCE_XCHG: a membarrier-mode publish
	 * with readers running costs the writer an IPI round to their CPUs
	 * (9-12 us measured in a VM, 3 us on bare metal), which a reader's
	 * xchg pin saves nothing measurable against at such rates
	 * (README.md, "Publishing"). Below it, or 0, AUTO picks membarrier
	 * where the kernel has it. Ignored when the channel exists already
	 * (its mode is fixed) and with an explicit fence_mode.
	 */
	uint32_t publish_rate;
	uint32_t __pad1;
};

/* mmsync_writer_opts.publish_rate from which MMSYNC_FENCE_AUTO picks xchg. */
#define MMSYNC_AUTO_XCHG_RATE 1000u

/**
 * mmsync_writer_opts.fd_flags: how mmsync_publish_fd() reads. With none
 * set the library picks (lib/publish_fd.c has the measurements): fixed
 * buffers for O_DIRECT sources only, worker threads for regular files of
 * 4 MiB and more when the process may run on more than one CPU.
 */
enum {
	/** Never register the slot mappings as io_uring fixed buffers. */
	MMSYNC_FD_NO_FIXED = 1u << 0,
	/**
	 * Run reads of regular files and block devices in io_uring's worker
	 * threads (IOSQE_ASYNC): the copy runs on another CPU while this
	 * thread hashes the chunks already in. Not for O_DIRECT (the device
	 * is asynchronous already) nor pipes and sockets (polled).
	 */
	MMSYNC_FD_ASYNC = 1u << 1,
	/** No io_uring: a plain read()/pread() loop, as where it is missing. */
	MMSYNC_FD_NO_URING = 1u << 2,
	/** Run reads at submit time, in this thread, then hash. */
	MMSYNC_FD_INLINE = 1u << 3,
	/** Fixed buffers for every source, not only O_DIRECT ones. */
	MMSYNC_FD_FIXED = 1u << 4,
};

/** Reader flags. */
enum {
	/** Verify XXH3-64 of the data in read_begin; mismatch gives -EIO. */
	MMSYNC_READ_VERIFY = 1u << 0,
	/** Always pin with xchg, even on a membarrier channel. */
	MMSYNC_READ_XCHG = 1u << 1,
	/**
	 * Do not install the SIGBUS guard. By default a reader handles
	 * SIGBUS on its own slot mappings (a data file truncated under a
	 * view): the faulting page reads as zeros, read_end returns -ESTALE
	 * and the next read_begin remaps or fails with -EBADMSG. Faults
	 * anywhere else go to the handler that was there before.
	 */
	MMSYNC_READ_NO_SIGBUS_GUARD = 1u << 2,
	/**
	 * No notification: mmsync_wait() sleep-polls every poll_ns and
	 * mmsync_reader_fd() returns -EOPNOTSUPP. The handle then takes no
	 * inotify instance (they are limited per user).
	 */
	MMSYNC_READ_NO_NOTIFY = 1u << 3,
};

struct mmsync_reader_opts {
	size_t sz; /* sizeof(struct mmsync_reader_opts) */
	uint32_t flags; /* MMSYNC_READ_* */
	uint32_t __pad0;
	/*
	 * Poll interval of mmsync_wait() where it cannot be notified (the
	 * inotify limits, MMSYNC_READ_NO_NOTIFY), in ns; 0 = 2 ms (README,
	 * Benchmarks).
	 */
	int64_t poll_ns;
	/*
	 * Memfd channels: how long mmsync_reader_open() waits for the writer
	 * to serve it (mmsync_writer_serve()); 0 = 10 s, <0 = forever.
	 */
	int64_t handoff_timeout_ns;
};

/** What a publish did. Filled by mmsync_publish() when not NULL. */
struct mmsync_publish_info {
	uint64_t gen; /* the generation published */
	uint64_t checksum; /* XXH3-64 of the payload */
	uint64_t waited_ns; /* time spent waiting for readers */
	uint32_t evicted; /* live readers evicted after the grace period */
	uint32_t reclaimed; /* dead readers' pins reclaimed */
	uint64_t size; /* payload bytes published */
	uint64_t __reserved[3];
};

/**
 * A read-only view of one snapshot. Valid from mmsync_read_begin() until
 * mmsync_read_end() on the same handle.
 */
struct mmsync_view {
	const void *data; /* read-only; never NULL, even when size is 0 */
	size_t size;
	uint64_t gen; /* 1 for the first publish, +1 per publish */
	uint64_t checksum; /* XXH3-64 of data[0, size) */
	uint64_t __priv[2];
};

/**
 * @brief Open (or create) channel @name for writing.
 * @param name without '/': a channel in $MMSYNC_DIR, else /dev/shm; with
 *        '/': a path prefix, files are "<name>_state" and so on. Memfd
 *        backing: "@x" (no '/') is the abstract socket "x"; any other
 *        name the socket file "<name>_sock".
 * @param opts NULL for defaults.
 * @param out the new handle.
 * @return 0; -EBUSY if another writer holds the channel; -EBADMSG if the
 *         files are not a valid channel (they are left untouched); -EPERM if
 *         a file of the channel is owned by another user or is not a
 *         regular file (it is never adopted); -EINVAL on bad arguments
 *         (modes with setuid, setgid, sticky or exec bits included);
 *         -ENAMETOOLONG, -EINVAL for names whose files could not be created
 *         (nothing is created); -ENOSPC if the file system is full (every
 *         page is reserved before it is mapped: never SIGBUS); -ELOOP if a
 *         file name is a symlink. Memfd backing:
 *         -EEXIST if NAME_state exists (it would hide the channel from
 *         readers) or NAME_sock is not a socket. Huge pages: -EOPNOTSUPP if
 *         the system has no pages of that size; -ENOBUFS if none are
 *         reserved (nr_hugepages and nr_overcommit_hugepages are 0); -ENOMEM
 *         if they ran out. Other -errno from the file system.
 *
 * A writer that reopens a file-backed channel continues its generation
 * sequence; readers keep reading the last complete snapshot meanwhile. A
 * memfd channel is new each time (generations from 1).
 */
MMSYNC_API int mmsync_writer_open(const char *name,
				  const struct mmsync_writer_opts *opts,
				  struct mmsync_writer **out);

/**
 * @brief Publish @len bytes from @buf as the next generation.
 *
 * Waits (polling, at most the grace period in all, whatever the reader
 * table holds) until no live reader pins the slot about to be overwritten;
 * dead readers are not waited for. Then marks the slot, copies the bytes,
 * stores size and XXH3-64 and makes the generation current. The slot grows
 * when @len exceeds it. Readers still pinning the slot after the grace
 * period are no longer waited for (MMSYNC_GRACE_EVICT): their read_end
 * returns -ESTALE.
 *
 * @param info may be NULL.
 * @return 0; -ETIMEDOUT under MMSYNC_GRACE_REFUSE when a live reader still
 *         pins the slot (nothing changed); -ENOMEM/-ENOSPC/-EFBIG when the
 *         slot cannot grow (nothing changed; -ENOMEM: out of huge pages on
 *         hugetlb slots, whose space is reserved before it is touched, so
 *         never SIGBUS); -EOVERFLOW when the channel has used up its
 *         generations (2^60 - 1 of them; nothing changed); -EINVAL on bad
 *         arguments.
 */
MMSYNC_API int mmsync_publish(struct mmsync_writer *w, const void *buf,
			      size_t len, struct mmsync_publish_info *info);

/**
 * @brief Reserve @len bytes of the next generation's slot, to serialize in
 *        place with no extra copy.
 *
 * Waits for readers exactly like mmsync_publish(). *@ptr stays valid until
 * mmsync_commit(), mmsync_abort(), the next reserve or publish, or close.
 * Never committing publishes nothing; a new reserve starts over.
 *
 * @return 0; the errors of mmsync_publish().
 */
MMSYNC_API int mmsync_reserve(struct mmsync_writer *w, size_t len, void **ptr);

/**
 * @brief Publish the first @len (<= reserved) bytes of the reservation:
 *        hash them and make them the current generation. @info reports
 *        the wait mmsync_reserve() did too (waited_ns, evicted,
 *        reclaimed).
 * @return 0; -EINVAL if no reservation is open or @len exceeds it.
 */
MMSYNC_API int mmsync_commit(struct mmsync_writer *w, size_t len,
			     struct mmsync_publish_info *info);

/** Abandon an open reservation; nothing is published. */
MMSYNC_API void mmsync_abort(struct mmsync_writer *w);

struct iovec;

/**
 * @brief Publish the bytes of a file, a pipe, a socket or a block device
 *        as the next generation, read straight into the slot.
 *
 * Waits for readers like mmsync_publish(), then fills the slot with
 * io_uring reads into its mapping (many in flight; the mapping registered
 * as fixed buffers where the kernel and RLIMIT_MEMLOCK allow), hashes the
 * bytes as they land and publishes them. Works on every slot backing,
 * hugetlbfs included: nothing is ever write()n to a data file. Falls back
 * to a read() loop where io_uring is missing or forbidden.
 *
 * Regular files and block devices are read with positional reads from
 * @offset: the file offset of @fd is neither used nor moved. Pipes,
 * sockets and character devices are read from where they stand and
 * consumed; @offset must be 0 and no byte past @len is read. O_DIRECT
 * descriptors (fcntl(F_GETFL)) are read at aligned offsets into aligned
 * parts of the slot; an unaligned @offset or @len costs one memmove() of
 * the payload. Non-blocking descriptors are polled; short reads and EINTR
 * are retried.
 *
 * @param offset where to start in a file or block device; 0 otherwise.
 * @param len bytes to publish. 0 means "up to end of file": for a pipe or
 *        a socket, until the writer side closes, growing the slot as the
 *        bytes come; for a file, until a read returns 0, so that a file
 *        that grows while it is read is read to its new end (its size
 *        only sizes the slot). An @offset at or past the end publishes an
 *        empty snapshot.
 * @param info may be NULL; info->size says how many bytes were published.
 * @return 0; -EBADF if @fd is not open for reading; -EISDIR; -ESPIPE if
 *         @offset is not 0 for a pipe, socket or character device;
 *         -ENODATA if the source ended before @len bytes (a short file, a
 *         pipe or socket closed early); -EFBIG, -ENOSPC, -ENOMEM when the
 *         slot cannot grow; -EINVAL on bad arguments; any -errno a read
 *         returned. On every error nothing is published: the previous
 *         snapshot stays current and intact. A stream source may have been
 *         partly consumed.
 */
MMSYNC_API int mmsync_publish_fd(struct mmsync_writer *w, int fd, off_t offset,
				 size_t len, struct mmsync_publish_info *info);

/**
 * @brief Publish the concatenation of @n buffers (gather publish), copied
 *        and hashed in one pass.
 * @param iov @n struct iovec; entries with iov_len 0 may have a NULL base.
 * @param n 0..IOV_MAX (1024); 0 publishes an empty snapshot.
 * @return 0; -EINVAL if @n is out of range, @iov is NULL with @n > 0, a
 *         non-empty entry has a NULL base, or the lengths overflow; the
 *         errors of mmsync_publish().
 */
MMSYNC_API int mmsync_publish_iov(struct mmsync_writer *w,
				  const struct iovec *iov, int n,
				  struct mmsync_publish_info *info);

/** @return the last generation published on the channel (0: none). */
MMSYNC_API uint64_t mmsync_writer_gen(const struct mmsync_writer *w);

/**
 * @brief Release the writer lock and free @w. NULL is a no-op.
 *
 * FILES: the files stay, for the next writer. MEMFD: the socket file is
 * removed and the channel ends; its readers keep their last snapshot, and
 * mmsync_wait() tells them -EPIPE.
 */
MMSYNC_API void mmsync_writer_close(struct mmsync_writer *w);

/**
 * @brief The listening socket of a memfd channel, to poll for POLLIN in
 *        the writer's own event loop; then call mmsync_writer_serve().
 * @return the descriptor (owned by @w: do not read or close it);
 *         -EOPNOTSUPP for a file-backed channel (readers open the files
 *         themselves); -EINVAL if @w is NULL.
 */
MMSYNC_API int mmsync_writer_handoff_fd(const struct mmsync_writer *w);

/**
 * @brief Hand the channel to the readers waiting to open it (memfd
 *        backing): each allowed peer gets the state and the two data memfds
 *        read-only and the reader table read-write (its own open file
 *        description, for its entry lock) over SCM_RIGHTS; a peer that is
 *        not allowed gets -EACCES in its mmsync_reader_open().
 *
 * Runs in the caller's thread; the library has none. Waits up to
 * @timeout_ns for a first reader, then serves all those already waiting,
 * without blocking (at most 256 per call). May run in another thread than
 * mmsync_publish() on the same handle.
 *
 * @param timeout_ns 0: do not wait (after poll() said readable); <0: wait
 *        forever.
 * @return the number of readers served (0: none came, or all refused);
 *         -EOPNOTSUPP for a file-backed channel; -EINVAL; -ENOSYS without
 *         /proc (needed to reopen memfds); other -errno of the socket.
 */
MMSYNC_API int mmsync_writer_serve(struct mmsync_writer *w, int64_t timeout_ns);

/**
 * @brief Open channel @name for reading.
 *
 * Opens NAME_state if it exists; otherwise fetches a memfd channel from
 * its writer's socket ("@x": abstract socket "x"; else NAME_sock), which
 * waits until the writer calls mmsync_writer_serve().
 *
 * @return 0; -ENOENT if the channel was never created (or its memfd
 *         writer is gone); -EBADMSG if the files are not a valid channel
 *         (nothing is written to them), or the socket handed over
 *         something that is not one; -EUSERS if the reader table is full;
 *         -EACCES if the writer refused us, or we may not write the reader
 *         table; -ETIMEDOUT if it did not serve us in time; -ENOSPC if the
 *         reader table lost pages and the file system has no room to give
 *         them back; -ELOOP if a name is a symlink; other -errno.
 *
 * A handle belongs to one thread at a time; a process may open many.
 */
MMSYNC_API int mmsync_reader_open(const char *name,
				  const struct mmsync_reader_opts *opts,
				  struct mmsync_reader **out);

/** Close @r, unpinning if a view is still open. NULL is a no-op. */
MMSYNC_API void mmsync_reader_close(struct mmsync_reader *r);

/**
 * @brief Wait until a generation > @after_gen is published.
 * @param timeout_ns <0: forever; 0: check once.
 * Blocks on the handle's notification (an inotify watch of the state
 * object, which the writer touches when someone waits; no futex, no CPU
 * while nothing is published), looking at the generation at least once a
 * second whatever it is told. Where notification cannot be had (the
 * kernel's inotify limits, MMSYNC_READ_NO_NOTIFY) it sleep-polls every
 * poll_ns instead. With @timeout_ns 0 it consumes the notifications of
 * mmsync_reader_fd(): after it returned -ETIMEDOUT, the descriptor polls
 * readable as soon as a generation > @after_gen is published.
 *
 * @param timeout_ns <0: forever; 0: check once (and consume).
 * @return 0 once published; -ETIMEDOUT; -EINVAL; -EPIPE on a memfd channel
 *         whose writer is gone: nothing will be published on it any more
 *         (its last snapshot stays readable); close the handle and open the
 *         name again to follow a new writer.
 */
MMSYNC_API int mmsync_wait(struct mmsync_reader *r, uint64_t after_gen,
			   int64_t timeout_ns);

/**
 * @brief A descriptor that polls readable (POLLIN) once a generation was
 *        published since @r last consumed notifications with
 *        mmsync_wait(); for poll(), epoll and io_uring.
 *
 * Owned by @r (close-on-exec, closed by mmsync_reader_close()): do not
 * read or close it. After mmsync_wait(r, after, 0) returned -ETIMEDOUT it
 * becomes readable as soon as a generation > after is published (no lost
 * wake-up); spurious wake-ups are possible, so always call mmsync_wait()
 * to learn what happened.
 *
 * An inotify descriptor of the handle's own (one per handle: a shared one
 * could not keep the handles' wake-ups apart). In a child forked with the
 * handle, ask again: the child gets its own.
 *
 * @return the descriptor; -EOPNOTSUPP where notification is not available
 *         (MMSYNC_READ_NO_NOTIFY, no inotify; then mmsync_wait()
 *         sleep-polls); -EMFILE or -ENFILE when the kernel's inotify
 *         instance limits are reached (fs.inotify.max_user_instances),
 *         -ENOSPC when its watch limit is; -EINVAL if @r is NULL.
 */
MMSYNC_API int mmsync_reader_fd(struct mmsync_reader *r);

/** @return the current generation of the channel (0: nothing yet). */
MMSYNC_API uint64_t mmsync_reader_gen(const struct mmsync_reader *r);

/**
 * @brief Remove the files of channel @name (NAME_state, NAME_readers,
 *        NAME_data_0, NAME_data_1, NAME_lock, NAME_sock). Open handles
 *        keep working on the
 *        unlinked files; a memfd channel's writer keeps its readers but
 *        gets no new ones.
 * @return 0, or -ENOENT if there was no such channel.
 */
MMSYNC_API int mmsync_unlink(const char *name);

/*
 * ---- Statistics, without joining the channel ------------------------------
 *
 * These read the state file through a read-only mapping: they take no
 * reader entry, write nothing and need only read access. The numbers are a
 * racy snapshot (the writer and readers keep going while they are read).
 */

/** Counters of channel @name. Declare it with MMSYNC_OPTS(mmsync_stats, s). */
struct mmsync_stats {
	size_t sz; /* sizeof(struct mmsync_stats), set by the caller */
	uint64_t chan_id; /* the channel id the USDT probes pass */
	uint64_t gen; /* current generation (0: nothing published) */
	uint64_t pub_age_ns; /* since the last publish (0: none) */
	uint64_t created_ns; /* CLOCK_REALTIME when the channel was created */
	uint64_t publishes;
	uint64_t grace_waits; /* publishes that had to wait for a reader */
	/* Live readers' pins the writer stopped waiting for (grace over). */
	uint64_t evictions;
	/* Dead readers' pins the writer did not wait for. */
	uint64_t reclaims;
	uint64_t refusals; /* publishes refused (MMSYNC_GRACE_REFUSE) */
	uint64_t waited_ns; /* total time publishes waited for readers */
	uint64_t writer_opens;
	uint64_t slot_gen[2]; /* generation in each data slot (0: in flux) */
	uint64_t slot_size[2]; /* payload bytes in each slot */
	uint64_t slot_cap[2]; /* bytes each slot's file holds */
	uint32_t writer_pid; /* last writer's pid, in its namespace (0: none) */
	uint32_t writer_alive; /* 1 while a writer holds the channel */
	uint32_t fence_mode; /* enum mmsync_fence_mode */
	uint32_t max_readers; /* reader-table entries */
	uint32_t readers; /* live reader handles */
	uint32_t pinned; /* live readers with an open view */
	uint32_t dead; /* dead readers whose pin was not reclaimed yet */
	uint32_t __pad0;
	uint64_t max_lag; /* most generations an open view is behind */
	uint64_t notifies; /* publishes that woke waiting readers */
	uint32_t waiters; /* live readers waiting for a publish */
	uint32_t __pad1;
	uint64_t slot_checksum[2]; /* XXH3-64 of each slot's payload */
};

/**
 * @brief Read the counters of channel @name into @st.
 * @param st its sz set by the caller; fields past sz are not written, so
 *        a program built against an older header keeps working.
 * @return 0; -ENOENT if there is no such channel; -EBADMSG if the files
 *         are not a valid channel; -EINVAL on bad arguments; -errno.
 */
MMSYNC_API int mmsync_stat(const char *name, struct mmsync_stats *st);

/** One entry of the reader table, as mmsync_foreach_reader() sees it. */
struct mmsync_reader_info {
	size_t sz; /* sizeof(struct mmsync_reader_info) in the library */
	uint32_t index; /* reader-table entry */
	uint32_t pid; /* the reader's pid, in its own PID namespace */
	char comm[16]; /* its thread name when it opened the handle */
	uint64_t pinned_gen; /* generation of its open view (0: none) */
	uint64_t lag; /* current generation - pinned_gen (0: no view) */
	uint64_t age_ns; /* since the handle was opened */
	/*
	 * Views of this handle that ended in -ESTALE (counted by the reader
	 * itself: the writer never writes reader entries).
	 */
	uint64_t evictions;
	uint32_t flags; /* MMSYNC_READ_* it opened with */
	/* 1: the owner holds the entry's write lock; 0: dead; -errno */
	int32_t alive;
	/* 1: the slot of its open view no longer holds pinned_gen */
	uint32_t evicted;
	uint32_t waiting; /* 1: blocked in mmsync_wait() or polling its fd */
};

/**
 * Called for each used reader entry; return 0 to go on, a positive value
 * to stop, a negative errno to stop and have mmsync_foreach_reader()
 * return it.
 */
typedef int (*mmsync_reader_fn)(const struct mmsync_reader_info *ri, void *arg);

/**
 * @brief Call @fn for every used entry of channel @name's reader table,
 *        live or dead, in table order. Liveness is tested with
 *        F_OFD_GETLK on the entry's lock byte; nothing is locked.
 * @return the number of entries passed to @fn; the negative value @fn
 *         returned, if it did; the errors of mmsync_stat().
 */
MMSYNC_API int mmsync_foreach_reader(const char *name, mmsync_reader_fn fn,
				     void *arg);

/* Out-of-line versions of the inline fast path, for other languages. */
MMSYNC_API int mmsync_read_begin_ool(struct mmsync_reader *r,
				     struct mmsync_view *v);
MMSYNC_API int mmsync_read_end_ool(struct mmsync_reader *r,
				   struct mmsync_view *v);

/*
 * ---- Inline read fast path ------------------------------------------------
 *
 * Everything below is ABI of this soname: the exposed prefix of a reader
 * handle and the slot metadata it points at. Do not touch these fields.
 */

/* Per-slot metadata, in the hot line of the writer-only state. */
struct mmsync__slot {
	uint64_t gen; /* generation stored in the slot; 0 while rewritten */
	uint64_t size; /* payload bytes */
	uint64_t checksum; /* XXH3-64 */
};

/* The one cache line read_begin loads (written by the writer only). */
struct mmsync__hot {
	uint64_t gen; /* current generation; 0 before the first publish */
	struct mmsync__slot slot[2];
	uint64_t __pad;
};

/*
 * Set in rfast.pinned (never in the shared pin word) when read_begin fired
 * the pin probe, so that read_end leaves the inline path to fire unpin.
 */
#define MMSYNC__PIN_TRACED (1ull << 62)
/*
 * Set in rfast.pinned by the SIGBUS guard when the view's slot lost its
 * pages (its file was truncated under it): read_end returns -ESTALE.
 */
#define MMSYNC__PIN_BROKEN (1ull << 61)

#define MMSYNC__F_XCHG 1u /* pin with xchg */
#define MMSYNC__F_SLOW 2u /* always take the out-of-line path (see ool) */

/* The exposed prefix of struct mmsync_reader. */
struct mmsync__rfast {
	const struct mmsync__hot *hot; /* the channel's hot line (shared) */
	uint64_t *pin; /* this handle's pin word (shared) */
	/* read-only slot mappings; mmsync__empty while unmapped (len 0) */
	const unsigned char *base[2];
	uint64_t len[2]; /* mapped bytes of each slot */
	uint32_t flags; /* MMSYNC__F_* */
	uint32_t __pad;
	uint64_t pinned; /* pinned generation, 0 when no view is open */
	/*
	 * Non-zero: leave the inline path. Points at the USDT semaphores of
	 * the pin and unpin probes, one 32-bit word that is non-zero while a
	 * tracer is attached to either (README.md, "Observability"), or, when
	 * flags has MMSYNC__F_SLOW, at a word of ones. One test covers both.
	 * Set by mmsync_reader_open(); never NULL.
	 */
	const uint32_t *ool;
	/* The open view's slot generation word (hot.slot[pinned & 1].gen). */
	const uint64_t *pgen;
};

MMSYNC_API int mmsync__read_begin_slow(struct mmsync_reader *r,
				       struct mmsync_view *v);
MMSYNC_API int mmsync__read_end_slow(struct mmsync_reader *r,
				     struct mmsync_view *v);

/*
 * Must read_begin leave the inline path (MMSYNC__F_SLOW, or a tracer on
 * the pin/unpin probes)? Relaxed: the kernel bumps the semaphores when a
 * uprobe attaches; a read that misses the change for a moment is just not
 * traced. Pairs with nothing. -DMMSYNC_NO_PROBES tests only the flag.
 */
#ifdef MMSYNC_NO_PROBES
#define MMSYNC__OOL(f) ((f)->flags & MMSYNC__F_SLOW)
#else
#define MMSYNC__OOL(f) __atomic_load_n((f)->ool, __ATOMIC_RELAXED)
#endif

/* A dummy byte so that an empty view's data is never NULL. */
MMSYNC_API extern const unsigned char mmsync__empty[1];

/**
 * @brief Open a view of the current snapshot.
 * @return 0 and fills @v; -ENODATA before the first publish; -EBUSY if @r
 *         already has an open view; -EINVAL on NULL arguments; -EIO on a
 *         checksum mismatch (MMSYNC_READ_VERIFY); -EBADMSG if the channel
 *         files are damaged; -EBADFD if the handle's table entry cannot be
 *         taken again after fork().
 *
 * No syscall, no lock, no shared counter: a few loads of the channel's hot
 * line and one store to the handle's own cache line (an xchg in fence
 * mode). It only leaves the inline path the first time it meets a slot (to
 * map it), when a slot grew, and while a tracer is attached to the pin or
 * unpin probe (README.md, "Observability").
 */
static inline __attribute__((always_inline)) int
mmsync_read_begin(struct mmsync_reader *r, struct mmsync_view *v)
{
	struct mmsync__rfast *f = (struct mmsync__rfast *)r;
	const struct mmsync__hot *hot;
	const struct mmsync__slot *s;
	uint64_t g, g2, size, *pin;

	if (__builtin_expect(!f || !v, 0))
		return -EINVAL;
	if (__builtin_expect(f->pinned != 0, 0))
		return -EBUSY;
	if (__builtin_expect(MMSYNC__OOL(f), 0))
		return mmsync__read_begin_slow(r, v);
	/* In registers: the pin store below cannot change them. */
	hot = f->hot;
	pin = f->pin;

	/* Pairs with the writer's release store of hot.gen. */
	g = __atomic_load_n(&hot->gen, __ATOMIC_ACQUIRE);
	for (;;) {
		if (__builtin_expect(g == 0, 0))
			return -ENODATA;
#if defined(__SANITIZE_THREAD__)
		__atomic_exchange_n(pin, g, __ATOMIC_SEQ_CST);
#else
		if (f->flags & MMSYNC__F_XCHG) {
			/*
			 * Full fence (x86: xchg; ARM64: swpal); pairs with
			 * the writer's smp_mb() before its scan.
			 */
			__atomic_exchange_n(pin, g, __ATOMIC_SEQ_CST);
		} else {
			/*
			 * Only the compiler is fenced here: the writer's
			 * membarrier() before its scan runs a full barrier on
			 * this CPU, which makes this store visible to the
			 * scan, or orders the re-load below after the
			 * writer's newer generation.
			 */
			__atomic_store_n(pin, g, __ATOMIC_RELAXED);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
		}
#endif
		/* Re-load: if the generation moved, the pin may be late. */
		g2 = __atomic_load_n(&hot->gen, __ATOMIC_SEQ_CST);
		if (__builtin_expect(g2 == g, 1))
			break;
		g = g2;
	}

	s = &hot->slot[g & 1];
	size = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
	if (__builtin_expect(__atomic_load_n(&s->gen, __ATOMIC_RELAXED) != g ||
				     size > f->len[g & 1],
			     0)) {
		/* First use of a slot, a grown slot or a rewrite: slow path. */
		__atomic_store_n(pin, 0, __ATOMIC_RELEASE);
		return mmsync__read_begin_slow(r, v);
	}
	/* base[] points at mmsync__empty until a slot is mapped. */
	v->data = f->base[g & 1];
	v->size = (size_t)size;
	v->gen = g;
	v->checksum = __atomic_load_n(&s->checksum, __ATOMIC_RELAXED);
	f->pgen = &s->gen;
	f->pinned = g;
	return 0;
}

/**
 * @brief Close the view opened by mmsync_read_begin().
 * @return 0: the view's bytes did not change while it was open; -ESTALE if
 *         its slot was reused under it (the writer stopped waiting after
 *         the grace period, or the reader table was tampered with): discard
 *         what was read; -EINVAL if no view is open.
 */
static inline __attribute__((always_inline)) int
mmsync_read_end(struct mmsync_reader *r, struct mmsync_view *v)
{
	struct mmsync__rfast *f = (struct mmsync__rfast *)r;
	const uint64_t *sgen;
	uint64_t want, sg, *pin;

	if (__builtin_expect(!f, 0))
		return -EINVAL;
	/*
	 * The SIGBUS guard's handler may have marked f->pinned since
	 * read_begin: an atomic load reads it afresh (relaxed: a signal
	 * handler of this thread, no other CPU, wrote it).
	 */
	want = __atomic_load_n(&f->pinned, __ATOMIC_RELAXED);
	if (__builtin_expect(!want, 0))
		return -EINVAL;
	sgen = f->pgen;
	pin = f->pin;
	/*
	 * The slot check. The fence orders the view's loads before the load
	 * of slot.gen (x86: loads are not reordered with loads, a compiler
	 * barrier; ARM64: dmb ishld). Pairs with the release fence between
	 * the writer's mark of the slot and its rewrite: if any load of the
	 * view saw a rewritten byte, this load sees the mark or a later
	 * generation. Flag bits in want (traced, broken) never match.
	 */
#if defined(__SANITIZE_THREAD__)
	/* TSan has no fences; a seq_cst load is at least as strong here. */
	sg = __atomic_load_n(sgen, __ATOMIC_SEQ_CST);
#else
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	sg = __atomic_load_n(sgen, __ATOMIC_RELAXED);
#endif
	if (__builtin_expect(sg != want, 0))
		return mmsync__read_end_slow(r, v);
	/* Pairs with the writer's acquire load of the pin in its scan. */
	__atomic_store_n(pin, 0, __ATOMIC_RELEASE);
	f->pinned = 0;
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* MMSYNC_H */
