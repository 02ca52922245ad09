// SPDX-License-Identifier: MIT
/*
 * c_peer.c - the C side of the Python binding's interop tests.
 *
 *   c_peer write NAME N SIZE   publish N generations of SIZE bytes, byte i
 *                              of generation g being (g * 31 + i) & 0xff;
 *                              print "gen G checksum C" per publish
 *   c_peer read NAME           print "gen G size S checksum C\n" and the
 *                              bytes of the current snapshot (inline read
 *                              path), then check that they hash like the
 *                              writer said (MMSYNC_READ_VERIFY, 2nd handle)
 *   c_peer hold NAME SECONDS   open a view, print "pinned G", keep it for
 *                              SECONDS, then print "end E" (read_end's
 *                              return value)
 *
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mmsync.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "c_peer: %s: %s\n", what, strerror(-err));
	return 1;
}

static int do_write(const char *name, long n, size_t size)
{
	struct mmsync_publish_info info;
	struct mmsync_writer *w;
	unsigned char *buf;
	size_t i;
	long k;
	int err;

	err = mmsync_writer_open(name, NULL, &w);
	if (err)
		return fail("writer_open", err);
	buf = malloc(size ? size : 1);
	if (!buf) {
		mmsync_writer_close(w);
		return fail("malloc", -ENOMEM);
	}
	for (k = 0; k < n; k++) {
		uint64_t g = mmsync_writer_gen(w) + 1;

		for (i = 0; i < size; i++)
			buf[i] = (unsigned char)((g * 31 + i) & 0xff);
		err = mmsync_publish(w, buf, size, &info);
		if (err)
			break;
		printf("gen %llu checksum %llu\n", (unsigned long long)info.gen,
		       (unsigned long long)info.checksum);
	}
	free(buf);
	mmsync_writer_close(w);
	return err ? fail("publish", err) : 0;
}

static int do_read(const char *name)
{
	MMSYNC_OPTS(mmsync_reader_opts, vo, .flags = MMSYNC_READ_VERIFY);
	struct mmsync_reader *r, *rv;
	struct mmsync_view v, vv;
	int err;

	err = mmsync_reader_open(name, NULL, &r);
	if (err)
		return fail("reader_open", err);
	err = mmsync_read_begin(r, &v);
	if (err) {
		mmsync_reader_close(r);
		return fail("read_begin", err);
	}
	printf("gen %llu size %zu checksum %llu\n", (unsigned long long)v.gen,
	       v.size, (unsigned long long)v.checksum);
	fwrite(v.data, 1, v.size, stdout);
	err = mmsync_read_end(r, &v);
	mmsync_reader_close(r);
	if (err)
		return fail("read_end", err);
	/* The checksum the writer stored must match the bytes. */
	err = mmsync_reader_open(name, &vo, &rv);
	if (err)
		return fail("reader_open (verify)", err);
	err = mmsync_read_begin(rv, &vv);
	if (!err)
		err = mmsync_read_end(rv, &vv);
	mmsync_reader_close(rv);
	return err ? fail("verified read", err) : 0;
}

static int do_hold(const char *name, double seconds)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	int err;

	err = mmsync_reader_open(name, NULL, &r);
	if (err)
		return fail("reader_open", err);
	err = mmsync_read_begin(r, &v);
	if (err) {
		mmsync_reader_close(r);
		return fail("read_begin", err);
	}
	printf("pinned %llu\n", (unsigned long long)v.gen);
	fflush(stdout);
	usleep((useconds_t)(seconds * 1e6));
	err = mmsync_read_end(r, &v);
	printf("end %d\n", err);
	mmsync_reader_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "write"))
		return do_write(argv[2], atol(argv[3]),
				(size_t)strtoull(argv[4], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "read"))
		return do_read(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return do_hold(argv[2], atof(argv[3]));
	fprintf(stderr, "usage: c_peer write NAME N SIZE | read NAME | "
			"hold NAME SECONDS\n");
	return 2;
}
