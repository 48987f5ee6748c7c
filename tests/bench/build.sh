#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/bench/build.sh [OUTDIR] - build the benchmark tools with cc.
# They are not part of the CMake build or of tests/run: timing never
# decides pass or fail. Default OUTDIR: tests/bench/bin (git-ignored by
# convention: never commit it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/bin}
mkdir -p "$out"
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -o "$out/authbench" \
    "$here/authbench.c"
echo "$out/authbench"
