# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# tests/proto/authsock_lib.sh - set up and run mailgated for the auth
# socket tests (tests/proto, tests/integration/test_{authsock,postfix,
# two_instances}*.sh). Source after tests/testbed/lib.sh.
#
#	MG_MAILGATED / MG_MAILGATE  the programs (default: $MG_BUILD/...)
#	MG_AUTHSOCK_PORT            first instance's TCP port (9153)
#	MG_AUTHSOCK_PORT2           second instance's TCP port (9154)

: "${MG_MAILGATED:=$MG_BUILD/mailgated}"
: "${MG_MAILGATE:=$MG_BUILD/mailgate}"
: "${MG_AUTHSOCK_PORT:=9153}"
: "${MG_AUTHSOCK_PORT2:=9154}"
AS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AS_SCRIPT=$AS_LIB_DIR/authscript.py

# as_conf DIR URL SOCKET PORT [EXTRA_AUTH_LINES]: write DIR/mailgate.conf
# (key in DIR/token.key, made once) and print its path.
as_conf()
{
	local dir=$1 url=$2 sock=$3 port=$4 extra=${5:-}

	mkdir -p "$dir"
	[ -f "$dir/token.key" ] || tb_keyfile "$dir/token.key"
	cat >"$dir/mailgate.conf" <<EOC
[database]
url = $url
connect_timeout = 2

[tokens]
key_file = $dir/token.key

[auth]
socket = $sock
tcp_listen = 127.0.0.1:$port
failure_delay = 10ms
lockout_failures = 1000
$extra

[log]
level = info
EOC
	printf '%s\n' "$dir/mailgate.conf"
}

# as_start CONF DIR: run mailgated in the background (PID in DIR/pid, log
# in DIR/mailgated.log) and wait for its socket and port.
as_start()
{
	local conf=$1 dir=$2 sock port

	sock=$(sed -n 's/^socket = //p' "$conf")
	port=$(sed -n 's/^tcp_listen = 127.0.0.1://p' "$conf")
	"$MG_MAILGATED" -c "$conf" >>"$dir/mailgated.log" 2>&1 &
	echo $! >"$dir/pid"
	tb_started pidfile "$dir/pid" 2>/dev/null || true
	tb_wait_listen "$port" 20 "$(cat "$dir/pid")"
	tb_wait_file "$sock" 5
}

# as_token CONF ADDR SCOPES [ARGS...]: issue a token; print it.
as_token()
{
	local conf=$1 addr=$2 scopes=$3

	shift 3
	"$MG_MAILGATE" -c "$conf" token issue "$addr" --scopes "$scopes" \
	    "$@" 2>/dev/null
}

# as_id TOKEN: its public id.
as_id()
{
	printf '%s\n' "${1:4:12}"
}

# as_auth TARGET SERVICE USER TOKEN [VERSION_MINOR]: one PLAIN login over
# a fresh connection from client address $AS_RIP (203.0.113.9); prints
# OK, FAIL, TEMPFAIL or CLOSED.
as_auth()
{
	AS_RIP=${AS_RIP:-203.0.113.9} python3 - "$@" <<'EOPY'
import base64, os, socket, sys
target, service, user, token = sys.argv[1:5]
minor = sys.argv[5] if len(sys.argv) > 5 else "2"
rip = os.environ["AS_RIP"]
if target.startswith("/"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(target)
else:
    h, p = target.rsplit(":", 1)
    s = socket.create_connection((h, int(p)))
s.settimeout(12)
resp = base64.b64encode(b"\0" + user.encode() + b"\0" + token.encode())
s.sendall(b"VERSION\t1\t%s\nCPID\t1\nAUTH\t1\tPLAIN\tservice=%s\t"
          b"rip=%s\tresp=%s\n" % (minor.encode(), service.encode(),
                                   rip.encode(), resp))
buf = b""
while True:
    d = s.recv(4096)
    if not d:
        print("CLOSED")
        break
    buf += d
    lines = buf.split(b"\n")
    done = [l for l in lines if l.startswith((b"OK\t1", b"FAIL\t1"))]
    if done:
        l = done[0]
        print("OK" if l.startswith(b"OK") else
              "TEMPFAIL" if b"code=temp_fail" in l else "FAIL")
        break
EOPY
}
