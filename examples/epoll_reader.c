// SPDX-License-Identifier: MIT
/*
 * epoll_reader.c - follow a channel from an event loop: one epoll set
 * holds a 1 s timer and the reader's notification descriptor, and each
 * new snapshot is read in place the moment it is published.
 *
 *   epoll_reader [-c COUNT] [-p] [NAME]
 *
 * -c: exit after COUNT new snapshots (default: run until killed).
 * -p: open without notification (MMSYNC_READ_NO_NOTIFY), to see the
 *     fallback that runs where the kernel's inotify limits are reached.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <mmsync.h>

#include "hello.h"

#define TICK_NS 1000000000ll

/*
 * Read the latest snapshot in place and print it; @last becomes its
 * generation. False if it was replaced while we looked (-ESTALE): then a
 * newer one exists, the caller's next mmsync_wait() returns at once, and
 * we read that one instead.
 */
static bool show(struct mmsync_reader *r, uint64_t *last)
{
	const struct hello_world *hello;
	struct mmsync_view v;
	char line[128];
	int n, err;

	err = mmsync_read_begin(r, &v);
	if (err) {
		/* Skip this one (no busy loop on it); wait for the next. */
		fprintf(stderr, "epoll_reader: read: %s\n", strerror(-err));
		*last = mmsync_reader_gen(r);
		return false;
	}
	/* Format from the shared mapping, print only once it proved intact. */
	n = snprintf(line, sizeof(line), "generation %llu, %zu bytes",
		     (unsigned long long)v.gen, v.size);
	if (v.size == sizeof(*hello)) {
		hello = v.data;
		snprintf(line + n, sizeof(line) - (size_t)n,
			 ", version %u: %.16s %.16s %.16s", hello->version,
			 hello->messages[0], hello->messages[1],
			 hello->messages[2]);
	}
	if (mmsync_read_end(r, &v))
		return false;
	printf("epoll_reader: %s\n", line);
	*last = v.gen;
	return true;
}

/* Where there is no descriptor: block in mmsync_wait(), 1 s at a time. */
static int wait_loop(struct mmsync_reader *r, uint64_t last, long count)
{
	long seen = 0;
	int err;

	while (count == 0 || seen < count) {
		err = mmsync_wait(r, last, TICK_NS);
		if (err == -ETIMEDOUT) {
			printf("epoll_reader: still alive\n");
			continue;
		}
		if (err)
			return err;
		seen += show(r, &last);
	}
	return 0;
}

/* An epoll set with a 1 s timer and the notification descriptor @nfd. */
static int epoll_setup(int nfd, int *ep, int *tfd)
{
	struct itimerspec tick = { .it_interval.tv_sec = 1,
				   .it_value.tv_sec = 1 };
	struct epoll_event ev = { .events = EPOLLIN };

	*ep = epoll_create1(EPOLL_CLOEXEC);
	*tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (*ep < 0 || *tfd < 0 || timerfd_settime(*tfd, 0, &tick, NULL) < 0)
		return -errno;
	ev.data.fd = *tfd;
	if (epoll_ctl(*ep, EPOLL_CTL_ADD, *tfd, &ev) < 0)
		return -errno;
	/* The descriptor is the handle's: watch it, never read or close it. */
	ev.data.fd = nfd;
	if (epoll_ctl(*ep, EPOLL_CTL_ADD, nfd, &ev) < 0)
		return -errno;
	return 0;
}

static int epoll_loop(struct mmsync_reader *r, int nfd, uint64_t last,
		      long count)
{
	struct epoll_event got;
	int ep, tfd, err;
	uint64_t ticks;
	long seen = 0;

	err = epoll_setup(nfd, &ep, &tfd);
	if (!err)
		printf("epoll_reader: in epoll on notification fd %d and a 1 s "
		       "timer\n",
		       nfd);
	while (!err && (count == 0 || seen < count)) {
		/*
		 * Consume first, then sleep: with timeout 0, mmsync_wait()
		 * drains the descriptor and says whether something newer
		 * than @last exists. Once it said -ETIMEDOUT, the next
		 * publish makes the descriptor readable, so sleeping in
		 * epoll now loses nothing.
		 */
		err = mmsync_wait(r, last, 0);
		if (err == 0) {
			seen += show(r, &last);
			continue;
		}
		if (err != -ETIMEDOUT)
			break; /* -EPIPE: a memfd channel's writer is gone */
		err = 0;
		if (epoll_wait(ep, &got, 1, -1) < 0) {
			if (errno != EINTR)
				err = -errno;
			continue;
		}
		if (got.data.fd == tfd && read(tfd, &ticks, sizeof(ticks)) > 0)
			printf("epoll_reader: still alive\n");
		/* nfd: loop; mmsync_wait() tells a wake-up from a spurious one. */
	}
	if (tfd >= 0)
		close(tfd);
	if (ep >= 0)
		close(ep);
	return err;
}

int main(int argc, char **argv)
{
	MMSYNC_OPTS(mmsync_reader_opts, o);
	struct mmsync_reader *r;
	uint64_t last = 0;
	long count = 0;
	int c, nfd, err;

	/* Line by line, also into a pipe or a file. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "c:p")) != -1) {
		if (c == 'c') {
			count = atol(optarg);
		} else if (c == 'p') {
			o.flags |= MMSYNC_READ_NO_NOTIFY;
		} else {
			fprintf(stderr,
				"usage: epoll_reader [-c COUNT] [-p] [NAME]\n");
			return 2;
		}
	}
	err = mmsync_reader_open(optind < argc ? argv[optind] : HELLO_CHANNEL,
				 &o, &r);
	if (err) {
		fprintf(stderr, "epoll_reader: open: %s\n", strerror(-err));
		return 1;
	}
	if (mmsync_reader_gen(r))
		show(r, &last);

	nfd = mmsync_reader_fd(r);
	if (nfd >= 0) {
		err = epoll_loop(r, nfd, last, count);
	} else {
		/* -EMFILE: the inotify limits; -EOPNOTSUPP: none here, or -p. */
		printf("epoll_reader: no notification fd (%s): mmsync_wait() "
		       "sleep-polls instead\n",
		       strerror(-nfd));
		err = wait_loop(r, last, count);
	}
	mmsync_reader_close(r);
	if (err) {
		fprintf(stderr, "epoll_reader: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
