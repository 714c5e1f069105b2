#!/bin/sh
# `pvepin check` host readiness on built host roots: a healthy PVE host (the
# seed's Threadripper 7970X with VM 100: RTX 4090 + its audio + a USB
# controller passed through) where every item says ok, then one change per
# case that must turn one item to warn or error. Roots are generated here
# (tiny: only the files the checks read); the topology is the seed's XML.
# KEEP=DIR keeps every root and its check output in DIR for a look.
. tests/lib.sh
S=$FIX/seed H=$FIX/hosts
TMP=${KEEP:-$(mktemp -d)}; [ -n "$KEEP" ] || trap "rm -rf \"$TMP\"" EXIT
REL=6.8.12-4-pve
XML=$S/tr7970x.xml

# --- the healthy host ------------------------------------------------------
# dev BDF CLASS VENDOR DEVICE GROUP DRIVER [BOOT_VGA]
dev() {
	d=$R/sys/bus/pci/devices/$1
	mkdir -p $d $R/sys/kernel/iommu_groups/$5/devices $R/sys/bus/pci/drivers/$6
	echo $2 > $d/class; echo $3 > $d/vendor; echo $4 > $d/device; echo ${7:-0} > $d/boot_vga
	echo -1 > $d/numa_node
	ln -s ../../../../kernel/iommu_groups/$5 $d/iommu_group
	ln -s ../../../../bus/pci/drivers/$6 $d/driver
	ln -s ../../../../bus/pci/devices/$1 $R/sys/kernel/iommu_groups/$5/devices/$1
}
# rom FILE VENDOR DEVICE [HEADER_BYTES]: a PCI option ROM (0x55AA, PCIR)
rom() {
	python3 - "$@" <<'EOF'
import struct, sys
path, ven, dev = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
hdr = int(sys.argv[4]) if len(sys.argv) > 4 else 0
img = bytearray(64 * 1024)
img[0:3] = b'\x55\xaa\x80'
struct.pack_into('<H', img, 0x18, 0x1a0)
img[0x1a0:0x1a4] = b'PCIR'
struct.pack_into('<HH', img, 0x1a4, ven, dev)
open(path, 'wb').write(b'NVGI' + bytes(hdr - 4) + img if hdr else img)
EOF
}
mkhost() {
	R=$1
	mkdir -p $R/proc/sys/kernel $R/proc/1234 $R/sys/class/iommu/ivhd0 $R/etc/modprobe.d \
		$R/etc/initramfs-tools $R/etc/default $R/etc/pve/qemu-server $R/boot $R/usr/share/kvm \
		$R/run/irqbalance $R/lib/modules/$REL \
		$R/sys/module/vfio $R/sys/module/vfio_pci $R/sys/module/vfio_iommu_type1/parameters \
		$R/sys/module/kvm/parameters
	echo $REL > $R/proc/sys/kernel/osrelease
	echo "BOOT_IMAGE=/boot/vmlinuz-$REL root=/dev/mapper/pve-root ro quiet iommu=pt" > $R/proc/cmdline
	printf 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen Threadripper 7970X 32-Cores\nflags\t\t: fpu pse pdpe1gb lm svm\n\n' > $R/proc/cpuinfo
	printf '           CPU0\n  0:  10  IR-IO-APIC  2-edge  timer\n 40:  0  IR-PCI-MSI-0000:5d:00.0  0-edge  xhci_hcd\n' > $R/proc/interrupts
	echo irqbalance > $R/proc/1234/comm
	python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" $R/run/irqbalance/irqbalance1234.sock
	dev 0000:80:01.1 0x060400 0x1022 0x14ab 14 pcieport
	dev 0000:81:00.0 0x030000 0x10de 0x2684 14 vfio-pci
	dev 0000:81:00.1 0x040300 0x10de 0x22ba 14 vfio-pci
	dev 0000:4b:00.0 0x0c0330 0x1022 0x43f7 20 vfio-pci
	dev 0000:5d:00.0 0x0c0330 0x1022 0x43f7 21 xhci_hcd
	dev 0000:6f:00.0 0x0c0330 0x1022 0x43f7 22 xhci_hcd
	dev 0000:47:00.4 0x040300 0x1022 0x15e3 31 snd_hda_intel
	dev 0000:c1:00.0 0x030000 0x1a03 0x2000 30 ast 1
	echo "pci:v00001A03d00002000sv00001A03sd00002000bc03sc00i00" > $R/sys/bus/pci/devices/0000:c1:00.0/modalias
	for n in 0 1 2 3; do
		d=$R/sys/devices/system/node/node$n
		mkdir -p $d/hugepages/hugepages-1048576kB $d/hugepages/hugepages-2048kB
		printf 'Node %d MemTotal: 33554432 kB\nNode %d MemFree: 31457280 kB\n' $n $n > $d/meminfo
		for f in nr_hugepages free_hugepages; do
			echo 0 > $d/hugepages/hugepages-1048576kB/$f; echo 0 > $d/hugepages/hugepages-2048kB/$f
		done
	done
	echo N > $R/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
	echo Y > $R/sys/module/kvm/parameters/ignore_msrs
	echo N > $R/sys/module/kvm/parameters/report_ignored_msrs
	M=kernel/drivers
	cat > $R/lib/modules/$REL/modules.dep <<-EOF
	$M/vfio/vfio.ko:
	$M/vfio/vfio_iommu_type1.ko: $M/vfio/vfio.ko
	$M/vfio/pci/vfio-pci-core.ko: $M/vfio/vfio.ko
	$M/vfio/pci/vfio-pci.ko: $M/vfio/pci/vfio-pci-core.ko $M/vfio/vfio.ko
	$M/usb/host/xhci-pci.ko: $M/usb/host/xhci-hcd.ko
	$M/usb/host/xhci-hcd.ko:
	kernel/sound/pci/hda/snd-hda-intel.ko:
	$M/gpu/drm/nouveau/nouveau.ko:
	$M/gpu/drm/ast/ast.ko:
	$M/video/fbdev/nvidia/nvidiafb.ko:
	kernel/arch/x86/kvm/kvm.ko:
	kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko
	EOF
	echo "$M/pci/pcie/portdrv.ko" > $R/lib/modules/$REL/modules.builtin
	cat > $R/lib/modules/$REL/modules.alias <<-EOF
	# Aliases extracted from modules themselves.
	alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci
	alias pci:v*d*sv*sd*bc04sc03i00* snd_hda_intel
	alias pci:v000010DEd*sv*sd*bc03sc*i* nouveau
	alias pci:v000010DEd00000040sv*sd*bc*sc*i* nvidiafb
	alias pci:v00001A03d00002000sv*sd*bc*sc*i* ast
	alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
	alias usb:v*p*d*dc*dsc*dp*ic03isc*ip*in* usbhid
	EOF
	printf '# nvidiafb see bugreport https://bugzilla.proxmox.com/show_bug.cgi?id=701\nblacklist nvidiafb\n' > $R/etc/modprobe.d/pve-blacklist.conf
	echo "options kvm ignore_msrs=1 report_ignored_msrs=0" > $R/etc/modprobe.d/kvm.conf
	printf 'vfio\nvfio_iommu_type1\nvfio_pci\n' > $R/etc/initramfs-tools/modules
	printf '# /etc/modules: kernel modules to load at boot time.\nvfio\nvfio_iommu_type1\nvfio_pci\n' > $R/etc/modules
	printf 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR="Proxmox VE"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet iommu=pt"\n' > $R/etc/default/grub
	cp $S/100.conf $R/etc/pve/qemu-server/100.conf
	echo "not a config" > $R/etc/pve/qemu-server/100.conf.bak
	rom $R/usr/share/kvm/409024576.rom 10de 2684
	touch -d '2024-01-01 10:00' $R/etc/modprobe.d/*.conf $R/etc/initramfs-tools/modules
	touch -d '2024-01-02 10:00' $R/boot/initrd.img-$REL
}
BASE=$TMP/base
mkhost $BASE

# fresh NAME: a copy of the healthy host in $R to change
fresh() { R=$TMP/$1; rm -rf $R; cp -a $BASE $R; }
# run NAME [pvepin args...]: check the root $R (default: host mode) into $TMP/NAME.json
run() {
	_n=$1; shift
	[ $# -gt 0 ] || set -- check
	$PVEPIN --root $R ${XMLOPT:---topology $XML} "$@" --json > $TMP/$_n.json 2>$TMP/$_n.err
	echo $? > $TMP/$_n.rc
}
# lv NAME ID [TEXT]: the levels of item ID (whose message has TEXT), e.g. "ok" or "error,ok"
lv() {
	python3 - $TMP/$1.json "$2" "${3:-}" <<-'EOF'
	import json, sys
	d = json.load(open(sys.argv[1]))
	print(','.join(sorted({i['level'] for i in d['items'] if i['check'] == sys.argv[2] and sys.argv[3] in i['message']})) or 'none')
	EOF
}
rc() { cat $TMP/$1.rc; }
# expect_lv WHAT NAME ID WANT [TEXT]
expect_lv() { expect_eq "$1" "$(lv $2 $3 "${5:-}")" "$4"; }

# --- healthy: every item ok, exit 0 ----------------------------------------
R=$BASE; run base
expect_eq "healthy host: exit 0" "$(rc base)" 0
expect_eq "healthy host: nothing on stderr" "$(cat $TMP/base.err)" ""
for id in vm-configs iommu-on iommu-pt intremap hugepages-1g hugepages-node hugepages-vm vfio-modules \
	vfio-initramfs etc-modules ignore-msrs numa-nps irqbalance device group-viable blacklist vfio-ids \
	romfile boot-vga; do
	expect_lv "healthy: $id ok" base $id ok
done
expect_lv "healthy: AMD-Vi unit named" base iommu-on ok "AMD-Vi (ivhd0)"
expect_lv "healthy: ROM identified" base romfile ok "for 10de:2684"
expect_lv "healthy: host console stays on the BMC VGA" base boot-vga ok "0000:c1:00.0"
expect_lv "healthy: node 3 could give 30 pages" base hugepages-node ok "node 3: 0 x 1 GiB pages reserved (0 free); at most 30 more"
expect_lv "healthy: irqbalance cooperation through its socket" base irqbalance ok "irqbalance1234.sock"
expect_lv "healthy: 100.conf.bak is not a config" base vm-configs ok "1 VM config(s)"
$PVEPIN --root $BASE --topology $XML check > $TMP/text.out; r=$?
expect_eq "text output: exit 0 too" "$r" 0
expect_grep "text output ends with the tally" "^0 error\(s\), 0 warning\(s\)$" $TMP/text.out

# --- IOMMU ------------------------------------------------------------------
fresh iommu-off; rm -rf $R/sys/kernel/iommu_groups $R/sys/class/iommu/ivhd0 $R/sys/bus/pci/devices/*/iommu_group
run iommu-off
expect_lv "IOMMU off: error" iommu-off iommu-on error
expect_lv "IOMMU off on AMD: firmware fix, amd_iommu=on not needed" iommu-off iommu-on error \
	"enable IOMMU and SVM in the firmware setup (AMD CBS > NBIO Common Options > IOMMU) and reboot; Linux turns AMD-Vi on by itself (amd_iommu=on is not needed)"
expect_eq "IOMMU off: exit 2" "$(rc iommu-off)" 2
expect_lv "IOMMU off: no intremap item (IOMMU first)" iommu-off intremap none
expect_lv "IOMMU off: no group item" iommu-off group-viable none
sed -i 's/iommu=pt/iommu=pt amd_iommu=off/' $R/proc/cmdline; run iommu-off2
expect_lv "amd_iommu=off: says remove it, with the grub line" iommu-off2 iommu-on error \
	"has amd_iommu=off: remove it from GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub:4"
sed -i 's/AuthenticAMD/GenuineIntel/' $R/proc/cpuinfo; sed -i 's/ amd_iommu=off//' $R/proc/cmdline
echo "quiet iommu=pt" > $R/etc/kernel-cmdline; mkdir -p $R/etc/kernel; mv $R/etc/kernel-cmdline $R/etc/kernel/cmdline
run iommu-off3
expect_lv "Intel, systemd-boot: intel_iommu=on in /etc/kernel/cmdline + proxmox-boot-tool" iommu-off3 iommu-on error \
	"add intel_iommu=on to /etc/kernel/cmdline (its one line), run \`proxmox-boot-tool refresh\`"
fresh nosys; rm -rf $R/sys/bus $R/sys/kernel; run nosys
expect_lv "no PCI sysfs in the capture: IOMMU state unknown -> warn" nosys iommu-on warn "cannot tell"

fresh nopt; sed -i 's/ iommu=pt//' $R/proc/cmdline; run nopt
expect_lv "no iommu=pt: warn" nopt iommu-pt warn "add iommu=pt to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub:4"
expect_eq "warnings only: exit 1" "$(rc nopt)" 1
fresh nocmdline; rm $R/proc/cmdline; run nocmdline
expect_lv "no /proc/cmdline: iommu-pt cannot tell" nocmdline iommu-pt warn "cannot tell"

# --- interrupt remapping ----------------------------------------------------
fresh noir; sed -i 's/IR-//g' $R/proc/interrupts; run noir
expect_lv "no interrupt remapping, unsafe off: error" noir intremap error "allow_unsafe_interrupts=1"
echo Y > $R/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts; run noir-unsafe
expect_lv "no remapping but allow_unsafe_interrupts: warn (insecure)" noir-unsafe intremap warn "insecure"
fresh irunsafe; echo Y > $R/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts; run irunsafe
expect_lv "remapping on and unsafe set anyway: warn" irunsafe intremap warn "only weakens isolation"
fresh irfile; sed -i 's/IR-//g' $R/proc/interrupts; rm -r $R/sys/module/vfio_iommu_type1
printf '# vfio\noptions vfio_iommu_type1 allow_unsafe_interrupts=1\n' > $R/etc/modprobe.d/vfio.conf; run irfile
expect_lv "unsafe from modprobe.d names file:line" irfile intremap warn "/etc/modprobe.d/vfio.conf:2"
fresh irparam; sed -i 's/iommu=pt/iommu=pt intremap=off/' $R/proc/cmdline; run irparam
expect_lv "intremap=off on the command line: remove it" irparam intremap error "remove intremap=off from GRUB"
fresh noproc; rm $R/proc/interrupts; run noproc
expect_lv "no /proc/interrupts: cannot tell" noproc intremap warn "cannot tell"
mkdir -p $R/sys/class/iommu/dmar0/intel-iommu; echo f050da > $R/sys/class/iommu/dmar0/intel-iommu/ecap; run dmar
expect_lv "Intel DMAR ecap IR bit: ok" dmar intremap ok "dmar0 ecap"

# --- 1 GiB pages ------------------------------------------------------------
fresh nopdpe; sed -i 's/ pdpe1gb//' $R/proc/cpuinfo; run nopdpe
expect_lv "no pdpe1gb and VM 100 wants 1G pages: error" nopdpe hugepages-1g error "hugepages: 1024"
sed -i '/^hugepages:/d' $R/etc/pve/qemu-server/100.conf; run nopdpe2
expect_lv "no pdpe1gb, no VM wants 1G: warn" nopdpe2 hugepages-1g warn
fresh node1; printf 'Node 1 MemTotal: 33554432 kB\nNode 1 MemFree: 524288 kB\n' > $R/sys/devices/system/node/node1/meminfo
run node1
expect_lv "node 1 can give no 1G page: warn" node1 hugepages-node warn "node 1 can give no 1 GiB page now"
expect_lv "node 1 fix: boot reservation on node 1" node1 hugepages-node warn "hugepages=1:N"
expect_lv "node 0 still ok" node1 hugepages-node ok "node 0:"
fresh hpvm; for n in 0 1 2 3; do
	printf 'Node %d MemTotal: 33554432 kB\nNode %d MemFree: 8388608 kB\n' $n $n > $R/sys/devices/system/node/node$n/meminfo
	echo 2 > $R/sys/devices/system/node/node$n/hugepages/hugepages-1048576kB/nr_hugepages
	echo 2 > $R/sys/devices/system/node/node$n/hugepages/hugepages-1048576kB/free_hugepages
done
run hpvm
expect_lv "VM 100 needs 48 pages, 8 free + 32 obtainable: error" hpvm hugepages-vm error "needs 48 x 1 GiB pages (memory 49152 MiB) but the host has 8 free and at most 32 more"
echo 4 > $R/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages
printf 'Node 0 MemTotal: 33554432 kB\nNode 0 MemFree: 16777216 kB\n' > $R/sys/devices/system/node/node0/meminfo
run hpvm2
expect_lv "10 free + 40 obtainable covers 48: ok" hpvm2 hugepages-vm ok "10 free and up to 40 more"

# --- modules ----------------------------------------------------------------
fresh novfio; sed -i '/vfio_iommu_type1/d' $R/lib/modules/$REL/modules.dep; rm -r $R/sys/module/vfio_iommu_type1
run novfio
expect_lv "vfio_iommu_type1 missing from the kernel: error" novfio vfio-modules error "has no vfio_iommu_type1 module"
fresh builtin; sed -i '/vfio\/vfio.ko:/d' $R/lib/modules/$REL/modules.dep; rm -r $R/sys/module/vfio
echo kernel/drivers/vfio/vfio.ko >> $R/lib/modules/$REL/modules.builtin; run builtin
expect_lv "vfio built in counts" builtin vfio-modules ok "vfio built in, vfio_pci loaded"
fresh nodep; rm -r $R/lib/modules; rm -r $R/sys/module/vfio_pci; run nodep
expect_lv "no module index: cannot tell" nodep vfio-modules warn "cannot tell whether vfio_pci"
fresh virqfd; echo vfio_virqfd >> $R/etc/modules; run virqfd
expect_lv "vfio_virqfd in /etc/modules on 6.8: warn with file:line" virqfd etc-modules warn \
	"/etc/modules:5 loads vfio_virqfd, which kernel $REL does not have (it is part of vfio since Linux 6.2)"
fresh stale; touch -d '2024-01-03 10:00' $R/etc/modprobe.d/kvm.conf; run stale
expect_lv "modprobe.d newer than the initrd: warn" stale vfio-initramfs warn \
	"/etc/modprobe.d/kvm.conf changed after /boot/initrd.img-$REL was built"
fresh idsnoinit; : > $R/etc/initramfs-tools/modules
echo "options vfio-pci ids=10de:2684,10de:22ba" > $R/etc/modprobe.d/vfio.conf
touch -d '2024-01-01 10:00' $R/etc/modprobe.d/vfio.conf $R/etc/initramfs-tools/modules; run idsnoinit
expect_lv "ids= without vfio in the initramfs: warn" idsnoinit vfio-initramfs warn \
	"vfio, vfio_pci, vfio_iommu_type1 are not in /etc/initramfs-tools/modules"
fresh noinit; : > $R/etc/initramfs-tools/modules; touch -d '2024-01-01 10:00' $R/etc/initramfs-tools/modules
run noinit
expect_lv "no vfio in initramfs, no ids=: ok (pvepin binds at start)" noinit vfio-initramfs ok "not needed"
fresh noinitrd; rm $R/boot/initrd.img-$REL; run noinitrd
expect_lv "listed but no initrd: warn" noinitrd vfio-initramfs warn "does not exist"
fresh msrs; echo N > $R/sys/module/kvm/parameters/ignore_msrs; rm $R/etc/modprobe.d/kvm.conf; run msrs
expect_lv "ignore_msrs off: warn with the modprobe.d line" msrs ignore-msrs warn "options kvm ignore_msrs=1"
fresh msrs2; echo N > $R/sys/module/kvm/parameters/ignore_msrs; run msrs2
expect_lv "ignore_msrs set in file but not loaded: warn" msrs2 ignore-msrs warn "/etc/modprobe.d/kvm.conf:1 but kvm was loaded without it"

# --- NUMA / NPS ---------------------------------------------------------------
R=$BASE
(XMLOPT="--topology $H/epyc7763-2s-nosmt.xml"; run nps1)
expect_lv "EPYC 7763 NPS1 (8 L3 per node): warn" nps1 numa-nps warn "node 0 has 8 L3 domains (CCDs): its memory is interleaved over all of them (NPS1)"
expect_lv "NPS advice names NPS4 and the firmware menu" nps1 numa-nps warn "Set NPS4 in the firmware"
(XMLOPT="--topology $H/epyc9654-2s.xml"; run nps9654)
expect_lv "EPYC 9654 NPS1 (12 L3 per node): warn" nps9654 numa-nps warn "node 1 has 12 L3 domains"
(XMLOPT="--topology $H/r9-7950x3d-vcache.xml"; run desk)
expect_lv "desktop Ryzen, 2 L3 in 1 node: no NPS to set -> ok" desk numa-nps ok "has no NPS setting"
# a multi-L3 NPS1 host discovered from the root's sysfs alone (no XML)
fresh nps-sysfs
cpu=0; for c in 0 1 2 3; do
	d=$R/sys/devices/system/cpu/cpu$c
	mkdir -p $d/topology $d/cache/index3
	echo f > $d/topology/package_cpus; echo 0 > $d/topology/physical_package_id; echo 0 > $d/topology/die_id
	printf '%x\n' $((1 << c)) > $d/topology/core_cpus; echo $c > $d/topology/core_id
	echo 3 > $d/cache/index3/level; echo Unified > $d/cache/index3/type; echo 32768K > $d/cache/index3/size
	echo $((c / 2)) > $d/cache/index3/id
	if [ $c -lt 2 ]; then echo 3 > $d/cache/index3/shared_cpu_map; else echo c > $d/cache/index3/shared_cpu_map; fi
done
echo 0-3 > $R/sys/devices/system/cpu/online; echo 0-3 > $R/sys/devices/system/cpu/possible
rm -rf $R/sys/devices/system/node/node1 $R/sys/devices/system/node/node2 $R/sys/devices/system/node/node3
echo f > $R/sys/devices/system/node/node0/cpumap; echo 0-3 > $R/sys/devices/system/node/node0/cpulist
echo 0 > $R/sys/devices/system/node/online; echo 10 > $R/sys/devices/system/node/node0/distance
sed -i 's/Ryzen Threadripper 7970X 32-Cores/EPYC 7313P 16-Core Processor/' $R/proc/cpuinfo
# hwloc's x86 (CPUID) and pci (libpciaccess) backends read this machine even
# under --root (HWLOC_FSROOT): keep them out, the root's sysfs is the host
(export HWLOC_COMPONENTS=-x86,-pci; XMLOPT=" "; run nps-sysfs)
expect_lv "sysfs-only root, 2 L3 in node 0: warn" nps-sysfs numa-nps warn "node 0 has 2 L3 domains (CCDs)"
sed -i 's/AMD EPYC 7313P 16-Core Processor/Intel(R) Xeon(R) Gold 6430/; s/AuthenticAMD/GenuineIntel/' $R/proc/cpuinfo
(export HWLOC_COMPONENTS=-x86,-pci; XMLOPT=" "; run snc)
expect_lv "Intel node with 2 L3: warn, sub-NUMA clustering" snc numa-nps warn "offers sub-NUMA clustering (SNC), enable it"

# --- irqbalance ---------------------------------------------------------------
fresh irqb; rm $R/run/irqbalance/irqbalance1234.sock; run irqb
expect_lv "irqbalance without a socket file: warn with the unit fix" irqb irqbalance warn "RuntimeDirectory=irqbalance"
# a process table without irqbalance in it (none at all is "cannot tell")
rm -r $R/proc/1234; mkdir -p $R/proc/1; echo systemd > $R/proc/1/comm; run irqb-off
expect_lv "irqbalance not running: ok" irqb-off irqbalance ok "not running"

# --- devices ------------------------------------------------------------------
fresh gone; sed -i 's/^hostpci3: 0000:4b:00.0/hostpci3: 0000:4c:00.0/' $R/etc/pve/qemu-server/100.conf; run gone
expect_lv "hostpci names a device the host lacks: error" gone device error "VM 100 hostpci3 names 0000:4c:00.0"
fresh group; dev 0000:81:00.2 0x0c0330 0x10de 0x1ad8 14 xhci_hcd; run group
expect_lv "group 14 also holds the GPU's USB-C controller: error" group group-viable error \
	"also holds 0000:81:00.2 (usb, driver xhci_hcd), which VM 100 does not pass through"
expect_lv "... and names PVE's all-functions form of the card" group group-viable error \
	"pass all functions of the card with hostpci0: 0000:81:00 "
expect_lv "the USB controller's own group stays ok" group group-viable ok "IOMMU group 20"
fresh group2; cp $R/etc/pve/qemu-server/100.conf $R/etc/pve/qemu-server/101.conf
sed -i 's/^hostpci.*//; 1i hostpci0: 0000:5d:00.0' $R/etc/pve/qemu-server/101.conf
rm $R/sys/kernel/iommu_groups/21/devices/0000:5d:00.0; rm $R/sys/bus/pci/devices/0000:5d:00.0/iommu_group
ln -s ../../../../kernel/iommu_groups/20 $R/sys/bus/pci/devices/0000:5d:00.0/iommu_group
ln -s ../../../../bus/pci/devices/0000:5d:00.0 $R/sys/kernel/iommu_groups/20/devices/0000:5d:00.0
run group2
expect_lv "group shared by two VMs' devices: error naming the other VM" group2 group-viable error "0000:5d:00.0 (VM 101's)"
fresh nogroup; rm $R/sys/bus/pci/devices/0000:4b:00.0/iommu_group; run nogroup
expect_lv "passthrough device without an IOMMU group: error" nogroup group-viable error "is in no IOMMU group"

fresh bl; printf 'blacklist xhci_pci\nblacklist snd_hda_intel\n' > $R/etc/modprobe.d/blacklist.conf; run bl
expect_lv "blacklist xhci_pci takes the host's USB: error" bl blacklist error \
	"blacklist xhci_pci (/etc/modprobe.d/blacklist.conf:1) keeps xhci_pci off 0000:4b:00.0 but also off the host's 0000:5d:00.0 (usb), 0000:6f:00.0 (usb)"
expect_lv "... every USB controller the host keeps" bl blacklist error "every USB controller the host keeps"
expect_lv "blacklist snd_hda_intel takes the onboard audio: error" bl blacklist error \
	"keeps snd_hda_intel off 0000:81:00.1 but also off the host's 0000:47:00.4 (audio): the host loses that audio"
expect_lv "fix: delete the line" bl blacklist error "delete line 2 of /etc/modprobe.d/blacklist.conf"
fresh bl2; echo "install nouveau /bin/false" > $R/etc/modprobe.d/nouveau.conf; run bl2
expect_lv "install nouveau /bin/false hits only the passthrough GPU: ok" bl2 blacklist ok \
	"install nouveau /bin/false (/etc/modprobe.d/nouveau.conf:1) keeps nouveau off 0000:81:00.0 only"
fresh bl3; sed -i 's/iommu=pt/iommu=pt modprobe.blacklist=xhci_pci/' $R/proc/cmdline; dev 0000:7a:00.0 0x0c0320 0x1022 0x7808 40 ehci_pci
run bl3
expect_lv "modprobe.blacklist= on the command line: error, fix in grub; some USB left" bl3 blacklist error \
	"take xhci_pci out of modprobe.blacklist= in GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub:4"
expect_lv "an EHCI controller is left: ports go dead, not the keyboard" bl3 blacklist error "USB ports on those controllers go dead"
fresh bl4; printf 'blacklist xhci_pci\n' > $R/etc/modprobe.d/blacklist.conf; rm $R/lib/modules/$REL/modules.alias; run bl4
expect_lv "no modules.alias: cannot tell" bl4 blacklist warn "no /lib/modules/$REL/modules.alias"

fresh bl5; dev 0000:c2:00.0 0x030000 0x10de 0x1c82 41 nvidia
echo "blacklist nouveau" > $R/etc/modprobe.d/nouveau.conf; run bl5
expect_lv "blacklist nouveau with a host NVIDIA card nouveau would drive: error" bl5 blacklist error \
	"off the host's 0000:c2:00.0 (gpu): the host loses that display"
echo "alias pci:v000010DEd*sv*sd*bc03sc00i00* nvidia" >> $R/lib/modules/$REL/modules.alias; run bl5b
expect_lv "... but the host card runs on the nvidia module: ok" bl5b blacklist ok "keeps nouveau off 0000:81:00.0 only"
echo "blacklist nvidia" >> $R/etc/modprobe.d/nouveau.conf; run bl5c
expect_lv "... unless nvidia is blacklisted too: error again" bl5c blacklist error "0000:c2:00.0 (gpu)"

fresh ids; dev 0000:c2:00.0 0x030000 0x10de 0x2684 41 nvidia
echo "options vfio-pci ids=10de:2684,10de:22ba disable_vga=1" > $R/etc/modprobe.d/vfio.conf; touch -d '2024-01-01' $R/etc/modprobe.d/vfio.conf
run ids
expect_lv "ids= also captures the host's identical GPU: error" ids vfio-ids error \
	"vfio-pci ids=10de:2684 (/etc/modprobe.d/vfio.conf:1) also captures 0000:c2:00.0"
expect_lv "the audio id matches only the passthrough audio: ok" ids vfio-ids ok "ids=10de:22ba"
rm -r $R/sys/bus/pci/devices/0000:c2:00.0; run ids-ok
expect_lv "ids= with no second identical device: ok" ids-ok vfio-ids ok "ids=10de:2684 (/etc/modprobe.d/vfio.conf:1) matches only passthrough devices"
sed -i 's/ids=10de:2684,10de:22ba/ids=10de:2684,zz/' $R/etc/modprobe.d/vfio.conf; run ids-bad
expect_lv "a malformed ids entry: warn" ids-bad vfio-ids warn "'zz'"
fresh ids2; sed -i 's/iommu=pt/iommu=pt vfio-pci.ids=1022:43f7/' $R/proc/cmdline; run ids2
expect_lv "vfio-pci.ids= on the command line takes the host's USB: error" ids2 vfio-ids error "(the kernel command line) also captures 0000:5d:00.0, 0000:6f:00.0"
expect_lv "... fix in the boot loader" ids2 vfio-ids error "take 1022:43f7 out of vfio-pci.ids= in GRUB_CMDLINE_LINUX_DEFAULT"

# --- the same against a real kernel's module index (Debian's, if installed) -----
KREAL=
for d in /lib/modules/*; do
	[ -f $d/modules.alias ] && [ -f $d/modules.dep ] && [ -f $d/modules.builtin ] && KREAL=${d##*/} && break
