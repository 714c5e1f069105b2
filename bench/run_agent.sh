#!/bin/sh
# make bench: the runtime agent (pvepin agent), started by post-start as PVE
# would, against VM 100 on a fake host tree whose QEMU is bench/bench_agent
# itself (real threads, real masks): its CPU time per hour while nothing
# happens (target < 1 s), RSS (target < 4 MiB) and how fast it reacts to a
# new thread, a hotplugged vCPU, a moved pin, a new device IRQ, an IRQ
# moved by hand and a cpuset reset (target < 1 s). Then post-stop, and
# whether the tree came back exactly. BENCH_AGENT_SECONDS (default 30): how
# long the idle agent is watched.
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.." || exit 2
PVEPIN=${PVEPIN:-./pvepin}
S=${BENCH_AGENT_SECONDS:-30}
B=$BUILD/bench
DEV=0000:01:00.0

skip() { echo "run_agent: $*: skipped"; exit 0; }
[ -x "$PVEPIN" ] || skip "$PVEPIN not built"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
command -v lstopo-no-graphics > /dev/null || skip "no lstopo-no-graphics (hwloc)"
"$PVEPIN" agent 2>&1 | grep -q "unknown command" && skip "no agent in this build"
mkdir -p $B
if [ ! "$B/bench_agent" -nt bench/bench_agent.c ]; then
	cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$B/bench_agent" bench/bench_agent.c -lpthread ||
		exit 1
fi

if [ -d /dev/shm ] && [ -w /dev/shm ]; then T=$(mktemp -d /dev/shm/pvepin-agent.XXXXXX); else T=$(mktemp -d); fi
trap '[ -s "$T/root/run/pvepin/100.agent" ] && kill "$(cat "$T/root/run/pvepin/100.agent")" 2>/dev/null; rm -rf "$T"' EXIT INT TERM
R=$T/root
w() { mkdir -p "$(dirname "$R/$1")"; printf '%s\n' "$2" > "$R/$1"; }

# The host: two cores of two threads (the host keeps the second core), the
# VM's scope, a passthrough function with 8 MSI-X vectors (40-47).
sh tests/fixtures/roots/mkroot.sh "$R"
w sys/fs/cgroup/qemu.slice/cgroup.subtree_control "cpuset cpu"
w sys/fs/cgroup/qemu.slice/100.scope/cgroup.controllers "cpuset cpu"
w sys/fs/cgroup/qemu.slice/100.scope/cpuset.cpus ""
mkdir -p "$R/run/qemu-server"
{
	echo "           CPU0       CPU1"
	i=40
	while [ $i -lt 48 ]; do
		echo " $i:          0          0  IR-PCI-MSIX-$DEV    $((i - 40))-edge      vfio-msix[$((i - 40))]($DEV)"
		w sys/bus/pci/devices/$DEV/msi_irqs/$i msix
		w proc/irq/$i/smp_affinity_list 0-1
		i=$((i + 1))
	done
} > "$T/interrupts"
mv "$T/interrupts" "$R/proc/interrupts"
w proc/irq/default_smp_affinity 3
lstopo-no-graphics --input "pack:1 l3:1 core:2 pu:2" --of xml "$T/topo.xml" 2>/dev/null
printf 'cores: 1\nmemory: 1024\n' > "$T/c0.conf"
printf 'cores: 1\nmemory: 1024\nhostpci0: %s\n' $DEV > "$T/c1.conf"
printf '[host]\ngovernor = keep\n' > "$T/p.ini"
cp -a "$R" "$T/ref"

# pre-start without the device (a fake tree cannot bind it to vfio-pci)
"$PVEPIN" --root "$R" --topology "$T/topo.xml" --conf "$T/c0.conf" --policy "$T/p.ini" 100 pre-start > /dev/null ||
	{ echo "run_agent: pre-start failed"; exit 1; }
"$B/bench_agent" "$PVEPIN" "$R" "$T/topo.xml" "$T/c1.conf" "$T/p.ini" "$S" || exit 1
rm -f "$R/run/qemu-server/100.pid"
find "$R/proc" -maxdepth 1 -type l -delete
for i in $(seq 48 57); do rm -rf "$R/proc/irq/$i" "$R/sys/bus/pci/devices/$DEV/msi_irqs/$i"; done
if diff -r -x pvepin "$T/ref" "$R" > "$T/diff" 2>&1; then
	echo "host tree given back exactly after post-stop"
else
	echo "host tree NOT given back as it was:"; head -20 "$T/diff"
fi
exit 0
