#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""web_e2e.py - mailgate's web pages in a real browser, end to end.

Drives Debian's chromium (headless) through chromedriver's W3C WebDriver
HTTP API with the Python standard library only: sign in at mailgated
through the provider's forms, create an app password on the account
page, log in to the real Dovecot IMAP with it (through
mailgate-checkpassword and mailgated), revoke it, and see the IMAP login
fail. Saves screenshots of the account page (phone and desktop widths).

usage: web_e2e.py --web URL --driver URL --imap-port N --out DIR
                  [--login NAME] [--profile DIR]
Exit status 0 when every step worked; 1 with "FAIL: ..." otherwise.
"""

import argparse
import base64
import imaplib
import json
import os
import sys
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Driver:
    """Just enough of W3C WebDriver for one session."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.sid = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        url = self.base + path
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                out = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} "
                               f"{e.read()[:300]!r}") from None
        return out.get("value")

    def start(self, profile):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-quic", "--no-first-run",
                         "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         f"--user-data-dir={profile}",
                         "--window-size=412,915"],
            }}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def s(self, path, method="GET", body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def go(self, url):
        self.s("/url", "POST", {"url": url})

    def url(self):
        return self.s("/url")

    def source(self):
        return self.s("/source")

    def find(self, css):
        el = self.s("/element", "POST", {"using": "css selector",
                                         "value": css})
        if ELEMENT not in el:
            raise RuntimeError(f"find {css}: {str(el)[:300]}")
        return el[ELEMENT]

    def type(self, css, text):
        el = self.find(css)
        self.s(f"/element/{el}/clear", "POST", {})
        self.s(f"/element/{el}/value", "POST", {"text": text})

    def click(self, css):
        self.s(f"/element/{self.find(css)}/click", "POST", {})

    def text(self, css):
        return self.s(f"/element/{self.find(css)}/text")

    def cookies(self):
        return self.s("/cookie")

    def size(self, width, height):
        self.s("/window/rect", "POST", {"width": width, "height": height})

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.s("/screenshot")))

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", f"/session/{self.sid}")
            except RuntimeError:
                pass


def wait_for(pred, what, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def imap_login(port, user, password):
    try:
        c = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        c.login(user, password)
        c.logout()
        return "OK"
    except imaplib.IMAP4.error as e:
        return f"NO {e}"


def run(d, args):
    web = args.web.rstrip("/")
    d.go(web + "/")
    wait_for(lambda: "Sign in" in d.source(), "the signed-out page")
    d.click("a.button")
    wait_for(lambda: 'name="login"' in d.source(), "the provider's form")
    d.type("input[name=login]", args.login)
    d.type("input[name=password]", "any-password")
    d.click("button[type=submit]")
    wait_for(lambda: 'value="consent"' in d.source()
             or "Signed in as" in d.source(), "consent or account page")
    if 'value="consent"' in d.source():
        d.click("button[type=submit]")
    wait_for(lambda: "Signed in as" in d.source(), "the account page")
    print(f"ok: signed in, at {d.url()}")

    jar = {c["name"]: c for c in d.cookies()}
    c = jar.get("__Host-mailgate_session")
    if not c or not c.get("secure") or not c.get("httpOnly"):
        raise RuntimeError(f"session cookie missing or weak: {c}")
    print(f"ok: chromium keeps the Secure __Host- cookie on {web} "
          f"(sameSite={c.get('sameSite')})")

    d.type("#label", "Browser test")
    d.click("form[action='/tokens'] button[type=submit]")
    wait_for(lambda: "Your new app password" in d.source(), "the token")
    token = d.text("#token").strip()
    if not token.startswith("mgt_"):
        raise RuntimeError("no token on the page")
    print("ok: app password shown")
    d.screenshot(os.path.join(args.out, "token-phone.png"))

    got = imap_login(args.imap_port, args.login, token)
    if got != "OK":
        raise RuntimeError(f"IMAP login with the new token: {got}")
    print("ok: IMAP login with the app password")

    d.go(web + "/")
    wait_for(lambda: "Browser test" in d.source(), "the token list")
    d.screenshot(os.path.join(args.out, "account-phone.png"))
    d.size(1280, 900)
    d.screenshot(os.path.join(args.out, "account-desktop.png"))
    if token in d.source():
        raise RuntimeError("the token is shown again")
    d.click("form[action='/tokens/revoke'] button")
    wait_for(lambda: "no app passwords" in d.source(), "the revocation")
    print("ok: revoked on the page")

    got = imap_login(args.imap_port, args.login, token)
    if not got.startswith("NO"):
        raise RuntimeError(f"IMAP login after revocation: {got}")
    print(f"ok: IMAP login refused after revocation ({got[:60]})")

    d.click("form[action='/logout'] button")
    wait_for(lambda: "Sign in" in d.source()
             and "Signed in as" not in d.source(), "the sign-out")
    print("ok: signed out")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--web", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--imap-port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--login", default="browser@example.org")
    ap.add_argument("--profile", required=True)
    args = ap.parse_args()

    d = Driver(args.driver)
    try:
        d.start(args.profile)
        run(d, args)
    except RuntimeError as e:
        print(f"FAIL: {e}")
        try:
            d.screenshot(os.path.join(args.out, "failure.png"))
        except RuntimeError:
            pass
        return 1
    finally:
        d.quit()
    print("all browser checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