done
if [ -n "$KREAL" ]; then
	fresh real; rm -r $R/lib/modules/$REL $R/sys/module/vfio $R/sys/module/vfio_pci $R/sys/module/vfio_iommu_type1
	mkdir -p $R/lib/modules/$KREAL; cp /lib/modules/$KREAL/modules.dep /lib/modules/$KREAL/modules.alias \
		/lib/modules/$KREAL/modules.builtin $R/lib/modules/$KREAL/
	echo $KREAL > $R/proc/sys/kernel/osrelease; mv $R/boot/initrd.img-$REL $R/boot/initrd.img-$KREAL
	run real
	expect_lv "real index ($KREAL): vfio modules loadable" real vfio-modules ok "vfio loadable, vfio_pci loadable, vfio_iommu_type1 loadable"
	expect_lv "real index: healthy blacklist" real blacklist ok
	printf 'blacklist xhci_pci\nblacklist snd_hda_intel\n' > $R/etc/modprobe.d/blacklist.conf; run real-bl
	expect_lv "real index: blacklist xhci_pci takes every host USB controller" real-bl blacklist error \
		"0000:5d:00.0 (usb), 0000:6f:00.0 (usb): that is every USB controller the host keeps"
	expect_lv "real index: blacklist snd_hda_intel takes the onboard audio" real-bl blacklist error \
		"keeps snd_hda_intel off 0000:81:00.1 but also off the host's 0000:47:00.4 (audio)"
	echo "blacklist nouveau" > $R/etc/modprobe.d/blacklist.conf; run real-nv
	expect_lv "real index: blacklist nouveau only keeps it off the passthrough GPU" real-nv blacklist ok "keeps nouveau off 0000:81:00.0 only"
