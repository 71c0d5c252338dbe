/*
 * post: the normalised post, its deep copy, and the helpers every adapter
 * uses (arena, diagnostics, JSON field access, text cap).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/utf8.h"
#include "feed/feed_int.h"

static const char *const platform_names[] = {"unknown", "twitter", "weibo", "wechat", "generic"};

const char *es_platform_name(enum es_platform p)
{
    if ((unsigned)p >= sizeof platform_names / sizeof platform_names[0])
        return "unknown";
    return platform_names[p];
}

enum es_platform es_platform_from_name(const char *s)
{
    if (!s)
        return ES_PLATFORM_UNKNOWN;
    for (size_t i = 1; i < sizeof platform_names / sizeof platform_names[0]; i++)
        if (strcmp(s, platform_names[i]) == 0)
            return (enum es_platform)i;
    if (strcmp(s, "x") == 0)
        return ES_PLATFORM_TWITTER;
    return ES_PLATFORM_UNKNOWN;
}

static const char *const format_names[] = {"auto",       "twitter-v2",  "twitter-v1", "weibo",
                                           "wechat-xml", "wechat-json", "generic"};

const char *es_format_name(enum es_format f)
{
    if ((unsigned)f >= sizeof format_names / sizeof format_names[0])
        return "unknown";
    return format_names[f];
}

int es_format_from_name(const char *s)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (strcmp(s, format_names[i]) == 0)
            return (int)i;
    return -1;
}

/* ---- arena ---- */

void es__arena_init(struct es__arena *a)
{
    a->extra = NULL;
    a->used = 0;
}

void es__arena_reset(struct es__arena *a)
{
    struct es__arena_blk *b = a->extra;
    while (b) {
        struct es__arena_blk *next = b->next;
        es_free(b);
        b = next;
    }
    a->extra = NULL;
    a->used = 0;
}

void *es__arena_alloc(struct es__arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n <= sizeof a->first - a->used) {
        void *p = a->first + a->used;
        a->used += n;
        return p;
    }
    struct es__arena_blk *b = a->extra;
    if (b && n <= b->size - b->used) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    size_t size = n > 16384 ? n : 16384;
    b = es_malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->size = size;
    b->used = n;
    b->next = a->extra;
    a->extra = b;
    return b->data;
}

char *es__arena_strndup(struct es__arena *a, const char *s, size_t n)
{
    char *d = es__arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *es__arena_printf(struct es__arena *a, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n < sizeof tmp)
        return es__arena_strndup(a, tmp, (size_t)n);
    char *d = es__arena_alloc(a, (size_t)n + 1);
    if (!d)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

/* ---- diagnostics and delivery ---- */

void es__feed_diag(struct es__feed_ctx *c, enum es_severity sev, const char *fmt, ...)
{
    if (!c->on_diag)
        return;
    struct es_diag d;
    d.file = c->opts->source;
    d.line = c->opts->line;
    d.col = 0;
    d.severity = sev;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d.msg, sizeof d.msg, fmt, ap);
    va_end(ap);
    c->on_diag(c->ud, &d);
}

void es__post_init(struct es_post *p, enum es_platform platform)
{
    memset(p, 0, sizeof *p);
    p->platform = platform;
    p->author.followers = -1;
}

void es__feed_emit(struct es__feed_ctx *c, struct es_post *p, const char *where)
{
    if (!p->id || !*p->id) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.id: missing, record skipped", where);
        goto done;
    }
    if (!p->text) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.text: missing, record skipped (id %.64s)", where,
                      p->id);
        goto done;
    }
    if (p->text_len > ES_FEED_TEXT_MAX) {
        size_t n = ES_FEED_TEXT_MAX;
        /* back up to the start of a character */
        while (n > 0 && ((unsigned char)p->text[n] & 0xC0) == 0x80)
            n--;
        char *t = es__arena_strndup(&c->arena, p->text, n);
        if (!t) {
            c->nomem = 1;
            goto done;
        }
        es__feed_diag(c, ES_DIAG_WARNING, "%s.text: %zu bytes, truncated to %zu (id %.64s)", where,
                      p->text_len, n, p->id);
        p->text = t;
        p->text_len = n;
    }
    if (p->n_mentions > ES_POST_MAX_MENTIONS)
        p->n_mentions = ES_POST_MAX_MENTIONS;
    c->on_post(c->ud, p);
    c->n_posts++;
done:
    es__arena_reset(&c->arena);
}

/* ---- JSON access ---- */

const char *es__jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int real_is_integral(double d)
{
    return isfinite(d) && d == floor(d) && fabs(d) < 9.2e18;
}

