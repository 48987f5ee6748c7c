/* SPDX-License-Identifier: MIT */
/*
 * oidc_map.c - [mapping]: from verified claims to a mailbox address, and
 * the rules a login must pass (domains, groups, email_verified).
 * Input: claims of a verified ID token (plus userinfo); still provider
 * data, so placeholder values are restricted to [A-Za-z0-9._+-] before
 * they become part of an address. Pure: no I/O, no clock, no logging.
 */
#include "oidc_private.h"

#include <ctype.h>
#include <string.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

/* Claim names inside {...}: what OpenID and Authentik use. */
#define OIDC_MAP_NAME_MAX 64

struct oidc_mapping {
	char *address_claim;    /* used when template is NULL */
	char *address_template; /* NULL when unset */
	char **placeholders;    /* claim names the template reads */
	size_t placeholders_count;
	char **domains; /* lower case */
	size_t domains_count;
	char **groups;
	size_t groups_count;
	char *groups_claim;
	bool require_email_verified;
	bool require_mfa;
};

static const char *const oidc_map_reasons[] = {
	[OIDC_MAP_OK] = "ok",
	[OIDC_MAP_NO_ADDRESS_CLAIM] = "no_address_claim",
	[OIDC_MAP_BAD_CLAIM_VALUE] = "bad_claim_value",
	[OIDC_MAP_BAD_ADDRESS] = "bad_address",
	[OIDC_MAP_DOMAIN_NOT_ALLOWED] = "domain_not_allowed",
	[OIDC_MAP_BAD_GROUPS_CLAIM] = "bad_groups_claim",
	[OIDC_MAP_MISSING_GROUP] = "missing_group",
	[OIDC_MAP_EMAIL_NOT_VERIFIED] = "email_not_verified",
};

const char *
oidc_map_reason_str(enum oidc_map_reason reason)
{
	if ((size_t)reason >= MG_N_ELEMENTS(oidc_map_reasons))
		return "unknown";
	return oidc_map_reasons[reason];
}

static bool
oidc_map_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Collect {name} placeholders; -1 on an unbalanced or bad one. */
static int
oidc_map_parse_template(struct oidc_mapping *m, const char *t, char **errstr_r)
{
	const char *p = t, *end;
	size_t n;

	m->placeholders = xcalloc(strlen(t) / 2 + 1, sizeof(char *));
	for (; *p != '\0'; p++) {
		if (*p == '}')
			goto bad;
		if (*p != '{')
			continue;
		end = strchr(p + 1, '}');
		if (end == NULL)
			goto bad;
		n = (size_t)(end - p - 1);
		if (n == 0 || n > OIDC_MAP_NAME_MAX)
			goto bad;
		for (const char *q = p + 1; q < end; q++)
			if (!oidc_map_name_char(*q))
				goto bad;
		m->placeholders[m->placeholders_count++] = xstrndup(p + 1, n);
		p = end;
	}
	if (m->placeholders_count == 0 || strchr(t, '@') == NULL) {
		*errstr_r = xstrdup("[mapping] address_template: needs a "
				    "{claim} placeholder and an '@'");
		return -1;
	}
	return 0;
bad:
	*errstr_r = xstrdup("[mapping] address_template: placeholders are "
			    "{name} with letters, digits, '_', '-', '.'");
	return -1;
}

static void
oidc_map_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static char **
oidc_map_copy_list(const struct config_list *l, bool lower, size_t *n_r)
{
	char **out = xcalloc(l->count + 1, sizeof(char *));
	size_t i;

	for (i = 0; i < l->count; i++) {
		out[i] = xstrdup(l->items[i]);
		if (lower)
			oidc_map_lower(out[i]);
	}
	*n_r = l->count;
	return out;
}

