#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""oidc_login.py - drive an OpenID Connect code-flow login headlessly.

Two modes:

  oidc_login.py [options] URL
      Start at URL (say a relying party's /login), follow every redirect
      by hand with one cookie jar, fill the provider's login and consent
      forms, and stop at the first URL that starts with --stop-prefix, or
      at the first answer that is not a redirect or a known form.

  oidc_login.py [options] --issuer ISSUER --redirect-uri URI
      Act as the relying party: read discovery, make a PKCE verifier,
      state and nonce, log in as above up to the redirect URI, check
      state, iss and error there, and trade the code at the token
      endpoint (HTTP Basic client auth). The token answer (JSON) goes to
      --tokens FILE, or to stdout.

Output (stdout): "status=<HTTP status>" and "url=<final URL>" lines, and
"error=<error>" when the final URL carries an OAuth error. Exit status:
0 when the stop prefix (or redirect URI) was reached without an error
parameter, or the chain ended on a 2xx page; 1 otherwise; 2 on bad usage.

Uses only the Python standard library. The cookie jar is a Netscape file
(the one curl reads and writes) when --jar is given.
"""

import argparse
import base64
import hashlib
import html.parser
import http.cookiejar
import json
import os
import secrets
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

MAX_BODY = 1024 * 1024


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand every 3xx back to the caller, who follows it by hand."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class FormParser(html.parser.HTMLParser):
    """Collect forms: action, method and their named inputs."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self._cur = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._cur = {"action": a.get("action") or "",
                         "method": (a.get("method") or "get").lower(),
                         "inputs": {}}
            self.forms.append(self._cur)
        elif tag == "input" and self._cur is not None and a.get("name"):
            self._cur["inputs"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._cur = None


class Browser:
    def __init__(self, jar_path, verbose, timeout, cafile=None):
        if jar_path:
            self.jar = http.cookiejar.MozillaCookieJar(jar_path)
            try:
                self.jar.load(ignore_discard=True, ignore_expires=True)
            except FileNotFoundError:
                pass
        else:
            self.jar = http.cookiejar.CookieJar()
        tls = ssl.create_default_context(cafile=cafile or None)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect(),
            urllib.request.HTTPSHandler(context=tls))
        self.verbose = verbose
        self.timeout = timeout

    def save(self):
        if isinstance(self.jar, http.cookiejar.MozillaCookieJar):
            self.jar.save(ignore_discard=True, ignore_expires=True)

    def request(self, method, url, data=None, headers=None):
        """Return (status, location or None, body text)."""
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(url, data=body, method=method,
                                     headers=headers or {})
        if body is not None:
            req.add_header("Content-Type",
                           "application/x-www-form-urlencoded")
        try:
            resp = self.opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            resp = e
        with resp:
            status = resp.status if hasattr(resp, "status") else resp.code
            loc = resp.headers.get("Location")
            text = resp.read(MAX_BODY).decode("utf-8", "replace")
        if loc is not None:
            loc = urllib.parse.urljoin(url, loc)
        if self.verbose:
            print(f"# {method} {redact(url)} -> {status}"
                  + (f" {redact(loc)}" if loc else ""), file=sys.stderr)
        return status, loc, text


def redact(url):
    """Hide codes and states in trace output."""
    if url is None:
        return url
    p = urllib.parse.urlsplit(url)
    q = [(k, "..." if k in ("code", "state", "code_verifier") else v)
         for k, v in urllib.parse.parse_qsl(p.query, keep_blank_values=True)]
    return urllib.parse.urlunsplit(p._replace(
        query=urllib.parse.urlencode(q)))


def fill_form(page, login, password):
    """Return (action, fields) for a login/consent form, or None."""
    parser = FormParser()
    parser.feed(page)
    for form in parser.forms:
        fields = dict(form["inputs"])
        prompt = fields.get("prompt")
        if form["method"] != "post" or prompt not in ("login", "consent"):
            continue
        if prompt == "login":
            fields["login"] = login
            fields["password"] = password
        return form["action"], fields
    return None


