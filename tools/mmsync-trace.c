// SPDX-License-Identifier: MIT
/*
 * mmsync-trace - watch libmmsync readers and writers with BPF: who pins
 * what and for how long, why a writer waited, which readers were evicted
 * or reclaimed. See --help and README.md, "Observability".
 *
 * The probes are the library's USDT probes (provider "mmsync"). They are
 * attached one uprobe per probe site, with the site's semaphore as the
 * uprobe's reference counter, so the kernel switches the library's gated
 * probes on in every process that maps it (and off when we detach).
 */
#define _GNU_SOURCE
#include <argp.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mmsync_trace.h"
#include "mmsync_trace.skel.h"
#include "fmt.h"
#include "usdt.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define DEFAULT_PIN_PATH "/sys/fs/bpf/mmsync"
#define LIB_SONAME "libmmsync.so.0"

static struct env {
	pid_t pid;
	const char *binary;
	double interval; /* s; 0: only at exit */
	double duration; /* s; 0: until interrupted */
	bool hist;
	bool events;
	bool json;
	bool pin;
	bool unpin;
	bool list;
	bool check;
	bool verbose;
	bool interval_set;
	unsigned long long long_pin_ms;
	const char *pin_path;
	int top;
} env = {
	.pid = -1,
	.interval = 1.0,
	.long_pin_ms = 100,
	.pin_path = DEFAULT_PIN_PATH,
	.top = 20,
};

const char *argp_program_version = "mmsync-trace 0.1";
static const char doc[] =
	"Trace libmmsync channels with BPF: reader pins, hold times, grace\n"
	"waits, evictions and reclaims.\n"
	"\n"
	"By default every process that maps libmmsync.so is traced, including\n"
	"processes started later. Needs root (CAP_BPF + CAP_PERFMON).\n"
	"\n"
	"EXAMPLES:\n"
	"    mmsync-trace                  # top-like table, refreshed every second\n"
	"    mmsync-trace -p 1234          # only process 1234\n"
	"    mmsync-trace --binary ./srv   # a program linked with libmmsync.a\n"
	"    mmsync-trace --hist -i 10     # hold/grace histograms every 10 s\n"
	"    mmsync-trace --events -T 5    # evictions, reclaims, pins held > 5 ms\n"
	"    mmsync-trace --json -d 30     # JSON lines for 30 s\n"
	"    mmsync-trace --pin -d 1       # leave probes and maps in the kernel;\n"
	"    bpftool map dump pinned /sys/fs/bpf/mmsync/chans\n"
	"    mmsync-trace --unpin          # detach and remove them\n"
	"    mmsync-trace --list           # the probe sites found, no BPF\n"
	"    mmsync-trace --check          # can this kernel and user trace?\n";

enum {
	OPT_PIN = 0x100,
	OPT_UNPIN,
	OPT_PIN_PATH,
	OPT_LIST,
	OPT_CHECK,
};

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Trace only this process", 0 },
	{ "binary", 'b', "PATH", 0,
	  "Probes are in PATH (a static binary, or a library elsewhere)", 0 },
	{ "interval", 'i', "SEC", 0, "Refresh every SEC seconds (0: at exit)",
	  0 },
	{ "duration", 'd', "SEC", 0, "Stop after SEC seconds", 0 },
	{ "hist", 'H', NULL, 0, "Show pin hold and grace wait histograms", 0 },
	{ "events", 'e', NULL, 0,
	  "Stream eviction, reclaim, long-pin and checksum events", 0 },
	{ "json", 'j', NULL, 0, "Output JSON lines", 0 },
	{ "long-pin", 'T', "MS", 0,
	  "A pin held longer than MS ms is an event (default 100, 0: off)", 0 },
	{ "top", 'n', "N", 0, "Rows per table (default 20)", 0 },
	{ "pin", OPT_PIN, NULL, 0,
	  "Leave probes, programs and maps pinned after exit", 0 },
	{ "unpin", OPT_UNPIN, NULL, 0, "Remove what --pin left, then exit", 0 },
	{ "pin-path", OPT_PIN_PATH, "DIR", 0,
	  "bpffs directory of the maps (default " DEFAULT_PIN_PATH ")", 0 },
	{ "list", OPT_LIST, NULL, 0, "List the probe sites found, then exit",
	  0 },
	{ "check", OPT_CHECK, NULL, 0,
	  "Check that this kernel and user can trace, then exit", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's debug output", 0 },
	{ NULL, 'h', NULL, 0, "Give this help list (the same as --help)", -1 },
	{},
};

