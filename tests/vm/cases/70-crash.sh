# needs: engine
# The paths that are not a clean stop: QEMU killed, a start aborted after
# pre-start, phases run twice, restore by hand.
. /tests/lib.sh
snap /tmp/k0

pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=2048,policy=bind
hostpci0: 0000:81:00,pcie=1
C

# --- QEMU dies (SIGKILL) holding a 1G page: no pre-stop, pidfile left
# behind; post-stop restores
if start_ok 100 --mem1g 1 --mem-node 1; then
	pve_crash 100
	expect_eq "post-stop after a crash exits 0" "$HOOK_RC" 0
	check "no pvepin process for VM 100 after the crash" wait_for 10 no_pvepin 100
fi
snap_same "after a QEMU crash: host as before" /tmp/k0
pvepin restore 100 > /tmp/r 2>&1
expect_eq "restore after post-stop is a no-op that exits 0" "$?" 0
snap_same "restore after post-stop changed nothing" /tmp/k0

# --- pre-start done, then QEMU never comes (PVE gives up): restore by hand
hook 100 pre-start
expect_eq "pre-start alone exits 0" "$HOOK_RC" 0
expect_eq "GPU audio on vfio-pci after pre-start" "$(pci_drv 0000:81:00.1)" vfio-pci
pvepin restore 100 > /tmp/r 2>&1
expect_eq "pvepin restore 100 exits 0" "$?" 0
sed 's/^/#   restore: /' /tmp/r
snap_same "restore undid pre-start" /tmp/k0
pvepin restore 100 > /tmp/r 2>&1
expect_eq "a second restore exits 0" "$?" 0
snap_same "a second restore changed nothing" /tmp/k0

# --- phases twice (idempotent): pre-start x2, start, post-start x2, stop, post-stop x2
hook 100 pre-start
hook 100 pre-start
expect_eq "pre-start twice exits 0" "$HOOK_RC" 0
if start_ok 100; then
	hook 100 post-start
	expect_eq "post-start twice exits 0" "$HOOK_RC" 0
	stop_ok 100
	hook 100 post-stop
	expect_eq "post-stop twice exits 0" "$HOOK_RC" 0
fi
snap_same "phases twice: host as before" /tmp/k0

# --- a failed start: pre-start refuses, PVE starts no QEMU and runs no post-start
pve_conf 101 <<'C'
cores: 1
memory: 512
hostpci0: 0000:01:02.0
C
refused 101 "a partial group" 'group|01:01\.0'
hook 101 post-stop
expect_eq "post-stop of a VM that never started exits 0" "$HOOK_RC" 0
snap_same "failed start: host as before" /tmp/k0

pve_forget 100
pve_forget 101
done_case
