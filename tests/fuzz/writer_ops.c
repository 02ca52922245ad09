// SPDX-License-Identifier: MIT
/*
 * writer_ops.c - the writer-side actions of a fuzz input and what each
 * must see: writer open (and a second writer: -EBUSY), publish,
 * publish_iov, reserve/commit/abort, close, unlink. prog.c lists the
 * contract.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "prog.h"

/* Options from a record; *bad: the library must say -EINVAL. */
static void writer_opts(const struct fz_rec *r, struct mmsync_writer_opts *o,
			bool *bad)
{
	static const uint32_t readers[8] = {
		0, 1, 2, 3, 64, 256, 65536, 65537
	};
	static const int64_t grace[4] = { 1000, 10000, 50000, 200000 };
	static const uint64_t cap[4] = { 0, 1, 4096, 70000 };
	static const uint32_t modes[4] = { 0, 0600, 0666, 0700 };
	uint32_t mode = modes[(r->b >> 4) & 3];

	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->fence_mode = r->a & 3;
	o->grace_policy = (r->a >> 2) & 1;
	o->max_readers = readers[(r->a >> 3) & 7];
	o->grace_ns = grace[r->b & 3];
	o->initial_capacity = cap[(r->b >> 2) & 3];
	switch ((r->b >> 6) % 3) {
	case 0:
		o->data_mode = mode;
		break;
	case 1:
		o->state_mode = mode;
		break;
	default:
		o->table_mode = mode;
		break;
	}
	*bad = o->fence_mode > MMSYNC_FENCE_XCHG ||
	       o->max_readers > MMSYNC_MAX_ENTRIES || mode == 0700;
}

static bool ours(const struct fz_snap *s)
{
	return s->kind == FZ_REG && s->uid == geteuid();
}

/*
 * Must a writer fail on these files (an errno it cannot avoid), or must it
 * succeed? Judged from the files: lib/backing_file.c, lib/writer.c.
 * Returns 1: must fail (*why says why), 0: must succeed, -1: cannot tell.
 */
static int writer_must_fail(const struct prog *p, const struct fz_snap *s,
			    uint32_t asked, const char **why)
{
	struct mmsync_hdr hd;
	int i;

#if defined(__SANITIZE_THREAD__)
	/* lib/writer.c: under TSan every channel is a fence channel. */
	if (asked)
		asked = MMSYNC_FENCE_XCHG;
#endif
	*why = "membarrier asked, not available";
	if (asked == MMSYNC_FENCE_MEMBARRIER && !fz_membarrier())
		return 1;
	*why = "writer lock held";
	if (fz_writer_locked(&p->c))
		return 1;
	*why = "NAME_lock not a file of ours";
	if (s[FZ_LOCK].kind != FZ_MISSING && !ours(&s[FZ_LOCK]))
		return 1;
	if (s[FZ_STATE].kind == FZ_MISSING) {
		/* A new channel: leftovers are replaced if they are ours. */
		*why = "a leftover not a file of ours";
		for (i = FZ_TABLE; i <= FZ_DATA1; i++)
			if (s[i].kind != FZ_MISSING && !ours(&s[i]))
				return 1;
		return geteuid() ? -1 : 0;
	}
	*why = "state not ours, short, bad identity or gen";
	if (!ours(&s[FZ_STATE]) || s[FZ_STATE].size < MMSYNC_STATE_SIZE ||
	    !fz_read_hdr(&p->c, &hd) || !fz_ident_ok(&hd) ||
	    hd.hot.gen >= MMSYNC_MAX_GEN)
		return 1;
	*why = "fence mode asked is not the channel's";
	if (asked && asked != hd.fence_mode)
		return 1;
	*why = "membarrier channel, not available";
	if (hd.fence_mode == MMSYNC_FENCE_MEMBARRIER && !fz_membarrier())
		return 1;
	*why = "table or data not a file of ours";
	for (i = FZ_TABLE; i <= FZ_DATA1; i++)
		if (!ours(&s[i]))
			return 1;
	*why = "table or data not the objects the state names";
	if (!fz_id_is(&p->c, &hd.table_id, FZ_TABLE) ||
	    !fz_id_is(&p->c, &hd.data_id[0], FZ_DATA0) ||
	    !fz_id_is(&p->c, &hd.data_id[1], FZ_DATA1))
		return 1;
	*why = NULL;
	return 0;
}

