#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# smoke.sh - the short fuzz run CI does for one target (CTest label
# fuzz-smoke): its seeds from tests/fuzz/corpus/<target>/, its
# dictionary tests/fuzz/<target>.dict, a fixed seed and a fixed number of
# runs. It fails only when the target crashes, leaks or times out on an
# input; the input is kept in $MG_BUILD/fuzz-artifacts/.
#
#	smoke.sh BINARY
#
# The number of runs is MG_FUZZ_RUNS, else the "smoke runs: N" line in
# the target's header comment (a few seconds' worth), else 100000.
#
# A long run by hand, from the source tree (new inputs go to the scratch
# directory named first, never into the seeds):
#	mkdir -p /tmp/fz && build-asan/tests/fuzz_config -dict=\
#	    tests/fuzz/fuzz_config.dict -max_total_time=600 /tmp/fz \
#	    tests/fuzz/corpus/fuzz_config

set -euo pipefail

BIN=$1
NAME=$(basename "$BIN")
SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${MG_BUILD:-$(dirname "$(dirname "$BIN")")}
SEEDS=$SRC/tests/fuzz/corpus/$NAME
DICT=$SRC/tests/fuzz/$NAME.dict
ART=$BUILD/fuzz-artifacts

runs=${MG_FUZZ_RUNS:-$(sed -n 's/^ \* smoke runs: \([0-9]*\)$/\1/p' \
    "$SRC/tests/fuzz/$NAME.c" 2>/dev/null | head -n 1)}
args=(-seed=1 "-runs=${runs:-100000}" -max_len=4096 -timeout=10
    -rss_limit_mb=1024 -print_final_stats=1 "-artifact_prefix=$ART/$NAME-")
if [ -f "$DICT" ]; then
	args+=("-dict=$DICT")
fi
mkdir -p "$ART"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
dirs=("$T")
if [ -d "$SEEDS" ]; then
	dirs+=("$SEEDS")
fi

rc=0
"$BIN" "${args[@]}" "${dirs[@]}" >"$T/log" 2>&1 || rc=$?
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done )' \
    "$T/log" || true
if [ "$rc" -ne 0 ]; then
	grep -v -E '^(#[0-9]+|INFO:)' "$T/log" | tail -n 60
	echo "smoke: $NAME failed (exit $rc); input kept under $ART/"
	exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/log")
echo "smoke: $NAME: no crash in ${runs:-?} runs"