static double parse_sec(const char *arg, struct argp_state *state)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < 0 || !isfinite(v))
		argp_error(state, "bad number of seconds: %s", arg);
	return v;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	char *end;
	long v;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case 'p':
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno || *end || v <= 0 || v > INT_MAX)
			argp_error(state, "bad pid: %s", arg);
		env.pid = (pid_t)v;
		break;
	case 'b':
		env.binary = arg;
		break;
	case 'i':
		env.interval = parse_sec(arg, state);
		env.interval_set = true;
		break;
	case 'd':
		env.duration = parse_sec(arg, state);
		break;
	case 'H':
		env.hist = true;
		break;
	case 'e':
		env.events = true;
		break;
	case 'j':
		env.json = true;
		break;
	case 'T':
		errno = 0;
		env.long_pin_ms = strtoull(arg, &end, 10);
		if (errno || *end || env.long_pin_ms > 1000000000ull)
			argp_error(state, "bad threshold: %s", arg);
		break;
	case 'n':
		v = strtol(arg, &end, 10);
		if (*end || v <= 0 || v > 100000)
			argp_error(state, "bad row count: %s", arg);
		env.top = (int)v;
		break;
	case OPT_PIN:
		env.pin = true;
		break;
	case OPT_UNPIN:
		env.unpin = true;
		break;
	case OPT_PIN_PATH:
		if (arg[0] != '/' || strlen(arg) > PATH_MAX - 64)
			argp_error(state, "--pin-path needs an absolute path");
		env.pin_path = arg;
		break;
	case OPT_LIST:
		env.list = true;
		break;
	case OPT_CHECK:
		env.check = true;
		break;
	case 'v':
		env.verbose = true;
		break;
	case ARGP_KEY_ARG:
		argp_usage(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !env.verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- finding the probes ------------------------------------------------ */

/* @rel (from the directory of our executable), if it is readable. */
static int near_us(const char *rel, char *out, size_t len)
{
	char self[PATH_MAX], path[PATH_MAX], real[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(path, sizeof(path), "%s/%s", self, rel) >=
		    (int)sizeof(path) ||
	    access(path, R_OK) || !realpath(path, real))
		return -ENOENT;
	snprintf(out, len, "%s", real);
	return 0;
}

/*
 * The libmmsync to trace by default. First the one of the build tree we
 * were built in (build/VARIANT/tools/.. holds it): a build's tracer must
 * trace that build's library, not one installed on the system, and it
 * has no rpath to find it (nothing built carries one into the build
 * tree that could be installed). Then the one the dynamic linker finds
 * for programs (installed tracers), then an install prefix (bin/../lib).
 */
static int default_library(char *out, size_t len)
{
	struct link_map *lm = NULL;
	char real[PATH_MAX];
	void *h;

	if (near_us("../" LIB_SONAME, out, len) == 0)
		return 0;
	h = dlopen(LIB_SONAME, RTLD_LAZY | RTLD_LOCAL);
	if (!h)
		return near_us("../lib/" LIB_SONAME, out, len);
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) || !lm || !lm->l_name[0] ||
	    !realpath(lm->l_name, real)) {
		dlclose(h);
		return -ENOENT;
	}
	dlclose(h);
	snprintf(out, len, "%s", real);
	return 0;
}

/* The libmmsync mapped by @pid, else its executable (a static link). */
static int library_of_pid(pid_t pid, char *out, size_t len)
{
	char maps[64], line[PATH_MAX + 128], *path, *base;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		path = strchr(line, '/');
		if (!path)
			continue;
		base = strrchr(path, '/') + 1;
		if (strncmp(base, "libmmsync.so", 12))
			continue;
		fclose(f);
		/* Seen from our mount namespace, through the target's root. */
		if (access(path, R_OK))
			snprintf(out, len, "/proc/%d/root%s", (int)pid, path);
		else
			snprintf(out, len, "%s", path);
		return 0;
	}
	fclose(f);
	snprintf(out, len, "/proc/%d/exe", (int)pid);
	return 0;
}

