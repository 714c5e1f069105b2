# Guest-side library for tests/vm2/cases/*.sh (bash, systemd as PID 1). Source it:
#   . /usr/local/lib/vm2/lib.sh
# Output: "ok WHAT" / "not ok WHAT: why" / "# note" lines; run.sh on the host counts them.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER= SYSTEMD_COLORS=0 LC_ALL=C
T_FAIL=0
CG=/sys/fs/cgroup
BDF=0000:41:00.0
D=/sys/bus/pci/devices/$BDF
VMID=100
pass() { echo "ok $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "not ok $*"; }
note() { echo "# $*"; }
check() { local w=$1; shift; if "$@"; then pass "$w"; else fail "$w"; fi; }
expect_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2' want '$3'"; fi; }
done_case() { [ "$T_FAIL" = 0 ]; }
up() { cut -d' ' -f1 /proc/uptime; }

cpus_expand() {
	echo "$1" | tr ',' '\n' | while IFS=- read -r a b; do
		[ -n "$a" ] || continue
		seq "$a" "${b:-$a}"
	done | sort -n | uniq | tr '\n' ' ' | sed 's/ $//'
}
cpus_disjoint() {
	local x
	for x in $(cpus_expand "$1"); do case " $(cpus_expand "$2") " in *" $x "*) return 1 ;; esac; done
	return 0
}
cpus_subset() {
	local x
	for x in $(cpus_expand "$1"); do case " $(cpus_expand "$2") " in *" $x "*) ;; *) return 1 ;; esac; done
	return 0
}
# irq_diag WHEN: the device's INTx line (sysfs irq: 0 while no driver has it enabled) and IRQ 11
# (its line on this machine), with their affinity, node and default_smp_affinity, as "#" notes
irq_diag() {
	local i l
	i=$(cat "$D/irq" 2>/dev/null)
	note "$1: $BDF on $(pci_drv), irq=$i, msi_irqs=$(ls "$D/msi_irqs" 2>/dev/null | paste -sd,)," \
		"default_smp_affinity=$(cat /proc/irq/default_smp_affinity)"
	for l in $(printf '%s\n' 11 "$i" | sort -un); do
		[ "$l" -gt 0 ] 2>/dev/null && [ -d "/proc/irq/$l" ] || continue
		note "$1: irq $l: smp_affinity_list=$(cat "/proc/irq/$l/smp_affinity_list")" \
			"effective=$(cat "/proc/irq/$l/effective_affinity_list" 2>/dev/null)" \
			"node=$(cat "/proc/irq/$l/node" 2>/dev/null)" \
			"actions=$(grep -E "^ *$l:" /proc/interrupts | awk '{print $NF}')"
	done
}
pci_drv() { local l; l=$(readlink "$D/driver" 2>/dev/null) && echo "${l##*/}" || echo -; }

# The host as pvepin may change it, in text: hoststate (PCI drivers, hugepages per node, every
# cgroup's cpuset files, IRQ affinities, governors), the units systemd manages for it (runtime
# properties, which `systemctl show` reads), pvepin's own files and processes.
UNITS="-.slice init.scope system.slice user.slice qemu.slice"
host_snap() {
	hoststate
	# one systemctl for all units (one process, one bus connection: each costs a second under TCG)
	systemctl show -p Id -p AllowedCPUs -p AllowedMemoryNodes -p StartupAllowedCPUs \
		-p CPUWeight -p Delegate -p LoadState -- $UNITS |
		awk 'BEGIN { RS = ""; FS = "\n" } { $1 = $1; print "unit: " $0 }'
	echo "unit files: $(ls /run/systemd/transient/ /run/systemd/system.control/ 2>/dev/null | grep -v -e '^/' -e '^$' | tr '\n' ' ')"
	echo "pvepin units: $(systemctl list-units --all --plain --no-legend 'pvepin*' '[0-9]*.scope' | awk '{print $1, $3, $4}' | tr '\n' ' ')"
	# host.topology.{xml,key}: the topology kept for this boot on purpose (doc/DESIGN.md); a VM's
	# own copy (<vmid>.topology.xml) must go with the VM
	echo "pvepin files: $(cd /run/pvepin 2>/dev/null && ls | grep -v -e '^lock$' -e '^host\.topology\.' | tr '\n' ' ')"
	echo "ledger: $(cat /run/pvepin/ledger 2>/dev/null | tr '\n' '|')"
	echo "pvepin procs: $(pgrep -x pvepin | tr '\n' ' ')"
	echo "qemu procs: $(pgrep -f qemu-system | tr '\n' ' ')"
}
snap() { host_snap > "$1"; }
# snap_same WHAT BEFORE: ok when the host now is BEFORE, waiting up to 3 s for systemd's jobs
snap_same() {
	local i
	for i in 1 2 3 4 5 6; do
		host_snap > /tmp/.snap.now
		diff "$2" /tmp/.snap.now > /tmp/.snap.diff && { pass "$1"; return 0; }
		sleep 0.5
	done
	fail "$1: the host differs"
	sed 's/^/#   /' /tmp/.snap.diff | head -40
	return 1
}

