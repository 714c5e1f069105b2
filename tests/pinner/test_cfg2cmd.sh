#!/bin/sh
# Every config of qemu-server's own config-to-command tests (tests/fixtures/
# cfg2cmd, README there): pvepin reads it as PVE does, compared with the QEMU
# command PVE made of it, or refuses it with one clear line (issue 14).
. tests/lib.sh
D=$FIX/cfg2cmd
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p $TMP/root/etc/pve/mapping
cp $D/pci.cfg $TMP/root/etc/pve/mapping/pci.cfg
echo localhost > $TMP/root/etc/hostname
# a 4-node host; qemu-server's test mocks every host node as existing
X=$FIX/hosts/xeon-4s-4numa-pci.xml
printf '[vm]\nmode = workstation\n[host]\nreserve_cores = 0\n' > $TMP/p.ini
nread=0 nref=0
for c in $D/*.conf; do
	n=$(basename $c .conf)
	if $PVEPIN --root $TMP/root --topology $X --policy $TMP/p.ini --conf $c plan 100 --json > $TMP/p.json 2> $TMP/err; then
		if [ -f $c.cmd ]; then
			if out=$(python3 tests/tools/cfg2cmd_check.py $TMP/p.json $c.cmd 2>&1); then
				pass "$n: read as PVE reads it"; nread=$((nread + 1))
			else
				fail "$n: $out"
			fi
		else
			pass "$n: read (PVE refuses it for a reason pvepin does not read)"
		fi
	else
		if [ "$(wc -l < $TMP/err)" = 1 ] && grep -q '^pvepin plan: ' $TMP/err; then
			pass "$n: refused: $(cut -c1-160 $TMP/err)"; nref=$((nref + 1))
		else
			fail "$n: refused without one clear line: $(cat $TMP/err)"
		fi
	fi
done
# the ones whose semantics issue 14 names must be read, not refused
for n in q35-linux-hostpci-mapping memory-hugepages-1g memory-hugepages-2m simple1-template bootorder-empty; do
	$PVEPIN --root $TMP/root --topology $X --policy $TMP/p.ini --conf $D/$n.conf plan 100 --json > $TMP/p.json 2> $TMP/err \
		&& pass "$n is read" || fail "$n refused: $(cat $TMP/err)"
done
$PVEPIN --root $TMP/root --topology $X --policy $TMP/p.ini --conf $D/q35-linux-hostpci-mapping.conf plan 100 --json > $TMP/m.json
expect_eq "mapping: first free entry each, mdev parent not bound" \
	"$(python3 -c "import json; d=json.load(open('$TMP/m.json')); print([(x['bdf'],x['treatment'],x['mapping'],x['map_entry']) for x in d['devices']])")" \
	"[('0000:07:10.0', 'bind', 'someNic', 0), ('0000:01:00.4', 'mdev', 'someGpu', 0), ('0000:07:10.1', 'bind', 'someNic', 1)]"
echo "# $nread read and compared, $nref refused"
done_tests