else
	skip "real module index" "no /lib/modules/*/modules.alias here (package linux-image-amd64)"
fi

# --- option ROMs --------------------------------------------------------------
fresh norom; rm $R/usr/share/kvm/409024576.rom; run norom
expect_lv "romfile missing: error" norom romfile error "romfile=409024576.rom, but /usr/share/kvm/409024576.rom does not exist"
head -c 65536 /dev/zero > $R/usr/share/kvm/409024576.rom; run zerorom
expect_lv "romfile of zeros: error, not a ROM" zerorom romfile error "is not a PCI option ROM (starts 00 00"
rom $R/usr/share/kvm/409024576.rom 10de 2684 1536; run hdrrom
expect_lv "ROM behind a 1536-byte header: error with the dd line" hdrrom romfile error \
	"has 1536 bytes of header before the option ROM (0x55AA at 0x600): strip them: \`dd if=/usr/share/kvm/409024576.rom of=/usr/share/kvm/409024576-stripped.rom bs=1536 skip=1\`, then romfile=409024576-stripped.rom"
rom $R/usr/share/kvm/409024576.rom 10de 2204; run wrongrom
expect_lv "ROM of another card: warn" wrongrom romfile warn "is a ROM for 10de:2204 but 0000:81:00.0 is 10de:2684"

