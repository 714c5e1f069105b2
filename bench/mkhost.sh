#!/bin/sh
# mkhost.sh ROOT [NIRQ]: a fake Proxmox host under ROOT for bench/run_peers.sh:
# the seed guide's Threadripper 7970X (64 CPUs, NPS4, nodes 0-3), its RTX 4090
# (0000:81:00.0 + audio 81:00.1, IOMMU group 16, on nvidia/snd_hda_intel) and
# a USB controller (0000:4b:00.0, group 20, xhci_hcd), 1 GiB pools, cpufreq,
# a cgroup v2 tree, /proc/interrupts with the devices' vfio vectors, and VM
# 100's config. Plain files stand where the kernel has attributes;
# bench/fakekernel.c acts out what a write to them makes the kernel do.
# NIRQ (default: the host's own ~80) pads /proc/interrupts with other
# devices' MSI vectors.
set -e
R=$1 NIRQ=${2:-0}
[ -n "$R" ] || { echo "usage: mkhost.sh ROOT [NIRQ]" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
NCPU=64
w() { mkdir -p "$(dirname "$R/$1")"; printf '%s\n' "$2" > "$R/$1"; }

# --- PCI: function, class, IOMMU group, host driver
pci=sys/bus/pci
mkdir -p $R/$pci/drivers/vfio-pci $R/dev/vfio
: > $R/$pci/drivers_probe
: > $R/$pci/drivers/vfio-pci/bind
: > $R/$pci/drivers/vfio-pci/unbind
chmod 0200 $R/$pci/drivers_probe $R/$pci/drivers/vfio-pci/bind $R/$pci/drivers/vfio-pci/unbind
dev() { # bdf class group driver node
	d=$R/$pci/devices/$1
	mkdir -p $d $R/sys/kernel/iommu_groups/$3/devices $R/$pci/drivers/$4
	: > $R/$pci/drivers/$4/bind
	: > $R/$pci/drivers/$4/unbind
	chmod 0200 $R/$pci/drivers/$4/bind $R/$pci/drivers/$4/unbind
	w $pci/devices/$1/class $2
	w $pci/devices/$1/numa_node $5
	w $pci/devices/$1/driver_override "(null)"
	w $pci/devices/$1/irq 0
	w $pci/devices/$1/boot_vga 0
	ln -s ../../../../kernel/iommu_groups/$3 $d/iommu_group
	ln -s ../../../../bus/pci/drivers/$4 $d/driver
	ln -s ../../../../bus/pci/devices/$1 $R/sys/kernel/iommu_groups/$3/devices/$1
	mkdir -p $d/msi_irqs
}
dev 0000:81:00.0 0x030000 16 nvidia 0
dev 0000:81:00.1 0x040300 16 snd_hda_intel 0
dev 0000:4b:00.0 0x0c0330 20 xhci_hcd 3
dev 0000:05:00.0 0x010802 8 nvme 0
mkdir -p $R/sys/class/iommu/ivhd0

# --- memory: 32 GiB per node, one boot-time 1 GiB page on node 0
for n in 0 1 2 3; do
	hp=sys/devices/system/node/node$n/hugepages
	p=0; [ $n = 0 ] && p=1
	w $hp/hugepages-1048576kB/nr_hugepages $p
	w $hp/hugepages-1048576kB/free_hugepages $p
	w $hp/hugepages-1048576kB/surplus_hugepages 0
	w $hp/hugepages-2048kB/nr_hugepages 0
	w $hp/hugepages-2048kB/free_hugepages 0
	w sys/devices/system/node/node$n/compact ""
	w sys/devices/system/node/node$n/meminfo "Node $n MemTotal:       33554432 kB
Node $n MemFree:        30000000 kB"
done
w sys/devices/system/node/node0/cpulist 0-7,32-39
w sys/devices/system/node/node1/cpulist 16-23,48-55
w sys/devices/system/node/node2/cpulist 24-31,56-63
w sys/devices/system/node/node3/cpulist 8-15,40-47
w proc/sys/vm/compact_memory ""
w proc/sys/vm/drop_caches 0
w proc/cpuinfo "processor	: 0
model name	: AMD Ryzen Threadripper 7970X 32-Cores
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm svm"
w proc/cmdline "BOOT_IMAGE=/boot/vmlinuz root=/dev/mapper/pve-root ro quiet amd_iommu=on iommu=pt"

# --- cpufreq
c=0
while [ $c -lt $NCPU ]; do
	w sys/devices/system/cpu/cpu$c/cpufreq/scaling_governor schedutil
	w sys/devices/system/cpu/cpu$c/cpufreq/scaling_available_governors "performance powersave schedutil"
	c=$((c + 1))
done

# --- cgroup v2 (systemd's slices; the fake cannot act out "+cpuset")
cg=sys/fs/cgroup
w $cg/cgroup.controllers "cpuset cpu io memory pids"
w $cg/cgroup.subtree_control "cpuset cpu io memory pids"
w $cg/cpuset.cpus.effective 0-63
for u in system.slice user.slice init.scope qemu.slice qemu.slice/100.scope; do
	w $cg/$u/cgroup.controllers "cpuset cpu io memory pids"
	w $cg/$u/cgroup.subtree_control ""
	w $cg/$u/cpuset.cpus ""
	w $cg/$u/cpuset.cpus.effective 0-63
	w $cg/$u/cpuset.cpus.partition member
done
# systemd enabled cpuset for the VM scopes already (AllowedCPUs= on one of them)
w $cg/qemu.slice/cgroup.subtree_control "cpuset cpu io memory pids"

# --- IRQs: the seed host's own lines, the devices' vfio vectors, padding
python3 - "$R" "$HERE/../tests/fixtures/irq/tr7970x-64cpu-6.1.txt" "$NIRQ" <<'PY'
import os, sys
root, src, nirq = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src).read().splitlines()
head, body = lines[0], [l for l in lines[1:] if 'vfio' not in l]
zeros = ''.join('%11d' % 0 for _ in range(64))
out, irqs = [head], []
def add(n, chip, hw, name):
    out.append('%4d:%s  %-12s %s %s' % (n, zeros, chip, hw, name))
    irqs.append(n)
