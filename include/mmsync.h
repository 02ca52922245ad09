/* SPDX-License-Identifier: MIT */
/*
 * mmsync.h - one writer publishes snapshots of bytes, many reader processes
 * read the latest one in place: zero-copy, no lock, no syscall on the read
 * path.
 *
 * Copyright (c) 2026 The libmmsync authors
 *
 * A channel NAME is a set of files NAME_state, NAME_data_0 and NAME_data_1.
 * Generation g lives in data slot g & 1. The state file holds the current
 * generation, per-slot metadata and a reader table with one cache line per
 * reader handle. A reader pins the generation it reads in its own entry;
 * the writer waits, for at most a grace period, until no live reader pins
 * the slot it is about to overwrite.
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
 *   *_open / *_close      | everything except the same     | caller excludes
 *                         | handle                         | use-after-close
 *
 *   What pairs with what (the memory-ordering contract):
 *   - publish's release store of the generation pairs with read_begin's
 *     acquire loads of it: a reader that sees generation g sees the data
 *     and metadata of g.
 *   - read_begin's pin store (fenced by membarrier() on the writer's side,
 *     or by the reader's own xchg in fence mode) pairs with publish's scan
 *     of the reader table: either the writer sees the pin, or the reader
 *     re-reads a newer generation and retries.
 *   - read_end's release store of 0 pairs with the writer's acquire load
 *     in its scan: bytes a reader read are read before the slot is reused.
 *   - eviction's compare-and-swap on the pin pairs with read_end's load of
 *     its own pin: an evicted reader always sees -ESTALE.
 *
 * Fork: handles must not be used across fork(); open new ones in the child.
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
 * MMSYNC_OPTS - declare and zero an options struct, setting its size.
 * Example: MMSYNC_OPTS(mmsync_writer_opts, o, .grace_ns = 50000000);
 */
#define MMSYNC_OPTS(TYPE, NAME, ...)                                        \
	struct TYPE NAME = ({                                               \
		struct TYPE ___##NAME;                                      \
		memset(&___##NAME, 0, sizeof(___##NAME));                   \
		(struct TYPE){ .sz = sizeof(struct TYPE), __VA_ARGS__ };    \
	})

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
	/* File modes at creation; 0 = 0640 for data, 0660 for state. */
	uint32_t data_mode;
	uint32_t state_mode;
	uint32_t __pad0;
	/* Initial capacity of each data slot in bytes; slots grow as needed. */
	uint64_t initial_capacity;
};

/** Reader flags. */
enum {
	/** Verify XXH3-64 of the data in read_begin; mismatch gives -EIO. */
	MMSYNC_READ_VERIFY = 1u << 0,
	/** Always pin with xchg, even on a membarrier channel. */
	MMSYNC_READ_XCHG = 1u << 1,
};

struct mmsync_reader_opts {
	size_t sz; /* sizeof(struct mmsync_reader_opts) */
	uint32_t flags; /* MMSYNC_READ_* */
	uint32_t __pad0;
	/* Poll interval of mmsync_wait() in ns; 0 = 1 ms. */
	int64_t poll_ns;
};

