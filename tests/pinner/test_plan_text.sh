#!/bin/sh
# What plan and topo print for people: `plan --pve` lines that paste into a
# shell as PVE needs them, wording that is true ("1 vCPU", "node 0", one
# vCPU not "0-0", no padding in model names), unknown facts said as
# unknown (an XML topology's IOMMU, a node's memory), CPU kinds named only
# on hybrid hosts, and refusals whose every suggested fix works.
. tests/lib.sh
H=$FIX/hosts S=$FIX/seed C=$FIX/conf-plan
R=$T_DIR/root
mkdir -p "$R"
pv() { $PVEPIN --root "$R" "$@"; }
conf() { printf 'cores: %s\nmemory: %s\n%s' "$1" "$2" "${3:+$3
}" > "$T_DIR/vm.conf"; }

# --- plan --pve: a guest node with CPUs 0;2;4;6 is one shell word
printf '[vm]\nmode = manual\nvcpus = 0,8,1,9,2,10,3,11\n' > "$T_DIR/alt.ini"
pv --topology $S/tr7970x.xml --conf $C/vm8.conf --policy "$T_DIR/alt.ini" plan 100 --pve > "$T_DIR/pve" 2>&1 ||
	fail "plan --pve: $(cat "$T_DIR/pve")"
expect_grep "numa0 quoted" "^qm set 100 --numa 1 --numa0 'cpus=0;2;4;6,hostnodes=0,memory=8192,policy=bind' --numa1 'cpus=1;3;5;7,hostnodes=3," "$T_DIR/pve"
# run the lines as a shell would, qm printing the arguments it got
{ echo 'qm() { for a; do printf "<%s>" "$a"; done; echo; }'; cat "$T_DIR/pve"; } > "$T_DIR/pve.sh"
sh "$T_DIR/pve.sh" > "$T_DIR/pve.out" 2>&1
expect_eq "pasted: no shell error" "$(grep -c 'not found\|syntax error' "$T_DIR/pve.out")" 0
expect_grep "pasted: qm gets numa0 whole" "<--numa0><cpus=0;2;4;6,hostnodes=0,memory=8192,policy=bind><--numa1><cpus=1;3;5;7," "$T_DIR/pve.out"
# the plan keeps every CPU inside the config's affinity: never a line changing it
expect_eq "no --affinity line" "$(grep -c -- '--affinity' "$T_DIR/pve")" 0
# a contiguous node needs no quotes and gets none
pv --topology $S/tr7970x.xml --conf $S/100.conf plan 100 --pve > "$T_DIR/pve2"
expect_grep "contiguous numa0 unquoted" " --numa0 cpus=0-7,hostnodes=0," "$T_DIR/pve2"

# --- wording: one vCPU, one node, a single vCPU not a range
conf 1 2048
printf '[memory]\nhugepages = off\n' > "$T_DIR/nohp.ini"
pv --topology $H/desktop-4c8t-1l3.xml --conf "$T_DIR/vm.conf" --policy "$T_DIR/nohp.ini" plan 100 > "$T_DIR/one" 2>&1 ||
	fail "one-vCPU plan: $(cat "$T_DIR/one")"
expect_grep "1 vCPU, singular" "^VM 100: [a-z]* mode, 1 vCPU$|^VM 100: [a-z]* mode, 1 vCPU," "$T_DIR/one"
expect_grep "vCPU 0, not 0-0" ": vCPU 0 -> CPU [0-9]+$" "$T_DIR/one"
expect_grep "node 0, singular" "memory: no hugepages, node 0$" "$T_DIR/one"
expect_eq "no 'vCPUs' for one, no '0-0'" "$(grep -c '1 vCPUs\|vCPU 0-0\|nodes 0$' "$T_DIR/one")" 0
# the guide's numa0/numa1 bind guest memory to host nodes 0 and 1
grep -v '^hugepages:' $S/100.conf > "$T_DIR/100nohp.conf"
pv --topology $S/tr7970x.xml --conf "$T_DIR/100nohp.conf" plan 100 > "$T_DIR/two"
expect_grep "16 vCPUs, plural" "mode, 16 vCPUs" "$T_DIR/two"
expect_grep "two nodes, plural" "memory: no hugepages, nodes 0-1$" "$T_DIR/two"
# the config's hugepages with policy hugepages = off: PVE allocates them
pv --topology $S/tr7970x.xml --conf $S/100.conf --policy "$T_DIR/nohp.ini" plan 100 > "$T_DIR/pveal"
expect_grep "hugepages = off: PVE's own pages, said so" \
	"memory: 1 GiB hugepages by the VM config, allocated by PVE \(pvepin reserves none\), nodes 0-1$" "$T_DIR/pveal"
