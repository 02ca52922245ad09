// SPDX-License-Identifier: MIT
/* publish.c - write the next generation into the free slot. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"
#include "backing.h"
#include "probes.h"

#define PAGE 4096ull
/* Copy and hash in chunks that stay in L2, so the hash reads warm data. */
#define COPY_CHUNK (64u * 1024u)

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Make slot @i hold at least @len bytes. Space is reserved with fallocate,
 * so a full tmpfs gives -ENOSPC here rather than SIGBUS in the copy. Slots
 * grow by doubling (at most 1 GiB at a time) and never shrink; readers
 * remap lazily when they meet a size beyond their mapping.
 */
int mmsync_slot_reserve(struct mmsync_writer *w, int i, uint64_t len)
{
	uint64_t old = w->map_len[i], cap;
	int err;

	/* A fault the SIGBUS guard caught in an earlier publish: repair. */
	if (w->slot_lost[i]) {
		err = mmsync_slot_heal(w, i);
		if (err)
			return err;
	}
	if (len <= old)
		return 0;
	if (len > MMSYNC_MAX_CAP)
		return -EFBIG;
	cap = old * 2 < old + (1ull << 30) ? old * 2 : old + (1ull << 30);
	if (cap < len)
		cap = len;
	/* In whole pages of the slot's file system: huge ones on hugetlbfs. */
	cap = round_up(cap, w->page);
	if (cap > MMSYNC_MAX_CAP)
		cap = round_up(len, w->page);
	/* Allocates the space (-ENOSPC, or -ENOMEM out of huge pages). */
	err = mmsync_slot_grow(w, i, cap);
	if (err)
		return err;
	MMSYNC_PROBE4(remap, w->chan_id, i, old, cap);
	/* Read by readers' slow path only; the file already has the bytes. */
	WRITE_SHARED(w->hdr->cap[i], cap);
	return 0;
}

/*
 * A data file in a directory can be truncated behind our back by its owner
 * or root (memfd slots are sealed). Writes through the mapping are guarded
 * (sigbus.c: the copy lands in a private page and slot_lost says so), at
 * no cost per publish. This gives the file its pages back and maps it over
 * the guard's pages.
 */
int mmsync_slot_heal(struct mmsync_writer *w, int i)
{
	int err;

	w->slot_lost[i] = 0;
	err = mmsync_reserve_space(w->data_fd[i], w->map_len[i], w->hugetlb);
	if (!err &&
	    mmap(w->map[i], w->map_len[i], PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, w->data_fd[i], 0) == MAP_FAILED)
		err = -errno;
	if (err)
		w->slot_lost[i] = 1;
	return err;
}

/*
 * For writes the guard cannot see (the kernel's, in publish_fd: they fail
 * with EFAULT instead of faulting): make sure slot @i's file holds its
 * mapping. One fstat, for a fill that reads a file anyway.
 */
