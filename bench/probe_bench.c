// SPDX-License-Identifier: MIT
/*
 * probe_bench.c - what the USDT probes cost the inline read path.
 *
 * One reader loops over read_begin, a load of the first byte, read_end.
 * Built twice by bench/probes.mk: as is (probes compiled in: the inline
 * path tests the pin/unpin semaphore word) and with -DMMSYNC_NO_PROBES
 * against a library built the same way. bench/probes.sh runs both under
 * callgrind (instructions per read: stable on a VM without hardware
 * counters) and on the clock, idle and with mmsync-trace attached.
 *
 *   probe_bench [-f membarrier|xchg] [-n ITERS] [-r REPS]
 *
 * Prints "ns_per_read=X" (the best of REPS timed loops of ITERS reads).
 * Under callgrind, collect with --toggle-collect=read_loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mmsync.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
		sum += ((const unsigned char *)v.data)[0];
		if (mmsync_read_end(r, &v))
			return 0;
	}
	return sum;
}

int main(int argc, char **argv)
{
	MMSYNC_OPTS(mmsync_writer_opts, wo,
		    .fence_mode = MMSYNC_FENCE_MEMBARRIER);
	struct mmsync_writer *w;
	struct mmsync_reader *r;
	long iters = 10000000, reps = 5, k;
	uint64_t t0, best = UINT64_MAX, sum;
	char name[128], buf[4096];
	int opt, err;

	while ((opt = getopt(argc, argv, "f:n:r:")) != -1) {
		switch (opt) {
		case 'f':
			if (!strcmp(optarg, "xchg"))
				wo.fence_mode = MMSYNC_FENCE_XCHG;
			else if (strcmp(optarg, "membarrier"))
				return 2;
			break;
		case 'n':
			iters = atol(optarg);
			break;
		case 'r':
			reps = atol(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-f membarrier|xchg] [-n ITERS] [-r REPS]\n",
				argv[0]);
			return 2;
		}
	}
	if (iters <= 0 || reps <= 0)
		return 2;
	snprintf(name, sizeof(name), "/dev/shm/mmsync-probe-bench-%d",
		 (int)getpid());
	err = mmsync_writer_open(name, &wo, &w);
	if (!err)
		err = mmsync_reader_open(name, NULL, &r);
	if (err) {
		fprintf(stderr, "probe_bench: %s\n", strerror(-err));
		return 1;
	}
	memset(buf, 7, sizeof(buf));
	if (mmsync_publish(w, buf, sizeof(buf), NULL) ||
	    read_loop(r, 1000) != 7 * 1000) { /* maps the slot, warms up */
		fprintf(stderr, "probe_bench: reads fail\n");
		return 1;
	}
	for (k = 0; k < reps; k++) {
		t0 = now_ns();
		sum = read_loop(r, iters);
		t0 = now_ns() - t0;
		if (sum != 7ull * (uint64_t)iters) {
			fprintf(stderr, "probe_bench: a read failed\n");
			return 1;
		}
		if (t0 < best)
			best = t0;
	}
	printf("fence=%s iters=%ld ns_per_read=%.3f\n",
	       wo.fence_mode == MMSYNC_FENCE_XCHG ? "xchg" : "membarrier",
	       iters, (double)best / (double)iters);
	mmsync_reader_close(r);
	mmsync_writer_close(w);
	mmsync_unlink(name);
	return 0;
}
