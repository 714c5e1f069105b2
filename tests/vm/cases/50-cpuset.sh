# needs: engine
# Host housekeeping moved off the VM's CPUs while it runs: qemu.slice
# becomes a cpuset partition of every CPU but the host's, so the host
# cgroups (cpuset.cpus "", they inherit) keep only the host CPUs without
# a write to their files; after post-stop everything is as before, ""
# included, and host tasks are back on every CPU. When the kernel refuses
# the partition (a host slice an admin narrowed overlaps it), pvepin says
# so and narrows the host cgroups directly instead.
. /tests/lib.sh
snap /tmp/c0
HOSTCG="init.scope system.slice user.slice"
daemon_pids() { cat $CG/system.slice/*/cgroup.procs $CG/user.slice/user-0.slice/session-1.scope/cgroup.procs; }

pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 1024
hostpci0: 0000:81:00,pcie=1
C
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
host=$(json_str /tmp/p100 host_cpus)
pus=$(json_vcpus /tmp/p100 | awk '{print $2}' | tr '\n' , | sed 's/,$//')
em=$(json_str /tmp/p100 emulator)
check "plan: host CPUs ($host) apart from vCPUs ($pus)" cpus_disjoint "$host" "$pus"
expect_grep "plan: one isolate action for qemu.slice" '"action":"isolate","target":"qemu.slice","value":"'"$host"'"' /tmp/p100
expect_no_grep "plan: no write to the host slices" '"target":"(system.slice|user.slice|init.scope)"' /tmp/p100
if start_ok 100; then
	part=$(cat $CG/qemu.slice/cpuset.cpus.partition)
	qs=$(cat $CG/qemu.slice/cpuset.cpus)
	note "qemu.slice cpus=$qs partition=$part; / effective=$(cat $CG/cpuset.cpus.effective)"
	expect_eq "qemu.slice is a partition root" "$part" root
	check "qemu.slice holds every CPU but the host's ($qs)" cpus_eq "$qs" "$(cpus_minus "$ALL_CPUS" "$host")"
	check "the root cgroup keeps the host CPUs only" cpus_eq "$(cat $CG/cpuset.cpus.effective)" "$host"
	for c in $HOSTCG; do
		e=$(cat $CG/$c/cpuset.cpus.effective)
		expect_eq "$c: cpuset.cpus not written" "$(cat $CG/$c/cpuset.cpus)" ""
		check "$c runs on host CPUs only ($e within $host)" cpus_subset "$e" "$host"
	done
	for p in $(daemon_pids) $$ 1; do
		a=$(task_cpus $p)
		check "host task $p off the vCPUs ($a)" cpus_disjoint "$a" "$pus"
	done
	e=$(cat $CG/qemu.slice/100.scope/cpuset.cpus.effective)
	check "VM 100's scope can use its vCPUs and emulator CPUs ($e)" cpus_subset "$pus,$em" "$e"
	pvepin status -v 100 > /tmp/st 2>&1
	expect_grep "status -v shows the partition" 'partition qemu.slice +want root +now root +ok' /tmp/st
	stop_ok 100
fi
expect_eq "qemu.slice a member again" "$(cat $CG/qemu.slice/cpuset.cpus.partition)" member
expect_eq "qemu.slice's cpuset.cpus back to ''" "$(cat $CG/qemu.slice/cpuset.cpus)" ""
for p in $(daemon_pids) $$ 1; do
	expect_eq "host task $p back on every CPU" "$(task_cpus $p)" "$ALL_CPUS"
done
snap_same "cpuset case: host as before, host slices' '' included" /tmp/c0

# --- the kernel refuses the partition: an admin narrowed user.slice to
# CPUs qemu.slice would take (a partition must be exclusive)
last=$(cpus_expand "$ALL_CPUS" | awk '{print $NF}')
admin=0-$((last - 1))
echo "$admin" > $CG/user.slice/cpuset.cpus
snap /tmp/c1
if start_ok 100; then
	expect_grep "pre-start says it narrows the host cgroups instead" \
		'qemu.slice as a cpuset partition: the kernel refused it .*narrowing the host cgroups instead' \
		/tmp/hook.100.pre-start.out
	expect_eq "one line about it" "$(grep -c partition /tmp/hook.100.pre-start.out)" 1
	expect_eq "qemu.slice left a member" "$(cat $CG/qemu.slice/cpuset.cpus.partition)" member
	expect_eq "qemu.slice's cpuset.cpus left ''" "$(cat $CG/qemu.slice/cpuset.cpus)" ""
	for c in $HOSTCG; do
		e=$(cat $CG/$c/cpuset.cpus.effective)
		check "fallback: $c runs on host CPUs only ($e within $host)" cpus_subset "$e" "$host"
	done
	stop_ok 100
fi
expect_eq "fallback: user.slice back to the admin's $admin" "$(cat $CG/user.slice/cpuset.cpus)" "$admin"
for c in system.slice init.scope; do
	# the kernel keeps a populated cgroup from going back to "": the
	# fallback writes the CPUs "" stands for (why partitions are used)
	check "fallback: $c back on every CPU" cpus_eq "$(cat $CG/$c/cpuset.cpus.effective)" "$ALL_CPUS"
	cg_unset $c
done
for p in $(cat $CG/system.slice/*/cgroup.procs) $$ 1; do
	expect_eq "fallback: host task $p back on every CPU" "$(task_cpus $p)" "$ALL_CPUS"
done
for p in $(cat $CG/user.slice/user-0.slice/session-1.scope/cgroup.procs); do
	expect_eq "fallback: user task $p back on the admin's CPUs" "$(task_cpus $p)" "$admin"
done
snap_same "fallback: host as before (with the test's own reset of the '' slices)" /tmp/c1
cg_unset user.slice
snap_same "cpuset case: host as at its start" /tmp/c0

# --- no VM ran since boot: no qemu.slice yet (systemd makes it for PVE's
# first scope): pvepin makes it, as systemd would, and leaves it
rmdir $CG/qemu.slice || fail "test bed: qemu.slice in use"
if start_ok 100; then
	expect_eq "qemu.slice made, a partition root" "$(cat $CG/qemu.slice/cpuset.cpus.partition)" root
	check "the root cgroup keeps the host CPUs only" cpus_eq "$(cat $CG/cpuset.cpus.effective)" "$host"
	stop_ok 100
fi
expect_eq "qemu.slice left, a member" "$(cat $CG/qemu.slice/cpuset.cpus.partition 2>&1)" member
echo +cpuset > $CG/qemu.slice/cgroup.subtree_control # as the test bed's init has it
pve_forget 100
snap_same "cpuset case: host as at its start, qemu.slice as PVE leaves it" /tmp/c0
done_case
