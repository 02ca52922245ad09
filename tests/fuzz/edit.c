// SPDX-License-Identifier: MIT
/*
 * edit.c - the edit records of a fuzz input (fuzz.h): header fields of
 * lib/layout.h by name, raw bytes, fills, sizes, kinds, owners and modes,
 * object ids, checksums made right, and locks held for other processes.
 * A value is picked by a mode: raw, small, "interesting" (limits of the
 * format), a delta or a bit flip of what is there, or one that means
 * something in this channel right now (its generation, capacities, file
 * sizes, ids). Before the files exist the edits change their images;
 * after, the files (chan.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz.h"

#define SF(field)                                               \
	{                                                       \
		offsetof(struct mmsync_hdr, field),             \
			sizeof(((struct mmsync_hdr *)0)->field) \
	}
static const struct field {
	uint16_t off;
	uint8_t w;
} state_fields[] = {
	SF(magic),
	SF(format),
	SF(state_size),
	SF(entry_size),
	SF(nr_entries),
	SF(table_size),
	SF(fence_mode),
	SF(flags),
	SF(created_ns),
	SF(table_id.dev),
	SF(table_id.ino),
	SF(data_id[0].dev),
	SF(data_id[0].ino),
	SF(data_id[1].dev),
	SF(data_id[1].ino),
	SF(hot.gen),
	SF(hot.slot[0].gen),
	SF(hot.slot[0].size),
	SF(hot.slot[0].checksum),
	SF(hot.slot[1].gen),
	SF(hot.slot[1].size),
	SF(hot.slot[1].checksum),
	SF(cap[0]),
	SF(cap[1]),
	SF(pub_ns),
	SF(writer_pid),
	SF(stats.publishes),
	SF(stats.grace_waits),
	SF(stats.evictions),
	SF(stats.reclaims),
	SF(stats.refusals),
	SF(stats.waited_ns),
	SF(stats.writer_opens),
	SF(stats.notifies),
	/* the hot line again: it is what readers look at most */
	SF(hot.gen),
	SF(hot.slot[0].size),
	SF(hot.slot[1].size),
	SF(cap[0]),
	SF(cap[1]),
};
#define NR_SFIELDS (sizeof(state_fields) / sizeof(state_fields[0]))

#define EF(field)                                                 \
	{                                                         \
		offsetof(struct mmsync_entry, field),             \
			sizeof(((struct mmsync_entry *)0)->field) \
	}
static const struct field entry_fields[] = {
	EF(pin),
	EF(wait),
	EF(claimed),
	EF(pid),
	EF(flags),
	EF(opened_ns),
	EF(stale),
	{ offsetof(struct mmsync_entry, comm), 8 },
	{ offsetof(struct mmsync_entry, comm) + 8, 8 },
	EF(pin),
	EF(claimed),
};
#define NR_EFIELDS (sizeof(entry_fields) / sizeof(entry_fields[0]))

static const uint64_t interesting[] = {
	0,
	1,
	2,
	3,
	0xff,
	0x100,
	4095,
	4096,
	4097,
	8192,
	20480,
	65535,
	65536,
	65537,
	0x7fffffff,
	0x80000000ull,
	0xffffffffull,
	0x100000000ull,
	MMSYNC_MAX_GEN - 1,
	MMSYNC_MAX_GEN,
	MMSYNC_MAX_GEN + 1,
	MMSYNC_MAX_CAP - 1,
	MMSYNC_MAX_CAP,
	MMSYNC_MAX_CAP + 1,
	INT64_MAX,
	UINT64_MAX,
	UINT64_MAX - 1,
	MMSYNC_MAGIC,
	MMSYNC_MAX_ENTRIES,
	MMSYNC_MAX_ENTRIES + 1,
	1ull << 61,
	1ull << 62,
	1ull << 63,
	MMSYNC__PIN_TRACED | 1,
	MMSYNC__PIN_BROKEN | 2,
};
#define NR_INTERESTING (sizeof(interesting) / sizeof(interesting[0]))

static uint64_t hdr_word(const struct fz_chan *c, size_t off, int w)
{
	return fz_get_word(c, FZ_STATE, off, w);
}

#define HDR(c, field)                                   \
	hdr_word(c, offsetof(struct mmsync_hdr, field), \
		 sizeof(((struct mmsync_hdr *)0)->field))