# settle BEFORE SECONDS WHAT SAID: the host back as BEFORE within SECONDS of guest time (a guard
# or agent giving it back); else say so, with pvepin's words (file SAID) and its journal, and
# restore. 1 when even that restore cannot give the host back: every later k of a fault sweep
# would only repeat the failure.
settle() {
	local before=$1 secs=$2 what=$3 said=$4
	if wait_for "$secs" eval 'host_snap > /tmp/.settle; diff -q "$before" /tmp/.settle > /dev/null'; then
		pass "$what: host as before"
		return 0
	fi
	snap_same "$what: host as before" "$before"
	sed 's/^/#   pvepin | /' "$said" 2>/dev/null | tail -5
	journalctl -q --no-pager -t pvepin | tail -8 | sed 's/^/#   /'
	pvepin restore $VMID > /tmp/.settle.out 2>&1
	wait_for 10 eval 'host_snap > /tmp/.settle; diff -q "$before" /tmp/.settle > /dev/null' && return 0
	fail "$what: \`pvepin restore\` does not give the host back either: the sweep stops"
	sed 's/^/#   | /' /tmp/.settle.out
	return 1
}

# A stand-in for pvedaemon: a long-running service whose process runs `qm`, so the hook runs
# inside pvedaemon.service as on a PVE host (and its restart kills what the hook left there).
pvedaemon_up() {
	systemctl is-active -q pvedaemon.service && return 0
	rm -f /run/pvedaemon.fifo; mkfifo /run/pvedaemon.fifo
	systemd-run --quiet --unit pvedaemon --service-type=exec -p KillMode=control-group \
		-p After=dbus.service bash -c 'exec 3<>/run/pvedaemon.fifo
			while read -r cmd <&3; do
				rc=0; eval "$cmd" > /run/pvedaemon.out 2>&1 || rc=$?
				echo "$rc" > /run/pvedaemon.rc
			done'
}
pvedaemon_down() { systemctl stop pvedaemon.service 2>/dev/null; systemctl reset-failed pvedaemon.service 2>/dev/null; }
# task CMD...: run a qm command inside pvedaemon.service and wait for it; its exit code
task() {
	local i
	rm -f /run/pvedaemon.rc
	echo "$*" > /run/pvedaemon.fifo
	for i in $(seq 1 1200); do [ -f /run/pvedaemon.rc ] && break; sleep 0.1; done
	sed 's/^/#   | /' /run/pvedaemon.out
	return "$(cat /run/pvedaemon.rc 2>/dev/null || echo 124)"
}

qemu_pid() { cat "/run/qemu-server/$1.pid" 2>/dev/null; }
# the TIDs and names of QEMU's threads: "tid name" lines
qemu_threads() {
	local p=$1 t
	for t in /proc/"$p"/task/*; do echo "${t##*/} $(cat "$t/comm")"; done
}
aff() { taskset -pc "$1" 2>/dev/null | sed 's/.*: //'; }
agent_pid() { cat "/run/pvepin/$1.agent" 2>/dev/null; }
agent_alive() { local p; p=$(agent_pid "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# wait_for SECONDS CMD...: poll every 0.2 s for SECONDS of guest uptime (not a number of polls:
# one poll of host_snap takes seconds under TCG, and 100 of them made "20 s" last many minutes)
wait_for() {
	local end
	end=$(awk -v u="$(up)" -v n="$1" 'BEGIN{print u + n}'); shift
	while :; do
		"$@" && return 0
		awk -v u="$(up)" -v e="$end" 'BEGIN{exit !(u >= e)}' && return 1
		sleep 0.2
	done
}

vm_conf() { # vmid: the VM under test (PVE's `kvm: 0` form of a GPU VM with one device on node 1)
	mkdir -p /etc/pve/qemu-server /etc/pve/pvepin
	cat > "/etc/pve/qemu-server/$1.conf" <<C
hookscript: /usr/local/bin/pvepin
kvm: 0
cores: 2
memory: 1024
numa: 1
numa0: cpus=0-1,hostnodes=1,memory=1024,policy=bind
hugepages: 1024
keephugepages: 1
hostpci0: $BDF
C
	# the VM on the device's node: vCPUs on 5 and 7 (node 1), its pages there
	cat > "/etc/pve/pvepin/$1.ini" <<P
[vm]
mode = manual
vcpus = 5,7
[memory]
nodes = 1
P
	chmod 0644 "/etc/pve/pvepin/$1.ini"
}