/*
 * Known bug "cap" (fz_known()): a refused writer_open that rewrote only
 * cap[] of the state gets the old values back, so that the comparison
 * still covers every other byte.
 */
static void known_cap_write(struct prog *p, const struct fz_snap *before)
{
	const size_t at = offsetof(struct mmsync_hdr, cap);
	const size_t n = sizeof(((struct mmsync_hdr *)0)->cap);
	struct fz_snap now;
	FILE *f;

	if (!fz_known("cap"))
		return;
	fz_file_stat(&p->c, FZ_STATE, &now);
	if (now.kind != FZ_REG || before[FZ_STATE].kind != FZ_REG ||
	    now.ino != before[FZ_STATE].ino ||
	    fz_snap_same(&before[FZ_STATE], &now) ||
	    memcmp(now.head, before[FZ_STATE].head, at) ||
	    memcmp(now.head + at + n, before[FZ_STATE].head + at + n,
		   sizeof(now.head) - at - n))
		return;
	f = fopen(p->c.path[FZ_STATE], "r+");
	if (!f)
		return;
	if (fseek(f, (long)at, SEEK_SET) == 0)
		fwrite(before[FZ_STATE].head + at, 1, n, f);
	fclose(f);
}

/* Failed: the files as they were; a lock file we made, gone again. */
static void check_failed_open(struct prog *p, const struct fz_snap *before,
			      int rc)
{
	bool fresh_try = before[FZ_STATE].kind == FZ_MISSING;
	struct fz_snap now;

	known_cap_write(p, before);
	FZ_CHECK(rc != -ENOSPC && rc != -ENOMEM,
		 "writer_open: %d with small files", rc);
	fz_file_stat(&p->c, FZ_STATE, &now);
	if (before[FZ_STATE].kind == FZ_MISSING) {
		/* A new channel: nothing of it may be left but leftovers. */
		FZ_CHECK(now.kind == FZ_MISSING,
			 "writer_open failed (%d) but made NAME_state", rc);
	} else {
		check_same(p, before, FZ_STATE, FZ_LOCK, "writer_open", rc);
	}
	fz_file_stat(&p->c, FZ_LOCK, &now);
	/*
	 * A lock file it made: gone again when there was no channel. Next
	 * to an existing (damaged) state the library keeps it, empty and
	 * 0600 (lib/backing_file.c, file_writer_close: unlinking a lock
	 * file someone else may have opened would let two writers in).
	 */
	if (before[FZ_LOCK].kind == FZ_MISSING && fresh_try)
		FZ_CHECK(now.kind == FZ_MISSING,
			 "writer_open failed (%d) and left NAME_lock", rc);
	else if (before[FZ_LOCK].kind == FZ_MISSING)
		FZ_CHECK(now.kind == FZ_MISSING ||
				 (ours(&now) && now.size == 0 &&
				  (now.mode & 07777) == 0600),
			 "writer_open failed (%d), left a NAME_lock that is "
			 "not an empty 0600 file of ours",
			 rc);
	else
		check_same(p, before, FZ_LOCK, FZ_NFILES, "writer_open", rc);
}

/* A second writer while ours is open: -EBUSY, and nothing touched. */
static void second_writer(struct prog *p, const struct fz_rec *r)
{
	struct fz_snap before[FZ_NFILES];
	struct mmsync_writer_opts o;
	struct mmsync_writer *w2 = NULL;
	bool bad;
	int rc;

	writer_opts(r, &o, &bad);
	fz_snap_all(&p->c, before);
	rc = mmsync_writer_open(p->c.name, &o, &w2);
	FZ_CHECK(rc == 0 || is_errno(rc), "writer_open returned %d", rc);
	if (rc == 0) {
		/* Only where the names no longer lead to our writer's. */
		FZ_CHECK(p->replaced, "a second writer opened the channel");
		mmsync_writer_close(w2);
		return;
	}
	if (bad)
		FZ_CHECK(rc == -EINVAL, "bad writer opts gave %d", rc);
	else if (!p->replaced && ours(&before[FZ_LOCK]))
		FZ_CHECK(rc == -EBUSY, "second writer: %d, not -EBUSY", rc);
	check_failed_open(p, before, rc);
}

