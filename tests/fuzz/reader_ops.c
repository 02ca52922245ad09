// SPDX-License-Identifier: MIT
/*
 * reader_ops.c - the reader-side actions of a fuzz input and what each
 * must see: reader handles (open, views, wait, fd, close) and the
 * observers (stat, foreach_reader). prog.c lists the contract.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "prog.h"

static unsigned char copies[FZ_MAX_HANDLES][VIEW_COPY];

void close_handle(struct handle *h)
{
	mmsync_reader_close(h->r);
	memset(h, 0, sizeof(*h));
}

void act_ropen(struct prog *p, const struct fz_rec *r)
{
	struct handle *h = &p->h[r->a % FZ_MAX_HANDLES];
	struct fz_snap before[FZ_NFILES], now;
	struct mirror m;
	int rc;
	MMSYNC_OPTS(mmsync_reader_opts, o, .flags = 0);

	if (h->r)
		close_handle(h);
	o.flags = r->b & (MMSYNC_READ_VERIFY | MMSYNC_READ_XCHG |
			  MMSYNC_READ_NO_SIGBUS_GUARD | MMSYNC_READ_NO_NOTIFY);
	if (r->b & 0x100)
		o.poll_ns = 1000;
	reader_mirror(p, &m);
	/* The harness itself: an unedited template is a valid channel. */
	if (p->ops == OP_NR_READER && !p->edits && !p->c.taint && !p->replaced)
		FZ_CHECK(!m.refuse, "harness: template %d looks invalid",
			 p->c.tmpl);
	fz_snap_all(&p->c, before);
	rc = mmsync_reader_open(p->c.name, &o, &h->r);
	FZ_CHECK(rc == 0 || is_errno(rc), "reader_open returned %d", rc);
	if (rc) {
		FZ_CHECK(!h->r, "reader_open failed (%d) but set a handle", rc);
		/* As root no mode keeps us out: a valid channel must open. */
		FZ_CHECK(m.refuse || free_entries(p, &m) <= 0 || geteuid(),
			 "reader_open refused a valid channel: %d", rc);
		/*
		 * A reader gives a short table its pages back before it
		 * looks for a free entry: the one write it may make to a
		 * channel it then cannot join (-EUSERS, -ENOSPC).
		 */
		if (rc == -EUSERS || rc == -ENOSPC) {
			check_same(p, before, FZ_STATE, FZ_TABLE, "reader_open",
				   rc);
			check_same(p, before, FZ_DATA0, FZ_NFILES,
				   "reader_open", rc);
			fz_file_stat(&p->c, FZ_TABLE, &now);
			FZ_CHECK(
				now.ino == before[FZ_TABLE].ino &&
					now.size >= before[FZ_TABLE].size,
				"reader_open (%d) replaced or shrank the table",
				rc);
		} else {
			check_same(p, before, 0, FZ_NFILES, "reader_open", rc);
		}
		return;
	}
	FZ_CHECK(!m.refuse,
		 "reader_open accepted files that are not a "
		 "channel: %s",
		 m.why);
	/* A reader may write the table, nothing else. */
	check_same(p, before, FZ_STATE, FZ_TABLE, "reader_open", rc);
	check_same(p, before, FZ_DATA0, FZ_NFILES, "reader_open", rc);
	FZ_CHECK(mmsync_reader_gen(h->r) == m.h.hot.gen,
		 "reader_gen %llu, state says %llu",
		 (unsigned long long)mmsync_reader_gen(h->r),
		 (unsigned long long)m.h.hot.gen);
	h->flags = o.flags;
	h->copy = copies[h - p->h];
	h->fd = -1;
}

/*
 * What read_begin must return now, judged from the files: -ENODATA at
 * generation 0; -EBADMSG when the slot of the generation does not hold it
 * or holds more than its capacity or its file; else 0, or -EIO with
 * MMSYNC_READ_VERIFY and bytes that do not hash to the checksum. 1: too
 * big to judge here.
 */
static int expect_begin(const struct prog *p, const struct handle *h,
			const struct mmsync_hdr *hd)
{
	const struct mmsync__slot *s;
	uint64_t g = hd->hot.gen;
	int f = FZ_DATA0 + (int)(g & 1);

	if (g == 0)
		return -ENODATA;
	s = &hd->hot.slot[g & 1];
	if (g >= MMSYNC_MAX_GEN || s->gen != g || s->size > hd->cap[g & 1] ||
	    s->size > fz_file_size(&p->c, f))
		return -EBADMSG;
	if (!(h->flags & MMSYNC_READ_VERIFY))
		return 0;
	if (s->size > sizeof(fz_scratch) ||
	    fz_pread(&p->c, f, fz_scratch, s->size, 0) != (ssize_t)s->size)
		return 1;
	return XXH3_64bits(fz_scratch, s->size) == s->checksum ? 0 : -EIO;
}

