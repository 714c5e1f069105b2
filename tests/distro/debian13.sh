#!/bin/sh
# make check-debian13: build pvepin and run its unit and fixture tests
# (make check VM=0) on Debian 13 "trixie", which PVE 9 is built on, from
# this Debian 12 host: a minbase trixie made with debootstrap from Debian's
# archive, the tracked sources copied in, and the build run in a chroot
# inside a mount namespace of its own (its /proc, /sys and /dev binds end
# with it, whatever happens). Then the package: make deb, and its Depends.
#
#   DEBIAN13_DIR   where the trixie tree is kept (default build/debian13);
#                  reused when it is there, so a second run takes a minute
#   DEBIAN13_MIRROR  default: the Debian mirror apt uses here (its proxy
#                  too), else http://deb.debian.org/debian
# Needs root and debootstrap. When the archive cannot be reached it says so
# loudly and exits 0: nothing was tested, and a network that is not there
# is no failure of pvepin's. A build or test failure exits 1.
set -u
cd "$(dirname "$0")/../.." || exit 2
DIR=${DEBIAN13_DIR:-$(pwd)/build/debian13}

apt_mirror() {
	sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
		grep -v security | head -1
	awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null
}
MIRROR=${DEBIAN13_MIRROR:-$(apt_mirror | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ -z "${http_proxy:-}" ] && command -v apt-config > /dev/null; then
	eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
	[ -n "${http_proxy:-}" ] && export http_proxy
fi
PKGS=build-essential,pkg-config,libhwloc-dev,libinih-dev,libsystemd-dev
PKGS=$PKGS,hwloc,python3,strace,perl,procps,file,xz-utils,groff-base,man-db,debhelper,dpkg-dev
PKGS=$PKGS,fakeroot,util-linux,kmod,dbus-daemon,python3-dbus,python3-gi,git

unavailable() {
	echo "debian13: $*"
	echo "debian13: NOT TESTED on Debian 13"
	exit 0
}
[ "$(id -u)" = 0 ] || unavailable "needs root (debootstrap, chroot)"
command -v debootstrap > /dev/null || unavailable "needs debootstrap (apt-get install debootstrap)"
command -v unshare > /dev/null || unavailable "needs unshare (util-linux)"

if [ ! -x "$DIR/usr/bin/gcc" ] || [ ! -f "$DIR/etc/debian_version" ]; then
	rm -rf "$DIR.new"
	echo "debian13: debootstrap trixie into $DIR (a few minutes)"
	if ! debootstrap --variant=minbase --include="$PKGS" trixie "$DIR.new" "$MIRROR" \
		> "$DIR.log" 2>&1; then
		tail -5 "$DIR.log"
		unavailable "debootstrap from $MIRROR failed (see $DIR.log)"
	fi
	rm -rf "$DIR" && mv "$DIR.new" "$DIR"
fi
echo "debian13: $(cat "$DIR/etc/debian_version"), $(chroot "$DIR" gcc --version | head -1)"

# the sources as git tracks them, uncommitted edits included; no build dirs
rm -rf "$DIR/src" && mkdir -p "$DIR/src" || exit 1
git ls-files -z | xargs -0 cp --parents -t "$DIR/src" ||
	{ echo "debian13: cannot copy the sources (a git checkout is needed)"; exit 1; }

# The binds live only in this namespace: nothing of the host's /proc, /sys
# or /dev stays mounted under $DIR after it, even if the build is killed.
unshare --mount --propagation private sh -c '
	set -e
	for m in proc sys dev; do mount --rbind /$m "$1/$m"; done
	chroot "$1" sh -c "cd /src && make -j2 && make check VM=0 && make -s deb && \
		echo \"Depends: \$(dpkg-deb -f build/deb/pvepin_*.deb Depends)\""
' sh "$DIR" > "$DIR.check.log" 2>&1
rc=$?
grep -E "^test_[a-z_0-9]*: |^total:|^Depends:|not ok" "$DIR.check.log"
[ $rc = 0 ] || { tail -20 "$DIR.check.log"; echo "debian13: FAILED (log: $DIR.check.log)"; exit 1; }
echo "debian13: built and tested on Debian $(cat "$DIR/etc/debian_version")"
