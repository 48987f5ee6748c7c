/* SPDX-License-Identifier: MIT */
/*
 * oidc_probe.c - drive mg_oidc against a real provider, one step per run,
 * for tests/integration/test_oidc_idp.sh:
 *
 *   oidc_probe begin STATEFILE           print the login URL
 *   oidc_probe finish STATEFILE CALLBACK trade the code, verify, map
 *   oidc_probe refresh                   discovery + JWKS only
 *   oidc_probe bench STATEFILE CALLBACK N
 *                 finish, then verify the same ID token N times and
 *                 print the time per verification (tests/bench only)
 *
 * Environment: PROBE_ISSUER, PROBE_CLIENT_ID, PROBE_CLIENT_SECRET,
 * PROBE_REDIRECT, PROBE_AUTH_METHOD (optional), PROBE_GROUP (optional
 * required group). STATEFILE keeps state, nonce and verifier between the
 * two runs (mode 0600); this is a test tool, real logins keep them in the
 * database. Output: key=value lines; exit 0 ok, 1 refused, 2 temp, 3 usage.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mailgate/log.h"
#include "mailgate/oidc.h"
#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

static const char *
probe_env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0') {
		fprintf(stderr, "oidc_probe: %s is not set\n", name);
		exit(3);
	}
	return v;
}

static struct oidc *
probe_rp(void)
{
	const char *sec = probe_env("PROBE_CLIENT_SECRET");
	struct secret *s = secret_from(sec, strlen(sec));
	struct oidc_params p;
	struct oidc *o = NULL;
	char *err = NULL;

	memset(&p, 0, sizeof(p));
	p.issuer = probe_env("PROBE_ISSUER");
	p.client_id = probe_env("PROBE_CLIENT_ID");
	p.client_secret = s;
	p.redirect_uri = probe_env("PROBE_REDIRECT");
	p.token_auth_method = getenv("PROBE_AUTH_METHOD");
	p.clock_skew = 60;
	p.http_timeout = 10;
	p.jwks_refetch_min = -1;
	if (oidc_new(&p, &o, &err) != 0) {
		fprintf(stderr, "oidc_probe: %s\n", err);
		exit(3);
	}
	secret_free(&s);
	return o;
}

static int
probe_result(enum mg_result r, char *err)
{
	printf("result=%s\n",
	    r == MG_OK           ? "ok" :
		r == MG_PERMFAIL ? "permfail" :
				   "tempfail");
	if (err != NULL)
		printf("error=%s\n", log_safe(err, 400));
	free(err);
	return r == MG_OK ? 0 : r == MG_PERMFAIL ? 1 : 2;
}

static int
probe_begin(const char *statefile)
{
	struct oidc *o = probe_rp();
	struct oidc_login *l = NULL;
	enum mg_result r;
	char *err = NULL;
	FILE *f;
	int fd;

	r = oidc_login_begin(o, &l, &err);
	if (r != MG_OK)
		return probe_result(r, err);
	fd = open(statefile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		perror(statefile);
		return 3;
	}
	(void)fprintf(f, "%s\n%s\n%s\n", l->state, l->nonce,
	    (const char *)l->code_verifier->buf);
	(void)fclose(f);
	printf("url=%s\n", l->url);
	oidc_login_free(&l);
	oidc_free(&o);
	return 0;
}

static int
probe_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One byte of a query value at *pp: %XX, '+' or itself; advances. */
static char
probe_unescape(const char **pp, const char *end)
{
	const char *p = *pp;
	int hi, lo;

	if (*p == '+')
		return ' ';
	if (*p != '%' || end - p < 3)
		return *p;
	hi = probe_hex(p[1]);
	lo = probe_hex(p[2]);
	if (hi < 0 || lo < 0)
		return *p;
	*pp = p + 2;
	return (char)(unsigned char)(hi * 16 + lo);
}

