// SPDX-License-Identifier: MIT
/*
 * put_feed.c - mmsync put with a progress bar.
 *
 * mmsync_publish_fd() is one call that reads the source straight into the
 * slot; nothing outside it can see how far it got. So when a bar is
 * wanted, a feeder thread splice()s the source into a pipe and counts,
 * and publish_fd reads the pipe. splice moves page references, so the
 * bytes are still copied once, from the page cache (or the producer's
 * pipe) into the slot, as without the bar.
 *
 * What must not change is what gets published. A source that ends early
 * ends the pipe early: with a known length publish_fd then fails with
 * -ENODATA and publishes nothing. A source that fails to read while the
 * length is unknown ("to the end") must not look like its end, since
 * publish_fd would publish what came so far: the feeder then reports the
 * error and ends the process before publish_fd can commit, which the
 * library guarantees leaves the previous snapshot current (the same as
 * any writer dying mid-publish).
 *
 * Signals reach only the thread that runs publish_fd (cmd_put.c handles
 * them); the helper threads block them all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <mmsync.h>

#include "cli.h"
#include "fmt.h"
#include "put.h"

#define FEED_CHUNK (1u << 20)
#define PIPE_SIZE (1 << 20)
/* A put that takes less than this shows no bar at all. */
#define BAR_DELAY_NS 300000000ll
#define BAR_PERIOD_MS 100

volatile sig_atomic_t put_bar_on;

struct feed {
	const struct put_input *in;
	const char *name;
	int pipe_w;
	int stop[2]; /* the bar thread's stop pipe */
	_Atomic uint64_t done; /* bytes into the pipe */
	int64_t start_ns;
	int err; /* the source's -errno */
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Copy one chunk with read()/write(), for sources splice() cannot take. */
static ssize_t copy_chunk(const struct put_input *in, off_t off, int out,
			  size_t want)
{
	static char buf[64 << 10];
	ssize_t n;
	int err;

	if (want > sizeof(buf))
		want = sizeof(buf);
	n = in->stream ? read(in->fd, buf, want) :
			 pread(in->fd, buf, want, off);
	if (n <= 0)
		return n;
	err = write_all(out, buf, (size_t)n);
	if (err) {
		errno = -err;
		return -1;
	}
	return n;
}

static int feed_loop(struct feed *f)
{
	const struct put_input *in = f->in;
	loff_t off = in->off;
	uint64_t done = 0;
	bool use_splice = true;
	struct pollfd p;
	size_t want;
	ssize_t n;

	for (;;) {
		want = FEED_CHUNK;
		if (in->len) {
			if (done == in->len)
				return 0;
			if (in->len - done < want)
				want = (size_t)(in->len - done);
		}
		if (use_splice)
			n = splice(in->fd, in->stream ? NULL : &off, f->pipe_w,
				   NULL, want, SPLICE_F_MOVE | SPLICE_F_MORE);
		else
			n = copy_chunk(in, off, f->pipe_w, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (use_splice &&
			    (errno == EINVAL || errno == ENOSYS)) {
				/* Not splice()able (a terminal, /proc...). */
				use_splice = false;
				continue;
			}
			if (errno == EAGAIN) {
				/* A non-blocking source: wait for it. */
				p.fd = in->fd;
				p.events = POLLIN;
				poll(&p, 1, -1);
				continue;
			}
			return -errno;
		}
		if (n == 0)
			return 0; /* the end, early or not: publish_fd decides */
		if (!use_splice)
			off += n;
		done += (uint64_t)n;
		atomic_store_explicit(&f->done, done, memory_order_relaxed);
	}
}

static void *feeder(void *arg)
{
	struct feed *f = arg;

	f->err = feed_loop(f);
	if (f->err && !f->in->len) {
		/* See the top of the file: ending the pipe would publish. */
		if (put_bar_on)
			write_all(STDERR_FILENO, "\r\033[K", 4);
		cli_error(f->name, f->in->path, f->err,
			  "nothing was published");
		_exit(CLI_FAIL);
	}
	/* EPIPE: publish_fd stopped reading (it failed); nothing to say. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	close(f->pipe_w);
	f->pipe_w = -1;
	return NULL;
}

static void fmt_eta(double s, char *buf, size_t len)
{
	unsigned long t = (unsigned long)(s + 0.5);

	if (t < 60)
		snprintf(buf, len, "%lus", t);
	else if (t < 3600)
		snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
	else
		snprintf(buf, len, "%luh%02lum", t / 3600, t / 60 % 60);
}

static void draw(const struct feed *f, uint64_t done, double secs)
{
	char line[512], a[16], b[16], r[16], eta[32], bar[256];
	struct winsize ws;
	double rate = secs > 0 ? done / secs : 0;
	int cols = 80, width, fill, n;
	uint64_t total = f->in->len;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		cols = ws.ws_col;
	human_bytes(done, a, sizeof(a));
	human_bytes((uint64_t)rate, r, sizeof(r));
	if (!total) {
		n = snprintf(line, sizeof(line), "%s  %s/s", a, r);
	} else {
		human_bytes(total, b, sizeof(b));
		if (rate > 0)
			fmt_eta((double)(total - done) / rate, eta,
				sizeof(eta));
		else
			snprintf(eta, sizeof(eta), "?");
		/* "100% [" + "] " + the numbers, the bar gets the rest. */
		width = cols - 1 - 7 - 2 -
			(int)(strlen(a) + strlen(b) + strlen(r) + strlen(eta) +
			      16);
		if (width > (int)sizeof(bar) - 1)
			width = sizeof(bar) - 1;
		if (width >= 10) {
			fill = (int)((double)done / total * width);
			memset(bar, '=', fill);
			memset(bar + fill, ' ', width - fill);
			if (fill < width)
				bar[fill] = '>';
			bar[width] = '\0';
		} else {
			bar[0] = '\0';
		}
		n = snprintf(
			line, sizeof(line), "%3d%% %s%s%s%s / %s  %s/s  ETA %s",
			(int)((double)done * 100 / total), bar[0] ? "[" : "",
			bar, bar[0] ? "] " : "", a, b, r, eta);
	}
	if (n > cols - 1)
		n = cols - 1;
	fprintf(stderr, "\r%.*s\033[K", n, line);
	fflush(stderr);
}

