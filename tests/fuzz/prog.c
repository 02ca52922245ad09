// SPDX-License-Identifier: MIT
/*
 * prog.c - run one fuzz input: build the channel, then the actions, each
 * checked against the contract (include/mmsync.h, DESIGN.md):
 *
 *   - every call returns 0 (or a count) or a negative errno; never a crash,
 *     a signal (the SIGBUS guard is out of the way: chan.c), a hang, a
 *     leak of memory, descriptors or mappings, or a file left behind;
 *   - a side that refuses the files (reader or writer open fails, stat,
 *     foreach_reader) leaves all of them as they were, byte for byte and
 *     inode for inode;
 *   - open succeeds when the files are a valid channel and fails when they
 *     are not, judged here from the files themselves (the "mirror");
 *   - views: -ENODATA before a publish, the bytes and metadata the state
 *     describes, the checksum with MMSYNC_READ_VERIFY, -EBUSY for a second
 *     view, read_end 0 exactly when the slot still holds the generation,
 *     and a view that read_end calls clean never changed under the reader;
 *   - mmsync_wait(r, x, 0) is 0 exactly when a generation > x exists;
 *   - a publish the writer accepted is what a new reader then reads, byte
 *     for byte, with its generation, size and XXH3; a refused one
 *     (MMSYNC_GRACE_REFUSE) changed nothing; no publish waits much longer
 *     than the grace period;
 *   - stat and foreach_reader agree with the files and with the locks held
 *     (live readers), and write nothing.
 *
 * "Taint": once the owner edited the state or data files under open
 * handles, only the first two kinds of check apply (the state is
 * writer-only: damage there is outside the trust model, but must still
 * not crash anyone). Edits of the reader table are what hostile readers
 * do, and keep every check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "prog.h"

unsigned char fz_payload[FZ_MAX_PAYLOAD + 1];
unsigned char fz_scratch[FZ_IMG_MAX];

/*
 * MMSYNC_FUZZ_KNOWN=bug,bug...: let a long campaign go past library bugs
 * already reported (tests/fuzz/regressions/KNOWN): the check that found
 * one steps aside where it fires, every other check stays. Never set by
 * make fuzz-smoke or the replay test, which report them until they are
 * fixed.
 */
bool fz_known(const char *bug)
{
	static const char *list;
	static bool read;

	if (!read) {
		list = getenv("MMSYNC_FUZZ_KNOWN");
		read = true;
	}
	return list && strstr(list, bug);
}