const char *es__jid(struct es__feed_ctx *c, const json_t *v, int *bad)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return *s ? s : NULL;
    }
    if (json_is_integer(v)) {
        char *s = es__arena_printf(&c->arena, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        if (!s)
            c->nomem = 1;
        return s;
    }
    if (json_is_real(v) && real_is_integral(json_real_value(v))) {
        char *s = es__arena_printf(&c->arena, "%lld", (long long)json_real_value(v));
        if (!s)
            c->nomem = 1;
        return s;
    }
    if (bad)
        *bad = 1;
    return NULL;
}

int es__jint(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && real_is_integral(json_real_value(v))) {
        *out = (int64_t)json_real_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int64_t n = 0;
        int neg = *s == '-';
        if (neg)
            s++;
        if (!*s)
            return -1;
        for (; *s; s++) {
            if (*s < '0' || *s > '9' || n > (INT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (*s - '0');
        }
        *out = neg ? -n : n;
        return 0;
    }
    return -1;
}

int es__jdouble(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) ? 0 : -1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        double d = strtod(s, &end);
        if (end == s || *end || !isfinite(d))
            return -1;
        *out = d;
        return 0;
    }
    return -1;
}

void es__set_lang(struct es_post *p, const char *lang)
{
    size_t n = lang ? strlen(lang) : 0;
    if (n >= sizeof p->lang)
        n = 0;
    memcpy(p->lang, lang ? lang : "", n);
    p->lang[n] = '\0';
}

int es__set_point(struct es_post *p, double lat, double lon)
{
    if (!(lat >= -90.0 && lat <= 90.0 && lon >= -180.0 && lon <= 180.0))
        return -1;
    p->has_point = true;
    p->lat = lat;
    p->lon = lon;
    return 0;
}

const char *es__decode_entities(struct es__feed_ctx *c, const char *s, size_t *len)
{
    const char *amp = memchr(s, '&', *len);
    if (!amp)
        return s;
    char *out = es__arena_alloc(&c->arena, *len + 1);
    if (!out) {
        c->nomem = 1;
        return s;
    }
    size_t o = (size_t)(amp - s), i = o;
    memcpy(out, s, o);
    while (i < *len) {
        uint32_t cp;
        size_t k = s[i] == '&' ? es_html_entity(s + i, *len - i, &cp) : 0;
        if (k) {
            o += es_utf8_encode(cp, out + o);
            i += k;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

int es__has_cjk(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp = es_utf8_decode(u + i, n - i, &k);
        if (es_utf8_is_cjk(cp) && !(cp >= 0xAC00 && cp <= 0xD7AF) &&
            !(cp >= 0x3040 && cp <= 0x30FF))
            return 1;
        i += k;
    }
    return 0;
}

uint32_t es__fnv1a(const char *s, size_t n, uint32_t h)
{
    if (!h)
        h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* ---- es_post_copy ---- */

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *put(char **cur, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *cur;
    memcpy(d, s, n);
    *cur += n;
    return d;
}

struct es_post *es_post_copy(const struct es_post *p)
{
    if (!p)
        return NULL;
    size_t nm = p->n_mentions > ES_POST_MAX_MENTIONS ? ES_POST_MAX_MENTIONS : p->n_mentions;
    size_t total = sizeof *p + str_size(p->id) + str_size(p->author.id) + str_size(p->author.name) +
                   str_size(p->author.handle) + p->text_len + 1 + str_size(p->place_id) +
                   str_size(p->place_name) + str_size(p->country_code) + str_size(p->reply_to) +
                   str_size(p->thread_root) + str_size(p->url);
    for (size_t i = 0; i < nm; i++)
        total += str_size(p->mentions[i]);
    struct es_post *q = es_malloc(total);
    if (!q)
        return NULL;
    *q = *p;
    char *cur = (char *)(q + 1);
    q->id = put(&cur, p->id);
    q->author.id = put(&cur, p->author.id);
    q->author.name = put(&cur, p->author.name);
    q->author.handle = put(&cur, p->author.handle);
    if (p->text && p->text_len)
        memcpy(cur, p->text, p->text_len);
    cur[p->text_len] = '\0';
    q->text = cur;
    cur += p->text_len + 1;
    q->place_id = put(&cur, p->place_id);
    q->place_name = put(&cur, p->place_name);
    q->country_code = put(&cur, p->country_code);
    q->reply_to = put(&cur, p->reply_to);
    q->thread_root = put(&cur, p->thread_root);
    q->url = put(&cur, p->url);
    q->n_mentions = nm;
    for (size_t i = 0; i < nm; i++)
        q->mentions[i] = put(&cur, p->mentions[i]);
    for (size_t i = nm; i < ES_POST_MAX_MENTIONS; i++)
        q->mentions[i] = NULL;
    return q;
}

void es_post_free(struct es_post *p)
{
    es_free(p);
}
