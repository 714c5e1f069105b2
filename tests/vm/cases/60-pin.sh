# needs: engine
# vCPU threads pinned one to one to the planned CPUs, QEMU's other threads
# to the emulator set; a thread QEMU starts later is pinned by the agent.
. /tests/lib.sh
snap /tmp/n0

pve_conf 100 <<'C'
name: gpu
cores: 4
memory: 1024
hostpci0: 0000:81:00,pcie=1
C
# the test machine has 4 cores and this case pins a vCPU on each: no host
# reserve (its default would keep one core, tests/pinner/test_plan.sh)
pve_policy 100 <<'P'
[host]
reserve_cores = 0
P
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
em=$(json_str /tmp/p100 emulator)
expect_eq "plan: 4 vCPUs" "$(json_vcpus /tmp/p100 | grep -c .)" 4
if start_ok 100 --iothreads 1; then
	q=$(qemu_pid 100)
	json_vcpus /tmp/p100 > /tmp/vc
	while read -r n pu node; do
		t=$(tid_of $q "CPU $n/KVM")
		expect_eq "CPU $n/KVM pinned to CPU $pu" "$(task_cpus $t)" "$pu"
	done < /tmp/vc
	for name in kvm call_rcu worker "IO iothread0"; do
		t=$(tid_of $q "$name")
		a=$(task_cpus $t)
		check "$name thread on the emulator CPUs $em ($a)" cpus_eq "$a" "$em"
	done
	kill -USR1 $q
	wait_for 5 sh -c "[ \$(grep -lx worker /proc/$q/task/*/comm | wc -l) = 2 ]"
	t=$(threads $q | awk -F'\t' '$2 == "worker" && $1 + 0 > t + 0 {t = $1} END {print t}')
	pinned() { cpus_eq "$(task_cpus $t)" "$em"; }
	check "the agent pins QEMU's new worker thread $t to $em within 10 s" wait_for 10 pinned
	note "new worker thread on $(task_cpus $t)"
	stop_ok 100
fi

# The topology pre-start kept is what post-start plans from: broken in
# between, post-start says so, discovers the host itself, and pins the same.
AFTER_PRE_START='echo "<topology" > /run/pvepin/100.topology.xml'
if start_ok 100; then
	expect_grep "post-start says the saved topology was unusable" \
		"cannot use the topology pre-start saved.*discovering the host instead" \
		/tmp/hook.100.post-start.out
	q=$(qemu_pid 100)
	while read -r n pu node; do
		t=$(tid_of $q "CPU $n/KVM")
		expect_eq "discovered again: CPU $n/KVM pinned to CPU $pu" "$(task_cpus $t)" "$pu"
	done < /tmp/vc
	stop_ok 100
fi
AFTER_PRE_START=
pve_forget 100
snap_same "pinning case: host as before" /tmp/n0
done_case
