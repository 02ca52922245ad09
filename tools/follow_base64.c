// SPDX-License-Identifier: MIT
/*
 * follow_base64.c - base64 for etcd's JSON gateway, which writes keys and
 * values as base64 strings (Go's encoding/json for []byte: the standard
 * alphabet, padded).
 *
 * libcurl's base64 code is internal and OpenSSL's would be a dependency
 * for twenty lines. The decoder takes what a server sends as hostile: any
 * character outside the alphabet, a length that is not a multiple of 4,
 * padding anywhere but the end, or non-zero bits in the last character
 * (two encodings of the same bytes) is -EINVAL.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "follow.h"

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void follow_b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	uint32_t v;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*out++ = b64_chars[v >> 18];
		*out++ = b64_chars[(v >> 12) & 63];
		*out++ = b64_chars[(v >> 6) & 63];
		*out++ = b64_chars[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		*out++ = b64_chars[v >> 18];
		*out++ = b64_chars[(v >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*out++ = b64_chars[v >> 18];
		*out++ = b64_chars[(v >> 12) & 63];
		*out++ = b64_chars[(v >> 6) & 63];
		*out++ = '=';
	}
	*out = '\0';
}

/* The 6-bit value of @c, or -1. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long follow_b64_decode(const char *in, size_t n, void *out)
{
	unsigned char *o = out;
	int q[4], pad = 0, k;
	size_t i;

	if (n % 4)
		return -EINVAL;
	if (n && in[n - 1] == '=')
		pad = n >= 2 && in[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		for (k = 0; k < 4; k++) {
			/* '=' only as the padding of the last quantum. */
			if (i + 4 == n && k >= 4 - pad) {
				q[k] = 0;
				continue;
			}
			q[k] = b64_value((unsigned char)in[i + k]);
			if (q[k] < 0)
				return -EINVAL;
		}
		*o++ = (unsigned char)(q[0] << 2 | q[1] >> 4);
		if (i + 4 < n || pad < 2)
			*o++ = (unsigned char)((q[1] & 15) << 4 | q[2] >> 2);
		if (i + 4 < n || pad < 1)
			*o++ = (unsigned char)((q[2] & 3) << 6 | q[3]);
	}
	/* The bits the padding drops must be zero: one encoding per value. */
	if ((pad == 2 && (q[1] & 15)) || (pad == 1 && (q[2] & 3)))
		return -EINVAL;
	return (long)(o - (unsigned char *)out);
}
