/* SPDX-License-Identifier: MIT */
/*
 * layout.h - the on-disk (in-shm) format of a channel, format 2.
 *
 * A channel is four objects, split by who may write them (README.md,
 * "Trust model"):
 *
 *   NAME_state    writer only. One page: identity, the hot line (current
 *                 generation and the slot metadata read_begin needs), cold
 *                 slot data, counters. Readers open it O_RDONLY and map it
 *                 PROT_READ; for memfd channels it is sealed
 *                 F_SEAL_FUTURE_WRITE once the writer has mapped it.
 *   NAME_readers  the reader table, the only object readers write: a page
 *                 of shared counters, then one 64-byte entry per reader
 *                 handle. The writer maps it PROT_READ and trusts nothing
 *                 in it.
 *   NAME_data_0/1 the two slots, writer only; generation g lives in slot
 *                 g & 1.
 *   NAME_lock     files backing only: an empty file, mode 0600, whose OFD
 *                 write lock on byte 0 makes a writer exclusive. Readers
 *                 cannot open it, so they cannot keep a writer out.
 *
 * Locks (OFD, so they belong to an open file description and the kernel
 * drops them when the process dies, in any PID namespace):
 *   - byte 0 of NAME_lock: writer exclusivity (files backing; a memfd
 *     channel's exclusivity is its socket's address);
 *   - byte 0 of NAME_state: the writer advertises that it is alive (a
 *     write lock needs write access, which only the writer has);
 *   - byte entry_off(i) of NAME_readers: reader entry i is alive while its
 *     owner holds a write lock there. Read locks prove nothing.
 */
#ifndef MMSYNC_LAYOUT_H
#define MMSYNC_LAYOUT_H

#include <stdint.h>

#include "mmsync.h"

#define MMSYNC_MAGIC 0x434e5953534d4d7full /* "\x7fMMSSYNC" (LE) */
#define MMSYNC_FORMAT 2u
#define MMSYNC_STATE_SIZE 4096u /* bytes of NAME_state that matter */
#define MMSYNC_TABLE_HDR 4096u /* reader table: counters page */
#define MMSYNC_ENTRY_SIZE 64u
#define MMSYNC_MAX_ENTRIES 65536u
#define MMSYNC_DEFAULT_ENTRIES 256u
/* Slots are mapped whole; 1 TiB keeps every size computation in range. */
#define MMSYNC_MAX_CAP (1ull << 40)
/* Generations stay below the flag bits of rfast.pinned. */
#define MMSYNC_MAX_GEN (1ull << 60)

#define MMSYNC_WRITER_LOCK_OFF 0 /* NAME_lock; and the advert in NAME_state */

struct mmsync_stats_area {
	uint64_t publishes;
	uint64_t grace_waits; /* publishes that had to wait for a reader */
	uint64_t evictions; /* live readers no longer waited for */
	uint64_t reclaims; /* dead readers' pins ignored */
	uint64_t refusals; /* publishes refused (MMSYNC_GRACE_REFUSE) */
	uint64_t waited_ns; /* total time publishes waited */
	uint64_t writer_opens;
	uint64_t notifies; /* publishes that woke waiting readers */
};

/* Who a channel's other objects are: readers refuse look-alikes. */
struct mmsync_obj_id {
	uint64_t dev;
	uint64_t ino;
};

/* The writer-only state object. */
struct mmsync_hdr {
	/* Line 0: identity, immutable once the object is published. */
	uint64_t magic;
	uint32_t format;
	uint32_t state_size; /* MMSYNC_STATE_SIZE */
	uint32_t entry_size; /* MMSYNC_ENTRY_SIZE */
	uint32_t nr_entries;
	uint64_t table_size; /* bytes of the reader table that matter */
	uint32_t fence_mode; /* enum mmsync_fence_mode, never AUTO */
	uint32_t flags; /* 0 */
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint8_t __pad0[24];

	/* Line 1: the objects this state belongs to. */
	struct mmsync_obj_id table_id;
	struct mmsync_obj_id data_id[2];
	uint8_t __pad1[16];

	/*
	 * Line 2, the hot line: everything read_begin loads. Written once
	 * per publish; a reader under a publishing writer misses on it and
	 * on its own table entry, nothing else.
	 */
	struct mmsync__hot hot __attribute__((aligned(64)));

	/* Line 3: cold slot data and writer bookkeeping. */
	uint64_t cap[2]
		__attribute__((aligned(64))); /* bytes each slot holds */
	uint64_t pub_ns; /* CLOCK_MONOTONIC of the last publish */
	uint32_t writer_pid; /* in the writer's PID namespace; 0: none */
	uint32_t __pad3;
	uint64_t __pad3b[4];

	/* Line 4..: counters. */
	struct mmsync_stats_area stats __attribute__((aligned(64)));
};

/*
 * The reader table's first page: counters that readers keep for the
 * writer's fast paths. Each is a hint that a hostile reader can falsify;
 * what a false value can cost is written where the writer reads it.
 */
struct mmsync_table_hdr {
	/* Entries whose claimed word is 1 (table.c, claim and release). */
	uint64_t claimed;
	/*
	 * High-water mark: every entry a reader ever claimed is below it
	 * (table.c raise_high), so a writer scans [0, high) only (grace.c).
	 * In the claimed count's line: the writer reads both together.
	 */
	uint64_t high;
	uint8_t __pad0[48];
	/* Entries whose wait word is non-zero (notification). */
	uint64_t waiters __attribute__((aligned(64)));
	uint8_t __pad1[56];
};

/* One reader handle's entry: written by its owner only. */
struct mmsync_entry {
	uint64_t pin; /* generation of the open view; 0: none */
	uint64_t wait; /* non-zero while the owner waits for a publish */
	uint32_t claimed; /* 1 from claim to release (counted in ->claimed) */
	uint32_t pid; /* owner (informational: liveness is the lock) */
	uint32_t flags; /* MMSYNC_READ_* it opened with */
	uint32_t __pad0;
	uint64_t opened_ns; /* CLOCK_MONOTONIC */
	uint64_t stale; /* views of this handle that ended in -ESTALE */
	char comm[16];
};

_Static_assert(sizeof(struct mmsync_hdr) <= MMSYNC_STATE_SIZE, "hdr fits");
_Static_assert(sizeof(struct mmsync_table_hdr) <= MMSYNC_TABLE_HDR, "thdr");
_Static_assert(sizeof(struct mmsync_entry) == MMSYNC_ENTRY_SIZE, "entry");
_Static_assert(sizeof(struct mmsync__hot) == 64, "hot line");

static inline uint64_t mmsync_entry_off(uint32_t i)
{
	return MMSYNC_TABLE_HDR + (uint64_t)i * MMSYNC_ENTRY_SIZE;
}

static inline struct mmsync_entry *mmsync_entry_at(void *table, uint32_t i)
{
	return (struct mmsync_entry *)((char *)table + mmsync_entry_off(i));
}

/* Bytes of a reader table of @nr_entries, in whole pages. */
static inline uint64_t mmsync_table_size(uint32_t nr_entries)
{
	uint64_t n = mmsync_entry_off(nr_entries);

	return (n + 4095) & ~4095ull;
}

#endif /* MMSYNC_LAYOUT_H */
