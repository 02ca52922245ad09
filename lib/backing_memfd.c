// SPDX-License-Identifier: MIT
/*
 * backing_memfd.c - a channel in anonymous memfds. Nothing of it has a
 * name in a file system but the socket that readers fetch the memfds
 * from (handoff.c), and with an abstract socket not even that.
 *
 *   state   sealed F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
 *           F_SEAL_SEAL once the writer has mapped it: from then on only
 *           the writer's own mapping can change it. Readers get a
 *           read-only description.
 *   readers the reader table, sealed F_SEAL_SHRINK | F_SEAL_GROW |
 *           F_SEAL_SEAL: every reader gets a read-write description of its
 *           own (its entry's OFD lock belongs to it), and none can resize
 *           the table under the others.
 *   data    memfds (MFD_HUGETLB ones when asked), sealed F_SEAL_SHRINK |
 *           F_SEAL_SEAL: they grow, never shrink, so a reader's mapping can
 *           never lose its pages (SIGBUS); readers get read-only
 *           descriptions.
 *
 * Modes (fchmod) decide who may reopen a received memfd through
 * /proc/<pid>/fd/N: state and data get no write bit at all, so nobody but
 * root reopens them writable; the table keeps its mode (the writer itself
 * reopens it read-write for each reader).
 *
 * The writer holds a write lock on byte 0 of the state while it lives;
 * no reader can take one (their descriptions are read-only), so a reader
 * that finds no such lock knows the channel has ended (mmsync_wait():
 * -EPIPE).
 *
 * The channel lives as long as its writer: the memfds have no name to
 * reopen them by, so a new writer of the same name makes a new channel,
 * with generations from 1. Readers of the old one keep reading its last
 * snapshot.
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
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010 /* Linux 5.1 */
#endif

#define STATE_SEALS \
	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
#define TABLE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define DATA_SEALS (F_SEAL_SHRINK | F_SEAL_SEAL)
/* What a reader insists on (F_SEAL_SEAL only matters to the writer). */
#define STATE_NEEDS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE)
#define TABLE_NEEDS (F_SEAL_SHRINK | F_SEAL_GROW)
#define DATA_NEEDS F_SEAL_SHRINK

/* What a reader receives, in this order. */
enum { FD_STATE, FD_TABLE, FD_DATA0, FD_DATA1, NR_FDS };

struct memfd_bk {
	struct mmsync_handoff *ho;
	int ro_state; /* read-only descriptions, handed to readers */
	int ro_data[2];
};

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

static int set_mode(int fd, mode_t mode)
{
	return fchmod(fd, mode) < 0 ? -errno : 0;
}

static int seal(int fd, int seals)
{
	return fcntl(fd, F_ADD_SEALS, seals) < 0 ? -errno : 0;
}

static int make_objects(struct mmsync_writer *w, struct memfd_bk *b,
			const struct mmsync_create *a)
{
	char what[16];
	int fd, err, i;

	fd = new_memfd(w, "readers", 0);
	if (fd < 0)
		return fd;
	w->table_fd = fd;
	err = mmsync_init_table(fd, a);
	if (!err)
		err = set_mode(fd, a->table_mode);
	if (!err)
		err = seal(fd, TABLE_SEALS);
	for (i = 0; i < 2 && !err; i++) {
		snprintf(what, sizeof(what), "data_%d", i);
		fd = new_memfd(w, what, huge_flags(a->huge_page_size));
		if (fd < 0)
			return fd;
		w->data_fd[i] = fd;
		err = seal(fd, DATA_SEALS);
		if (err)
			return err;
		/* Readers get a read-only description, made before the chmod. */
		b->ro_data[i] = mmsync_reopen_fd(fd, O_RDONLY);
		if (b->ro_data[i] < 0) {
			err = b->ro_data[i];
			b->ro_data[i] = -1;
			return err;
		}
		err = set_mode(fd, a->data_mode & 0444);
	}
	if (err)
		return err;
	fd = new_memfd(w, "state", 0);
	if (fd < 0)
		return fd;
	w->state_fd = fd;
	err = mmsync_init_state(fd, a, w->table_fd, w->data_fd);
	if (!err)
		err = mmsync_lock_byte(fd, MMSYNC_WRITER_LOCK_OFF);
	if (err)
		return err;
	w->advert = true;
	b->ro_state = mmsync_reopen_fd(fd, O_RDONLY);
	if (b->ro_state < 0) {
		err = b->ro_state;
		b->ro_state = -1;
		return err;
	}
	return set_mode(fd, a->state_mode & 0444);
}

