/* SPDX-License-Identifier: MIT */
/*
 * test_oidc_map.c - [mapping] from claims to an address, rule by rule:
 * address_claim, address_template, allowed_domains, required_groups,
 * require_email_verified, amr/MFA; negatives outnumber positives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mailgate/oidc.h"

struct mapcfg {
	const char *claim;
	const char *tmpl;
	const char *domains[3];
	const char *groups[3];
	const char *groups_claim;
	bool verified;
	bool mfa;
};

static unsigned int
count(const char *const *l)
{
	unsigned int n = 0;

	while (n < 3 && l[n] != NULL)
		n++;
	return n;
}

/* A writable copy in buf (struct config holds char *), or NULL. */
static char *
copy(const char *s, char buf[80])
{
	if (s == NULL)
		return NULL;
	(void)snprintf(buf, 80, "%s", s);
	return buf;
}

static int
map_new(const struct mapcfg *mc, struct oidc_mapping **m, char **err)
{
	char bufs[9][80], *domains[3], *groups[3];
	struct config cfg;
	int i;

	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < 3; i++) {
		domains[i] = copy(mc->domains[i], bufs[3 + i]);
		groups[i] = copy(mc->groups[i], bufs[6 + i]);
	}
	cfg.mapping.address_claim = copy(mc->claim, bufs[0]);
	cfg.mapping.address_template = copy(mc->tmpl, bufs[1]);
	cfg.mapping.allowed_domains.items = domains;
	cfg.mapping.allowed_domains.count = count(mc->domains);
	cfg.mapping.required_groups.items = groups;
	cfg.mapping.required_groups.count = count(mc->groups);
	cfg.mapping.groups_claim = copy(mc->groups_claim, bufs[2]);
	cfg.mapping.require_email_verified = mc->verified;
	cfg.mapping.require_mfa = mc->mfa;
	return oidc_mapping_new(&cfg, m, err);
}

static const struct mapcfg C_EMAIL = { 0 };
static const struct mapcfg C_TMPL = { .tmpl =
					  "{preferred_username}@example.org" };
static const struct mapcfg C_TMPL2 = { .tmpl =
					   "{given}.{family}@corp.example" };
static const struct mapcfg C_UPN = { .claim = "upn" };
static const struct mapcfg C_DOM = { .domains = {
					 "Example.org", "mail.example.net" } };
static const struct mapcfg C_GRP = { .groups = { "mail-users", "staff" } };
static const struct mapcfg C_GRP_ROLES = { .groups = { "mail" },
	.groups_claim = "roles" };
static const struct mapcfg C_VER = { .verified = true };
static const struct mapcfg C_MFA = { .mfa = true };

