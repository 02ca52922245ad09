/* SPDX-License-Identifier: MIT */
/* put.h - what cmd_put.c and its progress feeder (put_feed.c) share. */
#ifndef MMSYNC_TOOLS_PUT_H
#define MMSYNC_TOOLS_PUT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mmsync_writer;
struct mmsync_publish_info;

/* Where the bytes of a put come from. */
struct put_input {
	const char *path; /* for messages: FILE, or "stdin" */
	int fd;
	bool stream; /* pipe, socket, terminal: consumed from where it is */
	off_t off; /* files: the first byte */
	uint64_t len; /* bytes to publish; 0: up to the end */
};

/* Non-zero while a progress bar is on stderr's last line. */
extern volatile sig_atomic_t put_bar_on;

/*
 * Publish @in through a pipe that a thread fills (splice(), so no extra
 * copy), counting the bytes for a progress bar on stderr that appears once
 * the put takes longer than a moment. Same result as
 * mmsync_publish_fd(w, in->fd, in->off, in->len, info): 0, or a -errno,
 * the source's own error when reading it failed. @name is for messages.
 */
int put_feed(struct mmsync_writer *w, const char *name,
	     const struct put_input *in, struct mmsync_publish_info *info);

#endif