# --- boot VGA -----------------------------------------------------------------
fresh bvga; echo 1 > $R/sys/bus/pci/devices/0000:81:00.0/boot_vga; echo 0 > $R/sys/bus/pci/devices/0000:c1:00.0/boot_vga
run bvga
expect_lv "passthrough GPU is the boot VGA: error with the sysfb fix" bvga boot-vga error \
	"0000:81:00.0 (VM 100 hostpci0) is the boot VGA device"
expect_lv "... initcall_blacklist=sysfb_init" bvga boot-vga error "add initcall_blacklist=sysfb_init to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub:4"
sed -i 's/iommu=pt/iommu=pt initcall_blacklist=sysfb_init/' $R/proc/cmdline; run bvga-ok
expect_lv "boot VGA with initcall_blacklist=sysfb_init: ok" bvga-ok boot-vga ok "keeps the firmware framebuffer off its BAR"
sed -i 's/ initcall_blacklist=sysfb_init/ video=efifb:off/' $R/proc/cmdline; rm -r $R/sys/bus/pci/devices/0000:c1:00.0
run bvga-only
expect_lv "video=efifb:off is not enough since 5.15" bvga-only boot-vga error "video=efifb:off no longer does it"
expect_lv "the only display: says the host loses its console" bvga-only boot-vga error "the host then has no console"

