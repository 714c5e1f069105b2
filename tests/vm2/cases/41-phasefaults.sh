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
# post-stop after the agent's grace ran out: the agent gave the host back first, and this
# post-stop has nothing of its own to fault (the sweep runs that k again)
[ "$2" = post-stop ] && ! grep -q "^vm	$1	" /run/pvepin/ledger 2>/dev/null && : > /run/inj.raced
[ "$kind" = EIO ] && what=error=EIO || what=signal=KILL
strace -qq -o /run/inj.trace -e trace=write -e inject=write:$what:when=$k pvepin "$@" > /run/inj.out 2>&1
rc=$?
echo $rc > /run/inj.rc
exit $rc
S
chmod +x /usr/local/bin/pvepin-inj
sed -i 's|^hookscript:.*|hookscript: /usr/local/bin/pvepin-inj|' /etc/pve/qemu-server/$VMID.conf
snap /tmp/y.before
# reached KIND: the fault was met (EIO: strace marks the write INJECTED; KILL: the tracee died
# inside the write and strace killed itself with the same signal, 137)
reached() {
	INJ_RC=$(cat /run/inj.rc 2>/dev/null)
	if [ "$1" = KILL ]; then [ "$INJ_RC" = 137 ]; else grep -q INJECTED /run/inj.trace 2>/dev/null; fi
}
qm_start() {
	task PVEPIN_AGENT_GRACE_MS=10000 qm start $VMID > /dev/null && return 0
	fail "$1: qm start: $(tail -3 /run/pvedaemon.out | tr '\n' '|')"
	return 1
}
sweep() { # PHASE KIND
	local ph=$1 kind=$2 k=${FROM:-1} done= again=0
	while [ $k -le $MAX ]; do
		echo "$ph $kind $k" > /run/inj.conf
		rm -f /run/inj.rc /run/inj.trace /run/inj.out /run/inj.raced
		qm_start "$ph, $kind at write $k" || break
		task qm stop $VMID > /dev/null
		if [ -e /run/inj.raced ] && [ $again -lt 3 ]; then
			again=$((again + 1))
			note "$ph, $kind at write $k: the agent's grace ran out before post-stop came: again"
			echo none > /run/inj.conf
			settle /tmp/y.before 45 "$ph, $kind at write $k, grace run out" /run/inj.out || return 1
			continue
		fi
		again=0
		reached $kind || done=1
		echo none > /run/inj.conf
		settle /tmp/y.before 45 "$ph, $kind at write $k${done:+ (not reached: the phase has fewer writes)} (rc=$INJ_RC)" /run/inj.out ||
			return 1
		[ -n "$done" ] && break
		k=$((k + 1))
	done
	note "$ph: $((k - 1)) writes faulted with $kind"
	if [ -z "$done" ]; then
		note "$ph: sweep with $kind capped at $MAX writes (vm2.faultmax)"
	else
		check "$ph past its last write exits 0 (rc=$INJ_RC)" test "$INJ_RC" = 0
		[ -n "$FROM" ] || check "$ph has writes to fault with $kind ($((k - 1)))" test "$((k - 1))" -ge 3
	fi
}
# vm2.faultkinds=KILL and vm2.faultphases=post-stop (comma lists) pick; vm2.faultfrom=K starts at K
FROM=$(sed -n 's/.*vm2\.faultfrom=\([0-9]*\).*/\1/p' /proc/cmdline)
KINDS=$(sed -n 's/.*vm2\.faultkinds=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
PHASES=$(sed -n 's/.*vm2\.faultphases=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
for kind in ${KINDS:-EIO KILL}; do
	for ph in ${PHASES:-post-start post-stop}; do sweep $ph $kind || break 2; done
done
echo none > /run/inj.conf
vm_conf $VMID
snap_same "after the sweep: host as before" /tmp/y.before
pvedaemon_down
done_case
