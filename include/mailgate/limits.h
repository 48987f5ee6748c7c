/* SPDX-License-Identifier: MIT */
/*
 * limits.h - every bound mailgate puts on outside input, with its reason.
 * A reader that takes bytes from a file, a socket or a peer names one of
 * these; nothing reads "until done".
 */
#ifndef MAILGATE_LIMITS_H
#define MAILGATE_LIMITS_H

/* Sizes are plain int literals, not products such as 256 * 1024: an int
 * product compared with a size_t is what clang-tidy's
 * bugprone-implicit-widening-of-multiplication-result reports. */

/* Configuration files: a real one is a few KiB. */
#define CONFIG_FILE_MAX 262144 /* 256 KiB */
#define CONFIG_LINE_MAX 4096
/* A secret read through <key>_file or [tokens] key_file. */
#define SECRET_FILE_MAX 4096

/* RFC 5321: a path is at most 256 octets including the brackets. */
#define ADDRESS_MAX       254
#define ADDRESS_LOCAL_MAX 64
/* Token labels are typed by people: "Thunderbird laptop". */
#define TOKEN_LABEL_MAX   100
/* Revocation reasons and audit details typed by admins. */
#define REASON_MAX        200
/* Who did it: "cli:root", "web:alice@example.org", "oidc". */
#define ACTOR_MAX         320

/* What Dovecot's own auth server accepts per line (16384). */
#define AUTHSOCK_LINE_MAX      16384
/* checkpassword: Dovecot refuses user + password + 3 over 512 bytes. */
#define CHECKPW_REQUEST_MAX    512
/* checkpassword: mailgated's handshake and reply, read as one buffer;
 * both are a few hundred bytes. */
#define CHECKPW_REPLY_LINE_MAX 4096

/* Outbound HTTP to the identity provider. */
#define IDP_RESPONSE_MAX 262144 /* 256 KiB: discovery, JWKS, token reply */
#define JWT_MAX          16384  /* 16 KiB */
_Static_assert(JWT_MAX < IDP_RESPONSE_MAX, "JWT must fit a token response");

/* The web service (libmicrohttpd). Forms hold a label, a few check boxes
 * and a CSRF token: 8 KiB is generous. Headers: cookies plus the usual. */
#define WEB_POST_MAX           8192
#define WEB_CONN_MEMORY_MAX    32768 /* per connection, headers too */
#define WEB_CONN_TIMEOUT       15    /* seconds a slow client may idle */
#define WEB_PER_IP_MAX         32    /* connections from one address */
#define WEB_RETURN_TO_MAX      512   /* a relative path after sign-in */
#define WEB_NONCE_MAX          128
#define WEB_NOTICE_MAX         1024 /* a message kept in the session */
#define WEB_LOGIN_TTL          600  /* seconds a sign-in may take */
#define WEB_CALLBACK_PARAM_MAX 4096 /* code, state, error_description */

#endif