/* ---- bpffs --------------------------------------------------------------- */

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* Make @dir's parent a bpffs (mounting /sys/fs/bpf if needed), then @dir. */
static int prepare_pin_dir(const char *dir)
{
	char parent[PATH_MAX], *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	if (!is_bpffs(parent)) {
		if (strcmp(parent, "/sys/fs/bpf") ||
		    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
			return -ENOTSUP;
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void remove_tree(const char *dir, int depth)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
			remove_tree(p, depth - 1);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/*
 * One tracer per pin directory: a running tracer holds flock() on it.
 * Returns the locked directory fd, or -errno (-EBUSY: another tracer).
 */
static int lock_pin_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	}
	return fd;
}

static bool exists(const char *dir, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static int do_unpin(void)
{
	int fd;

	if (!exists(env.pin_path, ".")) {
		fprintf(stderr, "mmsync-trace: nothing pinned at %s\n",
			env.pin_path);
		return 0;
	}
	fd = lock_pin_dir(env.pin_path);
	if (fd == -EBUSY) {
		fprintf(stderr,
			"mmsync-trace: a running mmsync-trace uses %s; stop it first\n",
			env.pin_path);
		return 1;
	}
	/* Unlinking a pinned link drops its last reference: it detaches. */
	remove_tree(env.pin_path, 1);
	if (fd >= 0)
		close(fd);
	if (exists(env.pin_path, ".")) {
		fprintf(stderr, "mmsync-trace: could not remove %s\n",
			env.pin_path);
		return 1;
	}
	if (!env.json)
		fprintf(stderr, "mmsync-trace: removed %s\n", env.pin_path);
	return 0;
}

/* ---- reading the maps ---------------------------------------------------- */

struct chan_row {
	__u64 id;
	struct mt_chan c;
	__u64 prev_pins;
};

struct pid_row {
	__u32 pid;
	struct mt_pid p;
};

struct pin_row {
	struct mt_pin_key k;
	struct mt_pinned v;
};

static struct state {
	struct mmsync_trace_bpf *skel;
	struct chan_row *chans;
	int nchans;
	struct pid_row *pids;
	int npids;
	struct pin_row *pinned;
	int npinned;
	__u64 hold[MT_HIST_SLOTS];
	__u64 grace[MT_HIST_SLOTS];
	/* pins per channel at the previous refresh, for the rate */
	struct {
		__u64 id, pins;
	} last[MT_MAX_CHANS];
	int nlast;
	uint64_t last_ns;
	char path[PATH_MAX];
	int sites;
} st;

/* Read every entry of hash map @fd into a malloc'd array of @vsz values. */
static int dump_hash(int fd, size_t ksz, size_t vsz, void **keys, void **vals)
{
	char key[64], next[64];
	size_t cap = 64;
	void *kp, *vp;
	int n = 0;
	void *start = NULL;

	*keys = malloc(cap * ksz);
	*vals = malloc(cap * vsz);
	if (!*keys || !*vals)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, start, next) == 0) {
		memcpy(key, next, ksz);
		start = key;
		if ((size_t)n == cap) {
			cap *= 2;
			kp = realloc(*keys, cap * ksz);
			if (!kp)
				return -ENOMEM;
			*keys = kp;
			vp = realloc(*vals, cap * vsz);
			if (!vp)
				return -ENOMEM;
			*vals = vp;
		}
		if (bpf_map_lookup_elem(fd, key, (char *)*vals + n * vsz))
			continue; /* deleted meanwhile */
		memcpy((char *)*keys + n * ksz, key, ksz);
		n++;
	}
	return n;
}

static int cmp_chan(const void *a, const void *b)
{
	const struct chan_row *x = a, *y = b;

	return x->c.pins < y->c.pins ? 1 : x->c.pins > y->c.pins ? -1 : 0;
}

static int cmp_pid(const void *a, const void *b)
{
	const struct pid_row *x = a, *y = b;

	return x->p.pins < y->p.pins ? 1 : x->p.pins > y->p.pins ? -1 : 0;
}

static int cmp_pin(const void *a, const void *b)
{
	const struct pin_row *x = a, *y = b;

	/* Oldest pin first: that is the reader holding the writer up. */
	return x->v.since_ns > y->v.since_ns ? 1 :
	       x->v.since_ns < y->v.since_ns ? -1 :
					       0;
}

static int snapshot(void)
{
	struct mmsync_trace_bpf *s = st.skel;
	void *keys, *vals;
	__u32 i;
	int n, k;

	free(st.chans);
	free(st.pids);
	free(st.pinned);
	st.chans = NULL;
	st.pids = NULL;
	st.pinned = NULL;

	n = dump_hash(bpf_map__fd(s->maps.chans), sizeof(__u64),
		      sizeof(struct mt_chan), &keys, &vals);
	if (n < 0)
		return n;
	st.chans = calloc(n ? n : 1, sizeof(*st.chans));
	if (!st.chans)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		st.chans[k].id = ((__u64 *)keys)[k];
		st.chans[k].c = ((struct mt_chan *)vals)[k];
		st.chans[k].c.name[MT_NAME_LEN - 1] = '\0';
	}
	st.nchans = n;
	free(keys);
	free(vals);
	qsort(st.chans, st.nchans, sizeof(*st.chans), cmp_chan);

	n = dump_hash(bpf_map__fd(s->maps.pids), sizeof(__u32),
		      sizeof(struct mt_pid), &keys, &vals);
	if (n < 0)
		return n;
	st.pids = calloc(n ? n : 1, sizeof(*st.pids));
	if (!st.pids)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		st.pids[k].pid = ((__u32 *)keys)[k];
		st.pids[k].p = ((struct mt_pid *)vals)[k];
		st.pids[k].p.comm[MT_COMM_LEN - 1] = '\0';
	}
	st.npids = n;
	free(keys);
	free(vals);
	qsort(st.pids, st.npids, sizeof(*st.pids), cmp_pid);

	n = dump_hash(bpf_map__fd(s->maps.pinned), sizeof(struct mt_pin_key),
		      sizeof(struct mt_pinned), &keys, &vals);
	if (n < 0)
		return n;
	st.pinned = calloc(n ? n : 1, sizeof(*st.pinned));
	if (!st.pinned)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		st.pinned[k].k = ((struct mt_pin_key *)keys)[k];
		st.pinned[k].v = ((struct mt_pinned *)vals)[k];
		st.pinned[k].v.comm[MT_COMM_LEN - 1] = '\0';
	}
	st.npinned = n;
	free(keys);
	free(vals);
	qsort(st.pinned, st.npinned, sizeof(*st.pinned), cmp_pin);

	for (i = 0; i < MT_HIST_SLOTS; i++) {
		st.hold[i] = 0;
		st.grace[i] = 0;
		bpf_map_lookup_elem(bpf_map__fd(s->maps.hold_hist), &i,
				    &st.hold[i]);
		bpf_map_lookup_elem(bpf_map__fd(s->maps.grace_hist), &i,
				    &st.grace[i]);
	}
	return 0;
}

