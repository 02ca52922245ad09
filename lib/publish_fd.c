// SPDX-License-Identifier: MIT
/*
 * publish_fd.c - fill the next generation's slot straight from a file, a
 * pipe, a socket or a block device: io_uring reads land in the slot
 * mapping, with no bounce buffer and no write() to a data file (hugetlbfs
 * has none).
 *
 * Why not mmap() of the source + memcpy: a source truncated while mapped
 * kills the writer with SIGBUS, where a read just comes back short; and
 * pipes, sockets and O_DIRECT files cannot be mapped at all.
 *
 * How a fill runs. The payload is cut into chunks, carved in order; up to
 * `depth` chunks are in flight at once. A chunk whose read comes back short
 * is read again from where it stopped (from the aligned block below, for
 * O_DIRECT); a read of 0 bytes is the end of the source. Completed chunks
 * are retired in order; their slots take new reads at once, and the hash
 * (XXH3 streaming) trails the completed prefix of the payload, 256 KiB at
 * a time between looks at the completion queue. Pipes, sockets and
 * character devices have no offsets: one read is in flight at a time. When
 * the length is unknown the slot grows, by doubling, once nothing is in
 * flight (the mapping may move).
 *
 * What was measured (bench/publish_bench.c, bench/results/publish*.md;
 * 2-vCPU KVM EPYC, kernel 6.18, a page-cached ext4 file into a tmpfs slot,
 * medians of interleaved runs, each against a read() loop + commit):
 *
 * - Work, not waiting, bounds a cached fill: the copy out of the page
 *   cache runs at ~13.5 GB/s and XXH3 at ~19 GB/s on one CPU, so copy then
 *   hash on one CPU cannot beat 1 / (1/13.5 + 1/19) = 7.9 GB/s, which is
 *   what a read() loop + commit gets (8.0-8.2). Reads that run at submit
 *   time ("inline") do the same work in the same thread: 1.00x at any
 *   depth and chunk from 256 KiB up (64 KiB chunks: 0.85x).
 * - So the win is a second CPU: with IOSQE_ASYNC an io_uring worker copies
 *   chunk k+1 while this thread hashes chunk k. 64 MiB: 1.18x at 8 x
 *   1 MiB, 1.5x at 16 x 4 MiB; 1 GiB: 1.4x (1 MiB), 1.5x (4 MiB); 8 MiB:
 *   1.6x at 512 KiB-1 MiB, 1.25x at 4 MiB (too few chunks to overlap);
 *   2 MiB: 0.8x, 1 MiB: 0.6x (a worker's wake-up costs more than the
 *   overlap wins). It costs ~20% more CPU per byte in all (6.7 vs 8.0
 *   GB per CPU-second) and gains nothing when the other CPU is busy
 *   (0.8-1.0x measured under load). Hence: async from 4 MiB up on
 *   machines with more than one CPU (ASYNC_MIN), depth 16, a chunk of a
 *   sixteenth of the payload in [512 KiB, 4 MiB] (pick_chunk()).
 * - Capping io_uring's workers at 1 or 2 was slower than its default.
 * - Fixed buffers make buffered reads slower (6.6 vs 8.1 GB/s inline,
 *   9.5 vs 10.2 async, 64 MiB): the copy goes page by page through a
 *   bio_vec instead of one user range. For O_DIRECT they save the pinning
 *   of the slot on every read: 2.3 vs 1.8 GB/s. So by default only O_DIRECT
 *   reads use them (pick_fixed()).
 * - O_DIRECT (virtio disk, 64 MiB): 1 x 1 MiB reads 1.75 GB/s, 4 or more
 *   x 1 MiB in flight ~1.9 GB/s, 64 KiB chunks need depth 16+.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <liburing.h>
#include <xxhash.h>

#include "internal.h"

#ifndef BLKGETSIZE64
#define BLKGETSIZE64 _IOR(0x12, 114, size_t)
#endif
#ifndef BLKSSZGET
#define BLKSSZGET _IO(0x12, 104)
#endif

#define DEF_DEPTH 16u
#define DEF_CHUNK (1u << 20) /* pipes, sockets */
#define CHUNK_MIN (512u << 10) /* files: pick_chunk() */
#define CHUNK_MAX (4u << 20)
/* Below this, a worker's wake-up costs more than the overlap wins. */
#define ASYNC_MIN (4ull << 20)
/* io_uring refuses fixed buffers over 1 GiB: a slot is registered in pieces. */
#define PIECE (1ull << 30)
#define PIECES ((unsigned int)(MMSYNC_MAX_CAP / PIECE)) /* per slot */
/* First slot size for a stream of unknown length; it doubles from there. */
#define STREAM_START (1ull << 20)
#define NO_EOF UINT64_MAX
#define TAG_POLL (1ull << 32) /* user_data of a poll; the low bits: request */
/* Hash this much between looks at the completion queue. */
#define HASH_PIECE (256u << 10)

