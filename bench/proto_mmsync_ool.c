// SPDX-License-Identifier: MIT
/*
 * proto_mmsync_ool.c - libmmsync (membarrier mode) read through the
 * exported out-of-line symbols, as another language's binding would: what
 * the two calls through the PLT cost on top of the inline path.
 */
#define PM_BEGIN mmsync_read_begin_ool
#define PM_END mmsync_read_end_ool
#include "proto_mmsync.h"

PM_OPS(proto_mmsync_ool, "mmsync-ool",
       "libmmsync out-of-line calls (membarrier)", pm_setup_membarrier);
