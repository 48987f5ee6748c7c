/* SPDX-License-Identifier: MIT */
/*
 * oidc_http.c - every byte mailgate sends to or takes from the identity
 * provider goes through here: libcurl with a timeout, a size limit that
 * aborts the transfer, TLS verification always on, http/https only and
 * no redirects followed.
 * Input: the provider's answers, hostile until parsed. Never logs a
 * request body or header: they carry codes, verifiers and secrets.
 */
#include "oidc_private.h"

#include <ctype.h>
#include <string.h>

#include <curl/curl.h>

#include "mailgate/log.h"
#include "mailgate/parse.h"
#include "mailgate/xmalloc.h"

struct oidc_http_sink {
	char *buf;
	size_t len;
	size_t cap;
	bool too_big;
	/* curl's own detail of a failure, such as the TLS reason */
	char errbuf[CURL_ERROR_SIZE];
};

/* curl write callback: keep at most IDP_RESPONSE_MAX bytes, then abort. */
static size_t
oidc_http_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct oidc_http_sink *sink = arg;
	size_t n = size * nmemb;

	if (n > IDP_RESPONSE_MAX - sink->len) {
		sink->too_big = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (sink->len + n + 1 > sink->cap) {
		sink->cap = sink->len + n + 1 < 8192 ? 8192 : sink->len + n + 1;
		if (sink->cap < IDP_RESPONSE_MAX + 1)
			sink->cap = sink->cap * 2 > IDP_RESPONSE_MAX + 1 ?
			    IDP_RESPONSE_MAX + 1 :
			    sink->cap * 2;
		sink->buf = xrealloc(sink->buf, sink->cap);
	}
	memcpy(sink->buf + sink->len, data, n);
	sink->len += n;
	sink->buf[sink->len] = '\0';
	return n;
}

char *
oidc_http_encode(const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(len * 3 + 1), *p = out;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 0x0f];
		}
	}
	*p = '\0';
	return out;
}

/* Wipe every header line (the Authorization one holds a secret). */
static void
oidc_http_headers_free(struct curl_slist *headers)
{
	struct curl_slist *h;

	for (h = headers; h != NULL; h = h->next)
		secret_wipe(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

/* "Authorization: Basic base64(user:pass)", appended to headers. */
static struct curl_slist *
oidc_http_add_basic(
    struct curl_slist *headers, const char *user, const char *pass)
{
	size_t ulen = strlen(user), plen = strlen(pass);
	size_t n = ulen + 1 + plen;
	char *raw = xmalloc(n + 1);
	char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	char *line;

	memcpy(raw, user, ulen);
	raw[ulen] = ':';
	memcpy(raw + ulen + 1, pass, plen);
	raw[n] = '\0';
	(void)base64_encode(raw, n, b64);
	line = xasprintf("Authorization: Basic %s", b64);
	headers = curl_slist_append(headers, line);
	MG_ASSERT(headers != NULL);

	secret_wipe(raw, n);
	secret_wipe(b64, strlen(b64));
	secret_wipe(line, strlen(line));
	free(raw);
	free(b64);
	free(line);
	return headers;
}

static struct curl_slist *
oidc_http_add_bearer(struct curl_slist *headers, const struct secret *tok)
{
	char *line =
	    xasprintf("Authorization: Bearer %s", (const char *)tok->buf);

	headers = curl_slist_append(headers, line);
	MG_ASSERT(headers != NULL);
	secret_wipe(line, strlen(line));
	free(line);
	return headers;
}

static void
oidc_http_setopts(CURL *c, const struct oidc *oidc,
    const struct oidc_http_req *req, struct oidc_http_sink *sink)
{
	long timeout = (long)oidc->http_timeout;

	(void)curl_easy_setopt(c, CURLOPT_URL, req->url);
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (oidc->ca_file != NULL)
		(void)curl_easy_setopt(c, CURLOPT_CAINFO, oidc->ca_file);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	(void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	(void)curl_easy_setopt(c, CURLOPT_USERAGENT, "mailgate/" MG_VERSION);
	(void)curl_easy_setopt(
	    c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)IDP_RESPONSE_MAX);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, oidc_http_write);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, sink->errbuf);
	(void)curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (req->body != NULL) {
		(void)curl_easy_setopt(c, CURLOPT_POST, 1L);
		(void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
	}
}

/* Map a curl failure to our outcome and an admin-readable message. */
static enum mg_result
oidc_http_failure(CURLcode rc, const struct oidc_http_req *req,
    const struct oidc_http_sink *sink, char **errstr_r)
{
	if (sink->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		*errstr_r = xasprintf("%s: %s: response larger than %d bytes",
		    req->what, log_safe(req->url, 200), IDP_RESPONSE_MAX);
		return MG_PERMFAIL;
	}
	if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
		*errstr_r = xasprintf("%s: %s: %s (only http and https)",
		    req->what, log_safe(req->url, 200), curl_easy_strerror(rc));
		return MG_PERMFAIL;
	}
	if (rc == CURLE_PEER_FAILED_VERIFICATION) {
		*errstr_r = xasprintf("%s: %s: %s (if the provider's "
				      "certificate comes from a private CA, "
				      "set [oidc] ca_file to that CA)",
		    req->what, log_safe(req->url, 200),
		    sink->errbuf[0] != '\0' ? sink->errbuf :
					      curl_easy_strerror(rc));
		return MG_TEMPFAIL;
	}
	*errstr_r = xasprintf("%s: %s: %s", req->what, log_safe(req->url, 200),
	    sink->errbuf[0] != '\0' ? sink->errbuf : curl_easy_strerror(rc));
	return MG_TEMPFAIL;
}

