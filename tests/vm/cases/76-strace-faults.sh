# needs: engine
# A write that fails (EIO) or pvepin killed (SIGKILL) at the k-th write(2) of each phase, for
# every k: pre-start (its writes and its rollback's), post-start, post-stop (the restore's
# writes). strace injects the fault into pvepin alone (not the agent it starts). Then what PVE
# does next: after pre-start nothing (pre-start's guard gives the host back when the start
# ends), after post-start the VM runs and stops (post-stop), after post-stop nothing (the agent
# gives the host back when no post-stop finished). Each k ends with the host exactly as before.
. /tests/lib.sh
# Opt-in until measured (EXTRA_APPEND=pvt.sweep=1 tests/vm/run.sh 76, with a CASE_TIMEOUT that
# fits): one run under load did not finish in 1350 s. pvt.faultmax=N caps k.
grep -q 'pvt\.sweep=1' /proc/cmdline || { skip "strace fault sweep: not asked for (pvt.sweep=1)"; exit 0; }
command -v strace > /dev/null || { fail "no strace in the image (tests/vm/build.sh copies the host's)"; exit 1; }
# long enough that post-stop comes within it even on a loaded machine (at 1 s, one run's
# post-stop sweeps ended after 9 writes: the agent had given the host back first)
export PVEPIN_AGENT_GRACE_MS=5000
snap /tmp/s0
pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=2048,policy=bind
hostpci0: 0000:81:00,pcie=1
C
# pvt.faultmax=N on the kernel command line (EXTRA_APPEND) caps k: a quick
# look at the first writes (the ledger's save, the first host writes).
# To look again at one failure: pvt.faultfrom=K starts there, and
# pvt.faultphases=post-stop and pvt.faultkinds=EIO (comma lists) pick.
arg() { sed -n "s/.*pvt\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
MAX=$(arg faultmax)
CAPPED=${MAX:+1}
MAX=${MAX:-300}
FROM=$(arg faultfrom)
PHASES=$(arg faultphases | tr , ' ')
KINDS=$(arg faultkinds | tr , ' ')
# pvepin's own files of VM 100 (journal, topology copy, agent's) and any
# half-written save: none may outlive the run that made them
leftovers() { ls /run/pvepin 2>/dev/null | grep -E '\.tmp$|^100\.' | tr '\n' ' '; }
same() {
	hoststate > /tmp/s.now
	diff -q /tmp/s0 /tmp/s.now > /dev/null && no_pvepin 100 && [ -z "$(leftovers)" ]
}
# settle WHAT: as before (waiting for the guard or agent), else say so, with the faulted write
# and what pvepin said, and restore. 1 when even that restore cannot give the host back: every
# later k would only repeat the failure.
settle() {
	if wait_for 15 same; then pass "$1: host as before"; return; fi
	expect_eq "$1: no file of VM 100 or half-written save left in /run/pvepin" "$(leftovers)" ""
	snap_same "$1: host as before" /tmp/s0
	grep -B2 INJECTED /tmp/s.trace | cut -c1-200 | sed 's/^/#   trace | /'
	sed 's/^/#   pvepin | /' /tmp/s.out | tail -8
	pvepin restore 100 < /dev/null > /tmp/s.out3 2>&1
	wait_for 10 same && return
	fail "$1: \`pvepin restore\` does not give the host back either: the sweep stops"
	sed 's/^/#   | /' /tmp/s.out3
	return 1
}
# inj KIND K PVEPIN-ARGS...: the k-th write faulted; 0 when it was reached
inj() {
	local kind=$1 k=$2 what=signal=KILL
	shift 2
	[ "$kind" = EIO ] && what=error=EIO
	strace -qq -y -o /tmp/s.trace -e trace=write -e inject=write:$what:when=$k \
		pvepin "$@" < /dev/null > /tmp/s.out 2>&1
	INJ_RC=$?
	# a write killed never gets its INJECTED line: strace then ends as
	# its tracee did, by SIGKILL (137)
	grep -q INJECTED /tmp/s.trace || { [ "$kind" = KILL ] && [ "$INJ_RC" = 137 ]; }
}
qemu_up() { # a QEMU for VM 100 as pve_start starts it, without hooks
	local d devs=
	for d in $(conf_bdfs 100); do devs="$devs --vfio-dev $d"; done
	mkdir -p "$CG/qemu.slice/100.scope"
	rm -f /run/qemu-server/100.pid
	sh -c 'echo $$ > "$0" && exec kvm "$@"' "$CG/qemu.slice/100.scope/cgroup.procs" -id 100 \
		-pidfile /var/run/qemu-server/100.pid --vcpus 2 $devs > /tmp/qemu.100.log 2>&1 &
	QEMU_PID_100=$!
	wait_for 20 test -s /run/qemu-server/100.pid
}
sweep() { # PHASE KIND: k = 1.. until the phase runs past its last write
	local ph=$1 kind=$2 k=${FROM:-1} again=0
	while [ $k -le $MAX ]; do
		case $ph in
		pre-start)
			inj $kind $k 100 pre-start || break
			;;
		post-start)
			hook 100 pre-start > /dev/null || { fail "pre-start: $(head -c 200 "$HOOK_OUT")"; return; }
			qemu_up || { fail "qemu did not start"; return; }
			inj $kind $k 100 post-start; r=$?
			pve_stop 100 > /dev/null
			[ $r = 0 ] || break
			;;
		post-stop)
			hook 100 pre-start > /dev/null || { fail "pre-start: $(head -c 200 "$HOOK_OUT")"; return; }
			qemu_up || { fail "qemu did not start"; return; }
			hook 100 post-start > /dev/null
			kill -TERM "$(qemu_pid 100)"; wait "$QEMU_PID_100" 2>/dev/null
			rmdir "$CG/qemu.slice/100.scope" 2>/dev/null
			# the grace ran out first: the agent gave the host back, and this post-stop
			# would have nothing of its own to fault; that k again
			if ! grep -q "^vm	100	" /run/pvepin/ledger 2>/dev/null && [ $again -lt 3 ]; then
				again=$((again + 1))
				note "$ph, $kind at write $k: the agent's grace ran out before post-stop came: again"
				settle "$ph, $kind at write $k, grace run out" || return 1
				continue
			fi
			again=0
			inj $kind $k 100 post-stop || { settle "$ph without a fault" || return 1; break; }
			;;
		esac
		settle "$ph, $kind at write $k (rc=$INJ_RC)" || return 1
		k=$((k + 1))
	done
	note "$ph: $((k - 1)) writes faulted with $kind"
	[ -n "$FROM" ] || check "$ph has writes to fault with $kind ($((k - 1)))" test $((k - 1)) -ge 3
	if [ -n "$CAPPED" ]; then
		skip "$ph with $kind: capped at pvt.faultmax=$MAX, the writes after it not faulted"
		pvepin restore 100 < /dev/null > /dev/null 2>&1
		settle "$ph sweep with $kind capped"
		return
	fi
	check "$ph stopped before its last write ($MAX at the most)" test $k -le $MAX
	if [ $ph = pre-start ]; then
		expect_eq "pre-start past its last write exits 0" "$INJ_RC" 0
		pvepin restore 100 < /dev/null > /dev/null 2>&1
	fi
	settle "$ph sweep with $kind done"
}
for kind in ${KINDS:-EIO KILL}; do
	for ph in ${PHASES:-pre-start post-start post-stop}; do sweep $ph $kind || break 2; done
done
snap_same "after the sweep: host as before" /tmp/s0
pve_forget 100
done_case
