# needs: engine
# Issue 15 item 2 on a real kernel: a passthrough device whose MSI-X vectors
# come and go for minutes (a guest driver that keeps unloading and loading:
# QEMU disables MSI-X through vfio and enables it again, so the vectors leave
# the device's msi_irqs and come back with fresh affinities). The agent puts
# them back on the IRQ CPUs; its journal must stay bounded: one live entry
# per vector (a returning vector is a re-assert of its entry, never a new
# one) and re-assert records no more than the agent's rate limit allows.
# Then the VM stops and the host must be given back exactly.
# The flapping lasts pvt.flap seconds (tests/vm/run.sh: FLAP_SECONDS,
# default 120; raise CASE_TIMEOUT with it), one off/on cycle per 2 s.
. /tests/lib.sh
snap /tmp/f0
NIC=0000:02:00.0
J=/run/pvepin/100.journal
FLAP=$(sed -n 's/.*pvt\.flap=\([0-9]*\).*/\1/p' /proc/cmdline)
FLAP=${FLAP:-120}

# live IRQ entries of the journal, one target a line (S records of kind IRQ
# without a U mark; fields are tab-separated, $2 the sequence number)
live_irqs() {
	awk -F'\t' '$1 == "S" && $4 == "IRQ" { t[$2] = $5 } $1 == "U" { delete t[$2] }
		END { for (s in t) print t[s] }' "$J" | sort
}
vec_on() { # every vector the device has now is on the IRQ CPUs
	local i v
	v=$(pci_msi_irqs $NIC)
	[ -n "$v" ] || return 1
	for i in $v; do cpus_eq "$(irq_aff "$i")" "$irqc" || return 1; done
}

pve_conf 100 <<'C'
name: irqflap
cores: 2
memory: 1024
hostpci0: 0000:02:00.0,pcie=1
C
plan_json 100 /tmp/p100 || fail "plan 100: $(cat /tmp/p100.err)"
irqc=$(json_str /tmp/p100 irq_cpus)
if start_ok 100 --msix 64; then
	qp=$(qemu_pid 100)
	check "the agent runs for VM 100" wait_for 5 sh -c "[ -n \"\$(. /tests/lib.sh; pvepin_pids 100)\" ]"
	vecs=$(pci_msi_irqs $NIC)
	nvec=$(echo $vecs | wc -w)
	check "the device has MSI-X vectors ($vecs)" test "$nvec" -gt 0
	check "post-start put them on $irqc" wait_for 5 vec_on
	lines0=$(wc -l < $J)
	live0=$(live_irqs | wc -l)
	note "start: $nvec vectors, journal $lines0 lines, $live0 live IRQ entries"

	# The bound, from the vectors and the agent's rate limit
	# (agent/agent_int.h): per vector PV_AGENT_RL_FREE (3) free re-asserts,
	# then holds of PV_AGENT_RL_FIRST_MS (10 s) doubling up to
	# PV_AGENT_RL_MAX_MS (600 s); each re-assert is an R and a D line.
	# A vector that keeps coming back may never add an entry: live entries
	# stay what they were after post-start.
	r=3 t=$FLAP h=10
	while [ "$t" -gt 0 ]; do r=$((r + 1)); t=$((t - h)); h=$((h * 2)); [ $h -gt 600 ] && h=600; done
	max_lines=$((lines0 + 2 * nvec * r))
	note "bound: $live0 live IRQ entries, at most $max_lines lines ($nvec vectors x $r re-asserts x 2 lines)"

	t0=$(cut -d' ' -f1 /proc/uptime)
	end=$(($(cut -d. -f1 /proc/uptime) + FLAP))
	dups= cycles=0 gone=0 back=0 fixed=0 worst_live=0 worst_lines=0 seen=" $vecs "
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
		kill -HUP "$qp"
		wait_for 2 sh -c "[ -z \"\$(ls $PCI/$NIC/msi_irqs 2>/dev/null)\" ]" && gone=$((gone + 1))
		sleep 1
		kill -USR2 "$qp"
		wait_for 2 sh -c "[ -n \"\$(ls $PCI/$NIC/msi_irqs 2>/dev/null)\" ]" && back=$((back + 1))
		for i in $(pci_msi_irqs $NIC); do
			case $seen in *" $i "*) ;; *) seen="$seen$i " ;; esac
		done
		# the agent follows while its rate limit lets it (the first cycles)
		[ $cycles -lt 2 ] && wait_for 3 vec_on && fixed=$((fixed + 1))
		sleep 1
		cycles=$((cycles + 1))
		l=$(live_irqs | wc -l); n=$(wc -l < $J)
		dups="$dups$(live_irqs | uniq -d)"
		[ "$l" -gt $worst_live ] && worst_live=$l
		[ "$n" -gt $worst_lines ] && worst_lines=$n
	done
	t1=$(cut -d' ' -f1 /proc/uptime)
	note "$cycles off/on cycles in $(awk "BEGIN{print $t1 - $t0}") s; IRQ numbers seen:$seen"
	note "journal at most $worst_lines lines, $worst_live live IRQ entries; now $(wc -l < $J) lines"
	check "the vectors left msi_irqs in every cycle ($gone/$cycles)" test "$gone" = "$cycles"
	check "and came back in every cycle ($back/$cycles)" test "$back" = "$cycles"
	check "the agent put returning vectors back on $irqc (first cycles: $fixed/2)" test "$fixed" = 2
	check "live IRQ entries stayed $live0 (worst $worst_live)" test "$worst_live" -le "$live0"
	expect_eq "no target ever had two live entries" "$dups" ""
	check "journal stayed within $max_lines lines (worst $worst_lines)" test "$worst_lines" -le "$max_lines"
	# one live entry per vector of the device: its IRQ numbers' entries
	dev_live=0
	for i in $seen; do
		live_irqs | grep -qx "/proc/irq/$i/smp_affinity_list" && dev_live=$((dev_live + 1))
	done
	expect_eq "one live journal entry per vector of the device" "$dev_live" "$nvec"
	check "QEMU still runs" test -d /proc/$qp
	check "the agent still runs" sh -c "[ -n \"\$(. /tests/lib.sh; pvepin_pids 100)\" ]"

	stop_ok 100
fi
pve_forget 100
snap_same "irq flap case: host as before" /tmp/f0
done_case
