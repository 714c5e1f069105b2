# needs: engine
# Fault injection on a real kernel (hook/engine.h): pre-start failing at
# each of its steps rolls back; pvepin killed after any step or in the
# middle of a restore leaves a journal `pvepin restore` finishes. Every
# time the host ends exactly as before.
. /tests/lib.sh
snap /tmp/f0
pve_conf 100 <<'C'
name: gpu
cores: 2
memory: 2048
hugepages: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=2048,policy=bind
hostpci0: 0000:81:00,pcie=1
C
MAX=60
restore() { pvepin restore 100 < /dev/null > /tmp/f.restore 2>&1; }

# --- a step fails: pre-start exits non-zero and undoes its own steps
k=1
while [ $k -le $MAX ]; do
	PVEPIN_FAULT_AT=$k pvepin 100 pre-start < /dev/null > /tmp/f.out 2>&1
	rc=$?
	[ $rc = 0 ] && break
	snap_same "fault at step $k: pre-start fails (rc=$rc) and rolls back" /tmp/f0
	k=$((k + 1))
done
steps=$((k - 1))
check "pre-start succeeds once the fault is past its $steps steps" test "$rc" = 0
check "pre-start has steps to fault ($steps)" test "$steps" -ge 3
restore
expect_eq "restore after the clean pre-start exits 0" "$?" 0
snap_same "and the host is as before" /tmp/f0

# --- pvepin dies after step k: restore finishes the journal
k=1
while [ $k -le $MAX ]; do
	PVEPIN_KILL_AT=$k pvepin 100 pre-start < /dev/null > /tmp/f.out 2>&1
	rc=$?
	if [ $rc != 137 ]; then
		expect_eq "pre-start without a kill past step $((k - 1)) exits 0" "$rc" 0
		restore
		snap_same "restore after it: host as before" /tmp/f0
		break
	fi
	restore
	rc=$?
	if [ $rc = 0 ]; then
		snap_same "killed after step $k: restore puts the host back" /tmp/f0
	else
		fail "killed after step $k: restore rc=$rc: $(head -c 300 /tmp/f.restore | tr '\n' '|')"
	fi
	k=$((k + 1))
done

# --- restore dies after undo k: the next restore finishes
k=1
while [ $k -le $MAX ]; do
	pvepin 100 pre-start < /dev/null > /tmp/f.out 2>&1 || { fail "pre-start: $(head -c 300 /tmp/f.out)"; break; }
	PVEPIN_KILL_UNDO_AT=$k pvepin restore 100 < /dev/null > /tmp/f.restore 2>&1
	rc=$?
	if [ $rc != 137 ]; then
		expect_eq "restore without a kill past undo $((k - 1)) exits 0" "$rc" 0
		snap_same "and the host is as before" /tmp/f0
		break
	fi
	restore
	expect_eq "killed in restore at undo $k: the next restore exits 0" "$?" 0
	snap_same "killed in restore at undo $k: host as before after the next" /tmp/f0
	k=$((k + 1))
done
pve_forget 100
done_case
