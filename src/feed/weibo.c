/*
 * weibo: Weibo statuses (mblogs) from m.weibo.cn and weibo.com.
 *
 *   m.weibo.cn getIndex  {"ok":1,"data":{"cards":[{"card_type":9,"mblog":{...}},
 *                                                 {"card_type":11,"card_group":[...]}]}}
 *   weibo.com ajax       {"ok":1,"data":{"list":[status...]}}  or  {"statuses":[...]}
 *   one status           {"ok":1,"data":{status}}, {"status":{...}}, or a bare mblog
 *
 * Text: longText.longTextContent (HTML) when present, else text_raw (plain,
 * weibo.com), else text (HTML) through es_html_strip. The location link
 * m.weibo.cn renders into the text (the "timeline_card_small_location" icon)
 * gives place_name; else region_name ("发布于 北京" -> "北京"). geo.coordinates
 * is [lat, lon] as in the Weibo open API. A repost is delivered as itself;
 * its retweeted_status is not delivered as a separate post (it is an older
 * post of someone else, found on its own when its author is crawled).
 * Responses with no statuses (profile userInfo, info cards) give zero posts
 * and no error. created_at goes through es_weibo_parse_time against
 * opts->ref_time (0 = now) in opts->tz_offset_s (0 = +08:00).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/clock.h"
#include "earshot/utf8.h"
#include "feed/feed_int.h"

/* ---- created_at ---- */

static int num(const char **p, const char *end, int maxd, int *out)
{
    int v = 0, n = 0;
    while (*p < end && **p >= '0' && **p <= '9' && n < maxd) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n ? 0 : -1;
}

static int lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
        return -1;
    *p += n;
    return 0;
}

/* optional " HH:MM[:SS]" */
static int clock_part(const char **p, const char *end, int *h, int *mi, int *s)
{
    *h = *mi = *s = 0;
    while (*p < end && **p == ' ')
        (*p)++;
    if (*p == end)
        return 0;
    if (num(p, end, 2, h) || lit(p, end, ":") || num(p, end, 2, mi))
        return -1;
    if (*p < end && **p == ':' && (++*p, num(p, end, 2, s)))
        return -1;
    if (*p != end || *h > 23 || *mi > 59 || *s > 60)
        return -1;
    return 0;
}

int es_weibo_parse_time(const char *str, int64_t ref, int tz_offset_s, int64_t *out)
{
    if (!str || !out)
        return ES_EPARSE;
    if (!ref)
        ref = es_clock_now();
    const char *p = str, *end = str + strlen(str);
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    if (p == end)
        return ES_EPARSE;
    int64_t local = ref + tz_offset_s;
    int64_t day0 = local - ((local % 86400) + 86400) % 86400; /* local midnight, as UTC-less */
    int y, mon, d, h, mi, s, n;

    if (lit(&p, end, "刚刚") == 0)
        return p == end ? (*out = ref, 0) : ES_EPARSE;
    if (lit(&p, end, "今天") == 0 || lit(&p, end, "昨天") == 0 || lit(&p, end, "前天") == 0) {
        int back = memcmp(str + (p - str) - 6, "今天", 6) == 0   ? 0
                   : memcmp(str + (p - str) - 6, "昨天", 6) == 0 ? 1
                                                                 : 2;
        if (clock_part(&p, end, &h, &mi, &s))
            return ES_EPARSE;
        *out = day0 - back * 86400 + h * 3600 + mi * 60 + s - tz_offset_s;
        return 0;
    }
    const char *q = p;
    if (num(&q, end, 9, &n) == 0 && q < end && (*q < '0' || *q > '9') && *q != '-') {
        static const struct {
            const char *unit;
            int secs;
        } units[] = {{"秒前", 1},  {"秒钟前", 1},    {"分钟前", 60},
                     {"分前", 60}, {"小时前", 3600}, {"天前", 86400}};
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            const char *r = q;
            if (lit(&r, end, units[i].unit) == 0 && r == end) {
                *out = ref - (int64_t)n * units[i].secs;
                return 0;
            }
        }
        return ES_EPARSE;
    }
    if (end - p >= 30 && p[0] >= 'A' && p[0] <= 'Z')
        return es_time_parse_twitter(p, (size_t)(end - p), out) ? ES_EPARSE : 0;
    int ly, lmon, ld, lh, lmi, ls;
    es_time_to_civil(local, &ly, &lmon, &ld, &lh, &lmi, &ls);
    q = p;
    if (num(&q, end, 4, &y) == 0 && q - p == 4 && lit(&q, end, "-") == 0) {
        if (num(&q, end, 2, &mon) || lit(&q, end, "-") || num(&q, end, 2, &d))
            return ES_EPARSE;
    } else {
        q = p;
        if (num(&q, end, 2, &mon) || lit(&q, end, "-") || num(&q, end, 2, &d))
            return ES_EPARSE;
        y = 0;
    }
    if (clock_part(&q, end, &h, &mi, &s) || mon < 1 || mon > 12 || d < 1 || d > 31)
        return ES_EPARSE;
    if (y == 0) {
        /* "MM-DD" is this year; a date after today must be last year's */
        y = ly;
        if (mon > lmon || (mon == lmon && d > ld))
            y--;
    }
    if (y < 1970 || y > 9999)
        return ES_EPARSE;
    *out = es_time_from_civil(y, mon, d, h, mi, s) - tz_offset_s;
    return 0;
}

