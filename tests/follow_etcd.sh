#!/bin/sh
# follow_etcd.sh - mmsync follow NAME --etcd URL KEY against a real etcd
# server, as TAP for tests/run.sh.
#
#   tests/follow_etcd.sh BUILDDIR [TEST...]
#
# Starts Debian's etcd itself on 127.0.0.1, on free ports, with a data
# directory under $TMPDIR (not /dev/shm: etcd preallocates 64 MiB of WAL),
# and stops it by pid; tests that kill, restart, compact or reconfigure
# etcd start their own. Everything is removed at the end, whatever
# happens. Skips, saying why, without etcd and etcdctl, or when this mmsync
# was built without libcurl and json-c.
set -u
self=$0
suite=follow-etcd
. "$(dirname "$0")/follow_lib.sh"
ETCDCTL_API=3
export ETCDCTL_API
# libcurl (and etcdctl) would send 127.0.0.1 through a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
tmp_base=${TMPDIR:-/tmp}

ectl() { etcdctl --endpoints "$EURL" "$@"; }

# etcd_start DIR [CLIENT-PORT PEER-PORT [ARG...]]: an etcd with its data
# in DIR/data, healthy; EPID, EURL, EPEER. $ESCHEME (http) and $ECTL
# (etcdctl's TLS or auth options) for a TLS server or one with auth on.
# (Not ETCD_*: etcd takes those from its environment as flags.)
etcd_start() {
	dir=$1
	cport=${2:-$(free_port)}
	pport=${3:-$(free_port)}
	[ $# -ge 3 ] && shift 3 || shift $#
	while [ "$pport" = "$cport" ]; do pport=$(free_port); done
	scheme=${ESCHEME:-http}
	etcd --name default --data-dir "$dir/data" \
		--listen-client-urls "$scheme://127.0.0.1:$cport" \
		--advertise-client-urls "$scheme://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "default=http://127.0.0.1:$pport" \
		--logger zap --log-level error "$@" >>"$dir/etcd.log" 2>&1 &
	EPID=$!
	EURL=$scheme://127.0.0.1:$cport
	EPEER=http://127.0.0.1:$pport
	ECPORT=$cport
	EPPORT=$pport
	[ -z "${T:-}" ] || echo "$EPID" >>"$T/pids"
	n=0
	# shellcheck disable=SC2086
	until etcdctl --endpoints "$EURL" ${ECTL:-} endpoint health >/dev/null 2>&1; do
		n=$((n + 1))
		if [ "$n" -gt 200 ] || ! kill -0 "$EPID" 2>/dev/null; then
			sed 's/^/#   etcd: /' "$dir/etcd.log" | tail -n 20 >&2
			echo "etcd did not start on $EURL"
			return 1
		fi
		sleep 0.05
	done
}
# etcd_kill: kill -9 the etcd of etcd_start, and reap it.
etcd_kill() {
	kill -9 "$EPID" 2>/dev/null || :
	wait "$EPID" 2>/dev/null || :
}
# own_etcd: an etcd for this test only, in a directory removed at its end.
own_etcd() {
	edir=$(mktemp -d "$tmp_base/mmsync-test-etcd.XXXXXX")
	echo "$edir" >>"$T/rmdirs"
	etcd_start "$edir" "$@" >"$T/etcd_start.out" || die "$(cat "$T/etcd_start.out")"
}
# mod_rev KEY: the key's mod_revision.
mod_rev() {
	ectl get "$1" -w json | grep -o '"mod_revision":[0-9]*' | cut -d: -f2
}
store_rev() {
	ectl get / -w json | grep -o '"revision":[0-9]*' | head -n1 | cut -d: -f2
}
# follow KEY [OPTION...]: a follower of KEY at $EURL on $T/ch, its log
# in $T/log; $fpid.
follow() {
	k=$1
	shift
	spawn "$M" follow "$@" "$T/ch" --etcd "$EURL" "$k" 2>>"$T/log"
	fpid=$bgpid
}

suite_setup() {
	for c in etcd etcdctl; do
		command -v "$c" >/dev/null || {
			skip_all="no $c (Debian: etcd-server, etcd-client)"
			return
		}
	done
	if "$M" follow --help | grep -q 'not built in'; then
		skip_all="this mmsync was built without etcd support (libcurl4-openssl-dev, libjson-c-dev)"
		return
	fi
	shared_dir=$(mktemp -d "$tmp_base/mmsync-test-etcd.XXXXXX")
	if ! etcd_start "$shared_dir" >"$top/etcd_start.out"; then
		fail_all=$(cat "$top/etcd_start.out")
		return
	fi
	shared_pid=$EPID
	export EURL EPEER
}
suite_cleanup() {
	[ -z "${shared_pid:-}" ] || {
		kill -9 "$shared_pid" 2>/dev/null
		wait "$shared_pid" 2>/dev/null
	}
	[ -z "${shared_dir:-}" ] || rm -rf "$shared_dir"
}

# ---- the tests ------------------------------------------------------------

t_initial_value() {
	ectl put /t/initial hello >/dev/null
	rev=$(mod_rev /t/initial)
	follow /t/initial
	wait_for 5 holds_str "$T/ch" hello || die "the initial value is not in the channel"
	expect_eq "$(gen_of "$T/ch")" 1 "generation"
	expect_log "$T/log" "^mmsync: $T/ch: gen 1: /t/initial at revision $rev: 5 bytes, checksum [0-9a-f]{16}\$"
	idle_no_polling "$fpid"
	# --once: the value, then exit 0.
	expect_rc 0 "$M" follow --once "$T/ch2" --etcd "$EURL" /t/initial
	expect_err "^mmsync: $T/ch2: gen 1: /t/initial at revision $rev: 5 bytes"
	holds_str "$T/ch2" hello || die "--once did not publish the value"
	# A key that does not exist: --once fails, a follower waits for it.
	expect_rc 1 "$M" follow --once "$T/ch3" --etcd "$EURL" /t/none
	expect_err "^mmsync: $T/ch3: /t/none does not exist \\(at revision [0-9]+\\); nothing to publish yet\$"
	spawn "$M" follow "$T/ch4" --etcd "$EURL" /t/later 2>"$T/log4"
	expect_log "$T/log4" "/t/later does not exist \\(at revision [0-9]+\\); nothing to publish yet"
	ectl put /t/later "now" >/dev/null
	wait_for 5 holds_str "$T/ch4" now || die "a key created later was not published"
	# An empty value is a value.
	ectl put /t/later "" >/dev/null
	wait_for 5 gen_is "$T/ch4" 2 || die "an empty value was not published"
	expect_eq "$("$M" cat "$T/ch4" | wc -c)" 0 "bytes of an empty value"
}

# 100 quick puts: the channel ends at the last value, and the
# generations went out in revision order.
t_hundred_quick_puts() {
	ectl put /t/many v0 >/dev/null
	follow /t/many
	wait_for 5 holds_str "$T/ch" v0 || die "not published at start"
	i=1
	while [ "$i" -le 100 ]; do
		ectl put /t/many "v$i" >/dev/null
		i=$((i + 1))
	done
	last=$(mod_rev /t/many)
	wait_for 10 holds_str "$T/ch" v100 || die "the channel is not at the last value: $("$M" cat "$T/ch")"
	expect_log "$T/log" "/t/many at revision $last: 4 bytes"
	sed -n 's/.*: gen \([0-9]*\): \/t\/many at revision \([0-9]*\):.*/\1 \2/p' "$T/log" >"$T/order"
	awk 'NR > 1 && ($1 != g + 1 || $2 <= r) { bad = 1; print "# out of order: gen " $1 " revision " $2 " after gen " g " revision " r }
		{ g = $1; r = $2 } END { exit bad }' "$T/order" >&2 || die "generations out of order"
	expect_eq "$(tail -n1 "$T/order")" "$(gen_of "$T/ch") $last" "last generation and revision"
	echo "# $(wc -l <"$T/order") publishes for 101 revisions"
}

# etcd killed and restarted: the follower resumes, and publishes the next
# put within 5 s.
t_etcd_restart() {
	own_etcd
	ectl put /t/r v1 >/dev/null
	follow /t/r
	wait_for 5 holds_str "$T/ch" v1 || die "not published at start"
	etcd_kill
	expect_log "$T/log" "etcd $EURL: .*; retrying in [0-9.]+s\$"
	sleep 1
	alive "$fpid" || die "the follower died with etcd"
	etcd_start "$edir" "$ECPORT" "$EPPORT" >"$T/etcd_start.out" || die "$(cat "$T/etcd_start.out")"
	t0=$(date +%s%N)
	ectl put /t/r v2 >/dev/null
	wait_for 5 holds_str "$T/ch" v2 || die "the put after the restart was not published within 5 s"
	t1=$(date +%s%N)
	echo "# published $(((t1 - t0) / 1000000)) ms after the put that followed the restart"
	expect_log "$T/log" "etcd $EURL: watching /t/r from revision [0-9]+ again \\(after [0-9]+ failed attempts?\\)\$"
	expect_eq "$(gen_of "$T/ch")" 2 "generation"
	# A put made while the follower is cut off (stopped, then etcd
	# restarted): the watch resumes from the next revision, so it is
	# published, not skipped.
	kill -STOP "$fpid"
	etcd_kill
	etcd_start "$edir" "$ECPORT" "$EPPORT" >"$T/etcd_start.out" || die "$(cat "$T/etcd_start.out")"
	ectl put /t/r v3 >/dev/null
	kill -CONT "$fpid"
	wait_for 5 holds_str "$T/ch" v3 || die "the put made while the follower was cut off was not published"
	expect_eq "$(gen_of "$T/ch")" 3 "generation"
}

# The follower's next revision is compacted away while it is cut off: it
# reads the key again.
t_compaction() {
	own_etcd
	ectl put /t/c v1 >/dev/null
	follow /t/c
	wait_for 5 holds_str "$T/ch" v1 || die "not published at start"
	kill -STOP "$fpid"
	etcd_kill
	etcd_start "$edir" "$ECPORT" "$EPPORT" >"$T/etcd_start.out" || die "$(cat "$T/etcd_start.out")"
	ectl put /t/c v2 >/dev/null
	ectl put /t/c v3 >/dev/null
	ectl put /t/other x >/dev/null
	rev=$(store_rev)
	ectl compact "$rev" >/dev/null
	kill -CONT "$fpid"
	wait_for 5 holds_str "$T/ch" v3 || die "the follower did not recover from the compaction"
	expect_log "$T/log" "etcd $EURL: revision [0-9]+ of /t/c was compacted \\(the oldest kept is $rev\\); reading it again\$"
	expect_eq "$(gen_of "$T/ch")" 2 "generation (v2 was compacted away before it was seen)"
	# And it watches again from there.
	ectl put /t/c v4 >/dev/null
	wait_for 5 holds_str "$T/ch" v4 || die "no publish after the recovery"
}

t_one_mib_value() {
	head -c 1048576 /dev/urandom >"$T/big"
	ectl put /t/big <"$T/big" >/dev/null
	follow /t/big
	wait_for 10 holds "$T/ch" "$T/big" || die "the 1 MiB value from the range is not in the channel"
	expect_log "$T/log" "gen 1: /t/big at revision [0-9]+: 1048576 bytes"
	# Through the watch too.
	head -c 1048576 /dev/urandom >"$T/big2"
	ectl put /t/big <"$T/big2" >/dev/null
	wait_for 10 holds "$T/ch" "$T/big2" || die "the 1 MiB value from the watch is not in the channel"
	"$M" verify "$T/ch" >/dev/null || die "the snapshot does not match its checksum"
}

t_key_deleted() {
	ectl put /t/d v1 >/dev/null
	follow /t/d
	spawn "$M" follow --exit-on-delete "$T/ch2" --etcd "$EURL" /t/d 2>"$T/log2"
	p2=$bgpid
	wait_for 5 holds_str "$T/ch" v1 || die "not published at start"
	wait_for 5 holds_str "$T/ch2" v1 || die "--exit-on-delete: not published at start"
	ectl del /t/d >/dev/null
	expect_log "$T/log" "^mmsync: $T/ch: /t/d deleted at revision [0-9]+; gen 1 stays current\$"
	holds_str "$T/ch" v1 || die "the deletion changed the snapshot"
	alive "$fpid" || die "the follower exited on the deletion"
	wait_exit "$p2" 5
	expect_eq "$rc" 1 "exit status with --exit-on-delete"
	log_has "$T/log2" "^mmsync: $T/ch2: /t/d deleted at revision [0-9]+; gen 1 stays current\$" ||
		die "--exit-on-delete: $(cat "$T/log2")"
	ectl put /t/d v2 >/dev/null
	wait_for 5 holds_str "$T/ch" v2 || die "the key created again was not published"
}

t_bad_url_and_unreachable() {
	for u in notaurl ftp://127.0.0.1:1 'http://127.0.0.1:1,' 'http://127.0.0.1:1/?x=1'; do
		expect_rc 2 "$M" follow "$T/ch" --etcd "$u" /t/u
		grep -q "bad etcd URL" "$T/err" || die "--etcd '$u': $(cat "$T/err")"
	done
	# Nobody there: a clear line, then retries (the process stays).
	p=$(free_port)
	spawn "$M" follow "$T/ch" --etcd "http://127.0.0.1:$p" /t/u 2>"$T/log"
	fpid=$bgpid
	expect_log "$T/log" "^mmsync: $T/ch: etcd http://127.0.0.1:$p: .*Couldn't connect to server; retrying in [0-9.]+s\$"
	sleep 1.5
	alive "$fpid" || die "the follower gave up on an unreachable server"
	expect_eq "$(gen_of "$T/ch")" 0 "generation with no server"
	expect_eq "$(count_log "$T/log" retrying)" 1 "lines for the repeated failures (one per 30 s)"
	# ... and an etcd that comes up there is followed.
	shared=$EURL
	own_etcd "$p"
	ectl put /t/u here >/dev/null
	wait_for 8 holds_str "$T/ch" here || die "the follower did not connect once etcd came up"
	expect_log "$T/log" "watching /t/u from revision [0-9]+ again \\(after [0-9]+ failed attempts\\)"
	# An HTTP server that is not etcd's gateway (etcd's peer port), then
	# a real one: the error, then the next URL.
	etcdctl --endpoints "$shared" put /t/u there >/dev/null
	spawn "$M" follow "$T/ch2" --etcd "$EPEER,$shared" /t/u 2>"$T/log2"
	expect_log "$T/log2" "^mmsync: $T/ch2: etcd $EPEER: HTTP 404: .*; retrying in [0-9.]+s\$"
	wait_for 5 holds_str "$T/ch2" there || die "the second URL was not used"
	# --once: one round over the URLs, then exit 1.
	p1=$(free_port)
	p2=$(free_port)
	expect_rc 1 "$M" follow --once "$T/ch3" --etcd "http://127.0.0.1:$p1,http://127.0.0.1:$p2" /t/u
	[ "$(wc -l <"$T/err")" = 3 ] || die "--once: $(cat "$T/err")"
	grep -q "^mmsync: $T/ch3: etcd http://127.0.0.1:$p1: .*Couldn't connect" "$T/err" || die "--once: $(cat "$T/err")"
	grep -q "^mmsync: $T/ch3: etcd http://127.0.0.1:$p2: .*Couldn't connect" "$T/err" || die "--once: $(cat "$T/err")"
	tail -n1 "$T/err" | grep -q "^mmsync: $T/ch3: etcd: no URL answered; nothing published\$" || die "--once: $(cat "$T/err")"
}

t_unchanged_and_busy() {
	ectl put /t/s same >/dev/null
	follow /t/s -v
	wait_for 5 holds_str "$T/ch" same || die "not published at start"
	ectl put /t/s same >/dev/null
	expect_log "$T/log" "/t/s at revision [0-9]+: unchanged \\(checksum [0-9a-f]{16}\\), gen 1 stays"
	expect_eq "$(gen_of "$T/ch")" 1 "generation after the same value"
	expect_rc 1 "$M" follow "$T/ch" --etcd "$EURL" /t/s
	expect_err "^mmsync: $T/ch: Device or resource busy \\(another writer holds the channel: one follower per channel\\)\$"
	# SIGTERM: exit 0, connected or not.
	stop "$fpid"
	expect_eq "$rc" 0 "exit status after SIGTERM"
	expect_log "$T/log" "^mmsync: $T/ch: SIGTERM: stopped at gen 1\$"
	spawn "$M" follow "$T/ch2" --etcd "http://127.0.0.1:$(free_port)" /t/s 2>"$T/log2"
	expect_log "$T/log2" "retrying in"
	stop "$bgpid"
	expect_eq "$rc" 0 "exit status after SIGTERM while retrying"
}

t_auth() {
	own_etcd
	ectl put /t/a v1 >/dev/null
	ectl user add root:s3cret >/dev/null
	ectl role add root >/dev/null
	ectl user grant-role root root >/dev/null
	ectl auth enable >/dev/null
	follow /t/a --user root:s3cret
	wait_for 5 holds_str "$T/ch" v1 || die "--user NAME:PASSWORD: not published"
	grep -q 's3cret' "/proc/$fpid/cmdline" && die "the password is still in the follower's argv"
	MMSYNC_ETCD_PASSWORD=s3cret "$M" follow "$T/ch2" --etcd "$EURL" --user root /t/a 2>"$T/log2" &
	echo $! >>"$T/pids"
	wait_for 5 holds_str "$T/ch2" v1 || die "--user NAME and \$MMSYNC_ETCD_PASSWORD: not published"
	spawn "$M" follow "$T/ch3" --etcd "$EURL" --user root:wrong /t/a 2>"$T/log3"
	expect_log "$T/log3" "^mmsync: $T/ch3: etcd $EURL: auth: HTTP [0-9]+: etcdserver: authentication failed, invalid user ID or password; retrying in"
	spawn "$M" follow "$T/ch4" --etcd "$EURL" /t/a 2>"$T/log4"
	expect_log "$T/log4" "^mmsync: $T/ch4: etcd $EURL: HTTP [0-9]+: etcdserver: user name is empty; retrying in"
	(unset MMSYNC_ETCD_PASSWORD; exec "$M" follow "$T/ch5" --etcd "$EURL" --user root /t/a) >"$T/out" 2>"$T/err" && die "--user without a password started"
	expect_err "^mmsync: $T/ch5: --user root: no password"
	[ ! -e "$T/ch5_state" ] || die "a follower that could not start created the channel"
	ectl --user root:s3cret put /t/a v2 >/dev/null
	wait_for 5 holds_str "$T/ch" v2 || die "a put with auth on was not published"
	# A restarted etcd forgets its tokens: the follower authenticates again.
	etcd_kill
	ECTL="--user root:s3cret" etcd_start "$edir" "$ECPORT" "$EPPORT" >"$T/etcd_start.out" ||
		die "$(cat "$T/etcd_start.out")"
	ectl --user root:s3cret put /t/a v3 >/dev/null
	wait_for 5 holds_str "$T/ch" v3 || die "not published after a restart with auth"
	expect_eq "$(gen_of "$T/ch3")" 0 "generation with a wrong password"
}

t_tls() {
	command -v openssl >/dev/null || { echo "SKIP: no openssl to make certificates"; return 0; }
	c=$T/pki
	mkdir "$c"
	key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
	key "$c/ca.key"
	openssl req -x509 -new -key "$c/ca.key" -subj /CN=mmsync-test-ca -days 1 -out "$c/ca.pem" 2>/dev/null
	for who in server client; do
		key "$c/$who.key"
		openssl req -new -key "$c/$who.key" -subj "/CN=$who" -out "$c/$who.csr" 2>/dev/null
		if [ "$who" = server ]; then
			# clientAuth too: etcd's JSON gateway dials its own
			# gRPC server with this certificate.
			printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$c/ext"
		else
			printf 'extendedKeyUsage=clientAuth\n' >"$c/ext"
		fi
		openssl x509 -req -in "$c/$who.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" \
			-CAcreateserial -days 1 -extfile "$c/ext" -out "$c/$who.pem" 2>/dev/null
	done
	[ -s "$c/client.pem" ] || die "openssl did not make the certificates"
	ESCHEME=https ECTL="--cacert $c/ca.pem --cert $c/client.pem --key $c/client.key" \
		own_etcd "" "" --cert-file "$c/server.pem" --key-file "$c/server.key" \
		--client-cert-auth --trusted-ca-file "$c/ca.pem"
	tls="--cacert $c/ca.pem --cert $c/client.pem --key $c/client.key"
	# shellcheck disable=SC2086
	etcdctl --endpoints "$EURL" $tls put /t/tls secure >/dev/null
	follow /t/tls --cacert "$c/ca.pem" --cert "$c/client.pem" --key "$c/client.key"
	wait_for 5 holds_str "$T/ch" secure || die "not published over TLS: $(cat "$T/log")"
	# No CA: the server's certificate is refused.
	spawn "$M" follow "$T/ch2" --etcd "$EURL" /t/tls 2>"$T/log2"
	expect_log "$T/log2" "^mmsync: $T/ch2: etcd $EURL: .*certificate.*; retrying in"
	# No client certificate: the server refuses us.
	spawn "$M" follow "$T/ch3" --etcd "$EURL" --cacert "$c/ca.pem" /t/tls 2>"$T/log3"
	expect_log "$T/log3" "^mmsync: $T/ch3: etcd $EURL: .*; retrying in"
	expect_eq "$(gen_of "$T/ch2")$(gen_of "$T/ch3")" 00 "generations without the right TLS options"
	# shellcheck disable=SC2086
	etcdctl --endpoints "$EURL" $tls put /t/tls again >/dev/null
	wait_for 5 holds_str "$T/ch" again || die "the watch over TLS did not publish"
}

# A fake gateway that answers wrong, one way per URL path prefix.
fake_gateway() {
	cat >"$T/fake.py" <<'PY'
import base64, http.server, json, sys, time
K = base64.b64encode(b"/t/f").decode()
def kv(rev, value):
    return {"key": K, "mod_revision": str(rev), "value": value}
RANGE = {
    "badb64": {"header": {"revision": "5"}, "kvs": [kv(5, "!!!=")]},
    "notjson": "hello, I am not etcd",
    "norev": {"kvs": []},
    "types": {"header": {"revision": {"a": 1}}, "kvs": "no"},
    "garbage": {"header": {"revision": "5"}, "kvs": [kv(5, "djE=")]},
    "events": {"header": {"revision": "5"}, "kvs": [kv(5, "djE=")]},
}
WATCH = {
    "garbage": '{"result":{"created":true}}\n{"result": nope',
    "events": "".join(json.dumps(m) + "\n" for m in [
        {"result": {"created": True}},
        {"result": {"events": "not an array"}},
    ]),
    "events2": "".join(json.dumps(m) + "\n" for m in [
        {"result": {"created": True}},
        {"result": {"events": [
            {"kv": {"key": "b3RoZXI=", "mod_revision": "6", "value": "eA=="}},
            {"kv": {"key": K, "mod_revision": "4", "value": "b2xk"}},
            {"kv": {"key": K, "mod_revision": "7", "value": "djI="}},
            {"nokv": 1}, {"kv": "str"}, {"kv": {"key": 7}},
        ]}},
        {"result": {"events": []}}, [], 5, "str",
    ]),
}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode, _, api = self.path.lstrip("/").partition("/")
        if api == "v3/kv/range":
            r = RANGE.get(mode if mode != "events2" else "events")
            body = r if isinstance(r, str) else json.dumps(r)
        else:
            body = WATCH.get(mode, "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())
        if api == "v3/watch" and mode == "events2":
            time.sleep(30)  # a stream that stays open
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.serve_forever()
PY
	fport=$(free_port)
	/usr/bin/python3 "$T/fake.py" "$fport" 2>"$T/fake.log" &
	echo $! >>"$T/pids"
	wait_for 5 sh -c "grep -qi ':$(printf %04X "$fport") ' /proc/net/tcp" || die "the fake gateway did not start"
}

# Answers that are not what etcd sends: a line and a retry, never a crash
# or a wrong publish.
t_broken_servers() {
	[ -x /usr/bin/python3 ] || { echo "SKIP: no /usr/bin/python3 for a fake gateway"; return 0; }
	fake_gateway
	u=http://127.0.0.1:$fport
	for m in badb64 notjson norev types garbage events events2; do
		spawn "$M" follow "$T/$m" --etcd "$u/$m" /t/f 2>"$T/log.$m"
		eval "pid_$m=\$bgpid"
	done
	expect_log "$T/log.badb64" "etcd $u/badb64: etcd sent a value that is not base64 \(revision 5\); retrying in"
	expect_log "$T/log.notjson" "etcd $u/notjson: range: the answer is not JSON; retrying in"
	expect_log "$T/log.norev" "etcd $u/norev: range: an answer without a revision; retrying in"
	expect_log "$T/log.types" "etcd $u/types: range: an answer without a revision; retrying in"
	expect_log "$T/log.garbage" "etcd $u/garbage: watch: not JSON \(.*\); retrying in"
	expect_log "$T/log.events" "etcd $u/events: watch: events is no array; retrying in"
	# The one event that is ours and newer is published; the rest not.
	wait_for 5 holds_str "$T/events2" v2 || die "events2: $(cat "$T/log.events2")"
	expect_log "$T/log.events2" "watch: not JSON|a message without a result"
	sleep 0.5
	for m in badb64 notjson norev types garbage events events2; do
		eval "p=\$pid_$m"
		alive "$p" || die "the follower of the '$m' server died: $(cat "$T/log.$m")"
	done
	for m in badb64 notjson norev types; do
		expect_eq "$(gen_of "$T/$m")" 0 "generation from the '$m' server"
	done
	expect_eq "$(gen_of "$T/events2")" 2 "generations from the events2 server (v1, then revision 7)"
}

tests="initial_value hundred_quick_puts etcd_restart compaction one_mib_value
key_deleted bad_url_and_unreachable broken_servers unchanged_and_busy auth
tls"
limit=60
follow_main "$@"
