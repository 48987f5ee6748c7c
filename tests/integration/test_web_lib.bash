# SPDX-License-Identifier: MIT
#
# test_web_lib.bash - what the test_web_*.sh scripts share: a database,
# a provider of their own (its redirect URIs and algorithm are theirs to
# choose), mailgated instances with the web service, and a headless
# sign-in: curl for mailgated (one cookie jar per browser), the test bed's
# oidc_login.py for the provider's forms.
#
# Environment (tests/run sets it; alone, a private cluster is started):
# MG_BUILD, MG_SRC, MG_TB, MG_PG_DIR/MG_PG_PORT; MG_WEB_IDP_PORT (9420),
# MG_WEB_PORT_A (8090), MG_WEB_PORT_B (8091).

: "${MG_BUILD:?run through ctest (MG_BUILD)}"
: "${MG_SRC:?run through ctest (MG_SRC)}"
: "${MG_TB:=/tmp/mailgate-tb}"
: "${MG_WEB_IDP_PORT:=9420}"
: "${MG_WEB_PORT_A:=8090}"
: "${MG_WEB_PORT_B:=8091}"
export MG_TB
# shellcheck source=../testbed/lib.sh
. "$MG_SRC/tests/testbed/lib.sh"

for p in mailgate mailgated; do
	[ -x "$MG_BUILD/$p" ] || { echo "SKIP: $MG_BUILD/$p not built"; exit 77; }
done
command -v node >/dev/null || { echo "SKIP: no node"; exit 77; }

WEB_A=http://127.0.0.1:$MG_WEB_PORT_A
WEB_B=http://127.0.0.1:$MG_WEB_PORT_B
IDP_SECRET=mailgate-test-client-secret-0123456789abcdef
FAILS=0
declare -A MGD_PIDS=()

web_cleanup()
{
	local rc=$? name
	for name in "${!MGD_PIDS[@]}"; do
		kill "${MGD_PIDS[$name]}" 2>/dev/null || true
		wait "${MGD_PIDS[$name]}" 2>/dev/null || true
	done
	tb_stop_all || true
	exit "$rc"
}

# web_setup NAME: fresh $W=$MG_TB/NAME, database NAME, key, provider.
web_setup()
{
	W=$MG_TB/$1
	rm -rf "$W"
	tb_mkroot "$W"
	trap web_cleanup EXIT
	if [ -z "${MG_PG_DIR:-}" ]; then
		: "${MG_PG_PORT:=25432}"
		export MG_PG_DIR=$MG_TB/pg MG_PG_PORT
		tb_pg_start "$MG_PG_DIR" "$MG_PG_PORT"
	fi
	DB_NAME=$1
	DB_URL=$(tb_newdb "$DB_NAME")
	tb_keyfile "$W/token.key"
	web_idp_start "${2:-RS256}"
}

web_idp_start()
{
	MG_IDP_ALG=$1 MG_IDP_REDIRECT_URIS="$WEB_A/callback" \
	    tb_idp_start "$W/idp" "$MG_WEB_IDP_PORT"
	ISSUER=$(tb_idp_url "$MG_WEB_IDP_PORT")
}

web_idp_stop()
{
	tb_idp_stop "$W/idp"
}

# web_sql SQL: run SQL on the test's database, print unaligned rows.
web_sql()
{
	tb_pg_psql "$MG_PG_DIR" "$MG_PG_PORT" -d "$DB_NAME" -qAt -c "$1"
}

# web_conf NAME LISTEN_PORT [EXTRA MAPPING LINES]: write $W/NAME.conf.
# Every instance names the same public_url, as behind one proxy.
web_conf()
{
	local name=$1 port=$2 extra=${3:-}
	(umask 077 && cat >"$W/$name.conf" <<EOF
[database]
url = $DB_URL

[tokens]
key_file = $W/token.key

[auth]
socket = $W/$name.sock

[http]
listen = 127.0.0.1:$port
public_url = $WEB_A
session_idle = 30m
session_max = 12h

[oidc]
issuer = $ISSUER
client_id = mailgate
client_secret = $IDP_SECRET

[mapping]
create_mailboxes = true
required_groups = mail-users
$extra

[log]
level = debug
EOF
)
}

