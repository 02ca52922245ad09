// SPDX-License-Identifier: MIT
/*
 * backing_memfd.c - a channel in anonymous memfds. Nothing of it has a
 * name in a file system but the socket that readers fetch the memfds
 * from (handoff.c), and with an abstract socket not even that.
 *
 *   state   a normal memfd, sealed F_SEAL_SHRINK | F_SEAL_GROW |
 *           F_SEAL_SEAL: readers hold it writable (their table entries
 *           live there), and none of them can resize it under the others.
 *   data    memfds (MFD_HUGETLB ones when asked), sealed F_SEAL_SHRINK |
 *           F_SEAL_SEAL: they grow, never shrink, so a reader's mapping
 *           can never lose its pages (SIGBUS). F_SEAL_SEAL keeps anyone
 *           from adding F_SEAL_WRITE, which would stop the writer.
 *
 * Modes apply to memfds too (fchmod): they decide who may reopen a
 * received fd through /proc/<pid>/fd/N with more access than it came with.
 *
 * The channel lives as long as its writer: the memfds have no name to
 * reopen them by, so a new writer of the same name makes a new channel,
 * with generations from 1. Readers of the old one keep reading its last
 * snapshot; mmsync_wait() tells them (-EPIPE) to reopen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008u /* Linux 6.3 */
#endif

#define STATE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define DATA_SEALS (F_SEAL_SHRINK | F_SEAL_SEAL)

/* MFD_HUGETLB flags for @page bytes, or 0 for normal pages. */
static unsigned int huge_flags(uint64_t page)
{
	unsigned int shift = 0;

	if (!page)
		return 0;
	while ((1ull << shift) < page)
		shift++;
	return MFD_HUGETLB | (shift << MFD_HUGE_SHIFT);
}

static int new_memfd(struct mmsync_writer *w, const char *what,
		     unsigned int flags)
{
	const char *base = strrchr(w->prefix, '/');
	char label[64];
	int fd;

	/* The label shows in /proc/<pid>/fd and maps, for the operator. */
	snprintf(label, sizeof(label), "mmsync:%s:%s", what,
		 base ? base + 1 : "");
	flags |= MFD_CLOEXEC | MFD_ALLOW_SEALING;
	fd = memfd_create(label, flags | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(label, flags); /* before Linux 6.3 */
	return fd < 0 ? -errno : fd;
}

/*
 * Restrict who may reopen @fd through /proc: exec bits never apply (and
 * MFD_NOEXEC_SEAL would refuse them).
 */
static int set_mode(int fd, mode_t mode)
{
	return fchmod(fd, mode & 0666) < 0 ? -errno : 0;
}

/* A new open file description of @fd, with @flags (O_RDONLY/O_RDWR). */
int mmsync_reopen_fd(int fd, int flags)
{
	char proc[48];
	int nfd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	nfd = open(proc, flags | O_CLOEXEC);
	if (nfd >= 0)
		return nfd;
	/* No /proc: nothing else gives a memfd a second file description. */
	return errno == ENOENT ? -ENOSYS : -errno;
}

static int memfd_writer_open(struct mmsync_writer *w, const char *name,
			     const struct mmsync_writer_opts *o,
			     const struct mmsync_create *a, bool *fresh)
{
	uint64_t size = mmsync_state_size(a->nr_entries);
	uint64_t page = MMSYNC_OPT(o, huge_page_size);
	struct mmsync_hdr *h;
	struct stat st;
	char *path;
	int fd, err;

	if (page) {
		err = mmsync_huge_pool_check(page);
		if (err)
			return err;
	}
	/* Readers look for NAME_state first: one would hide this channel. */
	path = mmsync_file(w->prefix, "state");
	if (!path)
		return -ENOMEM;
	err = lstat(path, &st) == 0 ? -EEXIST : 0;
	free(path);
	if (err)
		return err;
	err = mmsync_handoff_listen(w, name, o);
	if (err)
		return err;
	w->handoff->huge_page_size = page;

	fd = new_memfd(w, "state", 0);
	if (fd < 0)
		return fd;
	w->state_fd = fd;
	err = set_mode(fd, a->state_mode);
	if (err)
		return err;
	if (ftruncate(fd, (off_t)size) < 0)
		return -errno;
	h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return -errno;
	mmsync_init_hdr(h, a);
	munmap(h, size);
	err = mmsync_lock_byte(fd, MMSYNC_WRITER_LOCK_OFF);
	if (err)
		return err;
	if (fcntl(fd, F_ADD_SEALS, STATE_SEALS) < 0)
		return -errno;
	*fresh = true;
	return 0;
}

static int memfd_data_open(struct mmsync_writer *w, int i, bool fresh)
{
	struct mmsync_handoff *ho = w->handoff;
	char what[16];
	int fd, err;

	(void)fresh; /* memfds are always new */
	snprintf(what, sizeof(what), "data_%d", i);
	fd = new_memfd(w, what, huge_flags(ho->huge_page_size));
	if (fd < 0)
		return fd;
	w->data_fd[i] = fd;
	if (fcntl(fd, F_ADD_SEALS, DATA_SEALS) < 0)
		return -errno;
	/* Readers get a read-only file description, made before the chmod. */
	ho->ro_fd[i] = mmsync_reopen_fd(fd, O_RDONLY);
	if (ho->ro_fd[i] < 0) {
		err = ho->ro_fd[i];
		ho->ro_fd[i] = -1;
		return err;
	}
	return set_mode(fd, w->data_mode);
}

static void memfd_writer_close(struct mmsync_writer *w)
{
	mmsync_handoff_close(w);
}

const struct mmsync_backing_ops mmsync_backing_memfd = {
	.name = "memfd",
	.writer_open = memfd_writer_open,
	.data_open = memfd_data_open,
	.writer_close = memfd_writer_close,
};
