#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

static const char *log_prog = "vigil";
static enum log_level log_min = LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void
log_init(const char *prog, enum log_level min)
{
	log_prog = prog;
	log_min = min;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return VIGIL_EINVAL;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *tags[] = { "debug", "info", "warn", "error" };
	char ts[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if (lvl < log_min)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s %s[%d] %s: ", ts, log_prog, (int)getpid(),
	    tags[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_mu);
}
