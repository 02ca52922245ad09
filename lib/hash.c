// SPDX-License-Identifier: MIT
/*
 * hash.c - the payload checksum: XXH3-64 from libxxhash.
 *
 * Every implementation of XXH3-64 gives the same value, so the writer may
 * hash with whichever is fastest here, and readers check with theirs.
 * On x86-64, libxxhash's x86 dispatcher (XXH3_*_dispatch, Debian's
 * libxxhash-dev ships it) picks the AVX2 or AVX-512 code at run time;
 * its default entry points are the SSE2 build. For 1 MiB here: 22.8 us
 * with the dispatcher, 52.6 us without (bench/results/pub_copy_hash.md),
 * so a publish was mostly the hash, not the copy.
 *
 * libxxhash 0.8.1's dispatched functions return with the upper halves of
 * the vector registers dirty; the next legacy-SSE instruction (memcpy,
 * the SSE2 hash) then pays an AVX-SSE transition on every instruction
 * (2.9x slower measured). vzeroupper after each call cleans that up; it
 * only clears bits above 127, which no code compiled for this library's
 * target keeps live. It is only run where the dispatcher may have used
 * AVX (vzeroupper itself needs AVX).
 *
 * Build with -DMMSYNC_NO_XXH_DISPATCH to use the default entry points.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

#include "internal.h"

#if defined(__x86_64__) && !defined(MMSYNC_NO_XXH_DISPATCH) && \
	defined(__has_include)
#if __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>
#define HASH_DISPATCH 1
#endif
#endif

#ifdef HASH_DISPATCH
static bool has_avx(void)
{
	static int avx = -1; /* -1: not asked yet; a race only asks twice */
	int a = __atomic_load_n(&avx, __ATOMIC_RELAXED);

	if (a < 0) {
		__builtin_cpu_init();
		a = __builtin_cpu_supports("avx") ? 1 : 0;
		__atomic_store_n(&avx, a, __ATOMIC_RELAXED);
	}
	return a;
}

static inline void clean_upper(void)
{
	if (has_avx())
		__asm__ volatile("vzeroupper");
}

uint64_t mmsync_hash(const void *buf, size_t len)
{
	uint64_t h;

	/* Short inputs: the SSE2 code is as fast and needs no vzeroupper. */
	if (len < 1024)
		return XXH3_64bits(buf, len);
	h = XXH3_64bits_dispatch(buf, len);
	clean_upper();
	return h;
}

void mmsync_hash_update(XXH3_state_t *st, const void *buf, size_t len)
{
	if (len < 1024) {
		XXH3_64bits_update(st, buf, len);
		return;
	}
	XXH3_64bits_update_dispatch(st, buf, len);
	clean_upper();
}
#else
uint64_t mmsync_hash(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}

void mmsync_hash_update(XXH3_state_t *st, const void *buf, size_t len)
{
	XXH3_64bits_update(st, buf, len);
}
#endif

void mmsync_hash_reset(XXH3_state_t *st)
{
	XXH3_64bits_reset(st);
}

uint64_t mmsync_hash_digest(const XXH3_state_t *st)
{
	return XXH3_64bits_digest(st);
}