/* Values that mean something in this channel right now. */
static uint64_t semantic(const struct fz_chan *c, uint64_t v)
{
	uint64_t gen = HDR(c, hot.gen);
	uint32_t nr = (uint32_t)HDR(c, nr_entries);
	int f = (int)((v >> 8) % FZ_NFILES);
	struct stat st;

	switch (v % 16) {
	case 0:
		return gen;
	case 1:
		return gen - 1;
	case 2:
		return gen + 1;
	case 3:
		return gen - 2;
	case 4:
		return HDR(c, cap[0]);
	case 5:
		return HDR(c, cap[1]);
	case 6:
		return fz_file_size(c, FZ_DATA0);
	case 7:
		return fz_file_size(c, FZ_DATA1);
	case 8:
		return fz_file_size(c, FZ_TABLE);
	case 9:
		return mmsync_table_size(nr);
	case 10:
		return mmsync_table_size((uint32_t)((v >> 8) & 0x1ffff));
	case 11:
		return (uint64_t)getpid();
	case 12:
		if (!c->live)
			return FZ_MARK_DEV(f);
		return lstat(c->path[f], &st) == 0 ? (uint64_t)st.st_dev : 0;
	case 13:
		if (!c->live)
			return FZ_MARK_INO(f);
		return lstat(c->path[f], &st) == 0 ? (uint64_t)st.st_ino : 0;
	case 14:
		return HDR(c, hot.slot[0].size);
	default:
		return HDR(c, hot.slot[1].size);
	}
}

static uint64_t pick(const struct fz_chan *c, int mode, uint64_t v,
		     uint64_t cur)
{
	switch (mode & 7) {
	case 0:
		return v;
	case 1:
		return v & 0xff;
	case 2:
		return interesting[v % NR_INTERESTING];
	case 3:
		return cur + (uint64_t)(int64_t)(int8_t)v;
	case 4:
		return cur ^ (1ull << (v & 63));
	case 5:
		return semantic(c, v);
	case 6:
		return v >> (v & 63);
	default:
		return (uint64_t)(int64_t)(int16_t)v;
	}
}

static void set_field(struct fz_chan *c, int f, uint64_t off, int w, int mode,
		      uint64_t v)
{
	uint64_t cur = fz_get_word(c, f, off, w);

	fz_put_word(c, f, off, w, pick(c, mode, v, cur));
}

/* Which entry a record means: 0..23, or relative to nr_entries. */
static uint32_t entry_sel(const struct fz_chan *c, unsigned int sel)
{
	uint32_t nr = (uint32_t)HDR(c, nr_entries);

	sel &= 31;
	if (sel < 24)
		return sel;
	switch (sel) {
	case 24:
		return nr - 1;
	case 25:
		return nr;
	case 26:
		return nr - 2;
	case 27:
		return nr + 1;
	default:
		return (uint32_t)(fz_file_size(c, FZ_TABLE) -
				  MMSYNC_TABLE_HDR) /
			       MMSYNC_ENTRY_SIZE -
		       1;
	}
}

static void edit_table(struct fz_chan *c, const struct fz_rec *r)
{
	unsigned int k = r->a % (NR_EFIELDS + 2);
	uint64_t off;

	if (k == NR_EFIELDS) {
		off = offsetof(struct mmsync_table_hdr, claimed);
	} else if (k == NR_EFIELDS + 1) {
		off = offsetof(struct mmsync_table_hdr, waiters);
	} else {
		off = mmsync_entry_off(entry_sel(c, r->b >> 3)) +
		      entry_fields[k].off;
		set_field(c, FZ_TABLE, off, entry_fields[k].w, r->b, r->v);
		return;
	}
	set_field(c, FZ_TABLE, off, 8, r->b, r->v);
}

/* An offset in file @f of @size bytes, chosen by @b (and @v). */
static uint64_t offset_sel(uint16_t b, uint64_t v, uint64_t size)
{
	uint64_t off;

	switch (b >> 14) {
	case 0:
		off = b & 0x3fff;
		break;
	case 1:
		off = size - 1 - (b & 0x3fff);
		break;
	case 2:
		off = (uint64_t)(b & 0x3ff) * 4096 - 4 + ((b >> 10) & 7);
		break;
	default:
		off = v >> 40;
		break;
	}
	return size ? off % size : 0;
}

static void edit_poke(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a & 3;
	size_t n = 1 + ((r->a >> 2) & 7);
	uint64_t size = fz_file_size(c, f);

	if (size)
		fz_put_bytes(c, f, offset_sel(r->b, r->v, size), &r->v, n);
}

static void edit_fill(struct fz_chan *c, const struct fz_rec *r)
{
	static unsigned char buf[FZ_MAX_PAYLOAD];
	int f = FZ_DATA0 + (r->a & 1);
	uint64_t size = fz_file_size(c, f), off;
	size_t n = (size_t)(r->v & 0xffff), i;

	if (!size)
		return;
	off = offset_sel(r->b, r->v, size);
	if (n > size - off)
		n = (size_t)(size - off);
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)((r->v >> 16) + ((r->a & 2) ? i : 0));
	fz_put_bytes(c, f, off, buf, n);
}

