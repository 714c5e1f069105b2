#!/bin/sh
# make bench: figures, not pass/fail. Plan time after topology load on the
# seed 7970X and on large hosts (targets: < 1 ms on the 7970X, < 10 ms at
# 384 and 1024 PUs), and peak RSS.
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.." || exit 2
B=$BUILD/bench/bench_plan H=tests/fixtures/hosts C=tests/fixtures/conf-plan
echo "== plan time (topology loaded once; mean of N plans)"
$B tests/fixtures/seed/tr7970x.xml tests/fixtures/seed/100.conf - 1000 || exit 1
$B $H/epyc9654-2s.xml $C/vm16.conf $C/gaming.ini 200 || exit 1
$B $H/synthetic-384pu-8numa.xml $C/vm16.conf $C/gaming.ini 200 || exit 1
$B $H/synthetic-1024pu-16numa.xml $C/vm16.conf $C/gaming.ini 100 || exit 1
$B $H/synthetic-1024pu-16numa.xml $C/vm16.conf $C/workstation.ini 100 || exit 1
for s in bench/run_*.sh; do [ -f "$s" ] && sh "$s"; done
exit 0
