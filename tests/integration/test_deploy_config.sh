#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_deploy_config.sh - the files in deploy/ are valid and agree with
# each other and with the documentation:
#  - deploy/mailgate.conf.example passes "mailgated --check-config" and
#    "mailgate check-config" (its /etc/mailgate files replaced by
#    temporary ones), also with every commented "# key = value" line
#    switched on; it mentions every key mailgated knows, in its section;
#    it sets no socket_user or socket_group; a misspelt key is refused
#    (so the check itself can fail);
#  - docs/postfix.md and docs/dovecot.md quote the shipped snippets byte
#    for byte, and every fenced block they introduce with "`deploy/...`:"
#    is that file;
#  - the socket path is the same in the example, the tmpfiles line, the
#    Postfix snippet (relative to /var/spool/postfix) and the Dovecot
#    passdb; the unit's User/Group, the sysusers user and the tmpfiles
#    owner agree; the directory is 2750 group postfix; nothing ships the
#    old mailgate-auth group or SupplementaryGroups;
#  - systemd-sysusers and systemd-tmpfiles, run on the shipped files
#    into a scratch root, make user mailgate and a 2750 mailgate:postfix
#    directory;
#  - "systemd-analyze verify" accepts the unit without a word and
#    "systemd-analyze security" rates it at most 1.5 (both skipped, with
#    a message, where systemd-analyze cannot run here).
#
# Needs MG_BUILD and MG_SRC (CTest sets them); starts no service.
set -euo pipefail

: "${MG_BUILD:?run through ctest (MG_BUILD)}"
: "${MG_SRC:?run through ctest (MG_SRC)}"
: "${MG_TB:=/tmp/mailgate-tb}"

DEP=$MG_SRC/deploy
EXAMPLE=$DEP/mailgate.conf.example
TMPF=$DEP/systemd/mailgate-tmpfiles.conf
SYSU=$DEP/systemd/mailgate-sysusers.conf
UNIT=$DEP/systemd/mailgated.service
PFSNIP=$DEP/postfix/main.cf.snippet
DVCONF=$DEP/dovecot/auth-mailgate.conf.ext

D=$MG_TB/deploy-config
rm -rf "$D"
mkdir -p "$D"

FAILS=0
ok()
{
	echo "ok: $*"
}
bad()
{
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}
# expect WHAT GOT WANT
expect()
{
	if [ "$2" = "$3" ]; then
		ok "$1: $2"
	else
		bad "$1: got '$2', want '$3'"
	fi
}

for f in "$EXAMPLE" "$TMPF" "$SYSU" "$UNIT" "$PFSNIP" "$DVCONF"; do
	[ -f "$f" ] || { echo "FAIL: $f is missing"; exit 1; }
done

# --- the example configuration ------------------------------------------
# Its files under /etc/mailgate, made up in $D/etc.
mkdir -p "$D/etc"
(umask 077 && head -c 48 /dev/urandom >"$D/etc/token.key")
echo 'postgresql://mailgate@/mailgate?host=/run/postgresql' \
    >"$D/etc/database-url"
echo 'not-a-real-client-secret' >"$D/etc/oidc-client-secret"
sed "s|/etc/mailgate/|$D/etc/|g" "$EXAMPLE" >"$D/example.conf"
sed -E 's/^# ([a-z_]+ = )/\1/' "$D/example.conf" >"$D/all-keys.conf"
n=$(diff "$D/example.conf" "$D/all-keys.conf" | grep -c '^>' || true)
if [ "$n" -ge 10 ]; then
	ok "$n commented settings to switch on"
else
	bad "only $n commented '# key = value' settings in the example"
fi
# A misspelt key must make the same checks fail.
{ cat "$D/example.conf"; printf '[auth]\nsocket_moed = 0660\n'; } \
    >"$D/typo.conf"

# check_config NAME FILE WANT: both programs' check, WANT ok or fail.
check_config()
{
	local name=$1 file=$2 want=$3 rc prog

	for prog in "mailgated --check-config" "mailgate check-config"; do
		set +e
		env -u MAILGATE_CONFIG "$MG_BUILD/${prog%% *}" -c "$file" \
		    "${prog#* }" >"$D/check.out" 2>&1
		rc=$?
		set -e
		if { [ "$want" = ok ] && [ "$rc" = 0 ]; } ||
		    { [ "$want" = fail ] && [ "$rc" != 0 ]; }; then
			ok "$prog: $name: $want (exit $rc)"
		else
			bad "$prog: $name: exit $rc, want $want:"
			sed 's/^/    /' "$D/check.out"
		fi
	done
}
check_config "deploy/mailgate.conf.example" "$D/example.conf" ok
check_config "every commented setting on" "$D/all-keys.conf" ok
check_config "a misspelt key" "$D/typo.conf" fail
if grep -q 'socket_moed' "$D/check.out"; then
	ok "the misspelt key is named"
else
	bad "the error does not name socket_moed"
fi

