#!/bin/sh
# make lint: the two rules the tree's shape stands for (doc/DESIGN.md
# "Layers").
#  1. Includes run one way: a file includes headers of its own layer or of a
#     layer below it, named from the repository root ("engine/journal.h"),
#     never "../x.h". Peers (pinner/irqtune; agent/check/draw) do not include
#     each other.
#  2. Only engine/ changes the host: no file outside it calls a host-writing
#     primitive or includes the engine's private step interface.
# ROOT (default: the repository) lets tests/tools/test_lint.sh run it on a
# copy with a planted violation. Prints one line per violation; exit 1 if any.
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
# and strings removed): the attribute writers, thread affinity of another
# task, systemd unit changes, irqbalance's settings, PCI (re)binding, and
# raw socket sends.
PRIMS='\<(pv_write_file|pv_attr_put|sched_setaffinity|pv_irqb_set_banned|pv_irqb_set_banned_irqs|pv_irqbalance_set_banned|pv_irqbalance_set_banned_irqs|pv_irqb_request|pv_pci_set_override|pv_pci_unbind|pv_pci_probe|pv_engine_step|sendmsg)[[:space:]]*\(|"(SetUnitProperties|StartTransientUnit|StopUnit)"'
# Files in engine/ that the rule names as the engine's own.
bad=0
say() { echo "lint: $*"; bad=1; }

for d in $LAYERS; do
	[ "$(level "$d")" -ge 0 ] || { say "$d: not a known layer (tests/tools/lint.sh level())"; continue; }
	[ -d "$d" ] || { say "$d: listed layer has no folder"; continue; }
done

for d in $LAYERS; do
	ld=$(level "$d")
	for f in "$d"/*.c "$d"/*.h; do
		[ -f "$f" ] || continue
		grep -n '#include "' "$f" | while IFS= read -r line; do
			n=${line%%:*}
			inc=$(echo "$line" | sed -E 's/.*#include "([^"]+)".*/\1/')
			case $inc in
			../* | */../*) echo "lint: $f:$n: relative include \"$inc\": name it from the repository root" ;;
			*/*) ;;
			*) echo "lint: $f:$n: include \"$inc\" without its folder: write \"$d/$inc\"" ; continue ;;
			esac
			il=${inc%%/*}
			li=$(level "$il")
			if [ "$li" -lt 0 ]; then
				echo "lint: $f:$n: include \"$inc\" is in no layer"
			elif [ "$il" != "$d" ] && [ "$li" -ge "$ld" ]; then
				echo "lint: $f:$n: $d/ may not include $il/ (\"$inc\"): includes run $(echo $LAYERS | sed 's/ / <- /g')"
			elif [ "$il" = engine ] && [ "$d" != engine ] && [ "$inc" = engine/steps.h ]; then
				echo "lint: $f:$n: engine/steps.h is the engine's own: call an engine/engine.h function"
			fi
			[ -f "$inc" ] || echo "lint: $f:$n: \"$inc\" does not exist"
		done
		[ "$d" = engine ] && continue
		# comments and string literals out (a primitive named in a comment
		# is no call), but keep D-Bus method names, which are strings
		sed -E -e 's://.*$::' "$f" | awk '
			{ line = $0; out = "";
			  while (length(line)) {
				if (inc) { i = index(line, "*/"); if (!i) { line = ""; break } line = substr(line, i + 2); inc = 0; continue }
				i = index(line, "/*"); if (!i) { out = out line; break }
				out = out substr(line, 1, i - 1); line = substr(line, i + 2); inc = 1
			  }
			  print out }' | grep -nE "$PRIMS" | while IFS= read -r hit; do
			n=${hit%%:*}
			what=$(echo "$hit" | grep -oE "$PRIMS" | head -1 | tr -d '"( ')
			echo "lint: $f:$n: $what changes the host: only engine/ may call it (add an engine step)"
		done
	done
done > "${TMPDIR:-/tmp}/pvepin-lint.$$"
if [ -s "${TMPDIR:-/tmp}/pvepin-lint.$$" ]; then
	cat "${TMPDIR:-/tmp}/pvepin-lint.$$"
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/pvepin-lint.$$"
[ $bad = 0 ] && echo "lint: ok ($(echo $LAYERS | wc -w) layers, includes one way, host writes in engine/ only)"
exit $bad
