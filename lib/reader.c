// SPDX-License-Identifier: MIT
/* reader.c - open a channel for reading, the slow read path and wait. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "backing.h"
#include "probes.h"

static off_t entry_off(uint32_t i)
{
	return (off_t)(MMSYNC_HDR_SIZE + (uint64_t)i * MMSYNC_ENTRY_SIZE);
}

/*
 * Take a free reader-table entry: the one whose byte we can lock. Entries
 * that look unused are tried first, then all of them (their owner may have
 * died without clearing its pid). The OFD lock is the ownership; the kernel
 * drops it when the process dies, in any PID namespace.
 */
static int map_slot(struct mmsync_reader *r, int i, uint64_t need);
static int check_slots(struct mmsync_reader *r);

static int claim_entry(struct mmsync_reader *r)
{
	/* From the size we mapped: nr_entries may change under us. */
	uint32_t n = (uint32_t)((r->state_len - MMSYNC_HDR_SIZE) /
				MMSYNC_ENTRY_SIZE),
		 i, pass;
	struct mmsync_entry *e;
	uint64_t hw;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			e = mmsync_entry_at(r->hdr, i);
			if (pass == 0 && READ_SHARED(e->pid) != 0)
				continue;
			if (mmsync_lock_byte(r->state_fd, entry_off(i)) == 0)
				goto found;
		}
	}
	return -EUSERS;
found:
	r->idx = i;
	r->ent = e;
	/* A dead owner's pin may linger; the writer's CAS on it then fails. */
	__atomic_store_n(&e->pin, 0, __ATOMIC_RELEASE);
	WRITE_SHARED(e->pid, (uint32_t)getpid());
	WRITE_SHARED(e->opened_ns, mmsync_now_ns());
	WRITE_SHARED(e->flags, r->uflags);
	memset(e->comm, 0, sizeof(e->comm));
	prctl(PR_GET_NAME, e->comm);
	/* Raise the scan bound; pairs with the writer's load of hiwat. */
	hw = __atomic_load_n(&r->hdr->hiwat, __ATOMIC_RELAXED);
	while (hw < (uint64_t)i + 1 &&
	       !__atomic_compare_exchange_n(&r->hdr->hiwat, &hw,
					    (uint64_t)i + 1, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
	return 0;
}

int mmsync_reader_open(const char *name, const struct mmsync_reader_opts *o,
		       struct mmsync_reader **out)
{
	struct mmsync_reader *r;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!mmsync_opts_valid(o, sizeof(*o)) || (o && o->poll_ns < 0) ||
	    (o && (o->flags & ~(MMSYNC_READ_VERIFY | MMSYNC_READ_XCHG |
				MMSYNC_READ_NO_SIGBUS_GUARD))))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->f.base[0] = r->f.base[1] = mmsync__empty;
	r->state_fd = r->data_fd[0] = r->data_fd[1] = -1;
	r->uflags = o ? o->flags : 0;
	r->poll_ns = o && o->poll_ns ? o->poll_ns : MMSYNC_DEFAULT_POLL_NS;
	err = mmsync_prefix(name, &r->prefix);
	if (err)
		goto fail;
	/* NAME_state, or else a memfd channel's socket: the same protocol. */
	err = mmsync_file_reader_open(r);
	if (err == -ENOENT) {
		err = mmsync_handoff_reader_open(
			r, name, MMSYNC_OPT(o, handoff_timeout_ns));
		r->handoff = err == 0;
	}
	if (err)
		goto fail;
	err = mmsync_map_state(r->state_fd, &r->hdr, &r->state_len);
	if (err)
		goto fail;

	/*
	 * Look at the slots before taking a table entry: a reader writes
	 * nothing to a channel it refuses. Generation, capacities and sizes
	 * only grow under a live writer, so a valid channel never fails here.
	 */
	err = check_slots(r);
	if (err)
		goto fail;
	r->f.flags = 0;
	if (READ_SHARED(r->hdr->fence_mode) != MMSYNC_FENCE_MEMBARRIER ||
	    (r->uflags & MMSYNC_READ_XCHG) || mmsync_membarrier_register())
		r->f.flags |= MMSYNC__F_XCHG;
	if (r->uflags & MMSYNC_READ_VERIFY)
		r->f.flags |= MMSYNC__F_SLOW;
	err = claim_entry(r);
	if (err)
		goto fail;
	r->f.gen = &r->hdr->gen;
	r->f.pin = &r->ent->pin;
	r->f.slot = r->hdr->slot;
	/* The inline path tests one word: see mmsync__rfast.ool. */
	r->f.ool = (r->f.flags & MMSYNC__F_SLOW) ? &mmsync_ool_always :
						   &mmsync_pin_probes;
	r->chan_id = mmsync_chan_id(r->state_fd);
	*out = r;
	return 0;
fail:
	mmsync_reader_close(r);
	return err;
}

