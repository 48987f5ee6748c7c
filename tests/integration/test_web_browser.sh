#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_web_browser.sh - end to end in a real browser: headless chromium
# signs in at mailgated through the provider's forms, creates an app
# password, which then logs in to the real Dovecot IMAP through
# mailgate-checkpassword and mailgated's auth socket; revoked on the
# page, it no longer does. The steps are tests/browser/web_e2e.py;
# screenshots are left in $MG_TB/web_browser/shots.
#
# Needs chromium and chromium-driver (tests/run installs them), Dovecot
# and mailgate-checkpassword. MG_WEB_DRIVER_PORT (9515), MG_IMAP_PORT
# (10143).
set -euo pipefail
# shellcheck source=test_web_lib.bash
. "$(dirname "$0")/test_web_lib.bash"

: "${MG_WEB_DRIVER_PORT:=9515}"
: "${MG_IMAP_PORT:=10143}"
for p in /usr/bin/chromium /usr/bin/chromedriver "$MG_BUILD/mailgate-checkpassword"; do
	[ -x "$p" ] || { echo "SKIP: $p missing"; exit 77; }
done
command -v dovecot >/dev/null || { echo "SKIP: no dovecot"; exit 77; }

web_setup web_browser RS256
web_conf a "$MG_WEB_PORT_A"
# The auth socket must be reachable for Dovecot's helper.
mkdir -p "$W/mg"
chmod 755 "$W/mg"
SOCK=$W/mg/auth
tb_check_sun_path "$SOCK"
sed -i "s|^socket = .*|socket = $SOCK\nsocket_group = dovecot\nsocket_mode = 0660\nfailure_delay = 0|" \
    "$W/a.conf"
"$MG_BUILD/mailgate" -c "$W/a.conf" db migrate >/dev/null
web_start a "$MG_WEB_PORT_A"
tb_wait_file "$SOCK" 20

PROG=$(tb_install_prog "$MG_BUILD/mailgate-checkpassword" "$W/bin")
tb_dovecot_imap_start "$W/imap" "$MG_IMAP_PORT" "$PROG --socket $SOCK --timeout 3"

/usr/bin/chromedriver --port="$MG_WEB_DRIVER_PORT" \
    >"$W/chromedriver.log" 2>&1 </dev/null &
echo "$!" >"$W/chromedriver.pid"
tb_started pid "$W/chromedriver.pid"
tb_wait_listen "$MG_WEB_DRIVER_PORT" 20

mkdir -p "$W/shots" "$W/profile"
if python3 "$MG_SRC/tests/browser/web_e2e.py" --web "$WEB_A" \
    --driver "http://127.0.0.1:$MG_WEB_DRIVER_PORT" \
    --imap-port "$MG_IMAP_PORT" --out "$W/shots" \
    --profile "$W/profile"; then
	ok "browser end to end"
else
	fail "browser end to end (screenshots in $W/shots)"
fi
expect_grep "IMAP login by the browser's token" \
    "imap-login: Info: Login: user=<browser@example.org>" "$W/imap/dovecot.log"
expect_grep "sign-in logged" "event=login result=ok mailbox=browser@example.org" "$W/a.log"
expect_grep "revocation logged" "event=token_revoke result=ok" "$W/a.log"
web_done