static const struct { /* NOLINT(clang-analyzer-optin.performance.Padding) */
	const char *name;
	const struct mapcfg *cfg;
	const char *claims;
	enum oidc_map_reason want;
	const char *address; /* when OK */
	bool mfa;
} cases[] = {
	/* positives */
	{ "email lower-cased", &C_EMAIL, "{\"email\":\"Alice@Example.ORG\"}",
	    OIDC_MAP_OK, "alice@example.org", false },
	{ "template", &C_TMPL, "{\"preferred_username\":\"bob.smith+x\"}",
	    OIDC_MAP_OK, "bob.smith+x@example.org", false },
	{ "template two claims", &C_TMPL2,
	    "{\"given\":\"Ann\",\"family\":\"Lee\"}", OIDC_MAP_OK,
	    "ann.lee@corp.example", false },
	{ "other claim", &C_UPN, "{\"upn\":\"c@example.org\"}", OIDC_MAP_OK,
	    "c@example.org", false },
	{ "domain allowed, case", &C_DOM, "{\"email\":\"a@EXAMPLE.org\"}",
	    OIDC_MAP_OK, "a@example.org", false },
	{ "second domain", &C_DOM, "{\"email\":\"a@mail.example.net\"}",
	    OIDC_MAP_OK, "a@mail.example.net", false },
	{ "groups array", &C_GRP,
	    "{\"email\":\"a@b.org\",\"groups\":[\"x\",\"staff\","
	    "\"mail-users\"]}",
	    OIDC_MAP_OK, "a@b.org", false },
	{ "groups claim renamed, string", &C_GRP_ROLES,
	    "{\"email\":\"a@b.org\",\"roles\":\"mail\"}", OIDC_MAP_OK,
	    "a@b.org", false },
	{ "verified true", &C_VER,
	    "{\"email\":\"a@b.org\",\"email_verified\":true}", OIDC_MAP_OK,
	    "a@b.org", false },
	{ "mfa in amr", &C_MFA,
	    "{\"email\":\"a@b.org\",\"amr\":[\"pwd\",\"mfa\"]}", OIDC_MAP_OK,
	    "a@b.org", true },
	/* negatives */
	{ "no email", &C_EMAIL, "{\"name\":\"A\"}", OIDC_MAP_NO_ADDRESS_CLAIM,
	    NULL, false },
	{ "email null", &C_EMAIL, "{\"email\":null}", OIDC_MAP_BAD_ADDRESS,
	    NULL, false },
	{ "email number", &C_EMAIL, "{\"email\":5}", OIDC_MAP_BAD_ADDRESS, NULL,
	    false },
	{ "email array", &C_EMAIL, "{\"email\":[\"a@b.org\"]}",
	    OIDC_MAP_BAD_ADDRESS, NULL, false },
	{ "email no at", &C_EMAIL, "{\"email\":\"alice\"}",
	    OIDC_MAP_BAD_ADDRESS, NULL, false },
	{ "email two ats", &C_EMAIL, "{\"email\":\"a@b@c.org\"}",
	    OIDC_MAP_BAD_ADDRESS, NULL, false },
	{ "email with newline", &C_EMAIL, "{\"email\":\"a@b.org\\n\"}",
	    OIDC_MAP_BAD_ADDRESS, NULL, false },
	{ "email with NUL", &C_EMAIL, "{\"email\":\"a@b.org\\u0000x\"}",
	    OIDC_MAP_BAD_ADDRESS, NULL, false },
	{ "email non-ascii", &C_EMAIL, "{\"email\":\"j\\u00f6rg@b.org\"}",
	    OIDC_MAP_BAD_ADDRESS, NULL, false },
	{ "email too long", &C_EMAIL,
	    "{\"email\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaa@b.org\"}",
	    OIDC_MAP_BAD_ADDRESS, NULL, false },
	{ "template claim missing", &C_TMPL, "{\"email\":\"a@b.org\"}",
	    OIDC_MAP_NO_ADDRESS_CLAIM, NULL, false },
	{ "template claim number", &C_TMPL, "{\"preferred_username\":7}",
	    OIDC_MAP_NO_ADDRESS_CLAIM, NULL, false },
	{ "template value with @", &C_TMPL,
	    "{\"preferred_username\":\"a@evil.org\"}", OIDC_MAP_BAD_CLAIM_VALUE,
	    NULL, false },
	{ "template value with space", &C_TMPL,
	    "{\"preferred_username\":\"a b\"}", OIDC_MAP_BAD_CLAIM_VALUE, NULL,
	    false },
	{ "template value empty", &C_TMPL, "{\"preferred_username\":\"\"}",
	    OIDC_MAP_BAD_CLAIM_VALUE, NULL, false },
	{ "template value slash", &C_TMPL, "{\"preferred_username\":\"a/b\"}",
	    OIDC_MAP_BAD_CLAIM_VALUE, NULL, false },
	{ "template value unicode", &C_TMPL,
	    "{\"preferred_username\":\"\\u00e9\"}", OIDC_MAP_BAD_CLAIM_VALUE,
	    NULL, false },
	{ "template value percent", &C_TMPL,
	    "{\"preferred_username\":\"a%40b\"}", OIDC_MAP_BAD_CLAIM_VALUE,
	    NULL, false },
	{ "template value dots make bad local", &C_TMPL,
	    "{\"preferred_username\":\"a..b\"}", OIDC_MAP_BAD_ADDRESS, NULL,
	    false },
	{ "template value leading dot", &C_TMPL,
	    "{\"preferred_username\":\".a\"}", OIDC_MAP_BAD_ADDRESS, NULL,
	    false },
	{ "domain not allowed", &C_DOM, "{\"email\":\"a@evil.org\"}",
	    OIDC_MAP_DOMAIN_NOT_ALLOWED, NULL, false },
	{ "subdomain not allowed", &C_DOM, "{\"email\":\"a@x.example.org\"}",
	    OIDC_MAP_DOMAIN_NOT_ALLOWED, NULL, false },
	{ "suffix trick", &C_DOM, "{\"email\":\"a@evilexample.org\"}",
	    OIDC_MAP_DOMAIN_NOT_ALLOWED, NULL, false },
	{ "parent of allowed", &C_DOM, "{\"email\":\"a@example.net\"}",
	    OIDC_MAP_DOMAIN_NOT_ALLOWED, NULL, false },
	{ "no groups claim", &C_GRP, "{\"email\":\"a@b.org\"}",
	    OIDC_MAP_MISSING_GROUP, NULL, false },
	{ "one group missing", &C_GRP,
	    "{\"email\":\"a@b.org\",\"groups\":[\"staff\"]}",
	    OIDC_MAP_MISSING_GROUP, NULL, false },
	{ "group case differs", &C_GRP,
	    "{\"email\":\"a@b.org\",\"groups\":[\"Staff\",\"mail-users\"]}",
	    OIDC_MAP_MISSING_GROUP, NULL, false },
	{ "groups empty", &C_GRP, "{\"email\":\"a@b.org\",\"groups\":[]}",
	    OIDC_MAP_MISSING_GROUP, NULL, false },
	{ "groups single string, two needed", &C_GRP,
	    "{\"email\":\"a@b.org\",\"groups\":\"staff\"}",
	    OIDC_MAP_MISSING_GROUP, NULL, false },
	{ "groups object", &C_GRP,
	    "{\"email\":\"a@b.org\",\"groups\":{\"staff\":true}}",
	    OIDC_MAP_BAD_GROUPS_CLAIM, NULL, false },
	{ "groups holds number", &C_GRP,
	    "{\"email\":\"a@b.org\",\"groups\":[\"staff\",1,"
	    "\"mail-users\"]}",
	    OIDC_MAP_BAD_GROUPS_CLAIM, NULL, false },
	{ "groups in wrong claim", &C_GRP_ROLES,
	    "{\"email\":\"a@b.org\",\"groups\":[\"mail\"]}",
	    OIDC_MAP_MISSING_GROUP, NULL, false },
	{ "verified false (Authentik 2025.10+)", &C_VER,
	    "{\"email\":\"a@b.org\",\"email_verified\":false}",
	    OIDC_MAP_EMAIL_NOT_VERIFIED, NULL, false },
	{ "verified string true", &C_VER,
	    "{\"email\":\"a@b.org\",\"email_verified\":\"true\"}",
	    OIDC_MAP_EMAIL_NOT_VERIFIED, NULL, false },
	{ "verified 1", &C_VER, "{\"email\":\"a@b.org\",\"email_verified\":1}",
	    OIDC_MAP_EMAIL_NOT_VERIFIED, NULL, false },
	{ "verified missing", &C_VER, "{\"email\":\"a@b.org\"}",
	    OIDC_MAP_EMAIL_NOT_VERIFIED, NULL, false },
	/* MFA is reported, not enforced: the caller gates tokens. */
	{ "amr missing is no mfa", &C_MFA, "{\"email\":\"a@b.org\"}",
	    OIDC_MAP_OK, "a@b.org", false },
	{ "amr string is no mfa", &C_MFA,
	    "{\"email\":\"a@b.org\",\"amr\":\"mfa\"}", OIDC_MAP_OK, "a@b.org",
	    false },
	{ "amr pwd only", &C_MFA, "{\"email\":\"a@b.org\",\"amr\":[\"pwd\"]}",
	    OIDC_MAP_OK, "a@b.org", false },
	{ "amr MFA upper case", &C_MFA,
	    "{\"email\":\"a@b.org\",\"amr\":[\"MFA\"]}", OIDC_MAP_OK, "a@b.org",
	    false },
};