void act_wopen(struct prog *p, const struct fz_rec *r)
{
	struct fz_snap before[FZ_NFILES];
	struct mmsync_writer_opts o;
	struct mmsync_hdr hd;
	const char *why = "bad options";
	bool bad, fresh;
	int rc, must, i;

	if (p->w) {
		second_writer(p, r);
		return;
	}
	writer_opts(r, &o, &bad);
	fz_snap_all(&p->c, before);
	fresh = before[FZ_STATE].kind == FZ_MISSING;
	must = bad ? 1 : writer_must_fail(p, before, o.fence_mode, &why);
	fz_read_hdr(&p->c, &hd);
	rc = mmsync_writer_open(p->c.name, &o, &p->w);
	FZ_CHECK(rc == 0 || is_errno(rc), "writer_open returned %d", rc);
	if (rc) {
		FZ_CHECK(!p->w, "writer_open failed but set a handle");
		if (bad)
			FZ_CHECK(rc == -EINVAL, "bad writer opts gave %d", rc);
		FZ_CHECK(must != 0, "writer_open refused valid files: %d", rc);
		check_failed_open(p, before, rc);
		return;
	}
	FZ_CHECK(must != 1, "writer_open accepted files it must refuse: %s",
		 why);
	p->policy = o.grace_policy;
	p->grace_ns = o.grace_ns;
	memset(p->gone, 0, sizeof(p->gone));
	p->slot_waited = false;
	/* The "alive" lock: a read lock planted on NAME_state hides it. */
	p->w_advert = fresh || !fz_state_rdlocked(&p->c);
	p->w_replaced = false;
	if (fresh) {
		/* New files: handles and held entries are of the old ones. */
		if (open_handles(p) || fz_locked_entries(&p->c, 256))
			mark_replaced(p);
		p->w_replaced = false;
		hd.hot.gen = 0;
	}
	FZ_CHECK(mmsync_writer_gen(p->w) == hd.hot.gen,
		 "writer continues at gen %llu, the state is at %llu",
		 (unsigned long long)mmsync_writer_gen(p->w),
		 (unsigned long long)hd.hot.gen);
	if (p->c.taint || !fz_read_hdr(&p->c, &hd))
		return;
	/* The writer keeps cap == what the file holds, size <= cap. */
	for (i = 0; i < 2; i++)
		FZ_CHECK(
			hd.cap[i] == fz_file_size(&p->c, FZ_DATA0 + i) &&
				hd.hot.slot[i].size <= hd.cap[i],
			"after writer_open slot %d: cap %llu, file %llu, size %llu",
			i, (unsigned long long)hd.cap[i],
			(unsigned long long)fz_file_size(&p->c, FZ_DATA0 + i),
			(unsigned long long)hd.hot.slot[i].size);
}

void act_wclose(struct prog *p)
{
	struct mmsync_hdr hd;

	mmsync_writer_close(p->w);
	p->w = NULL;
	p->resv = false;
	if (!p->w_replaced && !p->c.taint && fz_read_hdr(&p->c, &hd))
		FZ_CHECK(hd.writer_pid == 0, "closed writer left its pid");
}

/*
 * A new reader must read exactly generation @gen, as published. A
 * generation readers refuse (MMSYNC_MAX_GEN and up) must never be
 * published; known bug "maxgen": no exact checks after one.
 */
