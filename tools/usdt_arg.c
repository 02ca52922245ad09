// SPDX-License-Identifier: MIT
/*
 * usdt_arg.c - parse the argument specs of USDT probe notes: where each
 * argument lives at the probe, as <sys/sdt.h> wrote it with the
 * compiler's operand syntax, "SIZE@OPERAND" separated by spaces (SIZE
 * negative for signed values):
 *
 *   x86-64 (AT&T):  -4@%edx   8@16(%rbx)   8@-8(%rbp)   4@$5
 *   aarch64:        -4@w1     8@x19        8@[sp, 16]   8@[x0]   4@5
 *
 * Only the forms that a register, a register plus displacement or a
 * constant take are produced by gcc and clang for these probes; others
 * (x86 base+index, symbols, rip-relative) give -EOPNOTSUPP and the site
 * is not traced.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "usdt.h"

static const struct {
	const char *names[4];
	int reg;
} x86_regs[] = {
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

/* "%name" ending at @end; returns the register or -1. */
static int x86_reg(const char *s, const char *end)
{
	size_t n, i, j;

	if (*s != '%')
		return -1;
	s++;
	n = (size_t)(end - s);
	for (i = 0; i < sizeof(x86_regs) / sizeof(x86_regs[0]); i++)
		for (j = 0; j < 4; j++)
			if (x86_regs[i].names[j][0] &&
			    strlen(x86_regs[i].names[j]) == n &&
			    !strncmp(x86_regs[i].names[j], s, n))
				return x86_regs[i].reg;
	return -1;
}

static int x86_operand(const char *at, struct mt_arg *a)
{
	const char *open, *close;
	char *end;
	int r;

	if (*at == '$') { /* constant */
		a->kind = MT_ARG_CONST;
		a->off = strtoll(at + 1, &end, 0);
		return end != at + 1 && *end == '\0' ? 0 : -EINVAL;
	}
	if (*at == '%') { /* register */
		r = x86_reg(at, at + strlen(at));
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
	r = x86_reg(open + 1, close);
	if (r < 0 || r == MT_REG_IP)
		return -EOPNOTSUPP;
	a->kind = MT_ARG_MEM;
	a->reg = (__u8)r;
	return 0;
}

/* "x0".."x30", "w0".."w30" (the low half), "sp"; ending at @end. */
static int arm64_reg(const char *s, const char *end)
{
	size_t n = (size_t)(end - s);
	char *stop;
	long v;

	if (n == 2 && !strncmp(s, "sp", 2))
		return MT_REG_ARM64_SP;
	if (n < 2 || n > 3 || (s[0] != 'x' && s[0] != 'w') ||
	    !isdigit((unsigned char)s[1]))
		return -1;
	v = strtol(s + 1, &stop, 10);
	if (stop != end || v > 30 || (n == 3 && s[1] == '0'))
		return -1;
	return (int)v;
}

static int arm64_operand(const char *at, struct mt_arg *a)
{
	const char *p, *reg_end, *close;
	char *end;
	int r;

	if (*at == '[') { /* [reg] or [reg, off] or [reg, #off] */
		close = strchr(at, ']');
		if (!close || close[1] != '\0')
			return -EINVAL;
		p = at + 1;
		reg_end = p;
		while (reg_end < close && *reg_end != ',' && *reg_end != ' ')
			reg_end++;
		r = arm64_reg(p, reg_end);
		if (r < 0)
			return -EOPNOTSUPP;
		p = reg_end;
		while (*p == ' ')
			p++;
		if (*p == ',') {
			p++;
			while (*p == ' ')
				p++;
			if (*p == '#')
				p++;
			a->off = strtoll(p, &end, 0);
			if (end == p)
				return -EINVAL;
			p = end;
			while (*p == ' ')
				p++;
		}
		if (p != close)
			return -EOPNOTSUPP; /* pre/post-index, extended regs */
		a->kind = MT_ARG_MEM;
		a->reg = (__u8)r;
		return 0;
	}
	if (*at == '#' || *at == '-' || isdigit((unsigned char)*at)) {
		p = *at == '#' ? at + 1 : at;
		a->kind = MT_ARG_CONST;
		a->off = strtoll(p, &end, 0);
		return end != p && *end == '\0' ? 0 : -EINVAL;
	}
	r = arm64_reg(at, at + strlen(at));
	if (r < 0)
		return -EOPNOTSUPP;
	a->kind = MT_ARG_REG;
	a->reg = (__u8)r;
	return 0;
}

int usdt_parse_arg_arch(enum usdt_arch arch, const char *s, struct mt_arg *a)
{
	char *end;
	long size;

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
	switch (arch) {
	case USDT_ARCH_X86_64:
		return x86_operand(end + 1, a);
	case USDT_ARCH_ARM64:
		return arm64_operand(end + 1, a);
	}
	return -EOPNOTSUPP;
}

int usdt_parse_arg(const char *s, struct mt_arg *a)
{
#if defined(__x86_64__)
	return usdt_parse_arg_arch(USDT_ARCH_X86_64, s, a);
#elif defined(__aarch64__)
	return usdt_parse_arg_arch(USDT_ARCH_ARM64, s, a);
#else
	memset(a, 0, sizeof(*a));
	return -EOPNOTSUPP;
#endif
}

int usdt_parse_args_arch(enum usdt_arch arch, const char *spec,
			 struct mt_site *site)
{
	char buf[128];
	const char *p = spec;
	size_t n;
	int depth, err;

	site->nargs = 0;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return 0;
		/* One argument: up to a space outside brackets ("[sp, 8]"). */
		depth = 0;
		for (n = 0; p[n] && (depth || p[n] != ' '); n++) {
			if (p[n] == '[')
				depth++;
			else if (p[n] == ']' && depth)
				depth--;
		}
		if (n >= sizeof(buf))
			return -E2BIG;
		if (site->nargs >= MT_MAX_ARGS)
			return -E2BIG;
		memcpy(buf, p, n);
		buf[n] = '\0';
		err = usdt_parse_arg_arch(arch, buf, &site->args[site->nargs]);
		if (err)
			return err;
		site->nargs++;
		p += n;
	}
}

int usdt_parse_args(const char *spec, struct mt_site *site)
{
#if defined(__x86_64__)
	return usdt_parse_args_arch(USDT_ARCH_X86_64, spec, site);
#elif defined(__aarch64__)
	return usdt_parse_args_arch(USDT_ARCH_ARM64, spec, site);
#else
	site->nargs = 0;
	return -EOPNOTSUPP;
#endif
}
