// SPDX-License-Identifier: MIT
/*
 * source_etcd_missing.c - follow_etcd_kind where libcurl or json-c were
 * not there at build time (tools/tools.mk, FOLLOW_ETCD_MISSING): the same
 * options, so scripts and --help look the same, and one error line that
 * says what to install.
 */
#include <errno.h>

#include "cli.h"
#include "follow.h"

#ifndef FOLLOW_ETCD_MISSING
#define FOLLOW_ETCD_MISSING "libcurl4-openssl-dev libjson-c-dev"
#endif

static const char *urls;

static error_t etcd_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 0x200:
		urls = arg;
		return 0;
	case 0x201:
	case 0x202:
	case 0x203:
	case 0x204:
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static bool etcd_chosen(void)
{
	return urls != NULL;
}

static int etcd_open(const struct follow_ctx *c, struct follow_source **out)
{
	cli_errorf(c->name,
		   "this mmsync was built without etcd support (rebuild with "
		   "%s)",
		   FOLLOW_ETCD_MISSING);
	return -EOPNOTSUPP;
}

static const struct argp_option etcd_opts[] = {
	{ NULL, 0, NULL, 0,
	  "etcd (not built in: needs libcurl and json-c):", 0 },
	{ "etcd", 0x200, "URL[,URL...]", 0, "Follow KEY in this etcd cluster",
	  0 },
	{ "cacert", 0x201, "FILE", 0, "TLS CA certificates", 0 },
	{ "cert", 0x202, "FILE", 0, "TLS client certificate", 0 },
	{ "key", 0x203, "FILE", 0, "Its private key", 0 },
	{ "user", 0x204, "NAME[:PASSWORD]", 0, "Authenticate as NAME", 0 },
	{},
};

static const struct argp etcd_argp = {
	.options = etcd_opts,
	.parser = etcd_parse,
};

const struct follow_kind follow_etcd_kind = {
	.name = "etcd",
	.argp = &etcd_argp,
	.chosen = etcd_chosen,
	.open = etcd_open,
};
