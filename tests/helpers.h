/* SPDX-License-Identifier: MIT */
/* helpers.h - shared bits of the libmmsync tests (not the harness). */
#ifndef MMSYNC_TEST_HELPERS_H
#define MMSYNC_TEST_HELPERS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <mmsync.h>

/* A private directory under /dev/shm holding one test's channels. */
struct tdir {
	char path[128];
};

int tdir_make(struct tdir *d);
/* Remove every file in the directory, then the directory. */
void tdir_remove(struct tdir *d);
/* "<dir>/<name>": a channel name with '/', so MMSYNC_DIR is not used. */
void tdir_chan(const struct tdir *d, const char *name, char *out, size_t len);
void tdir_file(const struct tdir *d, const char *name, char *out, size_t len);

/* Payload where every 8-byte word encodes (generation, word index). */
uint64_t pattern_word(uint64_t gen, uint64_t idx);
void pattern_fill(void *buf, size_t len, uint64_t gen);
/* Index of the first byte that does not match, or len if all do. */
size_t pattern_check(const void *buf, size_t len, uint64_t gen);

uint64_t now_ns(void);
uint64_t xorshift64(uint64_t *s);

/* Fork a child that runs fn(arg) and _exits with its return value. */
int spawn(int (*fn)(void *), void *arg);
/* Wait for a child; returns its exit code, or 128 + signal. */
int reap(int pid);
/* Like reap(), but 0 (and nothing reaped) while the child still runs. */
int reap_nohang(int pid);

/* Read the whole file into a malloc'd buffer; returns its size or -errno. */
long slurp(const char *path, unsigned char **out);

/*
 * Add @delta huge pages of @page bytes (negative: remove) to the system
 * pool, under flock() of its sysfs file so that concurrent runs each undo
 * only their own delta. Returns how many were really added, or -errno.
 */
long hugepool_add(uint64_t page, long delta);

/* Does this kernel have membarrier(GLOBAL_EXPEDITED) for readers? */
int have_membarrier(void);

/* Why fence mode @mode cannot run in this build on this kernel, or NULL. */
const char *fence_mode_unavailable(uint32_t mode);

/*
 * Both fence modes as variants of @fixture (kselftest harness): the
 * variant has a fence_mode; skip with fence_mode_unavailable() in setup.
 */
#define FENCE_MODE_VARIANTS(fixture)                   \
	FIXTURE_VARIANT(fixture)                       \
	{                                              \
		uint32_t fence_mode;                   \
	};                                             \
	FIXTURE_VARIANT_ADD(fixture, membarrier){      \
		.fence_mode = MMSYNC_FENCE_MEMBARRIER, \
	};                                             \
	FIXTURE_VARIANT_ADD(fixture, xchg)             \
	{                                              \
		.fence_mode = MMSYNC_FENCE_XCHG,       \
	}

#endif
