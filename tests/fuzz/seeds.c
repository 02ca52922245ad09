// SPDX-License-Identifier: MIT
/*
 * seeds.c - the seed corpus: for every template, a few programs that reach
 * each part of the contract once (fuzz.h describes the input language),
 * so that the fuzzer starts deep instead of from random bytes.
 *
 *   fuzz_seeds reader|writer DIR    write the seeds of a harness to DIR
 *
 * The replay driver (replay.c) uses the same seeds in memory.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NR_TEMPLATES 7 /* chan.c: make_template() */

struct seed {
	uint8_t buf[1 + FZ_MAX_RECORDS * FZ_RECORD];
	size_t n;
};

static void rec(struct seed *s, int op, uint8_t a, uint16_t b, uint64_t v)
{
	uint8_t *p = s->buf + s->n;

	if (s->n + FZ_RECORD > sizeof(s->buf))
		return;
	p[0] = (uint8_t)op;
	p[1] = a;
	p[2] = (uint8_t)b;
	p[3] = (uint8_t)(b >> 8);
	memcpy(p + 4, &v, 8); /* little-endian */
	s->n += FZ_RECORD;
}

/* Template @tmpl; the epilogue runs the observers (prog.c). */
static void start(struct seed *s, int tmpl)
{
	s->n = 1;
	s->buf[0] = (uint8_t)(tmpl | 4 << 3);
}

/* A reader's whole life: open, views, waits, fd, observers, close. */
static void reader_life(struct seed *s, uint16_t flags)
{
	rec(s, OP_ROPEN, 0, flags, 0);
	rec(s, OP_READ, 0, 1, 0);
	rec(s, OP_BEGIN, 0, 0, 0);
	rec(s, OP_WAIT, 0, 1, 0);
	rec(s, OP_WAIT, 0, 2, 0);
	rec(s, OP_RFD, 0, 0, 0);
	rec(s, OP_STAT, 0, 0, 0);
	rec(s, OP_FOREACH, 0, 0, 0);
	rec(s, OP_END, 0, 0, 0);
	rec(s, OP_RCLOSE, 0, 0, 0);
}

/* Damage, one kind per seed: each is something a reader must refuse. */
static void damage(struct seed *s, int k)
{
	switch (k) {
	case 0:
		rec(s, OP_STATE_FIELD, 0, 4, 5);
		break; /* magic bit */
	case 1:
		rec(s, OP_STATE_FIELD, 4, 2, 0);
		break; /* nr_entries 0 */
	case 2:
		rec(s, OP_SIZE, FZ_TABLE, 5, 1);
		break; /* table short */
	case 3:
		rec(s, OP_SIZE, FZ_DATA1, 1, 0);
		break; /* data gone */
	case 4:
		rec(s, OP_SET_ID, 1, FZ_DATA1, 0);
		break; /* wrong object */
	case 5:
		rec(s, OP_KIND, FZ_STATE, FZ_SYMLINK, 0);
		break;
	case 6:
		rec(s, OP_KIND, FZ_TABLE, FZ_FIFO, 0);
		break;
	case 7:
		rec(s, OP_STATE_FIELD, 15, 2, 19);
		break; /* gen MAX_GEN */
	case 8:
		rec(s, OP_STATE_FIELD, 22, 2, 23);
		break; /* cap > MAX_CAP */
	case 9:
		rec(s, OP_LOCK_ENTRY, 255, 0, 0);
		break; /* table full */
	case 10:
		rec(s, OP_SIZE, FZ_STATE, 7, 8);
		break; /* < header */
	}
}

static void reader_seeds(fz_emit_fn emit, void *arg)
{
	struct seed s;
	char name[64];
	int t, k;

	for (t = 0; t < NR_TEMPLATES; t++) {
		start(&s, t);
		snprintf(name, sizeof(name), "t%d-epilogue", t);
		emit(name, s.buf, s.n, arg);
		start(&s, t);
		reader_life(&s, 0);
		snprintf(name, sizeof(name), "t%d-life", t);
		emit(name, s.buf, s.n, arg);
		start(&s, t);
		reader_life(&s, MMSYNC_READ_VERIFY | MMSYNC_READ_XCHG);
		snprintf(name, sizeof(name), "t%d-verify", t);
		emit(name, s.buf, s.n, arg);
		for (k = 0; k < 11; k++) {
			start(&s, t);
			damage(&s, k);
			reader_life(&s, 0);
			snprintf(name, sizeof(name), "t%d-damage%d", t, k);
			emit(name, s.buf, s.n, arg);
		}
		/* Damage under an open reader: the owner edits the state. */
		start(&s, t);
		rec(&s, OP_ROPEN, 1, 0, 0);
		rec(&s, OP_BEGIN, 1, 0, 0);
		rec(&s, OP_STATE_FIELD, 15, 3, 1); /* gen + 1 */
		rec(&s, OP_END, 1, 0, 0);
		rec(&s, OP_READ, 1, 3, 0);
		snprintf(name, sizeof(name), "t%d-live", t);
		emit(name, s.buf, s.n, arg);
	}
}