struct mmsync_uring {
	struct io_uring ring;
	int ring_err; /* 0: ring usable; -errno: io_uring is not to be had */
	int reg_err; /* 0: sparse buffer table ready; -errno: no fixed reads */
	/* What each slot's table entries hold; err != 0: registering failed. */
	unsigned char *reg_base[2];
	uint64_t reg_len[2];
	int reg_slot_err[2];
	unsigned int depth;
	struct req *q;
};

/* One chunk of the slot: [start, end), filled up to pos. */
struct req {
	uint64_t start;
	uint64_t pos;
	uint64_t end;
	uint64_t rd; /* where the read in flight starts (<= pos) */
	bool busy; /* a read or a poll is in flight */
	bool done;
	bool async; /* next read goes to a worker (it said -EAGAIN) */
};

struct fill {
	XXH3_state_t *hs; /* the writer's (w->xxh) */
	struct mmsync_writer *w;
	struct mmsync_uring *u; /* NULL: the read() loop */
	struct req *q;
	unsigned int depth, head, count, busy;
	int fd, slot, err;
	uint32_t chunk;
	bool stream; /* no offsets: one read at a time, consumed */
	bool direct; /* O_DIRECT: aligned offsets, lengths and buffers */
	bool sized; /* the caller gave the length */
	bool want_fixed; /* register the slot for this source */
	bool fixed; /* reads use the registered slot */
	bool async; /* MMSYNC_FD_ASYNC */
	bool hash_inline; /* hash while retiring (payload starts at slot 0) */
	uint64_t base; /* file offset of slot byte 0 */
	uint64_t skip; /* slot bytes before the payload (O_DIRECT head) */
	uint64_t want; /* sized: slot index one past the payload */
	uint64_t limit; /* chunks may be carved up to here now */
	uint64_t sub; /* next slot index to carve */
	uint64_t eof; /* slot index where the source ended, or NO_EOF */
	uint64_t ready; /* payload complete up to this slot index */
	uint64_t hashed; /* payload hashed up to this slot index */
	uint64_t align; /* O_DIRECT alignment; 1 otherwise */
	unsigned char *dst; /* the slot mapping */
};

enum { R_DONE, R_AGAIN, R_POLL };

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void fail(struct fill *f, int err)
{
	if (!f->err)
		f->err = err;
}

/* ---- the ring and its buffer table ------------------------------------- */

static void ring_init(struct mmsync_uring *u, unsigned int entries)
{
	struct io_uring_params p;
	int err;

	/*
	 * No SINGLE_ISSUER/DEFER_TASKRUN: a writer handle may move between
	 * threads, one at a time, and those flags tie the ring to one.
	 */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
	err = io_uring_queue_init_params(entries, &u->ring, &p);
	if (err == -EINVAL) {
		memset(&p, 0, sizeof(p));
		err = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	u->ring_err = err;
	if (err)
		return;
	/*
	 * A sparse table of PIECES entries per slot, filled when a fill
	 * needs them. Fails on kernels before 5.13: no fixed reads then.
	 */
	u->reg_err = io_uring_register_buffers_sparse(&u->ring, 2 * PIECES);
	if (u->reg_err > 0)
		u->reg_err = 0;
}

/* The writer's ring, made on first use; NULL if io_uring is not to be had. */
static struct mmsync_uring *get_ring(struct mmsync_writer *w,
				     unsigned int depth, int *err)
{
	struct mmsync_uring *u = w->uring;

	*err = 0;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (u)
			u->q = calloc(depth, sizeof(*u->q));
		if (!u || !u->q) {
			if (u)
				free(u->q);
			free(u);
			*err = -ENOMEM;
			return NULL;
		}
		u->depth = depth;
		ring_init(u, depth);
		w->uring = u;
	}
	return u->ring_err ? NULL : u;
}

