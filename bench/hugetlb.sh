#!/bin/sh
# hugetlb.sh - run a command with 2 MiB hugepages reserved and a private
# hugetlbfs mounted, then put everything back.
#
#   bench/hugetlb.sh PAGES CMD [ARG...]
#
# Adds PAGES to /proc/sys/vm/nr_hugepages (compacting memory once if the
# kernel comes up short), mounts hugetlbfs (pagesize=2M, mode 0700) on a
# fresh directory under /tmp, and runs CMD with every argument that reads
# @HUGETLBFS@ replaced by that directory. Afterwards (also on failure or
# a signal) it unmounts, removes the directory and takes back exactly the
# pages it added, so that a concurrent change by someone else survives.
# Without root, or when nothing can be reserved, @HUGETLBFS@ becomes ""
# and CMD reports the 2 MiB cases as skipped.
set -u

pages=$1
shift
nr=/proc/sys/vm/nr_hugepages
mnt=""
added=0

cleanup() {
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null
		rmdir "$mnt" 2>/dev/null
	fi
	if [ "$added" -gt 0 ]; then
		now=$(cat $nr)
		back=$((now - added))
		[ "$back" -lt 0 ] && back=0
		echo "$back" > $nr
		echo "hugetlb: gave back $added hugepages (nr_hugepages $now -> $(cat $nr))"
	fi
}

reserve() {
	old=$(cat $nr)
	echo $((old + pages)) > $nr 2>/dev/null
	got=$(cat $nr)
	if [ "$got" -lt $((old + pages)) ]; then
		# Fragmented memory: compact once and try again.
		echo 1 > /proc/sys/vm/compact_memory 2>/dev/null
		echo $((old + pages)) > $nr 2>/dev/null
		got=$(cat $nr)
	fi
	added=$((got - old))
	echo "hugetlb: reserved $added of $pages hugepages of 2 MiB (nr_hugepages $old -> $got)"
}

if [ "$(id -u)" = 0 ] && [ -w $nr ]; then
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	reserve
	if [ "$added" -gt 0 ]; then
		mnt=$(mktemp -d /tmp/mmsync-hugetlbfs.XXXXXX)
		if ! mount -t hugetlbfs -o pagesize=2M,mode=0700 none "$mnt"; then
			rmdir "$mnt"
			mnt=""
		fi
	fi
else
	echo "hugetlb: not root: 2 MiB cases skipped"
fi

# Substitute @HUGETLBFS@, keeping every other argument as it is.
n=$#
while [ "$n" -gt 0 ]; do
	a=$1
	shift
	[ "$a" = @HUGETLBFS@ ] && a=$mnt
	set -- "$@" "$a"
	n=$((n - 1))
done
"$@"