/* The decoded value of name in url's query, or NULL. Owned. */
static char *
probe_param(const char *url, const char *name)
{
	const char *q = strchr(url, '?'), *p, *end;
	size_t nl = strlen(name), i = 0;
	char *out;

	if (q == NULL)
		return NULL;
	for (p = q + 1; *p != '\0'; p = *end == '\0' ? end : end + 1) {
		end = p + strcspn(p, "&#");
		if ((size_t)(end - p) <= nl || strncmp(p, name, nl) != 0 ||
		    p[nl] != '=')
			continue;
		out = xmalloc((size_t)(end - p));
		for (p += nl + 1; p < end; p++)
			out[i++] = probe_unescape(&p, end);
		out[i] = '\0';
		return out;
	}
	return NULL;
}

static int
probe_read_state(const char *statefile, char st[3][200])
{
	FILE *f = fopen(statefile, "r");
	int i;

	if (f == NULL)
		return -1;
	for (i = 0; i < 3; i++) {
		if (fgets(st[i], 200, f) == NULL) {
			(void)fclose(f);
			return -1;
		}
		st[i][strcspn(st[i], "\n")] = '\0';
	}
	(void)fclose(f);
	return 0;
}

static struct oidc_mapping *
probe_mapping(void)
{
	const char *group = getenv("PROBE_GROUP");
	char gbuf[256];
	char *groups[1] = { gbuf };
	struct oidc_mapping *m = NULL;
	struct config cfg;
	char *err = NULL;

	memset(&cfg, 0, sizeof(cfg));
	if (group != NULL && group[0] != '\0') {
		(void)snprintf(gbuf, sizeof(gbuf), "%s", group);
		cfg.mapping.required_groups.items = groups;
		cfg.mapping.required_groups.count = 1;
	}
	if (oidc_mapping_new(&cfg, &m, &err) != 0) {
		fprintf(stderr, "oidc_probe: %s\n", err);
		exit(3);
	}
	return m;
}

static void
probe_print_identity(
    const struct oidc_identity *id, const struct oidc_mapping *m)
{
	struct oidc_mapped out;
	enum oidc_map_reason why;
	char *msg = NULL;

	printf("sub=%s\nmfa=%d\n", log_safe(id->subject, 255), id->mfa);
	why = oidc_map(m, id->claims, &out, &msg);
	printf("map=%s\n", oidc_map_reason_str(why));
	if (why == OIDC_MAP_OK)
		printf("address=%s\n", out.address);
	else
		printf("map_error=%s\n", log_safe(msg, 300));
	free(msg);
}

/* What a callback carries, decoded; owned by the caller. */
struct probe_cb {
	char st[3][200];
	char *state;
	char *code;
	char *iss;
};

static void
probe_cb_free(struct probe_cb *cb)
{
	free(cb->state);
	free(cb->code);
	free(cb->iss);
}

static int
probe_cb_read(const char *statefile, const char *callback, struct probe_cb *cb)
{
	memset(cb, 0, sizeof(*cb));
	if (probe_read_state(statefile, cb->st) < 0)
		return 3;
	cb->state = probe_param(callback, "state");
	cb->code = probe_param(callback, "code");
	cb->iss = probe_param(callback, "iss");
	if (cb->state == NULL || strcmp(cb->state, cb->st[0]) != 0 ||
	    cb->code == NULL) {
		printf("result=permfail\nerror=state or code missing or "
		       "wrong\n");
		return 1;
	}
	return 0;
}

static int
probe_finish(const char *statefile, const char *callback)
{
	struct oidc_identity *id = NULL;
	struct secret *code, *ver;
	struct oidc_mapping *m;
	struct probe_cb cb;
	char *err = NULL;
	struct oidc *o;
	enum mg_result r;
	int ret;

	ret = probe_cb_read(statefile, callback, &cb);
	if (ret != 0) {
		probe_cb_free(&cb);
		return ret;
	}
	o = probe_rp();
	m = probe_mapping();
	r = oidc_callback_check_iss(o, cb.iss, &err);
	if (r != MG_OK) {
		probe_cb_free(&cb);
		return probe_result(r, err);
	}
	code = secret_from(cb.code, strlen(cb.code));
	ver = secret_from(cb.st[2], strlen(cb.st[2]));
	r = oidc_login_finish(
	    o, m, &(struct oidc_callback){ code, ver, cb.st[1] }, &id, &err);
	if (r == MG_OK)
		probe_print_identity(id, m);
	secret_free(&code);
	secret_free(&ver);
	oidc_identity_free(&id);
	oidc_mapping_free(&m);
	oidc_free(&o);
	probe_cb_free(&cb);
	return probe_result(r, err);
}