static void *bar_thread(void *arg)
{
	struct feed *f = arg;
	struct pollfd p = { .fd = f->stop[0], .events = POLLIN };
	int64_t now, wait_ms;

	for (;;) {
		now = mono_ns();
		wait_ms = BAR_PERIOD_MS;
		if (now - f->start_ns < BAR_DELAY_NS)
			wait_ms =
				(BAR_DELAY_NS - (now - f->start_ns)) / 1000000 +
				1;
		if (poll(&p, 1, (int)wait_ms) != 0)
			return NULL; /* stopped */
		now = mono_ns();
		if (now - f->start_ns < BAR_DELAY_NS)
			continue;
		draw(f, atomic_load_explicit(&f->done, memory_order_relaxed),
		     (now - f->start_ns) / 1e9);
		put_bar_on = 1;
	}
}

/* Start @fn with every signal blocked: they are for the publishing thread. */
static int start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

int put_feed(struct mmsync_writer *w, const char *name,
	     const struct put_input *in, struct mmsync_publish_info *info)
{
	static struct feed f; /* the threads may outlive a failed call */
	char a[16], r[16];
	pthread_t feed_t, bar_t;
	int p[2], err;
	double secs;

	memset(&f, 0, sizeof(f));
	f.in = in;
	f.name = name;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	if (pipe2(f.stop, O_CLOEXEC)) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	/* Fewer, larger reads; fine if the system allows less. */
	fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
	f.pipe_w = p[1];
	f.start_ns = mono_ns();
	err = start(&feed_t, feeder, &f);
	if (err) {
		close(p[1]);
		goto out;
	}
	err = start(&bar_t, bar_thread, &f);
	if (err) {
		pthread_cancel(feed_t);
		pthread_join(feed_t, NULL);
		goto out;
	}

	err = mmsync_publish_fd(w, p[0], 0, in->len, info);

	/* A failed publish stopped reading: the feeder may wait on the source. */
	if (err)
		pthread_cancel(feed_t);
	pthread_join(feed_t, NULL);
	if (f.pipe_w >= 0)
		close(f.pipe_w); /* cancelled before it closed it */
	write_all(f.stop[1], "x", 1);
	pthread_join(bar_t, NULL);
	/* The source's own error says more than publish_fd's -ENODATA. */
	if (err && f.err && f.err != -EPIPE)
		err = f.err;
	if (put_bar_on) {
		fprintf(stderr, "\r\033[K");
		if (!err) {
			secs = (mono_ns() - f.start_ns) / 1e9;
			fprintf(stderr,
				"%s: generation %llu, %s in %.1fs (%s/s)\n",
				cli_name(name), (unsigned long long)info->gen,
				human_bytes(info->size, a, sizeof(a)), secs,
				human_bytes((uint64_t)(info->size / secs), r,
					    sizeof(r)));
		}
		fflush(stderr);
		put_bar_on = 0;
	}
out:
	close(p[0]);
	close(f.stop[0]);
	close(f.stop[1]);
	return err;
}
