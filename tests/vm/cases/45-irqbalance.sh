# needs: engine
# A running irqbalance (the real daemon): pvepin bans the VM's CPUs and its
# device IRQs through irqbalance's socket while it runs, so irqbalance's
# 10 s passes leave the steered vectors alone, and unbans them after.
. /tests/lib.sh
if ! command -v irqbalance > /dev/null; then
	skip "irqbalance is not in the image (build.sh: IRQBALANCE)"
	exit 0
fi
NIC=0000:02:00.0
hoststate --section irq > /tmp/b.irq
mkdir -p /run/irqbalance
irqbalance --foreground > /tmp/ib.log 2>&1 &
IB=$!
check "irqbalance runs with its socket" wait_for 10 test -S /run/irqbalance/irqbalance$IB.sock
# IRQ affinities move every 10 s now: compare the rest
part() { hoststate --section pci --section hugepages --section cgroup --section irqbalance; }
part > /tmp/b0
expect_grep "nothing banned before" '^irqbalance running banned_irqs=- banned_cpus=0+$' /tmp/b0

pve_conf 100 <<'C'
name: gpu-and-nic
cores: 2
memory: 1024
hostpci0: 0000:81:00,pcie=1
hostpci1: 0000:02:00.0,pcie=1
C
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
irqc=$(json_str /tmp/p100 irq_cpus)
host=$(json_str /tmp/p100 host_cpus)
pus=$(json_vcpus /tmp/p100 | awk '{print $2}')
if start_ok 100 --msix 2; then
	# irqbalance 1.9 takes `settings cpus` in at its next rescan (every
	# 10 s), and only then reports it: one pass later it must hold
	sleep 12
	hoststate --section irqbalance > /tmp/b1
	sed 's/^/#   /' /tmp/b1
	m=$(sed -n 's/.*banned_cpus=//p' /tmp/b1)
	for p in $pus; do check "irqbalance keeps off vCPU $p (banned $m)" mask_has "$m" "$p"; done
	not_banned() { ! mask_has "$1" "$2"; }
	for p in $(cpus_expand "$host"); do
		check "host CPU $p stays irqbalance's (banned $m)" not_banned "$m" "$p"
	done
	for i in $(vfio_irqs $NIC); do
		a=$(irq_aff $i)
		check "vector irq $i still on $irqc after an irqbalance pass ($a)" cpus_eq "$a" "$irqc"
	done
	check "irqbalance still runs" kill -0 $IB
	stop_ok 100
fi
# the reset (`settings cpus NULL`) too shows at irqbalance's next rescan
same_after_stop() { part > /tmp/b2; diff /tmp/b0 /tmp/b2 > /tmp/bd; }
if wait_for 15 same_after_stop; then
	pass "after the stop: irqbalance's bans, drivers, pages, cpusets as before"
else
	fail "after the stop the host differs:"
	sed 's/^/#   /' /tmp/bd
fi
kill $IB
wait $IB
irq_restore /tmp/b.irq
pve_forget 100
done_case