void mmsync_reader_close(struct mmsync_reader *r)
{
	int i;

	if (!r)
		return;
	if (r->ent) {
		/* Pairs with the writer's acquire load of the pin. */
		__atomic_store_n(&r->ent->pin, 0, __ATOMIC_RELEASE);
		WRITE_SHARED(r->ent->pid, 0);
		/* A traced view closed by close: the tracer sees it end. */
		if (r->f.pinned & MMSYNC__PIN_TRACED)
			MMSYNC_PROBE4(unpin, r->chan_id,
				      r->f.pinned & ~MMSYNC__PIN_TRACED, r->idx,
				      0);
	}
	for (i = 0; i < 2; i++) {
		if (r->map_len[i]) {
			mmsync_guard_del(r, i);
			munmap((void *)r->f.base[i], r->map_len[i]);
		}
		if (r->data_fd[i] >= 0)
			close(r->data_fd[i]);
	}
	if (r->hdr)
		munmap(r->hdr, r->state_len);
	if (r->state_fd >= 0)
		close(r->state_fd); /* drops the entry lock */
	free(r->prefix);
	free(r);
}

/*
 * Open data file @i read-only by name, unless it is open already (memfd
 * channels receive theirs). O_NONBLOCK: a planted FIFO must not hang us.
 */
static int open_data(struct mmsync_reader *r, int i)
{
	char suffix[24], *path;

	if (r->data_fd[i] >= 0)
		return 0;
	snprintf(suffix, sizeof(suffix), "data_%d", i);
	path = mmsync_file(r->prefix, suffix);
	if (!path)
		return -ENOMEM;
	r->data_fd[i] =
		open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	free(path);
	return r->data_fd[i] < 0 ? -errno : 0;
}

/*
 * Map slot @i read-only, at least @need bytes. The data file must really
 * hold what the metadata claims, or the mapping could raise SIGBUS.
 */
static int map_slot(struct mmsync_reader *r, int i, uint64_t need)
{
	uint64_t cap = READ_SHARED(r->hdr->slot[i].cap), len;
	struct stat st;
	bool huge;
	void *p;
	int err;

	if (cap < need || cap > MMSYNC_MAX_CAP)
		return -EBADMSG;
	err = open_data(r, i);
	if (err)
		return err == -ENOENT ? -EBADMSG : err;
	if (fstat(r->data_fd[i], &st) < 0)
		return -errno;
	/*
	 * On hugetlbfs, map whole huge pages, all of which the file must
	 * hold: the kernel rounds the mapping up anyway, and munmap() of a
	 * part of a huge page fails.
	 */
	len = mmsync_fd_granule(r->data_fd[i], &huge);
	len = huge ? mmsync_round_up(cap, len) : cap;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < len)
		return -EBADMSG;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, r->data_fd[i], 0);
	if (p == MAP_FAILED)
		return -errno;
	MMSYNC_PROBE4(remap, r->chan_id, i, r->map_len[i], len);
	if (r->map_len[i]) {
		mmsync_guard_del(r, i);
		munmap((void *)r->f.base[i], r->map_len[i]);
	}
	r->f.base[i] = p;
	r->map_len[i] = len;
	r->f.len[i] = len;
	/* Best effort: without a guard a truncated file means SIGBUS. */
	mmsync_guard_add(r, i);
	return 0;
}

/*
 * Validate the slots of a channel being opened, and map (and open) the
 * data files that exist, so that reads make no syscall from here on (until
 * a slot grows) and keep reading these files even if the names are reused.
 */
static int check_slots(struct mmsync_reader *r)
{
	uint64_t cap, size;
	int i, err;

	if (__atomic_load_n(&r->hdr->gen, __ATOMIC_ACQUIRE) >= MMSYNC_MAX_GEN)
		return -EBADMSG;
	for (i = 0; i < 2; i++) {
		cap = READ_SHARED(r->hdr->slot[i].cap);
		size = READ_SHARED(r->hdr->slot[i].size);
		if (cap > MMSYNC_MAX_CAP || size > cap)
			return -EBADMSG;
		err = open_data(r, i);
		/* Not made yet (a channel being created): later. */
		if (err && !(err == -ENOENT && cap == 0))
			return err == -ENOENT ? -EBADMSG : err;
		if (cap) {
			err = map_slot(r, i, size);
			if (err)
				return err;
		}
	}
	return 0;
}

static void unpin(struct mmsync_reader *r)
{
	/* Pairs with the writer's acquire load of the pin. */
	__atomic_store_n(r->f.pin, 0, __ATOMIC_RELEASE);
}

/*
 * The complete read_begin: also maps slots, verifies checksums and copes
 * with damaged metadata. Always pins with xchg, which is correct in both
 * fence modes.
 */
