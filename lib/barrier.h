/* SPDX-License-Identifier: MIT */
/*
 * barrier.h - the library's fences and shared-memory accessors, in one
 * place. Every use names what it pairs with; include/mmsync.h has the
 * table of pairs, and the inline read path carries its own comments.
 *
 *   mmsync_smp_mb()   full fence. x86: mfence (or a locked op);
 *                     ARM64: dmb ish. Orders earlier stores before later
 *                     loads, the one reordering x86-TSO allows.
 *   mmsync_smp_wmb()  release fence. x86: compiler barrier (TSO keeps
 *                     stores in order); ARM64: dmb ish. Orders earlier
 *                     loads and stores before later stores.
 *   mmsync_smp_rmb()  acquire fence. x86: compiler barrier (loads are not
 *                     reordered with loads); ARM64: dmb ishld. Orders
 *                     earlier loads before later loads and stores.
 *
 * GCC's TSan does not support atomic_thread_fence; under it a seq_cst
 * read-modify-write of a private word stands in (TSan checks
 * happens-before, which fences alone do not give it anyway).
 */
#ifndef MMSYNC_BARRIER_H
#define MMSYNC_BARRIER_H

#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
static inline void mmsync_fence_tsan(void)
{
	static uint64_t word;

	__atomic_fetch_add(&word, 0, __ATOMIC_SEQ_CST);
}
#define mmsync_smp_mb() mmsync_fence_tsan()
#define mmsync_smp_wmb() mmsync_fence_tsan()
#define mmsync_smp_rmb() mmsync_fence_tsan()
#else
#define mmsync_smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define mmsync_smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define mmsync_smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif

/*
 * A word of shared memory that someone else may write at any time (the
 * reader table, or the writer-only state as seen by a reader): relaxed
 * atomics, so the compiler neither tears nor re-reads them. Values read
 * this way are validated where they are used.
 */
#define READ_SHARED(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define WRITE_SHARED(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

#endif /* MMSYNC_BARRIER_H */
