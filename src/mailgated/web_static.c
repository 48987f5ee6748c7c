/* SPDX-License-Identifier: MIT */
/*
 * web_static.c - the one stylesheet, served as /static/mailgate.css.
 * Pages carry no inline style or script, so the CSP can forbid both.
 * Colours keep a contrast of at least 4.5:1 (WCAG AA) on their
 * backgrounds; the layout is one column that fits a phone.
 */
#include "http_private.h"

static const char web_static_css_text[] =
    ":root{color-scheme:light;--fg:#1b1f24;--muted:#4a5563;--bg:#f6f7f9;"
    "--card:#fff;--line:#d5d9e0;--accent:#0b57d0;--accent-fg:#fff;"
    "--warn-bg:#fff4d6;--warn-line:#b98900;--danger:#b3261e}\n"
    "*{box-sizing:border-box}\n"
    "html{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,"
    "sans-serif;font-size:100%;line-height:1.5;color:var(--fg);"
    "background:var(--bg)}\n"
    "body{margin:0;padding:1rem}\n"
    "main{max-width:46rem;margin:0 auto}\n"
    "h1{font-size:1.6rem;margin:.5rem 0 1rem}\n"
    "h2{font-size:1.2rem;margin:0 0 .75rem}\n"
    "section{background:var(--card);border:1px solid var(--line);"
    "border-radius:.5rem;padding:1rem;margin:0 0 1rem}\n"
    "p{margin:.5rem 0}\n"
    "a{color:var(--accent)}\n"
    "a:focus,button:focus,input:focus,select:focus{outline:3px solid "
    "var(--accent);outline-offset:2px}\n"
    ".notice{background:var(--warn-bg);border:1px solid var(--warn-line);"
    "border-radius:.5rem;padding:.75rem 1rem}\n"
    ".muted{color:var(--muted)}\n"
    "table{width:100%;border-collapse:collapse}\n"
    "th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid "
    "var(--line);vertical-align:top}\n"
    "th{font-weight:600}\n"
    "label{display:block;font-weight:600;margin:.75rem 0 .25rem}\n"
    "fieldset{border:1px solid var(--line);border-radius:.5rem;"
    "margin:.75rem 0;padding:.5rem 1rem}\n"
    "legend{font-weight:600;padding:0 .25rem}\n"
    "fieldset label{display:inline-block;font-weight:400;"
    "margin:.25rem 1rem .25rem 0}\n"
    "input[type=text],select{width:100%;max-width:24rem;font:inherit;"
    "padding:.5rem;border:1px solid var(--muted);border-radius:.25rem}\n"
    "button,.button{display:inline-block;font:inherit;font-weight:600;"
    "padding:.5rem 1rem;border-radius:.25rem;border:1px solid "
    "var(--accent);background:var(--accent);color:var(--accent-fg);"
    "text-decoration:none;cursor:pointer}\n"
    "button.secondary{background:var(--card);color:var(--accent)}\n"
    "button.danger{background:var(--card);color:var(--danger);"
    "border-color:var(--danger)}\n"
    "form.inline{display:inline;margin:0}\n"
    ".token{display:block;font-family:ui-monospace,monospace;"
    "font-size:1.1rem;word-break:break-all;background:var(--bg);"
    "border:1px solid var(--line);padding:.75rem;border-radius:.25rem;"
    "user-select:all}\n"
    "@media (max-width:36rem){body{padding:.5rem}"
    "table,thead,tbody,tr,th,td{display:block}thead{display:none}"
    "tr{border-bottom:1px solid var(--line);padding:.5rem 0}"
    "td{border:0;padding:.1rem 0}"
    "td[data-label]::before{content:attr(data-label) \": \";"
    "font-weight:600}}\n";

void
web_static_css(struct http_reply *rep)
{
	rep->status = MHD_HTTP_OK;
	rep->type = "text/css; charset=utf-8";
	rep->cacheable = true;
	http_buf_addn(
	    &rep->body, web_static_css_text, sizeof(web_static_css_text) - 1);
}
