// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * mmsync_trace.bpf.c - turn libmmsync's USDT probes into pin counts per
 * channel and per process, log2 histograms of pin hold and grace wait
 * times, the set of readers pinned right now, and ring-buffer events for
 * evictions, reclaims and long pins. Loaded by tools/mmsync-trace.
 *
 * Each program serves one probe; the loader attaches it to every site of
 * that probe with the site's index as BPF cookie, and the sites map says
 * where the site's arguments live (see mmsync_trace.h).
 *
 * Counters are shared by all CPUs: every increment is an atomic
 * __sync_fetch_and_add; userspace reads them with plain lookups and needs
 * no ordering (a snapshot is allowed to be a few events old).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mmsync_trace.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by the loader before load. */
const volatile __u64 long_pin_ns = 0; /* 0: no long-pin events */
const volatile bool want_nspid = false; /* the kernel's BTF has struct pid */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_MAX_SITES);
	__type(key, __u32);
	__type(value, struct mt_site);
} sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_CHANS);
	__type(key, __u64);
	__type(value, struct mt_chan);
} chans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct mt_pid);
} pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_MAX_PINNED);
	__type(key, struct mt_pin_key);
	__type(value, struct mt_pinned);
} pinned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hold_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_HIST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} grace_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

#if defined(__TARGET_ARCH_arm64)
/* One case per register: the index must be a constant for CO-RE. */
#define MT_X(n) \
	case n: \
		return BPF_CORE_READ(ctx, regs[n])

static __always_inline __u64 reg(struct pt_regs *ctx, __u8 r)
{
	switch (r) {
		/* clang-format off */
	MT_X(0); MT_X(1); MT_X(2); MT_X(3); MT_X(4); MT_X(5); MT_X(6);
	MT_X(7); MT_X(8); MT_X(9); MT_X(10); MT_X(11); MT_X(12); MT_X(13);
	MT_X(14); MT_X(15); MT_X(16); MT_X(17); MT_X(18); MT_X(19); MT_X(20);
	MT_X(21); MT_X(22); MT_X(23); MT_X(24); MT_X(25); MT_X(26); MT_X(27);
	MT_X(28); MT_X(29); MT_X(30);
	/* clang-format on */
	case MT_REG_ARM64_SP:
		return BPF_CORE_READ(ctx, sp);
	}
	return 0;
}
#else
static __always_inline __u64 reg(struct pt_regs *ctx, __u8 r)
{
	/*
	 * CO-RE reads: the offsets are fixed up for the running kernel. Not
	 * plain ctx->ax loads: clang folds the switch into one load at a
	 * computed offset, which the verifier rejects for a context pointer.
	 */
	switch (r) {
	case MT_REG_AX:
		return BPF_CORE_READ(ctx, ax);
	case MT_REG_BX:
		return BPF_CORE_READ(ctx, bx);
	case MT_REG_CX:
		return BPF_CORE_READ(ctx, cx);
	case MT_REG_DX:
		return BPF_CORE_READ(ctx, dx);
	case MT_REG_SI:
		return BPF_CORE_READ(ctx, si);
	case MT_REG_DI:
		return BPF_CORE_READ(ctx, di);
	case MT_REG_BP:
		return BPF_CORE_READ(ctx, bp);
	case MT_REG_SP:
		return BPF_CORE_READ(ctx, sp);
	case MT_REG_R8:
		return BPF_CORE_READ(ctx, r8);
	case MT_REG_R9:
		return BPF_CORE_READ(ctx, r9);
	case MT_REG_R10:
		return BPF_CORE_READ(ctx, r10);
	case MT_REG_R11:
		return BPF_CORE_READ(ctx, r11);
	case MT_REG_R12:
		return BPF_CORE_READ(ctx, r12);
	case MT_REG_R13:
		return BPF_CORE_READ(ctx, r13);
	case MT_REG_R14:
		return BPF_CORE_READ(ctx, r14);
	case MT_REG_R15:
		return BPF_CORE_READ(ctx, r15);
	case MT_REG_IP:
		return BPF_CORE_READ(ctx, ip);
	}
	return 0;
}
#endif

