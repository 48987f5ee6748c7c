#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""authscript.py - run scripted Dovecot auth-client conversations against
a live mailgated (tests/proto/*.auth).

Usage: authscript.py SOCKET SCRIPT...   (SOCKET: a path, or HOST:PORT)
       authscript.py --forge ID SECRET30  (print a well-formed token)

Each script line is one step; '#' starts a comment line. Values go through
$VAR expansion (environment), then the escapes \\t \\n \\r \\0 \\\\ \\xHH,
{{b64:...}} is replaced by the base64 of its (escaped) contents, and
{{times:K:...}} by its contents K times.

  conn NAME            switch to connection NAME, opening it if new
  send LINE            send LINE plus "\\n"
  sendraw BYTES        send BYTES as they are (no newline)
  trickle LINE         send LINE plus "\\n" one byte at a time
  sendlong N           send a line of N 'A' bytes plus "\\n"
  sendpad N LINE       send LINE padded with 'A' to N bytes, plus "\\n"
  handshake            expect the 7 handshake lines, exactly (MECH first)
  expect LINE          the next line must equal LINE
  expect-re REGEX      the next line must match REGEX (whole line)
  expect-close         the server closes this connection
  expect-silence SECS  nothing arrives for SECS seconds
  sleep SECS
  shutrd               stop reading: mailgated's next write to it fails
  flood N LINE         send LINE plus "\\n" N times without reading, as
                       far as mailgated takes it in (no error if it stops
                       reading or closes the connection)
  close                close this connection
A script passes when every step does; the first failure ends it.
"""
import base64
import os
import re
import socket
import sys
import time
import zlib

TIMEOUT = 12.0  # longer than any failure delay mailgated may add


class StepError(Exception):
    pass


def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 == len(s):
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        i += 2
        if n == "t":
            out += b"\t"
        elif n == "n":
            out += b"\n"
        elif n == "r":
            out += b"\r"
        elif n == "0":
            out += b"\0"
        elif n == "x":
            out.append(int(s[i:i + 2], 16))
            i += 2
        else:
            out += n.encode()
    return bytes(out)


def expand(s):
    s = re.sub(r"\$\{([A-Z_][A-Z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)",
               lambda m: os.environ.get(m.group(1) or m.group(2), ""), s)
    s = re.sub(r"\{\{times:([0-9]+):(.*?)\}\}",
               lambda m: m.group(2) * int(m.group(1)), s)
    out = b""
    pos = 0
    for m in re.finditer(r"\{\{b64:(.*?)\}\}", s):
        out += unescape(s[pos:m.start()])
        out += base64.b64encode(unescape(m.group(1)))
        pos = m.end()
    return out + unescape(s[pos:])


class Conn:
    def __init__(self, target):
        if ":" in target and not target.startswith("/"):
            host, port = target.rsplit(":", 1)
            self.sock = socket.create_connection((host, int(port)), 5)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(target)
        self.buf = b""
        self.eof = False

    def fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def line(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if not self.fill(deadline):
                raise StepError("no line (eof=%s, have %r)"
                                % (self.eof, self.buf[:200]))
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.eof = True


HANDSHAKE = [rb"VERSION\t1\t2", rb"MECH\tPLAIN\tplaintext",
             rb"MECH\tLOGIN\tplaintext", rb"SPID\t[1-9][0-9]*",
             rb"CUID\t[1-9][0-9]*", rb"COOKIE\t[0-9a-f]{32}", rb"DONE"]


def step(conns, cur, target, cmd, arg):
    c = conns.get(cur)
    if cmd == "conn":
        if arg not in conns:
            conns[arg] = Conn(target)
        return arg
    if c is None:
        c = conns[cur] = Conn(target)
    if cmd == "send":
        c.send(expand(arg) + b"\n")
    elif cmd == "sendraw":
        c.send(expand(arg))
    elif cmd == "trickle":
        for b in expand(arg) + b"\n":
            c.send(bytes([b]))
            time.sleep(0.002)
    elif cmd == "sendlong":
        c.send(b"A" * int(arg) + b"\n")
    elif cmd == "sendpad":
        n, _, rest = arg.partition(" ")
        data = expand(rest)
        c.send(data + b"A" * (int(n) - len(data)) + b"\n")
    elif cmd == "handshake":
        for want in HANDSHAKE:
            got = c.line()
            if not re.fullmatch(want, got):
                raise StepError("handshake: want %r, got %r" % (want, got))
    elif cmd == "expect":
        got, want = c.line(), expand(arg)
        if got != want:
            raise StepError("want %r, got %r" % (want, got))
    elif cmd == "expect-re":
        got = c.line()
        if not re.fullmatch(expand(arg), got):
            raise StepError("want /%s/, got %r" % (arg, got))
    elif cmd == "expect-close":
        deadline = time.monotonic() + TIMEOUT
        while not c.eof:
            if not c.fill(deadline) and not c.eof:
                raise StepError("connection still open")
        if c.buf:
            raise StepError("unexpected data before close: %r" % c.buf)
    elif cmd == "expect-silence":
        deadline = time.monotonic() + float(arg)
        while c.fill(deadline):
            pass
        if c.buf or c.eof:
            raise StepError("got %r (eof=%s)" % (c.buf, c.eof))
    elif cmd == "sleep":
        time.sleep(float(arg))
    elif cmd == "shutrd":
        c.sock.shutdown(socket.SHUT_RD)
    elif cmd == "flood":
        n, _, rest = arg.partition(" ")
        data = (expand(rest) + b"\n") * int(n)
        c.sock.settimeout(2)
        try:
            c.sock.sendall(data)
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            pass
    elif cmd == "close":
        c.sock.close()
        del conns[cur]
    else:
        raise StepError("unknown step %r" % cmd)
    return cur


def run(target, path):
    conns, cur = {}, "main"
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for n, raw in enumerate(lines, 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cmd, _, arg = raw.partition(" ")
        try:
            cur = step(conns, cur, target, cmd, arg)
        except (StepError, OSError) as e:
            print("FAIL %s:%d: %s: %s" % (path, n, raw, e))
            return False
    for c in conns.values():
        c.sock.close()
    print("ok   %s" % path)
    return True


B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def forge(public_id, secret):
    """A well-formed token (valid checksum) that mailgate never issued."""
    body = ("mgt_%s_%s" % (public_id, secret)).encode()
    crc, check = zlib.crc32(body), ""
    for _ in range(6):
        check = B62[crc % 62] + check
        crc //= 62
    return body.decode() + check


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--forge":
        print(forge(sys.argv[2], sys.argv[3]))
        return 0
    if len(sys.argv) < 3:
        sys.stderr.write("usage: authscript.py SOCKET SCRIPT...\n")
        return 64
    bad = [p for p in sys.argv[2:] if not run(sys.argv[1], p)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
