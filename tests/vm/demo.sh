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

pkgs="qemu-system-x86 linux-image-amd64 busybox-static cpio build-essential pkg-config
libhwloc-dev libinih-dev libsystemd-dev hwloc file kmod"
missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "${NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ]; then
		echo "demo: missing packages:$missing"
		echo "demo: as root: apt-get install -y$missing"
		exit 1
	fi
	echo "demo: installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null || exit 1
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
timeout -k 5 300 "${qemu[@]}" -monitor none -serial "file:$W/demo-console.log" -serial stdio \
	</dev/null 2>"$W/demo-qemu.err" | tr -d '\r' | sed -u '/^done up=/d; /^demo done$/d'
echo
