# SPDX-License-Identifier: MIT
#
# cli_env.sh - what every test of the mailgate CLI starts with: the
# binary, a scratch directory, check/die/run helpers and a fresh database.
# Sourced, not run (the test_*.sh glob does not pick it up).

: "${MG_BUILD:?run through ctest/tests/run}" "${MG_SRC:?}"
. "$MG_SRC/tests/testbed/lib.sh"
MG=$MG_BUILD/mailgate
W=$(mktemp -d "${MG_TB:-/tmp}/cli.XXXXXX")
trap 'rm -rf "$W"' EXIT
NCHECK=0
check() { NCHECK=$((NCHECK + 1)); printf 'ok %d - %s\n' "$NCHECK" "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; for f in out err; do [ -s "$W/$f" ] && head -n 20 "$W/$f" | sed "s/^/  $f: /" >&2; done; exit 1; }
# run RC ARGS...: run mailgate, want exit RC; stdout in $W/out, stderr in $W/err.
run() {
	local want=$1 rc=0
	shift
	"$MG" "$@" >"$W/out" 2>"$W/err" </dev/null || rc=$?
	[ "$rc" -eq "$want" ] || die "mailgate $* exited $rc, want $want"
}
has() { grep -qF -- "$2" "$W/$1" || die "$1 lacks '$2'"; }
lacks() { ! grep -qF -- "$2" "$W/$1" || die "$1 has '$2'"; }
one_err_line() { [ "$(wc -l <"$W/err")" -eq 1 ] && grep -q '^mailgate: ' "$W/err" || die "stderr is not one 'mailgate: ' line"; }
json_ok() { python3 -m json.tool "$W/out" >/dev/null || die "stdout is not JSON"; }
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$URL" -c "$1"; }
setup_db() {
	URL=$(tb_newdb "$1")
	tb_keyfile "$W/key"
	printf '[database]\nurl = %s\n\n[tokens]\nkey_file = %s\n' "$URL" \
	    "$W/key" >"$W/mailgate.conf"
	export MAILGATE_CONFIG=$W/mailgate.conf
	"$MG" db migrate >/dev/null
}
