#!/bin/sh
# pvepin against the hookscripts people use today, doing the same job on the
# same fake host: VM 100 of the seed guide (16 vCPUs, RTX 4090 + audio + USB
# controller, 48 x 1 GiB pages) on a fake Threadripper 7970X (bench/mkhost.sh)
# whose kernel side is played by bench/fakekernel.c, in tmpfs as /sys and
# /run are. Per phase: wall time (median of BENCH_RUNS cycles, from spawn to
# reap as PVE sees it), programs run (successful execve) and syscalls
# (strace -f -c, one more cycle), then whether the host came back exactly as
# it was. Peers: bench/hookscript-guide.sh (bash, echo/taskset) and
# bench/hookscript-guide.pl (perl in PVE's example-hookscript shape).
# Nothing real is touched: every tool gets the fake tree as ROOT / --root.
# bench/affinity_shim.c is preloaded into every tool: CPU masks are cut to the
# CPUs this machine has, and sleeps to 50 us (the fake kernel answers just
# after a write, a real one before it returns: see the shim).
BUILD=${BUILD:-build}
N=${BENCH_RUNS:-20}
cd "$(dirname "$0")/.." || exit 2
PVEPIN=${PVEPIN:-./pvepin}
B=$BUILD/bench
TOPO=tests/fixtures/seed/tr7970x.xml
PHASES="pre-start post-start pre-stop post-stop"

need() { command -v "$1" >/dev/null 2>&1 || { echo "run_peers: $1 not found: skipped"; exit 0; }; }
need strace; need perl; need ps; need taskset; need python3; need cc
[ -x "$PVEPIN" ] || { echo "run_peers: $PVEPIN not built: skipped"; exit 0; }

mkdir -p $B
build() { # out src flags...
	o=$1 s=$2; shift 2
	[ "$o" -nt "$s" ] || cc -std=c11 -D_GNU_SOURCE -O2 -Wall -o "$o" "$s" "$@" || exit 1
}
build $B/fakekernel bench/fakekernel.c
build $B/phasetime tests/helpers/phasetime.c
build $B/affinity_shim.so bench/affinity_shim.c -shared -fPIC -ldl
build $B/fakeqemu tests/helpers/fakeqemu.c -lpthread
SHIM=$(pwd)/$B/affinity_shim.so

if [ -d /dev/shm ] && [ -w /dev/shm ]; then T=$(mktemp -d /dev/shm/pvepin-bench.XXXXXX); else T=$(mktemp -d); fi
KPID="" QPID=""
cleanup() {
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null
	[ -n "$KPID" ] && kill "$KPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Every regular file's content and every symlink's target, minus the VM's
# runtime files: "the host" as a hookscript may leave it.
snapshot() {
	python3 - "$1" <<'PY'
import os, stat, sys
root = sys.argv[1]
skip = ('run/qemu-server', 'run/pvepin/lock', 'proc/sys/vm/drop_caches', 'proc/sys/vm/compact_memory')
for d, dirs, files in os.walk(root):
    dirs.sort()
    for f in sorted(files + [x for x in dirs if os.path.islink(os.path.join(d, x))]):
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        if rel.startswith(skip) or (rel.startswith('proc/') and rel.split('/')[1].isdigit()):
            continue
        if rel.endswith('/compact'):
            continue
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            print(rel, '->', os.readlink(p))
        elif stat.S_ISREG(st.st_mode):
            print(rel, '=', open(p, errors='replace').read().strip().replace('\n', '\\n'))
PY
}

# cmd_of TOOL PHASE: the command PVE would run, against tree $R.
cmd_of() {
	case $1 in
	bash | bash-irqs) echo "bash bench/hookscript-guide.sh 100 $2" ;;
	perl) echo "perl bench/hookscript-guide.pl 100 $2" ;;
	pvepin) echo "$PVEPIN --root $R --topology $TOPO 100 $2" ;;
	esac
}
# envof TOOL: its environment besides ROOT and the shim.
envof() {
	case $1 in
	bash-irqs) echo OTHER_IRQS=1 ;;
	*) echo PV_BENCH_TOOL=$1 ;;
	esac
}

qemu_start() {
	$B/fakeqemu --vmid 100 --vcpus 16 --pidfile $R/run/qemu-server/100.pid > $T/qemu.log 2>&1 &
	QPID=$!
	w=0
	while [ ! -s $R/run/qemu-server/100.pid ] && [ $w -lt 500 ]; do sleep 0.01; w=$((w + 1)); done
	ln -s /proc/$QPID $R/proc/$QPID
}
qemu_stop() {
	kill $QPID; wait $QPID 2>/dev/null
	rm -f $R/proc/$QPID
	QPID=""
}