/* ---- HTML ---- */

static int tag_is(const char *name, size_t n, const char *want)
{
    size_t w = strlen(want);
    if (n != w)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != want[i])
            return 0;
    }
    return 1;
}

/* decode entities of s[0..n) into out; returns bytes written (<= n) */
static size_t decode_into(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = s[i] == '&' ? es_html_entity(s + i, n - i, &cp) : 0;
        if (k) {
            o += es_utf8_encode(cp, out + o);
            i += k;
        } else {
            out[o++] = s[i++];
        }
    }
    return o;
}

/* find_attr: the value of attribute `name` inside a tag body [s, e) */
static const char *find_attr(const char *s, const char *e, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *p = s; p + nl < e; p++) {
        if ((p == s || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n') && tag_is(p, nl, name)) {
            const char *q = p + nl;
            while (q < e && *q == ' ')
                q++;
            if (q >= e || *q != '=')
                continue;
            q++;
            while (q < e && *q == ' ')
                q++;
            if (q >= e)
                return NULL;
            if (*q == '"' || *q == '\'') {
                char quote = *q++;
                const char *v = q;
                while (q < e && *q != quote)
                    q++;
                *vlen = (size_t)(q - v);
                return v;
            }
            const char *v = q;
            while (q < e && *q != ' ' && *q != '/' && *q != '>')
                q++;
            *vlen = (size_t)(q - v);
            return v;
        }
    }
    return NULL;
}

