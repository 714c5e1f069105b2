# The test bed itself: what the other cases rely on is really there.
. /tests/lib.sh

for m in vfio vfio_pci vfio_iommu_type1 e1000e e1000 xhci_pci snd_hda_intel; do
	check "module $m loaded" test -d "/sys/module/$m"
done
expect_eq "cgroup2 has cpuset at the root" \
	"$(tr ' ' '\n' < $CG/cgroup.subtree_control | grep -x cpuset)" cpuset

# --- IOMMU: VT-d with interrupt remapping, so vfio needs no unsafe interrupts
n=$(ls /sys/kernel/iommu_groups | wc -l)
check "IOMMU groups exist ($n)" test "$n" -ge 6
check "interrupt remapping enabled" sh -c 'dmesg | grep -q "Enabled IRQ remapping"'
expect_eq "vfio needs no unsafe interrupts" \
	"$(cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts)" N

# --- CPUs: 2 nodes, 2 L3s, SMT pairs
expect_eq "2 NUMA nodes" "$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)" 2
expect_eq "node0 CPUs" "$(node_cpus 0)" 0-3
expect_eq "node1 CPUs" "$(node_cpus 1)" 4-7
expect_eq "node distances" "$(cat /sys/devices/system/node/node0/distance)" "10 20"
l3s=$(cat /sys/devices/system/cpu/cpu[0-7]/cache/index3/shared_cpu_list | sort -u | tr '\n' ' ')
expect_eq "two L3 domains" "$l3s" "0-3 4-7 "
sib=$(for c in 0 1 2 3 4 5 6 7; do cpu_siblings $c; done | sort -u | tr '\n' ' ')
expect_eq "SMT sibling pairs" "$sib" "0-1 2-3 4-5 6-7 "
for n in 0 1; do
	expect_eq "node$n has the 1G page reserved at boot" \
		"$(cat /sys/devices/system/node/node$n/hugepages/hugepages-1048576kB/nr_hugepages)" 1
done

# --- the PCI functions the cases pass through
expect_eq "00:02.0 host NIC on e1000e" "$(pci_drv 0000:00:02.0)" e1000e
expect_eq "00:03.0 USB controller on xhci_hcd" "$(pci_drv 0000:00:03.0)" xhci_hcd
expect_eq "00:03.0 alone in its group" "$(pci_group_members 0000:00:03.0)" 0000:00:03.0
expect_eq "shared group: bridge and both NICs behind it" \
	"$(pci_group_members 0000:01:01.0)" "0000:00:04.0 0000:01:01.0 0000:01:02.0"
expect_eq "01:01.0 on e1000" "$(pci_drv 0000:01:01.0)" e1000
expect_eq "GPU-like multi-function device: one group of two" \
	"$(pci_group_members 0000:81:00.0)" "0000:81:00.0 0000:81:00.1"
expect_eq "81:00.0 is a VGA controller" "$(cat $PCI/0000:81:00.0/class)" 0x030000
expect_eq "81:00.0 has no host driver" "$(pci_drv 0000:81:00.0)" -
expect_eq "81:00.1 audio on snd_hda_intel" "$(pci_drv 0000:81:00.1)" snd_hda_intel
expect_eq "81:00.0 is local to NUMA node 1 (pxb-pcie)" "$(pci_node 0000:81:00.0)" 1
expect_eq "02:00.0 passthrough NIC on e1000e" "$(pci_drv 0000:02:00.0)" e1000e
expect_eq "02:00.0 alone in its group" "$(pci_group_members 0000:02:00.0)" 0000:02:00.0
expect_eq "default route via the 00:02.0 NIC" \
	"$(readlink /sys/class/net/"$(ip route | sed -n 's/^default .* dev \([^ ]*\).*/\1/p')"/device)" \
	../../../0000:00:02.0

# --- live MSI-X vectors of the host NIC, and their affinity is writable
irqs=$(pci_msi_irqs 0000:00:02.0)
check "host NIC has MSI-X vectors ($irqs)" test -n "$irqs"
i=${irqs%% *}
old=$(irq_aff "$i")
echo 5 > /proc/irq/"$i"/smp_affinity_list
expect_eq "irq $i affinity set to CPU 5" "$(irq_aff "$i")" 5
expect_eq "irq $i effective affinity follows" "$(cat /proc/irq/"$i"/effective_affinity_list)" 5
echo "$old" > /proc/irq/"$i"/smp_affinity_list
expect_eq "irq $i affinity restored" "$(irq_aff "$i")" "$old"

note "iommu groups: $(for g in /sys/kernel/iommu_groups/*; do echo "${g##*/}=[$(ls $g/devices | tr '\n' ' ' | sed 's/ $//')]"; done | tr '\n' ' ')"
done_case
