# `pvepin topo --latency` on a real kernel: 8 vCPUs under TCG. It runs to
# the end within its time, the matrix has every CPU once, a CPU to itself
# is not measured, the text groups by L3, the SVG carries the heatmap, and
# one CPU is an empty matrix, not a crash.
. /tests/lib.sh
t0=$(date +%s)
pvepin topo --latency --json --seconds 5 > /tmp/lat.json 2> /tmp/lat.err
expect_eq "topo --latency --json exits 0" "$?" 0
took=$(($(date +%s) - t0))
check "bounded: 5 s budget took ${took} s" test "$took" -le 15
check "nothing on stderr off a terminal" test ! -s /tmp/lat.err
expect_eq "matrix over the 8 CPUs" "$(grep -o '"cpus":\[[^]]*\]' /tmp/lat.json)" '"cpus":[0,1,2,3,4,5,6,7]'
expect_eq "8 rows" "$(sed -n '/"ns"/,$p' /tmp/lat.json | grep -c '\[')" 8
diag=$(sed -n '/"ns"/,$p' /tmp/lat.json | sed 's/^"ns"://; s/[][}]//g' | awk -F, '{ print $NR }' | sort -u | tr '\n' ' ')
expect_eq "a CPU to itself is not measured (null on the diagonal)" "$diag" "null "
expect_eq "every other pair measured" "$(tr ',' '\n' < /tmp/lat.json | grep -c null)" 8
pvepin topo --latency --seconds 3 > /tmp/lat.txt 2>&1
expect_eq "topo --latency exits 0" "$?" 0
sed 's/^/#   /' /tmp/lat.txt
expect_grep "text: relation table" '^  same L3 domain +8 ' /tmp/lat.txt
expect_grep "text: SMT siblings" '^  SMT siblings +4 ' /tmp/lat.txt
expect_grep "text: L3 matrix" 'L3 #1 +node 1' /tmp/lat.txt
pvepin topo --latency /tmp/lat.json --svg /tmp/lat.svg > /dev/null 2>&1
expect_eq "topo --latency FILE --svg exits 0" "$?" 0
expect_grep "SVG has the heatmap of 8" 'class="heatmap" data-n="8"' /tmp/lat.svg
expect_eq "SVG has each of the 8 PUs once" "$(grep -o 'class="pu" id="pu-[0-9]*"' /tmp/lat.svg | sort -u | wc -l)" 8
pvepin check --latency /tmp/lat.json --json > /tmp/latc.json 2>&1
check "check --latency FILE runs (exit 0, 1 or 2)" test $? -le 2
expect_grep "check --latency reports latency items" '"check":"latency' /tmp/latc.json
if command -v taskset > /dev/null; then
	taskset -c 5 pvepin topo --latency --json > /tmp/lat1.json 2> /tmp/lat1.err
	expect_eq "one CPU: exits 0" "$?" 0
	expect_grep "one CPU: says so" 'nothing to measure' /tmp/lat1.err
	expect_grep "one CPU: empty matrix" '"cpus":\[5\],' /tmp/lat1.json
else
	skip "one CPU: no taskset in the guest"
fi
done_case