static char *
oidc_http_media_type(CURL *c)
{
	char *ct = NULL, *out;
	size_t i, n;

	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK ||
	    ct == NULL)
		return NULL;
	n = strcspn(ct, "; \t");
	out = xstrndup(ct, n);
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return out;
}

enum mg_result
oidc_http_fetch(const struct oidc *oidc, const struct oidc_http_req *req,
    struct oidc_http_reply *reply, char **errstr_r)
{
	struct oidc_http_sink sink = { NULL, 0, 0, false, "" };
	struct curl_slist *headers = NULL;
	enum mg_result ret = MG_OK;
	CURLcode rc;
	CURL *c;

	memset(reply, 0, sizeof(*reply));
	c = curl_easy_init();
	if (c == NULL) {
		*errstr_r = xasprintf("%s: cannot set up libcurl", req->what);
		return MG_TEMPFAIL;
	}
	oidc_http_setopts(c, oidc, req, &sink);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (req->basic_user != NULL)
		headers = oidc_http_add_basic(
		    headers, req->basic_user, req->basic_pass);
	if (req->bearer != NULL)
		headers = oidc_http_add_bearer(headers, req->bearer);
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		ret = oidc_http_failure(rc, req, &sink, errstr_r);
		goto out;
	}
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->content_type = oidc_http_media_type(c);
	reply->body = sink.buf != NULL ? sink.buf : xstrdup("");
	reply->len = sink.len;
	sink.buf = NULL;
out:
	if (sink.buf != NULL) {
		secret_wipe(sink.buf, sink.len);
		free(sink.buf);
	}
	oidc_http_headers_free(headers);
	curl_easy_cleanup(c);
	return ret;
}

void
oidc_http_reply_clear(struct oidc_http_reply *reply)
{
	if (reply->body != NULL) {
		secret_wipe(reply->body, reply->len);
		free(reply->body);
	}
	free(reply->content_type);
	memset(reply, 0, sizeof(*reply));
}

json_t *
oidc_http_json(const char *body, size_t len, const char *what, char **errstr_r)
{
	json_error_t jerr;
	json_t *doc;

	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		/* jerr.text may quote the body (a token): position only. */
		*errstr_r = xasprintf(
		    "%s: not valid JSON (at byte %d)", what, jerr.position);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		*errstr_r = xasprintf("%s: not a JSON object", what);
		return NULL;
	}
	return doc;
}
