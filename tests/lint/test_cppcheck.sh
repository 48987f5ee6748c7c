#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cppcheck.sh - cppcheck over the build's compile_commands.json
# ($MG_BUILD) with the options of the style guide, limited to the files
# of src/ and tests/ (and the headers they include). Fails on any
# finding and when cppcheck is missing (tests/testbed/install.sh
# installs it).
#
# One deviation, on purpose: variableScope ("the scope of the variable
# can be reduced") is off. The house style declares every variable at
# the top of its function, so that a "goto out" never jumps over an
# initialisation; that check asks for the opposite.

set -euo pipefail

SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${MG_BUILD:-$SRC/build}
CC_CHECK=${CPPCHECK:-cppcheck}
DB=$(cd "$BUILD" 2>/dev/null && pwd)/compile_commands.json

if ! command -v "$CC_CHECK" >/dev/null 2>&1; then
	echo "test_cppcheck: $CC_CHECK is not installed" \
	    "(tests/testbed/install.sh)"
	exit 1
fi
if [ ! -f "$DB" ]; then
	echo "test_cppcheck: no $DB (configure the build first)"
	exit 1
fi
echo "test_cppcheck: $("$CC_CHECK" --version)"

# --file-filter matches the paths as the compile database spells them:
# absolute, under CMAKE_SOURCE_DIR (which is what MG_SRC is).
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rc=0
"$CC_CHECK" --project="$DB" \
    --enable=warning,style,performance,portability --inconclusive \
    --inline-suppr --suppress=missingIncludeSystem \
    --suppress=variableScope \
    --error-exitcode=1 --quiet -j "${MG_JOBS:-2}" \
    --file-filter="$SRC/src/*" --file-filter="$SRC/tests/*" \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    >"$T/out" 2>&1 || rc=$?

# The same finding may come once per preprocessor configuration.
grep -E '^[^ ]+:[0-9]+:[0-9]+: ' "$T/out" | sed "s|^$SRC/||" |
    sort -u >"$T/findings" || true
n=$(wc -l <"$T/findings")
if [ "$n" -eq 0 ] && [ "$rc" -eq 0 ]; then
	echo "test_cppcheck: no findings"
	exit 0
fi
cat "$T/findings"
if [ "$n" -eq 0 ]; then
	head -n 40 "$T/out"
fi
echo "test_cppcheck: $n findings (exit $rc)"
exit 1
