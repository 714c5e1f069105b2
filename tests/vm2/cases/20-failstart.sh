# A start that fails after pre-start: qemu-server dies with "start failed" and never runs
# post-stop (vm_start_nolock). Each step that can fail after the hook is made to fail in turn:
# config_to_command (a NUMA memory sum PVE refuses, as a plain user can set), PVE's PCI
# preparation, hugepages_allocate, QEMU itself. pre-start's guard sees the start end without
# QEMU and gives the host back: the host must be as before, with nothing run after qm.
. /usr/local/lib/vm2/lib.sh
vm_conf $VMID
systemctl start qemu.slice
# the stand-in pvedaemon runs through the whole case, as on a host: it is part of "before"
pvedaemon_up
t0=$(up)
snap /tmp/f.before
note "one host snapshot takes $(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.1f", b-a}') s"
gone() { snap_quiet /tmp/f.before; }
snap_quiet() { host_snap > /tmp/.q; diff -q "$1" /tmp/.q > /dev/null; }
for at in config pci hugepages qemu; do
	if [ $at = config ]; then
		# numa0 memory=512 on a 1024 MiB VM: config_to_command dies after pre-start
		sed -i 's/^numa0: .*/numa0: cpus=0-1,hostnodes=1,memory=512,policy=bind/' /etc/pve/qemu-server/$VMID.conf
		task qm start $VMID
	else
		vm_conf $VMID
		task QM_FAIL_AT=$at qm start $VMID
	fi
	rc=$?
	check "start failing at $at: qm start fails (rc=$rc)" test "$rc" != 0
	grep -q "start failed\|QEMU exited\|total memory" /run/pvedaemon.out && pass "  ($at: PVE's error: $(grep -m1 'qm:' /run/pvedaemon.out))"
	t0=$(up)
	if wait_for 20 gone; then
		pass "start failing at $at: the guard gave the host back in $(awk -v a="$t0" -v b="$(up)" 'BEGIN{printf "%.1f", b-a}') s, no post-stop, no restore"
	else
		snap_same "start failing at $at: host as before" /tmp/f.before
		note "pvepin processes: $(pgrep -a -x pvepin | tr '\n' '|')"
		journalctl -q --no-pager -t pvepin | tail -12 | sed 's/^/#   journal| /'
		pvepin restore $VMID > /dev/null 2>&1
	fi
done
vm_conf $VMID
snap_same "after every failed start: host as before" /tmp/f.before
pvedaemon_down
done_case
