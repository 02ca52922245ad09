// SPDX-License-Identifier: MIT
/*
 * source_file.c - follow a file that gets replaced: mmsync follow NAME FILE.
 *
 * Everything that ends in "a new file at this path" is seen: a rename
 * over it (rsync, configuration management, `mv tmp FILE`), an in-place
 * rewrite, a symlink swapped anywhere on the path (a Kubernetes ConfigMap
 * volume renames its `..data` symlink to a new timestamped directory),
 * deletion and re-creation.
 *
 * How: FILE is resolved by hand, component by component, following
 * symlinks, and every directory in which a name is looked up is watched
 * with inotify (the watch is added before the lookup, so a change right
 * after it is an event, not a miss). An event for a name that was looked
 * up means "resolve again"; the file is delivered when the resolution
 * ends at another inode than the one last delivered, or when the final
 * file was closed after writing. Nothing ever polls.
 *
 * Never half-written: a file created in place (IN_CREATE of a regular
 * file with one link) is being written by whoever created it, so it is
 * delivered at its IN_CLOSE_WRITE, not before; an in-place rewrite of the
 * current file likewise (its IN_MODIFY events are not even asked for).
 * A rename or a symlink swap brings a complete file: delivered at once.
 * What follow cannot know is a writer that closes and reopens a file to
 * go on writing, or one that writes through another hard link: the
 * publish is then of what was there at close (and the next close brings
 * the rest).
 *
 * Every watched directory gets the same mask: the close-write events of
 * other files in the directories above FILE wake the follower (and are
 * filtered out by name), which costs a read() each and is what makes a
 * swap anywhere on the path visible.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "follow.h"

#define MAX_LINKS 40 /* as the kernel's path walk (ELOOP) */
#define DIR_MASK                                                      \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |        \
	 IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | \
	 IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* A name looked up in a watched directory by the last resolution. */
struct lookup {
	int wd;
	bool final; /* the regular file (or the name found missing) */
	char name[NAME_MAX + 1];
};

struct fsrc {
	struct follow_source base;
	const struct follow_ctx *c;
	char path[PATH_MAX]; /* FILE, absolute */
	int ifd;
	struct lookup *lk;
	size_t nr_lk, cap_lk;
	int *wds; /* the watches in use */
	size_t nr_wds, cap_wds;

	/* What the last resolution found. */
	int res_err; /* 0, or why there is no file */
	char real[PATH_MAX]; /* the file's resolved path */
	struct stat st;

	/* What happened since. */
	bool started; /* the first version went out */
	bool resolve; /* an event touched the path: resolve again */
	bool force; /* deliver even the same inode (close-write) */
	bool created; /* a regular file was created at the final name */
	int created_wd;
	char created_name[NAME_MAX + 1];
	bool wait_close; /* (wait_dev, wait_ino) is being written */
	dev_t wait_dev;
	ino_t wait_ino;

	/* What was delivered last. */
	bool delivered;
	dev_t dev;
	ino_t ino;
	bool gone_told; /* the missing file was reported */
	int told_err; /* the error last printed (not told twice) */
	int fd;
};

static const struct follow_ops file_ops;

static struct fsrc *to_fsrc(struct follow_source *s)
{
	return (struct fsrc *)s;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Watch directory @dir; its wd, or -errno. */
static int watch_dir(struct fsrc *s, const char *dir)
{
	size_t i;
	int wd;

	wd = inotify_add_watch(s->ifd, dir, DIR_MASK);
	if (wd < 0)
		return -errno;
	for (i = 0; i < s->nr_wds; i++)
		if (s->wds[i] == wd)
			return wd;
	if (grow((void **)&s->wds, &s->cap_wds, s->nr_wds + 1, sizeof(int)))
		return -ENOMEM;
	s->wds[s->nr_wds++] = wd;
	return wd;
}

static int add_lookup(struct fsrc *s, int wd, const char *name, bool final)
{
	struct lookup *l;

	if (grow((void **)&s->lk, &s->cap_lk, s->nr_lk + 1, sizeof(*l)))
		return -ENOMEM;
	l = &s->lk[s->nr_lk++];
	l->wd = wd;
	l->final = final;
	snprintf(l->name, sizeof(l->name), "%s", name);
	return 0;
}

/* Drop the watches the last resolution did not use. */
static void prune_watches(struct fsrc *s)
{
	size_t i, j, n = 0;
	bool used;

	for (i = 0; i < s->nr_wds; i++) {
		used = false;
		for (j = 0; j < s->nr_lk && !used; j++)
			used = s->lk[j].wd == s->wds[i];
		if (used)
			s->wds[n++] = s->wds[i];
		else
			inotify_rm_watch(s->ifd, s->wds[i]); /* may be gone */
	}
	s->nr_wds = n;
}

/* @a/@b into @out (PATH_MAX); -ENAMETOOLONG if it does not fit. */
static int join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s%s%s", a,
			 a[0] && a[strlen(a) - 1] == '/' ? "" : "/", b);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/*
 * Walk s->path as the kernel would, but by hand, watching each directory
 * before a name is looked up in it. Sets res_err (0: s->real and s->st
 * are the regular file at the end), the lookups and the watches. Returns
 * -errno only for what ends the follower (no memory, no more watches).
 */
