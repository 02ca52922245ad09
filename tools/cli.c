// SPDX-License-Identifier: MIT
/* cli.c - the error line, parse helpers and argp glue of the mmsync verbs. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mmsync.h>

#include "cli.h"

const char *cli_name(const char *name)
{
	return name && name[0] ? name : "''";
}

int cli_error(const char *name, const char *path, int err, const char *hint)
{
	fprintf(stderr, "mmsync: %s: %s%s%s%s%s%s\n", cli_name(name),
		path ? path : "", path ? ": " : "", strerror(-err),
		hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
	return CLI_FAIL;
}

int cli_errorf(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mmsync: %s: ", cli_name(name));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

const char *cli_reader_hint(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such channel";
	case -EBADMSG:
		return "the files are not a valid channel";
	case -EUSERS:
		return "the reader table is full";
	case -EACCES:
		return "no permission to read the channel";
	case -ETIMEDOUT:
		return "the memfd writer did not hand the channel over";
	}
	return NULL;
}

const char *cli_writer_hint(int err)
{
	switch (err) {
	case -EBUSY:
		return "another writer holds the channel";
	case -EBADMSG:
		return "its files are not a valid channel";
	case -EEXIST:
		return "a file in the way is not part of a channel";
	case -EPERM:
		return "a file of the channel belongs to another user or is "
		       "not a regular file";
	case -EINVAL:
		return "a bad name, or options the channel does not take";
	case -ENOBUFS:
		return "no huge pages reserved";
	}
	return NULL;
}

int cli_open_reader(const char *name, bool verify, struct mmsync_reader **r)
{
	MMSYNC_OPTS(mmsync_reader_opts, o,
		    .flags = verify ? MMSYNC_READ_VERIFY : 0);
	int err = mmsync_reader_open(name, &o, r);

	return err ? cli_error(name, NULL, err, cli_reader_hint(err)) : 0;
}

/* The error line for a failed mmsync_read_begin(). */
int cli_begin_error(const char *name, int err)
{
	switch (err) {
	case -ENODATA:
		return cli_error(name, NULL, err, "nothing published yet");
	case -EIO:
		return cli_error(name, NULL, err,
				 "checksum mismatch: the snapshot is damaged");
	case -EBADMSG:
		return cli_error(name, NULL, err, "the channel is damaged");
	}
	return cli_error(name, NULL, err, NULL);
}

/* A number with an optional unit from @units; -EINVAL if none matches. */
static int parse_scaled(const char *s, const char *const *units,
			const double *scale, double *out)
{
	char *end;
	double v;
	int i;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	for (i = 0; units[i]; i++) {
		if (!strcmp(end, units[i])) {
			*out = v * scale[i];
			return 0;
		}
	}
	return -EINVAL;
}

int parse_duration(const char *s, int64_t *ns)
{
	static const char *const units[] = { "",   "s", "ms", "us",
					     "ns", "m", "h",  NULL };
	static const double scale[] = { 1e9, 1e9, 1e6, 1e3, 1, 60e9, 3600e9 };
	double v;

	if (parse_scaled(s, units, scale, &v) || v >= 9.2e18)
		return -EINVAL;
	*ns = (int64_t)v;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const char *const units[] = { "",    "B", "K",	"KiB",
					     "k",   "M", "MiB", "G",
					     "GiB", "T", "TiB", NULL };
	static const double scale[] = { 1,	 1,	     1024,	1024,
					1024,	 1 << 20,    1 << 20,	1 << 30,
					1 << 30, 1ull << 40, 1ull << 40 };
	double v;

	if (parse_scaled(s, units, scale, &v) || v >= 1.8e19 || v != floor(v))
		return -EINVAL;
	*bytes = (uint64_t)v;
	return 0;
}

int parse_u32(const char *s, uint32_t *v)
{
	unsigned long long n;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)n;
	return 0;
}

int parse_mode(const char *s, uint32_t *mode)
{
	unsigned long n;
	char *end;

	if (!s || *s < '0' || *s > '7')
		return -EINVAL;
	errno = 0;
	n = strtoul(s, &end, 8);
	if (errno || *end || n > 07777)
		return -EINVAL;
	*mode = (uint32_t)n;
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

error_t cli_one_name(int key, char *arg, struct argp_state *state,
		     const char **name)
{
	switch (key) {
	case ARGP_KEY_ARG:
		if (state->arg_num > 0)
			argp_error(state, "one NAME only");
		*name = arg;
		return 0;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "a channel NAME is required");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static error_t common_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		return 0; /* not reached: it exits 0 */
	}
	return ARGP_ERR_UNKNOWN;
}

static const struct argp_option common_opts[] = {
	{ NULL, 'h', NULL, 0, "Give this help list (the same as --help)", -1 },
	{},
};

const struct argp cli_common_argp = {
	.options = common_opts,
	.parser = common_parse,
};

int cli_parse(const struct argp *argp, int argc, char **argv, void *input)
{
	char prog[64];
	char *saved = argv[0];
	int err;

	/* argp names the program after argv[0]: make it "mmsync VERB". */
	snprintf(prog, sizeof(prog), "mmsync %s", argv[0]);
	argv[0] = prog;
	err = argp_parse(argp, argc, argv, 0, NULL, input);
	argv[0] = saved;
	return err ? CLI_USAGE : 0;
}
