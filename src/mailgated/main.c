/* SPDX-License-Identifier: MIT */
/*
 * main.c - mailgated: start, run and stop the daemon's services.
 * Input: the command line, the configuration file, signals. Runs in the
 * foreground and logs to stderr or syslog. The start/stop sequence is
 * described in daemon.h; a new service is one more daemon_services[]
 * entry.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "mailgate/config.h"
#include "mailgate/log.h"
#include "mailgate/token.h"

#include "daemon.h"
#include "dbpool.h"
#include "http.h"
#include "pglisten.h"
#include "tokcache.h"

/* sysexits.h values, spelled out */
#define MAIN_EX_USAGE    64
#define MAIN_EX_SOFTWARE 70
#define MAIN_EX_OSERR    71
#define MAIN_EX_CONFIG   78

/* How long a stop may wait for answered work before giving up. */
#define MAIN_DRAIN_MAX_MS  10000
#define MAIN_DRAIN_POLL_MS 20
/* Descriptors kept for the database, listeners and logs. */
#define MAIN_FD_RESERVE    64

static const struct daemon_service *const main_services[] = {
	&authsock_service,
	&http_service,
};
#define MAIN_NSERVICES MG_N_ELEMENTS(main_services)

struct main_state {
	struct daemon d;
	const char *config_path;
	void *states[MAIN_NSERVICES];
	struct evloop_io sig_io;
	struct evloop_timer drain_timer;
	uint64_t drain_deadline;
};

static void
main_usage(FILE *f)
{
	(void)fprintf(f,
	    "usage: mailgated [-c FILE] [--check-config] [--version] "
	    "[--help]\n"
	    "  -c FILE         configuration (default: $MAILGATE_CONFIG, "
	    "else %s)\n"
	    "  --check-config  load and check the configuration, then exit\n",
	    CONFIG_DEFAULT_PATH);
}

/* Load and check the file; on error exit with its message. */
static struct config *
main_load_config(const char *path, struct token_keyring **kr_r)
{
	struct config *cfg = NULL;
	char *err = NULL;

	if (config_load(path, NULL, &cfg, &err) < 0 ||
	    config_require(
		cfg, CONFIG_NEED_DATABASE | CONFIG_NEED_TOKENS, &err) < 0 ||
	    token_keyring_load(cfg->tokens.key_file,
		(const char *const *)cfg->tokens.previous_key_files.items,
		cfg->tokens.previous_key_files.count, kr_r, &err) < 0) {
		(void)fprintf(stderr, "mailgated: %s\n",
		    err != NULL ? err : "configuration error");
		free(err);
		config_free(&cfg);
		exit(MAIN_EX_CONFIG);
	}
	return cfg;
}

static void
main_live_settings(const struct config *cfg, struct daemon_reloadable *live)
{
	live->failure_delay_ms = cfg->auth.failure_delay;
	live->lockout_failures = cfg->auth.lockout_failures;
	live->lockout_time_s = cfg->auth.lockout_time;
	live->cache_ttl_s = cfg->auth.cache_ttl;
}

static enum log_level
main_log_level(const struct config *cfg)
{
	enum log_level level = LOG_LEVEL_INFO;

	if (cfg->log.level != NULL &&
	    log_level_parse(cfg->log.level, &level) < 0)
		log_warn("main: unknown [log] level %s; using info",
		    log_safe(cfg->log.level, 16));
	return level;
}

/* SIGHUP: log level, failure delay and lockout, cache TTL, keyring. */
static void
main_reload(struct main_state *m)
{
	struct token_keyring *kr = NULL;
	struct config *cfg = NULL;
	char *err = NULL;
	unsigned int i;

	if (config_load(m->config_path, NULL, &cfg, &err) < 0 ||
	    token_keyring_load(cfg->tokens.key_file,
		(const char *const *)cfg->tokens.previous_key_files.items,
		cfg->tokens.previous_key_files.count, &kr, &err) < 0) {
		log_err("main: reload failed, keeping the old settings: %s",
		    err != NULL ? err : "?");
		free(err);
		config_free(&cfg);
		return;
	}
	log_set_level(main_log_level(cfg));
	main_live_settings(cfg, &m->d.live);
	tokcache_set_ttl(m->d.cache, (uint64_t)m->d.live.cache_ttl_s * 1000);
	token_keyring_free(&m->d.keyring);
	m->d.keyring = kr;
	for (i = 0; i < MAIN_NSERVICES; i++)
		main_services[i]->reload(m->states[i], cfg);
	config_free(&cfg);
	log_info("main: reloaded configuration, key_id=%s",
	    token_keyring_current_id(m->d.keyring));
}

