# Guest-side library for tests/vm/cases/*.sh (busybox sh). Source it:
#   . /tests/lib.sh
# Output: "ok WHAT" / "not ok WHAT: why" / "skip WHAT: why" lines; run.sh on
# the host prefixes them with the case name and counts them.
#
# The PVE simulator: pve_conf/pve_policy write /etc/pve files, pve_start /
# pve_stop / pve_crash run the hook phases around a fakeqemu the way
# qemu-server does (see doc/DESIGN.md "Facts about PVE").
PATH=/usr/sbin:/usr/bin:/sbin:/bin
T_FAIL=0
CG=/sys/fs/cgroup
PCI=/sys/bus/pci/devices

pass() { echo "ok $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "not ok $*"; }
skip() { echo "skip $*"; }
note() { echo "# $*"; }
# info: a figure run.sh prints beside the results (not a test)
info() { echo "info $*"; }
# check WHAT cmd...: ok when cmd succeeds
check() { local w=$1; shift; if "$@"; then pass "$w"; else fail "$w"; fi; }
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2' want '$3'"; fi; }
# expect_ne WHAT GOT UNWANTED
expect_ne() { if [ "$2" != "$3" ]; then pass "$1"; else fail "$1: got '$2'"; fi; }
# expect_grep WHAT ERE FILE
expect_grep() {
	if grep -qE -- "$2" "$3"; then pass "$1"; else fail "$1: /$2/ not in: $(head -c 600 "$3" | tr '\n' '|')"; fi
}
# expect_no_grep WHAT ERE FILE
expect_no_grep() {
	if grep -qE -- "$2" "$3"; then fail "$1: /$2/ found: $(grep -E -- "$2" "$3" | head -3 | tr '\n' '|')"; else pass "$1"; fi
}
# A case ends with `done_case`: its exit code says whether anything failed.
done_case() { [ "$T_FAIL" = 0 ]; }

# ---------------------------------------------------------------- PCI
pci_drv() { local l; l=$(readlink "$PCI/$1/driver" 2>/dev/null) && echo "${l##*/}" || echo -; }
pci_override() { cat "$PCI/$1/driver_override"; }
pci_group() { local l; l=$(readlink "$PCI/$1/iommu_group") && echo "${l##*/}"; }
pci_group_members() { ls "/sys/kernel/iommu_groups/$(pci_group "$1")/devices" | tr '\n' ' ' | sed 's/ $//'; }
pci_node() { cat "$PCI/$1/numa_node"; }
# The kernel's own rebind, as the recipe proved it (for cases that set up
# state by hand; pvepin does its own).
pci_bind() { # BDF DRIVER ("" = back to the default driver)
	local d=$PCI/$1
	echo "${2:-}" > "$d/driver_override"
	[ -e "$d/driver" ] && echo "$1" > "$d/driver/unbind"
	echo "$1" > /sys/bus/pci/drivers_probe
}
pci_msi_irqs() { ls "$PCI/$1/msi_irqs" 2>/dev/null | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# IRQ numbers /proc/interrupts shows for a vfio device (vfio-msix[n](BDF), ...)
vfio_irqs() { grep -E "vfio-[a-z]+(\[[0-9]+\])?\($1\)" /proc/interrupts | sed 's/^ *\([0-9]*\):.*/\1/' | tr '\n' ' ' | sed 's/ $//'; }
irq_aff() { cat "/proc/irq/$1/smp_affinity_list"; }

# ---------------------------------------------------------------- CPU lists
# cpus_expand "0-2,5" -> "0 1 2 5"
cpus_expand() {
	echo "$1" | tr ',' '\n' | while IFS=- read -r a b; do
		[ -n "$a" ] || continue
		seq "$a" "${b:-$a}"
	done | sort -n | uniq | tr '\n' ' ' | sed 's/ $//'
}
cpus_eq() { [ "$(cpus_expand "$1")" = "$(cpus_expand "$2")" ]; }
# cpus_disjoint A B: no CPU in both
cpus_disjoint() {
	local x
	for x in $(cpus_expand "$1"); do
		case " $(cpus_expand "$2") " in *" $x "*) return 1 ;; esac
	done
	return 0
}
# cpus_subset A B: every CPU of A is in B
cpus_subset() {
	local x
	for x in $(cpus_expand "$1"); do
		case " $(cpus_expand "$2") " in *" $x "*) ;; *) return 1 ;; esac
	done
	return 0
}
# cpus_minus A B: the CPUs of A not in B (a comma list)
cpus_minus() {
	local x out=
	for x in $(cpus_expand "$1"); do
		case " $(cpus_expand "$2") " in *" $x "*) ;; *) out="$out,$x" ;; esac
	done
	echo "${out#,}"
}
ALL_CPUS=$(cat /sys/devices/system/cpu/online)
cpu_siblings() { cat "/sys/devices/system/cpu/cpu$1/topology/thread_siblings_list"; }
node_cpus() { cat "/sys/devices/system/node/node$1/cpulist"; }