static void resize(struct fz_chan *c, int f, uint64_t size)
{
	struct fz_img *m = &c->img[f];
	uint64_t old = m->size;
	int fd;

	if (size > FZ_MAX_FSIZE)
		size = FZ_MAX_FSIZE;
	if (!c->live) {
		/* Shrinking drops bytes: growing again gives zeros. */
		if (size < old && size < FZ_IMG_MAX)
			memset(m->buf + size, 0,
			       (old < FZ_IMG_MAX ? old : FZ_IMG_MAX) - size);
		m->size = size;
		return;
	}
	/* Live: only growth, nothing shrinks under a mapping. */
	fd = fz_open_live(c, f, O_RDWR);
	if (fd < 0)
		return;
	if (size > fz_file_size(c, f)) {
		if (f == FZ_TABLE)
			c->taint_table = true;
		else
			c->taint = true;
		if (ftruncate(fd, (off_t)size) < 0)
			fz_fail("grow %s: %s", c->path[f], strerror(errno));
	}
	close(fd);
}

static void edit_size(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a % FZ_NFILES;
	uint64_t cur = fz_file_size(c, f), size;
	uint32_t nr = (uint32_t)HDR(c, nr_entries);
	static const uint64_t odd[] = { 1,
					7,
					63,
					64,
					511,
					4095,
					4097,
					sizeof(struct mmsync_hdr),
					sizeof(struct mmsync_hdr) - 1,
					8191 };

	switch (r->b & 7) {
	case 0:
		size = fz_template_size(c->tmpl, f);
		break;
	case 1:
		size = 0;
		break;
	case 2:
		size = cur + (uint64_t)(int64_t)(int16_t)r->v;
		break;
	case 3:
		size = (r->v % 1025) * 4096;
		break;
	case 4:
		size = r->v % (FZ_MAX_FSIZE + 1ull);
		break;
	case 5:
		switch (r->v % 6) {
		case 0:
			size = mmsync_table_size(nr);
			break;
		case 1:
			size = mmsync_table_size(nr) - 64;
			break;
		case 2:
			size = HDR(c, cap[0]);
			break;
		case 3:
			size = HDR(c, cap[1]);
			break;
		case 4:
			size = HDR(c, cap[0]) - 1;
			break;
		default:
			size = HDR(c, cap[1]) - 1;
			break;
		}
		break;
	case 6:
		size = (r->b & 8) ? cur * 2 : cur / 2;
		break;
	default:
		size = odd[r->v % (sizeof(odd) / sizeof(odd[0]))];
		break;
	}
	resize(c, f, size);
}

static void edit_kind(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a % FZ_NFILES, kind = r->b % FZ_NKINDS, fd;

	if (!c->live) {
		c->img[f].kind = kind;
		return;
	}
	/* Replaced live: every handle keeps its old file. */
	c->taint = true;
	fd = fz_make_kind(c, f, kind);
	if (fd >= 0)
		close(fd);
}

static void edit_owner(struct fz_chan *c, const struct fz_rec *r)
{
	int f = r->a % FZ_NFILES, fd;
	bool other = false;
	mode_t mode = 0;

	switch (r->b & 3) {
	case 0:
		other = false;
		break;
	case 1:
		other = true;
		break;
	case 2:
		mode = (mode_t)(r->v & 0777);
		break;
	default:
		mode = (mode_t)(r->v & 07777);
		break;
	}
	if (!c->live) {
		if ((r->b & 3) < 2)
			c->img[f].other_owner = other;
		else
			c->img[f].mode = mode;
		return;
	}
	fd = fz_open_live(c, f, O_RDONLY);
	if (fd < 0)
		return;
	if ((r->b & 3) < 2) {
		if (fchown(fd, other ? 65534 : geteuid(), -1) < 0) {
			/* Not root: nothing changes. */
		}
	} else {
		fchmod(fd, mode);
	}
	close(fd);
}