expect_eq "hugepages = off: no '0 x' count" "$(grep -c ' 0 x ' "$T_DIR/pveal")" 0

# --- an XML topology has no IOMMU facts: said so, not "group -1"
pv --topology $S/tr7970x.xml --conf $S/100.conf plan 100 > "$T_DIR/xml"
expect_grep "plan: XML devices say where their facts are missing" "^    0000:81:00.0  from an XML topology: no IOMMU facts$" "$T_DIR/xml"
expect_eq "plan: no 'group -1', no '(none/unknown)'" "$(grep -c 'group -1\|none/unknown' "$T_DIR/xml")" 0
pv --topology $H/xeon-4s-4numa-pci.xml topo > "$T_DIR/topo"
expect_grep "topo: XML says it has no IOMMU facts" "^IOMMU: from an XML topology: no IOMMU facts" "$T_DIR/topo"
expect_eq "topo: no 'IOMMU group -1' from XML" "$(grep -c 'IOMMU group -1' "$T_DIR/topo")" 0

# --- model names and lines without padding, text and JSON, every fixture
pad=""
for x in $H/*.xml $S/tr7970x.xml; do
	pv --topology "$x" topo > "$T_DIR/t" && pv --topology "$x" topo --json > "$T_DIR/j" || fail "topo $x"
	grep -q ' $' "$T_DIR/t" && pad="$pad $(basename "$x"):text"
	python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["model"]; sys.exit(m != " ".join(m.split()))' \
		"$T_DIR/j" || pad="$pad $(basename "$x"):json"
done
expect_eq "no trailing or doubled spaces in topo text or model names" "$pad" ""
pv --topology $H/epyc7451-2s-8numa.xml topo --json > "$T_DIR/j"
expect_grep "EPYC model trimmed in JSON" '"model":"AMD EPYC 7451 24-Core Processor"' "$T_DIR/j"

# --- a node whose memory the topology does not give: unknown, and warned
pv --topology $H/epyc7451-2s-8numa.xml topo > "$T_DIR/t"
expect_grep "topo: memory size unknown, not 0.0 GiB" "^node 0: memory size unknown, CPUs" "$T_DIR/t"
expect_eq "topo: no 0.0 GiB" "$(grep -c '0\.0 GiB' "$T_DIR/t")" 0
pv --topology $H/epyc7451-2s-8numa.xml --conf $C/vm4.conf --policy $C/gaming.ini plan 100 > "$T_DIR/p"
expect_grep "plan: pages on a node of unknown size are warned" \
	"warning: node 0: the topology gives no memory size, so whether 8 x 1 GiB pages fit there is unknown" "$T_DIR/p"
pv --topology $S/tr7970x.xml --conf $S/100.conf plan 100 > "$T_DIR/p"
expect_eq "plan: no such warning where the size is known and fits" "$(grep -c 'warning: node' "$T_DIR/p")" 0
# pages a node of an XML topology cannot hold (node 0 of the seed: 32 GiB,
# less the 1 GiB reserve): the preview says pre-start would refuse; one
# page fewer than the room is silent; under --root the tree's own counters
# decide, so no such warning (pv_opt.root is "" without --root: the test
# for NULL had kept this warning from ever being given)
printf 'cores: 2\nmemory: %s\nnuma: 1\nhugepages: 1024\n' 40960 > "$T_DIR/big.conf"
$PVEPIN --topology $S/tr7970x.xml --conf "$T_DIR/big.conf" --policy $C/gaming.ini plan 100 > "$T_DIR/p" ||
	fail "40 GiB on node 0: $(cat "$T_DIR/p")"
expect_grep "plan: pages over a node's memory warned" \
	"warning: node 0: 40 x 1 GiB pages do not fit in its 32768 MiB \(less 1024 MiB \[memory\] reserve\): on that host pre-start would refuse" "$T_DIR/p"
printf 'cores: 2\nmemory: %s\nnuma: 1\nhugepages: 1024\n' 31744 > "$T_DIR/fit.conf"
$PVEPIN --topology $S/tr7970x.xml --conf "$T_DIR/fit.conf" --policy $C/gaming.ini plan 100 > "$T_DIR/p"
expect_eq "plan: 31 pages in 31 GiB of room: no warning" "$(grep -c 'do not fit' "$T_DIR/p")" 0
pv --root "$R" --topology $S/tr7970x.xml --conf "$T_DIR/big.conf" --policy $C/gaming.ini plan 100 > "$T_DIR/p"
expect_eq "plan under --root: no preview warning" "$(grep -c 'do not fit' "$T_DIR/p")" 0

# --- CPU kinds: named on hybrid hosts only, and true of the whole L3
pv --topology $H/i7-1370p-hybrid.xml topo > "$T_DIR/t"
expect_grep "hybrid L3 with both kinds says so" "^  L3 #0: .*  \(6 performance \+ 8 efficiency cores\)$" "$T_DIR/t"
expect_eq "... not '(performance kind)'" "$(grep -c 'performance kind' "$T_DIR/t")" 0
for x in desktop-4c8t-1l3 dgx2-16gpu; do
	for v in 8 12 16; do
		for m in gaming workstation; do
			pv --topology $H/$x.xml --conf $C/vm$v.conf --policy $C/$m.ini plan 100 >/dev/null 2>>"$T_DIR/one-kind"
		done
	done
done
expect_grep "one-kind hosts do refuse (the test sees refusals)" "wants [0-9]+ vCPUs but only" "$T_DIR/one-kind"
expect_eq "one-kind hosts: no 'of the fastest kind'" "$(grep -c 'fastest kind' "$T_DIR/one-kind")" 0
pv --topology $H/i7-1370p-hybrid.xml --conf $C/vm8.conf --policy $C/gaming.ini plan 100 2> "$T_DIR/e"
expect_grep "hybrid host: 'of the fastest kind'" "only 6 cores of the fastest kind are there" "$T_DIR/e"

# --- kinds a few percent apart (a favoured core, no CoreType) are one kind;
# kinds far apart stay two
NK=$H/desktop-4c8t-nearkinds.xml
printf 'cores: 3\nmemory: 2048\n' > "$T_DIR/vm3.conf"
expect_rc "near kinds (4700/4550 MHz): 3 gaming vCPUs plan" 0 pv --topology $NK --conf "$T_DIR/vm3.conf" --policy $C/gaming.ini plan 100
pv --topology $NK topo > "$T_DIR/t"
expect_eq "near kinds: no kind label" "$(grep -c 'performance\|efficiency' "$T_DIR/t")" 0
sed 's/value="4550"/value="2400"/' $NK > "$T_DIR/far.xml"
pv --topology "$T_DIR/far.xml" --conf "$T_DIR/vm3.conf" --policy $C/gaming.ini plan 100 > /dev/null 2> "$T_DIR/e"
expect_grep "far kinds (4700/2400 MHz): the fastest kind only" "only 1 core of the fastest kind is there" "$T_DIR/e"

# --- refusals name only fixes that work: apply each one, the plan succeeds
# try HOST CONF POLICY: every fix the refusal names, applied alone
try() {
	pv --topology "$1" --conf "$2" --policy "$3" plan 100 > /dev/null 2> "$T_DIR/e" &&
		{ fail "$(basename "$1") $(basename "$2") $(basename "$3"): expected a refusal"; return; }
	msg=$(cat "$T_DIR/e") n=0
	pol() { grep -v "^$1 *=" "$3" > "$T_DIR/fix.ini"; sed -i "/^\[vm\]/a $1 = $2" "$T_DIR/fix.ini"; }
	case $msg in *"plan --pve"*|*"--pve\`"*) fail "$(basename "$2"): a refusal points at plan --pve, which refuses the same: $msg" ;; esac
	# two changes named together (only when no single one works): both applied
	case $msg in *" and lower reserve_cores"*)
		for kv in "max_l3 higher:max_l3 64" "smt = on:smt on" "mode = workstation:mode workstation"; do
			case $msg in *"${kv%%:*}"*" and lower reserve_cores"*) ;; *) continue ;; esac
			n=$((n + 1)); pol ${kv#*:} "$3"; printf '[host]\nreserve_cores = 0\n' >> "$T_DIR/fix.ini"
			check_fix "$1" "$2" "${kv#*:} and reserve_cores = 0"
		done
		[ $n -gt 0 ] && pass "$(basename "$1") $(basename "$2"): the refusal names $n fix(es)" ||
			fail "$(basename "$1") $(basename "$2"): a pair named, none applied: $msg"
		return ;;
	esac
	case $msg in *"set max_l3 higher"*) n=$((n + 1)); pol max_l3 64 "$3"; check_fix "$1" "$2" max_l3 ;; esac
	case $msg in *"set smt = on"*) n=$((n + 1)); pol smt on "$3"; check_fix "$1" "$2" smt ;; esac
	case $msg in *"use mode = workstation"*) n=$((n + 1)); pol mode workstation "$3"; check_fix "$1" "$2" workstation ;; esac
	case $msg in *"use mode = manual"*)
		n=$((n + 1)); want=$(sed -n 's/.*wants \([0-9]*\) vCPUs.*/\1/p' "$T_DIR/e")
		pol mode manual "$3"; sed -i "/^\[vm\]/a vcpus = 0-$((want - 1))" "$T_DIR/fix.ini"
		check_fix "$1" "$2" manual ;;
	esac
	case $msg in *"qm set 100 --delete affinity"*)
		n=$((n + 1)); cp "$3" "$T_DIR/fix.ini"; grep -v '^affinity:' "$2" > "$T_DIR/noaff.conf"
		check_fix "$1" "$T_DIR/noaff.conf" "delete affinity" ;;
	esac
	case $msg in *"lower reserve_cores"*)
		n=$((n + 1)); cp "$3" "$T_DIR/fix.ini"; printf '[host]\nreserve_cores = 0\n' >> "$T_DIR/fix.ini"
		check_fix "$1" "$2" reserve_cores ;;
	esac
	case $msg in *"give the VM at most "*)
		n=$((n + 1)); k=$(echo "$msg" | sed -n 's/.*give the VM at most \([0-9]*\) vCPUs.*/\1/p')
		# k vCPUs: cores k, one socket, no -smp in args
		sed "/^\[/q; /^args:/d; /^sockets:/d; /^vcpus:/d; s/^cores:.*/cores: $k/" "$2" > "$T_DIR/fewer.conf"
		pv --topology "$1" --conf "$T_DIR/fewer.conf" --policy "$3" plan 100 > /dev/null 2>&1 &&
			pass "$(basename "$1"): 'at most $k vCPUs' works" ||
			fail "$(basename "$1"): 'at most $k vCPUs' does not work: $msg" ;;
	esac
	[ $n -gt 0 ] && pass "$(basename "$1") $(basename "$2"): the refusal names $n fix(es)" ||
		fail "$(basename "$1") $(basename "$2"): no fix named: $msg"
}
check_fix() {
	if pv --topology "$1" --conf "$2" --policy "$T_DIR/fix.ini" plan 100 > /dev/null 2> "$T_DIR/fe"; then
		pass "$(basename "$1") $(basename "$2"): fix '$3' works"
	else
		fail "$(basename "$1") $(basename "$2"): fix '$3' named but fails: $(cat "$T_DIR/fe")"
	fi
}
try $S/tr7970x.xml $S/100.conf $C/gaming-l3-1.ini
try $H/i7-1370p-hybrid.xml $C/vm8.conf $C/gaming.ini
try $H/i7-1370p-hybrid.xml $C/vm16.conf $C/gaming.ini
try $H/desktop-4c8t-1l3.xml $C/vm12.conf $C/workstation.ini
# an affinity with room for 8 of 12 vCPUs: removing it, or 8 vCPUs
printf 'cores: 12\nmemory: 4096\naffinity: 16-23\n' > "$T_DIR/aff12.conf"
try $S/tr7970x.xml "$T_DIR/aff12.conf" $C/workstation.ini
# the seed's workstation VM 101 (64 vCPUs on the 64 CPUs) under gaming with
# no host reserve: the fixes that work are smt = on and mode = workstation,
# and the message names them
printf '[vm]\n[host]\nreserve_cores = 0\n' > "$T_DIR/nores.ini"
pv --topology $S/tr7970x.xml --conf $S/101.conf --policy "$T_DIR/nores.ini" plan 101 2> "$T_DIR/e101" >/dev/null
expect_grep "seed VM 101: the refusal suggests mode = workstation" "use mode = workstation" "$T_DIR/e101"
printf '[vm]\nmode = workstation\n[host]\nreserve_cores = 0\n' > "$T_DIR/ws.ini"
expect_rc "seed VM 101: mode = workstation plans it" 0 pv --topology $S/tr7970x.xml --conf $S/101.conf --policy "$T_DIR/ws.ini" plan 101
try $S/tr7970x.xml $S/101.conf "$T_DIR/nores.ini"
# ... and with the default policy (a new user's first try): no single change
# works, so the refusal names the pair that does
printf '[vm]\n' > "$T_DIR/default.ini"
try $S/tr7970x.xml $S/101.conf "$T_DIR/default.ini"
expect_grep "seed VM 101, default policy: mode = workstation with the reserve lowered" \
	"use mode = workstation .* and lower reserve_cores" "$T_DIR/e"
# with the default reserve, workstation mode is refused for the host's sake,
# and lowering the reserve is the fix it names
printf '[vm]\nmode = workstation\n' > "$T_DIR/wsres.ini"
try $S/tr7970x.xml $S/101.conf "$T_DIR/wsres.ini"
expect_grep "seed VM 101: the reserve refusal says why" "below its reserve of [0-9]+ .*lower reserve_cores" "$T_DIR/e"

done_tests