# run TOOL PHASE MODE: MODE time (append to times) or trace (strace -c)
run() {
	c=$(cmd_of $1 $2)
	if [ $3 = time ]; then
		env $(envof $1) ROOT=$R LD_PRELOAD=$SHIM timeout 60 $B/phasetime $T/$1.$2.times $c >> $T/$1.log 2>&1
	else
		# pvepin's phase is one process; the agent post-start leaves
		# behind is a daemon of its own, not the phase's cost (and -f
		# would follow it until QEMU ends)
		sf=-f; case $1 in pvepin*) sf= ;; esac
		env $(envof $1) ROOT=$R LD_PRELOAD=$SHIM timeout 60 strace $sf -c -o $T/$1.$2.strace $c >> $T/$1.log 2>&1
	fi
}
# floor_sample: one spawn of the empty C program, timed as a phase is; taken
# beside every timed phase so the floor sees the same load the phases do
floor_sample() {
	[ $1 = time ] && LD_PRELOAD=$SHIM $B/phasetime $T/floor.times $B/empty > /dev/null 2>&1
	return 0
}
cycle() { # TOOL MODE
	run $1 pre-start $2; floor_sample $2
	qemu_start
	run $1 post-start $2; floor_sample $2
	run $1 pre-stop $2; floor_sample $2
	qemu_stop
	run $1 post-stop $2; floor_sample $2
}

# bench TOOL NIRQ: a fresh host, N timed cycles and one traced.
bench() {
	R=$T/host-$1-$2
	sh bench/mkhost.sh $R $2 || exit 1
	snapshot $R > $T/$1.before
	rm -f $T/ready
	$B/fakekernel $R $T/ready &
	KPID=$!
	while [ ! -e $T/ready ]; do sleep 0.01; done
	i=0
	while [ $i -lt $N ]; do cycle $1 time; i=$((i + 1)); done
	cycle $1 trace
	kill $KPID; wait $KPID 2>/dev/null; KPID=""
	snapshot $R > $T/$1.after
	diff $T/$1.before $T/$1.after > $T/$1.diff
	rm -rf $R
}

# summary TOOL PHASE: "wall_ms programs syscalls failures"
summary() {
	python3 - $T/$1.$2.times $T/$1.$2.strace <<'PY'
import sys
t = [l.split() for l in open(sys.argv[1])]
w = sorted(int(x[0]) for x in t)
wall = (w[(len(w) - 1) // 2] + w[len(w) // 2]) / 2000.0  # median: robust to a loaded machine
bad = sum(1 for x in t if x[3] != '0')
calls = execs = 0
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) >= 5 and f[-1] == 'total':
        calls = int(f[3])
    if len(f) >= 5 and f[-1] == 'execve':
        execs = int(f[3]) - (int(f[4]) if len(f) == 6 else 0)
print('%.2f %d %d %d' % (wall, execs, calls, bad))
PY
}

# median FILE: median wall ms of phasetime's lines
median() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.2f", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2000 }'
}
# floor CMD...: median wall ms of N spawns of CMD, as phases are timed
floor() {
	rm -f $T/floor1.times
	i=0
	while [ $i -lt $N ]; do
		LD_PRELOAD=$SHIM $B/phasetime $T/floor1.times "$@" > /dev/null 2>&1
		i=$((i + 1))
	done
	median $T/floor1.times
}
printf 'int main(void) { return 0; }\n' > $T/empty.c
cc -O2 -o $B/empty $T/empty.c || exit 1
FLOOR_SH=$(floor bash -c :)

echo "== hookscript peers: VM 100 of the seed guide on a fake 7970X host, median of $N runs"
$PVEPIN --root /nonexistent 100 pre-stop 2>$T/probe >/dev/null
if grep -q "unknown command" $T/probe; then
	TOOLS="bash perl"
	echo "pvepin: phases not available in this build"
else
	TOOLS="bash perl pvepin"
fi
rm -f $T/floor.times
for tool in $TOOLS; do bench $tool 0; done
FLOOR_C=$(median $T/floor.times)
echo "spawn floor here: an empty C program ${FLOOR_C} ms (sampled beside every phase), bash doing nothing ${FLOOR_SH} ms"

# ratio A B: A / B to 2 places ("-" when B is 0)
ratio() { python3 -c "print('%.2f' % ($1 / $2) if $2 > 0 else '-')"; }
printf '%-11s %-19s %8s %8s %8s %7s %7s %7s\n' phase hookscript "wall ms" programs syscalls \
	"bash/it" "perl/it" "it/floor"
