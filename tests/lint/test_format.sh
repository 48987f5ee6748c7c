#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_format.sh - every tracked .c and .h file is as clang-format (with
# the repository's .clang-format) would write it. Skips, with a message,
# where clang-format is not installed.

set -euo pipefail

SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$SRC"

CF=${CLANG_FORMAT:-clang-format}
if ! command -v "$CF" >/dev/null 2>&1; then
	echo "test_format: $CF is not installed: skipped"
	exit 0
fi

mapfile -d '' files < <(git ls-files -z -- '*.c' '*.h')
if [ "${#files[@]}" -eq 0 ]; then
	echo "test_format: no tracked C files"
	exit 0
fi
echo "test_format: $("$CF" --version | head -n 1), ${#files[@]} files"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
"$CF" --style=file --dry-run -Werror "${files[@]}" >"$out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	# One line per file, then the first places in full.
	grep -E '^[^ ].*: error: ' "$out" | cut -d: -f1 | sort | uniq -c |
	    awk '{ printf "%s: %d places differ from clang-format\n", $2, $1 }'
	echo "first differences:"
	head -n 30 "$out"
	echo "test_format: run '$CF -i' on the files above"
fi
exit "$rc"