static bool exact(const struct prog *p, const struct handle *h)
{
	return !p->c.taint && !h->replaced;
}

/* A view read_begin returned: the state's metadata, the file's bytes. */
static void check_view(const struct prog *p, const struct handle *h,
		       const struct mmsync_view *v, const struct mmsync_hdr *hd)
{
	const volatile unsigned char *d = v->data;
	const struct mmsync__slot *s = &hd->hot.slot[v->gen & 1];
	const struct known *k = known_gen(p, v->gen);
	ssize_t n;

	FZ_CHECK(d != NULL, "view data is NULL");
	/* The first and last byte: no fault, no SIGBUS. */
	(void)d[0];
	if (v->size)
		(void)d[v->size - 1];
	if (!exact(p, h))
		return;
	FZ_CHECK(v->gen == hd->hot.gen && v->gen < MMSYNC_MAX_GEN,
		 "view gen %llu, state gen %llu", (unsigned long long)v->gen,
		 (unsigned long long)hd->hot.gen);
	FZ_CHECK(v->size == s->size && v->checksum == s->checksum,
		 "view size/checksum %zu/%llx, slot says %llu/%llx", v->size,
		 (unsigned long long)v->checksum, (unsigned long long)s->size,
		 (unsigned long long)s->checksum);
	if (v->size <= sizeof(fz_scratch)) {
		n = fz_pread(&p->c, FZ_DATA0 + (int)(v->gen & 1), fz_scratch,
			     v->size, 0);
		FZ_CHECK(n == (ssize_t)v->size &&
				 !memcmp(fz_scratch, v->data, v->size),
			 "view bytes are not the data file's");
	}
	if (h->flags & MMSYNC_READ_VERIFY)
		FZ_CHECK(XXH3_64bits(v->data, v->size) == v->checksum,
			 "verified view does not match its checksum");
	if (k && !p->w_replaced) {
		make_payload(k->seed, k->len);
		FZ_CHECK(v->size == k->len &&
				 !memcmp(v->data, fz_payload, k->len) &&
				 v->checksum == XXH3_64bits(fz_payload, k->len),
			 "view of gen %llu is not what was published",
			 (unsigned long long)v->gen);
	}
}

/* read_begin as the contract says; returns its result. */
static int begin_view(struct prog *p, struct handle *h)
{
	struct mmsync_view v2;
	struct mmsync_hdr hd;
	int rc, want;

	fz_read_hdr(&p->c, &hd);
	want = expect_begin(p, h, &hd);
	rc = mmsync_read_begin(h->r, &h->v);
	FZ_CHECK(rc == 0 || is_errno(rc), "read_begin returned %d", rc);
	if (exact(p, h) && want != 1)
		FZ_CHECK(rc == want, "read_begin %d, expected %d (gen %llu)",
			 rc, want, (unsigned long long)hd.hot.gen);
	if (rc)
		return rc;
	h->view = true;
	check_view(p, h, &h->v, &hd);
	FZ_CHECK(mmsync_read_begin(h->r, &v2) == -EBUSY,
		 "second read_begin is not -EBUSY");
	h->copied = h->v.size < VIEW_COPY ? h->v.size : VIEW_COPY;
	memcpy(h->copy, h->v.data, h->copied);
	return 0;
}

/* read_end is 0 exactly when the view's slot still holds its generation. */
void end_view(struct prog *p, struct handle *h)
{
	struct mmsync_hdr hd;
	int rc, want;
	bool held;

	if (!h->view) {
		rc = mmsync_read_end(h->r, &h->v);
		FZ_CHECK(rc == -EINVAL, "read_end without a view: %d", rc);
		return;
	}
	fz_read_hdr(&p->c, &hd);
	held = hd.hot.slot[h->v.gen & 1].gen == h->v.gen;
	want = held ? 0 : -ESTALE;
	rc = mmsync_read_end(h->r, &h->v);
	h->view = false;
	if (!h->replaced)
		FZ_CHECK(rc == want, "read_end %d, slot %s gen %llu", rc,
			 held ? "still holds" : "no longer holds",
			 (unsigned long long)h->v.gen);
	else
		FZ_CHECK(rc == 0 || rc == -ESTALE, "read_end returned %d", rc);
	/* Clean means unchanged: no torn view is ever reported 0. */
	if (rc == 0 && !p->c.taint)
		FZ_CHECK(!memcmp(h->copy, h->v.data, h->copied),
			 "read_end 0 but the view of gen %llu changed",
			 (unsigned long long)h->v.gen);
}

