// SPDX-License-Identifier: MIT
/*
 * proto_mmsync_ool.c - libmmsync (membarrier mode) read through the
 * exported out-of-line symbols, as another language's binding would: what
 * the two calls through the PLT cost on top of the inline path.
 */
#include "proto_mmsync.h"

#define RD_T struct mmsync_rd
#define RD_GEN_MASK (~0ull)

static inline int rd_begin(struct mmsync_rd *r, const void **p, uint64_t *gen)
{
	int err = mmsync_read_begin_ool(r->r, &r->v);

	if (err)
		return err;
	*p = r->v.data;
	*gen = r->v.gen;
	return 0;
}

static inline int rd_end(struct mmsync_rd *r)
{
	return mmsync_read_end_ool(r->r, &r->v);
}

static inline size_t rd_words(struct mmsync_rd *r)
{
	return r->words;
}

#include "read_loops.h"

const struct proto_ops proto_mmsync_ool = {
	.name = "mmsync-ool",
	.label = "libmmsync out-of-line calls (membarrier)",
	.setup = pm_setup_membarrier,
	.teardown = pm_teardown,
	.reader_open = pm_reader_open,
	.reader_close = pm_reader_close,
	.writer_open = pm_writer_open,
	.writer_close = pm_writer_close,
	.publish = pm_publish,
	.touch_loop = rd_touch_loop,
	.check_loop = rd_check_loop,
};
