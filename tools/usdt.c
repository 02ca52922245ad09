// SPDX-License-Identifier: MIT
/*
 * usdt.c - read USDT probe notes (.note.stapsdt) with libelf.
 *
 * A note holds the probe's address, the link-time address of
 * .stapsdt.base, the semaphore's address, then "provider\0name\0args\0".
 * A uprobe wants file offsets, so addresses are translated through the
 * PT_LOAD program headers; if the file was prelinked, .stapsdt.base moved
 * and every address moves with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usdt.h"

static const char *const probe_names[MT_NR_PROBES] = {
	[MT_PIN] = "pin",
	[MT_UNPIN] = "unpin",
	[MT_PUBLISH_BEGIN] = "publish_begin",
	[MT_PUBLISH_END] = "publish_end",
	[MT_GRACE_BEGIN] = "grace_begin",
	[MT_GRACE_END] = "grace_end",
	[MT_RECLAIM] = "reclaim",
	[MT_EVICT] = "evict",
	[MT_CSUM_MISMATCH] = "csum_mismatch",
	[MT_REMAP] = "remap",
};

int usdt_probe_id(const char *name)
{
	int i;

	for (i = 0; i < MT_NR_PROBES; i++)
		if (!strcmp(name, probe_names[i]))
			return i;
	return -1;
}

const char *usdt_probe_name(int id)
{
	return id >= 0 && id < MT_NR_PROBES ? probe_names[id] : "?";
}

static const struct {
	const char *names[4];
	int reg;
} regs[] = {
	{ { "rax", "eax", "ax", "al" }, MT_REG_AX },
	{ { "rbx", "ebx", "bx", "bl" }, MT_REG_BX },
	{ { "rcx", "ecx", "cx", "cl" }, MT_REG_CX },
	{ { "rdx", "edx", "dx", "dl" }, MT_REG_DX },
	{ { "rsi", "esi", "si", "sil" }, MT_REG_SI },
	{ { "rdi", "edi", "di", "dil" }, MT_REG_DI },
	{ { "rbp", "ebp", "bp", "bpl" }, MT_REG_BP },
	{ { "rsp", "esp", "sp", "spl" }, MT_REG_SP },
	{ { "r8", "r8d", "r8w", "r8b" }, MT_REG_R8 },
	{ { "r9", "r9d", "r9w", "r9b" }, MT_REG_R9 },
	{ { "r10", "r10d", "r10w", "r10b" }, MT_REG_R10 },
	{ { "r11", "r11d", "r11w", "r11b" }, MT_REG_R11 },
	{ { "r12", "r12d", "r12w", "r12b" }, MT_REG_R12 },
	{ { "r13", "r13d", "r13w", "r13b" }, MT_REG_R13 },
	{ { "r14", "r14d", "r14w", "r14b" }, MT_REG_R14 },
	{ { "r15", "r15d", "r15w", "r15b" }, MT_REG_R15 },
	{ { "rip", "eip", "", "" }, MT_REG_IP },
};

/* "%name" followed by @end; returns the register or -1. */
static int parse_reg(const char *s, const char *end)
{
	size_t n, i, j;

	if (*s != '%')
		return -1;
	s++;
	n = (size_t)(end - s);
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		for (j = 0; j < 4; j++)
			if (regs[i].names[j][0] &&
			    strlen(regs[i].names[j]) == n &&
			    !strncmp(regs[i].names[j], s, n))
				return regs[i].reg;
	return -1;
}

int usdt_parse_arg(const char *s, struct mt_arg *a)
{
	const char *at, *open, *close;
	char *end;
	long size;
	int r;

	memset(a, 0, sizeof(*a));
	size = strtol(s, &end, 10);
	if (end == s || *end != '@')
		return -EINVAL;
	if (size < 0) {
		a->is_signed = 1;
		size = -size;
	}
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	a->size = (__u8)size;
	at = end + 1;
	if (*at == '$') { /* constant */
		a->kind = MT_ARG_CONST;
		a->off = strtoll(at + 1, &end, 0);
		return end != at + 1 && *end == '\0' ? 0 : -EINVAL;
	}
	if (*at == '%') { /* register */
		r = parse_reg(at, at + strlen(at));
		if (r < 0)
			return -EOPNOTSUPP;
		a->kind = MT_ARG_REG;
		a->reg = (__u8)r;
		return 0;
	}
	/* disp(%reg); base+index forms and symbols are not produced here. */
	open = strchr(at, '(');
	close = open ? strchr(open, ')') : NULL;
	if (!open || !close || close[1] != '\0' ||
	    memchr(open, ',', close - open))
		return -EOPNOTSUPP;
	if (open != at) {
		a->off = strtoll(at, &end, 0);
		if (end != open)
			return -EOPNOTSUPP; /* a symbol: sym(%rip) */
	}
	r = parse_reg(open + 1, close);
	if (r < 0 || r == MT_REG_IP)
		return -EOPNOTSUPP;
	a->kind = MT_ARG_MEM;
	a->reg = (__u8)r;
	return 0;
}

