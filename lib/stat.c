// SPDX-License-Identifier: MIT
/*
 * stat.c - counters and the reader table, read from outside the channel.
 *
 * Everything here works on read-only descriptors and copies read with
 * pread(): an observer takes no reader entry, changes nothing, needs only
 * read access, and no file truncated under it can fault it. Values of the
 * reader table come from memory that any reader can scribble on, so they
 * are reported, never trusted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "backing.h"

/*
 * The id the USDT probes pass for a channel: the state file's inode and
 * device, which the writer and every reader agree on.
 */
uint64_t mmsync_chan_id(int state_fd)
{
	struct stat st;

	if (fstat(state_fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino ^ ((uint64_t)st.st_dev << 32);
}

struct ro_chan {
	int fd; /* NAME_state, read-only */
	int tfd; /* NAME_readers, read-only; -1 if we may not read it */
	struct mmsync_hdr hdr; /* a copy: pread, so no mapping can fault */
	unsigned char *table; /* a copy of the reader table, or NULL */
	uint32_t nr; /* entries in the copy */
};

static int open_part(const char *prefix, const char *suffix)
{
	char *path = mmsync_file(prefix, suffix);
	int fd;

	if (!path)
		return -ENOMEM;
	/* O_NONBLOCK: a planted FIFO must not hang us. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	free(path);
	return fd < 0 ? -errno : fd;
}

/* Copy the reader table, as much of it as the file holds. */
static void read_table(struct ro_chan *c)
{
	uint64_t size = READ_SHARED(c->hdr.table_size);
	ssize_t n;

	if (c->tfd < 0 || mmsync_check_obj(c->tfd, &c->hdr.table_id, 0) != 0)
		return;
	c->table = calloc(1, size);
	if (!c->table)
		return;
	n = pread(c->tfd, c->table, size, 0);
	if (n < (ssize_t)MMSYNC_TABLE_HDR) {
		free(c->table);
		c->table = NULL;
		return;
	}
	/* A table shrunk under us: only the entries it still holds. */
	c->nr = (uint32_t)(((uint64_t)n - MMSYNC_TABLE_HDR) /
			   MMSYNC_ENTRY_SIZE);
	if (c->nr > c->hdr.nr_entries)
		c->nr = c->hdr.nr_entries;
}

/*
 * Copies of the state and the table, read with pread: an observer takes
 * no entry, changes nothing, needs only read access and cannot be hurt by
 * a file truncated under it. Channels in a directory only: a memfd
 * channel has no file to look at.
 */
static int ro_open(const char *name, struct ro_chan *c)
{
	char *prefix;
	int err;

	memset(c, 0, sizeof(*c));
	c->fd = c->tfd = -1;
	err = mmsync_prefix(name, &prefix);
	if (err)
		return err;
	c->fd = open_part(prefix, "state");
	c->tfd = open_part(prefix, "readers");
	free(prefix);
	if (c->fd < 0) {
		err = c->fd;
		goto fail;
	}
	err = -EBADMSG;
	if (pread(c->fd, &c->hdr, sizeof(c->hdr), 0) != sizeof(c->hdr))
		goto fail;
	err = mmsync_state_check(&c->hdr, MMSYNC_STATE_SIZE);
	if (err)
		goto fail;
	read_table(c);
	return 0;
fail:
	if (c->fd >= 0)
		close(c->fd);
	if (c->tfd >= 0)
		close(c->tfd);
	c->fd = c->tfd = -1;
	return err;
}

static void ro_close(struct ro_chan *c)
{
	free(c->table);
	if (c->fd >= 0)
		close(c->fd);
	if (c->tfd >= 0)
		close(c->tfd);
}

/* Fill @ri from entry @i; false if the entry is free. */
static bool entry_info(const struct ro_chan *c, uint32_t i, uint64_t gen,
		       uint64_t now, struct mmsync_reader_info *ri)
{
	const struct mmsync_entry *e = mmsync_entry_at(c->table, i);
	uint64_t pin = e->pin, opened;
	int alive;

	memset(ri, 0, sizeof(*ri));
	ri->sz = sizeof(*ri);
	ri->index = i;
	ri->pid = e->pid;
	alive = mmsync_write_locked(c->tfd, (off_t)mmsync_entry_off(i));
	if (ri->pid == 0 && pin == 0 && !e->claimed && alive == 0)
		return false;
	ri->alive = alive;
	memcpy(ri->comm, e->comm, sizeof(ri->comm));
	ri->comm[sizeof(ri->comm) - 1] = '\0';
	ri->pinned_gen = pin < MMSYNC_MAX_GEN ? pin : 0;
	/* Its slot holds another generation now: the writer moved on. */
	ri->evicted = ri->pinned_gen &&
		      c->hdr.hot.slot[ri->pinned_gen & 1].gen != ri->pinned_gen;
	if (ri->pinned_gen && ri->pinned_gen <= gen)
		ri->lag = gen - ri->pinned_gen;
	opened = e->opened_ns;
	ri->age_ns = opened && opened <= now ? now - opened : 0;
	ri->evictions = e->stale;
	ri->flags = e->flags;
	ri->waiting = e->wait != 0;
	return true;
}

int mmsync_foreach_reader(const char *name, mmsync_reader_fn fn, void *arg)
{
	struct mmsync_reader_info ri;
	uint64_t now;
	struct ro_chan c;
	uint32_t i;
	int err, count = 0, ret;

	if (!fn)
		return -EINVAL;
	err = ro_open(name, &c);
	if (err)
		return err;
	now = mmsync_now_ns();
	for (i = 0; c.table && i < c.nr; i++) {
		if (!entry_info(&c, i, c.hdr.hot.gen, now, &ri))
			continue;
		count++;
		ret = fn(&ri, arg);
		if (ret < 0)
			count = ret;
		if (ret)
			break;
	}
	ro_close(&c);
	return count;
}

int mmsync_stat(const char *name, struct mmsync_stats *out)
{
	const struct mmsync_stats_area *a;
	struct mmsync_reader_info ri;
	struct mmsync_stats st;
	uint64_t now, pub;
	struct ro_chan c;
	uint32_t i;
	size_t sz;
	int err, k;

	if (!out || out->sz < sizeof(size_t))
		return -EINVAL;
	sz = out->sz;
	err = ro_open(name, &c);
	if (err)
		return err;
	memset(&st, 0, sizeof(st));
	st.chan_id = mmsync_chan_id(c.fd);
	st.gen = c.hdr.hot.gen;
	now = mmsync_now_ns();
	pub = c.hdr.pub_ns;
	st.pub_age_ns = st.gen && pub && pub <= now ? now - pub : 0;
	st.created_ns = c.hdr.created_ns;
	a = &c.hdr.stats;
	st.publishes = a->publishes;
	st.grace_waits = a->grace_waits;
	st.evictions = a->evictions;
	st.reclaims = a->reclaims;
	st.refusals = a->refusals;
	st.waited_ns = a->waited_ns;
	st.writer_opens = a->writer_opens;
	st.notifies = a->notifies;
	for (k = 0; k < 2; k++) {
		st.slot_gen[k] = c.hdr.hot.slot[k].gen;
		st.slot_size[k] = c.hdr.hot.slot[k].size;
		st.slot_cap[k] = c.hdr.cap[k];
	}
	st.writer_pid = c.hdr.writer_pid;
	st.writer_alive =
		mmsync_write_locked(c.fd, MMSYNC_WRITER_LOCK_OFF) == 1;
	st.fence_mode = c.hdr.fence_mode;
	st.max_readers = c.hdr.nr_entries;
	for (i = 0; c.table && i < c.nr; i++) {
		if (!entry_info(&c, i, st.gen, now, &ri))
			continue;
		if (ri.alive == 1) {
			st.readers++;
			if (ri.waiting)
				st.waiters++;
			if (ri.pinned_gen && !ri.evicted) {
				st.pinned++;
				if (ri.lag > st.max_lag)
					st.max_lag = ri.lag;
			}
		} else if (ri.alive == 0 && ri.pinned_gen && !ri.evicted) {
			st.dead++;
		}
	}
	ro_close(&c);
	st.sz = sizeof(st);
	memcpy(out, &st, sz < sizeof(st) ? sz : sizeof(st));
	out->sz = sz;
	return 0;
}