VERDICT=$T/verdict
: > $VERDICT
for ph in $PHASES; do
	label=$ph
	bw=$(summary bash $ph | cut -d' ' -f1)
	pw=$(summary perl $ph | cut -d' ' -f1)
	for tool in $TOOLS empty; do
		if [ $tool = empty ]; then
			set -- $FLOOR_C - - 0
		else
			set -- $(summary $tool $ph)
		fi
		case $tool in
		bash) name="bash (guide)" ;; perl) name="perl (PVE example)" ;;
		pvepin) name=pvepin ;; empty) name="empty C program" ;;
		esac
		rb=$(ratio $bw $1) rp=$(ratio $pw $1) rf=$(ratio $1 $FLOOR_C)
		fails=""; [ "$4" != 0 ] && fails=" ($4 runs failed: see below)"
		printf '%-11s %-19s %8s %8s %8s %7s %7s %7s%s\n' "$label" "$name" $1 $2 $3 $rb $rp $rf "$fails"
		[ $tool = pvepin ] && echo "$ph $rb $rp $rf $4" >> $VERDICT
		label=""
	done
done
echo "(bash/it, perl/it: that peer's time over this row's, >= 1.00 where this row is as fast or faster;"
echo " it/floor: this row's time over the empty C program's; programs: execve that succeeded, the"
echo " hook's own included; wall: spawn to reap, as PVE waits)"
if [ -s $VERDICT ]; then
	awk '{ ok = $5 == 0 && $2 >= 1 && $3 >= 1; if (!ok) bad = bad " " $1 }
	     $1 == "pre-stop" { ps = $4 }
	     END { printf "pvepin as fast as every peer in every phase: %s\n", bad == "" ? "yes" : "NO (" bad " )";
		   printf "pvepin pre-stop: %.2f x the empty C program (target <= 1.20): %s\n", ps, ps <= 1.2 ? "yes" : "NO" }' $VERDICT
fi
for tool in $TOOLS; do
	n=$(grep -c '^[<>]' $T/$tool.diff)
	if [ "$n" = 0 ]; then
		echo "$tool: host given back exactly after $((N + 1)) start/stop cycles"
	else
		echo "$tool: host NOT given back as it was: $(grep -c '^>' $T/$tool.diff) values differ:"
		grep '^>' $T/$tool.diff | sed -E 's/^> //; s/ = .*//; s/ -> .*//' | sed -E \
			-e 's#^proc/irq/.*#IRQ affinity#' -e 's#^sys/fs/cgroup/.*#cgroup cpuset#' \
			-e 's#^sys/devices/system/node/.*#hugepage pool#' -e 's#^sys/devices/system/cpu/.*#cpu governor#' \
			-e 's#^sys/bus/pci/.*#PCI driver binding#' -e 's#^dev/vfio/.*#vfio group node#' | \
			sort | uniq -c | sed 's/^ */    /'
		grep '^[<>]' $T/$tool.diff | grep -v proc/irq | head -6 | sed 's/^/    /'
	fi
	if [ -s $T/$tool.log ] && grep -qiE "error|fail|refus" $T/$tool.log; then
		echo "$tool said (first lines):"
		grep -iE "error|fail|refus" $T/$tool.log | sort | uniq -c | sort -rn | head -4 | sed 's/^/    /'
	fi
done

# IRQ discovery and steering at scale: post-start with 5,000 IRQs on the host
# bash-irqs: the bash hookscript also moving every other IRQ onto the host
# CPUs (and back to all CPUs at stop), as isolation does in pvepin: the
# same job, which the plain guide script does not do.
echo "== post-start with 5,000 IRQs in /proc/interrupts (median of $N runs)"
echo "(bash-irqs: the bash hookscript also moving the other IRQs, as pvepin does)"
base=""
for tool in bash-irqs $TOOLS; do
	rm -f $T/$tool.*.times $T/$tool.*.strace $T/$tool.log
	bench $tool 5000
	set -- $(summary $tool post-start)
	[ -z "$base" ] && base=$1
	printf '%-20s %9s ms %6s programs %8s syscalls  bash-irqs/it %s\n' $tool $1 $2 $3 $(ratio $base $1)
	[ $tool = pvepin ] && echo "pvepin post-start with 5,000 IRQs: $(ratio $base $1) x faster than bash-irqs (target >= 2): $(python3 -c "print('yes' if $base >= 2 * $1 else 'NO')")"
done
exit 0