# ---------------------------------------------------------------- processes
task_cpus() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
# threads PID: "TID<TAB>COMM" per thread
threads() {
	local t
	for t in /proc/$1/task/*; do
		printf '%s\t%s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)"
	done
}
tid_of() { threads "$1" | awk -F'\t' -v n="$2" '$2 == n {print $1; exit}'; }
# wait_for SECS cmd...: poll every 0.2 s until cmd succeeds
wait_for() {
	local n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}

# ---------------------------------------------------------------- host state
snap() { hoststate > "$1"; }
# cg_unset CG: its cpuset.cpus back to "", which the kernel refuses while
# CG has tasks (ENOSPC): they wait in the root cgroup meanwhile. (A task
# listed may have ended since: no matter.)
cg_unset() {
	local f p
	for f in $(find $CG/$1 -name cgroup.procs); do
		for p in $(cat $f); do echo "$f $p"; done
	done > /tmp/.cg.moves
	while read -r f p; do echo $p 2>/dev/null > $CG/cgroup.procs; done < /tmp/.cg.moves
	echo > $CG/$1/cpuset.cpus || fail "test bed: cannot reset $1's cpuset.cpus"
	while read -r f p; do echo $p 2>/dev/null > $f; done < /tmp/.cg.moves
}
# snap_same WHAT BEFORE: ok when the host state now equals BEFORE
snap_same() {
	hoststate > /tmp/.snap.now
	if diff "$2" /tmp/.snap.now > /tmp/.snap.diff; then
		pass "$1"
	else
		fail "$1: host state differs:"
		sed 's/^/#   /' /tmp/.snap.diff | head -30
	fi
}

# ---------------------------------------------------------------- pvepin
# plan_json VMID FILE: the plan, collapsed to one line for the json_* helpers
plan_json() { pvepin plan "$1" --json > "$2.raw" 2> "$2.err" && tr -d ' \n\t' < "$2.raw" > "$2"; }
# json_str FILE KEY: the first "KEY":"value"
json_str() { grep -o "\"$2\":\"[^\"]*\"" "$1" | head -1 | sed 's/.*:"\(.*\)"/\1/'; }
# json_vcpus FILE: "vcpu pu node" per line
json_vcpus() {
	grep -o '"vcpus":\[[^]]*\]' "$1" | grep -o '{[^}]*}' |
		sed 's/.*"vcpu":\([0-9]*\).*"pu":\([0-9]*\).*"node":\([0-9]*\).*/\1 \2 \3/'
}
# json_pages FILE: "node count" per line
json_pages() {
	grep -o '"pages":\[[^]]*\]' "$1" | grep -o '{[^}]*}' |
		sed 's/.*"node":\([0-9]*\).*"count":\([0-9]*\).*/\1 \2/'
}
json_hp_kb() { grep -o '"hugepage_size_kb":[0-9]*' "$1" | head -1 | cut -d: -f2; }
# json_devs FILE: "bdf group" per line
json_devs() {
	grep -o '"devices":\[[^]]*\]' "$1" | grep -o '{[^}]*}' |
		sed 's/.*"bdf":"\([^"]*\)".*"group":\([-0-9]*\).*/\1 \2/'
}
engine() { pvepin --help 2>&1 | grep -q pre-start; }

# ---------------------------------------------------------------- PVE simulator
# pve_conf VMID < text: /etc/pve/qemu-server/VMID.conf
pve_conf() { cat > "/etc/pve/qemu-server/$1.conf"; }
# pve_policy VMID < ini: /etc/pve/pvepin/VMID.ini (root-owned, 0644)
pve_policy() { cat > "/etc/pve/pvepin/$1.ini"; chmod 0644 "/etc/pve/pvepin/$1.ini"; }
pve_forget() { rm -f "/etc/pve/qemu-server/$1.conf" "/etc/pve/pvepin/$1.ini"; }
qemu_pid() { cat "/run/qemu-server/$1.pid" 2>/dev/null; }