/** What a publish did. Filled by mmsync_publish() when not NULL. */
struct mmsync_publish_info {
	uint64_t gen; /* the generation published */
	uint64_t checksum; /* XXH3-64 of the payload */
	uint64_t waited_ns; /* time spent waiting for readers */
	uint32_t evicted; /* live readers evicted after the grace period */
	uint32_t reclaimed; /* dead readers' pins reclaimed */
	uint64_t __reserved[4];
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
 *        '/': a path prefix, files are "<name>_state" and so on.
 * @param opts NULL for defaults.
 * @param out the new handle.
 * @return 0; -EBUSY if another writer holds the channel; -EBADMSG if the
 *         files are not a valid channel (they are left untouched); -EINVAL on
 *         bad arguments; other -errno from the file system.
 *
 * A writer that reopens a channel continues its generation sequence; readers
 * keep reading the last complete snapshot meanwhile.
 */
MMSYNC_API int mmsync_writer_open(const char *name,
				  const struct mmsync_writer_opts *opts,
				  struct mmsync_writer **out);

/**
 * @brief Publish @len bytes from @buf as the next generation.
 *
 * Waits (polling, at most the grace period) until no live reader pins the
 * slot about to be overwritten; dead readers are reclaimed at once. Then
 * copies the bytes, stores size and XXH3-64 and makes the generation
 * current. The slot grows when @len exceeds it.
 *
 * @param info may be NULL.
 * @return 0; -ETIMEDOUT under MMSYNC_GRACE_REFUSE when a live reader still
 *         pins the slot (nothing changed); -ENOMEM/-ENOSPC/-EFBIG when the
 *         slot cannot grow (nothing changed); -EINVAL on bad arguments.
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
 *        hash them and make them the current generation.
 * @return 0; -EINVAL if no reservation is open or @len exceeds it.
 */
MMSYNC_API int mmsync_commit(struct mmsync_writer *w, size_t len,
			     struct mmsync_publish_info *info);

/** Abandon an open reservation; nothing is published. */
MMSYNC_API void mmsync_abort(struct mmsync_writer *w);

/** @return the last generation published on the channel (0: none). */
MMSYNC_API uint64_t mmsync_writer_gen(const struct mmsync_writer *w);

/** Release the writer lock and free @w. The files stay. NULL is a no-op. */
MMSYNC_API void mmsync_writer_close(struct mmsync_writer *w);

/**
 * @brief Open channel @name for reading.
 * @return 0; -ENOENT if the channel was never created; -EBADMSG if the files
 *         are not a valid channel (nothing is written to them); -EUSERS if
 *         the reader table is full; -EACCES and other -errno from the file
 *         system.
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
 * @return 0 once published; -ETIMEDOUT; -EINVAL. Polls with sleeps (no
 *         futex), so an idle waiter costs bounded CPU.
 */
MMSYNC_API int mmsync_wait(struct mmsync_reader *r, uint64_t after_gen,
			   int64_t timeout_ns);

/** @return the current generation of the channel (0: nothing yet). */
MMSYNC_API uint64_t mmsync_reader_gen(const struct mmsync_reader *r);

/**
 * @brief Remove the files of channel @name. Open handles keep working on
 *        the unlinked files.
 * @return 0, or -ENOENT if there was no such channel.
 */
MMSYNC_API int mmsync_unlink(const char *name);

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

/* Per-slot metadata in the state file. */
struct mmsync__slot {
	uint64_t gen; /* generation stored in the slot, 0 while being written */
	uint64_t size; /* payload bytes */
	uint64_t checksum; /* XXH3-64 */
	uint64_t cap; /* bytes the data file holds (grows, never shrinks) */
};

/* Set in a pin word by the writer when it evicts or reclaims the pin. */
#define MMSYNC__PIN_EVICTED (1ull << 63)

#define MMSYNC__F_XCHG 1u /* pin with xchg */
#define MMSYNC__F_SLOW 2u /* always take the out-of-line path */

/* The exposed prefix of struct mmsync_reader. */
struct mmsync__rfast {
	const uint64_t *gen; /* channel generation (shared) */
	uint64_t *pin; /* this handle's pin word (shared) */
	const struct mmsync__slot *slot; /* slot metadata [2] (shared) */
	const unsigned char *base[2]; /* read-only slot mappings */
	uint64_t len[2]; /* mapped bytes of each slot */
	uint32_t flags; /* MMSYNC__F_* */
	uint32_t __pad;
	uint64_t pinned; /* pinned generation, 0 when no view is open */
};

MMSYNC_API int mmsync__read_begin_slow(struct mmsync_reader *r,
				       struct mmsync_view *v);

/* A dummy byte so that an empty view's data is never NULL. */
MMSYNC_API extern const unsigned char mmsync__empty[1];

/**
 * @brief Open a view of the current snapshot.
 * @return 0 and fills @v; -ENODATA before the first publish; -EBUSY if @r
 *         already has an open view; -EINVAL on NULL arguments; -EIO on a
 *         checksum mismatch (MMSYNC_READ_VERIFY); -EBADMSG if the channel
 *         files are damaged.
 *
 * No syscall, no lock, no shared counter: a few loads and one store to the
 * handle's own cache line (an xchg in fence mode). It only leaves the inline
 * path the first time it meets a slot (to map it) or when a slot grew.
 */
static inline int mmsync_read_begin(struct mmsync_reader *r,
				    struct mmsync_view *v)
{
	struct mmsync__rfast *f = (struct mmsync__rfast *)r;
	const struct mmsync__slot *s;
	uint64_t g, g2, size;