/* An object id of the state := the id (marker) of file b. */
static void edit_set_id(struct fz_chan *c, const struct fz_rec *r)
{
	static const size_t dst[3] = { offsetof(struct mmsync_hdr, table_id),
				       offsetof(struct mmsync_hdr, data_id[0]),
				       offsetof(struct mmsync_hdr,
						data_id[1]) };
	size_t at = dst[r->a % 3];
	uint64_t d0, i0;

	if (r->b % 6 == 5) {
		/* The two data objects swapped. */
		d0 = HDR(c, data_id[0].dev);
		i0 = HDR(c, data_id[0].ino);
		fz_put_word(c, FZ_STATE,
			    offsetof(struct mmsync_hdr, data_id[0]), 8,
			    HDR(c, data_id[1].dev));
		fz_put_word(c, FZ_STATE,
			    offsetof(struct mmsync_hdr, data_id[0]) + 8, 8,
			    HDR(c, data_id[1].ino));
		fz_put_word(c, FZ_STATE,
			    offsetof(struct mmsync_hdr, data_id[1]), 8, d0);
		fz_put_word(c, FZ_STATE,
			    offsetof(struct mmsync_hdr, data_id[1]) + 8, 8, i0);
		return;
	}
	fz_put_word(c, FZ_STATE, at, 8, semantic(c, 12 | ((r->b % 6) << 8)));
	fz_put_word(c, FZ_STATE, at + 8, 8,
		    semantic(c, 13 | ((r->b % 6) << 8)));
}

/* Make slot i's checksum right for the bytes its file holds. */
static void edit_fixsum(struct fz_chan *c, const struct fz_rec *r)
{
	static unsigned char buf[FZ_IMG_MAX];
	int i = r->a & 1;
	uint64_t size = i ? HDR(c, hot.slot[1].size) : HDR(c, hot.slot[0].size);
	size_t off = offsetof(struct mmsync_hdr, hot.slot[0].checksum) +
		     (size_t)i * sizeof(struct mmsync__slot);

	if (size > FZ_IMG_MAX ||
	    fz_pread(c, FZ_DATA0 + i, buf, size, 0) != (ssize_t)size)
		return;
	fz_put_word(c, FZ_STATE, off, 8, XXH3_64bits(buf, size));
}

static void edit_lock_entry(struct fz_chan *c, const struct fz_rec *r)
{
	uint32_t nr = (uint32_t)HDR(c, nr_entries), i, from, to;

	if (r->a == 255) {
		from = 0;
		to = nr < 256 ? nr : 256;
	} else {
		from = entry_sel(c, r->a);
		to = from + 1;
	}
	for (i = from; i < to && i < 256; i++) {
		if (!c->live) {
			c->entry_locks[i / 64] |= 1ull << (i % 64);
			continue;
		}
		if (fz_lock_at(c, 0, FZ_TABLE, O_RDWR, F_WRLCK,
			       (off_t)mmsync_entry_off(i)) == 0)
			c->entry_locks[i / 64] |= 1ull << (i % 64);
	}
}

void fz_edit(struct fz_chan *c, const struct fz_rec *r)
{
	const struct field *sf;

	switch (r->op) {
	case OP_STATE_FIELD:
		sf = &state_fields[r->a % NR_SFIELDS];
		set_field(c, FZ_STATE, sf->off, sf->w, r->b, r->v);
		break;
	case OP_TABLE_FIELD:
		edit_table(c, r);
		break;
	case OP_POKE:
		edit_poke(c, r);
		break;
	case OP_SIZE:
		edit_size(c, r);
		break;
	case OP_KIND:
		edit_kind(c, r);
		break;
	case OP_OWNER:
		edit_owner(c, r);
		break;
	case OP_SET_ID:
		edit_set_id(c, r);
		break;
	case OP_FIXSUM:
		edit_fixsum(c, r);
		break;
	case OP_FILL:
		edit_fill(c, r);
		break;
	case OP_LOCK_ENTRY:
		edit_lock_entry(c, r);
		break;
	case OP_LOCK_WRITER:
		c->writer_locked = true;
		if (c->live)
			c->writer_locked =
				fz_lock_at(c, 1, FZ_LOCK, O_RDWR, F_WRLCK,
					   MMSYNC_WRITER_LOCK_OFF) == 0;
		break;
	case OP_RDLOCK_STATE:
		c->state_rdlocked = true;
		if (c->live)
			c->state_rdlocked =
				fz_lock_at(c, 2, FZ_STATE, O_RDONLY, F_RDLCK,
					   MMSYNC_WRITER_LOCK_OFF) == 0;
		break;
	}
}

bool fz_next(struct fz_in *in, struct fz_rec *r)
{
	uint8_t b[FZ_RECORD] = { 0 };
	size_t n;

	if (in->off >= in->n)
		return false;
	n = in->n - in->off < FZ_RECORD ? in->n - in->off : FZ_RECORD;
	memcpy(b, in->p + in->off, n);
	in->off += n;
	r->op = b[0];
	r->a = b[1];
	r->b = (uint16_t)(b[2] | b[3] << 8);
	memcpy(&r->v, b + 4, 8); /* little-endian machines only */
	return true;
}
