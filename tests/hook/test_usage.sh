#!/bin/sh
# The command line as a new user meets it: per-command help, option errors
# in pvepin's own words, combinations refused, a mistyped --root refused,
# and restore with nothing recorded saying so.
. tests/lib.sh
S=$FIX/seed
R=$T_DIR/root
mkdir -p "$R"

# --- help for one command, exit 0, on stdout
for form in "help plan" "plan --help" "plan -h" "plan 100 --help"; do
	expect_rc "pvepin $form: exit 0" 0 $PVEPIN $form
	expect_grep "pvepin $form: plan's usage" "^Usage: pvepin \[OPTIONS\] plan VMID" "$T_OUT"
	if grep -q "^  status\|^  topo" "$T_OUT"; then fail "pvepin $form: other commands listed too"; else
		pass "pvepin $form: only plan's lines"; fi
	expect_grep "pvepin $form: the global options follow" "^  --root DIR" "$T_OUT"
done
expect_rc "help topo: exit 0" 0 $PVEPIN help topo
expect_grep "help topo: both topo forms" "^       pvepin \[OPTIONS\] topo --latency" "$T_OUT"
expect_rc "help install" 0 $PVEPIN install --help
expect_grep "help install: install's line, not uninstall's" "^Usage: pvepin \[OPTIONS\] install \[--storage-dir" "$T_OUT"
expect_rc "help: the whole usage" 0 $PVEPIN help
expect_grep "help: the whole usage text" "^Commands:" "$T_OUT"
expect_rc "help of no such command: exit 2" 2 $PVEPIN help frobnicate
expect_grep "... says so" "^pvepin: no command 'frobnicate'" "$T_OUT"

# --- option errors: pvepin's words, never the binary's path (getopt's)
expect_rc "unknown option: exit 2" 2 $PVEPIN --bogus topo
expect_eq "unknown option: one line starting pvepin:" "$(cat "$T_OUT")" \
	"pvepin: unknown option '--bogus'. Try 'pvepin --help'."
expect_rc "unknown short option: exit 2" 2 $PVEPIN -x topo
expect_eq "unknown short option named" "$(cat "$T_OUT")" "pvepin: unknown option '-x'. Try 'pvepin --help'."
expect_rc "missing option argument: exit 2" 2 $PVEPIN --root
expect_eq "missing argument named" "$(cat "$T_OUT")" \
	"pvepin: option '--root' needs an argument. Try 'pvepin --help'."
abs=$(cd "$(dirname "$PVEPIN")" && pwd)/$(basename "$PVEPIN")
expect_rc "unknown option through an absolute path" 2 "$abs" --bogus
if grep -q "$abs" "$T_OUT"; then fail "the binary's path in the error: $(cat "$T_OUT")"; else
	pass "the binary's path is not in the error"; fi

# a command's own argument errors point at that command's help, which exists
for c in plan check status restore topo install; do
	$PVEPIN $c --bogus > "$T_DIR/e" 2>&1
	expect_grep "$c --bogus names 'pvepin help $c'" "^pvepin $c: unexpected argument '--bogus'. Try 'pvepin help $c'.$" "$T_DIR/e"
	expect_rc "... and pvepin help $c works" 0 $PVEPIN help $c
done

# --- plan --json --pve: two outputs, refused (either order, global --json too)
for form in "plan 100 --json --pve" "plan 100 --pve --json" "--json plan 100 --pve"; do
	expect_rc "$form: exit 2" 2 $PVEPIN --root "$R" --topology $S/tr7970x.xml --conf $S/100.conf $form
	expect_eq "$form: one clear line, no JSON" "$(cat "$T_OUT")" \
		"pvepin plan: --json and --pve are two different outputs: choose one"
done

# --- --root must be a directory: never describe this machine instead
expect_rc "--root /nonexistent topo: exit 2" 2 $PVEPIN --root "$T_DIR/nonexistent" topo
expect_eq "... says why" "$(cat "$T_OUT")" "pvepin: --root $T_DIR/nonexistent: No such file or directory"
expect_rc "--root FILE: exit 2" 2 $PVEPIN --root tests/lib.sh check
expect_eq "... says why" "$(cat "$T_OUT")" "pvepin: --root tests/lib.sh: not a directory"

# --- restore with nothing recorded says so, exit 0
mkdir -p "$R/run/pvepin"
expect_rc "restore with nothing recorded: exit 0" 0 $PVEPIN --root "$R" restore 100
expect_grep "... says nothing is recorded" "nothing is recorded for VM 100.*nothing to undo" "$T_OUT"
printf "100 garbage\\n100 garbage\\n" > "$R/run/pvepin/100.journal"
expect_rc "restore with a journal there runs the undo (a bad journal fails)" 1 $PVEPIN --root "$R" restore 100
if grep -q "nothing is recorded" "$T_OUT"; then fail "a journal there is not 'nothing recorded'"; else
	pass "a journal there is not 'nothing recorded'"; fi

done_tests
