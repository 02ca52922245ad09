// SPDX-License-Identifier: MIT
/*
 * stat.c - counters and the reader table, read from outside the channel.
 *
 * Everything here works on a read-only descriptor and a PROT_READ mapping
 * of the state file: an observer takes no reader entry, changes nothing
 * and needs only read access. Values come from memory that any reader can
 * scribble on, so they are reported, never trusted.
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
	int fd;
	const struct mmsync_hdr *hdr;
	size_t len;
};

/*
 * Same checks as mmsync_map_state(), on a read-only mapping. Channels in a
 * directory only: a memfd channel has no file to look at.
 */
static int ro_open(const char *name, struct ro_chan *c)
{
	char *prefix, *path;
	struct stat st;
	uint64_t page;
	bool huge;
	void *p;
	int err;

	c->fd = -1;
	c->hdr = NULL;
	err = mmsync_prefix(name, &prefix);
	if (err)
		return err;
	path = mmsync_file(prefix, "state");
	free(prefix);
	if (!path)
		return -ENOMEM;
	c->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	err = c->fd < 0 ? -errno : 0;
	free(path);
	if (err)
		return err;
	if (fstat(c->fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	err = -EBADMSG;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < MMSYNC_HDR_SIZE)
		goto fail;
	/* On hugetlbfs, whole huge pages or mmap() fails. */
	page = mmsync_fd_granule(c->fd, &huge);
	if (!huge)
		page = MMSYNC_HDR_SIZE;
	else if ((uint64_t)st.st_size % page)
		goto fail;
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, c->fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	err = mmsync_state_check(
		p, mmsync_claimed_size(p, (uint64_t)st.st_size, page, huge));
	munmap(p, page);
	if (err)
		goto fail;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, c->fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	c->hdr = p;
	c->len = (size_t)st.st_size;
	/* Re-check: the file could have been swapped between the two maps. */
	err = mmsync_state_check(
		c->hdr,
		mmsync_claimed_size(c->hdr, (uint64_t)st.st_size, page, huge));
	if (err)
		goto fail;
	return 0;
fail:
	if (c->hdr)
		munmap((void *)c->hdr, c->len);
	close(c->fd);
	c->fd = -1;
	c->hdr = NULL;
	return err;
}

static void ro_close(struct ro_chan *c)
{
	if (c->hdr)
		munmap((void *)c->hdr, c->len);
	if (c->fd >= 0)
		close(c->fd);
}

/*
 * 1 if some open file description holds a lock on byte @off, 0 if none,
 * -errno. F_RDLCK conflicts with the write locks that writers and readers
 * take, and F_OFD_GETLK on a read-only descriptor may ask for it.
 */
static int byte_held(int fd, off_t off)
{
	struct flock fl = {
		.l_type = F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = off,
		.l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static uint32_t table_bound(const struct ro_chan *c)
{
	uint64_t hw = READ_SHARED(c->hdr->hiwat);
	uint32_t n = READ_SHARED(c->hdr->nr_entries);
	/* Never past what we mapped: the header may change under us. */
	uint64_t fit = (c->len - MMSYNC_HDR_SIZE) / MMSYNC_ENTRY_SIZE;

	if (n > fit)
		n = (uint32_t)fit;
	return hw < n ? (uint32_t)hw : n;
}

/* Fill @ri from entry @i; false if the entry is free. */
static bool entry_info(const struct ro_chan *c, uint32_t i, uint64_t gen,
		       uint64_t now, struct mmsync_reader_info *ri)
{
	const struct mmsync_entry *e = mmsync_entry_at((void *)c->hdr, i);
	uint64_t pin, opened;
	int alive;

	/* No ordering needed: a racy snapshot of what the entry says. */
	pin = READ_SHARED(e->pin);
	memset(ri, 0, sizeof(*ri));
	ri->sz = sizeof(*ri);
	ri->index = i;
	ri->pid = READ_SHARED(e->pid);
	alive = byte_held(c->fd, (off_t)(MMSYNC_HDR_SIZE +
					 (uint64_t)i * MMSYNC_ENTRY_SIZE));
	if (ri->pid == 0 && pin == 0 && alive == 0)
		return false;
	ri->alive = alive;
	memcpy(ri->comm, (const char *)e->comm, sizeof(ri->comm));
	ri->comm[sizeof(ri->comm) - 1] = '\0';
	ri->evicted = (pin & MMSYNC__PIN_EVICTED) != 0;
	ri->pinned_gen = pin & ~MMSYNC__PIN_EVICTED;
	if (ri->pinned_gen && ri->pinned_gen <= gen)
		ri->lag = gen - ri->pinned_gen;
	opened = READ_SHARED(e->opened_ns);
	ri->age_ns = opened && opened <= now ? now - opened : 0;
	ri->evictions = READ_SHARED(e->evictions);
	ri->flags = READ_SHARED(e->flags);
	return true;
}

int mmsync_foreach_reader(const char *name, mmsync_reader_fn fn, void *arg)
{
	struct mmsync_reader_info ri;
	uint64_t gen, now;
	struct ro_chan c;
	uint32_t i, n;
	int err, count = 0;

	if (!fn)
		return -EINVAL;
	err = ro_open(name, &c);
	if (err)
		return err;
	/* Pairs with the writer's release store of gen (lag only). */
	gen = __atomic_load_n(&c.hdr->gen, __ATOMIC_ACQUIRE);
	now = mmsync_now_ns();
	n = table_bound(&c);
	for (i = 0; i < n; i++) {
		if (!entry_info(&c, i, gen, now, &ri))
			continue;
		count++;
		if (fn(&ri, arg))
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
	uint32_t i, n;
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
	/* Pairs with the writer's release store of gen. */
	st.gen = __atomic_load_n(&c.hdr->gen, __ATOMIC_ACQUIRE);
	now = mmsync_now_ns();
	pub = READ_SHARED(c.hdr->pub_ns);
	st.pub_age_ns = st.gen && pub && pub <= now ? now - pub : 0;
	st.created_ns = READ_SHARED(c.hdr->created_ns);
	a = &c.hdr->stats;
	st.publishes = READ_SHARED(a->publishes);
	st.grace_waits = READ_SHARED(a->grace_waits);
	st.evictions = READ_SHARED(a->evictions);
	st.reclaims = READ_SHARED(a->reclaims);
	st.refusals = READ_SHARED(a->refusals);
	st.waited_ns = READ_SHARED(a->waited_ns);
	st.writer_opens = READ_SHARED(a->writer_opens);
	for (k = 0; k < 2; k++) {
		st.slot_gen[k] = READ_SHARED(c.hdr->slot[k].gen);
		st.slot_size[k] = READ_SHARED(c.hdr->slot[k].size);
		st.slot_cap[k] = READ_SHARED(c.hdr->slot[k].cap);
	}
	st.writer_pid = READ_SHARED(c.hdr->writer_pid);
	st.writer_alive = byte_held(c.fd, MMSYNC_WRITER_LOCK_OFF) == 1;
	st.fence_mode = READ_SHARED(c.hdr->fence_mode);
	st.max_readers = READ_SHARED(c.hdr->nr_entries);
	n = table_bound(&c);
	for (i = 0; i < n; i++) {
		if (!entry_info(&c, i, st.gen, now, &ri))
			continue;
		if (ri.alive == 1) {
			st.readers++;
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