static int resolve(struct fsrc *s)
{
	char cur[PATH_MAX] = "/", todo[PATH_MAX], next[PATH_MAX];
	char full[PATH_MAX], target[PATH_MAX], comp[NAME_MAX + 1];
	const char *p, *slash;
	int links = 0, wd, err = 0;
	size_t len;
	ssize_t n;
	bool last;

	s->nr_lk = 0;
	s->res_err = 0;
	snprintf(todo, sizeof(todo), "%s", s->path);
	for (;;) {
		/* The next component of todo. */
		p = todo;
		while (*p == '/')
			p++;
		if (!*p) {
			/* FILE ends in '/' or resolves to a directory. */
			s->res_err = -EISDIR;
			break;
		}
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len > NAME_MAX) {
			s->res_err = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		while (*p == '/')
			p++;
		last = !*p;
		memmove(todo, p, strlen(p) + 1);
		if (!strcmp(comp, ".")) {
			if (last) {
				s->res_err = -EISDIR;
				break;
			}
			continue;
		}
		if (!strcmp(comp, "..")) {
			/* cur is a resolved directory: ".." is lexical. */
			char *end = strrchr(cur, '/');

			if (end && end != cur)
				*end = '\0';
			else
				strcpy(cur, "/");
			if (last) {
				s->res_err = -EISDIR;
				break;
			}
			continue;
		}
		wd = watch_dir(s, cur);
		if (wd == -ENOSPC || wd == -ENOMEM) {
			err = wd;
			break;
		}
		if (wd < 0) {
			/*
			 * Gone already (its parent's watch has the event)
			 * or not watchable: no file for now.
			 */
			s->res_err = wd;
			break;
		}
		err = add_lookup(s, wd, comp, last);
		if (err)
			break;
		if (join(full, cur, comp)) {
			s->res_err = -ENAMETOOLONG;
			break;
		}
		if (lstat(full, &s->st)) {
			s->res_err = -errno;
			break;
		}
		if (S_ISLNK(s->st.st_mode)) {
			s->lk[s->nr_lk - 1].final = false;
			if (++links > MAX_LINKS) {
				s->res_err = -ELOOP;
				break;
			}
			n = readlink(full, target, sizeof(target) - 1);
			if (n < 0) {
				s->res_err = -errno;
				break;
			}
			target[n] = '\0';
			if (n == 0) {
				s->res_err = -ENOENT;
				break;
			}
			/* The link's text, then what was left to walk. */
			if (snprintf(next, sizeof(next), "%s%s%s", target,
				     last ? "" : "/",
				     todo) >= (int)sizeof(next)) {
				s->res_err = -ENAMETOOLONG;
				break;
			}
			strcpy(todo, next);
			if (target[0] == '/')
				strcpy(cur, "/");
			continue;
		}
		if (last) {
			if (S_ISDIR(s->st.st_mode))
				s->res_err = -EISDIR;
			else if (!S_ISREG(s->st.st_mode))
				s->res_err = -EINVAL;
			else
				strcpy(s->real, full);
			break;
		}
		if (!S_ISDIR(s->st.st_mode)) {
			s->res_err = -ENOTDIR;
			break;
		}
		strcpy(cur, full);
	}
	prune_watches(s);
	return err;
}