/* Argument @i of the probe at this site, or 0 if it cannot be read. */
static __always_inline __u64 arg(struct pt_regs *ctx, const struct mt_site *s,
				 __u32 i)
{
	const struct mt_arg *a;
	__u64 v = 0;
	__u32 size, shift;

	if (i >= MT_MAX_ARGS || i >= s->nargs)
		return 0;
	a = &s->args[i];
	size = a->size;
	if (size == 0 || size > 8)
		return 0;
	switch (a->kind) {
	case MT_ARG_CONST:
		v = (__u64)a->off;
		break;
	case MT_ARG_REG:
		v = reg(ctx, a->reg);
		break;
	case MT_ARG_MEM:
		/* Little-endian: the low bytes of v are the argument. */
		if (bpf_probe_read_user(&v, size,
					(void *)(reg(ctx, a->reg) + a->off)))
			return 0;
		break;
	default:
		return 0;
	}
	if (size < 8) {
		shift = 64 - size * 8;
		v <<= shift;
		v = a->is_signed ? (__u64)((__s64)v >> shift) : v >> shift;
	}
	return v;
}

static __always_inline const struct mt_site *site(struct pt_regs *ctx)
{
	__u32 id = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&sites, &id);
}

/* The current process's pid in its own PID namespace, via CO-RE. */
static __always_inline __u32 ns_tgid(void)
{
	struct task_struct *t;
	unsigned int level;
	struct pid *p;
	int nr = 0;

	if (!want_nspid)
		return 0;
	t = (struct task_struct *)bpf_get_current_task();
	p = BPF_CORE_READ(t, group_leader, thread_pid);
	if (!p)
		return 0;
	level = BPF_CORE_READ(p, level);
	bpf_probe_read_kernel(
		&nr, sizeof(nr),
		(char *)p + bpf_core_field_offset(struct pid, numbers) +
			(__u64)level * bpf_core_type_size(struct upid) +
			bpf_core_field_offset(struct upid, nr));
	return nr;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1)
		r += 1;
	return r;
}

/* Bucket i counts values in [2^i, 2^(i+1)); bucket 0 also holds 0. */
static __always_inline void hist_add(void *map, __u64 ns)
{
	__u32 slot = log2_u64(ns);
	__u64 *c;

	if (slot >= MT_HIST_SLOTS)
		slot = MT_HIST_SLOTS - 1;
	c = bpf_map_lookup_elem(map, &slot);
	if (c)
		__sync_fetch_and_add(c, 1);
}

/* The counters of channel @id, created on first sight with its name. */
static __always_inline struct mt_chan *chan(__u64 id, __u64 name)
{
	static const struct mt_chan zero;
	struct mt_chan *c;

	c = bpf_map_lookup_elem(&chans, &id);
	if (!c) {
		/* BPF_NOEXIST: another CPU may have been first; use its. */
		bpf_map_update_elem(&chans, &id, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&chans, &id);
		if (!c)
			return NULL;
	}
	/* Racy but harmless: two CPUs would write the same bytes. */
	if (name && !c->name[0])
		bpf_probe_read_user_str(c->name, sizeof(c->name),
					(const void *)name);
	return c;
}

static __always_inline struct mt_pid *pid_stats(__u32 tgid)
{
	static const struct mt_pid zero;
	struct mt_pid *p;

	p = bpf_map_lookup_elem(&pids, &tgid);
	if (p)
		return p;
	bpf_map_update_elem(&pids, &tgid, &zero, BPF_NOEXIST);
	p = bpf_map_lookup_elem(&pids, &tgid);
	if (p && !p->comm[0]) {
		bpf_get_current_comm(p->comm, sizeof(p->comm));
		p->nspid = ns_tgid();
	}
	return p;
}

