// SPDX-License-Identifier: MIT
/*
 * handoff.c - hand a memfd channel to its readers over a Unix socket.
 *
 * Where: channel "@x" (no '/') listens on the abstract socket "x"; any
 * other name on the path socket NAME_sock, next to where NAME_state would
 * be (a reader that finds no NAME_state looks for it).
 *
 * Who: the writer checks each peer's SO_PEERCRED (and SO_PEERGROUPS)
 * against its allow-lists; with none, only its own effective uid passes.
 * Credentials are the kernel's, taken at connect(), so they cannot be
 * forged; a path socket adds the file mode (table_mode) on top.
 *
 * What: one SOCK_SEQPACKET message per connection, then the writer closes
 * it. The message is a struct handoff_msg; when status is 0 it carries the
 * descriptors the backing gives for this peer (SCM_RIGHTS; backing_memfd.c
 * says which). A refused peer gets status -EACCES and no descriptors. This
 * file is only the transport: it knows nothing of what it carries.
 *
 * When: in mmsync_writer_serve(), called from the writer's own loop when
 * mmsync_writer_handoff_fd() polls readable. There is no thread: a reader
 * waits in mmsync_reader_open() (up to its handoff timeout) until the
 * writer serves.
 *
 * Path sockets in a shared directory: a writer binds, probes and unlinks
 * a stale socket under flock() of the directory, so that two writers
 * racing for a dead channel's name never unlink each other's socket;
 * readers open NAME_sock with O_PATH | O_NOFOLLOW and connect through
 * /proc/self/fd, so a planted symlink is refused, never followed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13 */
#endif

#define HANDOFF_MAGIC 0x4f48434e59534d4dull /* "MMSYNCHO" (LE) */
#define HANDOFF_VERSION 2u /* format 2: state, table, data, data */
#define HANDOFF_MAX_FDS 8 /* most descriptors a message may carry */
/* Connections taken per mmsync_writer_serve() call, to bound its time. */
#define SERVE_BATCH 256
#define DEFAULT_TIMEOUT_NS 10000000000ll

struct handoff_msg {
	uint64_t magic; /* HANDOFF_MAGIC */
	uint32_t version; /* HANDOFF_VERSION */
	int32_t status; /* 0: descriptors follow; -errno: refused, failed */
	uint32_t nr_fds; /* descriptors that follow when status is 0 */
	uint32_t flags; /* 0 */
};

struct mmsync_handoff {
	int lfd; /* listening socket, SOCK_SEQPACKET, non-blocking */
	int dir_fd; /* path socket: its directory; -1 for an abstract one */
	char *sock_name; /* path socket: its name in dir_fd */
	dev_t sock_dev; /* path socket: the inode we bound, so that */
	ino_t sock_ino; /* close unlinks ours and nobody else's */
	uid_t euid; /* the writer's, allowed when both lists are empty */
	uint32_t nr_uids;
	uint32_t nr_gids;
	uid_t *uids;
	gid_t *gids;
};

struct addr {
	struct sockaddr_un sa; /* abstract: the address */
	socklen_t len;
	bool abstract;
	char *path; /* path socket: <prefix>_sock */
	char *dir; /* its directory */
	const char *base; /* its name in dir (points into path) */
};

static void addr_free(struct addr *a)
{
	free(a->path);
	free(a->dir);
}

static int handoff_addr(const char *name, const char *prefix, struct addr *a)
{
	const char *slash;
	size_t n;

	memset(a, 0, sizeof(*a));
	a->sa.sun_family = AF_UNIX;
	if (name[0] == '@' && !strchr(name, '/')) {
		n = strlen(name + 1);
		if (n == 0)
			return -EINVAL;
		if (n > sizeof(a->sa.sun_path) - 1)
			return -ENAMETOOLONG;
		memcpy(a->sa.sun_path + 1, name + 1, n);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				     1 + n);
		a->abstract = true;
		return 0;
	}
	a->path = mmsync_file(prefix, "sock");
	if (!a->path)
		return -ENOMEM;
	slash = strrchr(a->path, '/');
	a->base = slash ? slash + 1 : a->path;
	a->dir = mmsync_dirname(a->path);
	return a->dir ? 0 : -ENOMEM;
}

/* A sockaddr that reaches the socket file open as O_PATH @pfd. */
static int proc_addr(struct sockaddr_un *sa, int dir_fd, const char *base)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (base)
		n = snprintf(sa->sun_path, sizeof(sa->sun_path),
			     "/proc/self/fd/%d/%s", dir_fd, base);
	else
		n = snprintf(sa->sun_path, sizeof(sa->sun_path),
			     "/proc/self/fd/%d", dir_fd);
	return n < (int)sizeof(sa->sun_path) ? 0 : -ENAMETOOLONG;
}