def drive(browser, url, stop_prefix, login, password, max_steps):
    """Follow the chain; return (status, final url)."""
    method, data, status = "GET", None, 0
    for _ in range(max_steps):
        if stop_prefix and url.startswith(stop_prefix):
            return status, url
        status, loc, page = browser.request(method, url, data)
        method, data = "GET", None
        if loc and 300 <= status < 400:
            url = loc
            continue
        form = fill_form(page, login, password) if status == 200 else None
        if form is None:
            return status, url
        url = urllib.parse.urljoin(url, form[0])
        method, data = "POST", form[1]
    print("oidc_login: too many steps", file=sys.stderr)
    return 0, url


def oauth_error(url):
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    return q.get("error")


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def relying_party(browser, args):
    """Return (exit status, status, url)."""
    disc_url = args.issuer + ".well-known/openid-configuration"
    status, _, text = browser.request("GET", disc_url)
    if status != 200:
        print(f"oidc_login: discovery answered {status}", file=sys.stderr)
        return 1, status, disc_url
    disc = json.loads(text)
    verifier = b64url(secrets.token_bytes(48))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    state, nonce = b64url(secrets.token_bytes(16)), b64url(
        secrets.token_bytes(16))
    params = {"client_id": args.client_id, "response_type": "code",
              "scope": args.scope, "redirect_uri": args.redirect_uri,
              "state": state, "nonce": nonce}
    if not args.no_pkce:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    start = disc["authorization_endpoint"] + "?" + urllib.parse.urlencode(
        params, quote_via=urllib.parse.quote)
    status, url = drive(browser, start, args.redirect_uri, args.login,
                        args.password, args.max_steps)
    if not url.startswith(args.redirect_uri):
        return 1, status, url
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    if "error" in q or q.get("state") != state or \
            q.get("iss", disc["issuer"]) != disc["issuer"] or "code" not in q:
        return 1, status, url
    auth = base64.b64encode(
        f"{args.client_id}:{args.client_secret}".encode()).decode()
    tstatus, _, text = browser.request(
        "POST", disc["token_endpoint"],
        {"grant_type": "authorization_code", "code": q["code"],
         "redirect_uri": args.redirect_uri, "code_verifier": verifier},
        {"Authorization": "Basic " + auth, "Accept": "application/json"})
    out = json.loads(text) if text.strip().startswith("{") else {}
    out["nonce"] = nonce
    if args.tokens:
        with open(args.tokens, "w", encoding="utf-8") as f:
            json.dump(out, f)
    else:
        json.dump(out, sys.stdout)
        print()
    return (0 if tstatus == 200 else 1), status, url


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url", nargs="?", help="where to start")
    ap.add_argument("--login", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--stop-prefix", default="",
                    help="stop before requesting a URL with this prefix")
    ap.add_argument("--jar", help="Netscape cookie file to load and save")
    ap.add_argument("--max-steps", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--cafile", default=os.environ.get("MG_IDP_CA", ""),
                    help="CA file for an https provider (env MG_IDP_CA)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--issuer", help="relying-party mode: the issuer")
    ap.add_argument("--client-id", default="mailgate")
    ap.add_argument("--client-secret",
                    default="mailgate-test-client-secret-0123456789abcdef")
    ap.add_argument("--redirect-uri", default="http://127.0.0.1:9401/callback")
    ap.add_argument("--scope", default="openid email profile")
    ap.add_argument("--no-pkce", action="store_true")
    ap.add_argument("--tokens", help="relying-party mode: write JSON here")
    args = ap.parse_args()
    if bool(args.url) == bool(args.issuer):
        ap.error("give either URL or --issuer")

    browser = Browser(args.jar, args.verbose, args.timeout, args.cafile)
    if args.issuer:
        rc, status, url = relying_party(browser, args)
    else:
        status, url = drive(browser, args.url, args.stop_prefix, args.login,
                            args.password, args.max_steps)
        if args.stop_prefix:
            rc = 0 if url.startswith(args.stop_prefix) else 1
        else:
            rc = 0 if 200 <= status < 300 else 1
        if oauth_error(url):
            rc = 1
    browser.save()
    print(f"status={status}")
    print(f"url={url}")
    if oauth_error(url):
        print(f"error={oauth_error(url)}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
