#!/bin/sh
# A fact pvepin cannot read is unknown, never ok, and never this machine's:
# a --root without CPU topology fails clearly (no hwloc warning, not the
# build machine's CPUs); a root with CPUs but no /proc gives no "ok" for
# 1 GiB pages, irqbalance or the L3/NUMA layout it never read; a latency
# measurement with one pair still says what it measured.
. tests/lib.sh
E=$T_DIR/empty F=$T_DIR/cpus N=$T_DIR/nol3
mkdir -p "$E/sys" "$E/proc"
sh $FIX/roots/mkcpus.sh "$F"
NO_L3=1 sh $FIX/roots/mkcpus.sh "$N"
lv() { awk -v id="$2" '$2 == id { print $1 }' "$1"; }

# --- a root without CPU topology: topo and check fail, and say why
"$PVEPIN" --root "$E" topo > "$T_DIR/out" 2> "$T_DIR/err"; rc=$?
expect_eq "topo on a root without CPUs: exit 1" "$rc" 1
expect_eq "... prints no host" "$(cat "$T_DIR/out")" ""
expect_grep "... says what is missing and what to do" "^pvepin topo: --root $E: cannot read $E/sys/devices/system/cpu .*capture /sys with the host, or give --topology FILE" "$T_DIR/err"
expect_eq "... no hwloc warning leaks" "$(grep -c hwloc "$T_DIR/err")" 0
mkdir -p "$E/sys/devices/system/cpu/cpu0/cpufreq"
"$PVEPIN" --root "$E" topo > "$T_DIR/out" 2> "$T_DIR/err"
expect_grep "cpu dirs without topology/ are no topology" "has no CPU topology \($E/sys/devices/system/cpu/cpu\*/topology\)" "$T_DIR/err"
expect_eq "... and no CPUs of this machine" "$(grep -c '^host:\|CPUs' "$T_DIR/out")" 0
"$PVEPIN" --root "$E" check > "$T_DIR/chk" 2>&1; rc=$?
expect_eq "check on it: exit 2 (an error)" "$rc" 2
expect_grep "check: the topology is the error" "^error topology .*has no CPU topology" "$T_DIR/chk"
expect_eq "check: no ok on facts never read" "$(grep -c '^ok *\(hugepages-1g\|irqbalance\|numa-nps\)' "$T_DIR/chk")" 0

# --- a root with CPUs (sysfs) but no /proc: the topology is its, the rest unknown
"$PVEPIN" --root "$F" topo > "$T_DIR/t" 2> "$T_DIR/err"
expect_eq "topo of the fake CPUs: nothing on stderr" "$(cat "$T_DIR/err")" ""
expect_grep "topo: the root's 4 CPUs, not this machine's" "^host: 1 NUMA node\(s\), 1 L3 domain\(s\), 2 cores, 4 CPUs \(SMT\)$" "$T_DIR/t"
expect_grep "topo: the root's cores" "cores: 0\+2 1\+3$" "$T_DIR/t"
expect_grep "topo: no PCI facts is unknown, not 'from XML'" "^IOMMU: unknown \(no /sys/bus/pci to read\)$" "$T_DIR/t"
"$PVEPIN" --root "$F" check > "$T_DIR/chk" 2>&1
expect_eq "no /proc/cpuinfo: hugepages-1g is no ok" "$(lv "$T_DIR/chk" hugepages-1g)" warn
expect_grep "... it says it cannot tell" "cannot tell whether the CPU supports 1 GiB pages: no flags line in /proc/cpuinfo" "$T_DIR/chk"
expect_eq "... no pdpe1gb claim" "$(grep -c 'supports 1 GiB pages (pdpe1gb)' "$T_DIR/chk")" 0
expect_eq "no processes under /proc: irqbalance is no ok" "$(lv "$T_DIR/chk" irqbalance)" warn
expect_grep "... it says it cannot tell" "cannot tell whether irqbalance runs: no processes under /proc" "$T_DIR/chk"
expect_eq "a known L3 per node: numa-nps ok" "$(lv "$T_DIR/chk" numa-nps)" ok
"$PVEPIN" --root "$N" check > "$T_DIR/chk2" 2>&1
expect_eq "no L3 cache in sysfs: numa-nps is no ok" "$(lv "$T_DIR/chk2" numa-nps)" warn
expect_grep "... it says why" "the topology has no L3 cache" "$T_DIR/chk2"
"$PVEPIN" --root "$N" topo > "$T_DIR/t2"
expect_grep "topo: an unknown L3 size is not '0 MiB'" "^  L3 #0: size unknown, 2 cores" "$T_DIR/t2"
# facts present again: ok again (the warn above is the missing file's doing)
mkdir -p "$F/proc/1"; printf 'processor\t: 0\nflags\t\t: fpu pse pdpe1gb lm\n\n' > "$F/proc/cpuinfo"
"$PVEPIN" --root "$F" check > "$T_DIR/chk3" 2>&1
expect_eq "cpuinfo with pdpe1gb: hugepages-1g ok" "$(lv "$T_DIR/chk3" hugepages-1g)" ok
expect_eq "a process table: irqbalance ok (not running)" "$(lv "$T_DIR/chk3" irqbalance)" ok

# --- check --latency with one pair: says what it measured, and why no verdict
cat > "$T_DIR/lat.json" <<'J'
{"model":"","rounds":100,"samples":15,"min_samples":15,"seconds":0.1,"unmeasured":0,"cpus":[0,1],
"ns":[[null,443.9],[443.9,null]]}
J
"$PVEPIN" --root "$F" check --latency "$T_DIR/lat.json" > "$T_DIR/l" 2>&1
expect_grep "one pair: a latency line" "^warn  latency +1 pair measured \(other L3|same L3|SMT siblings" "$T_DIR/l"
expect_grep "... with its median" "pair measured \([a-zA-Z0-9 ,]* 444 ns\): too few kinds of pair" "$T_DIR/l"

done_tests
