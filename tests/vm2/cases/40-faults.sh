# A write that fails, or pvepin killed, at every write syscall of pre-start and of the restore
# that undoes it (forward and rollback writes alike), on the real stack (systemd's D-Bus for
# the cgroups, vfio-pci, 1G pages). strace injects EIO or SIGKILL at the k-th write(2) of
# pvepin (not its children). Then what PVE would do next: after a pre-start, nothing (the start
# is over: pre-start's guard must give the host back); after a restore, the next restore. Each
# k ends with the host exactly as before. FAULT_MAX caps k (vm2.faultmax= on the command line).
. /usr/local/lib/vm2/lib.sh
MAX=$(sed -n 's/.*vm2\.faultmax=\([0-9]*\).*/\1/p' /proc/cmdline)
# Opt-in until measured: pre-start alone took minutes in this guest on a loaded host
[ -n "$MAX" ] || { echo "skip fault sweep: not asked for (EXTRA_APPEND=vm2.faultmax=N)"; exit 0; }
vm_conf $VMID
systemctl start qemu.slice
snap /tmp/x.before
# inj PHASE-ARGS KIND K: run pvepin under strace with the k-th write faulted; 0 when the
# fault was reached, 1 when the phase has fewer writes. EIO: strace marks the write INJECTED.
# KILL: the tracee dies inside the write, so no INJECTED line is ever finished; strace then
# kills itself with the same signal (rc 137). Run in a subshell, whose shell reports the kill.
inj() {
	local kind=$2 k=$3 what
	[ "$kind" = EIO ] && what=error=EIO || what=signal=KILL
	( strace -qq -o /tmp/x.trace -e trace=write -e inject=write:$what:when=$k \
		pvepin $1 < /dev/null > /tmp/x.out 2>&1; echo $? > /tmp/x.rc ) 2>/dev/null
	INJ_RC=$(cat /tmp/x.rc)
	if [ "$kind" = KILL ]; then [ "$INJ_RC" = 137 ]; else grep -q INJECTED /tmp/x.trace; fi
}
for kind in EIO KILL; do
	# pre-start: its own writes and those of its rollback
	k=1
	while [ $k -le $MAX ]; do
		inj "$VMID pre-start" $kind $k || break
		settle /tmp/x.before 15 "pre-start, $kind at write $k (rc=$INJ_RC)" /tmp/x.out || break 2
		k=$((k + 1))
	done
	note "pre-start: $((k - 1)) writes faulted with $kind"
	# capped by vm2.faultmax: the last run was a faulted one, and the phase has more writes
	if [ $k -gt $MAX ]; then
		note "pre-start: sweep capped at $MAX writes (vm2.faultmax)"
	else
		check "pre-start ran past its last write with no fault (rc=$INJ_RC)" test "$INJ_RC" = 0
		check "pre-start has writes to fault ($((k - 1)))" test "$((k - 1))" -ge 5
	fi
	pvepin restore $VMID > /dev/null 2>&1
	settle /tmp/x.before 15 "pre-start without a fault, then restore" /tmp/x.out
	# restore (post-stop's work) after a clean pre-start: then the next restore
	k=1
	while [ $k -le $MAX ]; do
		pvepin $VMID pre-start < /dev/null > /tmp/x.out 2>&1 || { fail "pre-start: $(tail -2 /tmp/x.out)"; break; }
		inj "restore $VMID" $kind $k; reached=$?
		pvepin restore $VMID < /dev/null > /tmp/x.out2 2>&1
		rc=$?
		[ $reached = 0 ] || break
		check "restore, $kind at write $k: the next restore exits 0 (rc=$rc)" test "$rc" = 0
		[ "$rc" = 0 ] || sed 's/^/#   | /' /tmp/x.out2
		settle /tmp/x.before 15 "restore, $kind at write $k" /tmp/x.out || break 2
		k=$((k + 1))
	done
	note "restore: $((k - 1)) writes faulted with $kind"
	if [ $k -gt $MAX ]; then
		note "restore: sweep capped at $MAX writes (vm2.faultmax)"
	else
		check "restore has writes to fault ($((k - 1)))" test "$((k - 1))" -ge 3
	fi
	settle /tmp/x.before 15 "restore without a fault" /tmp/x.out
done
snap_same "after the sweep: host as before" /tmp/x.before
done_case
