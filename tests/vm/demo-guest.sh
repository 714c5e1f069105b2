# The demo's story, told inside the test VM (tests/vm/demo.sh boots it):
# the host, the plan for a gaming VM, the host before, during and after.
. /tests/lib.sh
PAUSE=$(sed -n 's/.*pvt\.pause=\([0-9]*\).*/\1/p' /proc/cmdline)
PAUSE=${PAUSE:-3}
GPU=0000:81:00.0 AUDIO=0000:81:00.1 NIC=0000:02:00.0

screen() {
	sleep "$PAUSE"
	echo
	echo "=============================================================================="
	echo "  $*"
	echo "=============================================================================="
}
say() { echo "  $*"; }
run() { echo "  # $*"; "$@" 2>&1 | sed 's/^/    /'; }

state() {
	local b n c
	for b in $GPU $AUDIO $NIC; do
		printf '    PCI %s  %-8s driver %-14s override %s\n' "$b" \
			"$(case $b in $GPU) echo GPU ;; $AUDIO) echo audio ;; *) echo NIC ;; esac)" \
			"$(pci_drv $b)" "$(pci_override $b)"
	done
	for n in 0 1; do
		d=/sys/devices/system/node/node$n/hugepages/hugepages-1048576kB
		printf '    node %s  1G pages: %s (free %s)\n' $n "$(cat $d/nr_hugepages)" "$(cat $d/free_hugepages)"
	done
	for c in init.scope system.slice user.slice; do
		printf '    cgroup %-13s runs on CPUs %s\n' $c "$(cat $CG/$c/cpuset.cpus.effective)"
	done
	q=$(qemu_pid 100)
	if [ -n "$q" ] && [ -d /proc/$q ]; then
		threads $q | while IFS="$(printf '\t')" read -r t name; do
			printf '    QEMU thread %-14s on CPUs %s\n' "$name" "$(task_cpus $t)"
		done
		for i in $(vfio_irqs $NIC); do
			printf '    IRQ %-3s %-34s on CPUs %s\n' $i "$(grep "^ *$i:" /proc/interrupts | awk '{print $NF}')" "$(irq_aff $i)"
		done
	fi
}

screen "1/6  The host, as pvepin sees it:  pvepin topo"
say "A small PVE-shaped machine under QEMU: 2 NUMA nodes, 2 L3 domains, SMT,"
say "a VT-d IOMMU, and a GPU-like device (VGA + HDMI-style audio) on node 1."
echo
run pvepin topo

screen "2/6  A gaming VM and what pvepin would do for it:  pvepin plan 100"
pve_conf 100 <<'EOF'
name: gaming
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=2048,policy=bind
hostpci0: 0000:81:00,pcie=1,x-vga=1
hostpci1: 0000:02:00.0,pcie=1
EOF
say "/etc/pve/qemu-server/100.conf:"
sed 's/^/    /' /etc/pve/qemu-server/100.conf
echo
run pvepin plan 100

screen "3/6  The host before the VM starts"
hoststate > /tmp/demo.before
state

# post-stop with nothing recorded is a no-op once the engine exists
if pvepin 100 post-stop < /dev/null 2>&1 | grep -qi 'unknown command'; then
	screen "4/6 .. 6/6  not in this build yet"
	say "pvepin's hook phases (pre-start, post-start, pre-stop, post-stop) and"
	say "restore are not implemented in this build of pvepin yet, so the rest"
	say "of the story (devices on vfio-pci, pages reserved, vCPUs pinned, IRQs"
	say "steered, and the host given back unchanged) cannot be shown."
	say "What you saw above is real: topo and plan ran on a real 6.1 kernel."
	exit 0
fi

screen "4/6  PVE starts VM 100:  pre-start, QEMU, post-start"
say "(QEMU is tests/helpers/fakeqemu: QEMU's thread names, real vfio MSI-X vectors,"
say " and 1 GiB of its memory in 1G pages bound to node 1, as PVE's QEMU with"
say " hugepages: 1024 and numa0: hostnodes=1,policy=bind)"
if ! pve_start 100 --msix 5 --iothreads 1 --mem1g 1 --mem-node 1; then
	say "the start failed: pre-start said"
	sed 's/^/    /' "$HOOK_OUT"
	exit 1
fi

screen "5/6  The host while VM 100 runs"
state
echo
run pvepin status 100

screen "6/6  PVE stops VM 100:  pre-stop, QEMU exits, post-stop"
pve_stop 100
echo
state
hoststate > /tmp/demo.after
echo
if diff /tmp/demo.before /tmp/demo.after > /tmp/demo.diff; then
	say "diff of the host state before the start and after the stop:"
	say "no difference. $(wc -l < /tmp/demo.before) lines compared: every PCI driver and override,"
	say "hugepage pool, cgroup cpuset and IRQ affinity is exactly as it was."
else
	say "the host state differs after the stop:"
	sed 's/^/    /' /tmp/demo.diff
	exit 1
fi
