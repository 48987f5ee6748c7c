#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_tidy.sh - clang-tidy with the repository's .clang-tidy (every
# check an error) over every C file the build compiles from the source
# tree: src/, tests/, and the headers under src/ and include/ they pull
# in. Needs the build's compile_commands.json ($MG_BUILD). Fails on any
# finding and when clang-tidy is missing (tests/testbed/install.sh
# installs it). CLANG_TIDY picks the binary, MG_JOBS the parallelism.

set -euo pipefail

SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${MG_BUILD:-$SRC/build}
CT=${CLANG_TIDY:-clang-tidy}
DB=$BUILD/compile_commands.json

if ! command -v "$CT" >/dev/null 2>&1; then
	echo "test_tidy: $CT is not installed (tests/testbed/install.sh)"
	exit 1
fi
if [ ! -f "$DB" ]; then
	echo "test_tidy: no $DB (configure the build first)"
	exit 1
fi

# The files of the source tree in the compile database, not generated
# ones in the build tree.
mapfile -t files < <(python3 - "$DB" "$SRC" "$BUILD" <<'EOF'
import json, os, sys
db, src, build = (os.path.realpath(p) for p in sys.argv[1:4])
seen = set()
for e in json.load(open(db)):
    f = os.path.realpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(src + "/") and not f.startswith(build + "/"):
        seen.add(f)
print("\n".join(sorted(seen)))
EOF
)
if [ "${#files[@]}" -eq 0 ]; then
	echo "test_tidy: no source files in $DB"
	exit 1
fi
echo "test_tidy: $("$CT" --version | grep -m1 -i version | sed 's/^ *//')," \
    "${#files[@]} files"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rc=0
# One file per clang-tidy process: clang-tidy 14's va_list checker keeps
# state from one file to the next, and then reports a va_list that
# va_start did initialise (the result depended on the batching).
printf '%s\0' "${files[@]}" |
    xargs -0 -P "${MG_JOBS:-2}" -n 1 "$CT" -p "$BUILD" --quiet \
    "--header-filter=^$SRC/(src|include)/" >"$T/out" 2>"$T/err" || rc=$?

# A header finding shows once per file that includes it: count it once.
grep -E '^/.*:[0-9]+:[0-9]+: (warning|error): ' "$T/out" |
    sed "s|^$SRC/||" | sort -u >"$T/findings" || true
n=$(wc -l <"$T/findings")
if [ "$n" -eq 0 ] && [ "$rc" -eq 0 ]; then
	echo "test_tidy: no findings"
	exit 0
fi
cat "$T/findings"
if [ "$n" -eq 0 ]; then
	# No finding, yet a failure: clang-tidy itself could not run.
	grep -v -E 'warnings? (generated|treated as errors)' "$T/err" |
	    head -n 40
fi
echo "test_tidy: $n findings in" \
    "$(cut -d: -f1 "$T/findings" | sort -u | wc -l) files (exit $rc)"
exit 1