static void check_published(struct prog *p, uint64_t gen, uint64_t len,
			    uint32_t seed)
{
	MMSYNC_OPTS(mmsync_reader_opts, o,
		    .flags = MMSYNC_READ_NO_SIGBUS_GUARD);
	const struct mmsync__slot *s;
	struct mmsync_reader *r;
	struct mmsync_view v;
	struct mmsync_hdr hd;
	struct mirror m;
	uint64_t sum;
	int rc;

	if (gen >= MMSYNC_MAX_GEN && fz_known("maxgen"))
		p->c.taint = true;
	if (p->c.taint || p->w_replaced)
		return;
	FZ_CHECK(gen < MMSYNC_MAX_GEN,
		 "published gen %llu >= MMSYNC_MAX_GEN: readers refuse it",
		 (unsigned long long)gen);
	make_payload(seed, len);
	sum = XXH3_64bits(fz_payload, len);
	FZ_CHECK(fz_read_hdr(&p->c, &hd), "state unreadable after publish");
	s = &hd.hot.slot[gen & 1];
	FZ_CHECK(hd.hot.gen == gen && s->gen == gen && s->size == len &&
			 s->checksum == sum && hd.cap[gen & 1] >= len &&
			 fz_file_size(&p->c, FZ_DATA0 + (int)(gen & 1)) >=
				 hd.cap[gen & 1],
		 "state after publishing gen %llu is not what was published",
		 (unsigned long long)gen);
	reader_mirror(p, &m);
	FZ_CHECK(!m.refuse,
		 "the writer published on files a reader refuses: %s", m.why);
	if (seed & 1)
		o.flags |= MMSYNC_READ_VERIFY;
	rc = mmsync_reader_open(p->c.name, &o, &r);
	if (free_entries(p, &m) <= 0) {
		FZ_CHECK(rc == -EUSERS || p->replaced,
			 "reader_open with the table full: %d", rc);
		if (rc == 0)
			mmsync_reader_close(r);
		return;
	}
	FZ_CHECK(rc == 0 || geteuid(), "reader_open after publish: %d", rc);
	if (rc)
		return;
	rc = mmsync_read_begin(r, &v);
	FZ_CHECK(rc == 0, "read_begin after publish: %d", rc);
	FZ_CHECK(v.gen == gen && v.size == len && v.checksum == sum &&
			 !memcmp(v.data, fz_payload, len),
		 "a new reader does not see gen %llu as published",
		 (unsigned long long)gen);
	FZ_CHECK(mmsync_read_end(r, &v) == 0, "read_end after publish");
	mmsync_reader_close(r);
}

static uint64_t payload_len(const struct prog *p, const struct fz_rec *r)
{
	static const uint64_t sizes[] = { 0,	 1,	 4095,	4096,
					  4097,	 8192,	 65535, 65536,
					  65537, 131072, 100000 };
	struct mmsync_hdr hd;
	uint64_t len;

	switch ((r->b >> 12) & 3) {
	case 0:
		len = r->b & 0xfff;
		break;
	case 1:
		len = sizes[r->b % (sizeof(sizes) / sizeof(sizes[0]))];
		break;
	case 2:
		/* Around what the next slot holds now. */
		fz_read_hdr(&p->c, &hd);
		len = hd.cap[(mmsync_writer_gen(p->w) + 1) & 1] +
		      (uint64_t)(int64_t)(int8_t)r->v;
		break;
	default:
		len = r->v % (FZ_MAX_PAYLOAD + 1ull);
		break;
	}
	return len > FZ_MAX_PAYLOAD ? FZ_MAX_PAYLOAD : len;
}

/* The payload in up to 6 pieces, some empty with a NULL base. */
static int split(struct iovec *iov, uint64_t len, const struct fz_rec *r)
{
	int n = r->a % 7, i;
	uint64_t off = 0, piece;

	for (i = 0; i < n; i++) {
		piece = i == n - 1 ?
				len - off :
				((r->v >> (i * 8)) & 0xff) * (len / 256 + 1);
		if (piece > len - off)
			piece = len - off;
		iov[i].iov_base = piece ? fz_payload + off : NULL;
		iov[i].iov_len = piece;
		off += piece;
	}
	return n;
}

/* How often this thread was preempted so far (involuntary switches). */
static long preemptions(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) < 0 ? -1 : ru.ru_nivcsw;
}

enum how { PUBLISH, PUBLISH_IOV, RESERVE };