void act_read(struct prog *p, const struct fz_rec *r)
{
	struct handle *h = &p->h[r->a % FZ_MAX_HANDLES];
	struct mmsync_view v;
	int i;

	if (!h->r) {
		FZ_CHECK(mmsync_read_begin(NULL, &v) == -EINVAL &&
				 mmsync_read_end(NULL, &v) == -EINVAL,
			 "NULL reader");
		return;
	}
	if (h->view) {
		FZ_CHECK(mmsync_read_begin(h->r, &v) == -EBUSY,
			 "read_begin with a view open is not -EBUSY");
		return;
	}
	for (i = 0; i <= (r->b & 3); i++)
		if (begin_view(p, h) == 0)
			end_view(p, h);
}

void act_begin(struct prog *p, const struct fz_rec *r)
{
	struct handle *h = &p->h[r->a % FZ_MAX_HANDLES];

	if (h->r && !h->view)
		begin_view(p, h);
}

void act_end(struct prog *p, const struct fz_rec *r)
{
	struct handle *h = &p->h[r->a % FZ_MAX_HANDLES];

	if (h->r)
		end_view(p, h);
}

void act_wait(struct prog *p, const struct fz_rec *r)
{
	struct handle *h = &p->h[r->a % FZ_MAX_HANDLES];
	struct mmsync_hdr hd;
	uint64_t g, after;
	int rc;

	if (!h->r) {
		FZ_CHECK(mmsync_wait(NULL, 0, 0) == -EINVAL, "wait(NULL)");
		return;
	}
	g = mmsync_reader_gen(h->r);
	if (!h->replaced && fz_read_hdr(&p->c, &hd))
		FZ_CHECK(g == hd.hot.gen, "reader_gen %llu, state %llu",
			 (unsigned long long)g, (unsigned long long)hd.hot.gen);
	switch (r->b & 7) {
	case 0:
		after = 0;
		break;
	case 1:
		after = g - 1;
		break;
	case 2:
		after = g;
		break;
	case 3:
		after = g + 1;
		break;
	case 4:
		after = UINT64_MAX;
		break;
	case 5:
		after = r->v;
		break;
	case 6:
		after = g - 2;
		break;
	default:
		after = MMSYNC_MAX_GEN;
		break;
	}
	rc = mmsync_wait(h->r, after, (r->b & 8) ? 1000 : 0);
	FZ_CHECK(rc == (g > after ? 0 : -ETIMEDOUT),
		 "wait(%llu) at gen %llu returned %d",
		 (unsigned long long)after, (unsigned long long)g, rc);
}

void act_rfd(struct prog *p, const struct fz_rec *r)
{
	struct handle *h = &p->h[r->a % FZ_MAX_HANDLES];
	struct pollfd pfd;
	int fd;

	if (!h->r) {
		FZ_CHECK(mmsync_reader_fd(NULL) == -EINVAL, "reader_fd(NULL)");
		return;
	}
	fd = mmsync_reader_fd(h->r);
	if (h->flags & MMSYNC_READ_NO_NOTIFY)
		FZ_CHECK(fd == -EOPNOTSUPP,
			 "reader_fd with MMSYNC_READ_NO_NOTIFY: %d", fd);
	FZ_CHECK(fd >= 0 || fd == -EOPNOTSUPP || fd == -EMFILE ||
			 fd == -ENFILE || fd == -ENOSPC,
		 "reader_fd returned %d", fd);
	if (fd < 0)
		return;
	FZ_CHECK(h->fd < 0 || h->fd == fd, "reader_fd changed: %d, then %d",
		 h->fd, fd);
	FZ_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "reader fd not cloexec");
	pfd.fd = fd;
	pfd.events = POLLIN;
	FZ_CHECK(poll(&pfd, 1, 0) >= 0, "poll on the reader fd failed");
	h->fd = fd;
}

/*
 * After a publish: every handle that holds its descriptor was woken (it
 * polls readable), unless the waiters count could be lying (a scribbled
 * table) or the handle's state object is another file than the writer's.
 */