static void
map_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oidc_mapping *m = NULL;
		struct oidc_mapped out;
		json_t *claims =
		    json_loads(cases[i].claims, JSON_ALLOW_NUL, NULL);
		enum oidc_map_reason r;
		char *err = NULL, *msg = NULL;

		assert_non_null(claims);
		if (map_new(cases[i].cfg, &m, &err) != 0)
			fail_msg("%s: config: %s", cases[i].name, err);
		memset(&out, 0, sizeof(out));
		r = oidc_map(m, claims, &out, &msg);
		if (r != cases[i].want)
			fail_msg("%s: got %s (%s) want %s", cases[i].name,
			    oidc_map_reason_str(r), msg != NULL ? msg : "-",
			    oidc_map_reason_str(cases[i].want));
		if (r == OIDC_MAP_OK) {
			assert_null(msg);
			assert_string_equal(out.address, cases[i].address);
			assert_int_equal(out.mfa, cases[i].mfa);
			assert_int_equal(out.mfa_required, cases[i].cfg->mfa);
		} else {
			assert_non_null(msg);
		}
		free(msg);
		json_decref(claims);
		oidc_mapping_free(&m);
		assert_null(m);
	}
}

static void
mapping_config_refused(void **state)
{
	static const struct mapcfg bad[] = {
		{ .tmpl = "{preferred_username" },
		{ .tmpl = "preferred_username}@x.org" },
		{ .tmpl = "{}@x.org" },
		{ .tmpl = "{a b}@x.org" },
		{ .tmpl = "{user}" },            /* no @ */
		{ .tmpl = "fixed@example.org" }, /* no placeholder */
		{ .tmpl = "{{user}}@x.org" },
		{ .claim = "upn", .verified = true },
		{ .tmpl = "{u}@x.org", .verified = true },
	};
	struct oidc_mapping *m = NULL;
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (map_new(&bad[i], &m, &err) != -1)
			fail_msg("case %zu accepted", i);
		assert_non_null(err);
		assert_null(m);
		free(err);
		err = NULL;
	}
}

