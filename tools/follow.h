/* SPDX-License-Identifier: MIT */
/*
 * follow.h - mmsync follow: keep a channel in step with a source.
 *
 * A source turns "the thing changed" into versions; follow.c publishes
 * them (skipping those equal to the current snapshot), logs one line per
 * publish and stops on a signal. The sources:
 *
 *   source_file.c   a file that gets replaced (inotify on its path)
 *   source_etcd.c   an etcd key (the v3 HTTP/JSON gateway, libcurl)
 *
 * A third source is one more file: a struct follow_kind (its options as
 * an argp child, a constructor) and a line in follow.c's table. The
 * contract between a source and follow.c is all in this header.
 */
#ifndef MMSYNC_TOOLS_FOLLOW_H
#define MMSYNC_TOOLS_FOLLOW_H

#include <argp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a source hands over: a value to publish, or the news it is gone. */
struct follow_version {
	/* >= 0: publish the first @len bytes of this regular file. */
	int fd;
	/* fd < 0: publish these @len bytes (owned by the source). */
	const void *data;
	size_t len;
	/*
	 * The source has no value any more (a deleted file or key, or none
	 * yet): the current snapshot stays. @data and @fd are unused.
	 */
	bool gone;
	/* For the log line: "FILE (inode 12)", "KEY at revision 57". */
	char what[512];
};

struct follow_source;

struct follow_ops {
	/*
	 * Wait for the next version; never poll: sleep in poll(2) (or the
	 * like) on the source's own descriptors and @stop_fd.
	 * Returns 1 with *@v filled (the source's until done()), 0 once
	 * @stop_fd polls readable (do not read it), or -errno when the
	 * source cannot go on, after printing why (one line).
	 */
	int (*next)(struct follow_source *s, int stop_fd,
		    struct follow_version *v);
	/* follow.c is done with *@v (published, skipped or failed). */
	void (*done)(struct follow_source *s, struct follow_version *v);
	/*
	 * The last version could not be published: deliver the newest
	 * value again on the next call of next(), unless a newer one came.
	 */
	void (*again)(struct follow_source *s);
	void (*close)(struct follow_source *s);
};

struct follow_source {
	const struct follow_ops *ops;
};

/* What every source is told. */
struct follow_ctx {
	const char *name; /* the channel, for messages */
	const char *target; /* FILE, KEY: the second argument */
	bool once; /* --once: the current value, then stop */
	bool verbose;
};

struct follow_kind {
	const char *name; /* "file", "etcd" */
	/* Its options, a child of follow's argp (NULL: none). */
	const struct argp *argp;
	/* Did its options select it? NULL: the default kind (files). */
	bool (*chosen)(void);
	/*
	 * 0 and *@out, or -errno after printing why. Called before the
	 * channel is opened: it checks what it can, but does not wait.
	 */
	int (*open)(const struct follow_ctx *c, struct follow_source **out);
};

extern const struct follow_kind follow_file_kind;
extern const struct follow_kind follow_etcd_kind;

/* "mmsync: NAME: MESSAGE" on stderr, the follower's log (one line). */
void follow_log(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* CLOCK_MONOTONIC in ns. */
int64_t follow_now_ns(void);

/*
 * Base64 (RFC 4648, standard alphabet, with padding), as etcd's gateway
 * writes bytes in JSON (follow_base64.c).
 * Encode: writes follow_b64_len(n) bytes and a NUL into @out.
 * Decode: @in of @n chars into @out (room for n / 4 * 3 bytes); returns
 * the byte count, or -EINVAL for anything that is not canonical base64.
 */
#define follow_b64_len(n) (((n) + 2) / 3 * 4)
void follow_b64_encode(const void *in, size_t n, char *out);
long follow_b64_decode(const char *in, size_t n, void *out);

#endif
