/*
 * Small helpers of the mock platform: hashing and the seeded generator,
 * JSON string output, query strings, the platforms' date formats.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "earshot/clock.h"
#include "mock.h"

uint64_t mock_hash64(uint64_t x)
{
    /* splitmix64's finaliser: every input bit moves every output bit. */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t mock_rng_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double mock_rng_unit(uint64_t *state)
{
    return (double)(mock_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Text we generate or loaded is valid UTF-8 (replayed lines are checked),
 * so bytes >= 0x80 pass through; only JSON's specials are escaped. */
int mock_json_esc(struct es_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    int rc = es_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = es_buf_append(b, s + run, i - run);
        if (rc)
            return rc;
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t el = 6;
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            el = 2;
        } else if (c == '\n') {
            esc[1] = 'n';
            el = 2;
        } else if (c == '\t') {
            esc[1] = 't';
            el = 2;
        } else if (c == '\r') {
            esc[1] = 'r';
            el = 2;
        }
        rc = es_buf_append(b, esc, el);
        if (rc)
            return rc;
    }
    return es_buf_append(b, s + run, n - run);
}

int mock_json_str(struct es_buf *b, const char *s, size_t n)
{
    int rc = es_buf_putc(b, '"');
    if (!rc)
        rc = mock_json_esc(b, s, n);
    if (!rc)
        rc = es_buf_putc(b, '"');
    return rc;
}

int mock_json_text_esc(struct mock_resp *rs, const char *s, size_t n)
{
    struct es_buf *b = &rs->body;
    if (!rs->text_fault || rs->text_applied)
        return mock_json_esc(b, s, n);
    rs->text_applied = 1;
    if (rs->text_fault == MOCK_FAULT_HUGE) {
        size_t hn;
        const char *h = mock_huge_text(&hn);
        return mock_json_esc(b, h, hn);
    }
    /* invalid_utf8: 0xC3 0x28 (a lead byte followed by '('), raw, at a
     * character boundary in the middle of the text. */
    size_t mid = n / 2;
    while (mid > 0 && ((unsigned char)s[mid] & 0xC0) == 0x80)
        mid--;
    int rc = mock_json_esc(b, s, mid);
    if (!rc)
        rc = es_buf_append(b, "\xC3\x28", 2);
    if (!rc)
        rc = mock_json_esc(b, s + mid, n - mid);
    return rc;
}

int mock_json_text(struct mock_resp *rs, const char *s, size_t n)
{
    int rc = es_buf_putc(&rs->body, '"');
    if (!rc)
        rc = mock_json_text_esc(rs, s, n);
    if (!rc)
        rc = es_buf_putc(&rs->body, '"');
    return rc;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mock_url_decode(const char *s, size_t n, char *out, size_t outn)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outn; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n) {
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h >= 0 && l >= 0) {
                c = (char)(h * 16 + l);
                i += 2;
            }
        }
        out[o++] = c;
    }
    if (outn)
        out[o] = '\0';
    return (int)o;
}

int mock_query_get(const char *q, size_t qlen, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && q[eq] != '=')
            eq++;
        if (eq - i == nl && memcmp(q + i, name, nl) == 0) {
            if (eq < end)
                mock_url_decode(q + eq + 1, end - eq - 1, out, n);
            else if (n)
                out[0] = '\0';
            return 1;
        }
        i = end + 1;
    }
    if (n)
        out[0] = '\0';
    return 0;
}

void mock_fmt_iso_ms(int64_t ms, char *out)
{
    int y, mon, d, h, mi, s;
    es_time_to_civil(ms / 1000, &y, &mon, &d, &h, &mi, &s);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mon, d, h, mi, s, (int)(ms % 1000));
}

static const char *const wdays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void mock_fmt_twitter(int64_t sec, int tz_min, char *out)
{
    int y, mon, d, h, mi, s;
    int64_t local = sec + (int64_t)tz_min * 60;
    es_time_to_civil(local, &y, &mon, &d, &h, &mi, &s);
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int a = tz_min < 0 ? -tz_min : tz_min;
    snprintf(out, 32, "%s %s %02d %02d:%02d:%02d %c%02d%02d %04d", wdays[((days % 7) + 7) % 7],
             months[mon - 1], d, h, mi, s, tz_min < 0 ? '-' : '+', a / 60, a % 60, y);
}

void mock_fmt_http(int64_t sec, char *out)
{
    int y, mon, d, h, mi, s;
    es_time_to_civil(sec, &y, &mon, &d, &h, &mi, &s);
    int64_t days = sec / 86400;
    snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[days % 7], d, months[mon - 1], y,
             h, mi, s);
}

int mock_parse_http_date(const char *s, int64_t *out)
{
    char wd[4], mon[4];
    int d, y, h, mi, sec;
    if (sscanf(s, "%3s, %d %3s %d %d:%d:%d", wd, &d, mon, &y, &h, &mi, &sec) != 7)
        return -1;
    for (int i = 0; i < 12; i++) {
        if (strcmp(mon, months[i]) == 0) {
            *out = es_time_from_civil(y, i + 1, d, h, mi, sec);
            return 0;
        }
    }
    return -1;
}

double mock_distance_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371.0088, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(sqrt(a < 1 ? a : 1));
}

int mock_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* ASCII case-insensitive search; other bytes compare exactly. Candidates
 * come from memchr (vectorised in libc) on both cases of the first byte. */
int mock_ci_find(const char *hay, size_t n, const char *needle, size_t nn)
{
    if (nn == 0)
        return 1;
    if (nn > n)
        return 0;
    unsigned char f = (unsigned char)needle[0];
    unsigned char lo = (f >= 'A' && f <= 'Z') ? (unsigned char)(f + 32) : f;
    unsigned char up = (lo >= 'a' && lo <= 'z') ? (unsigned char)(lo - 32) : lo;
    const char *end = hay + n - nn + 1; /* candidates start before end */
    const char *a = memchr(hay, lo, (size_t)(end - hay));
    const char *b = up != lo ? memchr(hay, up, (size_t)(end - hay)) : NULL;
    while (a || b) {
        const char *c = !a ? b : !b ? a : a < b ? a : b;
        size_t j = 1;
        for (; j < nn; j++) {
            unsigned char x = (unsigned char)c[j], y = (unsigned char)needle[j];
            if (x >= 'A' && x <= 'Z')
                x = (unsigned char)(x + 32);
            if (y >= 'A' && y <= 'Z')
                y = (unsigned char)(y + 32);
            if (x != y)
                break;
        }
        if (j == nn)
            return 1;
        if (c == a)
            a = c + 1 < end ? memchr(c + 1, lo, (size_t)(end - c - 1)) : NULL;
        else
            b = c + 1 < end ? memchr(c + 1, up, (size_t)(end - c - 1)) : NULL;
    }
    return 0;
}
