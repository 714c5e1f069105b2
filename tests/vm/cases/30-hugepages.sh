# needs: engine
# 1 GiB pages reserved on the node the plan chose, really usable there by
# QEMU, and given back; a reservation that cannot be had fails cleanly.
. /tests/lib.sh
HP=/sys/devices/system/node
nr() { cat $HP/node$1/hugepages/hugepages-$2kB/nr_hugepages; }
free() { cat $HP/node$1/hugepages/hugepages-$2kB/free_hugepages; }
snap /tmp/h0

pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=2048,policy=bind
hostpci0: 0000:81:00,pcie=1
C
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
pages=$(json_pages /tmp/p100)
expect_eq "plan: 2 x 1G on node 1 (the GPU's)" "$(echo $pages)" "1 2"
# QEMU (as PVE starts it with hugepages + hostnodes=1,policy=bind) faults
# its memory in on node 1 (1 GiB of it: zeroing a page under TCG is slow)
if start_ok 100 --mem1g 1 --mem-node 1; then
	check "node1 pool holds the VM's 2 pages (nr=$(nr 1 1048576))" test "$(nr 1 1048576)" -ge 2
	check "QEMU's memory is on node 1" sh -c "grep -q 'huge.*N1=1' /proc/$(qemu_pid 100)/numa_maps"
	expect_eq "node0's pool untouched" "$(nr 0 1048576)" 1
	stop_ok 100
fi
expect_eq "node1 back to its boot page" "$(nr 1 1048576)" 1
expect_eq "node1 page free" "$(free 1 1048576)" 1
snap_same "1G VM: host as before" /tmp/h0

# --- more than node 1 can give: pre-start fails, rolls back (vfio too)
pve_conf 101 <<'C'
cores: 2
memory: 16384
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=16384,policy=bind
hostpci0: 0000:81:00,pcie=1
C
refused 101 "16 x 1G on a 6 GiB node" 'hugepages on node [0-9]+, which can give'
expect_eq "GPU audio still on its host driver" "$(pci_drv 0000:81:00.1)" snd_hda_intel

# --- 2 MiB pages
pve_conf 102 <<'C'
cores: 1
memory: 256
hugepages: 2
numa: 1
C
plan_json 102 /tmp/p102 || fail "plan 102: $(cat /tmp/p102.err)"
expect_eq "plan: 2 MiB pages" "$(json_hp_kb /tmp/p102)" 2048
want=$(json_pages /tmp/p102 | awk '{print $1}' | head -1)
if start_ok 102; then
	check "node$want has >= 128 2M pages" test "$(nr "$want" 2048)" -ge 128
	stop_ok 102
fi
expect_eq "no 2M pages left behind" "$(nr 0 2048) $(nr 1 2048)" "0 0"

for v in 100 101 102; do pve_forget $v; done
snap_same "hugepages case: host as before" /tmp/h0
done_case