static const char *chan_name(__u64 id)
{
	int i;

	for (i = 0; i < st.nchans; i++)
		if (st.chans[i].id == id)
			return st.chans[i].c.name;
	return "";
}

/* ---- output --------------------------------------------------------------- */

/* The shared log2 histogram printer: one row per bucket that matters. */
static void print_log2_hist(const __u64 *slots, int n, const char *title)
{
	char lo[16], hi[16];
	int i, first = -1, last = -1, w;
	__u64 max = 0, total = 0;

	for (i = 0; i < n; i++) {
		if (!slots[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		total += slots[i];
		if (slots[i] > max)
			max = slots[i];
	}
	printf("%s (%llu):\n", title, (unsigned long long)total);
	if (first < 0) {
		printf("    (none)\n");
		return;
	}
	printf("    %21s : %-10s %s\n", "range", "count", "distribution");
	for (i = first; i <= last; i++) {
		human_ns(i ? 1ull << i : 0, lo, sizeof(lo));
		human_ns(1ull << (i + 1), hi, sizeof(hi));
		w = (int)(slots[i] * 40 / max);
		printf("    [%8s, %8s) : %-10llu |%-40.*s|\n", lo, hi,
		       (unsigned long long)slots[i], w,
		       "****************************************");
	}
}

static void json_hist(const char *key, const __u64 *slots)
{
	int i;

	printf("\"%s\":[", key);
	for (i = 0; i < MT_HIST_SLOTS; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)slots[i]);
	printf("]");
}

static void print_json(bool final)
{
	uint64_t now = mono_ns();
	int i;

	printf("{\"type\":\"stats\",\"final\":%s,\"time_ns\":%llu,\"channels\":[",
	       final ? "true" : "false", (unsigned long long)now);
	for (i = 0; i < st.nchans; i++) {
		const struct mt_chan *c = &st.chans[i].c;

		printf("%s{\"id\":%llu,\"name\":", i ? "," : "",
		       (unsigned long long)st.chans[i].id);
		json_str(stdout, c->name);
		printf(",\"pins\":%llu,\"unpins\":%llu,\"stale\":%llu,"
		       "\"publishes\":%llu,\"bytes\":%llu,\"grace_waits\":%llu,"
		       "\"grace_ns\":%llu,\"refusals\":%llu,\"evictions\":%llu,"
		       "\"reclaims\":%llu,\"csum_errors\":%llu,\"remaps\":%llu,"
		       "\"last_gen\":%llu,\"publish_ns\":%llu}",
		       (unsigned long long)c->pins,
		       (unsigned long long)c->unpins,
		       (unsigned long long)c->stale,
		       (unsigned long long)c->publishes,
		       (unsigned long long)c->bytes,
		       (unsigned long long)c->grace_waits,
		       (unsigned long long)c->grace_ns,
		       (unsigned long long)c->refusals,
		       (unsigned long long)c->evictions,
		       (unsigned long long)c->reclaims,
		       (unsigned long long)c->csum_errors,
		       (unsigned long long)c->remaps,
		       (unsigned long long)c->last_gen,
		       (unsigned long long)c->publish_ns);
	}
	printf("],\"pids\":[");
	for (i = 0; i < st.npids; i++) {
		const struct mt_pid *p = &st.pids[i].p;

		printf("%s{\"pid\":%u,\"nspid\":%u,\"comm\":", i ? "," : "",
		       st.pids[i].pid, p->nspid);
		json_str(stdout, p->comm);
		printf(",\"pins\":%llu,\"unpins\":%llu,\"stale\":%llu,"
		       "\"hold_ns\":%llu,\"max_hold_ns\":%llu}",
		       (unsigned long long)p->pins,
		       (unsigned long long)p->unpins,
		       (unsigned long long)p->stale,
		       (unsigned long long)p->hold_ns,
		       (unsigned long long)p->max_hold_ns);
	}
	printf("],\"pinned\":[");
	for (i = 0; i < st.npinned; i++) {
		const struct pin_row *r = &st.pinned[i];

		printf("%s{\"chan\":%llu,\"entry\":%u,\"pid\":%u,\"tid\":%u,"
		       "\"nspid\":%u,\"comm\":",
		       i ? "," : "", (unsigned long long)r->k.chan, r->k.entry,
		       r->v.pid, r->v.tid, r->v.nspid);
		json_str(stdout, r->v.comm);
		printf(",\"gen\":%llu,\"held_ns\":%llu}",
		       (unsigned long long)r->v.gen,
		       (unsigned long long)(now > r->v.since_ns ?
						    now - r->v.since_ns :
						    0));
	}
	printf("],");
	json_hist("hold_hist", st.hold);
	printf(",");
	json_hist("grace_hist", st.grace);
	printf("}\n");
}

static __u64 last_pins(__u64 id)
{
	int i;

	for (i = 0; i < st.nlast; i++)
		if (st.last[i].id == id)
			return st.last[i].pins;
	return 0;
}

static void print_table(void)
{
	uint64_t now = mono_ns();
	double dt = st.last_ns ? (now - st.last_ns) / 1e9 : 0;
	char b1[16], b2[16], tbuf[16];
	time_t t = time(NULL);
	int i;

	if (isatty(STDOUT_FILENO))
		printf("\033[H\033[2J");
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&t));
	printf("mmsync-trace %s  %d probe sites in %s%s\n\n", tbuf, st.sites,
	       st.path, env.pid > 0 ? " (one pid)" : "");
	printf("%-32s %10s %10s %6s %8s %6s %9s %6s %6s\n", "CHANNEL", "PINS/s",
	       "PINS", "STALE", "PUBS", "WAITS", "WAITED", "EVICT", "RECLM");
	for (i = 0; i < st.nchans && i < env.top; i++) {
		const struct mt_chan *c = &st.chans[i].c;
		__u64 prev = last_pins(st.chans[i].id);
		double rate =
			dt > 0 && c->pins >= prev ? (c->pins - prev) / dt : 0;

		printf("%-32.32s %10.0f %10llu %6llu %8llu %6llu %9s %6llu %6llu\n",
		       c->name[0] ? c->name : "?", rate,
		       (unsigned long long)c->pins,
		       (unsigned long long)c->stale,
		       (unsigned long long)c->publishes,
		       (unsigned long long)c->grace_waits,
		       human_ns(c->grace_ns, b1, sizeof(b1)),
		       (unsigned long long)c->evictions,
		       (unsigned long long)c->reclaims);
	}
	printf("\n%-8s %-16s %10s %8s %10s %10s\n", "PID", "COMM", "PINS",
	       "STALE", "AVG-HOLD", "MAX-HOLD");
	for (i = 0; i < st.npids && i < env.top; i++) {
		const struct mt_pid *p = &st.pids[i].p;

		printf("%-8u %-16s %10llu %8llu %10s %10s\n", st.pids[i].pid,
		       p->comm, (unsigned long long)p->pins,
		       (unsigned long long)p->stale,
		       human_ns(p->unpins ? p->hold_ns / p->unpins : 0, b1,
				sizeof(b1)),
		       human_ns(p->max_hold_ns, b2, sizeof(b2)));
	}
	printf("\nPINNED NOW (oldest first)\n%-8s %-16s %-24s %6s %10s %10s\n",
	       "PID", "COMM", "CHANNEL", "ENTRY", "GEN", "HELD");
	for (i = 0; i < st.npinned && i < env.top; i++) {
		const struct pin_row *r = &st.pinned[i];

		printf("%-8u %-16s %-24.24s %6u %10llu %10s\n", r->v.pid,
		       r->v.comm, chan_name(r->k.chan), r->k.entry,
		       (unsigned long long)r->v.gen,
		       human_ns(now > r->v.since_ns ? now - r->v.since_ns : 0,
				b1, sizeof(b1)));
	}
	if (!st.npinned)
		printf("(none)\n");
	printf("\n");
}