static int parse_args(const char *spec, struct mt_site *site)
{
	char buf[128], *tok, *save = NULL;
	int err;

	if (strlen(spec) >= sizeof(buf))
		return -E2BIG;
	strcpy(buf, spec);
	site->nargs = 0;
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		if (site->nargs >= MT_MAX_ARGS)
			return -E2BIG;
		err = usdt_parse_arg(tok, &site->args[site->nargs]);
		if (err)
			return err;
		site->nargs++;
	}
	return 0;
}

/* Link-time address -> file offset, through the PT_LOAD headers. */
static int addr_to_off(Elf *elf, unsigned long addr, unsigned long *off)
{
	GElf_Phdr ph;
	size_t i, n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_filesz) {
			*off = addr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

struct raw_note {
	unsigned long loc, base, sema;
	const char *name, *args;
};

static int add_site(Elf *elf, const struct raw_note *n, long base_fix,
		    struct usdt_site *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", n->name);
	snprintf(s->args, sizeof(s->args), "%s", n->args);
	s->probe = usdt_probe_id(n->name);
	err = addr_to_off(elf, n->loc + base_fix, &s->ip_off);
	if (err)
		return err;
	/* A semaphore in .bss has no file offset: the kernel can't bump it. */
	if (n->sema && addr_to_off(elf, n->sema + base_fix, &s->sema_off))
		return -ENOENT;
	s->spec.probe = s->probe < 0 ? 0 : (__u32)s->probe;
	s->ok = parse_args(n->args, &s->spec) == 0;
	return 0;
}

int usdt_find(const char *path, const char *provider, struct usdt_site **out)
{
	unsigned long stapsdt_base = 0;
	struct usdt_site *sites = NULL, *tmp;
	size_t shstrndx, off, name_off, desc_off;
	int fd, err = 0, count = 0;
	struct raw_note n;
	Elf_Scn *scn = NULL;
	const char *desc;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Nhdr nh;
	Elf *elf;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF ||
	    gelf_getclass(elf) != ELFCLASS64 ||
	    elf_getshdrstrndx(elf, &shstrndx)) {
		err = -ENOEXEC;
		goto out;
	}
	/* .stapsdt.base's address now, to correct prelinked notes. */
	while ((scn = elf_nextscn(elf, scn))) {
		const char *sn;

		if (!gelf_getshdr(scn, &sh))
			continue;
		sn = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sn && !strcmp(sn, ".stapsdt.base"))
			stapsdt_base = sh.sh_addr;
	}
	scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *sn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		sn = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sn || strcmp(sn, ".note.stapsdt"))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		off = 0;
		while ((off = gelf_getnote(data, off, &nh, &name_off,
					   &desc_off)) > 0) {
			const char *prov, *end;

			if (nh.n_type != 3 || nh.n_namesz != 8 ||
			    memcmp((char *)data->d_buf + name_off, "stapsdt",
				   8) ||
			    nh.n_descsz < 3 * 8 + 3)
				continue;
			desc = (const char *)data->d_buf + desc_off;
			end = desc + nh.n_descsz;
			memcpy(&n.loc, desc, 8);
			memcpy(&n.base, desc + 8, 8);
			memcpy(&n.sema, desc + 16, 8);
			prov = desc + 24;
			n.name = memchr(prov, '\0', end - prov);
			if (!n.name || ++n.name >= end)
				continue;
			n.args = memchr(n.name, '\0', end - n.name);
			if (!n.args || ++n.args >= end ||
			    !memchr(n.args, '\0', end - n.args))
				continue;
			if (strcmp(prov, provider))
				continue;
			tmp = realloc(sites, (count + 1) * sizeof(*sites));
			if (!tmp) {
				err = -ENOMEM;
				goto out;
			}
			sites = tmp;
			err = add_site(elf, &n,
				       stapsdt_base && n.base ?
					       (long)(stapsdt_base - n.base) :
					       0,
				       &sites[count]);
			if (err)
				goto out;
			count++;
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	if (err) {
		free(sites);
		return err;
	}
	*out = sites;
	return count;
}