int
oidc_mapping_new(
    const struct config *cfg, struct oidc_mapping **map_r, char **errstr_r)
{
	const char *claim = cfg->mapping.address_claim;
	const char *tmpl = cfg->mapping.address_template;
	struct oidc_mapping *m = xcalloc(1, sizeof(*m));

	m->address_claim =
	    xstrdup(claim != NULL && claim[0] != '\0' ? claim : "email");
	if (tmpl != NULL && tmpl[0] != '\0') {
		m->address_template = xstrdup(tmpl);
		if (oidc_map_parse_template(m, tmpl, errstr_r) < 0)
			goto fail;
	}
	m->domains = oidc_map_copy_list(
	    &cfg->mapping.allowed_domains, true, &m->domains_count);
	m->groups = oidc_map_copy_list(
	    &cfg->mapping.required_groups, false, &m->groups_count);
	m->groups_claim = xstrdup(cfg->mapping.groups_claim != NULL &&
		    cfg->mapping.groups_claim[0] != '\0' ?
		cfg->mapping.groups_claim :
		"groups");
	m->require_email_verified = cfg->mapping.require_email_verified;
	m->require_mfa = cfg->mapping.require_mfa;
	if (m->require_email_verified &&
	    (m->address_template != NULL ||
		strcmp(m->address_claim, "email") != 0)) {
		*errstr_r = xstrdup("[mapping] require_email_verified: only "
				    "meaningful with address_claim = email "
				    "and no address_template");
		goto fail;
	}
	*map_r = m;
	return 0;
fail:
	oidc_mapping_free(&m);
	return -1;
}

static void
oidc_map_free_list(char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void
oidc_mapping_free(struct oidc_mapping **mapp)
{
	struct oidc_mapping *m;

	if (mapp == NULL || *mapp == NULL)
		return;
	m = *mapp;
	free(m->address_claim);
	free(m->address_template);
	oidc_map_free_list(m->placeholders, m->placeholders_count);
	oidc_map_free_list(m->domains, m->domains_count);
	oidc_map_free_list(m->groups, m->groups_count);
	free(m->groups_claim);
	free(m);
	*mapp = NULL;
}

bool
oidc_mapping_wants_userinfo(
    const struct oidc_mapping *map, const json_t *claims)
{
	size_t i;

	if (map->address_template == NULL &&
	    json_object_get(claims, map->address_claim) == NULL)
		return true;
	for (i = 0; i < map->placeholders_count; i++)
		if (json_object_get(claims, map->placeholders[i]) == NULL)
			return true;
	if (map->require_email_verified &&
	    json_object_get(claims, "email_verified") == NULL)
		return true;
	return map->groups_count > 0 &&
	    json_object_get(claims, map->groups_claim) == NULL;
}

/* A placeholder value: 1..ADDRESS_LOCAL_MAX of [A-Za-z0-9._+-]. */
static bool
oidc_map_value_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > ADDRESS_LOCAL_MAX || strlen(s) != len)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-' && s[i] != '+')
			return false;
	return true;
}

/* Expand {claim}s into out (ADDRESS_MAX + 1 bytes). */
static enum oidc_map_reason
oidc_map_expand(
    const struct oidc_mapping *m, const json_t *claims, char *out, char **msg_r)
{
	const char *p = m->address_template, *end, *val;
	size_t n = 0, vlen, k = 0;
	const json_t *v;

	for (; *p != '\0'; p++) {
		if (*p != '{') {
			val = p;
			vlen = 1;
		} else {
			end = strchr(p, '}');
			v = json_object_get(claims, m->placeholders[k++]);
			if (!json_is_string(v)) {
				*msg_r = xasprintf("claim %s (for "
						   "address_template) is "
						   "missing or not a string",
				    m->placeholders[k - 1]);
				return OIDC_MAP_NO_ADDRESS_CLAIM;
			}
			val = json_string_value(v);
			vlen = json_string_length(v);
			if (!oidc_map_value_ok(val, vlen)) {
				*msg_r = xasprintf("claim %s holds characters "
						   "an address template "
						   "refuses (allowed: letters, "
						   "digits, . _ - +)",
				    m->placeholders[k - 1]);
				return OIDC_MAP_BAD_CLAIM_VALUE;
			}
			p = end;
		}
		if (vlen > ADDRESS_MAX - n) {
			*msg_r = xstrdup("templated address is too long");
			return OIDC_MAP_BAD_ADDRESS;
		}
		memcpy(out + n, val, vlen);
		n += vlen;
	}
	out[n] = '\0';
	return OIDC_MAP_OK;
}

