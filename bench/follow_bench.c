// SPDX-License-Identifier: MIT
/*
 * follow_bench.c - how long from a change at the source to the new
 * generation being readable, through a running `mmsync follow`.
 *
 *   follow_bench etcd URL KEY NAME N [BYTES]      PUT over the JSON gateway
 *   follow_bench etcdctl URL KEY NAME N [BYTES]   `etcdctl put` (a process)
 *   follow_bench file PATH NAME N [BYTES]         rename(2) over PATH
 *
 * For each of N changes (values of BYTES bytes, 64 by default, each
 * different): t0 just before the change is made, t1 when a reader of
 * channel NAME sees a generation newer than before and its bytes are the
 * new value. The reader checks every 20 us (mmsync_wait's poll_ns), so
 * that is the resolution; it does not spin, which on a small machine
 * would take the CPU the follower and etcd need. One change at a time:
 * the next starts once the last is readable. Prints the percentiles in
 * ms, and for etcd the time the put itself took (its reply) as well.
 *
 * bench/follow.sh starts etcd and the followers and runs this.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include <mmsync.h>

#include "follow.h"

extern char **environ;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "follow_bench: %s\n", what);
	exit(1);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, int n, double p)
{
	int i = (int)(p * n + 0.999999) - 1;

	return v[i < 0 ? 0 : i >= n ? n - 1 : i] / 1e6;
}

static void report(const char *what, int64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("%-24s n=%d  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n",
	       what, n, pct(v, n, 0.50), pct(v, n, 0.90), pct(v, n, 0.99),
	       v[n - 1] / 1e6);
}

/* The value of change @i: @len bytes, different for each i. */
static void value(char *buf, size_t len, int i)
{
	size_t k;
	int n = snprintf(buf, len, "bench %d ", i);

	for (k = n > 0 ? (size_t)n : 0; k < len; k++)
		buf[k] = (char)('a' + (k + (size_t)i) % 26);
}

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
	return s * n;
}

/* PUT @key = @val through the gateway, on @h's kept-alive connection. */
static void http_put(CURL *h, const char *url, const char *key, const char *val,
		     size_t len)
{
	char *kb = malloc(follow_b64_len(strlen(key)) + 1);
	char *vb = malloc(follow_b64_len(len) + 1);
	json_object *o = json_object_new_object();
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: "
							"application/json");
	long code = 0;

	follow_b64_encode(key, strlen(key), kb);
	follow_b64_encode(val, len, vb);
	json_object_object_add(o, "key", json_object_new_string(kb));
	json_object_object_add(o, "value", json_object_new_string(vb));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS,
			 json_object_to_json_string_ext(
				 o, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	if (curl_easy_perform(h) != CURLE_OK)
		die("the put failed");
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		die("the put was refused");
	json_object_put(o);
	curl_slist_free_all(hd);
	free(kb);
	free(vb);
}

static pid_t etcdctl_put(const char *url, const char *key, const char *val)
{
	char ep[512];
	char *argv[] = { "etcdctl", ep, "put", (char *)key, (char *)val, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;

	snprintf(ep, sizeof(ep), "--endpoints=%s", url);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
					 O_WRONLY, 0);
	if (posix_spawnp(&pid, "etcdctl", &fa, NULL, argv, environ))
		die("cannot run etcdctl");
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static void file_put(const char *path, const char *val, size_t len)
{
	char tmp[4096];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.bench-tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, val, len) != (ssize_t)len || close(fd))
		die("cannot write the file");
}

/* Wait until the channel holds @val in a generation after @after. */
static uint64_t wait_value(struct mmsync_reader *r, uint64_t after,
			   const char *val, size_t len)
{
	struct mmsync_view v;
	int64_t limit = now_ns() + 10000000000ll;
	bool same;

	for (;;) {
		if (mmsync_wait(r, after, 10000000000ll))
			die("no new generation within 10 s");
		if (mmsync_read_begin(r, &v))
			die("read_begin failed");
		same = v.size == len && !memcmp(v.data, val, len);
		after = v.gen;
		if (mmsync_read_end(r, &v) == 0 && same)
			return after;
		if (now_ns() > limit)
			die("the channel does not get the value");
	}
}

int main(int argc, char **argv)
{
	MMSYNC_OPTS(mmsync_reader_opts, ro, .poll_ns = 20000);
	const char *mode, *src, *key = NULL, *name;
	struct mmsync_reader *r;
	int64_t *lat, *put = NULL, t0, t1;
	char url[4096], tmp[4096], *val;
	size_t len = 64;
	int n, i, status, a = 2;
	CURL *h = NULL;
	uint64_t gen;
	pid_t pid = -1;

	if (argc < 5)
		die("usage: follow_bench etcd|etcdctl URL KEY NAME N [BYTES] | "
		    "file PATH NAME N [BYTES]");
	mode = argv[1];
	src = argv[a++];
	if (strcmp(mode, "file"))
		key = argv[a++];
	if (argc < a + 2)
		die("missing NAME or N");
	name = argv[a++];
	n = atoi(argv[a++]);
	if (argc > a)
		len = (size_t)atol(argv[a]);
	if (n <= 0 || len < 16)
		die("bad N or BYTES (16 at least)");
	lat = calloc((size_t)n, sizeof(*lat));
	put = calloc((size_t)n, sizeof(*put));
	val = malloc(len);
	if (!lat || !put || !val)
		die("no memory");
	if (mmsync_reader_open(name, &ro, &r))
		die("cannot open the channel (is the follower running?)");
	if (!strcmp(mode, "etcd")) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		h = curl_easy_init();
		snprintf(url, sizeof(url), "%s/v3/kv/put", src);
	}
	for (i = 0; i < n; i++) {
		value(val, len, i);
		gen = mmsync_reader_gen(r);
		if (!strcmp(mode, "etcd")) {
			t0 = now_ns();
			http_put(h, url, key, val, len);
			put[i] = now_ns() - t0;
		} else if (!strcmp(mode, "etcdctl")) {
			val[len - 1] = '\0'; /* an argument */
			t0 = now_ns();
			pid = etcdctl_put(src, key, val);
		} else {
			file_put(src, val, len);
			snprintf(tmp, sizeof(tmp), "%s.bench-tmp", src);
			t0 = now_ns();
			if (rename(tmp, src))
				die("rename failed");
		}
		wait_value(r, gen, val,
			   !strcmp(mode, "etcdctl") ? len - 1 : len);
		t1 = now_ns();
		lat[i] = t1 - t0;
		if (!strcmp(mode, "etcdctl")) {
			if (waitpid(pid, &status, 0) < 0 || status)
				die("etcdctl put failed");
			put[i] = now_ns() - t0;
		}
	}
	if (!strcmp(mode, "file")) {
		report("rename -> readable", lat, n);
	} else {
		report(!strcmp(mode, "etcd") ? "put -> readable" :
					       "etcdctl put -> readable",
		       lat, n);
		report(!strcmp(mode, "etcd") ? "put (its reply)" :
					       "etcdctl put (its exit)",
		       put, n);
	}
	mmsync_reader_close(r);
	if (h)
		curl_easy_cleanup(h);
	return 0;
}