static __always_inline void emit(__u32 type, __u64 chan_id, __u64 gen,
				 __u32 entry, __u32 reader_pid, __u64 age,
				 const char *comm)
{
	struct mt_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->type = type;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->reader_pid = reader_pid;
	e->entry = entry;
	e->chan = chan_id;
	e->gen = gen;
	e->age_ns = age;
	e->ts_ns = bpf_ktime_get_ns();
	if (comm)
		__builtin_memcpy(e->comm, comm, sizeof(e->comm));
	else
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

/* pin(chan, gen, entry, name) */
SEC("uprobe")
int mt_pin(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	struct mt_pinned v = {};
	struct mt_pin_key k = {};
	struct mt_chan *c;
	struct mt_pid *p;

	if (!s)
		return 0;
	k.chan = arg(ctx, s, 0);
	k.entry = (__u32)arg(ctx, s, 2);
	c = chan(k.chan, arg(ctx, s, 3));
	if (c)
		__sync_fetch_and_add(&c->pins, 1);
	p = pid_stats(id >> 32);
	if (p)
		__sync_fetch_and_add(&p->pins, 1);
	v.gen = arg(ctx, s, 1);
	v.since_ns = bpf_ktime_get_ns();
	v.pid = id >> 32;
	v.tid = (__u32)id;
	v.nspid = p ? p->nspid : 0;
	bpf_get_current_comm(v.comm, sizeof(v.comm));
	bpf_map_update_elem(&pinned, &k, &v, BPF_ANY);
	return 0;
}

/* unpin(chan, gen, entry, ret): ret is 0 or -ESTALE */
SEC("uprobe")
int mt_unpin(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mt_pin_key k = {};
	struct mt_pinned *v;
	struct mt_chan *c;
	struct mt_pid *p;
	__u64 held, now;
	bool stale;

	if (!s)
		return 0;
	k.chan = arg(ctx, s, 0);
	k.entry = (__u32)arg(ctx, s, 2);
	stale = (__s32)arg(ctx, s, 3) != 0;
	c = chan(k.chan, 0);
	if (c) {
		__sync_fetch_and_add(&c->unpins, 1);
		if (stale)
			__sync_fetch_and_add(&c->stale, 1);
	}
	p = pid_stats(tgid);
	if (p) {
		__sync_fetch_and_add(&p->unpins, 1);
		if (stale)
			__sync_fetch_and_add(&p->stale, 1);
	}
	v = bpf_map_lookup_elem(&pinned, &k);
	if (!v)
		return 0; /* pinned before the tracer came */
	now = bpf_ktime_get_ns();
	held = now > v->since_ns ? now - v->since_ns : 0;
	hist_add(&hold_hist, held);
	if (p) {
		__sync_fetch_and_add(&p->hold_ns, held);
		/* A lost race only loses a maximum; never worth a lock. */
		if (held > p->max_hold_ns)
			p->max_hold_ns = held;
	}
	if (long_pin_ns && held >= long_pin_ns)
		emit(MT_EV_LONG_PIN, k.chan, v->gen, k.entry, v->pid, held,
		     v->comm);
	bpf_map_delete_elem(&pinned, &k);
	return 0;
}

/* publish_begin(chan, gen, bytes, name) */
SEC("uprobe")
int mt_publish_begin(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	struct mt_chan *c;

	if (!s)
		return 0;
	c = chan(arg(ctx, s, 0), arg(ctx, s, 3));
	/* One writer per channel: a plain store is enough. */
	if (c)
		c->pub_begin_ns = bpf_ktime_get_ns();
	return 0;
}

/* publish_end(chan, gen, bytes, checksum) */
SEC("uprobe")
int mt_publish_end(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	struct mt_chan *c;
	__u64 now, begin;

	if (!s)
		return 0;
	c = chan(arg(ctx, s, 0), 0);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->publishes, 1);
	__sync_fetch_and_add(&c->bytes, arg(ctx, s, 2));
	/* Plain stores: one writer per channel, so one CPU at a time. */
	c->last_gen = arg(ctx, s, 1);
	now = bpf_ktime_get_ns();
	begin = c->pub_begin_ns;
	if (begin && now > begin)
		__sync_fetch_and_add(&c->publish_ns, now - begin);
	c->pub_begin_ns = 0;
	return 0;
}

