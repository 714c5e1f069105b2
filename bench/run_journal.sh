#!/bin/sh
# The journal restore reads: load time and memory per entry for a journal
# of 100,000 entries (target: well under 100 ms), and 10,000 for scale.
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.." || exit 2
echo "== journal load (what post-stop restore reads)"
$BUILD/bench/bench_journal 10000 || exit 1
$BUILD/bench/bench_journal 100000 || exit 1