size_t es_html_strip(const char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    while (i < len) {
        char ch = in[i];
        if (ch == '&') {
            uint32_t cp;
            size_t k = es_html_entity(in + i, len - i, &cp);
            if (k) {
                o += es_utf8_encode(cp, out + o);
                i += k;
                continue;
            }
            out[o++] = in[i++];
            continue;
        }
        if (ch != '<') {
            out[o++] = in[i++];
            continue;
        }
        /* a comment */
        if (len - i >= 4 && memcmp(in + i, "<!--", 4) == 0) {
            const char *e = NULL;
            for (size_t j = i + 4; j + 3 <= len; j++)
                if (memcmp(in + j, "-->", 3) == 0) {
                    e = in + j;
                    break;
                }
            i = e ? (size_t)(e - in) + 3 : len;
            continue;
        }
        /* a tag: '<' then a letter, '/' or '!' */
        size_t j = i + 1;
        if (j >= len || !((in[j] >= 'a' && in[j] <= 'z') || (in[j] >= 'A' && in[j] <= 'Z') ||
                          in[j] == '/' || in[j] == '!')) {
            out[o++] = in[i++];
            continue;
        }
        /* find the closing '>' outside quotes */
        char quote = 0;
        size_t k = j;
        for (; k < len; k++) {
            if (quote) {
                if (in[k] == quote)
                    quote = 0;
            } else if (in[k] == '"' || in[k] == '\'') {
                quote = in[k];
            } else if (in[k] == '>') {
                break;
            }
        }
        if (k >= len) {
            /* unterminated: not a tag, keep it as text */
            out[o++] = in[i++];
            continue;
        }
        const char *name = in + j + (in[j] == '/');
        size_t nn = 0;
        while (name + nn < in + k &&
               ((name[nn] >= 'a' && name[nn] <= 'z') || (name[nn] >= 'A' && name[nn] <= 'Z') ||
                (name[nn] >= '0' && name[nn] <= '9')))
            nn++;
        if (tag_is(name, nn, "br")) {
            out[o++] = '\n';
        } else if (tag_is(name, nn, "img")) {
            size_t vl;
            const char *alt = find_attr(name + nn, in + k, "alt", &vl);
            if (alt)
                o += decode_into(alt, vl, out + o);
        }
        i = k + 1;
    }
    out[o] = '\0';
    return o;
}

/* ---- statuses ---- */

/* followers: 123, "123", "1.2万", "3亿", "1.2w" */
static int followers(const json_t *v, int64_t *out)
{
    if (es__jint(v, out) == 0)
        return 0;
    const char *s = json_string_value(v);
    if (!s)
        return -1;
    char *end;
    double d = strtod(s, &end);
    if (end == s || !isfinite(d) || d < 0)
        return -1;
    if (strcmp(end, "万") == 0 || strcmp(end, "w") == 0 || strcmp(end, "W") == 0)
        d *= 1e4;
    else if (strcmp(end, "亿") == 0)
        d *= 1e8;
    else if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0)
        d *= 1e3;
    else if (*end)
        return -1;
    if (d > 9e15)
        return -1;
    *out = (int64_t)(d + 0.5);
    return 0;
}

/* place from the location link m.weibo.cn puts in the HTML */
static const char *location_link(struct es__feed_ctx *c, const char *html)
{
    const char *icon = strstr(html, "timeline_card_small_location");
    if (!icon)
        return NULL;
    const char *t = strstr(icon, "surl-text");
    if (!t)
        return NULL;
    t = strchr(t, '>');
    if (!t)
        return NULL;
    t++;
    const char *e = strchr(t, '<');
    if (!e || e == t || e - t > 512)
        return NULL;
    char *out = es__arena_alloc(&c->arena, (size_t)(e - t) + 1);
    if (!out) {
        c->nomem = 1;
        return NULL;
    }
    size_t n = decode_into(t, (size_t)(e - t), out);
    out[n] = '\0';
    return out;
}

static int mention_char(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '_' || cp == '-';
    /* CJK punctuation and full-width forms end a name */
    return !(cp >= 0x3000 && cp <= 0x303F) && !(cp >= 0xFF00 && cp <= 0xFF20) &&
           !(cp >= 0x2000 && cp <= 0x206F) && cp != ES_UTF8_REPLACEMENT;
}

static void mentions(struct es__feed_ctx *c, struct es_post *p)
{
    const unsigned char *s = (const unsigned char *)p->text;
    size_t n = p->text_len;
    for (size_t i = 0; i < n && p->n_mentions < ES_POST_MAX_MENTIONS; i++) {
        if (s[i] != '@')
            continue;
        size_t j = i + 1;
        while (j < n && j - i <= 64) {
            size_t k;
            uint32_t cp = s[j] < 0x80 ? s[j] : es_utf8_decode(s + j, n - j, &k);
            if (s[j] < 0x80)
                k = 1;
            if (!mention_char(cp))
                break;
            j += k;
        }
        if (j > i + 1 && j - i <= 64) {
            const char *m = es__arena_strndup(&c->arena, (const char *)s + i + 1, j - i - 1);
            if (!m) {
                c->nomem = 1;
                return;
            }
            p->mentions[p->n_mentions++] = m;
        }
        i = j - 1;
    }
}

