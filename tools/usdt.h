/* SPDX-License-Identifier: MIT */
/*
 * usdt.h - find the USDT probes of one provider in an ELF file, with the
 * file offsets a uprobe needs and where each argument lives.
 */
#ifndef MMSYNC_TOOLS_USDT_H
#define MMSYNC_TOOLS_USDT_H

#include <stddef.h>

#include "mmsync_trace.h"

struct usdt_site {
	char name[32]; /* probe name */
	char args[128]; /* argument spec as the note has it */
	unsigned long ip_off; /* file offset of the probe's nop */
	unsigned long sema_off; /* file offset of its semaphore; 0: none */
	int probe; /* enum mt_probe, or -1 if unknown to this tool */
	int ok; /* the arguments parsed; 0: the site can't be traced */
	struct mt_site spec;
};

/*
 * Read the "stapsdt" notes of @provider in ELF file @path into a malloc'd
 * array. Returns the number of sites (0: none), or -errno (-ENOEXEC: not an
 * ELF file this tool can read).
 */
int usdt_find(const char *path, const char *provider, struct usdt_site **out);

/* The operand syntaxes usdt_arg.c reads. */
enum usdt_arch {
	USDT_ARCH_X86_64, /* "-4@%edx", "8@16(%rbx)", "4@$5" */
	USDT_ARCH_ARM64, /* "-4@w1", "8@[sp, 16]", "8@[x0]", "4@5" */
};

/*
 * Parse one argument spec of @arch into @a (for arm64, mt_arg.reg is the
 * register number, MT_REG_ARM64_SP for sp). 0; -EINVAL if malformed;
 * -EOPNOTSUPP for a form the BPF side cannot read.
 */
int usdt_parse_arg_arch(enum usdt_arch arch, const char *s, struct mt_arg *a);
/* All of a note's specs, separated by spaces, into @site; 0 or -errno. */
int usdt_parse_args_arch(enum usdt_arch arch, const char *spec,
			 struct mt_site *site);
/* The same for the machine this runs on (-EOPNOTSUPP elsewhere). */
int usdt_parse_arg(const char *s, struct mt_arg *a);
int usdt_parse_args(const char *spec, struct mt_site *site);

/* Probe name <-> enum mt_probe. */
int usdt_probe_id(const char *name);
const char *usdt_probe_name(int id);

#endif