bool is_errno(int rc)
{
	return rc < 0 && rc >= -4095;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Bytes depend on seed and index only, so a prefix is a payload too, and
 * what the buffer holds already is not made again (a publish, its check
 * and every view of it ask for the same one). Not instrumented for
 * coverage: a compare per byte of 128 KiB was a third of the writer
 * harness's time.
 */
FZ_NO_COVERAGE void make_payload(uint32_t seed, size_t len)
{
	static uint32_t have_seed;
	static size_t have;
	size_t i = 0;

	if (have && seed == have_seed) {
		if (len <= have)
			return;
		i = have;
	}
	for (; i < len; i++)
		fz_payload[i] =
			(unsigned char)(seed * 13 + i + (i >> 8) * seed);
	have_seed = seed;
	have = len;
}

const struct known *known_gen(const struct prog *p, uint64_t gen)
{
	const struct known *k = &p->known[gen % 4];

	return gen && k->gen == gen ? k : NULL;
}

void remember(struct prog *p, uint64_t gen, uint64_t len, uint32_t seed)
{
	struct known *k = &p->known[gen % 4];

	k->gen = gen;
	k->len = len;
	k->seed = seed;
}

int open_handles(const struct prog *p)
{
	int i, n = 0;

	for (i = 0; i < FZ_MAX_HANDLES; i++)
		n += p->h[i].r != NULL;
	return n;
}

/* The names now lead to other files than the open handles use. */
void mark_replaced(struct prog *p)
{
	int k;

	p->replaced = true;
	if (p->w)
		p->w_replaced = true;
	for (k = 0; k < FZ_MAX_HANDLES; k++)
		if (p->h[k].r)
			p->h[k].replaced = true;
}

void check_same(const struct prog *p, const struct fz_snap *before, int from,
		int to, const char *who, int rc)
{
	struct fz_snap now;
	int f;

	for (f = from; f < to; f++) {
		fz_file_stat(&p->c, f, &now);
		if (!fz_snap_same(&before[f], &now))
			fz_snap_diff(&before[f], &now);
		FZ_CHECK(
			fz_snap_same(&before[f], &now),
			"%s (rc %d) changed %s (kind %d -> %d, size %llu -> %llu)",
			who, rc, p->c.path[f], before[f].kind, now.kind,
			(unsigned long long)before[f].size,
			(unsigned long long)now.size);
	}
}

/*
 * A reader must take the files exactly when: NAME_state is a regular file
 * of at least a page with a format-2 identity and a generation below
 * MMSYNC_MAX_GEN; each data file is the regular file the state names,
 * holding at least cap bytes, with size <= cap <= MMSYNC_MAX_CAP; the table
 * is the regular file the state names (lib/state.c, lib/reader.c).
 */
void reader_mirror(const struct prog *p, struct mirror *m)
{
	const struct fz_chan *c = &p->c;
	struct fz_snap s;
	uint64_t cap, size;
	int i;

	memset(m, 0, sizeof(*m));
	m->refuse = true;
	fz_file_meta(c, FZ_STATE, &s);
	m->why = "state missing, not a file or short";
	if (s.kind != FZ_REG || s.size < MMSYNC_STATE_SIZE ||
	    !fz_read_hdr(c, &m->h))
		return;
	m->why = "bad identity";
	if (!fz_ident_ok(&m->h))
		return;
	m->why = "generation too high";
	if (m->h.hot.gen >= MMSYNC_MAX_GEN)
		return;
	for (i = 0; i < 2; i++) {
		cap = m->h.cap[i];
		size = m->h.hot.slot[i].size;
		m->why = i ? "data 1 is not the state's" :
			     "data 0 is not the state's";
		if (!fz_id_is(c, &m->h.data_id[i], FZ_DATA0 + i))
			return;
		m->why = i ? "slot 1: size > cap > MAX_CAP or file < cap" :
			     "slot 0: size > cap > MAX_CAP or file < cap";
		if (cap > MMSYNC_MAX_CAP || size > cap ||
		    fz_file_size(c, FZ_DATA0 + i) < cap)
			return;
	}
	m->why = "table is not the state's";
	if (!fz_id_is(c, &m->h.table_id, FZ_TABLE))
		return;
	m->nr = m->h.nr_entries;
	m->refuse = false;
	m->why = NULL;
}

/* Entries a new reader can take, at least (the others are locked). */
int64_t free_entries(const struct prog *p, const struct mirror *m)
{
	return (int64_t)m->nr - fz_locked_entries(&p->c, m->nr) -
	       open_handles(p);
}

static bool is_edit(int op)
{
	return op < OP_ROPEN;
}

static void action(struct prog *p, const struct fz_rec *r)
{
	switch (r->op) {
	case OP_ROPEN:
		act_ropen(p, r);
		break;
	case OP_READ:
		act_read(p, r);
		break;
	case OP_BEGIN:
		act_begin(p, r);
		break;
	case OP_END:
		act_end(p, r);
		break;
	case OP_WAIT:
		act_wait(p, r);
		break;
	case OP_STAT:
		act_stat(p, r);
		break;
	case OP_FOREACH:
		act_foreach(p, r);
		break;
	case OP_RFD:
		act_rfd(p, r);
		break;
	case OP_RCLOSE:
		act_rclose(p, r);
		break;
	default:
		writer_action(p, r);
		break;
	}
}

/*
 * What every input ends with, so that a list of edits alone still tests
 * the opens: a writer and a publish (writer harness), a reader, a read,
 * waits; with @flags bit 2 the observers too, and after everything is
 * closed a last stat that must see no live reader but those the harness
 * holds (optional: each stat asks every entry's lock, 256 fcntl calls).
 */
static void epilogue(struct prog *p, unsigned int flags)
{
	struct fz_rec r = { .a = 0 };
	int k;

	if (p->ops == OP_NR_ALL && !p->w) {
		r.a = (uint8_t)(flags & 0x18); /* auto fence, evict, 0-3 */
		r.b = 0;
		act_wopen(p, &r);
		r.a = 0;
		r.b = (uint16_t)(100 + flags);
		r.v = flags;
		act_publish(p, &r);
	}
	r.a = FZ_MAX_HANDLES - 1;
	r.b = (uint16_t)(flags & 3);
	if (!p->h[r.a].r)
		act_ropen(p, &r);
	act_read(p, &r);
	r.b = 1;
	act_wait(p, &r);
	r.b = 2;
	act_wait(p, &r);
	r.b = 0;
	if (flags & 4) {
		act_stat(p, &r);
		act_foreach(p, &r);
	}
	for (k = 0; k < FZ_MAX_HANDLES; k++)
		if (p->h[k].view)
			end_view(p, &p->h[k]);
	for (k = 0; k < FZ_MAX_HANDLES; k++)
		if (p->h[k].r)
			close_handle(&p->h[k]);
	if (p->w)
		act_wclose(p);
	if (flags & 4)
		act_stat(p, &r);
}

int fz_run(const uint8_t *data, size_t size, int ops)
{
	static struct prog p;
	static int debug = -1;
	struct fz_in in = { .p = data, .n = size, .off = 1 };
	struct fz_rec r;
	int n = 0;

	fz_init();
	/* MMSYNC_FUZZ_DEBUG=1: each action on stderr, to read a crash. */
	if (debug < 0)
		debug = getenv("MMSYNC_FUZZ_DEBUG") != NULL;
	memset(&p, 0, sizeof(p));
	p.ops = ops;
	/* Byte 0: the template (low 3 bits), the epilogue's flags. */
	fz_begin(&p.c, size ? (data[0] & 7) % fz_templates() : 0);
	while (n++ < FZ_MAX_RECORDS && fz_next(&in, &r)) {
		r.op %= (uint8_t)ops;
		if (debug)
			fprintf(stderr, "%s %d a %u b %u v %#llx (gen %llu)\n",
				is_edit(r.op) ? "edit" : "op", r.op, r.a, r.b,
				(unsigned long long)r.v,
				(unsigned long long)mmsync_writer_gen(p.w));
		if (is_edit(r.op)) {
			p.edits += !p.c.live;
			fz_edit(&p.c, &r);
			/* A file replaced live: handles keep the old one. */
			if (p.c.live && r.op == OP_KIND)
				mark_replaced(&p);
			continue;
		}
		fz_materialize(&p.c);
		action(&p, &r);
	}
	fz_materialize(&p.c);
	epilogue(&p, size ? data[0] >> 3 : 4);
	fz_end(&p.c);
	return 0;
}
