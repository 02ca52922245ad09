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
	switch (MMSYNC_OPT(o, backing)) {
	case MMSYNC_BACKING_FILES:
		return &mmsync_backing_files;
	case MMSYNC_BACKING_MEMFD:
		return &mmsync_backing_memfd;
	default:
		return NULL;
	}
}

uint64_t mmsync_round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
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

void mmsync_init_hdr(struct mmsync_hdr *h, const struct mmsync_create *a)
{
	h->format = MMSYNC_FORMAT;
	h->hdr_size = MMSYNC_HDR_SIZE;
	h->entry_size = MMSYNC_ENTRY_SIZE;
	h->nr_entries = a->nr_entries;
	h->table_off = MMSYNC_HDR_SIZE;
	h->file_size = mmsync_state_size(a->nr_entries);
	h->fence_mode = a->fence_mode;
	h->created_ns = mmsync_realtime_ns();
	/* Nobody can see the object yet; the release is for good measure. */
	__atomic_store_n(&h->magic, MMSYNC_MAGIC, __ATOMIC_RELEASE);
}

/*
 * Make data object @i hold @cap bytes, with its space allocated now, so
 * that the copy that follows can never fault on a missing page (SIGBUS).
 * On hugetlbfs, fallocate() takes the huge pages from the pool and fails
 * with ENOSPC when it runs dry: report -ENOMEM and give back the pages
 * it took on the way, leaving the object as it was.
 */
static int reserve(struct mmsync_writer *w, int i, uint64_t cap)
{
	int fd = w->data_fd[i], err;
	struct stat st;

	if (fallocate(fd, 0, 0, (off_t)cap) == 0)
		return 0;
	err = -errno;
	if (!w->hugetlb) {
		/* A file system without fallocate: size it, as before. */
		if (err != -EOPNOTSUPP)
			return err;
		return ftruncate(fd, (off_t)cap) < 0 ? -errno : 0;
	}
	/*
	 * The pages fallocate() got before it failed lie past the end of the
	 * file; a truncate to the current size (not a shrink, so the seal
	 * allows it) frees them for the next try.
	 */
	if (fstat(fd, &st) == 0 && ftruncate(fd, st.st_size) < 0) {
		/* Then they stay until the next truncate or close. */
	}
	return err == -ENOSPC ? -ENOMEM : err;
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

	err = reserve(w, i, cap);
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
	w->map[i] = p;
	w->map_len[i] = cap;
	return 0;
}
