// SPDX-License-Identifier: MIT
/*
 * pub_loop.c - N publishes of one size in a loop, nothing else: what
 * `strace -c` counts per publish (bench/pub.sh), and a quick probe of one
 * configuration.
 *
 *   pub_loop -a MODE,N,SIZE[,READER[,MAX_READERS]] [-d DIR]
 *
 * MODE: xchg or membarrier. READER: none (default); idle: a reader
 * handle of this process stays open on the channel (its table entry is
 * claimed) and reads once before the loop; proc: the same in a child
 * process, which then sleeps. MAX_READERS: the reader table's size
 * (default: the library's). Prints ns per publish of the whole loop and
 * the median over its batches of SUB publishes (which a preemption by
 * another process does not move); the channel is made and removed around
 * it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mmsync.h>

#include "bench.h"

/* Publishes per timed batch, and batches kept for the median. */
#define SUB 100
#define MAX_SUBS 100000

static const char usage[] =
	"  -a  MODE,N,SIZE[,READER[,MAX_READERS]]: xchg|membarrier,\n"
	"      publishes, bytes, none|idle|proc (default none), table size\n";

/* The child of READER=proc: open, read once, say so, sleep. */
static int child_main(void *arg)
{
	struct bench_gate *g = *(struct bench_gate **)arg;
	const char *path = (const char *)arg + sizeof(g);
	struct mmsync_reader *r;
	struct mmsync_view v;
	int err;

	err = mmsync_reader_open(path, NULL, &r);
	if (!err)
		err = mmsync_read_begin(r, &v);
	if (!err)
		err = mmsync_read_end(r, &v);
	bench_gate_ready(g, !err);
	while (!err && !bench_gate_stopped(g))
		bench_sleep_ns(10000000);
	if (!err)
		mmsync_reader_close(r);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .runs = 1, .secs = 1 };
	char mode[16] = "", rd[16] = "none", path[256];
	struct mmsync_reader *r = NULL;
	struct mmsync_writer *w;
	struct mmsync_view v;
	unsigned long long n = 0, size = 0, i, k = 0, nsub = 0;
	static double sub[MAX_SUBS];
	unsigned int max_readers = 0;
	struct bench_gate *g = NULL;
	unsigned char *buf;
	char carg[sizeof(g) + sizeof(path)];
	uint64_t t0, t;
	pid_t pid = -1;
	int err;

	bench_parse(argc, argv, &o, usage);
	if (!o.arg || sscanf(o.arg, "%15[^,],%llu,%llu,%15[^,],%u", mode, &n,
			     &size, rd, &max_readers) < 3)
		bench_die("pub_loop: -a MODE,N,SIZE[,READER[,MAX_READERS]]");
	MMSYNC_OPTS(mmsync_writer_opts, wo,
		    .fence_mode = !strcmp(mode, "xchg") ?
					  MMSYNC_FENCE_XCHG :
					  MMSYNC_FENCE_MEMBARRIER,
		    .max_readers = max_readers);
	if (strcmp(mode, "xchg") && strcmp(mode, "membarrier"))
		bench_die("pub_loop: mode %s: xchg or membarrier", mode);
	buf = calloc(1, size ? size : 1);
	if (!buf)
		bench_die("pub_loop: out of memory");
	snprintf(path, sizeof(path), "%s/publoop-%d", o.dir, (int)getpid());
	mmsync_unlink(path);
	err = mmsync_writer_open(path, &wo, &w);
	if (!err)
		err = mmsync_publish(w, buf, size, NULL);
	if (!err)
		err = mmsync_publish(w, buf, size, NULL);
	if (!err && !strcmp(rd, "idle")) {
		err = mmsync_reader_open(path, NULL, &r);
		if (!err)
			err = mmsync_read_begin(r, &v);
		if (!err)
			err = mmsync_read_end(r, &v);
	} else if (!err && !strcmp(rd, "proc")) {
		g = bench_shm(sizeof(*g));
		if (!g)
			bench_die("pub_loop: out of memory");
		memcpy(carg, &g, sizeof(g));
		memcpy(carg + sizeof(g), path, sizeof(path));
		pid = bench_spawn(child_main, carg);
		if (pid < 0 || bench_gate_wait_ready(g, 1))
			bench_die("pub_loop: the reader process failed");
	} else if (!err && strcmp(rd, "none")) {
		err = -EINVAL;
	}
	if (err)
		bench_die("pub_loop: setup: %s", strerror(-err));
	t0 = bench_now_ns();
	for (i = 0; i < n && !err; i += k) {
		uint64_t s0 = bench_now_ns();

		for (k = 0; k < SUB && i + k < n && !err; k++)
			err = mmsync_publish(w, buf, size, NULL);
		if (nsub < MAX_SUBS)
			sub[nsub++] = (double)(bench_now_ns() - s0) / (double)k;
	}
	t = bench_now_ns() - t0;
	if (err)
		bench_die("pub_loop: publish: %s", strerror(-err));
	printf("mode=%s reader=%s size=%llu publishes=%llu max_readers=%u "
	       "ns_per_publish=%.1f ns_median=%.1f\n",
	       mode, rd, size, n, max_readers, n ? (double)t / (double)n : 0,
	       nsub ? bench_median(sub, (int)nsub) : 0);
	if (r)
		mmsync_reader_close(r);
	if (pid > 0) {
		bench_gate_stop(g);
		if (bench_reap(pid))
			bench_die("pub_loop: the reader process failed");
		bench_shm_free(g, sizeof(*g));
	}
	mmsync_writer_close(w);
	mmsync_unlink(path);
	free(buf);
	return 0;
}
