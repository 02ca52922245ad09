// SPDX-License-Identifier: MIT
/*
 * peer.c - the C side of rust/tests/interop.rs: a writer or reader process
 * that uses the header's inline read path, against the Rust bindings.
 *
 *   peer write NAME COUNT SIZE   publish COUNT generations, each the
 *                                pattern of its generation; print
 *                                "GEN CHECKSUM" for the last one
 *   peer read NAME SIZE          verify the current snapshot (XXH3 via
 *                                MMSYNC_READ_VERIFY, pattern, size); print
 *                                "GEN SIZE CHECKSUM"
 *   peer readloop NAME N SIZE    N verified reads while a writer
 *                                publishes; print "READS GENERATIONS"
 *
 * The pattern is pattern_byte() of rust/tests/common/mod.rs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmsync.h>

static unsigned char pattern_byte(uint64_t gen, uint64_t i)
{
	return (unsigned char)((gen * 131 + i * 7) ^ (i >> 8));
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "peer: %s: %s\n", what, strerror(-err));
	return 1;
}

static int do_write(const char *name, long count, size_t size)
{
	struct mmsync_publish_info info = { 0 };
	struct mmsync_writer *w;
	unsigned char *buf = malloc(size ? size : 1);
	int err;

	if (!buf)
		return 1;
	err = mmsync_writer_open(name, NULL, &w);
	if (err)
		return fail("writer_open", err);
	for (long n = 0; n < count; n++) {
		uint64_t gen = mmsync_writer_gen(w) + 1;

		for (size_t i = 0; i < size; i++)
			buf[i] = pattern_byte(gen, i);
		err = mmsync_publish(w, buf, size, &info);
		if (err)
			return fail("publish", err);
		if (info.gen != gen)
			return fail("publish: unexpected generation", -EPROTO);
	}
	printf("%llu %llu\n", (unsigned long long)info.gen,
	       (unsigned long long)info.checksum);
	mmsync_writer_close(w);
	free(buf);
	return 0;
}

/*
 * One verified read; returns its generation, 0 after printing why, or
 * UINT64_MAX if the view was evicted (a reader descheduled past the
 * grace period: its bytes may be torn, and read_end says so).
 */
static uint64_t read_one(struct mmsync_reader *r, size_t size, uint64_t *sum)
{
	struct mmsync_view v;
	const unsigned char *p;
	size_t bad = SIZE_MAX;
	int err;

	err = mmsync_read_begin(r, &v);
	if (err)
		return fail("read_begin", err), 0;
	p = v.data;
	*sum = v.checksum;
	for (size_t i = 0; v.size == size && i < size; i++) {
		if (p[i] != pattern_byte(v.gen, i)) {
			bad = i;
			break;
		}
	}
	err = mmsync_read_end(r, &v);
	if (err == -ESTALE)
		return UINT64_MAX;
	if (err)
		return fail("read_end", err), 0;
	if (v.size != size) {
		fprintf(stderr, "peer: generation %llu: %zu bytes, not %zu\n",
			(unsigned long long)v.gen, v.size, size);
		return 0;
	}
	if (bad != SIZE_MAX) {
		fprintf(stderr, "peer: generation %llu: byte %zu torn\n",
			(unsigned long long)v.gen, bad);
		return 0;
	}
	return v.gen;
}

static int do_read(const char *name, long loops, size_t size)
{
	MMSYNC_OPTS(mmsync_reader_opts, o, .flags = MMSYNC_READ_VERIFY);
	struct mmsync_reader *r;
	uint64_t gen = 0, last = 0, seen = 0, sum = 0;
	int err;

	err = mmsync_reader_open(name, &o, &r);
	if (err)
		return fail("reader_open", err);
	for (long n = 0; n < loops; n++) {
		gen = read_one(r, size, &sum);
		if (!gen)
			return 1;
		if (gen == UINT64_MAX) {
			gen = last;
			continue;
		}
		if (gen < last) {
			fprintf(stderr,
				"peer: generation went back %llu -> %llu\n",
				(unsigned long long)last,
				(unsigned long long)gen);
			return 1;
		}
		seen += gen != last;
		last = gen;
	}
	if (loops == 1)
		printf("%llu %zu %llu\n", (unsigned long long)gen, size,
		       (unsigned long long)sum);
	else
		printf("%ld %llu\n", loops, (unsigned long long)seen);
	mmsync_reader_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "write"))
		return do_write(argv[2], atol(argv[3]), strtoul(argv[4], 0, 0));
	if (argc == 4 && !strcmp(argv[1], "read"))
		return do_read(argv[2], 1, strtoul(argv[3], 0, 0));
	if (argc == 5 && !strcmp(argv[1], "readloop"))
		return do_read(argv[2], atol(argv[3]), strtoul(argv[4], 0, 0));
	fprintf(stderr, "usage: peer write NAME COUNT SIZE | read NAME SIZE | "
			"readloop NAME N SIZE\n");
	return 2;
}