void mmsync_uring_free(struct mmsync_writer *w)
{
	struct mmsync_uring *u = w ? w->uring : NULL;

	if (!u)
		return;
	/* Drops the ring, its buffer table and the pins on the slots. */
	if (!u->ring_err)
		io_uring_queue_exit(&u->ring);
	free(u->q);
	free(u);
	w->uring = NULL;
}

/* Point slot @i's table entries at [@base, @base + @len); 0 or -errno. */
static int reg_update(struct mmsync_uring *u, int i, unsigned char *base,
		      uint64_t len)
{
	unsigned int n = (unsigned int)((len + PIECE - 1) / PIECE), k;
	unsigned int old = (unsigned int)((u->reg_len[i] + PIECE - 1) / PIECE);
	unsigned int nr = n > old ? n : old;
	struct iovec *iov;
	int ret;

	if (!nr)
		return 0;
	iov = calloc(nr, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	/* Entries past the new length are emptied ({NULL, 0}). */
	for (k = 0; k < n; k++) {
		iov[k].iov_base = base + (uint64_t)k * PIECE;
		iov[k].iov_len =
			(size_t)min_u64(len - (uint64_t)k * PIECE, PIECE);
	}
	ret = io_uring_register_buffers_update_tag(
		&u->ring, (unsigned int)i * PIECES, iov, NULL, nr);
	free(iov);
	if (ret >= 0 && (unsigned int)ret != nr)
		ret = -EFAULT;
	return ret < 0 ? ret : 0;
}

static void reg_clear(struct mmsync_uring *u, int i)
{
	struct iovec *iov;
	unsigned int nr = (unsigned int)((u->reg_len[i] + PIECE - 1) / PIECE);

	iov = nr ? calloc(nr, sizeof(*iov)) : NULL;
	if (iov)
		io_uring_register_buffers_update_tag(
			&u->ring, (unsigned int)i * PIECES, iov, NULL, nr);
	free(iov);
}

/*
 * Make fixed reads into slot @i's mapping [@base, @base + @len) possible.
 * Pinning fails under a small RLIMIT_MEMLOCK, and for file systems that do
 * not allow long-term pins (only tmpfs/hugetlbfs/anon mappings do): the
 * result is remembered, so that a failing mapping is not retried on every
 * publish, only when it changes.
 */
static bool reg_slot(struct mmsync_uring *u, int i, unsigned char *base,
		     uint64_t len)
{
	int err;

	if (u->reg_err)
		return false;
	if (u->reg_base[i] == base && u->reg_len[i] == len)
		return u->reg_slot_err[i] == 0;
	err = reg_update(u, i, base, len);
	if (err)
		reg_clear(u, i);
	u->reg_base[i] = base;
	u->reg_len[i] = len;
	u->reg_slot_err[i] = err;
	return err == 0;
}

/* ---- the fill, common to both engines ---------------------------------- */

/*
 * Make the slot hold @need bytes. The first call (@info set) waits for the
 * readers of the slot; later ones grow it, and the mapping may move.
 */
static int room(struct fill *f, uint64_t need, struct mmsync_publish_info *info)
{
	unsigned char *p;
	uint64_t len;
	int i = f->slot, err;

	if (need > MMSYNC_MAX_CAP)
		return -EFBIG;
	if (info) {
		err = mmsync_slot_begin(f->w, need, info, &p);
	} else {
		/* The grow path of every backing. */
		err = mmsync_slot_reserve(f->w, i, need);
		p = f->w->map[i];
	}
	/* The kernel's writes into a truncated file fail, they do not fault. */
	if (!err)
		err = mmsync_slot_check_file(f->w, i);
	if (err)
		return err;
	f->dst = p;
	f->limit = need;
	if (!f->u || !f->want_fixed)
		return 0;
	/*
	 * Register the whole mapping when that is what we were handed, so
	 * that publishes of other sizes reuse the registration.
	 */
	len = f->w->map[i] == p && f->w->map_len[i] >= need ? f->w->map_len[i] :
							      need;
	f->fixed = reg_slot(f->u, i, p, len);
	return 0;
}

/* Cut the next chunk; false when there is nothing to carve now. */
static bool carve(struct fill *f, struct req *r)
{
	uint64_t end, piece_end;

	if (f->err || f->eof != NO_EOF || f->sub >= f->limit)
		return false;
	end = f->sub + f->chunk;
	/* Never straddle two fixed-buffer pieces. */
	piece_end = (f->sub & ~(PIECE - 1)) + PIECE;
	end = min_u64(min_u64(end, piece_end), f->limit);
	r->start = r->pos = r->rd = f->sub;
	r->end = end;
	r->busy = r->done = r->async = false;
	f->sub = end;
	return true;
}

/* The next read of @r starts at pos, or at the aligned block below it. */
static void aim(struct fill *f, struct req *r)
{
	r->rd = f->direct ? r->pos & ~(f->align - 1) : r->pos;
}

static void source_ended(struct fill *f, uint64_t at)
{
	f->eof = min_u64(f->eof, at);
	if (f->sized && at < f->want)
		fail(f, -ENODATA);
}

/* Account for one read of @r that returned @res. */
static int on_read(struct fill *f, struct req *r, int res)
{
	uint64_t got;

	if (res == -EINTR)
		return R_AGAIN;
	if (res == -EAGAIN)
		return R_POLL;
	if (res < 0) {
		fail(f, res);
		return R_DONE;
	}
	got = min_u64(r->rd + (uint64_t)res, r->end);
	if (got <= r->pos) {
		/* 0 bytes, or an O_DIRECT re-read that found nothing new. */
		source_ended(f, r->pos);
		return R_DONE;
	}
	r->pos = got;
	/* Bytes past the payload are only O_DIRECT rounding: not needed. */
	if (r->pos == r->end || (f->sized && r->pos >= f->want))
		return R_DONE;
	aim(f, r);
	return R_AGAIN;
}

/*
 * Pop finished chunks in order: the payload is complete up to f->ready.
 * Their slots are free at once; hashing trails behind (hash_some()), so
 * that new reads are in flight while the hash runs.
 */
static void retire(struct fill *f)
{
	struct req *r;
	uint64_t hi;

	while (f->count && (r = &f->q[f->head])->done) {
		hi = min_u64(r->pos, f->eof);
		if (f->sized)
			hi = min_u64(hi, f->want);
		if (hi > f->ready)
			f->ready = hi;
		f->head = (f->head + 1) % f->depth;
		f->count--;
	}
}

/* Hash up to @max bytes of the complete payload; false if none was due. */
static bool hash_some(struct fill *f, uint64_t max)
{
	uint64_t n;

	if (!f->hash_inline || f->err || f->hashed >= f->ready)
		return false;
	n = min_u64(f->ready - f->hashed, max);
	mmsync_hash_update(f->hs, f->dst + f->hashed, (size_t)n);
	f->hashed += n;
	return true;
}

/*
 * Nothing in flight and nothing left to carve: done, or (length unknown,
 * no end seen yet) grow the slot and go on. Returns true to go on.
 */
static bool more(struct fill *f)
{
	uint64_t need;
	int err;

	if (f->err || f->eof != NO_EOF || f->sized || f->sub < f->limit)
		return false;
	if (f->limit >= MMSYNC_MAX_CAP) {
		fail(f, -EFBIG);
		return false;
	}
	/* Double, by at most 1 GiB at a time (aligned stays aligned). */
	need = min_u64(f->limit + min_u64(f->limit, 1ull << 30),
		       MMSYNC_MAX_CAP);
	err = room(f, need, NULL);
	if (err) {
		fail(f, err);
		return false;
	}
	return true;
}

/* ---- engine 1: io_uring ------------------------------------------------ */

static struct io_uring_sqe *get_sqe(struct fill *f)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&f->u->ring);

	if (!sqe) {
		/* Cannot happen with one SQE per request; be safe anyway. */
		io_uring_submit(&f->u->ring);
		sqe = io_uring_get_sqe(&f->u->ring);
	}
	return sqe;
}

