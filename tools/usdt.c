// SPDX-License-Identifier: MIT
/*
 * usdt.c - read USDT probe notes (.note.stapsdt) with libelf.
 *
 * A note holds the probe's address, the link-time address of
 * .stapsdt.base, the semaphore's address, then "provider\0name\0args\0".
 * A uprobe wants file offsets, so addresses are translated through the
 * PT_LOAD program headers; if the file was prelinked, .stapsdt.base moved
 * and every address moves with it. The argument specs are parsed in
 * usdt_arg.c.
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
	s->ok = usdt_parse_args(n->args, &s->spec) == 0;
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