# hook VMID PHASE: run the hookscript as PVE does (stdin at EOF, output
# collected until every writer closed it). Sets HOOK_RC and HOOK_OUT (a
# file). A process left holding the output (an agent that kept stdout)
# would hang `qm start` forever: reported as HOOK_LEAK=<pids>.
# HOOKSCRIPT (default pvepin) is the command run; with HOOK_TIMES=PREFIX,
# each phase's wall time in us (fork to reap) and exit code are appended to
# PREFIX.PHASE. The shell runs the hook itself, as PVE's worker does: pvepin's
# agent takes a caller that ends before QEMU appears for a failed start.
hook() {
	local t0=
	HOOK_OUT=/tmp/hook.$1.$2.out
	[ -n "${HOOK_TIMES:-}" ] && t0=$(phasetime --now)
	${HOOKSCRIPT:-pvepin} "$1" "$2" < /dev/null > "$HOOK_OUT" 2>&1
	HOOK_RC=$?
	[ -n "$t0" ] && echo "$(($(phasetime --now) - t0)) $HOOK_RC" >> "$HOOK_TIMES.$2"
	HOOK_LEAK=$(for f in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$HOOK_OUT" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
	done | sort -u | tr '\n' ' ')
	sed "s|^|#   ${HOOKSCRIPT:-pvepin} $1 $2: |" "$HOOK_OUT"
	[ -z "$HOOK_LEAK" ] || echo "#   pvepin $1 $2: output still held open by pid(s) $HOOK_LEAK"
	return $HOOK_RC
}

# conf_get VMID KEY: a top-level key of the VM config (before any [section])
conf_get() {
	sed -n '/^\[/q; s/^'"$2"':[[:space:]]*//p' "/etc/pve/qemu-server/$1.conf" | head -1
}
# The functions a hostpciN line passes: "0000:81:00" means every function.
conf_bdfs() {
	local v h f
	for v in $(sed -n '/^\[/q; s/^hostpci[0-9]*:[[:space:]]*//p' "/etc/pve/qemu-server/$1.conf" |
		sed 's/,.*//; s/^host=//' | tr ';' ' '); do
		case $v in
		*.*) h=$v ;;
		*) h= ;;
		esac
		case $v in ????:*) ;; *) v=0000:$v ;; esac
		if [ -n "$h" ]; then echo "$v"; continue; fi
		for f in "$PCI/$v".*; do [ -e "$f" ] && echo "${f##*/}"; done
	done
}
conf_vcpus() {
	local v c s
	v=$(conf_get "$1" vcpus)
	[ -n "$v" ] && { echo "$v"; return; }
	c=$(conf_get "$1" cores); s=$(conf_get "$1" sockets)
	echo $((${c:-1} * ${s:-1}))
}

# pve_start VMID [fakeqemu options]: pre-start (a failure aborts the start,
# as in qemu-server), QEMU in qemu.slice/VMID.scope with the VM's vCPUs and
# vfio functions, then post-start (a failure is only a warning). Returns 1
# when the start was aborted. QEMU_PID is set.
pve_start() {
	local vmid=$1 d devs=
	shift
	QEMU_PID=
	hook "$vmid" pre-start || { note "start of $vmid aborted: pre-start rc=$HOOK_RC"; return 1; }
	# AFTER_PRE_START: a command run between pre-start and QEMU (a case's
	# way to disturb what pre-start left for post-start)
	[ -z "${AFTER_PRE_START:-}" ] || eval "$AFTER_PRE_START"
	for d in $(conf_bdfs "$vmid"); do devs="$devs --vfio-dev $d"; done
	mkdir -p "$CG/qemu.slice/$vmid.scope"
	rm -f "/run/qemu-server/$vmid.pid"
	sh -c 'echo $$ > "$0" && exec kvm "$@"' "$CG/qemu.slice/$vmid.scope/cgroup.procs" \
		-id "$vmid" -pidfile "/var/run/qemu-server/$vmid.pid" \
		--vcpus "$(conf_vcpus "$vmid")" $devs "$@" > "/tmp/qemu.$vmid.log" 2>&1 &
	QEMU_PID=$!
	eval "QEMU_PID_$vmid=$QEMU_PID"
	if ! wait_for 20 test -s "/run/qemu-server/$vmid.pid"; then
		note "qemu for $vmid did not start: $(cat "/tmp/qemu.$vmid.log" | tr '\n' '|')"
		kill -9 "$QEMU_PID" 2>/dev/null
		wait "$QEMU_PID" 2>/dev/null
		rmdir "$CG/qemu.slice/$vmid.scope" 2>/dev/null
		hook "$vmid" post-stop
		return 1
	fi
	hook "$vmid" post-start || note "post-start of $vmid failed (rc=$HOOK_RC): PVE only warns"
	return 0
}

