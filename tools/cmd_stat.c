// SPDX-License-Identifier: MIT
/*
 * cmd_stat.c - mmsync stat NAME, mmsync readers NAME: look at a channel
 * from the outside, without joining it.
 *
 * Both read the state file through mmsync_stat() and
 * mmsync_foreach_reader(): read-only, no reader entry taken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmsync.h>

#include "cli.h"
#include "fmt.h"

struct stat_args {
	const char *name;
	bool json;
};

static error_t stat_parse(int key, char *arg, struct argp_state *state)
{
	struct stat_args *a = state->input;

	switch (key) {
	case 'j':
		a->json = true;
		return 0;
	}
	return cli_one_name(key, arg, state, &a->name);
}

static const struct argp_option stat_opts[] = {
	{ "json", 'j', NULL, 0, "Output JSON", 0 },
	{},
};

static const struct argp_child children[] = {
	{ &cli_common_argp, 0, NULL, 0 },
	{},
};

static const char *fence_name(uint32_t m)
{
	switch (m) {
	case MMSYNC_FENCE_MEMBARRIER:
		return "membarrier";
	case MMSYNC_FENCE_XCHG:
		return "xchg";
	}
	return "?";
}

static int show_stat(const char *name, bool json)
{
	MMSYNC_OPTS(mmsync_stats, s);
	char b1[16], b2[16];
	int err, k;

	err = mmsync_stat(name, &s);
	if (err)
		return cli_error(name, NULL, err, cli_reader_hint(err));
	if (json) {
		printf("{\"name\":");
		json_str(stdout, name);
		printf(",\"chan_id\":%llu,\"gen\":%llu,\"pub_age_ns\":%llu,"
		       "\"created_ns\":%llu,\"publishes\":%llu,"
		       "\"grace_waits\":%llu,\"evictions\":%llu,"
		       "\"reclaims\":%llu,\"refusals\":%llu,\"waited_ns\":%llu,"
		       "\"writer_opens\":%llu,\"writer_pid\":%u,"
		       "\"writer_alive\":%s,\"fence_mode\":\"%s\","
		       "\"max_readers\":%u,\"readers\":%u,\"pinned\":%u,"
		       "\"dead\":%u,\"max_lag\":%llu,\"waiters\":%u,"
		       "\"notifies\":%llu,\"slots\":[",
		       (unsigned long long)s.chan_id, (unsigned long long)s.gen,
		       (unsigned long long)s.pub_age_ns,
		       (unsigned long long)s.created_ns,
		       (unsigned long long)s.publishes,
		       (unsigned long long)s.grace_waits,
		       (unsigned long long)s.evictions,
		       (unsigned long long)s.reclaims,
		       (unsigned long long)s.refusals,
		       (unsigned long long)s.waited_ns,
		       (unsigned long long)s.writer_opens, s.writer_pid,
		       s.writer_alive ? "true" : "false",
		       fence_name(s.fence_mode), s.max_readers, s.readers,
		       s.pinned, s.dead, (unsigned long long)s.max_lag,
		       s.waiters, (unsigned long long)s.notifies);
		for (k = 0; k < 2; k++)
			printf("%s{\"gen\":%llu,\"size\":%llu,\"cap\":%llu}",
			       k ? "," : "", (unsigned long long)s.slot_gen[k],
			       (unsigned long long)s.slot_size[k],
			       (unsigned long long)s.slot_cap[k]);
		printf("]}\n");
		return 0;
	}
	printf("channel       %s (id %llu)\n", name,
	       (unsigned long long)s.chan_id);
	printf("generation    %llu", (unsigned long long)s.gen);
	if (s.gen)
		printf(", published %s ago",
		       human_ns(s.pub_age_ns, b1, sizeof(b1)));
	printf("\nwriter        ");
	if (s.writer_alive)
		printf("pid %u, alive\n", s.writer_pid);
	else
		printf("none%s\n",
		       s.writer_opens ? " (the last one exited)" : "");
	printf("fence         %s\n", fence_name(s.fence_mode));
	for (k = 0; k < 2; k++)
		printf("slot %d        gen %llu, %llu bytes, capacity %llu\n",
		       k, (unsigned long long)s.slot_gen[k],
		       (unsigned long long)s.slot_size[k],
		       (unsigned long long)s.slot_cap[k]);
	printf("readers       %u live of %u entries, %u with a view open, "
	       "%u dead holding a pin, max lag %llu\n",
	       s.readers, s.max_readers, s.pinned, s.dead,
	       (unsigned long long)s.max_lag);
	printf("waiters       %u waiting now, %llu publishes woke some\n",
	       s.waiters, (unsigned long long)s.notifies);
	printf("publishes     %llu\n", (unsigned long long)s.publishes);
	printf("grace waits   %llu, %s in total\n",
	       (unsigned long long)s.grace_waits,
	       human_ns(s.waited_ns, b2, sizeof(b2)));
	printf("evictions     %llu\n", (unsigned long long)s.evictions);
	printf("reclaims      %llu\n", (unsigned long long)s.reclaims);
	printf("refusals      %llu\n", (unsigned long long)s.refusals);
	printf("writer opens  %llu\n", (unsigned long long)s.writer_opens);
	return 0;
}

struct rows {
	struct mmsync_reader_info *v;
	int n, cap;
};

static int collect(const struct mmsync_reader_info *ri, void *arg)
{
	struct rows *r = arg;
	void *p;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		p = realloc(r->v, r->cap * sizeof(*r->v));
		if (!p)
			return -ENOMEM;
		r->v = p;
	}
	/* Copy what this build knows; a newer library may pass more. */
	memset(&r->v[r->n], 0, sizeof(r->v[r->n]));
	memcpy(&r->v[r->n], ri, ri->sz < sizeof(*ri) ? ri->sz : sizeof(*ri));
	r->n++;
	return 0;
}

