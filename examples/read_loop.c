// SPDX-License-Identifier: MIT
/*
 * read_loop.c - read a channel N times in a loop and report the rate.
 * Run it under `strace -c` to see that reads make no syscall: the count of
 * syscalls does not grow with N.
 *
 *   read_loop [NAME [N]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mmsync.h>

#include "hello.h"

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : HELLO_CHANNEL;
	long n = argc > 2 ? atol(argv[2]) : 10000000, i, clean = 0;
	struct timespec a, b;
	struct mmsync_reader *r;
	struct mmsync_view v;
	uint64_t sum = 0;
	double ns;
	int err;

	err = mmsync_reader_open(name, NULL, &r);
	if (err) {
		fprintf(stderr, "read_loop: open %s: %s\n", name,
			strerror(-err));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		if (mmsync_read_begin(r, &v))
			continue;
		sum += v.size ? *(const unsigned char *)v.data : 0;
		clean += mmsync_read_end(r, &v) == 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (double)(b.tv_sec - a.tv_sec) * 1e9 +
	     (double)(b.tv_nsec - a.tv_nsec);
	printf("read_loop: %ld reads, %ld clean, %.2f ns/read (checksum byte sum %llu)\n",
	       n, clean, n ? ns / (double)n : 0.0, (unsigned long long)sum);
	mmsync_reader_close(r);
	return 0;
}