int mmsync__read_begin_slow(struct mmsync_reader *r, struct mmsync_view *v)
{
	const struct mmsync__slot *s;
	uint64_t g, size, sum, hash;
	int tries, err, i;

	if (!r || !v)
		return -EINVAL;
	if (r->f.pinned)
		return -EBUSY;
	for (tries = 0; tries < 64; tries++) {
		/* Pairs with the writer's release store of gen. */
		g = __atomic_load_n(r->f.gen, __ATOMIC_ACQUIRE);
		if (g == 0)
			return -ENODATA;
		if (g >= MMSYNC_MAX_GEN)
			return -EBADMSG;
		/* Full fence; pairs with the writer's fence before its scan. */
		__atomic_exchange_n(r->f.pin, g, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(r->f.gen, __ATOMIC_SEQ_CST) != g) {
			unpin(r);
			continue;
		}
		i = (int)(g & 1);
		s = &r->f.slot[i];
		size = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
		/*
		 * With g pinned and current, the writer cannot be rewriting
		 * this slot: a mismatch means the file was damaged (or we
		 * raced a writer restart); retry a few times, then give up.
		 */
		if (__atomic_load_n(&s->gen, __ATOMIC_RELAXED) != g ||
		    size > MMSYNC_MAX_CAP) {
			unpin(r);
			continue;
		}
		if (size > r->f.len[i]) {
			err = map_slot(r, i, size);
			if (err) {
				unpin(r);
				return err;
			}
		}
		sum = __atomic_load_n(&s->checksum, __ATOMIC_RELAXED);
		if ((r->uflags & MMSYNC_READ_VERIFY) &&
		    (hash = mmsync_hash(size ? r->f.base[i] : mmsync__empty,
					size)) != sum) {
			/* Evicted while hashing? Then just try again. */
			bool evicted = __atomic_load_n(r->f.pin,
						       __ATOMIC_ACQUIRE) != g;
			unpin(r);
			if (evicted)
				continue;
			MMSYNC_PROBE4(csum_mismatch, r->chan_id, g, sum, hash);
			return -EIO;
		}
		v->data = size ? (const void *)r->f.base[i] : mmsync__empty;
		v->size = (size_t)size;
		v->gen = g;
		v->checksum = sum;
		r->f.pinned = g;
		/*
		 * A tracer is attached: fire pin, and mark the view so that
		 * the inline read_end comes here too, to fire unpin.
		 */
		if (MMSYNC_PIN_TRACED()) {
			MMSYNC_PROBE4(pin, r->chan_id, g, r->idx, r->prefix);
			r->f.pinned = g | MMSYNC__PIN_TRACED;
		}
		return 0;
	}
	return -EBADMSG;
}

/*
 * read_end when the inline path saw something unusual: an evicted or
 * overwritten pin (-ESTALE), or a view whose pin was traced.
 */
int mmsync__read_end_slow(struct mmsync_reader *r, struct mmsync_view *v)
{
	uint64_t p, want, g;
	int ret;

	if (!r || !r->f.pinned)
		return -EINVAL;
	want = r->f.pinned;
	g = want & ~(MMSYNC__PIN_TRACED | MMSYNC__PIN_BROKEN);
	/* As in mmsync_read_end(): pairs with the writer's evicting CAS. */
	mmsync_smp_rmb();
	p = __atomic_load_n(r->f.pin, __ATOMIC_RELAXED);
	/* Broken: the SIGBUS guard put zeros under the view. */
	ret = p == g && !(want & MMSYNC__PIN_BROKEN) ? 0 : -ESTALE;
	/* Pairs with the writer's acquire load of the pin in its scan. */
	__atomic_store_n(r->f.pin, 0, __ATOMIC_RELEASE);
	r->f.pinned = 0;
	if (want & MMSYNC__PIN_TRACED)
		MMSYNC_PROBE4(unpin, r->chan_id, g, r->idx, ret);
	return ret;
}

int mmsync_read_begin_ool(struct mmsync_reader *r, struct mmsync_view *v)
{
	return mmsync_read_begin(r, v);
}

int mmsync_read_end_ool(struct mmsync_reader *r, struct mmsync_view *v)
{
	return mmsync_read_end(r, v);
}

uint64_t mmsync_reader_gen(const struct mmsync_reader *r)
{
	if (!r)
		return 0;
	/* Pairs with the writer's release store of gen. */
	return __atomic_load_n(&r->hdr->gen, __ATOMIC_ACQUIRE);
}

int mmsync_reader_fd(struct mmsync_reader *r)
{
	/* Notification is not built yet: mmsync_wait() sleep-polls. */
	return r ? -EOPNOTSUPP : -EINVAL;
}

int mmsync_wait(struct mmsync_reader *r, uint64_t after_gen, int64_t timeout_ns)
{
	uint64_t start, now, left;

	if (!r)
		return -EINVAL;
	start = mmsync_now_ns();
	for (;;) {
		if (mmsync_reader_gen(r) > after_gen)
			return 0;
		/* A memfd channel ends with its writer: say so, once it did. */
		if (r->handoff &&
		    mmsync_byte_locked(r->state_fd, MMSYNC_WRITER_LOCK_OFF) ==
			    0)
			return -EPIPE;
		if (timeout_ns == 0)
			return -ETIMEDOUT;
		now = mmsync_now_ns();
		if (timeout_ns > 0 && now - start >= (uint64_t)timeout_ns)
			return -ETIMEDOUT;
		left = timeout_ns > 0 ? (uint64_t)timeout_ns - (now - start) :
					UINT64_MAX;
		mmsync_sleep_ns(left < (uint64_t)r->poll_ns ? (int64_t)left :
							      r->poll_ns);
	}
}
