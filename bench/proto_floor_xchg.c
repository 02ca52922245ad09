// SPDX-License-Identifier: MIT
/*
 * proto_floor_xchg.c - proto_floor.c with an xchg pin: the floor of a
 * fence-mode reader (bench/pace.c's reference).
 */
#define FLOOR_PIN 1
#include "proto_floor.c"
