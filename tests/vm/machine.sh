# The test VM's machine, for run.sh and demo.sh (source it). Sets KERNEL
# and the array `qemu` (add -serial options); reads $W/kver, $W/initrd.img
# and $append (extra kernel arguments).
#
# 8 CPUs: 1 socket, 2 dies (two L3s), 2 cores each, SMT 2 (siblings 0-1,
# 2-3, ...). A Skylake-Server model, because under TCG QEMU drops topoext
# and an EPYC model then shows no SMT siblings; it keeps L3 per die and
# pdpe1gb. 2 NUMA nodes (CPUs 0-3, 4-7) of MEM_PER_NODE_G GiB; one 1 GiB
# page reserved at boot on each (at run time node 0 gets none without it;
# with 6 GiB a node has room for more at run time); nokaslr so the kernel
# image never lands in node 1. VT-d IOMMU with interrupt remapping, like a
# real host (vfio needs no allow_unsafe_interrupts). PCI:
#   00:02.0 e1000e   host NIC with the default route (must not be passed)
#   00:03.0 xhci     USB controller, a group of its own
#   00:04.0 pcie-pci-bridge + 01:01.0, 01:02.0 e1000: one shared group
#   00:05.0 pxb-pcie on NUMA node 1 -> 81:00.0 VGA + 81:00.1 HDA audio: a
#           GPU-like multi-function device local to node 1, one group of 2
#   00:06.0 root port -> 02:00.0 e1000e: a passthrough NIC with 5 MSI-X
#   00:1f.x the q35 chipset (LPC, SATA, SMBus), one group
KERNEL=/boot/vmlinuz-$(cat "$W/kver")
NPG=${MEM_PER_NODE_G:-6}
# no_timer_check: under TCG on a busy host the IO-APIC timer check can miss
# its ticks and panic ("timer doesn't work through Interrupt-remapped
# IO-APIC"), as it did for make demo in check-fresh at load 30
append="console=ttyS0 panic=-1 quiet loglevel=4 nokaslr no_timer_check intel_iommu=on iommu=pt
hugepagesz=1G hugepages=0:1,1:1 ${append:-} ${EXTRA_APPEND:-}"
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu "${CPU:-Skylake-Server,+pdpe1gb}"
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
	-kernel "$KERNEL" -initrd "$W/initrd.img" -append "$(echo $append)")
