// SPDX-License-Identifier: MIT
/* publish_iov.c - gather publish: many buffers, one snapshot, one pass. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <xxhash.h>

#include "internal.h"

/*
 * Copy and hash in pieces that stay in L2, so that the hash reads what the
 * copy just brought in (the same trade as copy_and_hash() in publish.c).
 */
#define IOV_CHUNK (64u * 1024u)
/* Below this, copying everything and hashing the slot in one go is faster. */
#define IOV_ONESHOT (256u * 1024u)

static int iov_total(const struct iovec *iov, int n, uint64_t *out)
{
	uint64_t total = 0;
	int k;

	if (n < 0 || n > IOV_MAX || (n > 0 && !iov))
		return -EINVAL;
	for (k = 0; k < n; k++) {
		if (!iov[k].iov_len)
			continue;
		if (!iov[k].iov_base)
			return -EINVAL;
		/* As writev(): a sum that does not fit is EINVAL. */
		if (iov[k].iov_len > (uint64_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[k].iov_len;
	}
	*out = total;
	return 0;
}

static uint64_t gather_and_hash(XXH3_state_t *st, unsigned char *dst,
				const struct iovec *iov, int n, uint64_t total)
{
	const unsigned char *src;
	size_t off, len, step;
	int k;

	if (total <= IOV_ONESHOT) {
		for (k = 0, off = 0; k < n; k++) {
			if (!iov[k].iov_len)
				continue;
			memcpy(dst + off, iov[k].iov_base, iov[k].iov_len);
			off += iov[k].iov_len;
		}
		return mmsync_hash(dst, (size_t)total);
	}
	mmsync_hash_reset(st);
	for (k = 0, off = 0; k < n; k++) {
		src = iov[k].iov_base;
		for (len = iov[k].iov_len; len; len -= step) {
			step = len < IOV_CHUNK ? len : IOV_CHUNK;
			memcpy(dst + off, src, step);
			/* The slot's copy is in cache now (see publish.c). */
			mmsync_hash_update(st, dst + off, step);
			src += step;
			off += step;
		}
	}
	return mmsync_hash_digest(st);
}

int mmsync_publish_iov(struct mmsync_writer *w, const struct iovec *iov, int n,
		       struct mmsync_publish_info *info)
{
	struct mmsync_publish_info tmp;
	unsigned char *dst;
	uint64_t total, sum;
	int err;

	err = mmsync_writer_usable(w);
	if (err)
		return err;
	err = iov_total(iov, n, &total);
	if (err)
		return err;
	if (!info)
		info = &tmp;
	err = mmsync_slot_begin(w, total, info, &dst);
	if (err)
		return err;
	sum = total ? gather_and_hash(w->xxh, dst, iov, n, total) :
		      mmsync_hash(dst, 0);
	/* The slot's file was truncated under the copy: repair, copy again. */
	if (total && w->slot_lost[(w->gen + 1) & 1]) {
		err = mmsync_slot_heal(w, (int)((w->gen + 1) & 1));
		if (err)
			return err;
		dst = w->map[(w->gen + 1) & 1];
		sum = gather_and_hash(w->xxh, dst, iov, n, total);
		if (w->slot_lost[(w->gen + 1) & 1])
			return -EIO;
	}
	mmsync_slot_commit(w, total, sum, info);
	return 0;
}
