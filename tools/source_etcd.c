// SPDX-License-Identifier: MIT
/*
 * source_etcd.c - follow an etcd key: mmsync follow NAME --etcd URL KEY.
 *
 * Talks to etcd's v3 HTTP/JSON gateway (etcd 3.4 and later serve it on
 * the client URLs, under /v3/) with libcurl, and parses what comes back
 * with json-c: no HTTP or JSON of our own. Keys and values are base64 in
 * that JSON (follow_base64.c).
 *
 *   POST /v3/auth/authenticate  {"name", "password"} -> {"token"}, sent
 *                               as the Authorization header (--user)
 *   POST /v3/kv/range           {"key"} -> the value, its mod_revision
 *                               and the store's revision R
 *   POST /v3/watch              {"create_request": {"key",
 *                               "start_revision": R + 1}}: a response that
 *                               never ends, one JSON object per message
 *
 * The watch resumes from the last revision seen + 1 after any failure, so
 * no revision is skipped. When that revision was compacted away, etcd
 * cancels the watch with compact_revision: the key is read again (range)
 * and watched from there. Failures (refused connections, TLS, HTTP
 * errors, a stream that ends or does not parse) move to the next URL
 * after a backoff of 100 ms doubling to 2 s, with jitter; the first
 * failure is logged, then one line per 30 s while it lasts.
 *
 * Everything runs in follow's thread on a curl multi handle, whose poll
 * also sleeps on the stop descriptor. Messages are parsed as they arrive
 * (in curl's write callback, one json_tokener over the stream, so a
 * message split across reads or several in one read are both fine); a
 * value found there waits in `pend`, replaced by any newer one, until
 * follow asks for it. So what arrives while a publish is running is
 * coalesced: the channel gets the newest revision, in revision order,
 * never an older one after a newer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "cli.h"
#include "follow.h"

#define BACKOFF_MIN_NS 100000000ll
#define BACKOFF_MAX_NS 2000000000ll
#define FAIL_LOG_EVERY_NS 30000000000ll
#define CONNECT_TIMEOUT_MS 3000l
#define REQUEST_TIMEOUT_MS 30000l
/* A value (base64 in JSON) or a message larger than this is refused. */
#define MAX_MESSAGE (512u << 20)
/* Of an error body, this much is kept for the message. */
#define MAX_ERROR_BODY 4096u

static struct {
	const char *urls, *cacert, *cert, *key, *user;
} eo;

struct buf {
	char *p;
	size_t len, cap;
};

enum req_kind { REQ_NONE, REQ_AUTH, REQ_RANGE, REQ_WATCH };

struct esrc {
	struct follow_source base;
	const struct follow_ctx *c;
	char **eps; /* base URLs, without a trailing '/' */
	unsigned int nr_eps, ep;
	char *key_b64;
	char *user, *password;

	CURLM *m;
	CURL *h; /* one easy handle, reset per request: keeps the connection */
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	char *body;
	enum req_kind req;
	struct buf resp; /* auth, range and error bodies */
	json_tokener *tok; /* the watch stream */
	size_t msg_bytes; /* of the watch message being parsed */
	char why[512]; /* set by the callbacks when they end a request */
	bool compacted; /* the watch was canceled by a compaction */

	char *token; /* --user: the auth token */
	int64_t rev; /* KEY is known up to this revision */
	bool need_range; /* read KEY before watching (start, compaction) */
	int64_t retry_at; /* CLOCK_MONOTONIC ns of the next try */
	int64_t backoff_ns;
	unsigned int fails; /* since the last watch that was created */
	unsigned int round_fails; /* --once: one round over the URLs */
	int64_t fail_logged_at;
	unsigned int seed;

	/* The newest value not handed over yet. */
	bool have_pend, pend_gone, pend_absent; /* absent: never was there */
	int64_t pend_rev;
	struct buf pend;
	/* The value handed over last (kept for again()). */
	bool out_gone, out_absent;
	int64_t out_rev;
	struct buf out;
	int64_t delivered_rev;
	bool gone_told;
};

