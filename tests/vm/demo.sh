#!/bin/bash
# `make demo`: pvepin's story on a real kernel in about a minute. Installs
# what is missing (Debian 12, as root), builds pvepin, boots the test VM
# (tests/vm/machine.sh) and shows, screen by screen: the host (`pvepin
# topo`), the plan for a gaming VM, the host before the VM starts, while it
# runs (devices on vfio-pci, 1G pages reserved, vCPUs pinned, IRQs steered)
# and after it stopped (the diff: nothing).
#   PAUSE=3 (seconds between screens)  NO_INSTALL=1 (never run apt-get)
#   PVEPIN=FILE (show this binary instead of building ./pvepin)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -uo pipefail
VM=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$VM/../.." && pwd)
W=$VM/work
cd "$TOP" || exit 1
# a fresh clone has no work/ yet: the build log and the console go there
mkdir -p "$W" || exit 1

# What `make demo` and then `make check` need: the demo's VM (qemu, a
# kernel, busybox), the build, and the fixture tests' tools (python3 for
# plancheck, strace, dbus for the fake systemd, debhelper for the package).
pkgs="qemu-system-x86 linux-image-amd64 busybox-static cpio build-essential pkg-config
libhwloc-dev libinih-dev libsystemd-dev hwloc file kmod python3 strace perl procps
util-linux xz-utils groff-base man-db debhelper dpkg-dev fakeroot dbus-daemon
python3-dbus python3-gi"
missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# apt knows a package only after `apt-get update` has filled its lists (a
# fresh debootstrap or container has none)
unknown_to_apt() {
	local p
	for p in "$@"; do
		apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]' || return 0
	done
	return 1
}
if [ -n "$missing" ]; then
	if [ "${NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ]; then
		echo "demo: missing packages:$missing"
		echo "demo: as root: apt-get update && apt-get install -y$missing"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if unknown_to_apt $missing; then
		echo "demo: apt-get update (apt does not know every package yet)"
		apt-get update -q >"$W/apt.log" 2>&1 || { cat "$W/apt.log"; echo "demo: apt-get update failed"; exit 1; }
	fi
	echo "demo: installing$missing"
	apt-get install -y -q $missing >"$W/apt.log" 2>&1 ||
		{ tail -20 "$W/apt.log"; echo "demo: apt-get install failed (log: $W/apt.log)"; exit 1; }
fi

echo "demo: building pvepin"
if [ -n "${PVEPIN:-}" ]; then
	make -s helpers || exit 1
else
	make -s pvepin helpers || exit 1
	export PVEPIN=./pvepin # the demo shows the release binary
fi
bash "$VM/build.sh" >"$W/build.log" 2>&1 || { cat "$W/build.log"; exit 1; }

append="pvt.cases= pvt.demo=1 pvt.pause=${PAUSE:-3}"
. "$VM/machine.sh"
echo "demo: booting Linux $(cat "$W/kver") under QEMU (TCG, no KVM needed): 8 CPUs, 2 NUMA nodes, an IOMMU"
# The guest tells the story on its second serial port: this terminal.
# Its last line says how the story ended: make demo fails when it did not.
timeout -k 5 300 "${qemu[@]}" -monitor none -serial "file:$W/demo-console.log" -serial stdio \
	</dev/null 2>"$W/demo-qemu.err" | tr -d '\r' | tee "$W/demo.out" |
	sed -u '/^done up=/d; /^demo done rc=[0-9]*$/d'
echo
grep -qx 'demo done rc=0' "$W/demo.out" && exit 0
echo "demo: FAILED: $(grep -x 'demo done rc=[0-9]*' "$W/demo.out" || echo "the VM did not finish the demo")" \
	"(console: $W/demo-console.log, qemu: $W/demo-qemu.err)"
exit 1