# Every key of src/common/config.c's table appears in its section.
python3 - "$MG_SRC/src/common/config.c" "$EXAMPLE" >"$D/keys.out" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
keys = re.findall(r'CONFIG_KEY\(\s*"([a-z_]+)",\s*"([a-z_]+)"', src)
sections, cur = {}, None
for line in open(sys.argv[2]):
    m = re.match(r'^\[([a-z_]+)\]\s*$', line)
    if m:
        cur = m.group(1)
        sections.setdefault(cur, "")
    elif cur:
        sections[cur] += line
print(len(keys))
for sec, key in keys:
    if not re.search(r'(?<![A-Za-z0-9_])' + key + r'(?![A-Za-z0-9_])',
                     sections.get(sec, "")):
        print("missing [%s] %s" % (sec, key))
EOF
nkeys=$(head -n 1 "$D/keys.out")
if [ "$nkeys" -ge 30 ] && [ "$(wc -l <"$D/keys.out")" = 1 ]; then
	ok "the example mentions all $nkeys keys of config.c in their sections"
else
	bad "keys of config.c ($nkeys found):"
	tail -n +2 "$D/keys.out"
fi
if grep -Eq '^[[:space:]]*socket_(user|group)[[:space:]]*=' "$EXAMPLE"; then
	bad "the example sets socket_user or socket_group"
else
	ok "the example sets neither socket_user nor socket_group"
fi

# --- the documentation quotes the files ----------------------------------
python3 - "$MG_SRC" >"$D/quotes.out" <<'EOF'
import os, re, sys
src = sys.argv[1]

def blocks(doc):
    """(intro line, content) of every fenced block in doc."""
    out, lines, i = [], open(doc).read().split("\n"), 0
    while i < len(lines):
        if lines[i].startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            k = i - 1
            while k >= 0 and lines[k] == "":
                k -= 1
            intro = lines[k] if k >= 0 else ""
            out.append((intro, "\n".join(lines[i + 1:j]) + "\n"))
            i = j + 1
        else:
            i += 1
    return out

def auth_section():
    text, keep = "", False
    for line in open(os.path.join(src, "deploy/mailgate.conf.example")):
        if re.match(r"^\[", line):
            keep = line.strip() == "[auth]"
        if keep:
            text += line
    return text.rstrip("\n") + "\n"

def read(rel):
    return open(os.path.join(src, rel)).read()

want = {
    "docs/postfix.md": [
        ("deploy/postfix/main.cf.snippet", read("deploy/postfix/main.cf.snippet")),
        ("deploy/systemd/mailgate-tmpfiles.conf", read("deploy/systemd/mailgate-tmpfiles.conf")),
        ("deploy/systemd/mailgate-sysusers.conf", read("deploy/systemd/mailgate-sysusers.conf")),
        ("[auth] of deploy/mailgate.conf.example", auth_section()),
        ("deploy/fail2ban/filter.d/mailgate.conf", read("deploy/fail2ban/filter.d/mailgate.conf")),
    ],
    "docs/dovecot.md": [
        ("deploy/dovecot/auth-mailgate.conf.ext", read("deploy/dovecot/auth-mailgate.conf.ext")),
    ],
}
for doc, files in want.items():
    bl = blocks(os.path.join(src, doc))
    contents = [c for _, c in bl]
    for name, text in files:
        if text in contents:
            print("ok: %s quotes %s" % (doc, name))
        else:
            print("FAIL: %s does not quote %s byte for byte" % (doc, name))
    # A block introduced by "`deploy/...`:" must be that file.
    for intro, content in bl:
        m = re.match(r"^`(deploy/[^`]+)`:$", intro)
        if not m:
            continue
        path = os.path.join(src, m.group(1))
        if os.path.isfile(path) and open(path).read() == content:
            print("ok: %s: the block after `%s` is the file" % (doc, m.group(1)))
        else:
            print("FAIL: %s: the block after `%s` differs from the file"
                  % (doc, m.group(1)))
EOF
cat "$D/quotes.out"
FAILS=$((FAILS + $(grep -c '^FAIL' "$D/quotes.out" || true)))
if [ "$(grep -c '^ok' "$D/quotes.out" || true)" -lt 6 ]; then
	bad "fewer quotes checked than files required"
fi

# --- the files agree ------------------------------------------------------
# unit_key KEY: the value of KEY= in the unit (the last one).
unit_key()
{
	sed -n "s/^$1=//p" "$UNIT" | tail -n 1
}
read -r t_type t_path t_mode t_user t_group _ < <(grep -v '^#' "$TMPF" |
    grep -v '^$')
expect "tmpfiles line type" "$t_type" d
expect "tmpfiles directory" "$t_path" /var/spool/postfix/mailgate
expect "tmpfiles mode (setgid)" "$t_mode" 2750
expect "tmpfiles group" "$t_group" postfix
expect "tmpfiles lines" "$(grep -cv '^\(#\|$\)' "$TMPF")" 1
read -r s_type s_name _ < <(grep -v '^#' "$SYSU" | grep -v '^$')
expect "sysusers line type" "$s_type" u
expect "sysusers lines" "$(grep -cv '^\(#\|$\)' "$SYSU")" 1
expect "unit User= is the sysusers user" "$(unit_key User)" "$s_name"
expect "unit Group= is the sysusers user's group" "$(unit_key Group)" \
    "$s_name"
