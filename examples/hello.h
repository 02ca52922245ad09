/* SPDX-License-Identifier: MIT */
/* hello.h - the message both hello-world examples agree on. */
#ifndef HELLO_H
#define HELLO_H

#include <stdint.h>

#define HELLO_CHANNEL "mmsync_hello"

/* Plain old data: a snapshot is read in place, so no pointers inside. */
struct hello_world {
	uint32_t version;
	uint32_t nr_messages;
	char messages[3][16];
};

#endif
