// SPDX-License-Identifier: MIT
/*
 * read_instr.c - issue 15, part 4: the read cost of an idle channel,
 * inline path, for callgrind's instruction counts and for the clock. It
 * uses only the public API, so the same file builds against this tree and
 * against the commit before state format 2 (bench/pub.mk builds both;
 * bench/pub_readcost.sh runs them in one run).
 *
 * One reader handle, an idle writer in the same process, a 4 KiB
 * snapshot. read_loop(): read_begin, load the first 8 bytes, read_end,
 * @n times; noinline, so that callgrind can count it alone
 * (--toggle-collect=read_loop): instructions per read = its count / reads.
 *
 *   read_instr -a MODE[,READS[,LOOPS]] [-d DIR]
 *
 * MODE: membarrier or xchg. Prints the median ns per read over LOOPS
 * timed loops of READS reads (defaults 2000000 and 15), and the reads
 * read_loop made in all (warm-up included) for the division.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mmsync.h>

#include "bench.h"

#define WARMUP 1000
#define MAX_LOOPS 101

static const char usage[] =
	"  -a  MODE[,READS[,LOOPS]]: membarrier|xchg, reads per loop,\n"
	"      timed loops (default 2000000, 15)\n";

/* The measured loop; noinline so that callgrind can collect it alone. */
__attribute__((noinline)) static uint64_t read_loop(struct mmsync_reader *r,
						    long n)
{
	struct mmsync_view v;
	uint64_t sum = 0;
	long i;

	for (i = 0; i < n; i++) {
		if (mmsync_read_begin(r, &v))
			return 0;
		sum += *(const uint64_t *)v.data;
		if (mmsync_read_end(r, &v))
			return 0;
	}
	return sum;
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 1, .secs = 1 };
	char mode[16] = "", path[256];
	long reads = 2000000, loops = 15, k, total = 0;
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	uint64_t buf[512], t0;
	double ns[MAX_LOOPS], med;
	int err;

	bench_parse(argc, argv, &o, usage);
	if (!o.arg ||
	    sscanf(o.arg, "%15[^,],%ld,%ld", mode, &reads, &loops) < 1)
		bench_die("read_instr: -a MODE[,READS[,LOOPS]]");
	if (reads < 1 || loops < 1 || loops > MAX_LOOPS)
		bench_die("read_instr: READS >= 1, 1 <= LOOPS <= %d",
			  MAX_LOOPS);
	MMSYNC_OPTS(mmsync_writer_opts, wo,
		    .fence_mode = !strcmp(mode, "xchg") ?
					  MMSYNC_FENCE_XCHG :
					  MMSYNC_FENCE_MEMBARRIER);
	if (strcmp(mode, "xchg") && strcmp(mode, "membarrier"))
		bench_die("read_instr: mode %s: membarrier or xchg", mode);
	bench_pin(1);
	snprintf(path, sizeof(path), "%s/readinstr-%d", o.dir, (int)getpid());
	mmsync_unlink(path);
	err = mmsync_writer_open(path, &wo, &w);
	if (!err)
		err = mmsync_reader_open(path, NULL, &r);
	if (err)
		bench_die("read_instr: open: %s", strerror(-err));
	for (k = 0; k < 512; k++)
		buf[k] = 7;
	/* Maps the slot (slow path once), then warms up. */
	if (mmsync_publish(w, buf, sizeof(buf), NULL) ||
	    read_loop(r, WARMUP) != 7 * WARMUP)
		bench_die("read_instr: reads fail");
	total = WARMUP;
	for (k = 0; k < loops; k++) {
		t0 = bench_now_ns();
		if (read_loop(r, reads) != 7ull * (uint64_t)reads)
			bench_die("read_instr: a read failed");
		ns[k] = (double)(bench_now_ns() - t0) / (double)reads;
		total += reads;
	}
	med = bench_median(ns, (int)loops); /* sorts ns: ns[0] is the least */
	printf("mode=%s reads_in_loop=%ld ns_per_read=%.3f ns_min=%.3f\n", mode,
	       total, med, ns[0]);
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	mmsync_unlink(path);
	return 0;
}
