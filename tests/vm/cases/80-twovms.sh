# needs: engine
# Two VMs at once: disjoint CPUs, a device held by one is refused to the
# other. qemu.slice's cpuset partition holds both VMs' CPUs while they run
# (the second joins the first one's partition), the host cgroups keep the
# rest; each stop gives back its own part, the last one out turns the
# partition off. Both stop orders; and a VM that takes every CPU left.
. /tests/lib.sh
snap /tmp/w0
HOSTCG="system.slice user.slice init.scope"
vcpu_cpus() { # VMID: the CPUs its vCPU threads are pinned to
	local q t
	q=$(qemu_pid "$1")
	for t in $(threads "$q" | awk -F'\t' '$2 ~ /^CPU [0-9]+\/KVM$/ {print $1}'); do
		task_cpus "$t"
	done | tr '\n' , | sed 's/,$//'
}
part() { cat $CG/qemu.slice/cpuset.cpus.partition; }
# host_off WHAT CPUS: every host cgroup, and PID 1, keeps off CPUS
host_off() {
	local c e
	for c in $HOSTCG; do
		e=$(cat $CG/$c/cpuset.cpus.effective)
		check "$c off $1 ($e)" cpus_disjoint "$e" "$2"
	done
	check "PID 1 off $1 ($(task_cpus 1))" cpus_disjoint "$(task_cpus 1)" "$2"
}
# host_has WHAT CPUS: every host cgroup may use CPUS
host_has() {
	local c e
	for c in $HOSTCG; do
		e=$(cat $CG/$c/cpuset.cpus.effective)
		check "$c got $1 back ($e)" cpus_subset "$2" "$e"
	done
}

pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 1024
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=1024,policy=bind
hostpci0: 0000:81:00,pcie=1
C
pve_conf 101 <<'C'
name: usb-and-nic
cores: 1
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
pve_conf 103 <<'C'
name: greedy
cores: 2
memory: 512
C
# taking every CPU VM 100 leaves is what this VM is for: no host reserve
pve_policy 103 <<'P'
[host]
reserve_cores = 0
P

for first in 100 101; do
	note "--- both run, then VM $first stops first"
	start_ok 100 --mem1g 1 --mem-node 1 || fail "VM 100 needed for the rest"
	start_ok 101 || fail "VM 101 needed for the rest"
	a=$(vcpu_cpus 100) b=$(vcpu_cpus 101)
	check "vCPUs of VM 100 ($a) and VM 101 ($b) are disjoint" cpus_disjoint "$a" "$b"
	expect_eq "qemu.slice is a partition root" "$(part)" root
	qs=$(cat $CG/qemu.slice/cpuset.cpus.effective)
	check "the partition ($qs) holds both VMs' vCPUs" cpus_subset "$a,$b" "$qs"
	host_off "both VMs' vCPUs" "$a,$b"
	host_off "the partition" "$qs"
	for c in $HOSTCG; do expect_eq "$c: cpuset.cpus not written" "$(cat $CG/$c/cpuset.cpus)" ""; done
	if [ $first = 100 ]; then
		pvepin status > /tmp/st 2>&1
		expect_eq "pvepin status exits 0" "$?" 0
		expect_grep "status lists VM 100" '\b100\b' /tmp/st
		expect_grep "status lists VM 101" '\b101\b' /tmp/st
		refused 102 "81:00 while VM 100 holds it" '100|in use|held|claim'
	fi
	if [ $first = 100 ]; then still=101 mine=$a theirs=$b; else still=100 mine=$b theirs=$a; fi
	stop_ok $first
	expect_eq "VM $still's vCPUs still pinned" "$(vcpu_cpus $still)" "$theirs"
	expect_eq "VM $still: qemu.slice still a partition root" "$(part)" root
	host_off "VM $still's vCPUs" "$theirs"
	host_has "VM $first's vCPUs" "$mine"
	if [ $first = 100 ]; then
		expect_eq "VM 101's USB controller still on vfio-pci" "$(pci_drv 0000:00:03.0)" vfio-pci
		expect_eq "GPU audio back on its driver while VM 101 runs" "$(pci_drv 0000:81:00.1)" snd_hda_intel
	fi
	stop_ok $still
	expect_eq "both stopped: qemu.slice a member again" "$(part)" member
	snap_same "both VMs stopped (VM $first first): host as before" /tmp/w0
done

note "--- VM 103 takes every CPU VM 100 leaves"
start_ok 100 --mem1g 1 --mem-node 1 || fail "VM 100 needed for the rest"
a=$(vcpu_cpus 100)
qs=$(cat $CG/qemu.slice/cpuset.cpus)
start_ok 103
c3=$(vcpu_cpus 103)
expect_grep "VM 103's pre-start says the partition is off" "take every CPU: qemu.slice's partition is off" \
	/tmp/hook.103.pre-start.out
expect_grep "the kernel suspended the partition" '^root invalid' $CG/qemu.slice/cpuset.cpus.partition
check "VM 103's vCPUs ($c3) disjoint from VM 100's ($a)" cpus_disjoint "$c3" "$a"
e=$(cat $CG/qemu.slice/103.scope/cpuset.cpus.effective)
check "VM 103's scope reaches its vCPUs ($e)" cpus_subset "$c3" "$e"
stop_ok 103
expect_eq "VM 103 stopped: the partition in force again for VM 100" "$(part)" root
expect_eq "qemu.slice back to VM 100's value" "$(cat $CG/qemu.slice/cpuset.cpus)" "$qs"
host_off "VM 100's vCPUs" "$a"

note "--- the kernel refuses the partition VM 101 would need: an admin narrowed user.slice meanwhile"
hc=$(cat $CG/user.slice/cpuset.cpus.effective)
echo "$hc" > $CG/user.slice/cpuset.cpus
refused 101 "a partition the kernel refuses while VM 100's is in force" \
	"partition of the running VMs cannot (take this VM's CPUs too|hold CPUs)"
expect_eq "VM 100's partition still in force" "$(part)" root
expect_eq "with VM 100's CPUs" "$(cat $CG/qemu.slice/cpuset.cpus)" "$qs"
stop_ok 100
cg_unset user.slice
for v in 100 101 102 103; do pve_forget $v; done
snap_same "all VMs stopped: host as before" /tmp/w0
done_case
