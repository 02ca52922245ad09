// SPDX-License-Identifier: MIT
/*
 * bench_inline.c - the C baseline of rust/benches/read.rs: reads through
 * the header's static inline fast path, as a C program would, so that the
 * Rust bindings (which call the out-of-line symbols) are measured against
 * it in the same process and run. Not used by the crate itself.
 */
#include <mmsync.h>

int mmsync_rs_bench_inline(struct mmsync_reader *r, uint64_t n, uint64_t *sink);
int mmsync_rs_bench_ool(struct mmsync_reader *r, uint64_t n, uint64_t *sink);

/*
 * n reads of the first byte of the snapshot; returns 0, or the first
 * error. *sink keeps the loads alive.
 */
int mmsync_rs_bench_inline(struct mmsync_reader *r, uint64_t n, uint64_t *sink)
{
	struct mmsync_view v;
	uint64_t s = 0;
	int err;

	for (uint64_t i = 0; i < n; i++) {
		err = mmsync_read_begin(r, &v);
		if (err)
			return err;
		s += v.size ? *(const unsigned char *)v.data : 0;
		err = mmsync_read_end(r, &v);
		if (err)
			return err;
	}
	*sink += s;
	return 0;
}

/* The same loop through the exported out-of-line symbols. */
int mmsync_rs_bench_ool(struct mmsync_reader *r, uint64_t n, uint64_t *sink)
{
	struct mmsync_view v;
	uint64_t s = 0;
	int err;

	for (uint64_t i = 0; i < n; i++) {
		err = mmsync_read_begin_ool(r, &v);
		if (err)
			return err;
		s += v.size ? *(const unsigned char *)v.data : 0;
		err = mmsync_read_end_ool(r, &v);
		if (err)
			return err;
	}
	*sink += s;
	return 0;
}
