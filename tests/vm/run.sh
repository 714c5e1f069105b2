#!/bin/bash
# The real-kernel VM suite: boots the Debian kernel under QEMU TCG on a
# small PVE-shaped machine and runs tests/vm/cases/*.sh inside it.
#
#   tests/vm/run.sh                 every case
#   tests/vm/run.sh 20-vfio 30      only these (a name or its number)
#   tests/vm/run.sh --shell [CASE]  boot to a busybox shell on this terminal
#                                   (after running CASE if given); also
#                                   VM_SHELL=1 or SHELL=1
# The machine: 8 CPUs (1 socket, 2 dies = 2 L3s, 2 cores each, SMT 2),
# 2 NUMA nodes of MEM_PER_NODE_G GiB (6) with one 1 GiB page reserved at
# boot on each, an emulated VT-d IOMMU with interrupt remapping, and:
#   00:02.0 e1000e   host NIC with the default route (must not be passed)
#   00:03.0 xhci     USB controller, a group of its own
#   00:04.0 pcie-pci-bridge + 01:01.0, 01:02.0 e1000: one shared group
#   00:05.0 pxb-pcie on NUMA node 1 -> 81:00.0 VGA + 81:00.1 HDA audio, one
#           multi-function device like a GPU (group of 2)
#   00:06.0 root port -> 02:00.0 e1000e: a passthrough NIC with MSI-X
# Prints "ok CASE: ..." / "not ok CASE: ..." / "skip CASE: ..." lines and
# last "tests/vm: P passed, F failed". Exit 1 on a failure, 2 when the
# guest did not finish. Logs: tests/vm/work/console.log, results.log.
#   TIMEOUT=600 MEM_PER_NODE_G=6 CPU=Skylake-Server,+pdpe1gb CASE_TIMEOUT=240
#   KEEP_GOING=1 EXTRA_APPEND=... BUILD=build
set -uo pipefail
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
VM=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$VM/../.." && pwd)
W=$VM/work
mkdir -p "$W"
cd "$TOP" || exit 2

shell=0
[ "${VM_SHELL:-0}" = 1 ] && shell=1
[ "${SHELL:-}" = 1 ] && shell=1
want=()
for a in "$@"; do
	case $a in
	--shell) shell=1 ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) want+=("$a") ;;
	esac
done

die() { echo "not ok tests/vm: $*"; echo "tests/vm: 0 passed, 1 failed"; exit 2; }
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
bash "$VM/build.sh" >"$W/build.log" 2>&1 || { cat "$W/build.log"; die "build.sh failed"; }
KVER=$(cat "$W/kver")
KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || die "cannot read $KERNEL"