static void publish_as(struct prog *p, const struct fz_rec *r, enum how how)
{
	struct mmsync_publish_info info;
	struct iovec iov[8];
	struct mmsync_hdr before, hd;
	uint64_t len, next, t0, took;
	long ivcsw;
	uint32_t seed = (uint32_t)r->v;
	static uint64_t pins[256];
	bool blocks, trust;
	void *ptr = NULL;
	int rc, n, i;

	len = payload_len(p, r);
	make_payload(seed, len);
	next = mmsync_writer_gen(p->w) + 1;
	fz_read_hdr(&p->c, &before);
	blocks = live_pin_blocks(p, next, pins);
	/* Whether the table tells the truth about who pins what. */
	trust = !p->c.taint && !p->c.taint_table && !p->replaced &&
		!p->slot_waited;
	memset(&info, 0x5a, sizeof(info));
	ivcsw = preemptions();
	t0 = now_ns();
	switch (how) {
	case PUBLISH:
		rc = mmsync_publish(p->w, fz_payload, len, &info);
		break;
	case PUBLISH_IOV:
		n = split(iov, len, r);
		if (n == 0)
			len = 0;
		rc = mmsync_publish_iov(p->w, iov, n, &info);
		break;
	default:
		rc = mmsync_reserve(p->w, len, &ptr);
		break;
	}
	took = now_ns() - t0;
	FZ_CHECK(rc == 0 || is_errno(rc), "publish returned %d", rc);
	/*
	 * Bounded by the grace period: within a second of it when nobody
	 * took the CPU away meanwhile (a loaded machine stalls a process for
	 * longer than that), within ten seconds always.
	 */
	FZ_CHECK(took <= (uint64_t)p->grace_ns + 1000000000ull ||
			 ((ivcsw < 0 || preemptions() != ivcsw) &&
			  took <= (uint64_t)p->grace_ns + 10000000000ull),
		 "publish took %llu ns, grace %lld", (unsigned long long)took,
		 (long long)p->grace_ns);
	if (rc == -ETIMEDOUT) {
		FZ_CHECK(p->policy == MMSYNC_GRACE_REFUSE,
			 "-ETIMEDOUT without MMSYNC_GRACE_REFUSE");
		/*
		 * Without a live pin only the deadline refuses: a first pass
		 * over the table that did not end in time (a grace period
		 * shorter than the scan) is not proof that nobody pins.
		 */
		FZ_CHECK(blocks || !trust || took >= (uint64_t)p->grace_ns,
			 "refused gen %llu before the deadline, no live pin",
			 (unsigned long long)next);
		FZ_CHECK(mmsync_writer_gen(p->w) == next - 1,
			 "a refused publish moved the generation");
		/* Refused before the slot was marked: nothing changed. */
		if (!p->c.taint && !p->w_replaced && fz_read_hdr(&p->c, &hd))
			FZ_CHECK(!memcmp(&hd.hot, &before.hot, sizeof(hd.hot)),
				 "a refused publish changed the hot line");
		return;
	}
	/* Out of generations (readers refuse MMSYNC_MAX_GEN): nothing done. */
	if (rc && next >= MMSYNC_MAX_GEN) {
		FZ_CHECK(rc == -EOVERFLOW, "publish of gen %llu: %d",
			 (unsigned long long)next, rc);
		FZ_CHECK(mmsync_writer_gen(p->w) == next - 1,
			 "a failed publish moved the generation");
		return;
	}
	FZ_CHECK(rc == 0, "publish of %llu bytes failed: %d",
		 (unsigned long long)len, rc);
	FZ_CHECK(!(blocks && trust && p->policy == MMSYNC_GRACE_REFUSE),
		 "published over a live pin under MMSYNC_GRACE_REFUSE");
	/* A live pin is waited for, the whole grace period (no one unpins). */
	FZ_CHECK(!(blocks && trust) || took >= (uint64_t)p->grace_ns,
		 "a live pin was waited for %llu ns, grace %lld",
		 (unsigned long long)took, (long long)p->grace_ns);
	for (i = 0; i < 256; i++)
		if (pins[i])
			p->gone[i] = pins[i];
	if (how == RESERVE) {
		FZ_CHECK(ptr != NULL, "reserve gave NULL");
		memcpy(ptr, fz_payload, len);
		FZ_CHECK(mmsync_writer_gen(p->w) == next - 1,
			 "reserve moved the generation");
		p->resv = true;
		p->slot_waited = true;
		p->resv_len = len;
		p->resv_seed = seed;
		return;
	}
	FZ_CHECK(info.gen == next && info.size == len &&
			 info.checksum == XXH3_64bits(fz_payload, len) &&
			 mmsync_writer_gen(p->w) == next,
		 "publish info: gen %llu size %llu (want %llu, %llu)",
		 (unsigned long long)info.gen, (unsigned long long)info.size,
		 (unsigned long long)next, (unsigned long long)len);
	p->resv = false;
	p->slot_waited = false;
	remember(p, next, len, seed);
	check_woken(p);
	check_published(p, next, len, seed);
}