	if (__builtin_expect(!f || !v, 0))
		return -EINVAL;
	if (__builtin_expect(f->pinned != 0, 0))
		return -EBUSY;
	if (__builtin_expect(f->flags & MMSYNC__F_SLOW, 0))
		return mmsync__read_begin_slow(r, v);

	/* Pairs with the writer's release store of the generation. */
	g = __atomic_load_n(f->gen, __ATOMIC_ACQUIRE);
	for (;;) {
		if (__builtin_expect(g == 0, 0))
			return -ENODATA;
#if defined(__SANITIZE_THREAD__)
		__atomic_exchange_n(f->pin, g, __ATOMIC_SEQ_CST);
#else
		if (f->flags & MMSYNC__F_XCHG) {
			/* Full fence; pairs with the writer's fence + scan. */
			__atomic_exchange_n(f->pin, g, __ATOMIC_SEQ_CST);
		} else {
			/*
			 * Only the compiler is fenced here: the writer's
			 * membarrier() before its scan makes this store
			 * visible, or orders the re-read below after its new
			 * generation.
			 */
			__atomic_store_n(f->pin, g, __ATOMIC_RELAXED);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
		}
#endif
		/* Re-read: if the generation moved, the pin may be late. */
		g2 = __atomic_load_n(f->gen, __ATOMIC_SEQ_CST);
		if (__builtin_expect(g2 == g, 1))
			break;
		g = g2;
	}

	s = &f->slot[g & 1];
	size = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
	if (__builtin_expect(__atomic_load_n(&s->gen, __ATOMIC_RELAXED) != g ||
				     size > f->len[g & 1],
			     0)) {
		/* First use of a slot, a grown slot or damage: slow path. */
		__atomic_store_n(f->pin, 0, __ATOMIC_RELEASE);
		return mmsync__read_begin_slow(r, v);
	}
	v->data = size ? (const void *)f->base[g & 1] : (const void *)mmsync__empty;
	v->size = (size_t)size;
	v->gen = g;
	v->checksum = __atomic_load_n(&s->checksum, __ATOMIC_RELAXED);
	v->__priv[0] = g;
	v->__priv[1] = 0;
	f->pinned = g;
	return 0;
}

/**
 * @brief Close the view opened by mmsync_read_begin().
 * @return 0; -ESTALE if the writer evicted this reader after the grace
 *         period (the bytes may have changed under the view: discard what
 *         was read); -EINVAL if no view is open.
 */
static inline int mmsync_read_end(struct mmsync_reader *r,
				  struct mmsync_view *v)
{
	struct mmsync__rfast *f = (struct mmsync__rfast *)r;
	uint64_t p, want;

	if (__builtin_expect(!f || !f->pinned, 0))
		return -EINVAL;
	want = f->pinned;
	/*
	 * Order the view's loads before the load of our own pin: pairs with
	 * the writer's compare-and-swap that evicts us before it reuses the
	 * slot. If the load below sees no eviction, our reads came first.
	 */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	p = __atomic_load_n(f->pin, __ATOMIC_RELAXED);
	/* Pairs with the writer's acquire load of the pin in its scan. */
	__atomic_store_n(f->pin, 0, __ATOMIC_RELEASE);
	f->pinned = 0;
	if (v)
		v->__priv[0] = 0;
	/* Evicted (MMSYNC__PIN_EVICTED set) or overwritten: never silent. */
	return __builtin_expect(p == want, 1) ? 0 : -ESTALE;
}

#ifdef __cplusplus
}
#endif

#endif /* MMSYNC_H */
