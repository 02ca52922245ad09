// SPDX-License-Identifier: MIT
/*
 * proto_floor_nopin.c - proto_floor.c without a pin: the generation load
 * and the payload, nothing else; what bench/pace.c's loop costs with no
 * protocol at all (its reference).
 */
#define FLOOR_PIN 2
#include "proto_floor.c"