/* grace_begin(chan, gen, pinned) */
SEC("uprobe")
int mt_grace_begin(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	struct mt_chan *c;

	if (!s)
		return 0;
	c = chan(arg(ctx, s, 0), 0);
	if (c)
		__sync_fetch_and_add(&c->grace_waits, 1);
	return 0;
}

/* grace_end(chan, gen, waited_ns, pinned, err) */
SEC("uprobe")
int mt_grace_end(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	struct mt_chan *c;
	__u64 waited;

	if (!s)
		return 0;
	waited = arg(ctx, s, 2);
	hist_add(&grace_hist, waited);
	c = chan(arg(ctx, s, 0), 0);
	if (!c)
		return 0;
	__sync_fetch_and_add(&c->grace_ns, waited);
	if ((__s32)arg(ctx, s, 4) != 0)
		__sync_fetch_and_add(&c->refusals, 1);
	return 0;
}

/* reclaim(chan, gen, entry, reader_pid) and evict(...): same arguments. */
static __always_inline int gone(struct pt_regs *ctx, bool dead)
{
	const struct mt_site *s = site(ctx);
	struct mt_pin_key k = {};
	struct mt_pinned *v;
	struct mt_chan *c;
	__u64 gen, age = 0, now;
	__u32 rpid;

	if (!s)
		return 0;
	k.chan = arg(ctx, s, 0);
	gen = arg(ctx, s, 1);
	k.entry = (__u32)arg(ctx, s, 2);
	rpid = (__u32)arg(ctx, s, 3);
	c = chan(k.chan, 0);
	if (c)
		__sync_fetch_and_add(dead ? &c->reclaims : &c->evictions, 1);
	v = bpf_map_lookup_elem(&pinned, &k);
	if (!v) {
		emit(dead ? MT_EV_RECLAIM : MT_EV_EVICT, k.chan, gen, k.entry,
		     rpid, 0, NULL);
		return 0;
	}
	now = bpf_ktime_get_ns();
	age = now > v->since_ns ? now - v->since_ns : 0;
	/* The entry's pid is what the reader saw; prefer the kernel's. */
	emit(dead ? MT_EV_RECLAIM : MT_EV_EVICT, k.chan, gen, k.entry, v->pid,
	     age, v->comm);
	/* A dead reader never unpins; an evicted one still will (-ESTALE). */
	if (dead)
		bpf_map_delete_elem(&pinned, &k);
	return 0;
}

SEC("uprobe")
int mt_reclaim(struct pt_regs *ctx)
{
	return gone(ctx, true);
}

SEC("uprobe")
int mt_evict(struct pt_regs *ctx)
{
	return gone(ctx, false);
}

/* csum_mismatch(chan, gen, expected, actual) */
SEC("uprobe")
int mt_csum_mismatch(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	struct mt_chan *c;
	__u64 chan_id;

	if (!s)
		return 0;
	chan_id = arg(ctx, s, 0);
	c = chan(chan_id, 0);
	if (c)
		__sync_fetch_and_add(&c->csum_errors, 1);
	emit(MT_EV_CSUM, chan_id, arg(ctx, s, 1), 0,
	     bpf_get_current_pid_tgid() >> 32, 0, NULL);
	return 0;
}

/* remap(chan, slot, old_len, new_len) */
SEC("uprobe")
int mt_remap(struct pt_regs *ctx)
{
	const struct mt_site *s = site(ctx);
	struct mt_chan *c;

	if (!s)
		return 0;
	c = chan(arg(ctx, s, 0), 0);
	if (c)
		__sync_fetch_and_add(&c->remaps, 1);
	return 0;
}
