#!/bin/sh
# make lint: the two rules the tree's shape stands for (doc/DESIGN.md
# "Layers").
#  1. Includes run one way: a file includes headers of its own layer or of a
#     layer below it, named from the repository root ("engine/journal.h"),
#     never "../x.h" or <engine/journal.h>. Peers (pinner/irqtune;
#     agent/check/draw) do not include each other.
#  2. Only engine/ changes the host: no file outside it calls a host-writing
#     primitive or includes the engine's private step interface.
# ROOT (default: the repository) lets tests/tools/test_lint.sh run it on a
# copy with a planted violation. Prints one line per violation; exit 1 if any.
# One awk pass over every file: a process per include line took minutes on
# a loaded machine.
ROOT=${ROOT:-$(dirname "$0")/../..}
cd "$ROOT" || exit 2
LAYERS=${LAYERS:-common conf pinner irqtune engine vmctx agent check draw hook}

# The level of each layer: a layer may include only layers of a lower level
# (and itself). Layers of one level are peers.
level() {
	case $1 in
	common) echo 0 ;; conf) echo 1 ;; pinner | irqtune) echo 2 ;; engine) echo 3 ;;
	vmctx) echo 4 ;; agent | check | draw) echo 5 ;; hook) echo 6 ;; *) echo -1 ;;
	esac
}

# Host-writing primitives (extended regexps, matched on code with comments
# removed; strings kept for the D-Bus method names): the attribute writers,
# thread affinity of another task, systemd unit changes, irqbalance's
# settings, PCI (re)binding, raw socket sends, and the engine's unjournaled
# writers (hugepage pools, a thread's CPUs, cgroup cpuset files), which only
# its steps may call.
PRIMS="(^|[^A-Za-z0-9_])(pv_write_file|pv_attr_put|sched_setaffinity|pv_irqb_set_banned|pv_irqb_set_banned_irqs|pv_irqbalance_set_banned|pv_irqbalance_set_banned_irqs|pv_irqb_request|pv_pci_set_override|pv_pci_unbind|pv_pci_probe|pv_engine_step|sendmsg|pv_hp_set|pv_thread_set_cpus|pv_cgroup_write_cpus|pv_cgroup_set_partition|pv_cgroup_cpuset_enable)[[:space:]]*\\(|(^|[^A-Za-z0-9_])SYS_sched_setaffinity([^A-Za-z0-9_]|\$)|\"(SetUnitProperties|StartTransientUnit|StopUnit)\""
bad=0
say() { echo "lint: $*"; bad=1; }

levels=""
for d in $LAYERS; do
	[ "$(level "$d")" -ge 0 ] || { say "$d: not a known layer (tests/tools/lint.sh level())"; continue; }
	[ -d "$d" ] || { say "$d: listed layer has no folder"; continue; }
	levels="$levels $d=$(level "$d")"
done
files=""
for d in $LAYERS; do
	for f in "$d"/*.c "$d"/*.h; do
		[ -f "$f" ] && files="$files $f"
	done
done
[ -n "$files" ] || { say "no source files under $LAYERS"; exit 1; }

# shellcheck disable=SC2086 # $files: paths without blanks, one word each
out=$(LINT_LEVELS="$levels" LINT_LAYERS="$LAYERS" LINT_PRIMS="$PRIMS" awk '
function lvl(l) { return (l in LV) ? LV[l] : -1 }
function say(msg) { print "lint: " FILENAME ":" FNR ": " msg }
# the line without comments; incom carries a /* comment to the next line
function strip(s,   out, i, j) {
	out = ""
	while (length(s)) {
		if (incom) {
			i = index(s, "*/")
			if (!i)
				return out
			s = substr(s, i + 2); incom = 0; continue
		}
		i = index(s, "/*"); j = index(s, "//")
		if (j && (!i || j < i))
			return out substr(s, 1, j - 1)
		if (!i)
			return out s
		out = out substr(s, 1, i - 1); s = substr(s, i + 2); incom = 1
	}
	return out
}
function check_inc(name,   top, li, dummy) {
	if (name ~ /(^|\/)\.\.\//) {
		say("relative include \"" name "\": name it from the repository root")
		return
	}
	if (name !~ /\//) {
		say("include \"" name "\" without its folder: write \"" dir "/" name "\"")
		return
	}
	top = name; sub(/\/.*/, "", top); li = lvl(top)
	if (li < 0)
		say("include \"" name "\" is in no layer")
	else if (top != dir && li >= ld)
		say(dir "/ may not include " top "/ (\"" name "\"): includes run " chain)
	else if (dir != "engine" && name == "engine/steps.h")
		say("engine/steps.h is the engine'\''s own: call an engine/engine.h function")
	if ((getline dummy < name) < 0)
		say("\"" name "\" does not exist")
	else
		close(name)
}
BEGIN {
	n = split(ENVIRON["LINT_LEVELS"], kv, " ")
	for (i = 1; i <= n; i++) { split(kv[i], p, "="); LV[p[1]] = p[2] + 0 }
	chain = ENVIRON["LINT_LAYERS"]; gsub(/ +/, " <- ", chain)
	prims = ENVIRON["LINT_PRIMS"]
}
FNR == 1 { dir = FILENAME; sub(/\/.*/, "", dir); ld = lvl(dir); incom = 0 }
{
	line = $0
	if (!incom && match(line, /^[ \t]*#[ \t]*include[ \t]*</)) {
		name = substr(line, RSTART + RLENGTH); sub(/>.*/, "", name)
		top = name; sub(/\/.*/, "", top)
		if (top != name && lvl(top) >= 0)
			say("<" name "> is pvepin'\''s own: write #include \"" name "\"")
	} else if (!incom && match(line, /^[ \t]*#[ \t]*include[ \t]*"/)) {
		name = substr(line, RSTART + RLENGTH); sub(/".*/, "", name)
		check_inc(name)
	}
	code = strip(line)
	if (dir != "engine" && match(code, prims)) {
		what = substr(code, RSTART, RLENGTH); gsub(/[^A-Za-z0-9_]/, "", what)
		say(what " changes the host: only engine/ may call it (add an engine step)")
	}
}' $files) || { say "awk failed"; exit 2; }
if [ -n "$out" ]; then
	echo "$out"
	bad=1
fi
[ $bad = 0 ] && echo "lint: ok ($(echo $LAYERS | wc -w) layers, includes one way, host writes in engine/ only)"
exit $bad
