#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static bool log_debug_enabled;

static const char *const level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_ERROR] = "error",
};

int log_format_parse(const char *name, enum log_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

int log_open(const char *path, enum log_format format, bool debug, husk_error_t *err)
{
	log_fmt = format;
	log_debug_enabled = debug;
	if (!path || strcmp(path, "/dev/stderr") == 0)
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return husk_error_set(err, errno, "open log file %s", path);
	log_fd = fd;
	return 0;
}

void log_close(void)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
}

bool log_is_stderr(void)
{
	return log_fd == STDERR_FILENO;
}

int log_fileno(void)
{
	return log_fd;
}

/* A growable string: the escapers below need to append byte by byte. */
struct strbuf {
	char *data;
	size_t len, cap;
	bool oom;
};

static void sb_putn(struct strbuf *sb, const char *s, size_t n)
{
	if (sb->oom)
		return;
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = (sb->cap ? sb->cap : 64);
		while (cap < sb->len + n + 1)
			cap *= 2;
		char *d = realloc(sb->data, cap);
		if (!d) {
			sb->oom = true;
			return;
		}
		sb->data = d;
		sb->cap = cap;
	}
	memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

static void sb_puts(struct strbuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

/* Quotes S as a double-quoted string. JSON and Go's %q (which logrus uses
 * for text values) agree on \" \\ \n \r \t; they differ only in how other
 * control bytes are spelt. */
static void sb_put_quoted(struct strbuf *sb, const char *s, bool json)
{
	sb_putn(sb, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];

		switch (*p) {
		case '"': sb_puts(sb, "\\\""); break;
		case '\\': sb_puts(sb, "\\\\"); break;
		case '\n': sb_puts(sb, "\\n"); break;
		case '\r': sb_puts(sb, "\\r"); break;
		case '\t': sb_puts(sb, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02x", *p);
				sb_puts(sb, esc);
			} else {
				sb_putn(sb, (const char *)p, 1);
			}
		}
	}
	sb_putn(sb, "\"", 1);
}

/* RFC 3339 in local time, as Go's time.RFC3339 prints it ("Z" for UTC). */
static void format_time(time_t when, char *out, size_t size)
{
	struct tm tm;
	char zone[24] = "Z";

	localtime_r(&when, &tm);
	if (tm.tm_gmtoff != 0) {
		long off = tm.tm_gmtoff;
		char sign = off < 0 ? '-' : '+';
		if (off < 0)
			off = -off;
		snprintf(zone, sizeof(zone), "%c%02ld:%02ld", sign, (off / 3600) % 100,
			 (off / 60) % 60);
	}
	size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, size - n, "%s", zone);
}

char *log_format_line(enum log_format format, enum log_level level, time_t when, const char *msg)
{
	struct strbuf sb = { 0 };
	char stamp[40];

	format_time(when, stamp, sizeof(stamp));
	if (format == LOG_FORMAT_JSON) {
		sb_puts(&sb, "{\"level\":\"");
		sb_puts(&sb, level_names[level]);
		sb_puts(&sb, "\",\"msg\":");
		sb_put_quoted(&sb, msg, true);
		sb_puts(&sb, ",\"time\":\"");
		sb_puts(&sb, stamp);
		sb_puts(&sb, "\"}\n");
	} else {
		sb_puts(&sb, "time=\"");
		sb_puts(&sb, stamp);
		sb_puts(&sb, "\" level=");
		sb_puts(&sb, level_names[level]);
		sb_puts(&sb, " msg=");
		sb_put_quoted(&sb, msg, false);
		sb_puts(&sb, "\n");
	}
	if (sb.oom) {
		free(sb.data);
		return NULL;
	}
	return sb.data;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char *msg = NULL, *line;
	va_list ap;

	if (level == LOG_LEVEL_DEBUG && !log_debug_enabled)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return;
	line = log_format_line(log_fmt, level, time(NULL), msg);
	if (line) {
		/* One write per line so that concurrent husk processes sharing a
		 * log file (O_APPEND) never interleave within a line. */
		ssize_t r = write(log_fd, line, strlen(line));
		(void)r; /* nowhere left to report a failed log write */
	}
	free(line);
	free(msg);
}
