# A write that fails (EIO), or pvepin killed (SIGKILL), at the k-th write(2) of post-start and
# of post-stop, for every k, with the VM started and stopped by qm as PVE does it: a real QEMU in
# qemu.slice/<vmid>.scope, the hook run inside the stand-in pvedaemon.service. The fault is put
# in by the hookscript itself (a wrapper that runs the phase under test under strace), so qm
# goes on as PVE would: a failed post-start is only a warning and the VM runs, then stops (its
# post-stop gives the host back); a failed post-stop ends the stop, and nothing follows (the
# agent gives the host back). Each k ends with the host exactly as before. Case 40 sweeps
# pre-start and restore the same way. vm2.faultmax=N on the command line runs it (N caps k).
. /usr/local/lib/vm2/lib.sh
MAX=$(sed -n 's/.*vm2\.faultmax=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$MAX" ] || { echo "skip post-start/post-stop fault sweep: not asked for (EXTRA_APPEND=vm2.faultmax=N)"; exit 0; }
mkdir -p /run/systemd/system/pvedaemon.service.d
vm_conf $VMID
systemctl start qemu.slice
pvedaemon_up
# the hookscript: pvepin, with the phase named in /run/inj.conf ("PHASE KIND K") faulted
cat > /usr/local/bin/pvepin-inj <<'S'
#!/bin/sh
read -r phase kind k < /run/inj.conf 2>/dev/null
[ "$2" = "$phase" ] || exec pvepin "$@"
[ "$kind" = EIO ] && what=error=EIO || what=signal=KILL
strace -qq -o /run/inj.trace -e trace=write -e inject=write:$what:when=$k pvepin "$@" > /run/inj.out 2>&1
rc=$?
echo $rc > /run/inj.rc
exit $rc
S
chmod +x /usr/local/bin/pvepin-inj
sed -i 's|^hookscript:.*|hookscript: /usr/local/bin/pvepin-inj|' /etc/pve/qemu-server/$VMID.conf
snap /tmp/y.before
quiet_same() { host_snap > /tmp/.q; diff -q /tmp/y.before /tmp/.q > /dev/null; }
# settle WHAT: the host back as before within 30 s (the agent's grace is 3 s); else restore and
# say so. 1 when even that restore cannot give the host back: the sweep stops there.
settle() {
	if wait_for 30 quiet_same; then pass "$1: host as before"; return; fi
	snap_same "$1: host as before" /tmp/y.before
	sed 's/^/#   inj | /' /run/inj.out 2>/dev/null | tail -5
	journalctl -q --no-pager -t pvepin | tail -8 | sed 's/^/#   /'
	pvepin restore $VMID > /tmp/y.out 2>&1
	wait_for 10 quiet_same && return
	fail "$1: \`pvepin restore\` does not give the host back either: the sweep stops"
	sed 's/^/#   | /' /tmp/y.out
	return 1
}
# reached KIND: the fault was met (EIO: strace marks the write INJECTED; KILL: the tracee died
# inside the write and strace killed itself with the same signal, 137)
reached() {
	INJ_RC=$(cat /run/inj.rc 2>/dev/null)
	if [ "$1" = KILL ]; then [ "$INJ_RC" = 137 ]; else grep -q INJECTED /run/inj.trace 2>/dev/null; fi
}
qm_start() {
	task PVEPIN_AGENT_GRACE_MS=3000 qm start $VMID > /dev/null && return 0
	fail "$1: qm start: $(tail -3 /run/pvedaemon.out | tr '\n' '|')"
	return 1
}
sweep() { # PHASE KIND
	local ph=$1 kind=$2 k=1 done=
	while [ $k -le $MAX ]; do
		echo "$ph $kind $k" > /run/inj.conf
		rm -f /run/inj.rc /run/inj.trace /run/inj.out
		qm_start "$ph, $kind at write $k" || break
		task qm stop $VMID > /dev/null
		reached $kind || done=1
		echo none > /run/inj.conf
		settle "$ph, $kind at write $k${done:+ (not reached: the phase has fewer writes)} (rc=$INJ_RC)" ||
			return 1
		[ -n "$done" ] && break
		k=$((k + 1))
	done
	note "$ph: $((k - 1)) writes faulted with $kind"
	if [ -z "$done" ]; then
		note "$ph: sweep with $kind capped at $MAX writes (vm2.faultmax)"
	else
		check "$ph past its last write exits 0 (rc=$INJ_RC)" test "$INJ_RC" = 0
		check "$ph has writes to fault with $kind ($((k - 1)))" test "$((k - 1))" -ge 3
	fi
}
for kind in EIO KILL; do
	for ph in post-start post-stop; do sweep $ph $kind || break 2; done
done
echo none > /run/inj.conf
vm_conf $VMID
snap_same "after the sweep: host as before" /tmp/y.before
pvedaemon_down
done_case