static void writer_seeds(fz_emit_fn emit, void *arg)
{
	struct seed s;
	char name[64];
	int t;

	for (t = 0; t < NR_TEMPLATES; t++) {
		start(&s, t);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_PUBLISH, 0, 1000, 7);
		rec(&s, OP_PUBLISH, 0, 0x1000 | 4, 8);
		reader_life(&s, 0);
		rec(&s, OP_WCLOSE, 0, 0, 0);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_PUBLISH_IOV, 3, 5000, 0x030201);
		snprintf(name, sizeof(name), "t%d-publish", t);
		emit(name, s.buf, s.n, arg);

		/* A view across two publishes, evicted; then refused. */
		start(&s, t);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_PUBLISH, 0, 10, 1);
		rec(&s, OP_ROPEN, 0, 0, 0);
		rec(&s, OP_BEGIN, 0, 0, 0);
		rec(&s, OP_PUBLISH, 0, 20, 2);
		rec(&s, OP_PUBLISH, 0, 30, 3);
		rec(&s, OP_END, 0, 0, 0);
		rec(&s, OP_WCLOSE, 0, 0, 0);
		rec(&s, OP_WOPEN, 4, 0, 0); /* MMSYNC_GRACE_REFUSE */
		rec(&s, OP_BEGIN, 0, 0, 0);
		rec(&s, OP_PUBLISH, 0, 40, 4);
		rec(&s, OP_PUBLISH, 0, 50, 5);
		rec(&s, OP_END, 0, 0, 0);
		snprintf(name, sizeof(name), "t%d-grace", t);
		emit(name, s.buf, s.n, arg);

		/* A reader holding its descriptor is woken by each publish. */
		start(&s, t);
		rec(&s, OP_ROPEN, 1, 0, 0);
		rec(&s, OP_RFD, 1, 0, 0);
		rec(&s, OP_WAIT, 1, 2, 0);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_PUBLISH, 0, 64, 15);
		rec(&s, OP_WAIT, 1, 1, 0);
		rec(&s, OP_RESERVE, 0, 64, 16);
		rec(&s, OP_COMMIT, 0, 0, 0);
		rec(&s, OP_WAIT, 1, 2, 0);
		snprintf(name, sizeof(name), "t%d-notify", t);
		emit(name, s.buf, s.n, arg);

		/* Reserve and commit, abort; a second writer; unlink. */
		start(&s, t);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_RESERVE, 0, 3000, 9);
		rec(&s, OP_COMMIT, 1, 0, 0);
		rec(&s, OP_RESERVE, 0, 100, 10);
		rec(&s, OP_ABORT, 0, 0, 0);
		rec(&s, OP_COMMIT, 0, 0, 0);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_UNLINK, 0, 0, 0);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_WCLOSE, 0, 0, 0);
		rec(&s, OP_WOPEN, 0, 0, 0);
		rec(&s, OP_PUBLISH, 0, 5, 11);
		snprintf(name, sizeof(name), "t%d-reserve", t);
		emit(name, s.buf, s.n, arg);

		/* Files that are not a channel: the writer must refuse. */
		start(&s, t);
		rec(&s, OP_SET_ID, 0, FZ_DATA0, 0);
		rec(&s, OP_WOPEN, 0, 0, 0);
		snprintf(name, sizeof(name), "t%d-refuse", t);
		emit(name, s.buf, s.n, arg);

		/* A new channel over leftovers; a held writer lock. */
		start(&s, t);
		rec(&s, OP_KIND, FZ_STATE, FZ_MISSING, 0);
		rec(&s, OP_WOPEN, 8, 0, 0);
		rec(&s, OP_PUBLISH, 0, 77, 12);
		snprintf(name, sizeof(name), "t%d-fresh", t);
		emit(name, s.buf, s.n, arg);
		start(&s, t);
		rec(&s, OP_LOCK_WRITER, 0, 0, 0);
		rec(&s, OP_RDLOCK_STATE, 0, 0, 0);
		rec(&s, OP_WOPEN, 0, 0, 0);
		snprintf(name, sizeof(name), "t%d-busy", t);
		emit(name, s.buf, s.n, arg);

		/* Hostile table: a live entry pinning the slot, counts zeroed. */
		start(&s, t);
		rec(&s, OP_TABLE_FIELD, 0, (5 << 3) | 5, 1); /* pin gen-1 */
		rec(&s, OP_LOCK_ENTRY, 5, 0, 0);
		rec(&s, OP_WOPEN, 4, 1, 0);
		rec(&s, OP_PUBLISH, 0, 10, 13);
		rec(&s, OP_TABLE_FIELD, 11, 0, 0); /* claimed count 0 */
		rec(&s, OP_PUBLISH, 0, 10, 14);
		snprintf(name, sizeof(name), "t%d-hostile", t);
		emit(name, s.buf, s.n, arg);
	}
}

void fz_seeds(int ops, fz_emit_fn emit, void *arg)
{
	reader_seeds(emit, arg);
	if (ops == OP_NR_ALL)
		writer_seeds(emit, arg);
}

#ifdef FZ_SEEDS_MAIN
static void to_file(const char *name, const uint8_t *p, size_t n, void *arg)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%s", (const char *)arg, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 ||
	    (strcmp(argv[1], "reader") && strcmp(argv[1], "writer"))) {
		fprintf(stderr, "usage: %s reader|writer DIR\n", argv[0]);
		return 2;
	}
	fz_seeds(strcmp(argv[1], "reader") ? OP_NR_ALL : OP_NR_READER, to_file,
		 argv[2]);
	return 0;
}
#endif