static double
probe_now_us(clockid_t clk)
{
	struct timespec ts;

	(void)clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
probe_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Verify one ID token n times and print the time per verification. One
 * untimed round first (i = -1): it fetches discovery and the JWKS.
 */
static int
probe_bench_verify(
    struct oidc *o, const struct oidc_identity *id, const char *nonce, long n)
{
	double *t = xcalloc((size_t)n, sizeof(*t)), c0 = 0, t0, sum = 0;
	const char *jwt = (const char *)id->id_token->buf;
	json_t *claims = NULL;
	char *err = NULL;
	enum mg_result r;
	long i;

	for (i = -1; i < n; i++) {
		if (i == 0)
			c0 = probe_now_us(CLOCK_PROCESS_CPUTIME_ID);
		t0 = probe_now_us(CLOCK_MONOTONIC);
		r = oidc_verify_id_token(o, jwt, id->id_token->len, nonce,
		    (int64_t)time(NULL), &claims, &err);
		t0 = probe_now_us(CLOCK_MONOTONIC) - t0;
		json_decref(claims);
		claims = NULL;
		if (r != MG_OK) {
			free(t);
			return probe_result(r, err);
		}
		if (i >= 0) {
			t[i] = t0;
			sum += t0;
		}
	}
	c0 = probe_now_us(CLOCK_PROCESS_CPUTIME_ID) - c0;
	qsort(t, (size_t)n, sizeof(*t), probe_cmp_double);
	printf("verify_n=%ld\nverify_mean_us=%.1f\nverify_median_us=%.1f\n"
	       "verify_p90_us=%.1f\nverify_cpu_us=%.1f\n",
	    n, sum / (double)n, t[n / 2], t[(n * 9) / 10], c0 / (double)n);
	free(t);
	return 0;
}

static int
probe_bench(const char *statefile, const char *callback, const char *count)
{
	struct oidc_identity *id = NULL;
	struct secret *code, *ver;
	struct probe_cb cb;
	struct oidc *o;
	char *err = NULL;
	enum mg_result r;
	unsigned int n;
	int ret;

	if (parse_uint(count, 1000000, &n) < 0 || n == 0)
		return 3;
	ret = probe_cb_read(statefile, callback, &cb);
	if (ret != 0) {
		probe_cb_free(&cb);
		return ret;
	}
	o = probe_rp();
	code = secret_from(cb.code, strlen(cb.code));
	ver = secret_from(cb.st[2], strlen(cb.st[2]));
	r = oidc_login_finish(
	    o, NULL, &(struct oidc_callback){ code, ver, cb.st[1] }, &id, &err);
	secret_free(&code);
	secret_free(&ver);
	ret = r == MG_OK ? probe_bench_verify(o, id, cb.st[1], (long)n) :
			   probe_result(r, err);
	oidc_identity_free(&id);
	oidc_free(&o);
	probe_cb_free(&cb);
	return ret;
}

int
main(int argc, char **argv)
{
	struct oidc *o;
	char *err = NULL;
	enum mg_result r;

	log_init("oidc_probe", LOG_LEVEL_INFO, false);
	if (argc == 3 && strcmp(argv[1], "begin") == 0)
		return probe_begin(argv[2]);
	if (argc == 4 && strcmp(argv[1], "finish") == 0)
		return probe_finish(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "bench") == 0)
		return probe_bench(argv[2], argv[3], argv[4]);
	if (argc == 2 && strcmp(argv[1], "refresh") == 0) {
		o = probe_rp();
		r = oidc_refresh(o, &err);
		oidc_free(&o);
		return probe_result(r, err);
	}
	fprintf(stderr,
	    "usage: oidc_probe begin STATEFILE | finish "
	    "STATEFILE CALLBACK_URL | refresh | bench STATEFILE "
	    "CALLBACK_URL N\n");
	return 3;
}
