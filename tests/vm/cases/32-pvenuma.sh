# needs: engine
# Issue 14 on a real kernel: a VM that passes a NIC (02:00.0) and binds its
# guest node 0 to host node 1 (numa: 1, numa0 hostnodes=1, hugepages: 1024),
# as qemu-server runs it (memory-backend host-nodes=1,policy=bind): pvepin
# reserves its page on node 1, where QEMU takes it, the VM starts, and stop
# gives the host back exactly. The vCPUs go beside that memory.
. /tests/lib.sh
HP=/sys/devices/system/node
nr() { cat $HP/node$1/hugepages/hugepages-1048576kB/nr_hugepages; }
snap /tmp/n0
nic_node=$(cat /sys/bus/pci/devices/0000:02:00.0/numa_node)
note "the NIC 02:00.0 is on node $nic_node"

pve_conf 100 <<'C'
name: nic-on-guest-node-0
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=2048,policy=bind
hostpci0: 0000:02:00.0,pcie=1
C
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
expect_eq "plan: 2 x 1G pages on node 1, where QEMU binds them" "$(json_pages /tmp/p100 | tr '\n' ' ')" "1 2 "
expect_eq "plan: both vCPUs on node 1" "$(json_vcpus /tmp/p100 | awk '{print $3}' | sort -u | tr '\n' ' ')" "1 "
expect_eq "plan: the NIC is bound" "$(json_devs /tmp/p100 | awk '{print $1}')" "0000:02:00.0"
n0=$(nr 0) n1=$(nr 1)
# QEMU as PVE starts it: memory-backend-file host-nodes=1,policy=bind
if start_ok 100 --mem1g 1 --mem-node 1; then
	check "node 1 holds the VM's 2 pages (nr=$(nr 1))" test "$(nr 1)" -ge 2
	expect_eq "node 0's pool untouched" "$(nr 0)" "$n0"
	check "QEMU's memory is on node 1" sh -c "grep -q 'huge.*N1=1' /proc/$(qemu_pid 100)/numa_maps"
	expect_eq "the NIC is on vfio-pci" "$(pci_drv 0000:02:00.0)" vfio-pci
	stop_ok 100
fi
expect_eq "node 1 back to its boot pages" "$(nr 1)" "$n1"
pve_forget 100
snap_same "NIC VM on guest node 0 = host node 1: host as before" /tmp/n0
done_case