# QEMU is gone: qmeventd runs `qm cleanup`, which runs post-stop; systemd
# removes the scope.
pve_reap() {
	local vmid=$1 pid
	eval "pid=\${QEMU_PID_$vmid:-}"
	[ -n "$pid" ] && wait "$pid" 2>/dev/null
	wait_for 10 sh -c "! grep -q . $CG/qemu.slice/$vmid.scope/cgroup.procs 2>/dev/null"
	rmdir "$CG/qemu.slice/$vmid.scope" 2>/dev/null
	hook "$vmid" post-stop || note "post-stop of $vmid failed (rc=$HOOK_RC)"
}
# pve_stop VMID: `qm stop`: pre-stop, QEMU told to quit, post-stop
pve_stop() {
	hook "$1" pre-stop || note "pre-stop of $1 failed (rc=$HOOK_RC)"
	kill -TERM "$(qemu_pid "$1")" 2>/dev/null
	pve_reap "$1"
}
# pve_crash VMID: QEMU dies (no pre-stop); post-stop still runs
pve_crash() {
	kill -KILL "$(qemu_pid "$1")" 2>/dev/null
	pve_reap "$1"
}

# ---------------------------------------------------------------- lifecycle checks
# pvepin_pids [VMID]: running pvepin processes (for that VM: it is an argument)
pvepin_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = pvepin ] || continue
		[ -z "${1:-}" ] || tr '\0' '\n' < "$p/cmdline" | grep -qx "$1" || continue
		echo "${p#/proc/}"
	done | tr '\n' ' ' | sed 's/ $//'
}
no_pvepin() { [ -z "$(pvepin_pids "${1:-}")" ]; }
# start_ok VMID [fakeqemu options]: the start must succeed, hooks fast and clean
start_ok() {
	local t0 t1
	t0=$(cut -d' ' -f1 /proc/uptime)
	if pve_start "$@"; then
		pass "VM $1 started (pre-start, qemu, post-start)"
	else
		fail "VM $1 did not start (pre-start rc=$HOOK_RC)"
		return 1
	fi
	t1=$(cut -d' ' -f1 /proc/uptime)
	expect_eq "VM $1 post-start exits 0" "$HOOK_RC" 0
	expect_eq "VM $1 post-start leaves no process on PVE's output pipe" "$HOOK_LEAK" ""
	check "VM $1: pre-start kept the host's topology for post-start" \
		test -s "/run/pvepin/$1.topology.xml"
	if [ -z "${AFTER_PRE_START:-}" ]; then
		check "VM $1: post-start planned from it, without discovering the host again" \
			sh -c "! grep -q 'discovering the host instead' /tmp/hook.$1.post-start.out"
	fi
	note "VM $1 start took $(awk "BEGIN{print $t1 - $t0}") s"
	return 0
}
# refused VMID WHAT ERE: pre-start must fail, say why (ERE, case-insensitive),
# start no QEMU and change nothing.
refused() {
	snap /tmp/.ref.before
	if pve_start "$1"; then
		fail "VM $1 started: $2 should have been refused"
		pve_stop "$1"
		return 1
	fi
	check "pre-start of VM $1 refused: $2" test "$HOOK_RC" != 0
	if grep -qiE -- "$3" "$HOOK_OUT"; then
		pass "refusal of VM $1 says why (/$3/)"
	else
		fail "refusal of VM $1 does not match /$3/: $(head -c 300 "$HOOK_OUT" | tr '\n' '|')"
	fi
	check "no QEMU was started for VM $1" test ! -e "/run/qemu-server/$1.pid"
	snap_same "refused VM $1 changed nothing" /tmp/.ref.before
}
# stop_ok VMID: stop, then post-stop exits 0 and the agent is gone
stop_ok() {
	pve_stop "$1"
	expect_eq "VM $1 post-stop exits 0" "$HOOK_RC" 0
	check "no pvepin process for VM $1 left after it stopped" wait_for 10 no_pvepin "$1"
	check "VM $1's journal is gone after post-stop" test ! -e "/run/pvepin/$1.journal"
	check "VM $1's topology copy is gone after post-stop" test ! -e "/run/pvepin/$1.topology.xml"
}

# irq_restore FILE: put back the IRQ affinities of a `hoststate --section
# irq` snapshot (MSI vectors found again by function and index)
irq_restore() {
	local label aff bdf idx n
	sed -n 's/^irq \(.*\) affinity=\(.*\)$/\1|\2/p' "$1" | while IFS='|' read -r label aff; do
		case $label in
		default*) continue ;;
		"msi "*)
			bdf=${label#msi }; idx=${bdf##*#}; bdf=${bdf%#*}
			n=$(ls "$PCI/$bdf/msi_irqs" 2>/dev/null | sort -n | sed -n "$((idx + 1))p")
			;;
		*) n=$label ;;
		esac
		[ -n "$n" ] && [ -e "/proc/irq/$n/smp_affinity_list" ] &&
			echo "$aff" > "/proc/irq/$n/smp_affinity_list" 2>/dev/null
	done
	return 0
}
# mask_has HEXMASK CPU: the CPU's bit is set in a kernel cpumask ("000000f0")
mask_has() {
	local m
	m=$(echo "$1" | tr -d ,)
	[ $(( (0x$m >> $2) & 1 )) = 1 ]
}