static const char *stripped(struct es__feed_ctx *c, const char *html, size_t len, size_t *out_len)
{
    char *out = es__arena_alloc(&c->arena, len + 1);
    if (!out) {
        c->nomem = 1;
        *out_len = 0;
        return NULL;
    }
    *out_len = es_html_strip(html, len, out);
    return out;
}

static void mblog(struct es__feed_ctx *c, const json_t *m, const char *where)
{
    struct es_post p;
    int bad = 0;

    if (!json_is_object(m)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s: not an object, record skipped", where);
        return;
    }
    es__post_init(&p, ES_PLATFORM_WEIBO);
    p.id = es__jid(c, json_object_get(m, "idstr"), &bad);
    if (!p.id)
        p.id = es__jid(c, json_object_get(m, "id"), &bad);
    if (!p.id)
        p.id = es__jid(c, json_object_get(m, "mid"), &bad);
    if (!p.id) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.id: %s, record skipped", where,
                      bad ? "not a string or number" : "missing");
        es__arena_reset(&c->arena);
        return;
    }

    const char *html = es__jstr(m, "text");
    const char *lt = es__jstr(json_object_get(m, "longText"), "longTextContent");
    const json_t *raw = json_object_get(m, "text_raw");
    if (lt) {
        p.text = stripped(c, lt, strlen(lt), &p.text_len);
    } else if (json_is_string(raw)) {
        p.text = json_string_value(raw);
        p.text_len = json_string_length(raw);
    } else if (html) {
        p.text = stripped(c, html, json_string_length(json_object_get(m, "text")), &p.text_len);
    } else {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.text: %s, record skipped (id %s)", where,
                      json_object_get(m, "text") ? "not a string" : "missing", p.id);
        es__arena_reset(&c->arena);
        return;
    }
    if (!p.text) {
        es__arena_reset(&c->arena);
        return;
    }
    if (html)
        p.place_name = location_link(c, html);

    const json_t *user = json_object_get(m, "user");
    if (json_is_object(user)) {
        int64_t n;
        p.author.id = es__jid(c, json_object_get(user, "idstr"), NULL);
        if (!p.author.id)
            p.author.id = es__jid(c, json_object_get(user, "id"), NULL);
        p.author.name = es__jstr(user, "screen_name");
        p.author.handle = p.author.name;
        const json_t *fc = json_object_get(user, "followers_count");
        if (fc && followers(fc, &n) == 0)
            p.author.followers = n;
        else if (fc)
            es__feed_diag(c, ES_DIAG_WARNING, "%s.user.followers_count: not a count (id %s)", where,
                          p.id);
        p.author.verified = json_is_true(json_object_get(user, "verified"));
    }

    const json_t *jcreated = json_object_get(m, "created_at");
    if (jcreated) {
        const char *s = json_string_value(jcreated);
        int tz = c->opts->tz_offset_s ? c->opts->tz_offset_s : 28800;
        if (!s || es_weibo_parse_time(s, c->opts->ref_time, tz, &p.created_at) != 0) {
            p.created_at = 0;
            es__feed_diag(c, ES_DIAG_WARNING, "%s.created_at: not a date (id %s)", where, p.id);
        }
    }
    es__set_lang(&p, "zh");

    const json_t *geo = json_object_get(m, "geo");
    if (json_is_object(geo)) {
        const json_t *pt = json_object_get(geo, "coordinates");
        double lat, lon;
        if (json_array_size(pt) != 2 || es__jdouble(json_array_get(pt, 0), &lat) ||
            es__jdouble(json_array_get(pt, 1), &lon) || es__set_point(&p, lat, lon))
            es__feed_diag(c, ES_DIAG_WARNING, "%s.geo.coordinates: not a [lat, lon] point (id %s)",
                          where, p.id);
    }
    const char *region = es__jstr(m, "region_name");
    if (!p.place_name && region && *region) {
        const char *r = region;
        if (strncmp(r, "发布于", strlen("发布于")) == 0)
            r += strlen("发布于");
        while (*r == ' ')
            r++;
        if (*r)
            p.place_name = r;
    }

    p.thread_root = p.id;
    mentions(c, &p);
    p.url = es__arena_printf(&c->arena, "https://m.weibo.cn/detail/%s", p.id);
    if (!p.url)
        c->nomem = 1;
    es__feed_emit(c, &p, where);
}

