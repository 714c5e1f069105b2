# The paths on which PVE never calls post-stop while pvepin's changes are on the host, each
# ending with the host exactly as before:
#  - the source of a live migration (QemuMigrate.pm phase3_cleanup: vm_stop_cleanup with
#    skip_hookscript);
#  - the hookscript removed from the config while the VM runs (stop runs no hook);
#  - post-stop giving up on the phase lock (another pvepin holds it past the wait);
#  - pvepin itself killed during post-stop (SIGKILL);
#  - QEMU ends and nothing follows at all (qmeventd down: no cleanup).
# The agent is left to give the host back (PVEPIN_AGENT_GRACE_MS=3000 shortens its wait).
. /usr/local/lib/vm2/lib.sh
mkdir -p /run/systemd/system/pvedaemon.service.d
vm_conf $VMID
systemctl start qemu.slice
# the stand-in pvedaemon runs through the whole case, as on a host: it is part of "before"
pvedaemon_up
snap /tmp/n.before
start() {
	task PVEPIN_AGENT_GRACE_MS=3000 qm start $VMID || { fail "$1: qm start: $(tail -3 /run/pvedaemon.out | tr '\n' '|')"; return 1; }
	wait_for 10 agent_alive $VMID || fail "$1: the agent runs"
}
back() { # WHAT: the host given back within 30 s, by nothing but the agent
	local t0; t0=$(up)
	if wait_for 30 eval 'host_snap > /tmp/.q; diff -q /tmp/n.before /tmp/.q >/dev/null'; then
		pass "$1: the host is as before after $(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.1f", b-a}') s"
	else
		snap_same "$1: the host is as before" /tmp/n.before
		journalctl -q --no-pager -t pvepin | tail -12 | sed 's/^/#   /'
		pvepin restore $VMID > /dev/null 2>&1
	fi
}

start migration && { task qm migrate-stop $VMID; back "migration source (no post-stop)"; }

start "hookscript removed" && {
	sed -i '/^hookscript:/d' /etc/pve/qemu-server/$VMID.conf
	task qm stop $VMID
	back "hookscript removed while the VM ran"
	vm_conf $VMID
}

start "lock held" && {
	# another pvepin holds the phase lock past post-stop's wait (LOCK_WAIT_S, 120 s): here a
	# flock held until post-stop has been killed after 5 s, as PVE's hook timeout would. (A
	# holder for a fixed 8 s was gone before post-stop even began: qm kill alone takes longer
	# under TCG.) The holder is the sleep itself (exec), so killing it frees the lock.
	( exec 9>/run/pvepin/lock; flock 9; exec sleep 600 ) &
	holder=$!
	sleep 0.5
	task "qm kill $VMID; timeout -s KILL 5 pvepin $VMID post-stop"
	check "lock held: post-stop did not finish" test -e /run/pvepin/ledger
	kill $holder; wait $holder 2>/dev/null
	back "post-stop timed out on the lock"
}

start "pvepin killed" && {
	task qm kill $VMID
	# post-stop is killed at once, before it could do anything
	# (a subshell: its shell, not the case, reports the kill, into /dev/null)
	( timeout -s KILL 0.05 pvepin $VMID post-stop; true ) > /dev/null 2>&1
	back "pvepin killed at post-stop"
}

start "no cleanup" && { task qm kill $VMID; back "QEMU ended and nothing followed"; }

snap_same "after every path: host as before" /tmp/n.before
pvedaemon_down
done_case
