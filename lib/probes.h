/* SPDX-License-Identifier: MIT */
/*
 * probes.h - USDT probes of libmmsync (provider "mmsync").
 *
 * Every probe has a semaphore (_SDT_HAS_SEMAPHORES): a 16-bit counter in
 * the .probes section that the kernel raises while a uprobe with a
 * ref_ctr_offset sits on the probe (libbpf, bpftrace and perf all set
 * one). Probes whose arguments cost something to compute test it first
 * with MMSYNC_PROBE_ON(); the probe itself is one nop either way.
 *
 * The pin and unpin probes are special: the read fast path is inlined into
 * the application, where a probe of the library cannot live. Their two
 * semaphores sit side by side in one aligned 32-bit word whose address the
 * reader handle exposes (mmsync__rfast.ool); the inline read_begin takes
 * the out-of-line path, which fires the probes, while that word is non-zero.
 * See README.md, "Observability" for the list of probes and their arguments.
 *
 * Build with -DMMSYNC_NO_PROBES to compile every probe out.
 */
#ifndef MMSYNC_PROBES_H
#define MMSYNC_PROBES_H

#include <stdint.h>

#ifndef MMSYNC_NO_PROBES

#if defined(__has_include)
#if !__has_include(<sys/sdt.h>)
#error "<sys/sdt.h> not found: install systemtap-sdt-dev, or build with CFLAGS+=-DMMSYNC_NO_PROBES"
#endif
#endif

#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#define MMSYNC_SEMA_DECL(name)                          \
	extern unsigned short mmsync_##name##_semaphore \
		__attribute__((visibility("hidden")))

MMSYNC_SEMA_DECL(pin);
MMSYNC_SEMA_DECL(unpin);
MMSYNC_SEMA_DECL(publish_begin);
MMSYNC_SEMA_DECL(publish_end);
MMSYNC_SEMA_DECL(grace_begin);
MMSYNC_SEMA_DECL(grace_end);
MMSYNC_SEMA_DECL(reclaim);
MMSYNC_SEMA_DECL(evict);
MMSYNC_SEMA_DECL(csum_mismatch);
MMSYNC_SEMA_DECL(remap);

/*
 * Relaxed: the kernel raises the semaphore when a tracer attaches; a probe
 * that misses the change for a moment is simply not traced. Pairs with
 * nothing.
 */
#define MMSYNC_PROBE_ON(name)                                        \
	__builtin_expect(__atomic_load_n(&mmsync_##name##_semaphore, \
					 __ATOMIC_RELAXED) != 0,     \
			 0)

#define MMSYNC_PROBE2(name, a, b) STAP_PROBE2(mmsync, name, a, b)
#define MMSYNC_PROBE3(name, a, b, c) STAP_PROBE3(mmsync, name, a, b, c)
#define MMSYNC_PROBE4(name, a, b, c, d) STAP_PROBE4(mmsync, name, a, b, c, d)
#define MMSYNC_PROBE5(name, a, b, c, d, e) \
	STAP_PROBE5(mmsync, name, a, b, c, d, e)

#else /* MMSYNC_NO_PROBES */

#define MMSYNC_PROBE_ON(name) 0
#define MMSYNC_PROBE2(name, a, b) ((void)(a), (void)(b))
#define MMSYNC_PROBE3(name, a, b, c) ((void)(a), (void)(b), (void)(c))
#define MMSYNC_PROBE4(name, a, b, c, d) \
	((void)(a), (void)(b), (void)(c), (void)(d))
#define MMSYNC_PROBE5(name, a, b, c, d, e) \
	((void)(a), (void)(b), (void)(c), (void)(d), (void)(e))

#endif /* MMSYNC_NO_PROBES */

/*
 * The pin and unpin semaphores as one word, for the inline fast path
 * (a word of zeros when probes are compiled out).
 */
extern uint32_t mmsync_pin_probes __attribute__((visibility("hidden")));
/* A word of ones, for handles that must always leave the inline path. */
extern const uint32_t mmsync_ool_always __attribute__((visibility("hidden")));

/* Is a tracer attached to pin or unpin? Relaxed, as MMSYNC__OOL(). */
#define MMSYNC_PIN_TRACED() \
	__builtin_expect(   \
		__atomic_load_n(&mmsync_pin_probes, __ATOMIC_RELAXED) != 0, 0)

#endif /* MMSYNC_PROBES_H */