# --- VM configs ---------------------------------------------------------------
fresh vms; echo "hostpci0: zz:zz" > $R/etc/pve/qemu-server/105.conf; echo x > $R/etc/pve/qemu-server/abc.conf; run vms
expect_lv "an unreadable VM config: warn naming it" vms vm-configs warn "cannot read VM 105's config"
expect_lv "the others are still read" vms vm-configs ok "1 VM config(s)"

# --- check VMID: host items for the VM's devices, plus the VM lint ------------
R=$BASE; run vm100 check 100
expect_lv "check 100: host items included" vm100 romfile ok
expect_lv "check 100: the seed's numa1 mistake still found" vm100 numa-hostnodes error
expect_lv "check 100: no host-wide hugepages-vm (the plan checks per node)" vm100 hugepages-vm none
expect_eq "check 100: exit 2" "$(rc vm100)" 2
R=$TMP/iommu-off; run vm100-off check 100
expect_lv "check 100, IOMMU off: one IOMMU item" vm100-off iommu-on error
expect_lv "... not repeated by the VM lint" vm100-off iommu none
R=$TMP/group; run vm100-group check 100
expect_lv "check 100, partial group: group-viable error" vm100-group group-viable error "0000:81:00.2"
expect_lv "... the plan's refusal not repeated" vm100-group iommu-group none
R=$TMP/ids; sed '/^hostpci0/d' $S/100.conf > $TMP/nogpu.conf
$PVEPIN --root $R --topology $XML --conf $TMP/nogpu.conf check 100 --json > $TMP/vmconf.json 2>&1
expect_eq "check 100 --conf: devices from that file only" "$(lv vmconf romfile)" none
$PVEPIN --topology $XML --conf $S/100.conf check 100 --json > $TMP/xmlonly.json 2>$TMP/xmlonly.err
expect_eq "--topology without --root: host items skipped" "$(lv xmlonly iommu-on)" none
expect_grep "... and says so" "host checks skipped" $TMP/xmlonly.err
expect_rc "check without VMID and with --topology alone: refused" 2 $PVEPIN --topology $XML check
expect_grep "... saying to add --root" "give --root DIR" "$T_OUT"
expect_rc "check with a bad VMID" 2 $PVEPIN --root $BASE --topology $XML check 12x

