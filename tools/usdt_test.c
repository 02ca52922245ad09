// SPDX-License-Identifier: MIT
/*
 * usdt_test.c - the USDT argument parser on both operand syntaxes it
 * reads (x86-64 AT&T and aarch64), whatever machine runs the test, and,
 * where libelf is there (USDT_TEST_NOTES), on the real notes of this
 * build's libmmsync.
 *
 * Built into build/VARIANT/tests/usdt by tools/tools.mk.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "usdt.h"

struct want {
	const char *spec;
	int err;
	int kind, reg, size, is_signed;
	long long off;
};

static void check(struct __test_metadata *_metadata, enum usdt_arch arch,
		  const struct want *w, size_t n)
{
	struct mt_arg a;
	size_t i;

	for (i = 0; i < n; i++) {
		int err = usdt_parse_arg_arch(arch, w[i].spec, &a);

		TH_LOG("%s", w[i].spec);
		ASSERT_EQ(w[i].err, err);
		if (err)
			continue;
		EXPECT_EQ(w[i].kind, a.kind);
		EXPECT_EQ(w[i].size, a.size);
		EXPECT_EQ(w[i].is_signed, a.is_signed);
		EXPECT_EQ(w[i].off, a.off);
		if (a.kind != MT_ARG_CONST)
			EXPECT_EQ(w[i].reg, a.reg);
	}
}

#define N(x) (sizeof(x) / sizeof((x)[0]))
/* A spec that must fail with @err. */
#define BAD(spec, err)                   \
	{                                \
		spec, err, 0, 0, 0, 0, 0 \
	}

TEST(x86_64_operands)
{
	static const struct want w[] = {
		{ "-4@%edx", 0, MT_ARG_REG, MT_REG_DX, 4, 1, 0 },
		{ "8@%rdi", 0, MT_ARG_REG, MT_REG_DI, 8, 0, 0 },
		{ "1@%r8b", 0, MT_ARG_REG, MT_REG_R8, 1, 0, 0 },
		{ "2@%si", 0, MT_ARG_REG, MT_REG_SI, 2, 0, 0 },
		{ "8@16(%rbx)", 0, MT_ARG_MEM, MT_REG_BX, 8, 0, 16 },
		{ "-8@-8(%rbp)", 0, MT_ARG_MEM, MT_REG_BP, 8, 1, -8 },
		{ "8@(%rsp)", 0, MT_ARG_MEM, MT_REG_SP, 8, 0, 0 },
		{ "8@0x20(%r15)", 0, MT_ARG_MEM, MT_REG_R15, 8, 0, 0x20 },
		{ "4@$5", 0, MT_ARG_CONST, 0, 4, 0, 5 },
		{ "-4@$-1", 0, MT_ARG_CONST, 0, 4, 1, -1 },
		/* Forms the BPF side cannot read, and garbage. */
		BAD("8@sym(%rip)", -EOPNOTSUPP),
		BAD("8@8(%rip)", -EOPNOTSUPP),
		BAD("8@(%rax,%rbx,8)", -EOPNOTSUPP),
		BAD("8@%xmm0", -EOPNOTSUPP),
		BAD("8@x0", -EOPNOTSUPP), /* arm64 syntax */
		BAD("3@%eax", -EINVAL),
		BAD("@%eax", -EINVAL),
		BAD("8%eax", -EINVAL),
		BAD("4@$", -EINVAL),
		BAD("4@$5x", -EINVAL),
		BAD("", -EINVAL),
	};

	check(_metadata, USDT_ARCH_X86_64, w, N(w));
}