static void report(bool final)
{
	int i;

	if (snapshot()) {
		fprintf(stderr, "mmsync-trace: reading the maps failed\n");
		return;
	}
	if (env.json) {
		print_json(final);
	} else {
		if (!env.events && !env.hist)
			print_table();
		if (env.hist) {
			print_log2_hist(st.hold, MT_HIST_SLOTS,
					"pin hold time");
			print_log2_hist(st.grace, MT_HIST_SLOTS,
					"grace wait time");
			printf("\n");
		}
		if (env.events && final && !env.hist)
			print_table();
	}
	fflush(stdout);
	st.nlast = 0;
	for (i = 0; i < st.nchans && i < MT_MAX_CHANS; i++) {
		st.last[i].id = st.chans[i].id;
		st.last[i].pins = st.chans[i].c.pins;
		st.nlast++;
	}
	st.last_ns = mono_ns();
}

static const char *event_name(__u32 type)
{
	switch (type) {
	case MT_EV_EVICT:
		return "evict";
	case MT_EV_RECLAIM:
		return "reclaim";
	case MT_EV_LONG_PIN:
		return "long_pin";
	case MT_EV_CSUM:
		return "csum_mismatch";
	}
	return "?";
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct mt_event *e = data;
	char comm[MT_COMM_LEN + 1], b[16];
	const char *name;

	(void)ctx;
	if (len < sizeof(*e) || !env.events)
		return 0;
	memcpy(comm, e->comm, MT_COMM_LEN);
	comm[MT_COMM_LEN] = '\0';
	/* The name is known once the channel was seen; refresh lazily. */
	name = chan_name(e->chan);
	if (!name[0] && snapshot() == 0)
		name = chan_name(e->chan);
	if (env.json) {
		printf("{\"type\":\"event\",\"event\":\"%s\",\"ts_ns\":%llu,"
		       "\"pid\":%u,\"reader_pid\":%u,\"comm\":",
		       event_name(e->type), (unsigned long long)e->ts_ns,
		       e->pid, e->reader_pid);
		json_str(stdout, comm);
		printf(",\"chan\":%llu,\"chan_name\":",
		       (unsigned long long)e->chan);
		json_str(stdout, name);
		printf(",\"entry\":%u,\"gen\":%llu,\"age_ns\":%llu}\n",
		       e->entry, (unsigned long long)e->gen,
		       (unsigned long long)e->age_ns);
	} else {
		printf("%-14s reader pid %-7u %-16s entry %-4u gen %-8llu held %-8s %s\n",
		       event_name(e->type), e->reader_pid, comm, e->entry,
		       (unsigned long long)e->gen,
		       e->age_ns ? human_ns(e->age_ns, b, sizeof(b)) : "?",
		       name[0] ? name : "?");
	}
	fflush(stdout);
	return 0;
}