void act_publish(struct prog *p, const struct fz_rec *r)
{
	if (p->w)
		publish_as(p, r, PUBLISH);
	else
		FZ_CHECK(mmsync_publish(NULL, fz_payload, 1, NULL) == -EINVAL,
			 "publish(NULL)");
}

static void act_commit(struct prog *p, const struct fz_rec *r)
{
	struct mmsync_publish_info info;
	uint64_t len, next = mmsync_writer_gen(p->w) + 1;
	int rc;

	switch (r->a & 3) {
	case 0:
		len = p->resv_len;
		break;
	case 1:
		len = p->resv_len / 2;
		break;
	case 2:
		len = 0;
		break;
	default:
		len = p->resv_len + 1;
		break;
	}
	rc = mmsync_commit(p->w, len, &info);
	if (!p->resv || len > p->resv_len) {
		FZ_CHECK(rc == -EINVAL,
			 "commit of %llu without a reservation "
			 "of as much: %d",
			 (unsigned long long)len, rc);
		return;
	}
	FZ_CHECK(rc == 0, "commit failed: %d", rc);
	make_payload(p->resv_seed, len);
	/* The owner may have edited the reserved bytes (taint). */
	FZ_CHECK(
		info.gen == next && info.size == len &&
			(p->c.taint ||
			 info.checksum == XXH3_64bits(fz_payload, len)),
		"commit info: gen %llu size %llu sum %llx (want %llu %llu %llx)",
		(unsigned long long)info.gen, (unsigned long long)info.size,
		(unsigned long long)info.checksum, (unsigned long long)next,
		(unsigned long long)len,
		(unsigned long long)XXH3_64bits(fz_payload, len));
	p->resv = false;
	p->slot_waited = false;
	remember(p, next, len, p->resv_seed);
	check_woken(p);
	check_published(p, next, len, p->resv_seed);
}

static void act_unlink(struct prog *p)
{
	struct fz_snap s[FZ_NFILES];
	bool any = false, dir = false;
	int f, rc;

	fz_snap_all(&p->c, s);
	for (f = 0; f < FZ_NFILES; f++) {
		any = any || s[f].kind != FZ_MISSING;
		dir = dir || s[f].kind == FZ_DIR;
	}
	rc = mmsync_unlink(p->c.name);
	if (dir)
		FZ_CHECK(is_errno(rc), "unlink with a directory: %d", rc);
	else
		FZ_CHECK(rc == (any ? 0 : -ENOENT), "unlink: %d", rc);
	fz_snap_all(&p->c, s);
	for (f = 0; f < FZ_NFILES; f++)
		FZ_CHECK(s[f].kind == FZ_MISSING || s[f].kind == FZ_DIR,
			 "unlink left %s", p->c.path[f]);
	if (any)
		mark_replaced(p);
}

void writer_action(struct prog *p, const struct fz_rec *r)
{
	switch (r->op) {
	case OP_WOPEN:
		act_wopen(p, r);
		return;
	case OP_UNLINK:
		act_unlink(p);
		return;
	}
	if (!p->w) {
		act_publish(p, r);
		return;
	}
	switch (r->op) {
	case OP_PUBLISH:
		publish_as(p, r, PUBLISH);
		break;
	case OP_PUBLISH_IOV:
		publish_as(p, r, PUBLISH_IOV);
		break;
	case OP_RESERVE:
		publish_as(p, r, RESERVE);
		break;
	case OP_COMMIT:
		act_commit(p, r);
		break;
	case OP_ABORT:
		mmsync_abort(p->w);
		p->resv = false;
		break;
	case OP_WCLOSE:
		act_wclose(p);
		break;
	}
}