# web_start NAME PORT: mailgated on $W/NAME.conf, wait for its port.
web_start()
{
	"$MG_BUILD/mailgated" -c "$W/$1.conf" </dev/null \
	    >>"$W/$1.log" 2>&1 &
	MGD_PIDS[$1]=$!
	tb_wait_listen "$2" 20 "${MGD_PIDS[$1]}" || {
		tail -n 20 "$W/$1.log" >&2
		return 1
	}
}

# web_wait_log NAME PATTERN: until mailgated NAME logs PATTERN (10 s at
# most); false if it never does.
web_wait_log()
{
	local i
	for ((i = 0; i < 100; i++)); do
		grep -qE -- "$2" "$W/$1.log" && return 0
		sleep 0.1
	done
	return 1
}

web_stop()
{
	kill "${MGD_PIDS[$1]}" 2>/dev/null || true
	wait "${MGD_PIDS[$1]}" 2>/dev/null || true
	unset "MGD_PIDS[$1]"
}

ok()
{
	echo "ok: $*"
}

fail()
{
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

# expect NAME GOT WANT: exact comparison.
expect()
{
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# expect_grep NAME PATTERN FILE
expect_grep()
{
	if grep -qE -- "$2" "$3"; then ok "$1"; else fail "$1: no /$2/ in $3"; fi
}

expect_no_grep()
{
	if grep -qE -- "$2" "$3"; then fail "$1: /$2/ in $3"; else ok "$1"; fi
}

# web_get JAR URL [CURL ARGS]: GET; body in $W/body, headers in
# $W/headers; prints "STATUS LOCATION".
web_get()
{
	local jar=$1 url=$2
	shift 2
	curl -sS -c "$jar" -b "$jar" -D "$W/headers" -o "$W/body" \
	    -w '%{http_code} %{redirect_url}' "$@" "$url"
}

# web_post JAR URL DATA...: POST a form with the browser's Origin.
web_post()
{
	local jar=$1 url=$2 args=() d
	shift 2
	for d in "$@"; do
		args+=(--data-urlencode "$d")
	done
	curl -sS -c "$jar" -b "$jar" -D "$W/headers" -o "$W/body" \
	    -H "Origin: $WEB_A" -w '%{http_code} %{redirect_url}' \
	    "${args[@]}" "$url"
}

# web_to_callback JAR LOGIN PASSWORD [START]: GET START/login (default
# instance A), then the provider's forms; prints the callback URL the
# provider sent the browser to (not yet requested).
web_to_callback()
{
	local jar=$1 login=$2 password=$3 start=${4:-$WEB_A} st out
	st=$(web_get "$jar" "$start/login")
	if [ "${st%% *}" != 302 ]; then
		echo "web_to_callback: /login answered $st" >&2
		return 1
	fi
	out=$(python3 "$MG_SRC/tests/testbed/oidc_login.py" \
	    --login "$login" --password "$password" \
	    --stop-prefix "$WEB_A/callback" "${st#* }" || true)
	sed -n 's/^url=//p' <<<"$out"
}

# web_signin JAR LOGIN [PASSWORD [CALLBACK_BASE]]: a whole sign-in; the
# callback's answer is left in $W/body and $W/headers; prints
# "STATUS LOCATION" of the callback.
web_signin()
{
	local jar=$1 login=$2 password=${3:-secret} base=${4:-$WEB_A} cb
	cb=$(web_to_callback "$jar" "$login" "$password") || return 1
	web_get "$jar" "$base${cb#"$WEB_A"}"
}

# web_csrf: the CSRF token of the last page fetched.
web_csrf()
{
	sed -n 's/.*name="csrf" value="\([A-Za-z0-9_-]*\)".*/\1/p' "$W/body" |
	    head -n 1
}

web_done()
{
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
}
