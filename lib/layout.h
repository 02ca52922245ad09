/* SPDX-License-Identifier: MIT */
/*
 * layout.h - the on-disk (in-shm) format of a channel's state file.
 *
 *   offset 0        struct mmsync_hdr (one page)
 *   offset 4096     reader table: nr_entries x struct mmsync_entry (64 B)
 *
 * Byte 0 of the state file carries the writer's OFD lock; byte
 * table_off + 64 * i carries the lock of reader entry i. The locks are on
 * file ranges, not on memory, so they cost nothing on the read path.
 *
 * Readers may write their own entry and nothing else, but everything in the
 * file is writable by every reader (one file mode), so both sides validate
 * every value they read.
 */
#ifndef MMSYNC_LAYOUT_H
#define MMSYNC_LAYOUT_H

#include <stdint.h>

#include "mmsync.h"

#define MMSYNC_MAGIC 0x434e5953534d4d7full /* "\x7fMMSSYNC" (LE) */
#define MMSYNC_FORMAT 1u
#define MMSYNC_HDR_SIZE 4096u
#define MMSYNC_ENTRY_SIZE 64u
#define MMSYNC_MAX_ENTRIES 65536u
#define MMSYNC_DEFAULT_ENTRIES 256u
/* Slots are mapped whole; 1 TiB keeps every size computation in range. */
#define MMSYNC_MAX_CAP (1ull << 40)

#define MMSYNC_WRITER_LOCK_OFF 0
/* Generations stay far below the pin word's MMSYNC__PIN_EVICTED bit. */
#define MMSYNC_MAX_GEN (1ull << 60) /* below the rfast.pinned flag bits */

struct mmsync_stats_area {
	uint64_t publishes;
	uint64_t grace_waits; /* publishes that had to wait for a reader */
	uint64_t evictions; /* live readers evicted after the grace period */
	uint64_t reclaims; /* dead readers' pins reclaimed */
	uint64_t refusals; /* publishes refused (MMSYNC_GRACE_REFUSE) */
	uint64_t waited_ns; /* total time publishes waited */
	uint64_t writer_opens;
	uint64_t __reserved[1];
};

struct mmsync_hdr {
	/* Cache line 0: identity, immutable once the file is linked. */
	uint64_t magic;
	uint32_t format;
	uint32_t hdr_size;
	uint32_t entry_size;
	uint32_t nr_entries;
	uint64_t table_off;
	uint64_t file_size;
	uint32_t fence_mode; /* enum mmsync_fence_mode, never AUTO */
	uint32_t flags;
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint8_t __pad0[8];

	/* Cache line 1: read by every read_begin, written once per publish. */
	uint64_t gen __attribute__((aligned(64)));
	uint64_t pub_ns; /* CLOCK_MONOTONIC of the last publish */
	uint8_t __pad1[48];

	/* Cache line 2: slot metadata, same access pattern as gen. */
	struct mmsync__slot slot[2] __attribute__((aligned(64)));

	/* Cache line 3: written by readers when they take an entry. */
	uint64_t hiwat __attribute__((aligned(64))); /* entries ever used */
	uint8_t __pad3[56];

	/* Cache line 4..: counters, written by the writer only. */
	struct mmsync_stats_area stats __attribute__((aligned(64)));
	uint32_t writer_pid __attribute__((aligned(64)));
};

struct mmsync_entry {
	uint64_t pin; /* 0, a generation, or gen | MMSYNC__PIN_EVICTED */
	uint32_t pid; /* owner (informational: liveness is the OFD lock) */
	uint32_t flags;
	uint64_t opened_ns; /* CLOCK_MONOTONIC */
	uint64_t evictions; /* times the writer evicted this entry */
	char comm[16];
	uint8_t __pad[16];
};

_Static_assert(sizeof(struct mmsync_hdr) <= MMSYNC_HDR_SIZE, "hdr fits");
_Static_assert(sizeof(struct mmsync_entry) == MMSYNC_ENTRY_SIZE, "entry");
_Static_assert(sizeof(struct mmsync__slot) == 32, "slot");

static inline struct mmsync_entry *mmsync_entry_at(void *state, uint32_t i)
{
	return (struct mmsync_entry *)((char *)state + MMSYNC_HDR_SIZE +
				       (uint64_t)i * MMSYNC_ENTRY_SIZE);
}

static inline uint64_t mmsync_state_size(uint32_t nr_entries)
{
	return MMSYNC_HDR_SIZE + (uint64_t)nr_entries * MMSYNC_ENTRY_SIZE;
}

#endif /* MMSYNC_LAYOUT_H */