/* ---- Writer -------------------------------------------------------- */

/*
 * 1 if a live writer listens on @base in @dir_fd; 0 if nothing does any
 * more (a stale socket is unlinked); -EEXIST if @base is not a socket
 * (not ours to remove); -errno. Called with the directory locked.
 */
static int probe(int dir_fd, const char *base)
{
	struct stat st, st2;
	struct sockaddr_un sa;
	int pfd, s, err;

	pfd = openat(dir_fd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = fstat(pfd, &st) < 0 ? -errno : 0;
	if (!err && !S_ISSOCK(st.st_mode))
		err = -EEXIST;
	if (!err)
		err = proc_addr(&sa, pfd, NULL);
	if (err)
		goto out;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		err = -errno;
		goto out;
	}
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	    errno == EAGAIN)
		err = 1; /* someone accepts (or will: backlog full) */
	else if (errno != ECONNREFUSED)
		err = -errno;
	close(s);
	/* Stale: unlink it, if the name still means the inode we tried. */
	if (err == 0 && fstatat(dir_fd, base, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st2.st_dev == st.st_dev && st2.st_ino == st.st_ino &&
	    unlinkat(dir_fd, base, 0) < 0 && errno != ENOENT)
		err = -errno;
out:
	close(pfd);
	return err;
}

/* Record the socket we bound and give it @mode. */
static int own_socket(struct mmsync_handoff *h, const char *base, mode_t mode)
{
	char proc[48];
	struct stat st;
	int pfd, err = 0;

	pfd = openat(h->dir_fd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0)
		err = -errno;
	else if (!S_ISSOCK(st.st_mode))
		err = -EEXIST;
	if (!err) {
		h->sock_name = strdup(base);
		h->sock_dev = st.st_dev;
		h->sock_ino = st.st_ino;
		if (!h->sock_name)
			err = -ENOMEM;
	}
	/* chmod through the O_PATH fd: the name could be swapped meanwhile. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (!err && chmod(proc, mode & 0777) < 0)
		err = -errno;
	close(pfd);
	return err;
}

static int listen_path(struct mmsync_handoff *h, const struct addr *a,
		       mode_t mode)
{
	struct sockaddr_un sa;
	int err, live;

	h->dir_fd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->dir_fd < 0)
		return -errno;
	/* Bind through the directory fd: no limit of 108 bytes on the path. */
	err = proc_addr(&sa, h->dir_fd, a->base);
	if (err)
		return err;
	if (flock(h->dir_fd, LOCK_EX) < 0)
		return -errno;
	err = bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	if (err == -EADDRINUSE) {
		/* Someone's socket: live (-EBUSY), or stale and now gone. */
		live = probe(h->dir_fd, a->base);
		err = live > 0 ? -EBUSY : live;
		if (!err &&
		    bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			err = errno == EADDRINUSE ? -EBUSY : -errno;
	}
	if (!err)
		err = own_socket(h, a->base, mode);
	if (!err && listen(h->lfd, SOMAXCONN) < 0)
		err = -errno;
	flock(h->dir_fd, LOCK_UN);
	return err;
}

static int copy_list(void **dst, const void *src, uint32_t n, size_t size)
{
	if (!n)
		return 0;
	*dst = malloc(n * size);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, n * size);
	return 0;
}

int mmsync_handoff_listen(struct mmsync_handoff **out, const char *name,
			  const char *prefix,
			  const struct mmsync_writer_opts *o)
{
	/* Connecting needs write access: readers get what they may write. */
	mode_t mode = MMSYNC_OPTS_GET(o, table_mode, 0) ?
			      MMSYNC_OPTS_GET(o, table_mode, 0) :
			      MMSYNC_DEFAULT_TABLE_MODE;
	struct mmsync_handoff *h;
	struct addr a;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->lfd = h->dir_fd = -1;
	*out = h;
	h->euid = geteuid();
	h->nr_uids = MMSYNC_OPTS_GET(o, nr_allow_uids, 0);
	h->nr_gids = MMSYNC_OPTS_GET(o, nr_allow_gids, 0);
	err = copy_list((void **)&h->uids, MMSYNC_OPTS_GET(o, allow_uids, NULL),
			h->nr_uids, sizeof(uid_t));
	if (!err)
		err = copy_list((void **)&h->gids,
				MMSYNC_OPTS_GET(o, allow_gids, NULL),
				h->nr_gids, sizeof(gid_t));
	if (err)
		return err;
	err = handoff_addr(name, prefix, &a);
	if (err)
		return err;
	h->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (h->lfd < 0) {
		err = -errno;
	} else if (a.abstract) {
		/* An abstract name goes with its socket: never stale. */
		if (bind(h->lfd, (struct sockaddr *)&a.sa, a.len) < 0)
			err = errno == EADDRINUSE ? -EBUSY : -errno;
		else if (listen(h->lfd, SOMAXCONN) < 0)
			err = -errno;
	} else {
		err = listen_path(h, &a, mode);
	}
	addr_free(&a);
	return err;
}