TEST(arm64_operands)
{
	static const struct want w[] = {
		{ "-4@w1", 0, MT_ARG_REG, 1, 4, 1, 0 },
		{ "8@x0", 0, MT_ARG_REG, 0, 8, 0, 0 },
		{ "8@x19", 0, MT_ARG_REG, 19, 8, 0, 0 },
		{ "8@x30", 0, MT_ARG_REG, 30, 8, 0, 0 },
		{ "8@sp", 0, MT_ARG_REG, MT_REG_ARM64_SP, 8, 0, 0 },
		{ "8@[sp, 16]", 0, MT_ARG_MEM, MT_REG_ARM64_SP, 8, 0, 16 },
		{ "8@[sp]", 0, MT_ARG_MEM, MT_REG_ARM64_SP, 8, 0, 0 },
		{ "8@[x0]", 0, MT_ARG_MEM, 0, 8, 0, 0 },
		{ "-8@[x29, -8]", 0, MT_ARG_MEM, 29, 8, 1, -8 },
		{ "4@[x1, #12]", 0, MT_ARG_MEM, 1, 4, 0, 12 },
		{ "4@[x2,8]", 0, MT_ARG_MEM, 2, 4, 0, 8 },
		{ "4@5", 0, MT_ARG_CONST, 0, 4, 0, 5 },
		{ "-8@-3", 0, MT_ARG_CONST, 0, 8, 1, -3 },
		{ "4@#7", 0, MT_ARG_CONST, 0, 4, 0, 7 },
		/* Forms the BPF side cannot read, and garbage. */
		BAD("8@x31", -EOPNOTSUPP),
		BAD("8@x01", -EOPNOTSUPP),
		BAD("8@v0", -EOPNOTSUPP),
		BAD("8@%rdi", -EOPNOTSUPP), /* x86 syntax */
		BAD("8@[x0, x1]", -EINVAL),
		BAD("8@[x0, 8]!", -EINVAL),
		BAD("8@[x0", -EINVAL),
		BAD("8@[x0, 8", -EINVAL),
		BAD("4@5x", -EINVAL),
		BAD("3@x0", -EINVAL),
	};

	check(_metadata, USDT_ARCH_ARM64, w, N(w));
}

/* A note's spec is split on spaces, except inside arm64's brackets. */
TEST(spec_lists)
{
	struct mt_site s;

	ASSERT_EQ(0, usdt_parse_args_arch(USDT_ARCH_ARM64,
					  "-4@w1 8@[sp, 16]  8@x2", &s));
	ASSERT_EQ(3, s.nargs);
	EXPECT_EQ(MT_ARG_REG, s.args[0].kind);
	EXPECT_EQ(MT_ARG_MEM, s.args[1].kind);
	EXPECT_EQ(16, s.args[1].off);
	EXPECT_EQ(MT_REG_ARM64_SP, s.args[1].reg);
	EXPECT_EQ(2, s.args[2].reg);

	ASSERT_EQ(0, usdt_parse_args_arch(USDT_ARCH_X86_64,
					  "8@%rdi -4@%esi 8@16(%rbx)", &s));
	ASSERT_EQ(3, s.nargs);
	EXPECT_EQ(MT_REG_BX, s.args[2].reg);

	ASSERT_EQ(0, usdt_parse_args_arch(USDT_ARCH_X86_64, "", &s));
	EXPECT_EQ(0, s.nargs);
	EXPECT_EQ(-E2BIG, usdt_parse_args_arch(
				  USDT_ARCH_ARM64,
				  "8@x0 8@x1 8@x2 8@x3 8@x4 8@x5 8@x6", &s));
	EXPECT_EQ(-EINVAL,
		  usdt_parse_args_arch(USDT_ARCH_ARM64, "8@x0 8@[x1,", &s));
}

#ifdef USDT_TEST_NOTES
/* Every probe site of this build's library parses for this machine. */
TEST(library_notes)
{
	char self[PATH_MAX], lib[PATH_MAX + 32], *slash;
	struct usdt_site *sites;
	ssize_t n;
	int i, count;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_LT(0, n);
	self[n] = '\0';
	slash = strrchr(self, '/');
	ASSERT_NE(NULL, slash);
	*slash = '\0';
	/* build/VARIANT/tests/usdt -> build/VARIANT/libmmsync.so.0 */
	snprintf(lib, sizeof(lib), "%s/../libmmsync.so.0", self);
	count = usdt_find(lib, "mmsync", &sites);
	if (count == 0)
		SKIP(return, "the library has no USDT probes (no <sys/sdt.h>)");
	ASSERT_LT(0, count);
	for (i = 0; i < count; i++) {
		TH_LOG("%s: %s", sites[i].name, sites[i].args);
		EXPECT_TRUE(sites[i].ok);
		EXPECT_LE(0, sites[i].probe);
	}
	free(sites);
}
#endif

TEST_HARNESS_MAIN