/*
 * A reader is stuck when the next publish has to wait for it: a live view
 * one generation old (or older) pins the slot that publish reuses; the
 * writer waits for it up to the grace period, then stops waiting. A dead
 * reader's pin is not waited for at all (its entry has no write lock).
 */
static bool stuck(const struct mmsync_reader_info *ri)
{
	if (!ri->pinned_gen || ri->evicted)
		return false;
	return ri->alive == 1 && ri->lag >= 1;
}

static int by_trouble(const void *a, const void *b)
{
	const struct mmsync_reader_info *x = a, *y = b;

	if (stuck(x) != stuck(y))
		return stuck(x) ? -1 : 1;
	if (x->lag != y->lag)
		return x->lag < y->lag ? 1 : -1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static const char *state_name(const struct mmsync_reader_info *ri)
{
	if (ri->alive == 1)
		return ri->waiting ? "waiting" : "alive";
	if (ri->alive == 0)
		return "dead";
	return "unknown";
}

static int show_readers(const char *name, bool json)
{
	struct rows r = { 0 };
	char age[16];
	int n, i;

	n = mmsync_foreach_reader(name, collect, &r);
	if (n < 0) {
		free(r.v);
		return cli_error(name, NULL, n, cli_reader_hint(n));
	}
	qsort(r.v, r.n, sizeof(*r.v), by_trouble);
	if (json) {
		printf("[");
		for (i = 0; i < r.n; i++) {
			const struct mmsync_reader_info *ri = &r.v[i];

			printf("%s{\"entry\":%u,\"pid\":%u,\"comm\":",
			       i ? "," : "", ri->index, ri->pid);
			json_str(stdout, ri->comm);
			printf(",\"alive\":%s,\"pinned_gen\":%llu,\"lag\":%llu,"
			       "\"age_ns\":%llu,\"evictions\":%llu,"
			       "\"evicted\":%s,\"stuck\":%s,\"waiting\":%s,"
			       "\"flags\":%u}",
			       ri->alive == 1 ? "true" :
			       ri->alive == 0 ? "false" :
						"null",
			       (unsigned long long)ri->pinned_gen,
			       (unsigned long long)ri->lag,
			       (unsigned long long)ri->age_ns,
			       (unsigned long long)ri->evictions,
			       ri->evicted ? "true" : "false",
			       stuck(ri) ? "true" : "false",
			       ri->waiting ? "true" : "false", ri->flags);
		}
		printf("]\n");
		free(r.v);
		return 0;
	}
	printf("%-6s %-8s %-16s %-7s %10s %6s %8s %6s\n", "ENTRY", "PID",
	       "COMM", "STATE", "PINNED", "LAG", "AGE", "EVICT");
	for (i = 0; i < r.n; i++) {
		const struct mmsync_reader_info *ri = &r.v[i];
		char pinned[24];

		if (ri->pinned_gen)
			snprintf(pinned, sizeof(pinned), "%llu%s",
				 (unsigned long long)ri->pinned_gen,
				 ri->evicted ? "!" : "");
		else
			snprintf(pinned, sizeof(pinned), "-");
		printf("%-6u %-8u %-16s %-7s %10s %6llu %8s %6llu%s\n",
		       ri->index, ri->pid, ri->comm[0] ? ri->comm : "?",
		       state_name(ri), pinned, (unsigned long long)ri->lag,
		       human_ns(ri->age_ns, age, sizeof(age)),
		       (unsigned long long)ri->evictions,
		       stuck(ri) ? "  <- stuck: the writer waits for it" : "");
	}
	if (!r.n)
		printf("(no readers)\n");
	else
		printf("\n%d entries; '!' marks a view whose slot was "
		       "reused under it\n",
		       r.n);
	free(r.v);
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	static const struct argp argp = {
		.options = stat_opts,
		.parser = stat_parse,
		.args_doc = "NAME",
		.doc = "Show the counters of channel NAME without joining it: "
		       "generation, writer, slots, readers, publishes, grace "
		       "waits, evictions, reclaims, refusals.\v"
		       "EXAMPLES:\n"
		       "    mmsync stat features\n"
		       "    mmsync stat /run/app/routes --json\n",
		.children = children,
	};
	struct stat_args a = { 0 };
	int err = cli_parse(&argp, argc, argv, &a);

	return err ? err : show_stat(a.name, a.json);
}

int cmd_readers(int argc, char **argv)
{
	static const struct argp argp = {
		.options = stat_opts,
		.parser = stat_parse,
		.args_doc = "NAME",
		.doc = "Show every entry of channel NAME's reader table: pid, "
		       "comm, age, pinned generation, lag and whether the "
		       "process is alive. Stuck readers (the next publish "
		       "waits for them) come first.\v"
		       "EXAMPLES:\n"
		       "    mmsync readers features      # who holds the "
		       "writer up?\n"
		       "    mmsync readers features --json\n",
		.children = children,
	};
	struct stat_args a = { 0 };
	int err = cli_parse(&argp, argc, argv, &a);

	return err ? err : show_readers(a.name, a.json);
}
