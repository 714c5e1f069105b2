# `pvepin topo` and `pvepin plan` on a real kernel: what they report agrees
# with sysfs, and neither changes the host.
. /tests/lib.sh

snap /tmp/t0
pvepin topo > /tmp/topo 2> /tmp/topo.err
expect_eq "pvepin topo exits 0" "$?" 0
sed 's/^/#   /' /tmp/topo
check "topo writes nothing on stderr" test ! -s /tmp/topo.err
expect_grep "topo: 2 nodes, 2 L3 domains, 4 cores, 8 CPUs, SMT" \
	'2 NUMA node\(s\), 2 L3 domain\(s\), 4 cores, 8 CPUs \(SMT\)' /tmp/topo
expect_grep "topo: node 1 CPUs 4-7 with its boot 1G page" '^node 1: .*CPUs 4-7, 1G pages 1 \(free 1\)' /tmp/topo
expect_grep "topo: L3 of node 0 holds cores 0+1 and 2+3" 'cores: 0\+1 2\+3' /tmp/topo
# every passthrough candidate: its line names its node, group and driver as sysfs has them
for b in 0000:00:02.0 0000:00:03.0 0000:01:01.0 0000:01:02.0 0000:81:00.0 0000:81:00.1 0000:02:00.0; do
	g=$(pci_group $b) d=$(pci_drv $b) n=$(pci_node $b)
	expect_grep "topo: $b node $n group $g driver $d" \
		"^ *$b .*node +$n .*group +$g .*driver +$d( |$)" /tmp/topo
done
expect_grep "topo: IOMMU groups counted" "^IOMMU: $(ls /sys/kernel/iommu_groups | wc -l) groups" /tmp/topo

pvepin topo --json > /tmp/topo.json 2>&1
expect_eq "pvepin topo --json exits 0" "$?" 0
check "topo --json is one JSON object" sh -c "head -c1 /tmp/topo.json | grep -q '{' && tail -c2 /tmp/topo.json | grep -q '}'"

# --- plan for a gaming VM with the GPU on node 1: touches nothing
pve_conf 100 <<'EOF'
name: gaming
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=2048,policy=bind
hostpci0: 0000:81:00,pcie=1,x-vga=1
EOF
pvepin plan 100 > /tmp/plan 2>&1
expect_eq "pvepin plan 100 exits 0" "$?" 0
sed 's/^/#   /' /tmp/plan
if plan_json 100 /tmp/plan.json; then
	pass "pvepin plan 100 --json exits 0"
	vc=$(json_vcpus /tmp/plan.json)
	expect_eq "2 vCPUs planned" "$(echo "$vc" | grep -c .)" 2
	pus=$(echo "$vc" | awk '{print $2}' | tr '\n' ,)
	check "vCPUs on the GPU's node 1 ($pus)" cpus_subset "${pus%,}" "$(node_cpus 1)"
	for p in $(echo "$vc" | awk '{print $2}'); do
		s=$(cpu_siblings "$p")
		expect_eq "vCPU on CPU $p is the primary thread of its core" "$p" "${s%%[-,]*}"
	done
	em=$(json_str /tmp/plan.json emulator)
	check "emulator CPUs ($em) apart from the vCPUs" cpus_disjoint "$em" "${pus%,}"
	expect_eq "1G pages" "$(json_hp_kb /tmp/plan.json)" 1048576
	expect_eq "2 pages on node 1" "$(json_pages /tmp/plan.json | tr '\n' ' ')" "1 2 "
	expect_eq "both functions of the GPU, with their group" \
		"$(json_devs /tmp/plan.json | sort | tr '\n' ' ')" \
		"0000:81:00.0 $(pci_group 0000:81:00.0) 0000:81:00.1 $(pci_group 0000:81:00.0) "
else
	fail "pvepin plan 100 --json: $(head -c 400 /tmp/plan.json.err)"
fi

# --- plan refuses what it must refuse, before anything happens
pve_conf 101 <<'EOF'
cores: 2
memory: 1024
hostpci0: 0000:01:01.0
EOF
pvepin plan 101 > /tmp/plan101 2>&1
rc=$?
sed 's/^/#   /' /tmp/plan101
if [ $rc != 0 ] || grep -qi 'group' /tmp/plan101; then
	pass "plan flags a partial IOMMU group (01:02.0 not listed)"
else
	fail "plan 101 with half of group $(pci_group 0000:01:01.0): rc 0 and no word on the group"
fi
pve_forget 100
pve_forget 101
snap_same "topo and plan changed nothing" /tmp/t0
done_case
