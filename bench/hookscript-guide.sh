#!/bin/bash
# The hookscript the GPU-passthrough guides have people write, for the seed's
# gaming VM on the Threadripper 7970X: bash, echo into sysfs, taskset. Written
# for bench/run_peers.sh from the guide's steps (what pvepin automates); it is
# what pvepin is compared with, not something to use. ROOT prefixes every
# host path so it can run against a fake host tree (bench/mkhost.sh).
#
#   qm set 100 --hookscript local:snippets/hookscript-guide.sh
vmid=$1
phase=$2
ROOT=${ROOT:-}

# --- filled in by hand from lstopo / numactl -H, as the guide says. (The
# environment may fill them instead: tests/vm/cases/90-phasetime.sh runs this
# script on the VM suite's real kernel with the values of pvepin's plan there.)
DEVICES=${DEVICES:-"0000:81:00.0 0000:81:00.1 0000:4b:00.0"} # hostpci0, its audio, USB
read -ra VCPU_CPUS <<< "${VCPU_CPUS:-0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15}" # vCPU n -> CPU, CCD 0 then CCD 1
EMU_CPUS=${EMU_CPUS:-32-47}        # SMT siblings of the vCPUs' cores: emulator, IO, IRQs
HOST_CPUS=${HOST_CPUS:-16-31,48-63} # everything else: the host
ALL_CPUS=${ALL_CPUS:-0-63}
# node:count of 1 GiB pages (numa0 on node 0, numa1 on node 3); node:count:back
# writes back instead of the guide's 0 (pages the host reserved at boot)
HUGEPAGES=${HUGEPAGES:-"0:24 3:24"}
SYSFS=$ROOT/sys
PROCFS=$ROOT/proc

echo "GUEST HOOK: $vmid $phase"

case "$phase" in
pre-start)
	# 1. GPU, audio and USB controller to vfio-pci
	for dev in $DEVICES; do
		echo vfio-pci > $SYSFS/bus/pci/devices/$dev/driver_override
		if [ -e $SYSFS/bus/pci/devices/$dev/driver ]; then
			echo $dev > $SYSFS/bus/pci/devices/$dev/driver/unbind
		fi
		echo $dev > $SYSFS/bus/pci/drivers_probe
	done
	# 2. 1 GiB hugepages on the VM's nodes (free up memory first)
	sync
	echo 3 > $PROCFS/sys/vm/drop_caches
	echo 1 > $PROCFS/sys/vm/compact_memory
	for np in $HUGEPAGES; do
		node=${np%%:*}
		count=${np#*:}
		count=${count%%:*}
		echo $count > $SYSFS/devices/system/node/node$node/hugepages/hugepages-1048576kB/nr_hugepages
	done
	# 3. host tasks off the VM's CPUs (systemctl set-property --runtime ... AllowedCPUs=)
	for slice in system.slice user.slice init.scope; do
		echo $HOST_CPUS > $SYSFS/fs/cgroup/$slice/cpuset.cpus
	done
	# 4. performance governor
	for gov in $SYSFS/devices/system/cpu/cpu*/cpufreq/scaling_governor; do
		echo performance > $gov
	done
	;;
post-start)
	pid=$(cat $ROOT/run/qemu-server/$vmid.pid)
	# 5. every QEMU thread to the emulator CPUs, then each vCPU thread to its CPU
	taskset -a -cp $EMU_CPUS $pid > /dev/null
	ps -T -o spid=,comm= -p $pid | grep 'CPU ' | while read -r tid comm; do
		n=${comm#CPU }
		n=${n%/KVM}
		taskset -cp ${VCPU_CPUS[$n]} $tid > /dev/null
	done
	# (some guides add: every other interrupt onto the host's CPUs; the
	# bench's "same job" row sets OTHER_IRQS=1, as pvepin's isolate does)
	if [ -n "$OTHER_IRQS" ]; then
		for f in $PROCFS/irq/*/smp_affinity_list; do
			echo $HOST_CPUS 2>/dev/null > $f
		done
	fi
	# 6. the passthrough devices' interrupts beside the emulator
	for irq in $(grep vfio $PROCFS/interrupts | cut -d: -f1 | tr -d ' '); do
		echo $EMU_CPUS > $PROCFS/irq/$irq/smp_affinity_list
	done
	;;
pre-stop)
	;;
post-stop)
	# undo, as the guide has it: all CPUs back, pages freed, drivers back
	for slice in system.slice user.slice init.scope; do
		echo $ALL_CPUS > $SYSFS/fs/cgroup/$slice/cpuset.cpus
	done
	if [ -n "$OTHER_IRQS" ]; then
		for f in $PROCFS/irq/*/smp_affinity_list; do
			echo $ALL_CPUS 2>/dev/null > $f
		done
	fi
	for gov in $SYSFS/devices/system/cpu/cpu*/cpufreq/scaling_governor; do
		echo schedutil > $gov
	done
	for np in $HUGEPAGES; do
		node=${np%%:*}
		back=${np#*:*:}
		[ "$back" = "$np" ] && back=0
		echo $back > $SYSFS/devices/system/node/node$node/hugepages/hugepages-1048576kB/nr_hugepages
	done
	for dev in $DEVICES; do
		echo > $SYSFS/bus/pci/devices/$dev/driver_override
		echo $dev > $SYSFS/bus/pci/drivers/vfio-pci/unbind
		echo $dev > $SYSFS/bus/pci/drivers_probe
	done
	;;
*)
	echo "got unknown phase '$phase'" >&2
	exit 1
	;;
esac
exit 0
