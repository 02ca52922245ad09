// SPDX-License-Identifier: MIT
/*
 * fence.c - membarrier(2), the writer-side half of the asymmetric fence.
 *
 * In membarrier mode a reader pins with a plain store and a compiler
 * barrier. The writer's MEMBARRIER_CMD_GLOBAL_EXPEDITED runs a full barrier
 * on every CPU that runs a registered process, so after it returns every
 * reader either has its pin visible to the scan that follows, or will load
 * the generation published before the call and retry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static int sys_membarrier(int cmd, unsigned int flags)
{
	return (int)syscall(__NR_membarrier, cmd, flags, 0);
}

bool mmsync_membarrier_available(void)
{
	int mask = sys_membarrier(MEMBARRIER_CMD_QUERY, 0);

	if (mask < 0)
		return false;
	return (mask & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	       (mask & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

/* Readers: once per process; the kernel makes repeats cheap no-ops. */
int mmsync_membarrier_register(void)
{
	if (sys_membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0) < 0)
		return -errno;
	return 0;
}

int mmsync_membarrier(void)
{
	if (sys_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0) < 0)
		return -errno;
	return 0;
}