static int memfd_writer_open(struct mmsync_writer *w, const char *name,
			     const struct mmsync_writer_opts *o,
			     const struct mmsync_create *a, bool *fresh)
{
	struct memfd_bk *b;
	struct stat st;
	char *path;
	int err;

	if (name[0] != '@' || strchr(name, '/')) {
		/* A path socket NAME_sock: its name must fit. */
		err = mmsync_names_fit(w->prefix);
		if (err)
			return err;
	}
	if (a->huge_page_size) {
		err = mmsync_huge_pool_check(a->huge_page_size);
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
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->ro_state = b->ro_data[0] = b->ro_data[1] = -1;
	w->bk = b;
	w->sealed = true;
	err = mmsync_handoff_listen(&b->ho, name, w->prefix, o);
	if (err)
		return err;
	*fresh = true;
	return make_objects(w, b, a);
}

/*
 * After the writer mapped the state: no other writable mapping or write
 * of it, ever. The writer's own mapping keeps working.
 */
static int memfd_writer_ready(struct mmsync_writer *w)
{
	return seal(w->state_fd, STATE_SEALS);
}

static void memfd_writer_close(struct mmsync_writer *w)
{
	struct flock fl = { .l_type = F_UNLCK,
			    .l_whence = SEEK_SET,
			    .l_start = MMSYNC_WRITER_LOCK_OFF,
			    .l_len = 1 };
	struct memfd_bk *b = w->bk;
	int i;

	if (!b)
		return;
	/*
	 * The channel ends: drop the "alive" lock, then touch the state, so
	 * that waiting readers wake and find it gone (-EPIPE). A memfd's
	 * close makes no inotify event; a writer that dies without closing
	 * is found by the waiters' once-a-second look.
	 */
	if (w->opened && !w->forked && w->state_fd >= 0 && b->ro_state >= 0) {
		fcntl(w->state_fd, F_OFD_SETLK, &fl);
		futimens(b->ro_state, NULL);
	}
	mmsync_handoff_close(b->ho);
	if (b->ro_state >= 0)
		close(b->ro_state);
	for (i = 0; i < 2; i++)
		if (b->ro_data[i] >= 0)
			close(b->ro_data[i]);
	free(b);
	w->bk = NULL;
}

static void memfd_writer_forked(struct mmsync_writer *w)
{
	struct memfd_bk *b = w->bk;

	if (b)
		mmsync_handoff_forked(b->ho);
	/* Our copy of the state's description carries the "alive" lock. */
	if (w->state_fd >= 0)
		close(w->state_fd);
	w->state_fd = -1;
}

/* Descriptors for one reader; handoff.c closes them once sent. */
static int fill(void *ctx, int *fds, int max)
{
	struct mmsync_writer *w = ctx;
	struct memfd_bk *b = w->bk;
	int i, err = 0;

	if (max < NR_FDS)
		return -EINVAL;
	for (i = 0; i < NR_FDS; i++)
		fds[i] = -1;
	fds[FD_STATE] = dup(b->ro_state);
	/* An open file description of its own, for its entry lock. */
	fds[FD_TABLE] = mmsync_reopen_fd(w->table_fd, O_RDWR);
	fds[FD_DATA0] = dup(b->ro_data[0]);
	fds[FD_DATA1] = dup(b->ro_data[1]);
	for (i = 0; i < NR_FDS; i++)
		if (fds[i] < 0 && !err)
			err = i == FD_TABLE ? fds[i] : -errno;
	if (err) {
		for (i = 0; i < NR_FDS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return err;
	}
	return NR_FDS;
}

static int memfd_serve(struct mmsync_writer *w, int64_t timeout_ns)
{
	struct memfd_bk *b = w->bk;

	return mmsync_handoff_serve(b->ho, timeout_ns, fill, w);
}

static int memfd_handoff_fd(const struct mmsync_writer *w)
{
	const struct memfd_bk *b = w->bk;

	return mmsync_handoff_lfd(b->ho);
}

/* Same access mode and seals as make_objects() gives them, or no deal. */
static int check_fd(int fd, int accmode, int seals)
{
	struct stat st;
	int fl, have;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) != accmode)
		return -EBADMSG;
	/* Unsealed, a file could shrink under our mapping: SIGBUS. */
	have = fcntl(fd, F_GET_SEALS);
	if (have < 0 || (have & seals) != seals)
		return -EBADMSG;
	return 0;
}

static int memfd_reader_open(struct mmsync_reader *r, const char *name,
			     const struct mmsync_reader_opts *o)
{
	int fds[NR_FDS], err, i;

	err = mmsync_handoff_receive(name, r->prefix,
				     MMSYNC_OPTS_GET(o, handoff_timeout_ns, 0),
				     fds, NR_FDS);
	if (err)
		return err;
	err = check_fd(fds[FD_STATE], O_RDONLY, STATE_NEEDS);
	if (!err)
		err = check_fd(fds[FD_TABLE], O_RDWR, TABLE_NEEDS);
	for (i = FD_DATA0; i <= FD_DATA1 && !err; i++)
		err = check_fd(fds[i], O_RDONLY, DATA_NEEDS);
	if (err) {
		for (i = 0; i < NR_FDS; i++)
			close(fds[i]);
		return err;
	}
	r->state_fd = fds[FD_STATE];
	r->table_fd = fds[FD_TABLE];
	r->data_fd[0] = fds[FD_DATA0];
	r->data_fd[1] = fds[FD_DATA1];
	return 0;
}

/* Gone for good once nobody holds the writer's lock on the state. */
static int memfd_writer_gone(const struct mmsync_reader *r)
{
	return mmsync_write_locked(r->state_fd, MMSYNC_WRITER_LOCK_OFF) == 0;
}

const struct mmsync_backing_ops mmsync_backing_memfd = {
	.name = "memfd",
	.writer_open = memfd_writer_open,
	.writer_ready = memfd_writer_ready,
	.writer_close = memfd_writer_close,
	.writer_forked = memfd_writer_forked,
	.serve = memfd_serve,
	.handoff_fd = memfd_handoff_fd,
	.reader_open = memfd_reader_open,
	.writer_gone = memfd_writer_gone,
};