static const char *res_hint(int err)
{
	switch (err) {
	case -EINVAL:
		return "not a regular file";
	case -EISDIR:
		return "a directory";
	}
	return NULL;
}

/* Print a resolution error once (until another one, or a file, comes). */
static void tell(struct fsrc *s, int err)
{
	const char *hint = res_hint(err);

	if (s->told_err == err)
		return;
	s->told_err = err;
	follow_log(s->c->name, "%s: %s%s", s->c->target,
		   hint ? hint : strerror(-err),
		   s->c->once ? "" : "; waiting for a file");
}

/* Read what inotify has; 1 if anything touched the path, or -errno. */
static int drain(struct fsrc *s)
{
	char buf[64 * 1024]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	const struct lookup *l;
	bool any = false;
	ssize_t n;
	size_t i;
	char *p;

	for (;;) {
		n = read(s->ifd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (p = buf; p < buf + n;
		     p += sizeof(*ev) + ((struct inotify_event *)p)->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* Events were lost: look at everything. */
				s->resolve = s->force = any = true;
				continue;
			}
			if (ev->mask &
			    (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
				for (i = 0; i < s->nr_wds; i++)
					if (s->wds[i] == ev->wd)
						s->resolve = any = true;
				continue;
			}
			if (!ev->len)
				continue;
			l = NULL;
			for (i = 0; i < s->nr_lk && !l; i++)
				if (s->lk[i].wd == ev->wd &&
				    !strcmp(s->lk[i].name, ev->name))
					l = &s->lk[i];
			if (!l)
				continue;
			any = s->resolve = true;
			/*
			 * A rename at a looked-up name (the file itself or a
			 * symlink on the path) brings a complete file, even
			 * one with the inode number of a file deleted before.
			 */
			if (ev->mask & IN_MOVED_TO)
				s->force = true;
			if (!l->final) {
				if (ev->mask & IN_CREATE)
					s->force = true; /* a new symlink */
				continue;
			}
			if (ev->mask & IN_CREATE) {
				/* A new inode: earlier closes were not its. */
				s->created = true;
				s->force = false;
				s->created_wd = ev->wd;
				snprintf(s->created_name,
					 sizeof(s->created_name), "%s",
					 ev->name);
			}
			if (ev->mask & IN_CLOSE_WRITE)
				s->force = true;
			/* Permissions fixed after an EACCES: try again. */
			if ((ev->mask & IN_ATTRIB) && s->told_err)
				s->force = true;
		}
	}
	return any;
}

/* Open the resolved file as a version; 1, 0 to look again, or -errno. */
static int deliver(struct fsrc *s, struct follow_version *v)
{
	struct stat st;
	int fd;

	fd = open(s->real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP) {
			s->resolve = true; /* replaced since: its event comes */
			return 0;
		}
		tell(s, -errno);
		return s->c->once ? -errno : 0;
	}
	if (fstat(fd, &st) || st.st_dev != s->st.st_dev ||
	    st.st_ino != s->st.st_ino || !S_ISREG(st.st_mode)) {
		close(fd);
		s->resolve = true;
		return 0;
	}
	/* Regular files never block; publish_fd would poll an O_NONBLOCK fd. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	s->fd = fd;
	s->delivered = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->gone_told = false;
	s->told_err = 0;
	v->fd = fd;
	v->len = (size_t)st
			 .st_size; /* the size at open: see mmsync_publish_fd */
	snprintf(v->what, sizeof(v->what), "%s (inode %llu)", s->c->target,
		 (unsigned long long)st.st_ino);
	return 1;
}

/*
 * After a resolution: is there something to hand over? 1 with *@v, 0 to
 * wait for more events, -errno to stop.
 */
