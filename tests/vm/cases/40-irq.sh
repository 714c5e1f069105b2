# needs: engine
# The passed-through NIC's real vfio MSI-X vectors steered to the plan's
# IRQ CPUs in post-start, and vectors the guest enables later by the agent.
. /tests/lib.sh
snap /tmp/i0
NIC=0000:02:00.0

pve_conf 100 <<'C'
name: gpu-and-nic
cores: 2
memory: 1024
hostpci0: 0000:81:00,pcie=1
hostpci1: 0000:02:00.0,pcie=1
C
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
irqc=$(json_str /tmp/p100 irq_cpus)
pus=$(json_vcpus /tmp/p100 | awk '{print $2}' | tr '\n' , | sed 's/,$//')
check "plan: IRQ CPUs ($irqc) off the vCPUs ($pus)" cpus_disjoint "$irqc" "$pus"
if start_ok 100 --msix 2; then
	v=$(vfio_irqs $NIC)
	expect_eq "2 vfio-msix vectors live" "$(echo $v | wc -w)" 2
	for i in $v; do
		a=$(irq_aff $i)
		check "vector irq $i steered to $irqc (is $a)" cpus_eq "$a" "$irqc"
	done
	# the guest's driver loads: all 5 vectors, new IRQ numbers
	kill -USR2 "$(qemu_pid 100)"
	wait_for 5 sh -c "[ \$(grep -c 'vfio-msix.*($NIC)' /proc/interrupts) = 5 ]"
	v=$(vfio_irqs $NIC)
	expect_eq "5 vectors after the guest driver loaded" "$(echo $v | wc -w)" 5
	steered() { local i; for i in $v; do cpus_eq "$(irq_aff $i)" "$irqc" || return 1; done; }
	check "the agent steers the new vectors within 10 s" wait_for 10 steered
	for i in $v; do note "irq $i -> $(irq_aff $i)"; done
	stop_ok 100
fi
expect_eq "no vfio vectors after the stop" "$(vfio_irqs $NIC)" ""
expect_eq "NIC back on e1000e" "$(pci_drv $NIC)" e1000e
check "host NIC's own MSI-X vectors still live" test -n "$(pci_msi_irqs 0000:00:02.0)"
pve_forget 100
snap_same "IRQ case: host as before" /tmp/i0
done_case