static void issue_read(struct fill *f, unsigned int idx)
{
	struct req *r = &f->q[idx];
	struct io_uring_sqe *sqe = get_sqe(f);
	unsigned int n = (unsigned int)(r->end - r->rd);
	uint64_t off = f->stream ? (uint64_t)-1 : f->base + r->rd;

	if (!sqe) {
		fail(f, -EBUSY);
		r->busy = false;
		r->done = true;
		f->busy--;
		return;
	}
	if (f->fixed)
		io_uring_prep_read_fixed(sqe, f->fd, f->dst + r->rd, n, off,
					 f->slot * (int)PIECES +
						 (int)(r->rd / PIECE));
	else
		io_uring_prep_read(sqe, f->fd, f->dst + r->rd, n, off);
	if (f->async || r->async)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data64(sqe, idx);
	r->busy = true;
}

static void issue_poll(struct fill *f, unsigned int idx)
{
	struct io_uring_sqe *sqe = get_sqe(f);

	if (!sqe) {
		fail(f, -EBUSY);
		f->q[idx].busy = false;
		f->q[idx].done = true;
		f->busy--;
		return;
	}
	io_uring_prep_poll_add(sqe, f->fd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAG_POLL | idx);
	f->q[idx].busy = true;
}

static void on_cqe(struct fill *f, uint64_t data, int res)
{
	unsigned int idx = (unsigned int)data;
	struct req *r;
	int act;

	if (idx >= f->depth)
		return;
	r = &f->q[idx];
	if (!r->busy)
		return;
	r->busy = false;
	if (data & TAG_POLL) {
		/* Readable (or hung up: the read will say 0 or the error). */
		act = res < 0 && res != -EINTR && res != -EAGAIN ? R_DONE :
								   R_AGAIN;
		if (act == R_DONE)
			fail(f, res);
	} else if (f->fixed && (res == -EFAULT || res == -EOPNOTSUPP)) {
		/* The kernel would not read into the table: plain reads. */
		f->fixed = false;
		act = R_AGAIN;
	} else {
		act = on_read(f, r, res);
	}
	if (act != R_DONE && f->err)
		act = R_DONE;
	switch (act) {
	case R_AGAIN:
		issue_read(f, idx);
		break;
	case R_POLL:
		/* Seekable sources are always "readable": block in a worker. */
		if (f->stream) {
			issue_poll(f, idx);
		} else {
			r->async = true;
			issue_read(f, idx);
		}
		break;
	default:
		r->done = true;
		f->busy--;
	}
}

