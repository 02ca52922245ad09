// SPDX-License-Identifier: MIT
/*
 * follow_test.c - the pieces of mmsync follow that are tested alone: the
 * base64 codec that decodes what an etcd server sends (hostile input:
 * never a crash, never two encodings of one value).
 *
 * Built into build/VARIANT/tests/follow_unit by tests/follow.mk. With
 * --pin NAME it is instead a helper of tests/follow_file.sh: it opens a
 * view of channel NAME, prints "pinned GEN", keeps the view until its
 * stdin ends, then prints what mmsync_read_end() said.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mmsync.h>

#include "kselftest_harness.h"

#include "follow.h"

static const struct {
	const char *plain, *b64;
} vectors[] = {
	/* RFC 4648, section 10. */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	/* The two characters past the letters and digits. */
	{ "\xfb\xff\xbf", "+/+/" },
	{ "/cfg/routes", "L2NmZy9yb3V0ZXM=" },
};

TEST(rfc4648_vectors)
{
	char enc[64], dec[64];
	unsigned int i;
	long n;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t len = strlen(vectors[i].plain);

		TH_LOG("'%s'", vectors[i].b64);
		follow_b64_encode(vectors[i].plain, len, enc);
		ASSERT_STREQ(vectors[i].b64, enc);
		ASSERT_EQ(follow_b64_len(len), strlen(enc));
		n = follow_b64_decode(enc, strlen(enc), dec);
		ASSERT_EQ((long)len, n);
		ASSERT_EQ(0, memcmp(dec, vectors[i].plain, len));
	}
}

TEST(rejects_what_is_not_canonical_base64)
{
	static const char *const bad[] = {
		"Zg=", /* length not a multiple of 4 */
		"Zg",	  "Z",		 "Zm9vY",
		"Zg=a", /* padding, then data */
		"Z===", /* three pad characters */
		"====",	  "Zg==Zg==", /* padding in the middle */
		"Zm9v\n", "Zm 9",	 "Zm9-", /* base64url is not it */
		"Zm9_",	  "Zh==", /* non-zero bits under the padding */
		"Zm9=",	  "\xc3\xa9zzz",
	};
	char out[64];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TH_LOG("'%s'", bad[i]);
		ASSERT_EQ(-EINVAL,
			  follow_b64_decode(bad[i], strlen(bad[i]), out));
	}
	/* An embedded NUL is not a base64 character either. */
	ASSERT_EQ(-EINVAL, follow_b64_decode("Zm\0v", 4, out));
}

TEST(random_round_trips)
{
	unsigned char in[1027], back[1027];
	char enc[follow_b64_len(1027) + 1];
	unsigned int seed = 1, len, i;

	for (len = 0; len < sizeof(in); len += 1 + len / 8) {
		for (i = 0; i < len; i++)
			in[i] = (unsigned char)rand_r(&seed);
		follow_b64_encode(in, len, enc);
		ASSERT_EQ(follow_b64_len(len), strlen(enc));
		ASSERT_EQ((long)len, follow_b64_decode(enc, strlen(enc), back));
		ASSERT_EQ(0, memcmp(in, back, len));
	}
}

/* Every one-character change of a valid encoding decodes or fails cleanly. */
TEST(mutations_never_overrun)
{
	static const char good[] = "L2NmZy9yb3V0ZXMvZmVhdHVyZXM=";
	char s[sizeof(good)], out[sizeof(good) + 16];
	unsigned int i, c;
	long n;

	for (i = 0; i < sizeof(good) - 1; i++) {
		for (c = 0; c < 256; c++) {
			memcpy(s, good, sizeof(good));
			s[i] = (char)c;
			memset(out, 0x5a, sizeof(out));
			n = follow_b64_decode(s, sizeof(good) - 1, out);
			ASSERT_TRUE(n == -EINVAL ||
				    (n >= 0 &&
				     n <= (long)(sizeof(good) - 1) / 4 * 3));
			/* Nothing written past what the length allows. */
			ASSERT_EQ(
				0x5a,
				(unsigned char)out[(sizeof(good) - 1) / 4 * 3]);
		}
	}
}

/* The --pin helper (see the top of the file). */
static int pin(const char *name)
{
	struct mmsync_reader *r;
	struct mmsync_view v;
	char c;
	int err;

	err = mmsync_reader_open(name, NULL, &r);
	if (!err)
		err = mmsync_read_begin(r, &v);
	if (err) {
		fprintf(stderr, "pin: %s: %s\n", name, strerror(-err));
		return 1;
	}
	printf("pinned %llu\n", (unsigned long long)v.gen);
	fflush(stdout);
	for (;;) {
		ssize_t n = read(STDIN_FILENO, &c, 1);

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	err = mmsync_read_end(r, &v);
	printf("read_end %d\n", err);
	mmsync_reader_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--pin"))
		return pin(argv[2]);
	return test_harness_run(argc, argv);
}
