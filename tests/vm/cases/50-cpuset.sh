# needs: engine
# Host housekeeping moved off the VM's CPUs through cgroup cpusets while
# it runs, and back (tasks' affinity widened again) after.
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
if start_ok 100; then
	for c in $HOSTCG; do
		e=$(cat $CG/$c/cpuset.cpus.effective)
		check "$c runs on host CPUs only ($e within $host)" cpus_subset "$e" "$host"
	done
	for p in $(daemon_pids) $$; do
		a=$(task_cpus $p)
		check "host task $p off the vCPUs ($a)" cpus_disjoint "$a" "$pus"
	done
	e=$(cat $CG/qemu.slice/100.scope/cpuset.cpus.effective)
	check "VM 100's scope can use its vCPUs and emulator CPUs ($e)" cpus_subset "$pus,$em" "$e"
	stop_ok 100
fi
for p in $(daemon_pids) $$; do
	expect_eq "host task $p back on every CPU" "$(task_cpus $p)" "$ALL_CPUS"
done
pve_forget 100
snap_same "cpuset case: host as before" /tmp/c0
done_case