# ---------------------------------------------------------------- which cases
engine=0
./pvepin --help 2>&1 | grep -q 'pre-start' && engine=1
all=()
for f in "$VM"/cases/*.sh; do all+=("$(basename "$f" .sh)"); done
sel=()
if [ ${#want[@]} = 0 ]; then
	[ $shell = 1 ] || sel=("${all[@]}")
else
	for w in "${want[@]}"; do
		hit=0
		for c in "${all[@]}"; do
			case $c in "$w" | "$w"-* | "${w%.sh}") sel+=("$c"); hit=1 ;; esac
		done
		[ $hit = 1 ] || die "no case matches '$w' (cases: ${all[*]})"
	done
fi
run=() skipped=()
for c in "${sel[@]}"; do
	if [ $engine = 0 ] && sed -n '1,5p' "$VM/cases/$c.sh" | grep -q '^# needs: engine'; then
		skipped+=("$c")
	else
		run+=("$c")
	fi
done
cases=$(IFS=,; echo "${run[*]}")

# ---------------------------------------------------------------- boot
NPG=${MEM_PER_NODE_G:-6}
CPU=${CPU:-Skylake-Server,+pdpe1gb}
TIMEOUT=${TIMEOUT:-600}
append="console=ttyS0 panic=-1 quiet loglevel=4 nokaslr intel_iommu=on iommu=pt"
append="$append hugepagesz=1G hugepages=0:1,1:1"
append="$append pvt.cases=${cases:-none} pvt.timeout=${CASE_TIMEOUT:-240}"
[ $shell = 1 ] && append="$append pvt.shell=1"
append="$append ${EXTRA_APPEND:-}"
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu "$CPU"
	-m $((NPG * 2))G -smp 8,sockets=1,dies=2,cores=2,threads=2
	-object memory-backend-ram,id=m0,size=${NPG}G -object memory-backend-ram,id=m1,size=${NPG}G
	-numa node,nodeid=0,cpus=0-3,memdev=m0 -numa node,nodeid=1,cpus=4-7,memdev=m1
	-nodefaults -display none -no-reboot
	-device intel-iommu,intremap=on,caching-mode=on
	-netdev user,id=n0 -device e1000e,netdev=n0,addr=02.0
	-device qemu-xhci,addr=03.0
	-device pcie-pci-bridge,id=br1,addr=04.0
	-netdev user,id=n1 -device e1000,netdev=n1,bus=br1,addr=01.0
	-netdev user,id=n2 -device e1000,netdev=n2,bus=br1,addr=02.0
	-device pxb-pcie,id=pxb1,bus_nr=128,numa_node=1,bus=pcie.0,addr=05.0
	-device pcie-root-port,id=rp1,bus=pxb1,chassis=1,slot=1
	-device VGA,bus=rp1,addr=00.0,multifunction=on
	-device ich9-intel-hda,bus=rp1,addr=00.1
	-device pcie-root-port,id=rp2,bus=pcie.0,addr=06.0,chassis=2,slot=2
	-netdev user,id=n3 -device e1000e,netdev=n3,bus=rp2,addr=00.0
	-kernel "$KERNEL" -initrd "$W/initrd.img" -append "$append")

LOG=$W/console.log RES=$W/results.log
if [ $shell = 1 ]; then
	echo "tests/vm: booting $KVER to a shell (exit or Ctrl-a x leaves; cases: ${cases:-none})"
	"${qemu[@]}" -serial mon:stdio -serial "file:$RES"
	exit 0
fi

: > "$RES"
t0=$(date +%s.%N)
timeout -k 5 "$TIMEOUT" "${qemu[@]}" -monitor none -serial "file:$LOG" -serial "file:$RES" \
	</dev/null >"$W/qemu.err" 2>&1
qrc=$?
t1=$(date +%s.%N)

# ---------------------------------------------------------------- results
tr -d '\r' < "$RES" > "$RES.txt"
P=0 F=0
declare -A started=() ended=() bad=()
cur=
while IFS= read -r line; do
	case $line in
	"case "*" start"*)
		cur=$(echo "$line" | cut -d' ' -f2)
		started[$cur]=$(echo "$line" | sed -n 's/.*up=//p')
		;;
	"case "*" end rc="*)
		c=$(echo "$line" | cut -d' ' -f2)
		rc=$(echo "$line" | sed 's/.* rc=\([0-9]*\).*/\1/')
		ended[$c]=$rc
		if [ "$rc" != 0 ] && [ -z "${bad[$c]:-}" ]; then
			echo "not ok $c: exited with rc=$rc$([ "$rc" = 143 ] && echo " (timed out)")"
			F=$((F + 1)); bad[$c]=1
		fi
		echo "# $c: $(echo "$line" | sed 's/.*secs=//') s"
		cur=
		;;
	"ok "*) [ -n "$cur" ] && { echo "ok $cur: ${line#ok }"; P=$((P + 1)); } ;;
	"not ok "*) [ -n "$cur" ] && { echo "not ok $cur: ${line#not ok }"; F=$((F + 1)); bad[$cur]=1; } ;;
	"skip "*) [ -n "$cur" ] && echo "skip $cur: ${line#skip }" ;;
	esac
done < "$RES.txt"

done_line=$(grep -m1 '^done ' "$RES.txt")
for c in "${run[@]}"; do
	[ -n "${started[$c]+x}" ] || { echo "not ok $c: never started"; F=$((F + 1)); bad[$c]=1; continue; }
	[ -n "${ended[$c]+x}" ] || { echo "not ok $c: did not finish"; F=$((F + 1)); bad[$c]=1; }
done
for c in "${skipped[@]}"; do
	echo "skip $c: needs the engine (pvepin --help does not list pre-start yet)"
done
# The whole output of each failed case, then the end of the console.
for c in "${!bad[@]}"; do
	echo "# ---- output of $c"
	sed -n "/^case $c start/,/^case $c end/p" "$RES.txt" | sed 's/^/#  /' | head -150
done
if [ -z "$done_line" ]; then
	F=$((F + 1))
	echo "not ok tests/vm: the guest did not finish (qemu rc=$qrc after $(awk "BEGIN{printf \"%.0f\", $t1 - $t0}") s; TIMEOUT=$TIMEOUT)"
	tail -n 30 "$W/qemu.err" "$LOG" | tr -d '\r' | sed 's/^/#  /'
fi
first=${run[0]:-}
[ -n "$first" ] && [ -n "${started[$first]:-}" ] &&
	echo "# boot to first case: ${started[$first]} s guest uptime; whole run: $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s wall"
echo "tests/vm: $P passed, $F failed"
[ -n "$done_line" ] || exit 2
[ $F = 0 ]
