/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - small services main.c offers to every service.
 */
#include "daemon.h"

#include <time.h>

int64_t
daemon_now(void)
{
	return (int64_t)time(NULL);
}

enum mg_result
daemon_db_open(const struct daemon *d, struct db **db_r, char **errstr_r)
{
	return db_open(d->cfg, 0, db_r, errstr_r);
}
