/* SPDX-License-Identifier: MIT */
/*
 * test_web_http.c - the web service's parsers and escapers: HTML
 * escaping, form bodies, return_to, trusted proxies and the client
 * address. Negatives outnumber positives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The sources themselves: they belong to mailgated, not to a library. */
#include "mailgated/http_html.c" /* NOLINT(bugprone-suspicious-include) */
#include "mailgated/http_net.c"  /* NOLINT(bugprone-suspicious-include) */

static const struct {
	const char *name;
	const char *in;
	const char *want;
} escape_cases[] = {
	{ "plain", "alice@example.org", "alice@example.org" },
	{ "tag", "<script>alert(1)</script>",
	    "&lt;script&gt;alert(1)&lt;/script&gt;" },
	{ "attribute breakout", "\" onfocus=\"x", "&quot; onfocus=&quot;x" },
	{ "single quote", "it's", "it&#39;s" },
	{ "ampersand", "a&b&amp;", "a&amp;b&amp;amp;" },
	{ "control bytes dropped", "a\001b\033c\177", "abc" },
	{ "newline kept", "a\nb", "a\nb" },
	{ "utf-8 kept", "J\xc3\xbcrgen", "J\xc3\xbcrgen" },
	{ "empty", "", "" },
};

static void
escape_table(void **state)
{
	char out[128];
	size_t i, need;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(escape_cases); i++) {
		need = http_html_escape(escape_cases[i].in, out, sizeof(out));
		if (strcmp(out, escape_cases[i].want) != 0 ||
		    need != strlen(escape_cases[i].want))
			fail_msg("%s: got \"%s\"", escape_cases[i].name, out);
	}
}

static void
escape_truncates_safely(void **state)
{
	char out[6];
	size_t need;

	(void)state;
	need = http_html_escape("<<<<", out, sizeof(out));
	assert_int_equal(need, 16);
	/* Never half an entity: "&lt;" fits, the next one does not. */
	assert_string_equal(out, "&lt;");
	assert_int_equal(http_html_escape("x", NULL, 0), 1);
}

static void
buf_esc_grows(void **state)
{
	struct http_buf b;
	size_t i;

	(void)state;
	http_buf_init(&b);
	for (i = 0; i < 1000; i++)
		http_buf_esc(&b, "<&>");
	assert_int_equal(b.len, 1000 * 13);
	assert_int_equal(strncmp(b.p, "&lt;&amp;&gt;&lt;", 17), 0);
	http_buf_deinit(&b);
}

static void
urlenc_encodes_reserved(void **state)
{
	struct http_buf b;

	(void)state;
	http_buf_init(&b);
	http_buf_urlenc(&b, "/a b?c=d&e~");
	assert_string_equal(b.p, "%2Fa%20b%3Fc%3Dd%26e~");
	http_buf_deinit(&b);
}

static const struct {
	const char *name;
	const char *body;
	const char *field;
	int want;
	const char *value;
} form_cases[] = {
	{ "simple", "a=1&label=hello", "label", 0, "hello" },
	{ "plus is space", "label=my+phone", "label", 0, "my phone" },
	{ "percent", "label=%3Cb%3E%26", "label", 0, "<b>&" },
	{ "empty value", "label=&x=1", "label", 0, "" },
	{ "no equals", "label&x=1", "label", 0, "" },
	{ "first of two", "label=a&label=b", "label", 0, "a" },
	{ "missing", "a=1&b=2", "label", -1, NULL },
	{ "prefix is not a match", "labelx=1", "label", -1, NULL },
	{ "suffix is not a match", "xlabel=1", "label", -1, NULL },
	{ "empty body", "", "label", -1, NULL },
	{ "bad escape", "label=%zz", "label", -2, NULL },
	{ "cut escape", "label=%4", "label", -2, NULL },
	{ "lone percent", "label=%", "label", -2, NULL },
	{ "nul byte", "label=a%00b", "label", -2, NULL },
	{ "escape byte", "label=a%1bb", "label", -2, NULL },
	{ "too long", "label=0123456789abcdefX", "label", -2, NULL },
};

static void
form_table(void **state)
{
	char out[17];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(form_cases); i++) {
		r = http_form_get(form_cases[i].body,
		    strlen(form_cases[i].body), form_cases[i].field, out,
		    sizeof(out));
		if (r != form_cases[i].want)
			fail_msg("%s: got %d", form_cases[i].name, r);
		if (r == 0 && strcmp(out, form_cases[i].value) != 0)
			fail_msg("%s: got \"%s\"", form_cases[i].name, out);
	}
}

