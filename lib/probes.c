// SPDX-License-Identifier: MIT
/*
 * probes.c - the USDT semaphores of libmmsync.
 *
 * A semaphore must live in file-backed data (not .bss): the kernel finds it
 * by its offset in the library file and raises it in every process that
 * maps the library, including processes started after the tracer.
 */
#include "internal.h"
#include "probes.h"

#ifndef MMSYNC_NO_PROBES

#define SEMA(name)                               \
	unsigned short mmsync_##name##_semaphore \
		__attribute__((section(".probes"), used))

SEMA(publish_begin);
SEMA(publish_end);
SEMA(grace_begin);
SEMA(grace_end);
SEMA(reclaim);
SEMA(evict);
SEMA(csum_mismatch);
SEMA(remap);

/*
 * pin and unpin share one aligned word, mmsync_pin_probes, so that the
 * inline read_begin tests both with a single load. C cannot lay two named
 * objects out side by side, so they are defined here in assembly.
 */
__asm__("	.pushsection .probes, \"aw\"\n"
	"	.balign 4\n"
	"	.globl mmsync_pin_probes\n"
	"	.hidden mmsync_pin_probes\n"
	"	.type mmsync_pin_probes, \"object\"\n"
	"	.size mmsync_pin_probes, 4\n"
	"mmsync_pin_probes:\n"
	"	.globl mmsync_pin_semaphore\n"
	"	.hidden mmsync_pin_semaphore\n"
	"	.type mmsync_pin_semaphore, \"object\"\n"
	"	.size mmsync_pin_semaphore, 2\n"
	"mmsync_pin_semaphore:\n"
	"	.2byte 0\n"
	"	.globl mmsync_unpin_semaphore\n"
	"	.hidden mmsync_unpin_semaphore\n"
	"	.type mmsync_unpin_semaphore, \"object\"\n"
	"	.size mmsync_unpin_semaphore, 2\n"
	"mmsync_unpin_semaphore:\n"
	"	.2byte 0\n"
	"	.popsection\n");

#else

uint32_t mmsync_pin_probes;

#endif

const uint32_t mmsync_ool_always = ~0u;