int mmsync_slot_check_file(struct mmsync_writer *w, int i)
{
	struct stat st;

	if (w->sealed || !w->map_len[i])
		return 0;
	if (fstat(w->data_fd[i], &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size >= w->map_len[i])
		return 0;
	return mmsync_slot_heal(w, i);
}

/*
 * Copy and hash in one pass over the cache: each chunk is hashed right
 * after it was copied, from the slot (still in L2), so the payload is read
 * from memory once. Hashing the slot's bytes, not the caller's, also makes
 * the checksum that of what readers see, should the caller's buffer change
 * under the copy.
 */
static uint64_t copy_and_hash(struct mmsync_writer *w, void *dst,
			      const void *src, size_t len)
{
	XXH3_state_t *st = w->xxh;
	size_t off, n;

	if (len <= COPY_CHUNK) {
		memcpy(dst, src, len);
		return mmsync_hash(dst, len);
	}
	mmsync_hash_reset(st);
	for (off = 0; off < len; off += n) {
		n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
		memcpy((char *)dst + off, (const char *)src + off, n);
		mmsync_hash_update(st, (const char *)dst + off, n);
	}
	return mmsync_hash_digest(st);
}

/* -EINVAL for NULL, -EBADFD for a handle inherited across fork(). */
int mmsync_writer_usable(const struct mmsync_writer *w)
{
	if (!w)
		return -EINVAL;
	return w->forked ? -EBADFD : 0;
}

/*
 * A read lock planted on byte 0 of the state kept us from advertising that
 * we live (mmsync_stat()'s writer_alive); try again, once a second.
 */
static void retry_advert(struct mmsync_writer *w)
{
	uint64_t now = mmsync_now_ns();

	if (now - w->advert_ns < 1000000000ull || w->state_fd < 0)
		return;
	w->advert_ns = now;
	w->advert = mmsync_lock_byte(w->state_fd, MMSYNC_WRITER_LOCK_OFF) == 0;
}

/*
 * Phase one of every publish: wait until no live reader pins the slot of
 * the next generation, make it big enough, and mark its metadata as in
 * flux. Returns the slot's mapping.
 */
int mmsync_slot_begin(struct mmsync_writer *w, uint64_t len,
		      struct mmsync_publish_info *info, unsigned char **out)
{
	uint64_t next = w->gen + 1;
	int i = (int)(next & 1), err;

	memset(info, 0, sizeof(*info));
	MMSYNC_PROBE4(publish_begin, w->chan_id, next, len, w->prefix);
	if (!w->advert)
		retry_advert(w);
	if (len > MMSYNC_MAX_CAP)
		return -EFBIG;
	/* Readers refuse generations from MMSYNC_MAX_GEN on (-EBADMSG). */
	if (next >= MMSYNC_MAX_GEN)
		return -EOVERFLOW;
	if (w->resv_slot != i + 1) {
		err = mmsync_wait_slot(w, next, info);
		if (err)
			return err;
		/*
		 * Remember the wait, so a retried reservation does not wait,
		 * and what it did, for the publish that ends up using it.
		 */
		w->resv_slot = i + 1;
		w->wait_info = *info;
	} else {
		info->waited_ns = w->wait_info.waited_ns;
		info->evicted = w->wait_info.evicted;
		info->reclaimed = w->wait_info.reclaimed;
	}
	err = mmsync_slot_reserve(w, i, len);
	if (err)
		return err;
	/*
	 * No live reader pins this slot now; readers we stopped waiting for
	 * may still look at it. Mark it before touching its bytes: a store of
	 * 0 to slot.gen, then a release fence (x86: compiler barrier, stores
	 * stay in order; ARM64: dmb ish). Pairs with the acquire fence before
	 * the load of slot.gen in mmsync_read_end(): a reader whose view saw
	 * any byte written after this sees the mark (or a later generation)
	 * and gets -ESTALE. The slow read path treats the mark as "retry".
	 */
	__atomic_store_n(&w->hdr->hot.slot[i].gen, 0, __ATOMIC_RELAXED);
	mmsync_smp_wmb();
	*out = len ? w->map[i] : (unsigned char *)mmsync__empty;
	return 0;
}

/* Phase two: store size and checksum, then make the generation current. */
void mmsync_slot_commit(struct mmsync_writer *w, uint64_t len, uint64_t sum,
			struct mmsync_publish_info *info)
{
	uint64_t next = w->gen + 1, now;
	struct mmsync__slot *s = &w->hdr->hot.slot[next & 1];

	__atomic_store_n(&s->size, len, __ATOMIC_RELAXED);
	__atomic_store_n(&s->checksum, sum, __ATOMIC_RELAXED);
	__atomic_store_n(&s->gen, next, __ATOMIC_RELAXED);
	/*
	 * Pairs with the acquire loads of hot.gen in mmsync_read_begin(): a
	 * reader that sees next sees the slot's bytes and metadata above.
	 * seq_cst, an exchange (x86: xchg; ARM64: swpal), for the waiters:
	 * it comes before the load of their count in mmsync_notify_waiters()
	 * in the one total order (notify.c says why that is enough).
	 */
	__atomic_exchange_n(&w->hdr->hot.gen, next, __ATOMIC_SEQ_CST);
	now = mmsync_now_ns();
	WRITE_SHARED(w->hdr->pub_ns, now);
	w->gen = next;
	w->resv_slot = 0;
	w->resv_len = 0;
	w->resv_ptr = NULL;
	WRITE_SHARED(w->hdr->stats.publishes,
		     READ_SHARED(w->hdr->stats.publishes) + 1);
	info->gen = next;
	info->checksum = sum;
	info->size = len;
	mmsync_notify_waiters(w, now);
	MMSYNC_PROBE4(publish_end, w->chan_id, next, len, sum);
}

int mmsync_publish(struct mmsync_writer *w, const void *buf, size_t len,
		   struct mmsync_publish_info *info)
{
	struct mmsync_publish_info tmp;
	unsigned char *dst;
	uint64_t sum;
	int err;

	err = mmsync_writer_usable(w);
	if (err)
		return err;
	if (!buf && len)
		return -EINVAL;
	if (!info)
		info = &tmp;
	err = mmsync_slot_begin(w, len, info, &dst);
	if (err)
		return err;
	sum = len ? copy_and_hash(w, dst, buf, len) : mmsync_hash(buf, 0);
	/* The slot's file was truncated under the copy: repair, copy again. */
	if (len && w->slot_lost[(w->gen + 1) & 1]) {
		err = mmsync_slot_heal(w, (int)((w->gen + 1) & 1));
		if (err)
			return err;
		dst = w->map[(w->gen + 1) & 1];
		sum = copy_and_hash(w, dst, buf, len);
		if (w->slot_lost[(w->gen + 1) & 1])
			return -EIO;
	}
	mmsync_slot_commit(w, len, sum, info);
	return 0;
}

int mmsync_reserve(struct mmsync_writer *w, size_t len, void **ptr)
{
	struct mmsync_publish_info info;
	unsigned char *dst;
	int err;

	if (!ptr)
		return -EINVAL;
	*ptr = NULL;
	err = mmsync_writer_usable(w);
	if (err)
		return err;
	err = mmsync_slot_begin(w, len, &info, &dst);
	if (err)
		return err;
	w->resv_len = len;
	w->resv_ptr = dst;
	*ptr = dst;
	return 0;
}

int mmsync_commit(struct mmsync_writer *w, size_t len,
		  struct mmsync_publish_info *info)
{
	struct mmsync_publish_info tmp;

	if (mmsync_writer_usable(w))
		return mmsync_writer_usable(w);
	if (!w->resv_ptr || len > w->resv_len)
		return -EINVAL;
	/* The slot's file was truncated under the caller's writes: void. */
	if (w->slot_lost[(w->gen + 1) & 1]) {
		mmsync_slot_heal(w, (int)((w->gen + 1) & 1));
		w->resv_ptr = NULL;
		w->resv_len = 0;
		return -EIO;
	}
	if (!info)
		info = &tmp;
	/* What mmsync_reserve()'s wait did, then the commit itself. */
	memset(info, 0, sizeof(*info));
	info->waited_ns = w->wait_info.waited_ns;
	info->evicted = w->wait_info.evicted;
	info->reclaimed = w->wait_info.reclaimed;
	/* Hash the slot itself: the caller serialized straight into it. */
	mmsync_slot_commit(w, len, mmsync_hash(w->resv_ptr, len), info);
	return 0;
}

void mmsync_abort(struct mmsync_writer *w)
{
	/*
	 * Nothing was published: the slot's metadata says "in flux" (gen 0)
	 * and no reader looks at it. Keep resv_slot: the wait is still valid.
	 */
	if (w) {
		w->resv_len = 0;
		w->resv_ptr = NULL;
	}
}