static struct esrc *to_esrc(struct follow_source *s)
{
	return (struct esrc *)s;
}

/* ---- options ------------------------------------------------------------ */

enum {
	OPT_ETCD = 0x200,
	OPT_CACERT,
	OPT_CERT,
	OPT_KEY,
	OPT_USER,
};

/* 0 if every URL of the comma-separated @list is an http(s) URL. */
static int check_urls(const char *list, char *bad, size_t len)
{
	const char *p = list, *end;
	char url[2048];
	CURLU *u;
	char *scheme = NULL;
	size_t n;
	int ok;

	if (!*list)
		return snprintf(bad, len, "%s", "(empty)"), -EINVAL;
	for (;;) {
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		snprintf(bad, len, "%.*s", (int)n, p);
		if (!n || n >= sizeof(url))
			return -EINVAL;
		memcpy(url, p, n);
		url[n] = '\0';
		u = curl_url();
		if (!u)
			return -ENOMEM;
		ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ==
			     CURLUE_OK &&
		     (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
		     !strchr(url, '?') && !strchr(url, '#');
		curl_free(scheme);
		scheme = NULL;
		curl_url_cleanup(u);
		if (!ok)
			return -EINVAL;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static error_t etcd_parse(int key, char *arg, struct argp_state *state)
{
	char bad[256];

	switch (key) {
	case OPT_ETCD:
		if (check_urls(arg, bad, sizeof(bad)))
			argp_error(state,
				   "bad etcd URL '%s': want http://HOST:PORT "
				   "or https://HOST:PORT, comma-separated",
				   bad);
		eo.urls = arg;
		return 0;
	case OPT_CACERT:
		eo.cacert = arg;
		return 0;
	case OPT_CERT:
		eo.cert = arg;
		return 0;
	case OPT_KEY:
		eo.key = arg;
		return 0;
	case OPT_USER:
		if (!*arg || *arg == ':')
			argp_error(state,
				   "bad --user '%s': want NAME[:PASSWORD]",
				   arg);
		eo.user = arg;
		return 0;
	case ARGP_KEY_END:
		if (!eo.urls && (eo.cacert || eo.cert || eo.key || eo.user))
			argp_error(state, "--cacert, --cert, --key and --user "
					  "are for --etcd");
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

static bool etcd_chosen(void)
{
	return eo.urls != NULL;
}

/* ---- small helpers ------------------------------------------------------ */

static int buf_add(struct buf *b, const void *p, size_t n, size_t max)
{
	size_t cap;
	char *q;

	if (n > max || b->len > max - n)
		return -EFBIG;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) :
		       NULL;
}

static bool jbool(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	return json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

/* An int64 field; the gateway writes them as strings ("57"). */
static bool jint(json_object *o, const char *k, int64_t *out)
{
	json_object *v = jget(o, k);
	const char *s;
	char *end;
	long long n;

	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = n;
	return true;
}

/* What an etcd error object says: "error" (a string or an object). */
static const char *etcd_error(json_object *o)
{
	json_object *e = jget(o, "error");
	const char *m;

	if (!e)
		return NULL;
	if (json_object_is_type(e, json_type_string))
		return json_object_get_string(e);
	m = jstr(e, "message");
	if (m)
		return m;
	m = jstr(o, "message");
	return m ? m : "an error without a message";
}

/* "HTTP 404: what the body says" into s->why. */
static void http_error(struct esrc *s, long code)
{
	json_object *o = s->resp.p ? json_tokener_parse(s->resp.p) : NULL;
	const char *m = o ? etcd_error(o) : NULL;
	char text[200];
	size_t i, n = 0;

	if (!m) {
		/* Not etcd's JSON: the first printable bytes of the body. */
		for (i = 0; i < s->resp.len && n < sizeof(text) - 1; i++) {
			unsigned char ch = (unsigned char)s->resp.p[i];

			if (ch == '\n' || ch == '\r')
				break;
			text[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		text[n] = '\0';
		m = text;
	}
	snprintf(s->why, sizeof(s->why), "HTTP %ld%s%s", code, *m ? ": " : "",
		 m);
	json_object_put(o);
}

/* ---- the value waiting to be handed over -------------------------------- */

static int set_value(struct esrc *s, const char *b64, size_t n, int64_t rev)
{
	struct buf *b = &s->pend;
	long len;

	if (n / 4 * 3 + 1 > b->cap) {
		char *q = realloc(b->p, n / 4 * 3 + 1);

		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = n / 4 * 3 + 1;
	}
	len = follow_b64_decode(b64, n, b->p);
	if (len < 0) {
		snprintf(s->why, sizeof(s->why),
			 "etcd sent a value that is not base64 (revision %lld)",
			 (long long)rev);
		return -EBADMSG;
	}
	b->len = (size_t)len;
	s->have_pend = true;
	s->pend_gone = false;
	s->pend_rev = rev;
	return 0;
}

static void set_gone(struct esrc *s, int64_t rev, bool absent)
{
	s->have_pend = true;
	s->pend_gone = true;
	s->pend_absent = absent;
	s->pend_rev = rev;
	s->pend.len = 0;
}

/* ---- failure and backoff ------------------------------------------------ */

static void fail(struct esrc *s, const char *why)
{
	int64_t now = follow_now_ns(), delay = 0;
	const char *ep = s->eps[s->ep];

	s->fails++;
	/* The next connection authenticates again (etcd may be new). */
	free(s->token);
	s->token = NULL;
	if (s->c->once) {
		follow_log(s->c->name, "etcd %s: %s", ep, why);
		s->round_fails++;
	} else {
		/* Jitter: a fleet that lost its etcd does not come back in step. */
		delay = s->backoff_ns / 4 * 3 +
			(int64_t)(rand_r(&s->seed) % (s->backoff_ns / 2 + 1));
		if (s->fails == 1 ||
		    now - s->fail_logged_at >= FAIL_LOG_EVERY_NS) {
			if (s->fails == 1)
				follow_log(s->c->name,
					   "etcd %s: %s; retrying in %.1fs", ep,
					   why, delay / 1e9);
			else
				follow_log(s->c->name,
					   "etcd %s: %s; retrying in %.1fs "
					   "(%u attempts failed)",
					   ep, why, delay / 1e9, s->fails);
			s->fail_logged_at = now;
		}
		s->backoff_ns = s->backoff_ns * 2 > BACKOFF_MAX_NS ?
					BACKOFF_MAX_NS :
					s->backoff_ns * 2;
	}
	s->ep = (s->ep + 1) % s->nr_eps;
	s->retry_at = now + delay;
}

static void succeeded(struct esrc *s)
{
	if (s->fails && !s->c->once)
		follow_log(s->c->name,
			   "etcd %s: watching %s from revision %lld again "
			   "(after %u failed attempt%s)",
			   s->eps[s->ep], s->c->target, (long long)s->rev + 1,
			   s->fails, s->fails > 1 ? "s" : "");
	else if (s->c->verbose)
		follow_log(s->c->name,
			   "etcd %s: watching %s from revision %lld",
			   s->eps[s->ep], s->c->target, (long long)s->rev + 1);
	s->fails = 0;
	s->backoff_ns = BACKOFF_MIN_NS;
}

/* ---- the watch stream --------------------------------------------------- */

/* One message of the watch; false ends the stream (s->why or compacted). */
static bool watch_message(struct esrc *s, json_object *o)
{
	json_object *res = jget(o, "result"), *evs, *ev, *kv;
	const char *err = etcd_error(o), *type, *key, *val;
	int64_t rev, compact = 0;
	size_t i, n;

	if (err) {
		snprintf(s->why, sizeof(s->why), "watch: %s", err);
		return false;
	}
	if (!json_object_is_type(res, json_type_object)) {
		snprintf(s->why, sizeof(s->why),
			 "watch: a message without a result");
		return false;
	}
	if (jbool(res, "canceled")) {
		if (jint(res, "compact_revision", &compact) && compact > 0) {
			follow_log(s->c->name,
				   "etcd %s: revision %lld of %s was "
				   "compacted (the oldest kept is %lld); "
				   "reading it again",
				   s->eps[s->ep], (long long)s->rev + 1,
				   s->c->target, (long long)compact);
			s->compacted = true;
			return false;
		}
		type = jstr(res, "cancel_reason");
		snprintf(s->why, sizeof(s->why), "watch canceled: %s",
			 type && *type ? type : "no reason given");
		return false;
	}
	if (jbool(res, "created"))
		succeeded(s);
	evs = jget(res, "events");
	if (!evs)
		return true; /* created, or a progress notification */
	if (!json_object_is_type(evs, json_type_array)) {
		snprintf(s->why, sizeof(s->why), "watch: events is no array");
		return false;
	}
	n = json_object_array_length(evs);
	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(evs, i);
		kv = jget(ev, "kv");
		key = jstr(kv, "key");
		if (!key || strcmp(key, s->key_b64))
			continue; /* not ours: the watch is for one key */
		if (!jint(kv, "mod_revision", &rev)) {
			snprintf(s->why, sizeof(s->why),
				 "watch: an event without a mod_revision");
			return false;
		}
		if (rev <= s->rev)
			continue; /* seen before a reconnection */
		type = jstr(ev, "type");
		if (type && !strcmp(type, "DELETE")) {
			set_gone(s, rev, false);
		} else {
			/* An empty value has no "value" field at all. */
			val = jstr(kv, "value");
			if (set_value(s, val ? val : "",
				      val ? json_object_get_string_len(
						    jget(kv, "value")) :
					    0,
				      rev))
				return false;
		}
		s->rev = rev;
	}
	return true;
}

static size_t on_watch(char *p, size_t size, size_t nmemb, void *arg)
{
	struct esrc *s = arg;
	size_t len = size * nmemb, used;
	enum json_tokener_error jerr;
	json_object *o;
	long code = 0;
	bool go_on;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		/* An error body: keep its beginning for the message. */
		if (s->resp.len < MAX_ERROR_BODY)
			buf_add(&s->resp, p,
				len < MAX_ERROR_BODY ? len : MAX_ERROR_BODY,
				MAX_ERROR_BODY * 2);
		return size * nmemb;
	}
	while (len) {
		o = json_tokener_parse_ex(
			s->tok, p, (int)(len > INT32_MAX ? INT32_MAX : len));
		jerr = json_tokener_get_error(s->tok);
		used = json_tokener_get_parse_end(s->tok);
		if (!o && jerr == json_tokener_continue) {
			/* All of it is in the tokener: the message goes on. */
			s->msg_bytes += len;
			if (s->msg_bytes > MAX_MESSAGE) {
				snprintf(s->why, sizeof(s->why),
					 "watch: a message larger than %u MiB",
					 MAX_MESSAGE >> 20);
				return 0;
			}
			break;
		}
		if (!o) {
			snprintf(s->why, sizeof(s->why), "watch: not JSON (%s)",
				 json_tokener_error_desc(jerr));
			return 0;
		}
		go_on = watch_message(s, o);
		json_object_put(o);
		json_tokener_reset(s->tok);
		s->msg_bytes = 0;
		if (!go_on)
			return 0; /* ends the transfer: CURLE_WRITE_ERROR */
		p += used;
		len -= used;
	}
	return size * nmemb;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct esrc *s = arg;
	long code = 0;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	if (buf_add(&s->resp, p, size * nmemb,
		    code == 200 ? MAX_MESSAGE : MAX_ERROR_BODY)) {
		if (code == 200) {
			snprintf(s->why, sizeof(s->why),
				 "an answer larger than %u MiB",
				 MAX_MESSAGE >> 20);
			return 0;
		}
	}
	return size * nmemb;
}

/* ---- requests ----------------------------------------------------------- */

static const char *req_path(enum req_kind k)
{
	switch (k) {
	case REQ_AUTH:
		return "/v3/auth/authenticate";
	case REQ_RANGE:
		return "/v3/kv/range";
	default:
		return "/v3/watch";
	}
}

static char *req_body(struct esrc *s, enum req_kind k)
{
	json_object *o = json_object_new_object(), *w;
	char *body;

	if (!o)
		return NULL;
	if (k == REQ_AUTH) {
		json_object_object_add(o, "name",
				       json_object_new_string(s->user));
		json_object_object_add(o, "password",
				       json_object_new_string(s->password));
	} else if (k == REQ_RANGE) {
		json_object_object_add(o, "key",
				       json_object_new_string(s->key_b64));
	} else {
		w = json_object_new_object();
		json_object_object_add(w, "key",
				       json_object_new_string(s->key_b64));
		json_object_object_add(w, "start_revision",
				       json_object_new_int64(s->rev + 1));
		json_object_object_add(o, "create_request", w);
	}
	body = strdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return body;
}

static int start(struct esrc *s, enum req_kind k)
{
	char url[4096], auth[1024];
	CURLcode e = CURLE_OK;

	snprintf(url, sizeof(url), "%s%s", s->eps[s->ep], req_path(k));
	free(s->body);
	s->body = req_body(s, k);
	curl_slist_free_all(s->hdrs);
	s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for a large body. */
	s->hdrs = curl_slist_append(s->hdrs, "Expect:");
	if (s->token && k != REQ_AUTH) {
		snprintf(auth, sizeof(auth), "Authorization: %s", s->token);
		s->hdrs = curl_slist_append(s->hdrs, auth);
	}
	if (!s->body || !s->hdrs)
		return -ENOMEM;
	s->resp.len = 0;
	s->why[0] = s->errbuf[0] = '\0';
	s->compacted = false;
	s->msg_bytes = 0;
	json_tokener_reset(s->tok);

	curl_easy_reset(s->h);
#define SET(opt, val) (e = e ? e : curl_easy_setopt(s->h, opt, val))
	SET(CURLOPT_URL, url);
	SET(CURLOPT_POSTFIELDS, s->body);
	SET(CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
	SET(CURLOPT_HTTPHEADER, s->hdrs);
	SET(CURLOPT_WRITEFUNCTION, k == REQ_WATCH ? on_watch : on_body);
	SET(CURLOPT_WRITEDATA, s);
	SET(CURLOPT_ERRORBUFFER, s->errbuf);
	SET(CURLOPT_NOSIGNAL, 1l);
	SET(CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	SET(CURLOPT_TIMEOUT_MS, k == REQ_WATCH ? 0l : REQUEST_TIMEOUT_MS);
	/* A peer that vanished without a FIN is noticed within a minute. */
	SET(CURLOPT_TCP_KEEPALIVE, 1l);
	SET(CURLOPT_TCP_KEEPIDLE, 10l);
	SET(CURLOPT_TCP_KEEPINTVL, 5l);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (eo.cacert)
		SET(CURLOPT_CAINFO, eo.cacert);
	if (eo.cert)
		SET(CURLOPT_SSLCERT, eo.cert);
	if (eo.key)
		SET(CURLOPT_SSLKEY, eo.key);
#undef SET
	if (e) {
		snprintf(s->why, sizeof(s->why), "curl: %s",
			 curl_easy_strerror(e));
		return -EINVAL;
	}
	if (curl_multi_add_handle(s->m, s->h) != CURLM_OK)
		return -ENOMEM;
	s->req = k;
	return 0;
}

/* Start what comes next: authenticate, read the key, or watch it. */
static void begin(struct esrc *s)
{
	enum req_kind k = REQ_WATCH;
	int err;

	if (s->user && !s->token)
		k = REQ_AUTH;
	else if (s->need_range)
		k = REQ_RANGE;
	err = start(s, k);
	if (err)
		fail(s, s->why[0] ? s->why : strerror(-err));
}

static void range_done(struct esrc *s, json_object *o)
{
	json_object *kvs = jget(o, "kvs"), *kv, *v;
	int64_t at, mod;

	if (!jint(jget(o, "header"), "revision", &at)) {
		fail(s, "range: an answer without a revision");
		return;
	}
	kv = json_object_is_type(kvs, json_type_array) &&
			     json_object_array_length(kvs) > 0 ?
		     json_object_array_get_idx(kvs, 0) :
		     NULL;
	if (kv) {
		if (!jint(kv, "mod_revision", &mod)) {
			fail(s, "range: a key without a mod_revision");
			return;
		}
		v = jget(kv, "value");
		/* Unchanged since it went out (a compaction re-read). */
		if (mod != s->delivered_rev || s->gone_told) {
			if (set_value(s,
				      json_object_is_type(v, json_type_string) ?
					      json_object_get_string(v) :
					      "",
				      json_object_is_type(v, json_type_string) ?
					      json_object_get_string_len(v) :
					      0,
				      mod)) {
				fail(s, s->why);
				return;
			}
		}
	} else if (!s->gone_told) {
		set_gone(s, at, true);
	}
	s->rev = at;
	s->need_range = false;
	s->round_fails = 0;
}

/* A request ended (@res is curl's verdict). */
static void finished(struct esrc *s, CURLcode res)
{
	enum req_kind k = s->req;
	const char *tok;
	json_object *o;
	long code = 0;
	char why[sizeof(s->why) + 64];

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(s->m, s->h);
	s->req = REQ_NONE;
	if (k == REQ_WATCH && s->compacted) {
		s->need_range = true;
		s->retry_at = 0;
		return;
	}
	if (!s->why[0]) {
		if (res != CURLE_OK)
			snprintf(s->why, sizeof(s->why), "%s",
				 s->errbuf[0] ? s->errbuf :
						curl_easy_strerror(res));
		else if (code != 200)
			http_error(s, code);
		else if (k == REQ_WATCH)
			snprintf(s->why, sizeof(s->why),
				 "the watch stream ended");
	}
	if (s->why[0]) {
		snprintf(why, sizeof(why), "%s%s",
			 k == REQ_AUTH ? "auth: " : "", s->why);
		fail(s, why);
		return;
	}
	o = json_tokener_parse(s->resp.p ? s->resp.p : "");
	if (!o) {
		fail(s, k == REQ_AUTH ? "auth: the answer is not JSON" :
					"range: the answer is not JSON");
		return;
	}
	if (etcd_error(o)) {
		snprintf(why, sizeof(why), "%s: %s",
			 k == REQ_AUTH ? "auth" : "range", etcd_error(o));
		fail(s, why);
	} else if (k == REQ_AUTH) {
		tok = jstr(o, "token");
		if (tok && *tok && !strpbrk(tok, "\r\n"))
			s->token = strdup(tok);
		if (!s->token)
			fail(s, "auth: no token in the answer");
	} else {
		range_done(s, o);
	}
	json_object_put(o);
}

/* ---- the source --------------------------------------------------------- */

static int hand_over(struct esrc *s, struct follow_version *v)
{
	struct buf t = s->out;

	s->out = s->pend;
	s->pend = t;
	s->out_gone = s->pend_gone;
	s->out_absent = s->pend_absent;
	s->out_rev = s->pend_rev;
	s->have_pend = false;
	s->delivered_rev = s->out_rev;
	s->gone_told = s->out_gone;
	v->fd = -1;
	v->data = s->out.p ? s->out.p : "";
	v->len = s->out_gone ? 0 : s->out.len;
	v->gone = s->out_gone;
	if (!s->out_gone)
		snprintf(v->what, sizeof(v->what), "%s at revision %lld",
			 s->c->target, (long long)s->out_rev);
	else if (s->out_absent)
		snprintf(v->what, sizeof(v->what),
			 "%s does not exist (at revision %lld)", s->c->target,
			 (long long)s->out_rev);
	else
		snprintf(v->what, sizeof(v->what),
			 "%s deleted at revision %lld", s->c->target,
			 (long long)s->out_rev);
	return 1;
}

/* Sleep up to @ns for the stop descriptor: true if it is readable. */
static bool stop_sleep(int stop_fd, int64_t ns)
{
	struct pollfd p = { .fd = stop_fd, .events = POLLIN };

	if (poll(&p, 1, (int)((ns + 999999) / 1000000)) < 0)
		return false;
	return p.revents != 0;
}

static int etcd_next(struct follow_source *src, int stop_fd,
		     struct follow_version *v)
{
	struct esrc *s = to_esrc(src);
	struct curl_waitfd w;
	struct CURLMsg *msg;
	int running, left;
	CURLMcode mc;
	int64_t now;

	for (;;) {
		if (s->have_pend)
			return hand_over(s, v);
		if (s->c->once && s->round_fails >= s->nr_eps) {
			cli_errorf(s->c->name,
				   "etcd: no URL answered; nothing published");
			return -EHOSTUNREACH;
		}
		if (s->req == REQ_NONE) {
			now = follow_now_ns();
			if (now < s->retry_at) {
				if (stop_sleep(stop_fd, s->retry_at - now))
					return 0;
				continue;
			}
			begin(s);
			continue;
		}
		w = (struct curl_waitfd){ .fd = stop_fd,
					  .events = CURL_WAIT_POLLIN };
		/* curl shortens the wait to its own timers. */
		mc = curl_multi_poll(s->m, &w, 1, 60000, NULL);
		if (mc != CURLM_OK) {
			cli_errorf(s->c->name, "curl: %s",
				   curl_multi_strerror(mc));
			return -EIO;
		}
		if (w.revents)
			return 0;
		mc = curl_multi_perform(s->m, &running);
		if (mc != CURLM_OK) {
			cli_errorf(s->c->name, "curl: %s",
				   curl_multi_strerror(mc));
			return -EIO;
		}
		while ((msg = curl_multi_info_read(s->m, &left)))
			if (msg->msg == CURLMSG_DONE)
				finished(s, msg->data.result);
	}
}

static void etcd_done(struct follow_source *src, struct follow_version *v)
{
}

static void etcd_again(struct follow_source *src)
{
	struct esrc *s = to_esrc(src);
	struct buf t;

	if (s->have_pend)
		return; /* a newer value is waiting */
	t = s->pend;
	s->pend = s->out;
	s->out = t;
	s->have_pend = true;
	s->pend_gone = s->out_gone;
	s->pend_absent = s->out_absent;
	s->pend_rev = s->out_rev;
}

static void etcd_close(struct follow_source *src)
{
	struct esrc *s = to_esrc(src);
	unsigned int i;

	if (s->req != REQ_NONE)
		curl_multi_remove_handle(s->m, s->h);
	curl_easy_cleanup(s->h);
	curl_multi_cleanup(s->m);
	curl_slist_free_all(s->hdrs);
	if (s->tok)
		json_tokener_free(s->tok);
	for (i = 0; i < s->nr_eps; i++)
		free(s->eps[i]);
	free(s->eps);
	free(s->key_b64);
	free(s->user);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->token);
	free(s->body);
	free(s->resp.p);
	free(s->pend.p);
	free(s->out.p);
	free(s);
	curl_global_cleanup();
}

static const struct follow_ops etcd_ops = {
	.next = etcd_next,
	.done = etcd_done,
	.again = etcd_again,
	.close = etcd_close,
};

static int split_urls(struct esrc *s)
{
	const char *p = eo.urls, *end;
	char **eps;
	size_t n;

	for (;;) {
		end = strchr(p, ',');
		n = end ? (size_t)(end - p) : strlen(p);
		while (n && p[n - 1] == '/')
			n--;
		eps = realloc(s->eps, (s->nr_eps + 1) * sizeof(*s->eps));
		if (!eps)
			return -ENOMEM;
		s->eps = eps;
		s->eps[s->nr_eps] = strndup(p, n);
		if (!s->eps[s->nr_eps])
			return -ENOMEM;
		s->nr_eps++;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int credentials(struct esrc *s)
{
	const char *colon = strchr(eo.user, ':'), *pw;

	s->user = colon ? strndup(eo.user, (size_t)(colon - eo.user)) :
			  strdup(eo.user);
	pw = colon ? colon + 1 : getenv("MMSYNC_ETCD_PASSWORD");
	if (!s->user)
		return -ENOMEM;
	if (!pw) {
		cli_errorf(s->c->name,
			   "--user %s: no password (NAME:PASSWORD, or "
			   "$MMSYNC_ETCD_PASSWORD)",
			   s->user);
		return -EINVAL;
	}
	s->password = strdup(pw);
	/* Out of sight of ps(1) from now on (argv is ours to write). */
	if (colon)
		memset((char *)colon + 1, '*', strlen(colon + 1));
	return s->password ? 0 : -ENOMEM;
}

static int etcd_open(const struct follow_ctx *c, struct follow_source **out)
{
	size_t klen = strlen(c->target);
	struct esrc *s;
	int err = -ENOMEM;

	if (!klen) {
		cli_errorf(c->name, "the etcd KEY is empty");
		return -EINVAL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		cli_errorf(c->name, "curl_global_init failed");
		return -ENOMEM;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->base.ops = &etcd_ops;
	s->c = c;
	s->need_range = true;
	s->backoff_ns = BACKOFF_MIN_NS;
	s->seed = (unsigned int)getpid() ^ (unsigned int)follow_now_ns();
	s->key_b64 = malloc(follow_b64_len(klen) + 1);
	s->m = curl_multi_init();
	s->h = curl_easy_init();
	s->tok = json_tokener_new();
	if (!s->key_b64 || !s->m || !s->h || !s->tok || split_urls(s))
		goto fail;
	follow_b64_encode(c->target, klen, s->key_b64);
	if (eo.user) {
		err = credentials(s);
		if (err)
			goto fail_quiet;
	}
	*out = &s->base;
	return 0;
fail:
	cli_error(c->name, NULL, err, NULL);
fail_quiet:
	if (s)
		etcd_close(&s->base);
	else
		curl_global_cleanup();
	return err;
}

static const struct argp_option etcd_opts[] = {
	{ NULL, 0, NULL, 0, "etcd (the second argument is a KEY):", 0 },
	{ "etcd", OPT_ETCD, "URL[,URL...]", 0,
	  "Follow KEY in the etcd cluster at these client URLs (tried in "
	  "turn)",
	  0 },
	{ "cacert", OPT_CACERT, "FILE", 0,
	  "Verify the server's TLS certificate with these CA certificates", 0 },
	{ "cert", OPT_CERT, "FILE", 0, "TLS client certificate (PEM)", 0 },
	{ "key", OPT_KEY, "FILE", 0, "Its private key (PEM)", 0 },
	{ "user", OPT_USER, "NAME[:PASSWORD]", 0,
	  "Authenticate as NAME (the password from $MMSYNC_ETCD_PASSWORD "
	  "if not given)",
	  0 },
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
