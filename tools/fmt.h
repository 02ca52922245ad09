/* SPDX-License-Identifier: MIT */
/* fmt.h - output helpers shared by the mmsync tools. */
#ifndef MMSYNC_TOOLS_FMT_H
#define MMSYNC_TOOLS_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ns as a short human string: 950ns, 12.3us, 4.1ms, 2.0s, 3.5m, 1.2h */
const char *human_ns(uint64_t ns, char *buf, size_t len);
/* bytes as a short human string: 512 B, 4.0 KiB, 3.0 MiB, 1.2 GiB */
const char *human_bytes(uint64_t n, char *buf, size_t len);
/* @s as a JSON string, quoted and escaped. */
void json_str(FILE *f, const char *s);

#endif
