#include <stdarg.h>
#include <stdio.h>

#include "earshot/err.h"

const char *es_strerror(int code)
{
    switch (code) {
    case ES_OK: return "ok";
    case ES_ENOMEM: return "out of memory";
    case ES_EPARSE: return "malformed input";
    case ES_ELIMIT: return "size limit reached";
    case ES_EIO: return "input/output error";
    case ES_EINVAL: return "invalid argument";
    case ES_ENOTFOUND: return "not found";
    case ES_EUNSUPP: return "not supported";
    case ES_ECANCELED: return "canceled";
    default: return "unknown error";
    }
}

int es_diag_set(struct es_diag *d, const char *file, long line, long col, const char *fmt, ...)
{
    if (!d)
        return ES_EPARSE;
    d->file = file;
    d->line = line;
    d->col = col;
    d->severity = ES_DIAG_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return ES_EPARSE;
}

void es_diag_format(const struct es_diag *d, char *out, size_t n)
{
    const char *sev = d->severity == ES_DIAG_WARNING ? "warning" : "error";
    const char *file = d->file ? d->file : "<input>";
    if (d->line > 0 && d->col > 0)
        snprintf(out, n, "%s:%ld:%ld: %s: %s", file, d->line, d->col, sev, d->msg);
    else if (d->line > 0)
        snprintf(out, n, "%s:%ld: %s: %s", file, d->line, sev, d->msg);
    else
        snprintf(out, n, "%s: %s: %s", file, sev, d->msg);
}
