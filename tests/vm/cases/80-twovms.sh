# needs: engine
# Two VMs at once: disjoint CPUs, a device held by one is refused to the
# other, host cpusets follow the union, each stop gives back its own part.
. /tests/lib.sh
snap /tmp/w0
vcpu_cpus() { # VMID: the CPUs its vCPU threads are pinned to
	local q t
	q=$(qemu_pid "$1")
	for t in $(threads "$q" | awk -F'\t' '$2 ~ /^CPU [0-9]+\/KVM$/ {print $1}'); do
		task_cpus "$t"
	done | tr '\n' , | sed 's/,$//'
}

pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 1024
hugepages: 1024
hostpci0: 0000:81:00,pcie=1
C
pve_conf 101 <<'C'
name: usb-and-nic
cores: 2
memory: 512
hostpci0: 0000:00:03.0
hostpci1: 0000:02:00.0
C
pve_conf 102 <<'C'
name: thief
cores: 1
memory: 512
hostpci0: 0000:81:00,pcie=1
C

start_ok 100 --mem1g 1 --mem-node 1 || fail "VM 100 needed for the rest"
start_ok 101 || fail "VM 101 needed for the rest"
a=$(vcpu_cpus 100) b=$(vcpu_cpus 101)
check "vCPUs of VM 100 ($a) and VM 101 ($b) are disjoint" cpus_disjoint "$a" "$b"
for c in system.slice user.slice init.scope; do
	e=$(cat $CG/$c/cpuset.cpus.effective)
	check "$c off both VMs' vCPUs ($e)" cpus_disjoint "$e" "$a,$b"
done
pvepin status > /tmp/st 2>&1
expect_eq "pvepin status exits 0" "$?" 0
expect_grep "status lists VM 100" '\b100\b' /tmp/st
expect_grep "status lists VM 101" '\b101\b' /tmp/st

refused 102 "81:00 while VM 100 holds it" '100|in use|held|claim'

stop_ok 100
expect_eq "VM 101's USB controller still on vfio-pci" "$(pci_drv 0000:00:03.0)" vfio-pci
expect_eq "VM 101's vCPUs still pinned" "$(vcpu_cpus 101)" "$b"
for c in system.slice user.slice init.scope; do
	e=$(cat $CG/$c/cpuset.cpus.effective)
	check "$c still off VM 101's vCPUs ($e)" cpus_disjoint "$e" "$b"
	check "$c got VM 100's vCPUs back ($e)" cpus_subset "$a" "$e"
done
expect_eq "GPU audio back on its driver while VM 101 runs" "$(pci_drv 0000:81:00.1)" snd_hda_intel
stop_ok 101
for v in 100 101 102; do pve_forget $v; done
snap_same "both VMs stopped: host as before" /tmp/w0
done_case
