# needs: engine
# Each hook phase's wall time on this real kernel, fork to reap as PVE sees
# it: pvepin beside the guides' bash hookscript (bench/hookscript-guide.sh,
# the peer of make bench) doing the same job for the same VM, with the CPUs,
# pages and devices of pvepin's own plan here: the GPU-like slot to vfio-pci,
# a 1 GiB page on its node, host tasks off the VM's CPUs, vCPU and emulator
# threads pinned, the device's interrupts steered. Cycles alternate so a
# drift in load hits both. The figures are informational (run.sh prints
# them as "# 90-phasetime: ..."): a TCG guest is no timing reference, make
# bench is. What is tested: every phase of both exits 0, and pvepin gives the
# host back identical each time. What the bash script leaves behind is named
# once, then put back by hand so the next cycle starts from the same host.
. /tests/lib.sh
CYCLES=3
G=/opt/guide/bin
if [ ! -x $G/bash ] || [ ! -x $G/ps ] || [ ! -x $G/taskset ]; then
	skip "the bash hookscript needs bash, ps and taskset (copied from the host by build.sh)"
	exit 0
fi
HP=/sys/devices/system/node
nr() { cat $HP/node$1/hugepages/hugepages-1048576kB/nr_hugepages; }
snap /tmp/t0

pve_conf 100 <<'C'
name: timed
cores: 2
memory: 1024
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=1024,policy=bind
hostpci0: 0000:81:00,pcie=1
C
plan_json 100 /tmp/t100 || { fail "plan 100: $(cat /tmp/t100.err)"; exit 1; }

# The guide's hand-filled values, taken from the plan: the same job.
DEVICES=$(json_devs /tmp/t100 | awk '{print $1}' | tr '\n' ' ')
VCPU_CPUS=$(json_vcpus /tmp/t100 | sort -n | awk '{print $2}' | tr '\n' ' ')
EMU_CPUS=$(json_str /tmp/t100 emulator)
HOST_CPUS=$(json_str /tmp/t100 host_cpus)
# (pages already free in the pool count, as pvepin counts them: a guide
# that ignored them would grow the pool by a page pvepin does not)
HUGEPAGES=$(json_pages /tmp/t100 | while read -r n c; do
	f=$(cat $HP/node$n/hugepages/hugepages-1048576kB/free_hugepages)
	[ "$c" -gt "$f" ] && c=$((c - f)) || c=0
	echo "$n:$(($(nr "$n") + c)):$(nr "$n")"
done | tr '\n' ' ')
note "bash hookscript: DEVICES='$DEVICES' VCPU_CPUS='$VCPU_CPUS' EMU_CPUS=$EMU_CPUS HOST_CPUS=$HOST_CPUS HUGEPAGES='$HUGEPAGES'"
check "the plan gives the bash hookscript its values" \
	test -n "$DEVICES" -a -n "$VCPU_CPUS" -a -n "$EMU_CPUS" -a -n "$HOST_CPUS" -a -n "$HUGEPAGES"

# bash_cycle N: one start and stop of VM 100 with the bash hookscript
bash_cycle() {
	(
		export HOOK_TIMES=/tmp/tm.bash HOOKSCRIPT="$G/bash /tests/hookscript-guide.sh"
		export PATH=$G:$PATH DEVICES VCPU_CPUS EMU_CPUS HOST_CPUS HUGEPAGES ALL_CPUS
		pve_start 100 || exit 1
		pve_stop 100
		[ "$HOOK_RC" = 0 ]
	)
	check "cycle $1: every phase of the bash hookscript exits 0" test $? = 0
	hoststate > /tmp/tm.after
	if ! diff /tmp/t0 /tmp/tm.after > /tmp/tm.diff; then
		[ "$1" = 1 ] && info "the bash hookscript's post-stop left the host changed: $(grep '^[-+]' /tmp/tm.diff | grep -v '^[-+][-+]' | head -6 | tr '\n' '|')"
		# put back what it left: the slices it wrote (their cpuset.cpus
		# were empty, as systemd leaves them)
		for s in system.slice user.slice init.scope; do
			[ -e $CG/$s/cpuset.cpus ] && [ -n "$(cat $CG/$s/cpuset.cpus)" ] && cg_unset $s
		done
	fi
	snap_same "cycle $1: host back as before the bash hookscript ran (after the test bed's repair)" /tmp/t0
}
pvepin_cycle() {
	HOOK_TIMES=/tmp/tm.pvepin
	if start_ok 100; then
		stop_ok 100
	fi
	HOOK_TIMES=
	snap_same "cycle $1: pvepin gave the host back" /tmp/t0
}

rm -f /tmp/tm.pvepin.* /tmp/tm.bash.*
i=1
while [ $i -le "$CYCLES" ]; do
	pvepin_cycle $i
	bash_cycle $i
	i=$((i + 1))
done

# median_ms FILE: the median wall time of phasetime's lines, in ms
median_ms() {
	awk '{print $1}' "$1" | sort -n | awk '{v[NR] = $1} END {
		if (NR == 0) { print "-"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f\n", m / 1000 }'
}
for ph in pre-start post-start pre-stop post-stop; do
	a=$(median_ms /tmp/tm.pvepin.$ph 2>/dev/null || echo -)
	b=$(median_ms /tmp/tm.bash.$ph 2>/dev/null || echo -)
	check "$ph timed for both ($(wc -l < /tmp/tm.pvepin.$ph 2>/dev/null) and $(wc -l < /tmp/tm.bash.$ph 2>/dev/null) of $CYCLES)" \
		test "$(wc -l < /tmp/tm.pvepin.$ph 2>/dev/null)" = "$CYCLES" -a "$(wc -l < /tmp/tm.bash.$ph 2>/dev/null)" = "$CYCLES"
	r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", b / a; else print "-" }')
	info "$ph: pvepin $a ms, bash hookscript $b ms, ratio $r (median of $CYCLES, TCG guest: informational)"
done
pve_forget 100
snap_same "host as before the case" /tmp/t0
done_case
