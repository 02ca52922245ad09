#!/bin/sh
# follow.sh - the latency of `mmsync follow`: from a change at the source
# to the new generation being readable (bench/follow_bench.c measures).
#
#   bench/follow.sh BUILDDIR [N] [OUTFILE]
#
# Starts an etcd (data under $TMPDIR, ports free on 127.0.0.1) and the
# followers of this build, runs N changes (1,000 by default) of each kind:
# a PUT on etcd's JSON gateway, `etcdctl put`, a rename over a followed
# file; then 100 changes of 1 MiB through etcd and the file. Everything it
# started is stopped and removed at the end. The table goes to stdout and,
# if given, OUTFILE.
set -eu
build=$(cd "$1" && pwd)
n=${2:-1000}
out=${3:-}
M=$build/tools/mmsync
B=$build/bench/follow_bench
ETCDCTL_API=3
export ETCDCTL_API
for c in etcd etcdctl; do
	command -v "$c" >/dev/null || { echo "follow.sh: no $c (etcd-server, etcd-client)" >&2; exit 1; }
done
[ -x "$B" ] || { echo "follow.sh: build $B first (make bench-follow)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmsync-bench-follow.XXXXXX")
shm=$(mktemp -d /dev/shm/mmsync-bench-follow.XXXXXX)
pids=
cleanup() {
	set +e
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

free_port() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null || {
			echo "$p"
			return
		}
	done
}
cport=$(free_port)
pport=$(free_port)
url=http://127.0.0.1:$cport
etcd --name default --data-dir "$tmp/etcd" --listen-client-urls "$url" \
	--advertise-client-urls "$url" --listen-peer-urls "http://127.0.0.1:$pport" \
	--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "default=http://127.0.0.1:$pport" \
	--logger zap --log-level error >"$tmp/etcd.log" 2>&1 &
pids="$pids $!"
i=0
until etcdctl --endpoints "$url" endpoint health >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 200 ] || { cat "$tmp/etcd.log" >&2; exit 1; }
	sleep 0.05
done

# follow_one NAME SOURCE...: a follower, running once its channel has a
# generation.
follow_one() {
	ch=$1
	shift
	"$M" follow "$ch" "$@" 2>>"$tmp/follow.log" &
	pids="$pids $!"
	i=0
	until [ "$("$M" stat --json "$ch" 2>/dev/null | grep -o '"gen":[0-9]*' | head -n1 | cut -d: -f2)" -ge 1 ] 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 250 ] || { cat "$tmp/follow.log" >&2; exit 1; }
		sleep 0.02
	done
}

etcdctl --endpoints "$url" put /bench/small init >/dev/null
etcdctl --endpoints "$url" put /bench/big init >/dev/null
follow_one "$shm/small" --etcd "$url" /bench/small
follow_one "$shm/big" --etcd "$url" /bench/big
mkdir "$tmp/files"
printf init >"$tmp/files/small"
printf init >"$tmp/files/big"
follow_one "$shm/fsmall" "$tmp/files/small"
follow_one "$shm/fbig" "$tmp/files/big"

{
	echo "# mmsync follow: change -> new generation readable"
	echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPUs:" \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "# $(etcd --version | head -n1), data on $(df -T "$tmp" | awk 'NR == 2 {print $2}');" \
		"load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# 64-byte values, $n changes each, one at a time:"
	"$B" etcd "$url" /bench/small "$shm/small" "$n" 64
	"$B" etcdctl "$url" /bench/small "$shm/small" "$n" 64
	"$B" file "$tmp/files/small" "$shm/fsmall" "$n" 64
	echo "# 1 MiB values, 100 changes each:"
	"$B" etcd "$url" /bench/big "$shm/big" 100 1048576
	"$B" file "$tmp/files/big" "$shm/fbig" 100 1048576
	echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "${out:-/dev/null}"
