#include <stdio.h>
#include <string.h>
#include <time.h>

#include "earshot/clock.h"
#include "earshot/err.h"

int64_t es_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t es_clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t es_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from civil, after Howard Hinnant's public-domain algorithm. */
int64_t es_time_from_civil(int y, int mon, int d, int h, int mi, int s)
{
    y -= mon <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + h * 3600 + mi * 60 + s;
}

void es_time_to_civil(int64_t t, int *y, int *mon, int *d, int *h, int *mi, int *s)
{
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    *h = (int)(rem / 3600);
    *mi = (int)(rem % 3600 / 60);
    *s = (int)(rem % 60);
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*mon <= 2));
}

/* digits reads exactly n decimal digits at *p (within end). */
static int digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*p >= end || **p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

static int valid_civil(int y, int mon, int d, int h, int mi, int s)
{
    return y >= 1970 && y <= 9999 && mon >= 1 && mon <= 12 && d >= 1 && d <= 31 && h >= 0 &&
           h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

/* zone parses "Z", "+08:00", "+0800", "-05" or nothing (UTC). */
static int zone(const char *p, const char *end, int *off_s)
{
    *off_s = 0;
    while (p < end && *p == ' ')
        p++;
    if (p == end)
        return 0;
    if (*p == 'Z' || *p == 'z')
        return p + 1 == end ? 0 : -1;
    if (end - p >= 3 && memcmp(p, "UTC", 3) == 0)
        return p + 3 == end ? 0 : -1;
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p == '-' ? -1 : 1, hh, mm = 0;
    p++;
    if (digits(&p, end, 2, &hh))
        return -1;
    if (p < end && *p == ':')
        p++;
    if (p < end && digits(&p, end, 2, &mm))
        return -1;
    if (p != end || hh > 23 || mm > 59)
        return -1;
    *off_s = sign * (hh * 3600 + mm * 60);
    return 0;
}

int es_time_parse_iso8601(const char *s, size_t n, int64_t *out)
{
    const char *p = s, *end = s + n;
    int y, mon, d, h = 0, mi = 0, sec = 0, off;
    if (digits(&p, end, 4, &y) || p >= end || *p++ != '-' || digits(&p, end, 2, &mon) ||
        p >= end || *p++ != '-' || digits(&p, end, 2, &d))
        return ES_EPARSE;
    if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
        p++;
        if (digits(&p, end, 2, &h) || p >= end || *p++ != ':' || digits(&p, end, 2, &mi))
            return ES_EPARSE;
        if (p < end && *p == ':') {
            p++;
            if (digits(&p, end, 2, &sec))
                return ES_EPARSE;
            if (p < end && (*p == '.' || *p == ',')) {
                p++;
                while (p < end && *p >= '0' && *p <= '9')
                    p++;
            }
        }
    }
    if (!valid_civil(y, mon, d, h, mi, sec) || zone(p, end, &off))
        return ES_EPARSE;
    *out = es_time_from_civil(y, mon, d, h, mi, sec) - off;
    return 0;
}

static int month_index(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (memcmp(p, names + 3 * i, 3) == 0)
            return i + 1;
    return 0;
}

int es_time_parse_twitter(const char *s, size_t n, int64_t *out)
{
    /* "Wed Oct 10 20:19:24 +0000 2018" */
    const char *p = s, *end = s + n;
    if (n < 30 || p[3] != ' ' || p[7] != ' ')
        return ES_EPARSE;
    int mon = month_index(p + 4), d, h, mi, sec, y;
    if (!mon)
        return ES_EPARSE;
    p += 8;
    if (digits(&p, end, 2, &d) || *p++ != ' ' || digits(&p, end, 2, &h) || *p++ != ':' ||
        digits(&p, end, 2, &mi) || *p++ != ':' || digits(&p, end, 2, &sec) || *p++ != ' ')
        return ES_EPARSE;
    const char *z = p;
    if (end - p < 10 || p[5] != ' ')
        return ES_EPARSE;
    p += 6;
    int off;
    if (digits(&p, end, 4, &y) || p != end || zone(z, z + 5, &off) ||
        !valid_civil(y, mon, d, h, mi, sec))
        return ES_EPARSE;
    *out = es_time_from_civil(y, mon, d, h, mi, sec) - off;
    return 0;
}

void es_time_format_iso8601(int64_t t, char *out)
{
    int y, mon, d, h, mi, s;
    es_time_to_civil(t, &y, &mon, &d, &h, &mi, &s);
    snprintf(out, 21, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mon, d, h, mi, s);
}