# --- every message fits the report (400 chars) untruncated ---------------------
long=$(python3 - $TMP/*.json <<-'EOF'
	import json, sys
	for f in sys.argv[1:]:
	    try:
	        d = json.load(open(f))
	    except ValueError:
	        continue
	    for i in d['items']:
	        if len(i['message']) >= 398:
	            print(f, i['check'], len(i['message']))
	EOF
)
expect_eq "no message is cut at the report's 400 characters" "$long" ""

# --- pvepin(8) DIAGNOSTICS: for every item these tests produced, an entry of
# that level in its id's section (that every id has a section: test_docs.sh)
miss=$(python3 - doc/pvepin.8 $TMP/*.json <<-'EOF'
	import json, re, sys
	sec, cur = {}, None
	for line in open(sys.argv[1]):
	    line = line.replace('\\-', '-')
	    m = re.match(r'^\.SS "?([a-z0-9, -]+?)"?$', line)
	    if m and re.fullmatch(r'[a-z0-9-]+(, [a-z0-9-]+)*', m.group(1)):
	        cur = m.group(1).split(', ')
	        for c in cur:
	            sec[c] = ''
	    elif line.startswith('.S'):
	        cur = None
	    elif cur:
	        for c in cur:
	            sec[c] += line
	for f in sys.argv[2:]:
	    try:
	        items = json.load(open(f))['items']
	    except ValueError:
	        continue
	    for i in items:
	        if not re.search(r'^\\fB%s\\fP' % i['level'], sec.get(i['check'], ''), re.M):
	            print(i['check'], i['level'])
	EOF
)
expect_eq "every level seen in the tests is documented for its item" "$(echo "$miss" | sort -u | tr '\n' ' ')" " "
done_tests