static void
form_repeated_fields(void **state)
{
	const char *body = "scope=imap&label=x&scope=smtp&scope=sieve";
	char out[16];
	size_t pos = 0;

	(void)state;
	assert_int_equal(
	    http_form_next(body, strlen(body), "scope", &pos, out, sizeof(out)),
	    0);
	assert_string_equal(out, "imap");
	assert_int_equal(
	    http_form_next(body, strlen(body), "scope", &pos, out, sizeof(out)),
	    0);
	assert_string_equal(out, "smtp");
	assert_int_equal(
	    http_form_next(body, strlen(body), "scope", &pos, out, sizeof(out)),
	    0);
	assert_string_equal(out, "sieve");
	assert_int_equal(
	    http_form_next(body, strlen(body), "scope", &pos, out, sizeof(out)),
	    -1);
}

static const struct {
	const char *in;
	bool ok;
} return_to_cases[] = {
	{ "/", true },
	{ "/mail/inbox?folder=x", true },
	{ "/a%2F%2Fb", true },
	{ "//evil.example/", false },
	{ "/\\evil.example", false },
	{ "https://evil.example/", false },
	{ "http:/evil", false },
	{ "evil.example", false },
	{ "", false },
	{ "/a b", false },
	{ "/a\tb", false },
	{ "/a\r\nLocation: x", false },
	{ "/a\\b", false },
	{ "javascript:alert(1)", false },
};

static void
return_to_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(return_to_cases); i++) {
		if (http_html_return_to_ok(return_to_cases[i].in) !=
		    return_to_cases[i].ok)
			fail_msg("return_to \"%s\"", return_to_cases[i].in);
	}
	assert_false(http_html_return_to_ok(NULL));
}

static const struct {
	const char *in;
	int want;
} cidr_cases[] = {
	{ "10.0.0.0/8", 0 },
	{ "192.0.2.7", 0 },
	{ "2001:db8::/32", 0 },
	{ "::1", 0 },
	{ "0.0.0.0/0", 0 },
	{ "10.0.0.1/8", -1 }, /* host bits set */
	{ "10.0.0.0/33", -1 },
	{ "2001:db8::/129", -1 },
	{ "10.0.0.0/", -1 },
	{ "10.0.0.0/-1", -1 },
	{ "10.0.0.0/ 8", -1 },
	{ "10.0.0/8", -1 },
	{ "example.org", -1 },
	{ "", -1 },
	{ "/8", -1 },
	{ "10.0.0.0/8/8", -1 },
};

static void
cidr_table(void **state)
{
	struct http_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < MG_N_ELEMENTS(cidr_cases); i++) {
		if (http_net_cidr_parse(cidr_cases[i].in, &c) !=
		    cidr_cases[i].want)
			fail_msg("cidr \"%s\"", cidr_cases[i].in);
	}
}

static const struct {
	const char *name;
	const char *peer;
	const char *xff;
	const char *want;
} client_cases[] = {
	{ "direct, no header", "198.51.100.1", NULL, "198.51.100.1" },
	{ "untrusted peer's header ignored", "198.51.100.1", "203.0.113.9",
	    "198.51.100.1" },
	{ "trusted proxy", "10.0.0.2", "203.0.113.9", "203.0.113.9" },
	{ "spoofed left entries ignored", "10.0.0.2", "1.2.3.4, 203.0.113.9",
	    "203.0.113.9" },
	{ "chain of proxies", "10.0.0.2", "203.0.113.9, 10.0.0.3",
	    "203.0.113.9" },
	{ "malformed stops the walk", "10.0.0.2", "203.0.113.9, junk",
	    "10.0.0.2" },
	{ "empty header", "10.0.0.2", "", "10.0.0.2" },
	{ "only proxies", "10.0.0.2", "10.0.0.4", "10.0.0.4" },
	{ "mapped v4 peer", "::ffff:10.0.0.2", "203.0.113.9", "203.0.113.9" },
	{ "v6 client", "10.0.0.2", "2001:db8::1", "2001:db8::1" },
	{ "port is malformed", "10.0.0.2", "203.0.113.9:1234", "10.0.0.2" },
};

static void
client_table(void **state)
{
	struct http_cidr proxies[1] = { { 0 } };
	char out[HTTP_NET_ADDR_MAX];
	size_t i;

	(void)state;
	assert_int_equal(http_net_cidr_parse("10.0.0.0/8", &proxies[0]), 0);
	for (i = 0; i < MG_N_ELEMENTS(client_cases); i++) {
		http_net_client(
		    proxies, 1, client_cases[i].peer, client_cases[i].xff, out);
		if (strcmp(out, client_cases[i].want) != 0)
			fail_msg("%s: got %s", client_cases[i].name, out);
	}
	/* No trusted proxies at all: the header never counts. */
	http_net_client(proxies, 0, "10.0.0.2", "203.0.113.9", out);
	assert_string_equal(out, "10.0.0.2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escape_table),
		cmocka_unit_test(escape_truncates_safely),
		cmocka_unit_test(buf_esc_grows),
		cmocka_unit_test(urlenc_encodes_reserved),
		cmocka_unit_test(form_table),
		cmocka_unit_test(form_repeated_fields),
		cmocka_unit_test(return_to_table),
		cmocka_unit_test(cidr_table),
		cmocka_unit_test(client_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