static void handoff_free(struct mmsync_handoff *h)
{
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->dir_fd >= 0)
		close(h->dir_fd);
	free(h->sock_name);
	free(h->uids);
	free(h->gids);
	free(h);
}

void mmsync_handoff_close(struct mmsync_handoff *h)
{
	struct stat st;

	if (!h)
		return;
	/* Unlink our socket, and only ours, before it stops listening. */
	if (h->sock_name && h->dir_fd >= 0) {
		if (flock(h->dir_fd, LOCK_EX) == 0) {
			if (fstatat(h->dir_fd, h->sock_name, &st,
				    AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_dev == h->sock_dev &&
			    st.st_ino == h->sock_ino)
				unlinkat(h->dir_fd, h->sock_name, 0);
			flock(h->dir_fd, LOCK_UN);
		}
	}
	handoff_free(h);
}

/*
 * A forked child's copy: close the listening socket without unlinking it
 * (the parent still serves), so that a child outliving its parent does not
 * keep a dead channel's socket accepting connections nobody serves.
 */
void mmsync_handoff_forked(struct mmsync_handoff *h)
{
	if (!h)
		return;
	free(h->sock_name);
	h->sock_name = NULL;
	if (h->lfd >= 0)
		close(h->lfd);
	h->lfd = -1;
}

int mmsync_handoff_lfd(const struct mmsync_handoff *h)
{
	return h && h->lfd >= 0 ? h->lfd : -EBADFD;
}

static bool in_gids(const struct mmsync_handoff *h, gid_t g)
{
	uint32_t i;

	for (i = 0; i < h->nr_gids; i++)
		if (h->gids[i] == g)
			return true;
	return false;
}

/* Is the peer of connection @c, with credentials @cr, allowed? */
static bool allowed(const struct mmsync_handoff *h, int c,
		    const struct ucred *cr)
{
	gid_t small[64], *g = small;
	socklen_t len = sizeof(small);
	bool ok = false;
	uint32_t i;

	if (!h->nr_uids && !h->nr_gids)
		return cr->uid == h->euid;
	for (i = 0; i < h->nr_uids; i++)
		if (h->uids[i] == cr->uid)
			return true;
	if (!h->nr_gids)
		return false;
	if (in_gids(h, cr->gid))
		return true;
	/* Supplementary groups, as the kernel saw them at connect(). */
	if (getsockopt(c, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		if (errno != ERANGE || len == 0)
			return false;
		g = malloc(len);
		if (!g)
			return false;
		if (getsockopt(c, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
			len = 0;
	}
	for (i = 0; i < len / sizeof(gid_t) && !ok; i++)
		ok = in_gids(h, g[i]);
	if (g != small)
		free(g);
	return ok;
}

static int send_msg(int c, int32_t status, const int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct handoff_msg m = {
		.magic = HANDOFF_MAGIC,
		.version = HANDOFF_VERSION,
		.status = status,
		.nr_fds = (uint32_t)n,
	};
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (n) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	}
	/* A fresh connection's buffer is empty: this never blocks. */
	if (sendmsg(c, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(m))
		return -errno;
	return 0;
}

/* 1: served; 0: refused, or the peer went away; -errno: our failure. */
static int serve_one(struct mmsync_handoff *h, int c, mmsync_handoff_fill fill,
		     void *ctx)
{
	socklen_t len = sizeof(struct ucred);
	int fds[HANDOFF_MAX_FDS], n, i, err;
	struct ucred cr;

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    len != sizeof(cr))
		return 0;
	if (!allowed(h, c, &cr)) {
		send_msg(c, -EACCES, NULL, 0);
		return 0;
	}
	n = fill(ctx, fds, HANDOFF_MAX_FDS);
	if (n < 0) {
		send_msg(c, n, NULL, 0);
		return n;
	}
	err = send_msg(c, 0, fds, n);
	for (i = 0; i < n; i++)
		close(fds[i]);
	return err ? 0 : 1;
}

int mmsync_handoff_serve(struct mmsync_handoff *h, int64_t timeout_ns,
			 mmsync_handoff_fill fill, void *ctx)
{
	struct pollfd pfd;
	struct timespec ts;
	int served = 0, err = 0, n, c, ret;

	if (h->lfd < 0)
		return -EBADFD;
	if (timeout_ns != 0) {
		pfd.fd = h->lfd;
		pfd.events = POLLIN;
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		ret = ppoll(&pfd, 1, timeout_ns < 0 ? NULL : &ts, NULL);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			return 0;
	}
	for (n = 0; n < SERVE_BATCH; n++) {
		c = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				err = -errno;
			break;
		}
		ret = serve_one(h, c, fill, ctx);
		close(c);
		if (ret > 0)
			served++;
		else if (ret < 0 && !err)
			err = ret;
	}
	return served ? served : err;
}

/* ---- Reader -------------------------------------------------------- */

static void set_timeout(int s, int opt, int64_t ns)
{
	struct timeval tv = { 0, 0 };

	if (ns > 0) {
		tv.tv_sec = ns / 1000000000;
		tv.tv_usec = (ns % 1000000000) / 1000;
		if (!tv.tv_sec && !tv.tv_usec)
			tv.tv_usec = 1;
	}
	setsockopt(s, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* Receive exactly @want descriptors into @out; -errno otherwise. */
static int receive(int s, int *out, int want)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * HANDOFF_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct handoff_msg m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	int fds[HANDOFF_MAX_FDS], nfds = 0, err = 0, fd, i, k;
	struct cmsghdr *cm;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT :
								 -errno;
	/* Take every descriptor that came, to close them if anything is off. */
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(fd));
			if (nfds < HANDOFF_MAX_FDS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0)
		err = -ECONNRESET;
	else if (n != (ssize_t)sizeof(m) ||
		 (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		 m.magic != HANDOFF_MAGIC || m.version != HANDOFF_VERSION)
		err = -EBADMSG;
	else if (m.status < 0)
		err = m.status >= -4095 ? m.status : -EPROTO;
	else if (m.status > 0 || m.nr_fds != (uint32_t)want || nfds != want)
		err = -EBADMSG;
	if (err) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return err;
	}
	memcpy(out, fds, sizeof(int) * (size_t)want);
	return 0;
}

int mmsync_handoff_receive(const char *name, const char *prefix,
			   int64_t timeout_ns, int *fds, int n)
{
	struct sockaddr_un sa;
	const struct sockaddr_un *to = &sa;
	socklen_t len = sizeof(sa);
	int s = -1, pfd = -1, err;
	uint64_t start = mmsync_now_ns(), spent;
	struct addr a;
	struct stat st;

	if (n < 1 || n > HANDOFF_MAX_FDS)
		return -EINVAL;
	if (timeout_ns == 0)
		timeout_ns = DEFAULT_TIMEOUT_NS;
	err = handoff_addr(name, prefix, &a);
	if (err)
		return err;
	if (a.abstract) {
		to = &a.sa;
		len = a.len;
	} else {
		pfd = open(a.path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0) {
			err = -errno;
			goto out;
		}
		if (fstat(pfd, &st) < 0)
			err = -errno;
		else if (S_ISLNK(st.st_mode))
			err = -ELOOP;
		else if (!S_ISSOCK(st.st_mode))
			err = -EBADMSG;
		else
			err = proc_addr(&sa, pfd, NULL);
		if (err)
			goto out;
	}
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0) {
		err = -errno;
		goto out;
	}
	/* Blocks only while the writer's backlog is full. */
	set_timeout(s, SO_SNDTIMEO, timeout_ns);
	if (connect(s, (const struct sockaddr *)to, len) < 0) {
		/* Nobody listens: a dead writer's socket, or none at all. */
		err = errno == ECONNREFUSED ? -ENOENT :
		      errno == EAGAIN	    ? -ETIMEDOUT :
					      -errno;
		goto out;
	}
	if (timeout_ns > 0) {
		spent = mmsync_now_ns() - start;
		if (spent >= (uint64_t)timeout_ns) {
			err = -ETIMEDOUT;
			goto out;
		}
		timeout_ns -= (int64_t)spent;
	}
	set_timeout(s, SO_RCVTIMEO, timeout_ns);
	err = receive(s, fds, n);
out:
	if (s >= 0)
		close(s);
	if (pfd >= 0)
		close(pfd);
	addr_free(&a);
	return err;
}
