/* SPDX-License-Identifier: MIT */
/*
 * mmsync_trace.h - what bpf/mmsync_trace.bpf.c and tools/mmsync-trace.c
 * share: map keys and values, ring-buffer events, and the description of
 * where each USDT argument lives.
 *
 * The loader (tools/usdt.c) reads the "mmsync" notes from the library's
 * .note.stapsdt section itself, attaches one uprobe per probe site with the
 * site's index as BPF cookie, and fills the sites map with the argument
 * locations. The BPF side reads the arguments from pt_regs with that
 * description. (libbpf's own USDT support does the same, but its links
 * cannot be pinned; these can, which is what --pin needs.)
 */
#ifndef MMSYNC_TRACE_H
#define MMSYNC_TRACE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define MT_HIST_SLOTS 40 /* log2 buckets of ns: the last one holds >= 9 min */
#define MT_NAME_LEN 64 /* channel path prefix, truncated */
#define MT_COMM_LEN 16
#define MT_MAX_ARGS 6
#define MT_MAX_SITES 64 /* probe sites in one binary */
#define MT_MAX_CHANS 1024
#define MT_MAX_PIDS 8192
#define MT_MAX_PINNED 16384

/* The probes, in the order the loader and the BPF programs agree on. */
enum mt_probe {
	MT_PIN,
	MT_UNPIN,
	MT_PUBLISH_BEGIN,
	MT_PUBLISH_END,
	MT_GRACE_BEGIN,
	MT_GRACE_END,
	MT_RECLAIM,
	MT_EVICT,
	MT_CSUM_MISMATCH,
	MT_REMAP,
	MT_NR_PROBES,
};

/* x86-64 registers a USDT argument may name (arm64: below). */
enum mt_reg {
	MT_REG_AX,
	MT_REG_BX,
	MT_REG_CX,
	MT_REG_DX,
	MT_REG_SI,
	MT_REG_DI,
	MT_REG_BP,
	MT_REG_SP,
	MT_REG_R8,
	MT_REG_R9,
	MT_REG_R10,
	MT_REG_R11,
	MT_REG_R12,
	MT_REG_R13,
	MT_REG_R14,
	MT_REG_R15,
	MT_REG_IP,
	MT_NR_REGS,
};

/*
 * arm64 registers a USDT argument may name: x0..x30 (w0..w30 are their low
 * halves) are 0..30 and sp is MT_REG_ARM64_SP. mt_arg.reg holds one of
 * these on arm64 and an enum mt_reg on x86-64: the loader and the BPF
 * program are built for the same CPU (-D__TARGET_ARCH_...).
 */
#define MT_REG_ARM64_SP 31

enum mt_arg_kind {
	MT_ARG_CONST, /* $imm: the value is off */
	MT_ARG_REG, /* %reg */
	MT_ARG_MEM, /* off(%reg): user memory */
};

struct mt_arg {
	__s64 off;
	__u8 kind; /* enum mt_arg_kind */
	__u8 reg; /* enum mt_reg */
	__u8 size; /* 1, 2, 4 or 8 bytes */
	__u8 is_signed;
	__u32 __pad;
};

/* Value of the sites map; key: the site's index, also its BPF cookie. */
struct mt_site {
	struct mt_arg args[MT_MAX_ARGS];
	__u32 nargs;
	__u32 probe; /* enum mt_probe */
};

/* Value of the chans map; key: the channel id (__u64) the probes pass. */
struct mt_chan {
	char name[MT_NAME_LEN]; /* path prefix, from pin or publish_begin */
	__u64 pins;
	__u64 unpins;
	__u64 stale; /* unpins that returned -ESTALE */
	__u64 publishes; /* completed (publish_end) */
	__u64 bytes; /* published */
	__u64 grace_waits;
	__u64 grace_ns; /* total time publishes waited for readers */
	__u64 refusals; /* grace waits that ended in -ETIMEDOUT */
	__u64 evictions;
	__u64 reclaims;
	__u64 csum_errors;
	__u64 remaps;
	__u64 last_gen; /* last generation published */
	__u64 pub_begin_ns; /* when the publish in flight began */
	__u64 publish_ns; /* total publish_begin -> publish_end time */
};

/* Value of the pids map; key: the tgid (__u32) as the kernel sees it. */
struct mt_pid {
	__u64 pins;
	__u64 unpins;
	__u64 stale;
	__u64 hold_ns; /* total pin hold time */
	__u64 max_hold_ns;
	__u32 nspid; /* the pid in its own namespace (0: unknown) */
	__u32 __pad;
	char comm[MT_COMM_LEN];
};

/* Key of the pinned map: a reader-table entry of a channel. */
struct mt_pin_key {
	__u64 chan;
	__u32 entry;
	__u32 __pad;
};

/* Value of the pinned map: a reader that holds a view right now. */
struct mt_pinned {
	__u64 gen;
	__u64 since_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) of the pin */
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 nspid;
	__u32 __pad;
	char comm[MT_COMM_LEN];
};

enum mt_event_type {
	MT_EV_EVICT = 1, /* the writer evicted a live reader */
	MT_EV_RECLAIM = 2, /* the writer reclaimed a dead reader's pin */
	MT_EV_LONG_PIN = 3, /* a pin was held longer than the threshold */
	MT_EV_CSUM = 4, /* a verifying reader saw a checksum mismatch */
};

struct mt_event {
	__u32 type; /* enum mt_event_type */
	__u32 pid; /* the process that fired it (tgid) */
	__u32 reader_pid; /* the reader's pid (EVICT/RECLAIM: its entry's) */
	__u32 entry;
	__u64 chan;
	__u64 gen;
	__u64 age_ns; /* how long the pin was held (0: unknown) */
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	char comm[MT_COMM_LEN]; /* the reader's, when known */
};

#endif /* MMSYNC_TRACE_H */