/* Handle the completions already there, without entering the kernel. */
static void reap_ready(struct fill *f)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&f->u->ring, head, cqe)
	{
		on_cqe(f, cqe->user_data, cqe->res);
		n++;
	}
	io_uring_cq_advance(&f->u->ring, n);
}

static int reap(struct fill *f)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	int ret;

	ret = io_uring_submit_and_wait(&f->u->ring, 1);
	if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY &&
	    ret != -ENOMEM)
		return ret;
	io_uring_for_each_cqe(&f->u->ring, head, cqe)
	{
		on_cqe(f, cqe->user_data, cqe->res);
		n++;
	}
	io_uring_cq_advance(&f->u->ring, n);
	/* Out of kernel memory and nothing came back: breathe, retry. */
	if (ret < 0 && ret != -EINTR && !n)
		mmsync_sleep_ns(100000);
	return 0;
}

static void run_uring(struct fill *f)
{
	unsigned int idx;
	int err;

	for (;;) {
		retire(f);
		while (f->count < f->depth) {
			idx = (f->head + f->count) % f->depth;
			if (!carve(f, &f->q[idx]))
				break;
			f->count++;
			f->busy++;
			issue_read(f, idx);
		}
		/*
		 * Reads in flight (in workers, or in the kernel waiting on a
		 * device or a pipe) while this thread hashes what is
		 * complete, a piece at a time, reaping in between.
		 */
		if (io_uring_sq_ready(&f->u->ring))
			io_uring_submit(&f->u->ring);
		if (hash_some(f, HASH_PIECE)) {
			if (f->busy && io_uring_cq_ready(&f->u->ring))
				reap_ready(f);
			continue;
		}
		if (!f->busy) {
			retire(f);
			if (f->count || more(f))
				continue;
			return;
		}
		err = reap(f);
		if (err) {
			/*
			 * The ring itself failed with reads in flight into the
			 * slot: the writer cannot know when they land, so the
			 * ring goes (io_uring_queue_exit waits for them).
			 */
			fail(f, err);
			mmsync_uring_free(f->w);
			f->u = NULL;
			return;
		}
	}
}

