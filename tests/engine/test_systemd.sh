#!/bin/sh
# What pvepin asks of systemd (the cpuset backend, the agent's scope)
# against a fake systemd: a private dbus-daemon
# (a config allowing everything, on a socket in a temp dir) and
# tests/helpers/fake_systemd.py owning org.freedesktop.systemd1 on it, its
# cgroup tree a plain directory under a temp --root. The unit test
# $BUILD/tests/engine/test_systemd does the calls (DBUS_SYSTEM_BUS_ADDRESS
# points sd-bus at the private bus); its counts are added to this script's.
# Needs dbus-daemon (package dbus-daemon) and Debian's python3 with python3-dbus and
# python3-gi: without them this skips, except under CI=true (.ci/run
# installs them), where it fails.
. tests/lib.sh
BUILD=${BUILD:-build}
UT=$BUILD/tests/engine/test_systemd
# python3-dbus is Debian's: not in a python3 earlier in PATH (pyenv, venv)
PY=${PV_PYTHON3:-/usr/bin/python3}
T=$(mktemp -d)
BUSPID="" FAKEPID=""
cleanup() {
	[ -n "$FAKEPID" ] && kill "$FAKEPID" 2>/dev/null
	[ -n "$BUSPID" ] && kill "$BUSPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

missing=""
command -v dbus-daemon > /dev/null || missing="$missing dbus-daemon(package dbus-daemon)"
"$PY" -c 'import dbus, dbus.mainloop.glib; from gi.repository import GLib' 2>/dev/null ||
	missing="$missing $PY+python3-dbus+python3-gi"
[ -x "$UT" ] || missing="$missing $UT(make unit)"
if [ -n "$missing" ]; then
	if [ "${CI:-}" = true ]; then
		fail "needs:$missing"
	else
		echo "# skip: needs:$missing"
	fi
	done_tests
	exit
fi

# wait_for SECONDS cmd...: true as soon as cmd is (every 20 ms)
wait_for() {
	n=$(awk "BEGIN{print int($1 * 50)}"); shift
	while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.02; n=$((n - 1)); done
	"$@"
}

cat > "$T/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$T/bus.conf" --nofork --print-address=1 > "$T/addr" 2> "$T/bus.err" &
BUSPID=$!
if ! wait_for 10 test -s "$T/addr"; then
	fail "dbus-daemon did not start: $(head -c 400 "$T/bus.err")"
	done_tests
	exit
fi
ADDR=$(head -1 "$T/addr")

# The host: systemd's units with their cgroups, some AllowedCPUs already
# set (hex bytes, bit cpu%8 of byte cpu/8), and lazy.slice whose setting
# never reaches cpuset.cpus.
R=$T/root CG=$T/root/sys/fs/cgroup
for d in qemu.slice qemu.slice/100.scope system.slice system.slice/pve-cluster.service \
	init.scope lazy.slice; do
	mkdir -p "$CG/$d"
	echo "cpuset cpu" > "$CG/$d/cgroup.controllers"
	echo > "$CG/$d/cpuset.cpus"
done
echo 0-1 > "$CG/lazy.slice/cpuset.cpus"
"$PY" tests/helpers/fake_systemd.py --address "$ADDR" --cgroot "$CG" --delay 100 \
	--log "$T/calls.log" --ready "$T/ready" \
	--unit qemu.slice qemu.slice --unit 100.scope qemu.slice/100.scope \
	--unit system.slice system.slice --unit pve-cluster.service system.slice/pve-cluster.service \
	--unit init.scope init.scope --unit lazy.slice lazy.slice --lazy lazy.slice \
	--allowed system.slice 8103000000000080 --allowed init.scope 030000 \
	--allowed pve-cluster.service 02 --allowed lazy.slice 03 \
	> "$T/fake.out" 2>&1 &
FAKEPID=$!
if ! wait_for 10 test -s "$T/ready"; then
	fail "fake systemd did not start: $(head -c 600 "$T/fake.out")"
	done_tests
	exit
fi
pass "dbus-daemon and the fake systemd are up"

DBUS_SYSTEM_BUS_ADDRESS=$ADDR PV_FAKE_ROOT=$R PV_FAKE_LOG=$T/calls.log "$UT" > "$T/ut.out" 2>&1
rc=$?
grep -v -E '^test_systemd: [0-9]+ passed' "$T/ut.out"
line=$(grep -E '^test_systemd: [0-9]+ passed, [0-9]+ failed' "$T/ut.out" | tail -1)
if [ -z "$line" ]; then
	fail "unit test ended without its tally (rc $rc)"
else
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	T_PASS=$((T_PASS + p)) T_FAIL=$((T_FAIL + f))
	[ "$f" = 0 ] && [ "$rc" != 0 ] && fail "unit test rc $rc with no failed check"
fi
if grep -q '^# skip' "$T/ut.out"; then
	fail "the unit test skipped the fake-bus part"
else
	pass "the unit test ran against the fake bus"
fi
expect_grep "StartUnit went over the bus" '^StartUnit pvtest-vm.slice fail$' "$T/calls.log"
if kill -0 "$FAKEPID" 2>/dev/null && ! grep -q Traceback "$T/fake.out"; then
	pass "the fake systemd is alive and raised nothing unexpected"
else
	fail "the fake systemd: $(head -c 800 "$T/fake.out")"
fi
done_tests