for l in body:
    k = l.split(':', 1)[0].strip()
    if k.isdigit():
        irqs.append(int(k))
    out.append(l)
nxt = max(irqs) + 1
devs = [('0000:81:00.0', 'msix', 8), ('0000:81:00.1', 'msi', 1), ('0000:4b:00.0', 'msix', 4)]
for bdf, kind, cnt in devs:
    d = os.path.join(root, 'sys/bus/pci/devices', bdf, 'msi_irqs')
    for i in range(cnt):
        add(nxt, 'IR-PCI-MSI', '%d-edge' % (nxt * 4096), 'vfio-%s[%d](%s)' % (kind, i, bdf))
        open(os.path.join(d, str(nxt)), 'w').write(kind + '\n')
        nxt += 1
i = 0
while len(irqs) < nirq:
    add(nxt, 'IR-PCI-MSIX-0000:c1:00.0', '%d-edge' % i, 'mlx5_comp%d@pci:0000:c1:00.0' % i)
    nxt += 1
    i += 1
open(os.path.join(root, 'proc/interrupts'), 'w').write('\n'.join(out) + '\n')
for n in irqs:
    d = os.path.join(root, 'proc/irq', str(n))
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, 'smp_affinity_list'), 'w').write('0-63\n')
    open(os.path.join(d, 'effective_affinity_list'), 'w').write('%d\n' % (n % 64))
open(os.path.join(root, 'proc/irq/default_smp_affinity'), 'w').write('ffffffff,ffffffff\n')
PY

# --- PVE: VM 100 (the seed's gaming VM, numa1 on node 3 where its CPUs are)
mkdir -p $R/etc/pve/qemu-server $R/run/qemu-server $R/proc/net
sed 's/^numa1: cpus=8-15,hostnodes=1/numa1: cpus=8-15,hostnodes=3/' \
	"$HERE/../tests/fixtures/seed/100.conf" > $R/etc/pve/qemu-server/100.conf
w etc/hostname pve