expect "tmpfiles owner is the unit's user" "$t_user" "$(unit_key User)"
expect "unit ReadWritePaths= is the socket directory" \
    "$(unit_key ReadWritePaths)" "$t_path"
expect "unit CapabilityBoundingSet=" \
    "$(grep -c '^CapabilityBoundingSet=$' "$UNIT")" 1
expect "unit NoNewPrivileges=" "$(unit_key NoNewPrivileges)" yes
if grep -rq 'mailgate-auth\b' "$DEP" || grep -q '^SupplementaryGroups=' "$UNIT"
then
	bad "deploy/ still names the mailgate-auth group or SupplementaryGroups"
else
	ok "no mailgate-auth group, no SupplementaryGroups"
fi
expect "unit starts before Postfix and Dovecot" \
    "$(unit_key Before)" "postfix.service dovecot.service"
sock=$(sed -n 's/^socket = //p' "$EXAMPLE")
expect "example socket is in the tmpfiles directory" "$sock" "$t_path/auth"
expect "example socket_mode" "$(sed -n 's/^socket_mode = //p' "$EXAMPLE")" \
    0660
expect "Postfix smtpd_sasl_path (relative to /var/spool/postfix)" \
    "/var/spool/postfix/$(sed -n 's/^smtpd_sasl_path = //p' "$PFSNIP")" \
    "$sock"
expect "Dovecot passdb socket" \
    "$(sed -n 's/^ *args = .* --socket \([^ ]*\).*/\1/p' "$DVCONF")" "$sock"
expect "Dovecot service auth extra_groups" \
    "$(sed -n '/^service auth {/,/^}/s/^ *extra_groups = //p' "$DVCONF")" \
    "$t_group"

# --- sysusers and tmpfiles on the shipped files, into a scratch root ----
if command -v systemd-sysusers >/dev/null &&
    command -v systemd-tmpfiles >/dev/null; then
	R=$D/root
	mkdir -p "$R/etc"
	if systemd-sysusers --root="$R" "$SYSU" >"$D/sysusers.out" 2>&1; then
		uid=$(awk -F: '$1 == "mailgate" {print $3}' "$R/etc/passwd")
		gid=$(awk -F: '$1 == "mailgate" {print $4}' "$R/etc/passwd")
		ggid=$(awk -F: '$1 == "mailgate" {print $3}' "$R/etc/group")
		if [ -n "$uid" ] && [ -n "$gid" ] && [ "$gid" = "$ggid" ]; then
			ok "systemd-sysusers made user and group mailgate ($uid:$gid)"
		else
			bad "systemd-sysusers: no user/group mailgate:"
			cat "$R/etc/passwd" "$R/etc/group"
		fi
		# The Postfix package's group, as it would be there.
		echo 'postfix:x:4105:' >>"$R/etc/group"
		if systemd-tmpfiles --root="$R" --create "$TMPF" \
		    >"$D/tmpfiles.out" 2>&1; then
			expect "systemd-tmpfiles: the directory" \
			    "$(stat -c '%a %u %g' "$R$t_path")" "2750 $uid 4105"
		else
			bad "systemd-tmpfiles --create failed:"
			cat "$D/tmpfiles.out"
		fi
	else
		bad "systemd-sysusers failed on $SYSU:"
		cat "$D/sysusers.out"
	fi
else
	echo "skip: systemd-sysusers or systemd-tmpfiles not installed"
fi

# --- systemd-analyze -------------------------------------------------------
# Only where it works here: a trivial unit must verify in silence first.
printf '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n' \
    >"$D/probe.service"
if ! command -v systemd-analyze >/dev/null; then
	echo "skip: systemd-analyze is not installed"
elif ! out=$(systemd-analyze verify --man=no "$D/probe.service" 2>&1) ||
    [ -n "$out" ]; then
	echo "skip: systemd-analyze verify does not work here: $out"
else
	# The unit with only its program path replaced (verify wants an
	# executable there).
	sed "s|/usr/sbin/mailgated|$MG_BUILD/mailgated|g" "$UNIT" \
	    >"$D/mailgated.service"
	if out=$(systemd-analyze verify --man=no "$D/mailgated.service" 2>&1) &&
	    [ -z "$out" ]; then
		ok "systemd-analyze verify: no complaint"
	else
		bad "systemd-analyze verify:"
		echo "$out"
	fi
	if systemd-analyze security --offline=yes --threshold=100 \
	    "$D/probe.service" >/dev/null 2>&1; then
		if systemd-analyze security --offline=yes --threshold=15 \
		    "$D/mailgated.service" >"$D/security.out" 2>&1; then
			ok "systemd-analyze security: $(grep -o 'exposure level.*' \
			    "$D/security.out")"
		else
			bad "systemd-analyze security rates the unit above 1.5:"
			grep -E '✗|exposure' "$D/security.out" || true
		fi
	else
		echo "skip: systemd-analyze security --offline does not work here"
	fi
fi

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed; files in $D"
	exit 1
fi
echo "all checks passed"