static void
reason_words(void **state)
{
	(void)state;
	assert_string_equal(oidc_map_reason_str(OIDC_MAP_OK), "ok");
	assert_string_equal(
	    oidc_map_reason_str(OIDC_MAP_NO_ADDRESS_CLAIM), "no_address_claim");
	assert_string_equal(
	    oidc_map_reason_str(OIDC_MAP_BAD_ADDRESS), "bad_address");
	assert_string_equal(oidc_map_reason_str(OIDC_MAP_DOMAIN_NOT_ALLOWED),
	    "domain_not_allowed");
	assert_string_equal(
	    oidc_map_reason_str(OIDC_MAP_MISSING_GROUP), "missing_group");
	assert_string_equal(oidc_map_reason_str(OIDC_MAP_EMAIL_NOT_VERIFIED),
	    "email_not_verified");
	assert_string_equal(
	    oidc_map_reason_str((enum oidc_map_reason)99), "unknown");
}

static void
wants_userinfo(void **state)
{
	static const struct {
		const struct mapcfg *cfg;
		const char *claims;
		bool want;
	} c[] = {
		{ &C_EMAIL, "{\"email\":\"a@b.org\"}", false },
		{ &C_EMAIL, "{\"sub\":\"x\"}", true },
		{ &C_TMPL, "{\"email\":\"a@b.org\"}", true },
		{ &C_TMPL, "{\"preferred_username\":\"a\"}", false },
		{ &C_GRP, "{\"email\":\"a@b.org\"}", true },
		{ &C_GRP, "{\"email\":\"a@b.org\",\"groups\":[]}", false },
		{ &C_VER, "{\"email\":\"a@b.org\"}", true },
	};
	struct oidc_mapping *m = NULL;
	char *err = NULL;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(map_new(c[i].cfg, &m, &err), 0);
		j = json_loads(c[i].claims, 0, NULL);
		if (oidc_mapping_wants_userinfo(m, j) != c[i].want)
			fail_msg("case %zu", i);
		json_decref(j);
		oidc_mapping_free(&m);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(map_cases),
		cmocka_unit_test(mapping_config_refused),
		cmocka_unit_test(reason_words),
		cmocka_unit_test(wants_userinfo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