/* ---- engine 2: a read() loop (no io_uring, or MMSYNC_FD_NO_URING) ------ */

static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		if (poll(&p, 1, -1) >= 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

static void run_sync(struct fill *f)
{
	struct req *r = &f->q[0];
	size_t n;
	ssize_t got;
	int act, err;

	for (;;) {
		if (!carve(f, r)) {
			if (more(f))
				continue;
			return;
		}
		f->count = 1;
		do {
			n = (size_t)(r->end - r->rd);
			if (f->stream)
				got = read(f->fd, f->dst + r->rd, n);
			else
				got = pread(f->fd, f->dst + r->rd, n,
					    (off_t)(f->base + r->rd));
			act = on_read(f, r, got < 0 ? -errno : (int)got);
			if (act == R_POLL) {
				err = wait_readable(f->fd);
				if (err)
					fail(f, err);
			}
		} while (act != R_DONE && !f->err);
		r->done = true;
		retire(f);
		while (hash_some(f, UINT64_MAX))
			;
	}
}

/* ---- the entry point --------------------------------------------------- */

/*
 * Reads at submit time (inline) or in io_uring's workers (async)? Inline
 * runs copy and hash one after the other on this CPU; async lets a worker
 * copy on another CPU while this thread hashes the chunks before.
 */
static bool pick_async(uint32_t flags, uint64_t bytes)
{
	cpu_set_t set;

	if (flags & MMSYNC_FD_ASYNC)
		return true;
	if (flags & MMSYNC_FD_INLINE || bytes < ASYNC_MIN)
		return false;
	/* With one CPU the worker and the hash would just take turns. */
	return sched_getaffinity(0, sizeof(set), &set) == 0 &&
	       CPU_COUNT(&set) > 1;
}

/*
 * Fixed buffers save O_DIRECT the pinning of the slot's pages on every
 * read. Buffered reads copy out of the page cache either way, and that
 * copy is slower into a registered buffer (page by page through a bio_vec)
 * than into a plain user range: 6.6 vs 8.1 GB/s here, 64 MiB cached.
 */
static bool pick_fixed(uint32_t flags, bool direct)
{
	if (flags & MMSYNC_FD_NO_FIXED)
		return false;
	return direct || (flags & MMSYNC_FD_FIXED);
}

/*
 * A sixteenth of the payload, a power of two in [512 KiB, 4 MiB]: enough
 * chunks for the hash to trail the copy closely in small payloads, few
 * enough to keep the per-request cost down in big ones.
 */
static uint32_t pick_chunk(uint64_t bytes)
{
	uint32_t c = CHUNK_MIN;

	while (c < CHUNK_MAX && (uint64_t)c * 2 * DEF_DEPTH <= bytes)
		c *= 2;
	return c;
}

/* O_DIRECT alignment of @fd: offsets, lengths and buffers. */
static uint64_t dio_align(int fd, const struct stat *st)
{
	uint64_t a = 0;
	int ss = 0;
#ifdef STATX_DIOALIGN
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN)) {
		a = sx.stx_dio_offset_align;
		if (sx.stx_dio_mem_align > a)
			a = sx.stx_dio_mem_align;
	}
#endif
	if (!a && S_ISBLK(st->st_mode) && ioctl(fd, BLKSSZGET, &ss) == 0 &&
	    ss > 0)
		a = (uint64_t)ss;
	/* Unknown: a page covers every logical block size up to 4 KiB. */
	if (!a || (a & (a - 1)))
		a = 4096;
	return a;
}

