#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "earshot/buf.h"
#include "earshot/clock.h"
#include "earshot/log.h"

static enum es_log_level min_level = ES_LOG_INFO;

void es_log_set_level(enum es_log_level l)
{
    min_level = l;
}

void es_log(enum es_log_level l, const char *mod, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (l < min_level)
        return;
    char msg[2048], ts[24];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    es_time_format_iso8601(es_clock_now(), ts);
    struct es_buf b;
    es_buf_init(&b, 16 * 1024);
    es_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"mod\":", ts, names[l]);
    es_buf_json_str(&b, mod, strlen(mod));
    es_buf_puts(&b, ",\"msg\":");
    es_buf_json_str(&b, msg, strlen(msg));
    es_buf_puts(&b, "}\n");
    if (b.data)
        fputs(b.data, stderr);
    es_buf_cleanup(&b);
}