/* ---- setup ---------------------------------------------------------------- */

static struct bpf_program *prog_of(struct mmsync_trace_bpf *s, int probe)
{
	switch (probe) {
	case MT_PIN:
		return s->progs.mt_pin;
	case MT_UNPIN:
		return s->progs.mt_unpin;
	case MT_PUBLISH_BEGIN:
		return s->progs.mt_publish_begin;
	case MT_PUBLISH_END:
		return s->progs.mt_publish_end;
	case MT_GRACE_BEGIN:
		return s->progs.mt_grace_begin;
	case MT_GRACE_END:
		return s->progs.mt_grace_end;
	case MT_RECLAIM:
		return s->progs.mt_reclaim;
	case MT_EVICT:
		return s->progs.mt_evict;
	case MT_CSUM_MISMATCH:
		return s->progs.mt_csum_mismatch;
	case MT_REMAP:
		return s->progs.mt_remap;
	}
	return NULL;
}

static int list_sites(const struct usdt_site *sites, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (env.json) {
			printf("{\"probe\":\"%s\",\"ip_off\":%lu,\"sema_off\":%lu,"
			       "\"args\":",
			       sites[i].name, sites[i].ip_off,
			       sites[i].sema_off);
			json_str(stdout, sites[i].args);
			printf(",\"traceable\":%s}\n",
			       sites[i].ok && sites[i].probe >= 0 ? "true" :
								    "false");
		} else {
			printf("mmsync:%-14s off 0x%-6lx sema 0x%-6lx %s%s\n",
			       sites[i].name, sites[i].ip_off,
			       sites[i].sema_off, sites[i].args,
			       sites[i].ok && sites[i].probe >= 0 ?
				       "" :
				       "  (not traceable)");
		}
	}
	return 0;
}

/* What this kernel can do; fail only on what we cannot do without. */
static int probe_features(bool *nspid)
{
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, NULL) <= 0) {
		fprintf(stderr,
			"mmsync-trace: this kernel cannot run kprobe/uprobe "
			"BPF programs (or we lack CAP_BPF + CAP_PERFMON: run as root)\n");
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
				    BPF_FUNC_get_attach_cookie, NULL) <= 0) {
		fprintf(stderr,
			"mmsync-trace: the kernel lacks BPF cookies "
			"(Linux 5.15+): cannot tell probe sites apart\n");
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0) {
		fprintf(stderr,
			"mmsync-trace: the kernel lacks BPF ring buffers "
			"(Linux 5.8+)\n");
		return -EOPNOTSUPP;
	}
	/* Without kernel BTF the namespaced pid is left out, nothing else. */
	*nspid = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	if (!*nspid && env.verbose)
		fprintf(stderr,
			"mmsync-trace: no kernel BTF: pids in containers "
			"are shown as the host sees them\n");
	return 0;
}

static void set_pin_paths(struct mmsync_trace_bpf *s)
{
	struct bpf_map *m;
	char p[PATH_MAX];

	bpf_object__for_each_map(m, s->obj)
	{
		/* .rodata and friends are the object's, not ours to show. */
		if (strchr(bpf_map__name(m), '.'))
			continue;
		snprintf(p, sizeof(p), "%s/%s", env.pin_path, bpf_map__name(m));
		bpf_map__set_pin_path(m, p);
	}
}

static void unpin_maps(struct mmsync_trace_bpf *s)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, s->obj) if (bpf_map__is_pinned(m))
		bpf_map__unpin(m, NULL);
}

