/* SPDX-License-Identifier: MIT */
/*
 * http.h - mailgated's web service: sign-in with the OpenID provider,
 * the account page (app tokens), /healthz and /readyz. It runs its own
 * libmicrohttpd threads behind a TLS reverse proxy and is started like
 * any other service of daemon.h:
 *
 *	services[] = { &authsock_service, &http_service };
 *
 * start() does nothing (and succeeds) when [http] listen is empty.
 */
#ifndef MAILGATED_HTTP_H
#define MAILGATED_HTTP_H

#include "daemon.h"

extern const struct daemon_service http_service;

/* The same, as plain functions for a main.c without a service table. */
int http_service_start(struct daemon *d, void **state_r);
void http_service_reload(void *state, const struct config *cfg);
void http_service_stop(void *state);
bool http_service_drained(void *state);
void http_service_finish(void **statep);

#endif
