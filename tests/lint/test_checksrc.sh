#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_checksrc.sh - the house lint (tests/lint/checksrc) over the tree.
#
# First it proves the checker on files made here: each rule must fire on
# its bad case and stay quiet on the good ones, and waivers must count
# exactly. Then it runs over every tracked C file under src/, include/
# and tests/.

set -euo pipefail

SRC=${MG_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CHECK=$SRC/tests/lint/checksrc
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

# expect NAME WANT-RC WANT-REGEX: run the checker on $T/NAME.c.
expect()
{
	local name=$1 want_rc=$2 want=$3 out rc=0

	out=$("$CHECK" "$T/$name.c" 2>&1) || rc=$?
	if [ "$rc" -ne "$want_rc" ] || ! grep -Eq -- "$want" <<<"$out"; then
		printf 'self-test %s: rc %d (want %d), output:\n%s\n' \
		    "$name" "$rc" "$want_rc" "$out"
		fails=$((fails + 1))
	fi
}

# refuse NAME REGEX: the checker must not say REGEX about $T/NAME.c.
refuse()
{
	if "$CHECK" "$T/$1.c" 2>&1 | grep -Eq -- "$2"; then
		printf 'self-test %s: unexpected %s\n' "$1" "$2"
		fails=$((fails + 1))
	fi
}

x74=$(printf 'x%.0s' $(seq 1 74))
y67=$(printf 'y%.0s' $(seq 1 67))

cat >"$T/clean.c" <<EOF
/* clean.c: nothing to report. TODO: a marker with its reason. */
#include <stdio.h>
/* XXX: a known weakness, explained. */
static const char *s = "atoi( in a string, FIXME in a string";
static char tmpl[] = "/tmp/mgXXXXXX";
int
f(const char *token_id, const char *user)
{
	char buf[16];

	(void)snprintf(buf, sizeof(buf), "%s", s);
	(void)strtok_r(buf, " ", &buf[0]);
	(void)printf("token_id=%s user=%s\n", token_id, user);
	(void)printf("len=%zu c='%c'\n", strlen(token_id), '"');
	return 0;
}
/* $x74 */
EOF
expect clean 0 '^$'

printf 'int\nf(void)\n{\n\treturn atoi("1") + sscanf(s, "%%d", &x);\n}\n' \
    >"$T/banned.c"
expect banned 1 'banned.c:4: banned-function: atoi\(\)'
expect banned 1 'banned.c:4: banned-function: sscanf\(\)'
printf 'void\nf(char *d)\n{\n\tstrcpy (d, "a");\n\tsprintf(d, "x");\n}\n' \
    >"$T/banned2.c"
expect banned2 1 'banned2.c:4: banned-function: strcpy'
expect banned2 1 'banned2.c:5: banned-function: sprintf'

printf '/* FIXME later */\n/* TODO */\n// XXX fix\n/* TODO:nospace */\n' \
    >"$T/marker.c"
expect marker 1 'marker.c:1: marker: FIXME'
expect marker 1 'marker.c:2: marker: bare TODO'
expect marker 1 'marker.c:3: marker: bare XXX'
expect marker 1 'marker.c:4: marker: bare TODO'

printf '/* %s */\n\t/* %s */\n' "$x74" "$y67" >"$T/long.c"
expect long 1 'long.c:2: long-line: 81 columns'
refuse long 'long.c:1:'

printf 'int x; \nint y;\t\nint z;\n' >"$T/trailing.c"
expect trailing 1 'trailing.c:1: trailing-space'
expect trailing 1 'trailing.c:2: trailing-space'
refuse trailing 'trailing.c:3:'

cat >"$T/secret.c" <<'EOF'
void
f(void)
{
	log_info("user=%s token=%s", user, tok->token);
	log_info("pw=%.*s", (int)len, password);
	log_info("id=%s url=%s", tok->public_id, cfg->token_endpoint);
	log_info("n=%d s=%s", client_secret_len, name);
	log_info("a=%s " "b=%s", a, req->client_secret);
}
EOF
expect secret 1 'secret.c:4: secret-format: .*token'
expect secret 1 'secret.c:5: secret-format: .*password'
expect secret 1 'secret.c:8: secret-format: .*client_secret'
refuse secret 'secret.c:(6|7):'

cat >"$T/waived.c" <<'EOF'
/* checksrc: allow banned-function 2 */
int a = atoi("1") + atoi("2");
EOF
expect waived 0 '^$'
cat >"$T/overused.c" <<'EOF'
/* checksrc: allow banned-function 1 */
int a = atoi("1") + atoi("2");
EOF
expect overused 1 'overused.c:2: banned-function'
cat >"$T/unused.c" <<'EOF'
/* checksrc: allow long-line 1 */
int a;
EOF
expect unused 1 'unused.c:0: waiver: .*lower its count'
printf '/* checksrc: allow marker */\n/* checksrc: allow nosuch 1 */\n' \
    >"$T/badwaiver.c"
expect badwaiver 1 'badwaiver.c:1: waiver: .*needs a count'
expect badwaiver 1 "badwaiver.c:2: waiver: unknown rule 'nosuch'"

if [ "$fails" -ne 0 ]; then
	echo "checksrc self-test: $fails failures"
	exit 1
fi
echo "checksrc self-test: ok"

cd "$SRC"
exec "$CHECK" -v