/* Pin links and programs so that they outlive us (--pin). */
static int pin_links(struct mmsync_trace_bpf *s, struct bpf_link **links,
		     const struct usdt_site *sites, int n)
{
	struct bpf_program *prog;
	char p[PATH_MAX];
	int i, err, pinned = 0;

	snprintf(p, sizeof(p), "%s/links", env.pin_path);
	if (mkdir(p, 0700) && errno != EEXIST)
		return -errno;
	for (i = 0; i < n; i++) {
		if (!links[i])
			continue;
		snprintf(p, sizeof(p), "%s/links/%s_%d", env.pin_path,
			 sites[i].name, i);
		err = bpf_link__pin(links[i], p);
		if (err) {
			fprintf(stderr,
				"mmsync-trace: cannot pin the probe "
				"links on this kernel (%s): they detach "
				"at exit, the maps stay\n",
				strerror(-err));
			return err;
		}
		pinned++;
	}
	snprintf(p, sizeof(p), "%s/progs", env.pin_path);
	if (mkdir(p, 0700) && errno != EEXIST)
		return -errno;
	bpf_object__for_each_program(prog, s->obj)
	{
		if (bpf_program__fd(prog) < 0)
			continue;
		snprintf(p, sizeof(p), "%s/progs/%s", env.pin_path,
			 bpf_program__name(prog));
		bpf_program__pin(prog, p);
	}
	return pinned;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = doc,
	};
	struct mmsync_trace_bpf *skel = NULL;
	struct bpf_link **links = NULL;
	struct usdt_site *sites = NULL;
	struct ring_buffer *rb = NULL;
	bool used[MT_NR_PROBES] = { 0 };
	bool nspid = false, pins = false, links_pinned = false;
	uint64_t start, next_report, end_ns;
	int n, i, err, attached = 0, ret = 1, lock_fd = -1;
	int timeout_ms;

	/* Exit status as mmsync(1): 0 ok, 1 failure, 2 usage. */
	argp_err_exit_status = 2;
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return 2;
	libbpf_set_print(libbpf_print);
	if (env.unpin)
		return do_unpin();
	if (env.check) {
		if (probe_features(&nspid))
			return 1;
		printf("mmsync-trace: this kernel and user can trace%s\n",
		       nspid ? "" : " (no kernel BTF: host pids only)");
		return 0;
	}
	if (!env.interval_set && (env.events || env.json))
		env.interval = 0; /* streams: summary at exit only */

	if (env.binary)
		snprintf(st.path, sizeof(st.path), "%s", env.binary);
	else if (env.pid > 0)
		err = library_of_pid(env.pid, st.path, sizeof(st.path));
	else
		err = default_library(st.path, sizeof(st.path));
	if (err) {
		fprintf(stderr,
			"mmsync-trace: cannot find %s (%s); name it "
			"with --binary PATH\n",
			env.pid > 0 ? "the process" : LIB_SONAME,
			strerror(-err));
		return 1;
	}
	n = usdt_find(st.path, "mmsync", &sites);
	if (n < 0) {
		fprintf(stderr, "mmsync-trace: %s: %s\n", st.path,
			n == -ENOEXEC ? "not an ELF file" : strerror(-n));
		return 1;
	}
	if (n == 0) {
		fprintf(stderr,
			"mmsync-trace: %s has no mmsync probes (built "
			"with -DMMSYNC_NO_PROBES?)\n",
			st.path);
		free(sites);
		return 1;
	}
	if (n > MT_MAX_SITES)
		n = MT_MAX_SITES;
	if (env.list) {
		/* Which file: the default follows the build tree (see above). */
		fprintf(stderr, "mmsync-trace: probes in %s\n", st.path);
		list_sites(sites, n);
		free(sites);
		return 0;
	}
	st.sites = n;

	if (probe_features(&nspid))
		goto out;
	err = prepare_pin_dir(env.pin_path);
	if (err == 0) {
		lock_fd = lock_pin_dir(env.pin_path);
		if (lock_fd == -EBUSY) {
			fprintf(stderr,
				"mmsync-trace: another mmsync-trace uses %s "
				"(use --pin-path)\n",
				env.pin_path);
			goto out;
		}
		if (exists(env.pin_path, "links")) {
			fprintf(stderr,
				"mmsync-trace: probes left by --pin are "
				"still attached at %s; run "
				"`mmsync-trace --unpin` first\n",
				env.pin_path);
			goto out;
		}
		/* Maps a crashed tracer left: start from zero. */
		remove_tree(env.pin_path, 1);
		if (mkdir(env.pin_path, 0700) && errno != EEXIST) {
			err = -errno;
		} else {
			if (lock_fd >= 0)
				close(lock_fd);
			lock_fd = lock_pin_dir(env.pin_path);
		}
		pins = err == 0 && lock_fd >= 0;
	}
	if (!pins) {
		if (env.pin) {
			fprintf(stderr,
				"mmsync-trace: --pin needs bpffs at %s\n",
				env.pin_path);
			goto out;
		}
		fprintf(stderr,
			"mmsync-trace: no bpffs at %s: maps are not "
			"pinned\n",
			env.pin_path);
	}

	skel = mmsync_trace_bpf__open();
	if (!skel) {
		fprintf(stderr,
			"mmsync-trace: opening the BPF object failed: %s\n",
			strerror(errno));
		goto out;
	}
	st.skel = skel;
	skel->rodata->long_pin_ns = env.long_pin_ms * 1000000ull;
	skel->rodata->want_nspid = nspid;
	for (i = 0; i < n; i++)
		if (sites[i].ok && sites[i].probe >= 0)
			used[sites[i].probe] = true;
	/* A library without some probe (older or newer): skip its program. */
	for (i = 0; i < MT_NR_PROBES; i++)
		if (!used[i])
			bpf_program__set_autoload(prog_of(skel, i), false);
	if (pins)
		set_pin_paths(skel);
	err = mmsync_trace_bpf__load(skel);
	if (err) {
		fprintf(stderr,
			"mmsync-trace: loading the BPF programs failed: "
			"%s%s\n",
			strerror(-err),
			err == -EPERM ? " (run as root)" :
					"; libbpf says why above (-v: more)");
		goto out;
	}

	links = calloc(n, sizeof(*links));
	if (!links)
		goto out;
	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uo);
		__u32 key = (__u32)i;

		if (!sites[i].ok || sites[i].probe < 0) {
			fprintf(stderr,
				"mmsync-trace: skipping mmsync:%s (%s)\n",
				sites[i].name, sites[i].args);
			continue;
		}
		err = bpf_map_update_elem(bpf_map__fd(skel->maps.sites), &key,
					  &sites[i].spec, BPF_ANY);
		if (err)
			continue;
		uo.ref_ctr_offset = sites[i].sema_off;
		uo.bpf_cookie = key;
		links[i] = bpf_program__attach_uprobe_opts(
			prog_of(skel, sites[i].probe), env.pid, st.path,
			sites[i].ip_off, &uo);
		if (!links[i]) {
			fprintf(stderr,
				"mmsync-trace: attaching mmsync:%s failed: %s\n",
				sites[i].name, strerror(errno));
			continue;
		}
		attached++;
	}
	if (!attached) {
		fprintf(stderr, "mmsync-trace: no probe could be attached\n");
		goto out;
	}
	if (env.pin && pin_links(skel, links, sites, n) > 0)
		links_pinned = true;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL,
			      NULL);
	if (!rb) {
		fprintf(stderr, "mmsync-trace: ring buffer: %s\n",
			strerror(errno));
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* Tests and scripts wait for this line before they start. */
	fprintf(stderr, "mmsync-trace: attached %d of %d probe sites in %s%s\n",
		attached, n, st.path, pins ? "" : " (maps not pinned)");

	start = mono_ns();
	end_ns = env.duration > 0 ? start + (uint64_t)(env.duration * 1e9) : 0;
	next_report =
		env.interval > 0 ? start + (uint64_t)(env.interval * 1e9) : 0;
	st.last_ns = start;
	while (!stop) {
		uint64_t now = mono_ns(), wake = UINT64_MAX;

		if (end_ns && now >= end_ns)
			break;
		if (next_report && now >= next_report) {
			report(false);
			next_report += (uint64_t)(env.interval * 1e9);
			continue;
		}
		if (end_ns)
			wake = end_ns;
		if (next_report && next_report < wake)
			wake = next_report;
		timeout_ms = wake == UINT64_MAX ?
				     200 :
				     (int)((wake - now) / 1000000 + 1);
		if (timeout_ms > 200)
			timeout_ms = 200;
		err = ring_buffer__poll(rb, timeout_ms);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "mmsync-trace: polling events: %s\n",
				strerror(-err));
			break;
		}
	}
	/* Drain what is left, then the summary. */
	ring_buffer__consume(rb);
	report(true);
	ret = 0;
out:
	ring_buffer__free(rb);
	if (links) {
		for (i = 0; i < n; i++) {
			/* A pinned link must outlive us: do not detach it. */
			if (links[i] && links_pinned)
				bpf_link__disconnect(links[i]);
			bpf_link__destroy(links[i]);
		}
		free(links);
	}
	if (skel) {
		if (!env.pin)
			unpin_maps(skel);
		mmsync_trace_bpf__destroy(skel);
	}
	if (pins && !env.pin)
		remove_tree(env.pin_path, 1);
	if (env.pin && ret == 0 && !env.json)
		fprintf(stderr,
			"mmsync-trace: left pinned at %s%s; remove with "
			"`mmsync-trace --unpin`\n",
			env.pin_path,
			links_pinned ? " (probes stay attached)" :
				       " (maps only)");
	if (lock_fd >= 0)
		close(lock_fd);
	free(sites);
	free(st.chans);
	free(st.pids);
	free(st.pinned);
	return ret;
}
