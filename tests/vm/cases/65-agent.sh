# needs: engine
# The runtime agent on a real kernel: it runs after post-start, puts back an
# IRQ affinity, a thread pin and the VM's scope cpuset that someone else
# changed, each within a second or two, ends when QEMU dies, and post-stop
# gives the host back.
. /tests/lib.sh
snap /tmp/a0
NIC=0000:02:00.0

pve_conf 100 <<'C'
name: agent
cores: 2
memory: 1024
hostpci0: 0000:02:00.0,pcie=1
C
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
irqc=$(json_str /tmp/p100 irq_cpus)
emu=$(json_str /tmp/p100 emulator)
pu0=$(json_vcpus /tmp/p100 | awk 'NR == 1 {print $2}')
if start_ok 100 --msix 2; then
	qp=$(qemu_pid 100)
	check "the agent runs for VM 100" wait_for 5 sh -c "[ -n \"\$(. /tests/lib.sh; pvepin_pids 100)\" ]"
	pvepin status 100 > /tmp/st 2>&1
	expect_grep "status shows the agent running" "agent: running" /tmp/st

	# an IRQ affinity moved by hand comes back
	i=$(vfio_irqs $NIC | awk '{print $1}')
	other=$(cpus_expand "$pu0")
	echo "$other" > /proc/irq/$i/smp_affinity_list
	back_irq() { cpus_eq "$(irq_aff $i)" "$irqc"; }
	check "IRQ $i moved to $other by hand is put back to $irqc within 2 s" wait_for 2 back_irq

	# a vCPU thread pinned elsewhere by hand comes back
	t=$(tid_of "$qp" "CPU 0/KVM")
	taskset -pc "$(echo "$emu" | cut -d, -f1 | cut -d- -f1)" "$t" > /dev/null
	back_pin() { cpus_eq "$(task_cpus $t)" "$pu0"; }
	check "CPU 0/KVM moved by hand is pinned back to $pu0 within 2 s" wait_for 2 back_pin

	# the VM's scope cpuset reset (as systemd may do on daemon-reload)
	sc=/sys/fs/cgroup/qemu.slice/100.scope/cpuset.cpus
	want=$(cat $sc)
	echo "$pu0" > $sc
	back_cg() { cpus_eq "$(cat $sc)" "$want"; }
	check "scope cpuset reset to $pu0 is put back to $want within 2 s" wait_for 2 back_cg
	check "and CPU 0/KVM is on $pu0 again" wait_for 2 back_pin

	# QEMU dies: the agent ends by itself, post-stop gives the host back
	kill -KILL "$qp"
	check "the agent ends within 2 s of QEMU's death" wait_for 2 no_pvepin 100
	pve_reap 100
	expect_eq "post-stop after the crash exits 0" "$HOOK_RC" 0
	check "no agent files left" sh -c '! ls /run/pvepin/100.agent* 2>/dev/null | grep -q .'
fi
pve_forget 100
snap_same "agent case: host as before" /tmp/a0
done_case
