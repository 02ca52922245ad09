// SPDX-License-Identifier: MIT
/*
 * backing.c - what every backing shares: picking one, page granules and
 * hugetlb pools, the header of a new state object, and growing a slot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing.h"

const struct mmsync_backing_ops *
mmsync_backing_pick(const struct mmsync_writer_opts *o)
{
	switch (MMSYNC_OPTS_GET(o, backing, MMSYNC_BACKING_FILES)) {
	case MMSYNC_BACKING_FILES:
		return &mmsync_backing_files;
	case MMSYNC_BACKING_MEMFD:
		return &mmsync_backing_memfd;
	default:
		return NULL;
	}
}

/*
 * Readers do not choose a backing: NAME_state if it exists, else a memfd
 * channel's socket. Sets r->ops to the one that answered.
 */
int mmsync_backing_reader_open(struct mmsync_reader *r, const char *name,
			       const struct mmsync_reader_opts *o)
{
	static const struct mmsync_backing_ops *const order[] = {
		&mmsync_backing_files,
		&mmsync_backing_memfd,
	};
	unsigned int i;
	int err = -ENOENT;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		err = order[i]->reader_open(r, name, o);
		if (err != -ENOENT) {
			r->ops = order[i];
			break;
		}
	}
	return err;
}

/*
 * The unit in which @fd's file is allocated and may be mapped: the huge
 * page size on hugetlbfs (files in a hugetlbfs mount and MFD_HUGETLB
 * memfds alike), else the base page. Asks the kernel, never the channel.
 */
uint64_t mmsync_fd_granule(int fd, bool *hugetlb)
{
	struct statfs sf;

	*hugetlb = false;
	if (fstatfs(fd, &sf) < 0 || (unsigned long)sf.f_type != HUGETLBFS_MAGIC)
		return MMSYNC_SMALL_PAGE;
	/* hugetlbfs reports its page size as the block size. */
	if (sf.f_bsize < (long)MMSYNC_SMALL_PAGE ||
	    (sf.f_bsize & (sf.f_bsize - 1)))
		return MMSYNC_SMALL_PAGE;
	*hugetlb = true;
	return (uint64_t)sf.f_bsize;
}

/* A number from /sys/kernel/mm/hugepages/hugepages-<page>kB/<what>. */
static long pool_read(uint64_t page, const char *what)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
		 (unsigned long long)(page >> 10), what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Can the system hand out huge pages of @page_size bytes at all? -EINVAL:
 * not a power of two; -EOPNOTSUPP: the kernel has no pool of that size;
 * -ENOBUFS: the pool is empty and may not overcommit (nobody reserved any
 * pages: vm.nr_hugepages or hugepages-<size>kB/nr_hugepages is 0). Pages
 * that run out later make publish return -ENOMEM instead.
 */
int mmsync_huge_pool_check(uint64_t page_size)
{
	long nr, over;

	if (page_size < MMSYNC_SMALL_PAGE || (page_size & (page_size - 1)))
		return -EINVAL;
	nr = pool_read(page_size, "nr_hugepages");
	if (nr == -ENOENT)
		return -EOPNOTSUPP;
	if (nr < 0)
		return 0; /* no sysfs: let the allocation tell */
	over = pool_read(page_size, "nr_overcommit_hugepages");
	if (nr == 0 && over <= 0)
		return -ENOBUFS;
	return 0;
}

/*
 * Reserve @len bytes of @fd's file system space now (the file grows to
 * @len if it is shorter), so that no later touch of a mapping can fault on
 * a missing page: a full tmpfs gives -ENOSPC here, never SIGBUS later. On
 * hugetlbfs fallocate() takes huge pages from the pool and fails with
 * ENOSPC when it runs dry: that is -ENOMEM, and the pages it took on the
 * way are given back (a truncate to the current size, not a shrink, so
 * seals allow it).
 */
int mmsync_reserve_space(int fd, uint64_t len, bool hugetlb)
{
	struct stat st;
	int err;

	if (fallocate(fd, 0, 0, (off_t)len) == 0)
		return 0;
	err = -errno;
	if (!hugetlb) {
		/* A file system without fallocate: size it, as before. */
		if (err != -EOPNOTSUPP)
			return err;
		if (fstat(fd, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size >= len)
			return 0;
		return ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
	}
	if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size) < 0) {
		/* Then they stay until the next truncate or close. */
	}
	return err == -ENOSPC ? -ENOMEM : err;
}

/* Space for an object of @size bytes on @fd's file system: whole pages. */
static int reserve_object(int fd, uint64_t size)
{
	uint64_t page;
	bool huge;
	int err;

	page = mmsync_fd_granule(fd, &huge);
	if (huge) {
		err = mmsync_huge_pool_check(page);
		if (err)
			return err;
	}
	return mmsync_reserve_space(fd, mmsync_round_up(size, page), huge);
}

static int obj_id(int fd, struct mmsync_obj_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	return 0;
}

/* A new reader table: zeros (no entry claimed), every page reserved. */
int mmsync_init_table(int fd, const struct mmsync_create *a)
{
	return reserve_object(fd, mmsync_table_size(a->nr_entries));
}

/*
 * A new state object on @fd, naming the table and data objects it belongs
 * to (readers refuse look-alikes). Nobody can see it yet: it is linked or
 * handed out only after this. Written through a mapping: hugetlbfs has
 * no write().
 */
int mmsync_init_state(int fd, const struct mmsync_create *a, int table_fd,
		      const int data_fd[2])
{
	struct mmsync_hdr *h;
	uint64_t page;
	bool huge;
	int err, i;

	err = reserve_object(fd, MMSYNC_STATE_SIZE);
	if (err)
		return err;
	page = mmsync_fd_granule(fd, &huge);
	h = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return -errno;
	h->format = MMSYNC_FORMAT;
	h->state_size = MMSYNC_STATE_SIZE;
	h->entry_size = MMSYNC_ENTRY_SIZE;
	h->nr_entries = a->nr_entries;
	h->table_size = mmsync_table_size(a->nr_entries);
	h->fence_mode = a->fence_mode;
	h->created_ns = mmsync_realtime_ns();
	err = obj_id(table_fd, &h->table_id);
	for (i = 0; i < 2 && !err; i++)
		err = obj_id(data_fd[i], &h->data_id[i]);
	if (!err)
		h->magic = MMSYNC_MAGIC;
	munmap(h, page);
	return err;
}

/*
 * Grow slot @i to @cap bytes (a multiple of w->page) and map it. Readers
 * remap lazily when they meet a size beyond their mapping.
 */
int mmsync_slot_grow(struct mmsync_writer *w, int i, uint64_t cap)
{
	uint64_t old = w->map_len[i];
	void *p;
	int err;

	err = mmsync_reserve_space(w->data_fd[i], cap, w->hugetlb);
	if (err)
		return err;
	if (w->map[i] && !w->hugetlb) {
		p = mremap(w->map[i], old, cap, MREMAP_MAYMOVE);
	} else {
		/* hugetlb mappings cannot grow in place: map anew. */
		p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED,
			 w->data_fd[i], 0);
		if (p != MAP_FAILED && w->map[i])
			munmap(w->map[i], old);
	}
	if (p == MAP_FAILED)
		return -errno;
	if (w->map[i])
		mmsync_guard_del(w, w->map[i]);
	w->map[i] = p;
	w->map_len[i] = cap;
	/* Best effort: without it, a truncated file is SIGBUS in the copy. */
	mmsync_guard_add(w, MMSYNC_GUARD_WRITER_DATA, i, p, cap, w->data_fd[i]);
	return 0;
}