/* The raw address: from address_claim or address_template. */
static enum oidc_map_reason
oidc_map_raw_address(
    const struct oidc_mapping *m, const json_t *claims, char *out, char **msg_r)
{
	const json_t *v;

	if (m->address_template != NULL)
		return oidc_map_expand(m, claims, out, msg_r);
	v = json_object_get(claims, m->address_claim);
	if (v == NULL) {
		*msg_r = xasprintf("the provider sent no %s claim (is its "
				   "scope requested and mapped?)",
		    log_safe(m->address_claim, 64));
		return OIDC_MAP_NO_ADDRESS_CLAIM;
	}
	if (!json_is_string(v) || json_string_length(v) > ADDRESS_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*msg_r = xasprintf("claim %s is not a usable address",
		    log_safe(m->address_claim, 64));
		return OIDC_MAP_BAD_ADDRESS;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return OIDC_MAP_OK;
}

static enum oidc_map_reason
oidc_map_domain(const struct oidc_mapping *m, const char *address, char **msg_r)
{
	const char *dom = strrchr(address, '@');
	size_t i;

	if (m->domains_count == 0)
		return OIDC_MAP_OK;
	MG_ASSERT(dom != NULL); /* address_normalize() checked */
	for (i = 0; i < m->domains_count; i++)
		if (strcmp(dom + 1, m->domains[i]) == 0)
			return OIDC_MAP_OK;
	*msg_r = xasprintf("domain %s is not in [mapping] allowed_domains",
	    log_safe(dom + 1, 255));
	return OIDC_MAP_DOMAIN_NOT_ALLOWED;
}

/* Whether the groups claim (array of strings, or one string) has g. */
static bool
oidc_map_has_group(const json_t *gc, const char *g)
{
	const json_t *v;
	size_t i;

	if (json_is_string(gc))
		return strcmp(json_string_value(gc), g) == 0;
	json_array_foreach(gc, i, v)
		if (strcmp(json_string_value(v), g) == 0)
			return true;
	return false;
}

static enum oidc_map_reason
oidc_map_groups(
    const struct oidc_mapping *m, const json_t *claims, char **msg_r)
{
	const json_t *gc = json_object_get(claims, m->groups_claim), *v;
	size_t i;

	if (m->groups_count == 0)
		return OIDC_MAP_OK;
	if (gc == NULL) {
		*msg_r = xasprintf("no %s claim, and [mapping] "
				   "required_groups is set",
		    log_safe(m->groups_claim, 64));
		return OIDC_MAP_MISSING_GROUP;
	}
	if (!json_is_string(gc) && !json_is_array(gc)) {
		*msg_r = xasprintf("claim %s is neither a string nor a list",
		    log_safe(m->groups_claim, 64));
		return OIDC_MAP_BAD_GROUPS_CLAIM;
	}
	json_array_foreach(gc, i, v) {
		if (!json_is_string(v)) {
			*msg_r = xasprintf("claim %s holds a non-string",
			    log_safe(m->groups_claim, 64));
			return OIDC_MAP_BAD_GROUPS_CLAIM;
		}
	}
	for (i = 0; i < m->groups_count; i++) {
		if (!oidc_map_has_group(gc, m->groups[i])) {
			*msg_r = xasprintf("not a member of required group %s",
			    log_safe(m->groups[i], 64));
			return OIDC_MAP_MISSING_GROUP;
		}
	}
	return OIDC_MAP_OK;
}

enum oidc_map_reason
oidc_map(const struct oidc_mapping *map, const json_t *claims,
    struct oidc_mapped *out_r, char **msg_r)
{
	char raw[ADDRESS_MAX + 1], canon[ADDRESS_MAX + 1];
	enum oidc_map_reason r;
	const char *why;

	*msg_r = NULL;
	r = oidc_map_raw_address(map, claims, raw, msg_r);
	if (r != OIDC_MAP_OK)
		return r;
	if (address_normalize(raw, canon, &why) < 0) {
		*msg_r = xasprintf("%s is not a usable mail address: %s",
		    log_safe(raw, 100), why);
		return OIDC_MAP_BAD_ADDRESS;
	}
	if (map->require_email_verified &&
	    !json_is_true(json_object_get(claims, "email_verified"))) {
		*msg_r = xstrdup("email_verified is not true, and [mapping] "
				 "require_email_verified is set");
		return OIDC_MAP_EMAIL_NOT_VERIFIED;
	}
	r = oidc_map_domain(map, canon, msg_r);
	if (r == OIDC_MAP_OK)
		r = oidc_map_groups(map, claims, msg_r);
	if (r != OIDC_MAP_OK)
		return r;

	memcpy(out_r->address, canon, sizeof(canon));
	out_r->mfa = oidc_login_amr_mfa(claims);
	out_r->mfa_required = map->require_mfa;
	return OIDC_MAP_OK;
}