static int decide(struct fsrc *s, struct follow_version *v)
{
	const struct lookup *fin = s->nr_lk ? &s->lk[s->nr_lk - 1] : NULL;
	bool same;

	if (s->res_err) {
		s->created = s->force = s->wait_close = false;
		if (s->res_err != -ENOENT) {
			tell(s, s->res_err);
			return s->c->once ? s->res_err : 0;
		}
		/* A file that comes back is new, whatever its inode number. */
		s->delivered = false;
		if (s->gone_told)
			return 0;
		if (s->c->once) {
			cli_error(s->c->name, s->c->target, -ENOENT,
				  "nothing published");
			return -ENOENT;
		}
		s->gone_told = true;
		s->told_err = 0;
		v->gone = true;
		snprintf(v->what, sizeof(v->what), "%s: %s", s->c->target,
			 strerror(ENOENT));
		return 1;
	}
	/*
	 * Created in place at the name the walk ended on (not linked there:
	 * one link): its creator is writing it. Wait for its close.
	 */
	if (s->created && fin && fin->final && fin->wd == s->created_wd &&
	    !strcmp(fin->name, s->created_name) && s->st.st_nlink == 1) {
		s->wait_close = true;
		s->wait_dev = s->st.st_dev;
		s->wait_ino = s->st.st_ino;
	}
	s->created = false;
	if (s->wait_close) {
		if (s->st.st_dev == s->wait_dev &&
		    s->st.st_ino == s->wait_ino && !s->force)
			return 0; /* still being written */
		/* Closed after writing, or another file is there now. */
		s->wait_close = false;
	}
	same = s->delivered && s->st.st_dev == s->dev && s->st.st_ino == s->ino;
	if (same && !s->force && s->started)
		return 0;
	s->force = false;
	return deliver(s, v);
}

static int file_next(struct follow_source *src, int stop_fd,
		     struct follow_version *v)
{
	struct fsrc *s = to_fsrc(src);
	struct pollfd p[2] = { { .fd = s->ifd, .events = POLLIN },
			       { .fd = stop_fd, .events = POLLIN } };
	int n, err;

	for (;;) {
		if (!s->started || s->resolve) {
			s->resolve = false;
			err = resolve(s);
			if (err) {
				cli_error(s->c->name, s->c->target, err,
					  err == -ENOSPC ?
						  "out of inotify watches: "
						  "raise fs.inotify."
						  "max_user_watches" :
						  NULL);
				return err;
			}
			n = decide(s, v);
			s->started = true;
			if (n)
				return n;
			if (s->resolve)
				continue;
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cli_error(s->c->name, "poll", -errno, NULL),
			       -errno;
		}
		if (p[1].revents)
			return 0;
		if (p[0].revents) {
			n = drain(s);
			if (n < 0) {
				cli_error(s->c->name, "inotify", n, NULL);
				return n;
			}
		}
	}
}

static void file_done(struct follow_source *src, struct follow_version *v)
{
	struct fsrc *s = to_fsrc(src);

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static void file_again(struct follow_source *src)
{
	struct fsrc *s = to_fsrc(src);

	s->resolve = s->force = true;
}

static void file_close(struct follow_source *src)
{
	struct fsrc *s = to_fsrc(src);

	if (s->fd >= 0)
		close(s->fd);
	close(s->ifd);
	free(s->lk);
	free(s->wds);
	free(s);
}

static const struct follow_ops file_ops = {
	.next = file_next,
	.done = file_done,
	.again = file_again,
	.close = file_close,
};

static int file_open(const struct follow_ctx *c, struct follow_source **out)
{
	char cwd[PATH_MAX];
	struct fsrc *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return cli_error(c->name, NULL, -ENOMEM, NULL), -ENOMEM;
	s->base.ops = &file_ops;
	s->c = c;
	s->fd = -1;
	if (c->target[0] == '/') {
		err = strlen(c->target) < sizeof(s->path) ? 0 : -ENAMETOOLONG;
		if (!err)
			strcpy(s->path, c->target);
	} else if (!getcwd(cwd, sizeof(cwd))) {
		err = -errno;
	} else {
		err = join(s->path, cwd, c->target);
	}
	if (err) {
		cli_error(c->name, c->target, err, NULL);
		free(s);
		return err;
	}
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd < 0) {
		err = -errno;
		cli_error(c->name, "inotify", err,
			  err == -EMFILE ? "out of inotify instances: raise "
					   "fs.inotify.max_user_instances" :
					   NULL);
		free(s);
		return err;
	}
	*out = &s->base;
	return 0;
}

const struct follow_kind follow_file_kind = {
	.name = "file",
	.open = file_open,
};