/* Bytes from @offset to the end of a file or block device, as of now. */
static uint64_t size_hint(int fd, const struct stat *st, uint64_t offset)
{
	uint64_t size = (uint64_t)st->st_size;

	if (S_ISBLK(st->st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	return size > offset ? size - offset : 0;
}

static int setup(struct fill *f, int fd, off_t offset, size_t len,
		 uint64_t *need)
{
	struct stat st;
	uint64_t hint, probe;
	int fl;

	if (fd < 0)
		return -EBADF;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) == O_WRONLY || (fl & O_PATH))
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (offset < 0)
		return -EINVAL;
	if (len > MMSYNC_MAX_CAP)
		return -EFBIG;
	f->fd = fd;
	f->stream = !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
	f->sized = len != 0;
	f->align = 1;
	f->eof = NO_EOF;
	f->chunk = f->w->fd_chunk ? (uint32_t)f->w->fd_chunk : DEF_CHUNK;
	f->async = false;
	f->depth = f->w->fd_depth ? f->w->fd_depth : DEF_DEPTH;
	if (f->stream) {
		if (offset)
			return -ESPIPE;
		f->depth = 1; /* no offsets: reads must not overtake */
		f->want = len;
		*need = f->sized ? len : STREAM_START;
		f->want_fixed = pick_fixed(f->w->fd_flags, false);
		return 0;
	}
	if ((uint64_t)offset > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	if (fl & O_DIRECT) {
		f->direct = true;
		f->align = dio_align(fd, &st);
		if (f->align > MMSYNC_FD_MAX_CHUNK)
			return -EINVAL;
	}
	f->skip = (uint64_t)offset & (f->align - 1);
	f->base = (uint64_t)offset - f->skip;
	probe = f->align > 4096 ? f->align : 4096;
	if (f->sized) {
		f->want = f->skip + len;
		*need = (f->want + f->align - 1) & ~(f->align - 1);
	} else {
		/*
		 * Room for what the size says, plus one probe read that is
		 * expected to return 0: a file that grew is read on.
		 */
		hint = size_hint(fd, &st, (uint64_t)offset);
		*need = ((f->skip + hint + f->align - 1) & ~(f->align - 1)) +
			probe;
	}
	/* O_DIRECT reads are asynchronous already: the device does them. */
	f->async = !f->direct && pick_async(f->w->fd_flags, *need);
	f->want_fixed = pick_fixed(f->w->fd_flags, f->direct);
	if (!f->w->fd_chunk)
		f->chunk = pick_chunk(*need);
	f->chunk = (uint32_t)((f->chunk + f->align - 1) & ~(f->align - 1));
	return 0;
}

int mmsync_publish_fd(struct mmsync_writer *w, int fd, off_t offset, size_t len,
		      struct mmsync_publish_info *info)
{
	struct mmsync_publish_info tmp;
	struct req one;
	struct fill *f;
	uint64_t need = 0, size, sum;
	int err;

	err = mmsync_writer_usable(w);
	if (err)
		return err;
	if (!info)
		info = &tmp;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->w = w;
	f->hs = w->xxh;
	err = setup(f, fd, offset, len, &need);
	if (err)
		goto out;
	if (!(w->fd_flags & MMSYNC_FD_NO_URING)) {
		f->u = get_ring(w, w->fd_depth ? w->fd_depth : DEF_DEPTH, &err);
		if (err)
			goto out;
	}
	if (f->u) {
		f->q = f->u->q;
		f->depth = f->depth < f->u->depth ? f->depth : f->u->depth;
	} else {
		memset(&one, 0, sizeof(one));
		f->q = &one;
		f->depth = 1;
	}
	/* The slot is about to be overwritten: an open reservation is void. */
	w->resv_ptr = NULL;
	w->resv_len = 0;
	f->slot = (int)((w->gen + 1) & 1);
	err = room(f, need, info);
	if (err)
		goto out;
	f->hash_inline = f->skip == 0;
	mmsync_hash_reset(f->hs);
	if (f->u)
		run_uring(f);
	else
		run_sync(f);
	err = f->err;
	if (err)
		goto out;
	size = f->sized ? len : (f->eof > f->skip ? f->eof - f->skip : 0);
	if (f->skip) {
		/* O_DIRECT from an unaligned offset: the payload sits skip in. */
		memmove(f->dst, f->dst + f->skip, (size_t)size);
		sum = mmsync_hash(f->dst, (size_t)size);
	} else {
		sum = mmsync_hash_digest(f->hs);
	}
	mmsync_slot_commit(w, size, sum, info);
out:
	free(f);
	return err;
}