static void cards(struct es__feed_ctx *c, const json_t *arr, const char *prefix, int depth)
{
    size_t i;
    const json_t *card;
    json_array_foreach (arr, i, card) {
        char where[96];
        snprintf(where, sizeof where, "%s[%zu]", prefix, i);
        const json_t *mb = json_object_get(card, "mblog");
        const json_t *group = json_object_get(card, "card_group");
        if (mb) {
            char w2[112];
            snprintf(w2, sizeof w2, "%s.mblog", where);
            mblog(c, mb, w2);
        } else if (json_is_array(group) && depth < 3) {
            char w2[112];
            snprintf(w2, sizeof w2, "%s.card_group", where);
            cards(c, group, w2, depth + 1);
        }
    }
}

static void status_list(struct es__feed_ctx *c, const json_t *arr, const char *prefix)
{
    size_t i;
    const json_t *s;
    json_array_foreach (arr, i, s) {
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", prefix, i);
        mblog(c, s, where);
    }
}

static int is_mblog(const json_t *o)
{
    return json_is_object(o) && (json_object_get(o, "text") || json_object_get(o, "text_raw")) &&
           (json_object_get(o, "id") || json_object_get(o, "idstr") || json_object_get(o, "mid"));
}

void es__weibo_parse(struct es__feed_ctx *c, const json_t *root)
{
    if (json_is_array(root)) {
        status_list(c, root, "");
        return;
    }
    if (!json_is_object(root)) {
        es__feed_diag(c, ES_DIAG_ERROR, "weibo: document is not an object");
        return;
    }
    const json_t *ok = json_object_get(root, "ok");
    if (ok && !(json_is_integer(ok) && json_integer_value(ok) == 1) && !json_is_true(ok)) {
        const char *msg = es__jstr(root, "msg");
        es__feed_diag(c, ES_DIAG_WARNING, "ok: not 1 (%.200s)", msg ? msg : "no message");
    }
    const json_t *data = json_object_get(root, "data");
    if (json_is_object(data)) {
        if (json_is_array(json_object_get(data, "cards")))
            cards(c, json_object_get(data, "cards"), "data.cards", 0);
        if (json_is_array(json_object_get(data, "list")))
            status_list(c, json_object_get(data, "list"), "data.list");
        if (json_is_array(json_object_get(data, "statuses")))
            status_list(c, json_object_get(data, "statuses"), "data.statuses");
        if (is_mblog(data))
            mblog(c, data, "data");
        return;
    }
    if (json_is_array(data)) {
        status_list(c, data, "data");
        return;
    }
    if (json_is_array(json_object_get(root, "cards")))
        cards(c, json_object_get(root, "cards"), "cards", 0);
    if (json_is_array(json_object_get(root, "statuses")))
        status_list(c, json_object_get(root, "statuses"), "statuses");
    if (json_is_object(json_object_get(root, "mblog")))
        mblog(c, json_object_get(root, "mblog"), "mblog");
    if (json_is_object(json_object_get(root, "status")))
        mblog(c, json_object_get(root, "status"), "status");
    if (is_mblog(root))
        mblog(c, root, "status");
}
