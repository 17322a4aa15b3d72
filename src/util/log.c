#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Logging is the one place allowed global state: every module logs without
 * threading a handle through. Set once by log_init before threads start. */
static enum log_level current_level = LOG_WARN;
static FILE *log_file; /* NULL: stderr, without timestamps */

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info",
	[LOG_DEBUG] = "debug", [LOG_TRACE] = "trace",
};
static const char *const level_tags[] = {
	[LOG_ERROR] = "ERROR", [LOG_WARN] = "WARN", [LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG", [LOG_TRACE] = "TRACE",
};

bool log_parse_spec(const char *spec, enum log_level *out)
{
	size_t len;

	if (!spec)
		return false;
	while (*spec == ' ' || *spec == '\t')
		spec++;
	len = strlen(spec);
	while (len && (spec[len - 1] == ' ' || spec[len - 1] == '\t'))
		len--;
	if (len == 3 && !strncasecmp(spec, "off", 3)) {
		*out = LOG_OFF;
		return true;
	}
	for (int l = LOG_ERROR; l <= LOG_TRACE; l++) {
		if (strlen(level_names[l]) == len && !strncasecmp(spec, level_names[l], len)) {
			*out = (enum log_level)l;
			return true;
		}
	}
	return false;
}

static FILE *open_log_file(const char *dir, const char *file)
{
	char path[4096];
	FILE *f;
	int n;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "alioth: --log-dir %s: %s\n", dir, strerror(errno));
		return NULL;
	}
	if (file)
		n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	else
		n = snprintf(path, sizeof(path), "%s/alioth_%ld.log", dir, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "alioth: log file path too long\n");
		return NULL;
	}
	f = fopen(path, "ae");
	if (!f) {
		fprintf(stderr, "alioth: cannot open log file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

int log_init(enum log_level level, const char *dir, const char *file)
{
	FILE *f = NULL;

	if (dir) {
		f = open_log_file(dir, file);
		if (!f)
			return -1;
	}
	if (log_file)
		fclose(log_file);
	log_file = f;
	current_level = level;
	return 0;
}

bool log_enabled(enum log_level level)
{
	return level != LOG_OFF && level <= current_level;
}

static size_t format_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, size - n, ".%06ld ", ts.tv_nsec / 1000);
	return n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	size_t n = 0;
	va_list ap;
	int r;

	if (!log_enabled(level))
		return;
	if (log_file)
		n = format_timestamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n, "[%s] ", level_tags[level]);
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n = (n + (size_t)r < sizeof(line) - 2 ? n + (size_t)r : sizeof(line) - 2);
	if (n && line[n - 1] == '\n') /* callers may end with a newline */
		n--;
	/* One fputs per line so lines from different threads never interleave. */
	line[n++] = '\n';
	line[n] = '\0';
	fputs(line, log_file ? log_file : stderr);
}