void check_woken(const struct prog *p)
{
	struct pollfd pfd = { .events = POLLIN };
	int k;

	if (p->c.taint_table || p->c.taint || p->replaced || p->w_replaced)
		return;
	for (k = 0; k < FZ_MAX_HANDLES; k++) {
		if (!p->h[k].r || p->h[k].fd < 0)
			continue;
		pfd.fd = p->h[k].fd;
		FZ_CHECK(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN),
			 "a publish did not wake handle %d's descriptor", k);
	}
}

void act_rclose(struct prog *p, const struct fz_rec *r)
{
	struct handle *h = &p->h[r->a % FZ_MAX_HANDLES];

	if (h->r)
		close_handle(h);
	else
		mmsync_reader_close(NULL);
}

/* ---- Observers ---------------------------------------------------------- */

/* Would mmsync_stat() take these files? (lib/stat.c: the state alone) */
static bool observable(const struct prog *p, struct mmsync_hdr *hd)
{
	struct fz_snap s;

	fz_file_meta(&p->c, FZ_STATE, &s);
	return fz_read_hdr(&p->c, hd) && s.kind == FZ_REG && fz_ident_ok(hd);
}

/*
 * Live readers the table shows: the entries the harness locks for "other
 * readers" plus our own handles, within what the table file holds; -1
 * when that cannot be told (files replaced, the state edited).
 */
static int64_t live_readers(const struct prog *p, const struct mmsync_hdr *hd)
{
	uint64_t size = fz_file_size(&p->c, FZ_TABLE), n;

	if (p->replaced || p->c.taint)
		return -1;
	if (!fz_id_is(&p->c, &hd->table_id, FZ_TABLE))
		return 0;
	if (size > hd->table_size)
		size = hd->table_size;
	if (size < MMSYNC_TABLE_HDR)
		return 0;
	n = (size - MMSYNC_TABLE_HDR) / MMSYNC_ENTRY_SIZE;
	if (n > hd->nr_entries)
		n = hd->nr_entries;
	/* Where our handles' entries lie is ours to know only in full. */
	if (open_handles(p) && n < hd->nr_entries)
		return -1;
	return fz_locked_entries(&p->c, (uint32_t)n) + open_handles(p);
}

void act_stat(struct prog *p, const struct fz_rec *r)
{
	struct fz_snap before[FZ_NFILES];
	struct mmsync_stats st;
	struct mmsync_hdr hd;
	size_t sz = sizeof(st), i;
	int64_t live;
	bool ok;
	int rc, k;

	/* An older caller's smaller struct: nothing past sz is written. */
	if (r->b & 1)
		sz = offsetof(struct mmsync_stats, publishes);
	memset(&st, 0xa5, sizeof(st));
	st.sz = sz;
	ok = observable(p, &hd);
	fz_snap_all(&p->c, before);
	rc = mmsync_stat(p->c.name, &st);
	check_same(p, before, 0, FZ_NFILES, "stat", rc);
	FZ_CHECK(rc == 0 || is_errno(rc), "stat returned %d", rc);
	FZ_CHECK((rc == 0) == ok, "stat returned %d for %s files", rc,
		 ok ? "valid" : "invalid");
	for (i = sz; i < sizeof(st); i++)
		FZ_CHECK(((unsigned char *)&st)[i] == 0xa5,
			 "stat wrote past sz (byte %zu)", i);
	if (rc || sz != sizeof(st))
		return;
	FZ_CHECK(st.sz == sizeof(st), "stat sz");
	FZ_CHECK(st.gen == hd.hot.gen && st.max_readers == hd.nr_entries &&
			 st.fence_mode == hd.fence_mode &&
			 st.writer_pid == hd.writer_pid &&
			 st.created_ns == hd.created_ns,
		 "stat disagrees with the state");
	for (k = 0; k < 2; k++)
		FZ_CHECK(st.slot_gen[k] == hd.hot.slot[k].gen &&
				 st.slot_size[k] == hd.hot.slot[k].size &&
				 st.slot_cap[k] == hd.cap[k],
			 "stat slot %d disagrees with the state", k);
	live = live_readers(p, &hd);
	if (live >= 0)
		FZ_CHECK(st.readers == live, "stat: %u live readers, %lld held",
			 st.readers, (long long)live);
	if (!p->replaced)
		FZ_CHECK(st.writer_alive == (p->w && p->w_advert),
			 "stat: writer_alive %u", st.writer_alive);
}