static void
main_drain_check(struct evloop_timer *t)
{
	struct main_state *m = t->ctx;
	unsigned int i;

	for (i = 0; i < MAIN_NSERVICES; i++) {
		if (!main_services[i]->drained(m->states[i]))
			break;
	}
	if (i == MAIN_NSERVICES || evloop_now_ms() >= m->drain_deadline) {
		if (i != MAIN_NSERVICES)
			log_warn("main: stop timed out with work in flight");
		evloop_break(m->d.loop);
		return;
	}
	evloop_timer_set(m->d.loop, t, MAIN_DRAIN_POLL_MS);
}

static void
main_stop(struct main_state *m, const char *why)
{
	unsigned int i;

	if (m->d.stopping)
		return;
	log_info("main: %s: stopping", why);
	m->d.stopping = true;
	for (i = 0; i < MAIN_NSERVICES; i++)
		main_services[i]->stop(m->states[i]);
	m->drain_deadline = evloop_now_ms() + MAIN_DRAIN_MAX_MS;
	evloop_timer_init(&m->drain_timer, main_drain_check, m);
	evloop_timer_set(m->d.loop, &m->drain_timer, 0);
}

static void
main_signal(struct evloop_io *io, uint32_t events)
{
	struct main_state *m = io->ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			main_reload(m);
		else
			main_stop(
			    m, si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
	}
}

/* Signals arrive as events; block them before any thread starts. */
static int
main_signals(struct main_state *m)
{
	sigset_t set;
	int fd;

	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	return evloop_io_add(
	    m->d.loop, &m->sig_io, fd, EPOLLIN, main_signal, m);
}

/* Idle Postfix connections are many: take every descriptor we may. */
static void
main_raise_nofile(struct config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    cfg->auth.max_connections + MAIN_FD_RESERVE <= rl.rlim_cur)
		return;
	log_warn("main: RLIMIT_NOFILE %llu is below [auth] "
		 "max_connections=%u; using %llu",
	    (unsigned long long)rl.rlim_cur, cfg->auth.max_connections,
	    (unsigned long long)(rl.rlim_cur - MAIN_FD_RESERVE));
	cfg->auth.max_connections = rl.rlim_cur > (rlim_t)MAIN_FD_RESERVE * 2 ?
	    (unsigned int)(rl.rlim_cur - MAIN_FD_RESERVE) :
	    MAIN_FD_RESERVE;
}

static const char *
main_args(int argc, char **argv, bool *check_r)
{
	static const struct option opts[] = {
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("MAILGATE_CONFIG");
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			*check_r = true;
			break;
		case 'V':
			(void)printf("mailgated %s\n", MG_VERSION);
			exit(0);
		case 'h':
			main_usage(stdout);
			exit(0);
		default:
			main_usage(stderr);
			exit(MAIN_EX_USAGE);
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		exit(MAIN_EX_USAGE);
	}
	return path != NULL && *path != '\0' ? path : NULL;
}

static void
main_start(struct main_state *m, struct config *cfg)
{
	unsigned int i;

	main_raise_nofile(cfg);
	m->d.loop = evloop_new();
	if (m->d.loop == NULL || main_signals(m) < 0)
		fatal(MAIN_EX_OSERR, "main: cannot set up the event loop: %s",
		    strerror(errno));
	m->d.cache = tokcache_new((uint64_t)m->d.live.cache_ttl_s * 1000);
	m->d.pool = dbpool_new(m->d.loop, cfg, DAEMON_DB_WORKERS);
	for (i = 0; i < MAIN_NSERVICES; i++) {
		if (main_services[i]->start(&m->d, &m->states[i]) < 0)
			fatal(MAIN_EX_OSERR, "main: %s failed to start",
			    main_services[i]->name);
	}
}

int
main(int argc, char **argv)
{
	struct main_state m = { 0 };
	struct pglisten *listener;
	struct config *cfg;
	bool check = false;
	unsigned int i;
	int ret;

	m.config_path = main_args(argc, argv, &check);
	cfg = main_load_config(m.config_path, &m.d.keyring);
	if (check) {
		(void)printf("mailgated: configuration ok\n");
		token_keyring_free(&m.d.keyring);
		config_free(&cfg);
		return 0;
	}
	log_init("mailgated", main_log_level(cfg), cfg->log.syslog);
	m.d.cfg = cfg;
	main_live_settings(cfg, &m.d.live);

	main_start(&m, cfg);
	listener = pglisten_new(cfg, m.d.cache);
	log_info("main: mailgated %s started, key_id=%s", MG_VERSION,
	    token_keyring_current_id(m.d.keyring));

	ret = evloop_run(m.d.loop);

	for (i = 0; i < MAIN_NSERVICES; i++)
		main_services[i]->finish(&m.states[i]);
	dbpool_free(&m.d.pool);
	pglisten_free(&listener);
	tokcache_free(&m.d.cache);
	token_keyring_free(&m.d.keyring);
	evloop_free(&m.d.loop);
	log_info("main: stopped");
	config_free(&cfg);
	return ret == 0 ? 0 : MAIN_EX_SOFTWARE;
}
