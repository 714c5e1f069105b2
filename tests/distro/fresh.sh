#!/bin/sh
# make check-fresh: a new user's first two commands on a fresh Debian 12
# with nothing installed but git and make: `make demo` (which must install
# what it needs, apt-get update first, and boot the test VM) and then
# `make check` (every test, the real-kernel VM suite included), from a fresh
# clone of this tree. In a minbase bookworm made with debootstrap, in a
# chroot inside a mount namespace of its own (its /proc, /sys and /dev binds
# end with it, whatever happens).
#
#   FRESH_DIR     where the trees are kept (default build/fresh): base/ is
#                 the debootstrap (git, make; reused when there), root/ a
#                 copy of it made new each run, apt/ apt's downloaded
#                 packages (kept, so a second run downloads nothing)
#   FRESH_MIRROR  default: the Debian mirror apt uses here (its proxy too),
#                 else http://deb.debian.org/debian
#   FRESH_VM=0    `make check VM=0` (skip the VM suite inside)
# Needs root, debootstrap and unshare. When the archive cannot be reached
# (debootstrap, or the demo's apt-get) it says so loudly and exits 0:
# nothing was tested, and a network that is not there is no failure of
# pvepin's. A demo, build or test failure exits 1.
set -u
cd "$(dirname "$0")/../.." || exit 2
TOP=$(pwd)
DIR=${FRESH_DIR:-$TOP/build/fresh}
BASE=$DIR/base ROOT=$DIR/root

apt_mirror() {
	sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
		grep -v security | head -1
	awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null
}
MIRROR=${FRESH_MIRROR:-$(apt_mirror | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ -z "${http_proxy:-}" ] && command -v apt-config > /dev/null; then
	eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
	[ -n "${http_proxy:-}" ] && export http_proxy
fi

unavailable() {
	echo "fresh: $*"
	echo "fresh: NOT TESTED on a fresh Debian 12"
	exit 0
}
[ "$(id -u)" = 0 ] || unavailable "needs root (debootstrap, chroot)"
command -v debootstrap > /dev/null || unavailable "needs debootstrap (apt-get install debootstrap)"
command -v unshare > /dev/null || unavailable "needs unshare (util-linux)"
command -v git > /dev/null || unavailable "needs git (the test starts from a clone)"
mkdir -p "$DIR" "$DIR/apt/partial" || exit 1

if [ ! -x "$BASE/usr/bin/make" ] || [ ! -x "$BASE/usr/bin/git" ]; then
	rm -rf "$BASE.new"
	echo "fresh: debootstrap bookworm (git, make) into $BASE (a few minutes)"
	# in a mount namespace: the /proc debootstrap mounts in the tree ends
	# with it, so a killed run leaves nothing mounted under build/
	if ! unshare --mount --propagation private \
		debootstrap --variant=minbase --include=git,make bookworm "$BASE.new" "$MIRROR" \
		> "$BASE.log" 2>&1; then
		tail -5 "$BASE.log"
		unavailable "debootstrap from $MIRROR failed (see $BASE.log)"
	fi
	# what a fresh machine has: no package lists yet (make demo must update)
	rm -rf "$BASE.new/var/lib/apt/lists/"* "$BASE.new/var/cache/apt/archives/"*.deb
	rm -rf "$BASE" && mv "$BASE.new" "$BASE"
fi
rm -rf "$ROOT" && cp -a "$BASE" "$ROOT" || exit 1
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
echo "fresh: Debian $(cat "$ROOT/etc/debian_version"), $(chroot "$ROOT" git --version)," \
	"$(chroot "$ROOT" make --version | head -1), nothing else"
for p in gcc pkg-config qemu-system-x86_64 python3; do
	chroot "$ROOT" sh -c "command -v $p" > /dev/null &&
		{ echo "fresh: $p is already in the base tree: not a fresh machine"; exit 1; }
done

# A clone of this branch, with this tree's uncommitted edits of tracked
# files on top: what `git clone` gives, no build/ and no tests/vm/work/.
git clone -q --no-hardlinks "$TOP" "$ROOT/root/pvepin" || { echo "fresh: git clone failed"; exit 1; }
git ls-files -z | xargs -0 cp --parents -t "$ROOT/root/pvepin" ||
	{ echo "fresh: cannot copy the sources"; exit 1; }

# The binds live only in this namespace; apt's package cache is $DIR/apt.
# CI=true: tests that would skip for a missing tool fail instead.
LOG=$DIR/check.log
start=$(date +%s)
unshare --mount --propagation private sh -c '
	set -e
	for m in proc sys dev; do mount --rbind /$m "$1/$m"; done
	mount --bind "$2" "$1/var/cache/apt/archives"
	chroot "$1" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root TERM=dumb CI=true http_proxy="${http_proxy:-}" sh -c "
		cd /root/pvepin &&
		echo \"== make demo\" && PAUSE=0 make demo &&
		echo \"== make check VM=$3\" && make check VM=$3"
' sh "$ROOT" "$DIR/apt" "${FRESH_VM:-1}" > "$LOG" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
grep -E "^== |^demo: |: [0-9]+ passed, [0-9]+ failed|^total:|^not ok|# skip" "$LOG"
if [ $rc != 0 ] && grep -qE "^(E|W): (Failed to fetch|Could not resolve|Unable to connect|Some index files failed)|Temporary failure resolving" "$LOG"; then
	unavailable "the package archive could not be reached from the chroot (see $LOG)"
fi
[ $rc = 0 ] || { tail -20 "$LOG"; echo "fresh: FAILED after ${took}s (log: $LOG)"; exit 1; }
grep -q "^total: [0-9]* passed, 0 failed" "$LOG" ||
	{ echo "fresh: FAILED: no test total in $LOG"; exit 1; }
echo "fresh: make demo and make check passed on a fresh Debian $(cat "$ROOT/etc/debian_version") in ${took}s"