struct each {
	uint32_t calls, stop, alive, nr;
	int neg; /* stop with this negative errno rather than 1 */
	uint64_t gen;
};

static int each_reader(const struct mmsync_reader_info *ri, void *arg)
{
	struct each *e = arg;

	e->calls++;
	FZ_CHECK(ri->sz == sizeof(*ri), "reader_info sz");
	FZ_CHECK(ri->index < e->nr, "reader_info index %u of %u", ri->index,
		 e->nr);
	FZ_CHECK(memchr(ri->comm, 0, sizeof(ri->comm)) != NULL,
		 "reader_info comm not terminated");
	FZ_CHECK(ri->alive == 0 || ri->alive == 1 || is_errno(ri->alive),
		 "reader_info alive %d", ri->alive);
	FZ_CHECK(ri->pinned_gen < MMSYNC_MAX_GEN, "reader_info pinned_gen");
	FZ_CHECK(ri->lag <= e->gen, "reader_info lag");
	e->alive += ri->alive == 1;
	if (e->calls != e->stop)
		return 0;
	return e->neg ? e->neg : 1;
}

void act_foreach(struct prog *p, const struct fz_rec *r)
{
	struct fz_snap before[FZ_NFILES];
	struct each e = { .stop = r->a % 4,
			  .neg = (r->a & 4) ? -ECANCELED : 0 };
	struct mmsync_hdr hd;
	int64_t live;
	bool ok;
	int rc;

	ok = observable(p, &hd);
	e.nr = hd.nr_entries;
	e.gen = hd.hot.gen;
	fz_snap_all(&p->c, before);
	rc = mmsync_foreach_reader(p->c.name, each_reader, &e);
	check_same(p, before, 0, FZ_NFILES, "foreach_reader", rc);
	FZ_CHECK(rc >= 0 || is_errno(rc), "foreach_reader returned %d", rc);
	/* The callback's negative value, if it stopped with one. */
	if (e.neg && e.calls == e.stop && e.stop) {
		FZ_CHECK(rc == e.neg,
			 "foreach_reader: %d, the callback said %d", rc, e.neg);
		return;
	}
	FZ_CHECK((rc >= 0) == ok, "foreach_reader returned %d for %s files", rc,
		 ok ? "valid" : "invalid");
	FZ_CHECK(mmsync_foreach_reader(p->c.name, NULL, NULL) == -EINVAL,
		 "foreach_reader(NULL fn)");
	if (rc < 0)
		return;
	FZ_CHECK((uint32_t)rc == e.calls, "foreach_reader: %d, %u calls", rc,
		 e.calls);
	live = live_readers(p, &hd);
	if (live >= 0 && !e.stop)
		FZ_CHECK(e.alive == live, "foreach_reader: %u alive, %lld held",
			 e.alive, (long long)live);
}

/*
 * Does a live reader pin a generation that publishing @next must wait
 * for? One of our views whose slot still holds it, or an entry the
 * harness holds (a live reader elsewhere) whose pin blocks, unless the
 * writer already stopped waiting for that very pin (lib/grace.c: a pin
 * given up on is not waited for again). @pins: what each entry pinned.
 */
bool live_pin_blocks(const struct prog *p, uint64_t next, uint64_t *pins)
{
	struct mmsync_hdr hd;
	struct mmsync_entry e;
	bool blocks = false;
	uint32_t i, n;
	int k;

	memset(pins, 0, 256 * sizeof(*pins));
	if (!fz_read_hdr(&p->c, &hd))
		return false;
	for (k = 0; k < FZ_MAX_HANDLES; k++) {
		const struct handle *h = &p->h[k];

		if (h->r && h->view && !h->replaced && h->v.gen < next &&
		    ((h->v.gen ^ next) & 1) == 0 &&
		    hd.hot.slot[h->v.gen & 1].gen == h->v.gen)
			blocks = true;
	}
	n = hd.nr_entries < 256 ? hd.nr_entries : 256;
	for (i = 0; i < n; i++) {
		if (!fz_entry_held(&p->c, i) ||
		    fz_pread(&p->c, FZ_TABLE, &e, sizeof(e),
			     mmsync_entry_off(i)) != sizeof(e))
			continue;
		if (e.pin && e.pin < next && ((e.pin ^ next) & 1) == 0 &&
		    p->gone[i] != e.pin) {
			pins[i] = e.pin;
			blocks = true;
		}
	}
	return blocks;
}
