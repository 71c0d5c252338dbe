/*
 * Feed endpoints: the ring rendered in each platform's response shape.
 *
 * Every page is a scan of the ring between two seqs, newest first (Twitter,
 * Weibo) or oldest first (WeChat), with filters. Cursors are seqs in
 * disguise (ids are base + seq), so:
 *
 *   since_id (Twitter), msgid (WeChat), since (push)  lower bound, exclusive
 *   next_token, max_id, until_id, Weibo since_id      upper bound
 *
 * A page's continuation cursor points just below its oldest post, so
 * following cursors never skips or repeats a post; new posts only appear
 * above the bound a poller keeps (its newest id). A scan is capped at
 * SCAN_BUDGET slots per request so one request cannot stall the loop; a
 * page cut short by the cap still carries a cursor where the scan stopped.
 * A search for one author (from:NAME, a user timeline) follows that author's
 * chain of posts instead (slot.prev_author), so it costs what it returns.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "earshot/clock.h"
#include "earshot/utf8.h"
#include "mock.h"

#define SCAN_BUDGET 200000
#define MAX_TERMS 16
#define MAX_PAGE 1000

struct scan {
    /* filters */
    int pf;
    int geo_only;
    int has_point;
    double plat, plon, prad_km;
    char terms[MAX_TERMS][128];
    size_t nterms;
    char neg[MAX_TERMS][128];
    size_t nneg;
    long author_idx;       /* generated author, -1 any */
    const char *author_id; /* replayed author id, NULL any */
    int reply;             /* -1 any, 0 no replies, 1 only replies */
    char lang[8];
    char from[96];
    int64_t min_ms, max_ms; /* 0: none */
    uint64_t lo;            /* seq > lo */
    uint64_t hi;            /* seq <= hi; 0: head */
    size_t skip;            /* matches to pass over first (page numbers) */
    /* results */
    size_t n;
    uint64_t resume; /* 0: nothing more; else the next page starts here (inclusive) */
    struct es_buf scratch;
    uint64_t seqs[MAX_PAGE]; /* last: scan_init leaves it alone */
};

static void scan_init(struct scan *s, int pf)
{
    memset(s, 0, offsetof(struct scan, seqs));
    s->pf = pf;
    s->author_idx = -1;
    s->reply = -1;
    es_buf_init(&s->scratch, 4 << 20);
}

static void scan_cleanup(struct scan *s)
{
    es_buf_cleanup(&s->scratch);
}

static int scan_match(const struct mock *m, struct scan *s, uint64_t seq)
{
    const struct mock_slot *sl = mock_slot_get(m, seq);
    if (!sl || sl->platform != s->pf)
        return 0;
    if (s->reply >= 0 && (sl->parent != 0) != s->reply)
        return 0;
    if (s->author_idx >= 0 && (sl->src || sl->author != (uint32_t)s->author_idx))
        return 0;
    if ((s->geo_only || s->has_point) && !sl->place)
        return 0;
    if (s->min_ms && sl->published_ms < s->min_ms)
        return 0;
    if (s->max_ms && sl->published_ms >= s->max_ms)
        return 0;
    if (s->author_id && (!sl->src || strcmp(m->replay[sl->src - 1].author.id, s->author_id) != 0))
        return 0;
    if (s->lang[0]) {
        const char *lang = sl->src                   ? m->replay[sl->src - 1].lang
                           : (sl->flags & MOCK_F_ZH) ? "zh"
                                                     : "en";
        if (strncmp(lang, s->lang, strlen(s->lang)) != 0)
            return 0;
    }
    if (s->has_point) {
        double lat, lon;
        mock_post_geo(m, seq, sl, &lat, &lon);
        if (mock_distance_km(s->plat, s->plon, lat, lon) > s->prad_km)
            return 0;
    }
    if (s->from[0]) {
        struct mock_post p;
        if (mock_post_load(m, seq, &p, &s->scratch) != 0 ||
            strcasecmp(p.author.screen_name, s->from) != 0)
            return 0;
    }
    if (!s->nterms && !s->nneg)
        return 1;
    const char *text;
    size_t len;
    if (mock_post_text(m, seq, &text, &len, &s->scratch) != 0)
        return 0;
    for (size_t i = 0; i < s->nneg; i++)
        if (mock_ci_find(text, len, s->neg[i], strlen(s->neg[i])))
            return 0;
    if (!s->nterms)
        return 1;
    for (size_t i = 0; i < s->nterms; i++)
        if (mock_ci_find(text, len, s->terms[i], strlen(s->terms[i])))
            return 1;
    return 0;
}

/* from:NAME of a generated author becomes an author filter, which walks only
 * that author's chain of posts. Returns 0 when no post can match. */
static int resolve_from(const struct mock *m, struct scan *s)
{
    if (!s->from[0] || m->nreplay)
        return 1;
    long idx = mock_author_from_screen_name(m, (enum mock_platform)s->pf, s->from);
    if (idx < 0 || (s->author_idx >= 0 && s->author_idx != idx))
        return 0;
    s->author_idx = idx;
    s->from[0] = '\0';
    return 1;
}

/* The next seq to look at below seq: the author's previous post when the scan
 * follows one author, else seq - 1. */
static uint64_t scan_prev(const struct mock *m, const struct scan *s, uint64_t seq)
{
    if (s->author_idx < 0 || m->nreplay)
        return seq - 1;
    const struct mock_slot *sl = mock_slot_get(m, seq);
    return sl && sl->prev_author ? seq - sl->prev_author : 0;
}

/* Newest first from hi down to lo + 1, at most `limit` posts. */
static void scan_desc(const struct mock *m, struct scan *s, size_t limit)
{
    uint64_t oldest = mock_oldest_seq(m);
    uint64_t top = (s->hi && s->hi < m->head) ? s->hi : m->head;
    uint64_t floor_seq = s->lo + 1 > oldest ? s->lo + 1 : oldest;
    long budget = SCAN_BUDGET;
    s->n = 0;
    s->resume = 0;
    if (limit > MAX_PAGE)
        limit = MAX_PAGE;
    if (!resolve_from(m, s))
        return;
    uint64_t seq = top;
    if (s->author_idx >= 0 && !m->nreplay) {
        /* Start at the author's newest post at or below top. */
        seq = m->author_last[s->author_idx];
        while (seq > top && seq >= floor_seq)
            seq = scan_prev(m, s, seq);
    }
    for (; seq >= floor_seq && seq > 0; seq = scan_prev(m, s, seq)) {
        if (--budget < 0) {
            s->resume = seq;
            return;
        }
        if (!scan_match(m, s, seq))
            continue;
        if (s->skip) {
            s->skip--;
            continue;
        }
        if (s->n == limit) {
            s->resume = seq; /* one more exists: the next page starts here */
            return;
        }
        s->seqs[s->n++] = seq;
    }
}

/* Oldest first from lo + 1 up to hi. */
static void scan_asc(const struct mock *m, struct scan *s, size_t limit)
{
    uint64_t oldest = mock_oldest_seq(m);
    uint64_t seq = s->lo + 1 > oldest ? s->lo + 1 : oldest;
    uint64_t top = (s->hi && s->hi < m->head) ? s->hi : m->head;
    long budget = SCAN_BUDGET;
    s->n = 0;
    s->resume = 0;
    if (limit > MAX_PAGE)
        limit = MAX_PAGE;
    if (!resolve_from(m, s))
        return;
    for (; seq <= top; seq++) {
        if (--budget < 0) {
            s->resume = seq;
            return;
        }
        if (!scan_match(m, s, seq))
            continue;
        if (s->n == limit) {
            s->resume = seq;
            return;
        }
        s->seqs[s->n++] = seq;
    }
}

/* ---- query parsing ---- */

static int add_term(char (*list)[128], size_t *n, const char *t, size_t len)
{
    if (*n >= MAX_TERMS || len == 0 || len >= 128)
        return 0;
    memcpy(list[*n], t, len);
    list[*n][len] = '\0';
    (*n)++;
    return 1;
}

static int parse_radius(const char *s, double *km)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0)
        return -1;
    if (strncmp(end, "km", 2) == 0)
        *km = v;
    else if (strncmp(end, "mi", 2) == 0)
        *km = v * 1.609344;
    else
        return -1;
    return 0;
}

/* Twitter search operators: keywords and "quoted phrases" (OR'd together,
 * case-insensitive substrings), -negation, has:geo, point_radius:[lon lat
 * Rkm|mi], lang:xx, from:user, is:reply; OR and parentheses are accepted
 * and ignored. Returns 0 or -1 with a message. */
static int parse_tw_query(const char *q, struct scan *s, char *err, size_t en)
{
    const char *p = q;
    while (*p) {
        while (*p == ' ' || *p == '(' || *p == ')')
            p++;
        if (!*p)
            break;
        int neg = 0;
        if (*p == '-') {
            neg = 1;
            p++;
        }
        const char *st = p, *e;
        size_t len;
        if (*p == '"') {
            st = ++p;
            while (*p && *p != '"')
                p++;
            len = (size_t)(p - st);
            if (*p)
                p++;
            add_term(neg ? s->neg : s->terms, neg ? &s->nneg : &s->nterms, st, len);
            continue;
        }
        if (strncmp(p, "point_radius:[", 14) == 0) {
            e = strchr(p, ']');
            if (!e) {
                snprintf(err, en, "point_radius: missing ]");
                return -1;
            }
            char buf[128];
            size_t bl = (size_t)(e - (p + 14));
            if (bl >= sizeof buf)
                bl = sizeof buf - 1;
            memcpy(buf, p + 14, bl);
            buf[bl] = '\0';
            char rad[32];
            if (sscanf(buf, "%lf %lf %31s", &s->plon, &s->plat, rad) != 3 ||
                parse_radius(rad, &s->prad_km) != 0 || fabs(s->plat) > 90 || fabs(s->plon) > 180) {
                snprintf(err, en, "point_radius:[lon lat radius(km|mi)]: cannot read \"%s\"", buf);
                return -1;
            }
            s->has_point = 1;
            p = e + 1;
            continue;
        }
        e = p;
        while (*e && *e != ' ' && *e != ')')
            e++;
        len = (size_t)(e - st);
        p = e;
        if (len == 2 && strncmp(st, "OR", 2) == 0)
            continue;
        if (len == 7 && strncmp(st, "has:geo", 7) == 0) {
            if (!neg)
                s->geo_only = 1;
            continue;
        }
        if (len == 8 && strncmp(st, "is:reply", 8) == 0) {
            s->reply = neg ? 0 : 1;
            continue;
        }
        if (len > 5 && strncmp(st, "lang:", 5) == 0) {
            snprintf(s->lang, sizeof s->lang, "%.*s", (int)(len - 5), st + 5);
            continue;
        }
        if (len > 5 && strncmp(st, "from:", 5) == 0) {
            snprintf(s->from, sizeof s->from, "%.*s", (int)(len - 5), st + 5);
            continue;
        }
        if (memchr(st, ':', len) && st[0] != '#' && st[0] != '@')
            continue; /* is:retweet, has:links, ...: not modelled */
        add_term(neg ? s->neg : s->terms, neg ? &s->nneg : &s->nterms, st, len);
    }
    return 0;
}

/* ---- shared rendering pieces ---- */

static const char *qparam(struct mock_req *rq, const char *name, char *out, size_t n)
{
    return mock_query_get(rq->query, strlen(rq->query), name, out, n) ? out : NULL;
}

static int hashtag_char(uint32_t cp)
{
    return (cp < 128 &&
            (cp == '_' || (cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z'))) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0xFF21 && cp <= 0xFF5A);
}

struct tag_span {
    size_t start, end; /* code points */
    const char *p;     /* bytes of the tag without '#' */
    size_t len;
};

/* Twitter-style "#tag" spans (a Weibo "#tag#" closes with '#'). */
static size_t find_hashtags(const char *s, size_t n, struct tag_span *out, size_t max)
{
    size_t cnt = 0, cp = 0;
    for (size_t i = 0; i < n && cnt < max;) {
        size_t l;
        uint32_t c = es_utf8_decode((const unsigned char *)s + i, n - i, &l);
        if (c == '#') {
            size_t j = i + 1, cps = 1;
            while (j < n) {
                size_t l2;
                uint32_t c2 = es_utf8_decode((const unsigned char *)s + j, n - j, &l2);
                if (!hashtag_char(c2))
                    break;
                j += l2;
                cps++;
            }
            if (j > i + 1) {
                out[cnt].start = cp;
                out[cnt].end = cp + cps;
                out[cnt].p = s + i + 1;
                out[cnt].len = j - i - 1;
                cnt++;
                cp += cps;
                i = j;
                continue;
            }
        }
        i += l;
        cp++;
    }
    return cnt;
}

static void id_pair(struct es_buf *b, const char *key, const char *id)
{
    /* "key":123,"key_str":"123" as v1.1 and Weibo write 64-bit ids */
    if (id && *id)
        es_buf_printf(b, "\"%s\":%s,\"%s_str\":\"%s\"", key, id, key, id);
    else
        es_buf_printf(b, "\"%s\":null,\"%s_str\":null", key, key);
}

/* ---- Twitter API v2 ---- */

struct tw_page {
    struct mock_author users[100]; /* a Twitter page holds at most 100 */
    size_t nusers;
    const struct mock_place *places[16];
    size_t nplaces;
};

static void tw2_tweet(struct mock *m, struct mock_resp *rs, const struct mock_post *p)
{
    struct es_buf *b = &rs->body;
    char when[32];
    (void)m;
    mock_fmt_iso_ms(p->created_ms, when);
    es_buf_printf(b, "{\"id\":\"%s\",\"text\":", p->id);
    mock_json_text(rs, p->text, p->text_len);
    es_buf_puts(b, ",\"author_id\":");
    mock_json_str(b, p->author.id, strlen(p->author.id));
    es_buf_printf(b,
                  ",\"created_at\":\"%s\",\"lang\":\"%s\",\"conversation_id\":\"%s\","
                  "\"edit_history_tweet_ids\":[\"%s\"],\"reply_settings\":\"everyone\","
                  "\"possibly_sensitive\":false",
                  when, p->lang, p->conversation_id, p->id);
    if (p->reply_to_seq) {
        es_buf_printf(b, ",\"referenced_tweets\":[{\"type\":\"replied_to\",\"id\":\"%s\"}]",
                      p->reply_to_id);
        if (p->reply_to_author_id[0])
            es_buf_printf(b, ",\"in_reply_to_user_id\":\"%s\"", p->reply_to_author_id);
    }
    if (p->has_geo) {
        es_buf_printf(b,
                      ",\"geo\":{\"coordinates\":{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]}",
                      p->lon, p->lat);
        if (p->place)
            es_buf_printf(b, ",\"place_id\":\"%s\"", p->place->place_id);
        es_buf_putc(b, '}');
    }
    struct tag_span tags[8];
    size_t nt = find_hashtags(p->text, p->text_len, tags, 8);
    if (p->nmentions || nt) {
        es_buf_puts(b, ",\"entities\":{");
        if (p->nmentions) {
            es_buf_puts(b, "\"mentions\":[");
            for (size_t i = 0; i < p->nmentions; i++) {
                const struct mock_mention *mt = &p->mentions[i];
                es_buf_printf(b, "%s{\"start\":%zu,\"end\":%zu,\"username\":", i ? "," : "",
                              mt->start, mt->end);
                mock_json_str(b, mt->username, strlen(mt->username));
                es_buf_printf(b, ",\"id\":\"%s\"}", mt->id);
            }
            es_buf_putc(b, ']');
        }
        if (nt) {
            es_buf_puts(b, p->nmentions ? ",\"hashtags\":[" : "\"hashtags\":[");
            for (size_t i = 0; i < nt; i++) {
                es_buf_printf(b, "%s{\"start\":%zu,\"end\":%zu,\"tag\":", i ? "," : "",
                              tags[i].start, tags[i].end);
                mock_json_str(b, tags[i].p, tags[i].len);
                es_buf_putc(b, '}');
            }
            es_buf_putc(b, ']');
        }
        es_buf_putc(b, '}');
    }
    es_buf_putc(b, '}');
}

static void tw_collect(struct tw_page *pg, const struct mock_post *p)
{
    size_t i;
    for (i = 0; i < pg->nusers; i++)
        if (strcmp(pg->users[i].id, p->author.id) == 0)
            break;
    if (i == pg->nusers && pg->nusers < sizeof pg->users / sizeof pg->users[0])
        pg->users[pg->nusers++] = p->author;
    if (!p->place)
        return;
    for (i = 0; i < pg->nplaces; i++)
        if (pg->places[i] == p->place)
            return;
    if (pg->nplaces < 16)
        pg->places[pg->nplaces++] = p->place;
}

static void tw2_includes(struct es_buf *b, const struct tw_page *pg, uint64_t seed)
{
    es_buf_puts(b, ",\"includes\":{\"users\":[");
    for (size_t i = 0; i < pg->nusers; i++) {
        const struct mock_author *a = &pg->users[i];
        uint64_t h = mock_hash64(seed ^ (uint64_t)strtoull(a->id, NULL, 10));
        es_buf_printf(b, "%s{\"id\":", i ? "," : "");
        mock_json_str(b, a->id, strlen(a->id));
        es_buf_puts(b, ",\"name\":");
        mock_json_str(b, a->name, strlen(a->name));
        es_buf_puts(b, ",\"username\":");
        mock_json_str(b, a->screen_name, strlen(a->screen_name));
        es_buf_printf(b, ",\"created_at\":\"2015-06-%02dT08:00:00.000Z\",", (int)(h % 28) + 1);
        es_buf_printf(b,
                      "\"verified\":%s,\"protected\":false,\"public_metrics\":{"
                      "\"followers_count\":%ld,\"following_count\":%ld,\"tweet_count\":%ld,"
                      "\"listed_count\":%ld}}",
                      a->verified ? "true" : "false", a->followers, (long)(h % 900) + 50,
                      (long)((h >> 12) % 20000) + 100, a->followers / 500);
    }
    es_buf_putc(b, ']');
    if (pg->nplaces) {
        es_buf_puts(b, ",\"places\":[");
        for (size_t i = 0; i < pg->nplaces; i++) {
            const struct mock_place *pl = pg->places[i];
            es_buf_printf(b, "%s{\"id\":\"%s\",\"full_name\":", i ? "," : "", pl->place_id);
            mock_json_str(b, pl->full_name, strlen(pl->full_name));
            es_buf_puts(b, ",\"name\":");
            mock_json_str(b, pl->name, strlen(pl->name));
            es_buf_printf(b,
                          ",\"place_type\":\"poi\",\"country_code\":\"%s\",\"country\":\"%s\","
                          "\"geo\":{\"type\":\"Feature\",\"bbox\":[%.4f,%.4f,%.4f,%.4f],"
                          "\"properties\":{}}}",
                          pl->country_code,
                          strcmp(pl->country_code, "CN") == 0 ? "China" : "United States",
                          pl->lon - 0.02, pl->lat - 0.02, pl->lon + 0.02, pl->lat + 0.02);
        }
        es_buf_putc(b, ']');
    }
    es_buf_putc(b, '}');
}

static int tw_token_decode(const char *t, uint64_t *seq)
{
    /* "esk" + hex: opaque to clients, a seq to us */
    if (strncmp(t, "esk", 3) != 0 || !t[3])
        return -1;
    char *end;
    unsigned long long v = strtoull(t + 3, &end, 16);
    if (*end)
        return -1;
    *seq = v;
    return 0;
}

static int tw_id_param(struct mock_req *rq, const char *name, uint64_t *seq, struct mock_resp *rs)
{
    char v[64];
    uint64_t id;
    if (!qparam(rq, name, v, sizeof v))
        return 0;
    if (mock_parse_u64(v, &id) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "The `%s` query parameter value [%.40s] is not valid", name, v);
        rs->status = 400;
        es_buf_printf(&rs->body, "{\"errors\":[{\"parameters\":{\"%s\":[", name);
        mock_json_str(&rs->body, v, strlen(v));
        es_buf_puts(&rs->body, "]},\"message\":");
        mock_json_str(&rs->body, msg, strlen(msg));
        es_buf_puts(&rs->body, "}],\"title\":\"Invalid Request\",\"detail\":\"One or more "
                               "parameters to your request was invalid.\",\"type\":"
                               "\"https://api.twitter.com/2/problems/invalid-request\"}");
        return -1;
    }
    *seq = mock_seq_from_id(MOCK_TWITTER, id);
    return 1;
}

static void tw_bad(struct mock_resp *rs, const char *msg)
{
    rs->status = 400;
    es_buf_reset(&rs->body);
    es_buf_puts(&rs->body, "{\"errors\":[{\"message\":");
    mock_json_str(&rs->body, msg, strlen(msg));
    es_buf_puts(&rs->body, "}],\"title\":\"Invalid Request\",\"detail\":\"One or more parameters "
                           "to your request was invalid.\",\"type\":"
                           "\"https://api.twitter.com/2/problems/invalid-request\"}");
}

static void tw_rate_headers(struct mock_req *rq, struct mock_resp *rs)
{
    es_buf_printf(&rs->headers,
                  "x-rate-limit-limit: 450\r\nx-rate-limit-remaining: 449\r\n"
                  "x-rate-limit-reset: %lld\r\n",
                  (long long)(rq->now_ms / 1000 + 900));
}

/* Common to search/recent and users/:id/tweets once the filters are set. */
static void tw2_page(struct mock *m, struct mock_req *rq, struct mock_resp *rs, struct scan *s,
                     long min_results)
{
    char v[64];
    long max_results = 10;
    uint64_t seq;
    int rc;
    if (qparam(rq, "max_results", v, sizeof v)) {
        char *end;
        max_results = strtol(v, &end, 10);
        if (*end || max_results < min_results || max_results > 100) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "The `max_results` query parameter value [%.20s] is not between %ld and 100",
                     v, min_results);
            tw_bad(rs, msg);
            return;
        }
    }
    if ((rc = tw_id_param(rq, "since_id", &seq, rs)) < 0)
        return;
    if (rc)
        s->lo = seq;
    if ((rc = tw_id_param(rq, "until_id", &seq, rs)) < 0)
        return;
    if (rc) {
        if (seq == 0)
            s->lo = UINT64_MAX - 1; /* nothing is older than the first id */
        else
            s->hi = seq - 1;
    }
    const char *tok = qparam(rq, "next_token", v, sizeof v);
    if (!tok)
        tok = qparam(rq, "pagination_token", v, sizeof v);
    if (tok) {
        if (tw_token_decode(tok, &seq) != 0) {
            tw_bad(rs, "The `next_token` query parameter value is not valid");
            return;
        }
        if (!s->hi || seq < s->hi)
            s->hi = seq;
    }
    char t1[40];
    if (qparam(rq, "start_time", t1, sizeof t1)) {
        int64_t t;
        if (es_time_parse_iso8601(t1, strlen(t1), &t) != 0) {
            tw_bad(rs, "The `start_time` query parameter value is not a valid time");
            return;
        }
        s->min_ms = t * 1000;
    }
    if (qparam(rq, "end_time", t1, sizeof t1)) {
        int64_t t;
        if (es_time_parse_iso8601(t1, strlen(t1), &t) != 0) {
            tw_bad(rs, "The `end_time` query parameter value is not a valid time");
            return;
        }
        s->max_ms = t * 1000;
    }
    if (s->lo >= UINT64_MAX - 1)
        s->n = 0, s->resume = 0;
    else
        scan_desc(m, s, (size_t)max_results);
    tw_rate_headers(rq, rs);
    struct es_buf *b = &rs->body;
    if (s->n == 0) {
        es_buf_puts(b, "{\"meta\":{\"result_count\":0");
        if (s->resume)
            es_buf_printf(b, ",\"next_token\":\"esk%llx\"", (unsigned long long)s->resume);
        es_buf_puts(b, "}}");
        return;
    }
    struct tw_page *pg = calloc(1, sizeof *pg);
    if (!pg) {
        rs->status = 500;
        return;
    }
    struct es_buf scratch;
    es_buf_init(&scratch, 4 << 20);
    es_buf_puts(b, "{\"data\":[");
    for (size_t i = 0; i < s->n; i++) {
        struct mock_post p;
        if (mock_post_load(m, s->seqs[i], &p, &scratch) != 0)
            continue;
        if (i)
            es_buf_putc(b, ',');
        tw2_tweet(m, rs, &p);
        tw_collect(pg, &p);
        if (p.created_ms > rs->last_modified_ms)
            rs->last_modified_ms = p.created_ms;
    }
    es_buf_putc(b, ']');
    tw2_includes(b, pg, m->seed);
    es_buf_printf(b,
                  ",\"meta\":{\"newest_id\":\"%llu\",\"oldest_id\":\"%llu\",\"result_count\":%zu",
                  (unsigned long long)mock_post_id_num(MOCK_TWITTER, s->seqs[0]),
                  (unsigned long long)mock_post_id_num(MOCK_TWITTER, s->seqs[s->n - 1]), s->n);
    if (s->resume)
        es_buf_printf(b, ",\"next_token\":\"esk%llx\"", (unsigned long long)s->resume);
    es_buf_puts(b, "}}");
    es_buf_cleanup(&scratch);
    free(pg);
}

void mock_feed_twitter_search(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char q[2048], err[256];
    struct scan s;
    if (!qparam(rq, "query", q, sizeof q) || !*q) {
        tw_bad(rs, "The `query` query parameter can not be empty");
        return;
    }
    scan_init(&s, MOCK_TWITTER);
    if (parse_tw_query(q, &s, err, sizeof err) != 0)
        tw_bad(rs, err);
    else
        tw2_page(m, rq, rs, &s, 10);
    scan_cleanup(&s);
}

void mock_feed_twitter_user(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    struct scan s;
    scan_init(&s, MOCK_TWITTER);
    s.author_idx = mock_author_from_id(MOCK_TWITTER, rq->param);
    if (s.author_idx < 0)
        s.author_id = rq->param; /* a replayed author, or nobody */
    tw2_page(m, rq, rs, &s, 5);
    scan_cleanup(&s);
}

/* ---- Twitter API v1.1 ---- */

static void v1_user(struct es_buf *b, const struct mock_author *a)
{
    es_buf_puts(b, "\"user\":{");
    if (mock_parse_u64(a->id, &(uint64_t){0}) == 0)
        id_pair(b, "id", a->id);
    else {
        es_buf_puts(b, "\"id\":null,\"id_str\":");
        mock_json_str(b, a->id, strlen(a->id));
    }
    es_buf_puts(b, ",\"name\":");
    mock_json_str(b, a->name, strlen(a->name));
    es_buf_puts(b, ",\"screen_name\":");
    mock_json_str(b, a->screen_name, strlen(a->screen_name));
    es_buf_printf(b,
                  ",\"location\":\"\",\"description\":\"\",\"protected\":false,"
                  "\"followers_count\":%ld,\"friends_count\":%ld,\"verified\":%s,"
                  "\"created_at\":\"Mon Jun 01 08:00:00 +0000 2015\"}",
                  a->followers, a->followers / 7 + 20, a->verified ? "true" : "false");
}

static void v1_status(struct mock *m, struct mock_resp *rs, const struct mock_post *p, int extended)
{
    struct es_buf *b = &rs->body;
    char when[40];
    (void)m;
    mock_fmt_twitter(p->created_ms / 1000, 0, when);
    es_buf_printf(b, "{\"created_at\":\"%s\",", when);
    id_pair(b, "id", p->id);
    es_buf_puts(b, extended ? ",\"full_text\":" : ",\"text\":");
    mock_json_text(rs, p->text, p->text_len);
    size_t cps = es_utf8_count(p->text, p->text_len);
    es_buf_printf(b, ",\"truncated\":false,\"display_text_range\":[0,%zu],\"entities\":{", cps);
    struct tag_span tags[8];
    size_t nt = find_hashtags(p->text, p->text_len, tags, 8);
    es_buf_puts(b, "\"hashtags\":[");
    for (size_t i = 0; i < nt; i++) {
        es_buf_puts(b, i ? ",{\"text\":" : "{\"text\":");
        mock_json_str(b, tags[i].p, tags[i].len);
        es_buf_printf(b, ",\"indices\":[%zu,%zu]}", tags[i].start, tags[i].end);
    }
    es_buf_puts(b, "],\"symbols\":[],\"urls\":[],\"user_mentions\":[");
    for (size_t i = 0; i < p->nmentions; i++) {
        const struct mock_mention *mt = &p->mentions[i];
        es_buf_puts(b, i ? ",{\"screen_name\":" : "{\"screen_name\":");
        mock_json_str(b, mt->username, strlen(mt->username));
        es_buf_puts(b, ",\"name\":");
        mock_json_str(b, mt->username, strlen(mt->username));
        es_buf_putc(b, ',');
        id_pair(b, "id", mt->id);
        es_buf_printf(b, ",\"indices\":[%zu,%zu]}", mt->start, mt->end);
    }
    es_buf_puts(b, "]},\"metadata\":{\"iso_language_code\":");
    mock_json_str(b, p->lang, strlen(p->lang));
    es_buf_puts(b, ",\"result_type\":\"recent\"},\"source\":\"<a href=\\\"https://mobile.twitter"
                   ".com\\\" rel=\\\"nofollow\\\">Twitter Web App</a>\",");
    id_pair(b, "in_reply_to_status_id", p->reply_to_seq ? p->reply_to_id : NULL);
    es_buf_putc(b, ',');
    id_pair(b, "in_reply_to_user_id", p->reply_to_seq ? p->reply_to_author_id : NULL);
    es_buf_puts(b, ",\"in_reply_to_screen_name\":");
    if (p->reply_to_seq && p->nmentions)
        mock_json_str(b, p->mentions[0].username, strlen(p->mentions[0].username));
    else
        es_buf_puts(b, "null");
    es_buf_putc(b, ',');
    v1_user(b, &p->author);
    if (p->has_geo)
        es_buf_printf(b,
                      ",\"geo\":{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]},"
                      "\"coordinates\":{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]}",
                      p->lat, p->lon, p->lon, p->lat);
    else
        es_buf_puts(b, ",\"geo\":null,\"coordinates\":null");
    if (p->place) {
        const struct mock_place *pl = p->place;
        es_buf_printf(b,
                      ",\"place\":{\"id\":\"%s\",\"url\":\"https://api.twitter.com/1.1/geo/id/"
                      "%s.json\",\"place_type\":\"poi\",\"name\":",
                      pl->place_id, pl->place_id);
        mock_json_str(b, pl->name, strlen(pl->name));
        es_buf_puts(b, ",\"full_name\":");
        mock_json_str(b, pl->full_name, strlen(pl->full_name));
        es_buf_printf(b,
                      ",\"country_code\":\"%s\",\"country\":\"%s\",\"bounding_box\":{\"type\":"
                      "\"Polygon\",\"coordinates\":[[[%.4f,%.4f],[%.4f,%.4f],[%.4f,%.4f],"
                      "[%.4f,%.4f]]]},\"attributes\":{}}",
                      pl->country_code,
                      strcmp(pl->country_code, "CN") == 0 ? "China" : "United States",
                      pl->lon - 0.02, pl->lat - 0.02, pl->lon + 0.02, pl->lat - 0.02,
                      pl->lon + 0.02, pl->lat + 0.02, pl->lon - 0.02, pl->lat + 0.02);
    } else {
        es_buf_puts(b, ",\"place\":null");
    }
    es_buf_printf(b,
                  ",\"contributors\":null,\"is_quote_status\":false,\"retweet_count\":%d,"
                  "\"favorite_count\":%d,\"favorited\":false,\"retweeted\":false,\"lang\":\"%s\"}",
                  (int)(p->seq % 7), (int)(p->seq % 13), p->lang);
}

static void v1_error(struct mock_resp *rs, int code, const char *msg)
{
    rs->status = 400;
    es_buf_reset(&rs->body);
    es_buf_printf(&rs->body, "{\"errors\":[{\"code\":%d,\"message\":", code);
    mock_json_str(&rs->body, msg, strlen(msg));
    es_buf_puts(&rs->body, "}]}");
}

static void url_encode(struct es_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            es_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            es_buf_append(b, e, 3);
        }
    }
}

void mock_feed_twitter_v1_search(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char q[2048], v[128], err[256];
    struct scan s;
    scan_init(&s, MOCK_TWITTER);
    int has_q = qparam(rq, "q", q, sizeof q) && *q;
    int has_geo = qparam(rq, "geocode", v, sizeof v) != NULL;
    long count = 15;
    uint64_t id;
    if (has_geo) {
        char rad[32];
        if (sscanf(v, "%lf,%lf,%31s", &s.plat, &s.plon, rad) != 3 ||
            parse_radius(rad, &s.prad_km) != 0) {
            v1_error(rs, 195, "Missing or invalid url parameter: geocode");
            goto out;
        }
        s.has_point = 1;
    }
    if (!has_q && !has_geo) {
        v1_error(rs, 25, "Query parameters are missing.");
        goto out;
    }
    if (has_q && parse_tw_query(q, &s, err, sizeof err) != 0) {
        v1_error(rs, 195, err);
        goto out;
    }
    if (qparam(rq, "count", v, sizeof v)) {
        count = strtol(v, NULL, 10);
        if (count < 1)
            count = 15;
        if (count > 100)
            count = 100;
    }
    if (qparam(rq, "since_id", v, sizeof v) && mock_parse_u64(v, &id) == 0)
        s.lo = mock_seq_from_id(MOCK_TWITTER, id);
    if (qparam(rq, "max_id", v, sizeof v) && mock_parse_u64(v, &id) == 0) {
        s.hi = mock_seq_from_id(MOCK_TWITTER, id); /* inclusive */
        if (s.hi == 0)
            s.lo = UINT64_MAX - 1;
    }
    int extended = qparam(rq, "tweet_mode", v, sizeof v) && strcmp(v, "extended") == 0;
    if (s.lo < UINT64_MAX - 1)
        scan_desc(m, &s, (size_t)count);
    tw_rate_headers(rq, rs);
    struct es_buf *b = &rs->body;
    es_buf_puts(b, "{\"statuses\":[");
    for (size_t i = 0; i < s.n; i++) {
        struct mock_post p;
        if (mock_post_load(m, s.seqs[i], &p, &s.scratch) != 0)
            continue;
        if (i)
            es_buf_putc(b, ',');
        v1_status(m, rs, &p, extended);
        if (p.created_ms > rs->last_modified_ms)
            rs->last_modified_ms = p.created_ms;
    }
    uint64_t max_id = s.n ? mock_post_id_num(MOCK_TWITTER, s.seqs[0]) : 0;
    uint64_t since = s.lo && s.lo < UINT64_MAX - 1 ? mock_post_id_num(MOCK_TWITTER, s.lo) : 0;
    es_buf_printf(b,
                  "],\"search_metadata\":{\"completed_in\":0.004,\"max_id\":%llu,"
                  "\"max_id_str\":\"%llu\",",
                  (unsigned long long)max_id, (unsigned long long)max_id);
    if (s.resume) {
        es_buf_printf(b, "\"next_results\":\"?max_id=%llu&q=",
                      (unsigned long long)mock_post_id_num(MOCK_TWITTER, s.resume));
        url_encode(b, has_q ? q : "");
        if (has_geo) {
            es_buf_puts(b, "&geocode=");
            char g[128];
            qparam(rq, "geocode", g, sizeof g);
            url_encode(b, g);
        }
        es_buf_printf(b, "&count=%ld&include_entities=1\",", count);
    }
    es_buf_puts(b, "\"query\":");
    mock_json_str(b, has_q ? q : "", has_q ? strlen(q) : 0);
    es_buf_printf(
        b, ",\"refresh_url\":\"?since_id=%llu&q=", (unsigned long long)(max_id ? max_id : since));
    url_encode(b, has_q ? q : "");
    es_buf_printf(
        b, "&include_entities=1\",\"count\":%ld,\"since_id\":%llu,\"since_id_str\":\"%llu\"}}",
        count, (unsigned long long)since, (unsigned long long)since);
out:
    scan_cleanup(&s);
}

/* ---- Weibo ---- */

static const char *emoticon_src(const char *name, size_t n)
{
    static const struct {
        const char *name, *file;
    } icons[] = {
        {"[哭]", "d_ku-0e3e6ef8d6.png"},          {"[怒]", "d_nu-48b3fd3b2e.png"},
        {"[抓狂]", "d_zhuakuang-7bd8db8d43.png"}, {"[衰]", "d_shuai-a8ef3d4dd6.png"},
        {"[生病]", "d_shengbing-5f05e1d5a1.png"}, {"[赞]", "d_zan-44ddc70637.png"},
        {"[心]", "l_xin-43af9086c0.png"},         {"[哈哈]", "d_haha-0fcf0b3e95.png"},
        {"[good]", "h_good-0c51afc69c.png"},
    };
    for (size_t i = 0; i < sizeof icons / sizeof icons[0]; i++)
        if (strlen(icons[i].name) == n && memcmp(icons[i].name, name, n) == 0)
            return icons[i].file;
    return NULL;
}

static void html_esc(struct es_buf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            es_buf_puts(o, "&amp;");
            break;
        case '<':
            es_buf_puts(o, "&lt;");
            break;
        case '>':
            es_buf_puts(o, "&gt;");
            break;
        default:
            es_buf_putc(o, s[i]);
            break;
        }
    }
}

/* Plain text to the HTML m.weibo.cn sends: #topic# links, @name links,
 * [emoticon] images, <br /> for newlines. */
static void weibo_html(const char *s, size_t n, struct es_buf *o)
{
    size_t i = 0;
    while (i < n) {
        size_t l;
        uint32_t c = es_utf8_decode((const unsigned char *)s + i, n - i, &l);
        if (c == '\n') {
            es_buf_puts(o, "<br />");
            i++;
            continue;
        }
        if (c == '#') {
            const char *e = memchr(s + i + 1, '#', n - i - 1);
            if (e && e - (s + i) > 1 && e - (s + i) < 64 &&
                !memchr(s + i + 1, ' ', (size_t)(e - s - i - 1))) {
                char tag[96];
                size_t tl = (size_t)(e - s - i + 1);
                memcpy(tag, s + i, tl);
                tag[tl] = '\0';
                es_buf_puts(o, "<a  href=\"https://m.weibo.cn/search?containerid=231522type%3D1"
                               "%26t%3D10%26q%3D");
                url_encode(o, tag);
                es_buf_puts(o, "&extparam=");
                url_encode(o, tag);
                es_buf_puts(o, "&luicode=10000011&lfid=100103\" data-hide=\"\"><span "
                               "class=\"surl-text\">");
                html_esc(o, tag, tl);
                es_buf_puts(o, "</span></a>");
                i += tl;
                continue;
            }
        }
        if (c == '@') {
            size_t j = i + 1;
            while (j < n) {
                size_t l2;
                uint32_t c2 = es_utf8_decode((const unsigned char *)s + j, n - j, &l2);
                if (!(hashtag_char(c2) || c2 == '-'))
                    break;
                j += l2;
            }
            if (j > i + 1) {
                es_buf_puts(o, "<a href='/n/");
                es_buf_append(o, s + i + 1, j - i - 1);
                es_buf_puts(o, "'>");
                html_esc(o, s + i, j - i);
                es_buf_puts(o, "</a>");
                i = j;
                continue;
            }
        }
        if (c == '[') {
            const char *e = memchr(s + i, ']', n - i);
            const char *src = e ? emoticon_src(s + i, (size_t)(e - s - i + 1)) : NULL;
            if (src) {
                size_t el = (size_t)(e - s - i + 1);
                es_buf_puts(o, "<span class=\"url-icon\"><img alt=");
                es_buf_append(o, s + i, el);
                es_buf_printf(o,
                              " src=\"https://h5.sinaimg.cn/m/emoticon/icon/default/%s\" "
                              "style=\"width:1em; height:1em;\" /></span>",
                              src);
                i += el;
                continue;
            }
        }
        html_esc(o, s + i, l);
        i += l;
    }
}

static void weibo_time(const struct mock_post *p, int64_t now_ms, char *out, size_t n)
{
    int64_t age = (now_ms - p->created_ms) / 1000;
    if (age < 0)
        age = 0;
    if (!p->rel_time) {
        mock_fmt_twitter(p->created_ms / 1000, 480, out);
        return;
    }
    int64_t loc = p->created_ms / 1000 + 8 * 3600, nowloc = now_ms / 1000 + 8 * 3600;
    int64_t day = loc / 86400, today = nowloc / 86400;
    if (age < 60)
        snprintf(out, n, "刚刚");
    else if (age < 3600)
        snprintf(out, n, "%d分钟前", (int)(age / 60));
    else if (day == today)
        snprintf(out, n, "%d小时前", (int)(age / 3600));
    else if (day == today - 1)
        snprintf(out, n, "昨天 %02d:%02d", (int)(loc % 86400 / 3600), (int)(loc % 3600 / 60));
    else {
        int y, mo, d, h, mi, se;
        es_time_to_civil(loc, &y, &mo, &d, &h, &mi, &se);
        snprintf(out, n, "%02d-%02d", mo, d);
    }
}

/* One mblog / status. `ajax`: the weibo.com shape with text_raw. */
static void weibo_status(struct mock *m, struct mock_req *rq, struct mock_resp *rs,
                         const struct mock_post *p, int ajax, struct es_buf *tmp)
{
    struct es_buf *b = &rs->body;
    char when[48];
    (void)m;
    weibo_time(p, rq->now_ms, when, sizeof when);
    es_buf_puts(b, "{\"created_at\":");
    mock_json_str(b, when, strlen(when));
    if (ajax)
        es_buf_printf(b, ",\"id\":%s,\"idstr\":\"%s\",\"mid\":\"%s\",\"mblogid\":\"M%s\"", p->id,
                      p->id, p->id, p->id + 8);
    else
        es_buf_printf(b, ",\"id\":\"%s\",\"idstr\":\"%s\",\"mid\":\"%s\",\"bid\":\"M%s\"", p->id,
                      p->id, p->id, p->id + 8);
    es_buf_reset(tmp);
    weibo_html(p->text, p->text_len, tmp);
    es_buf_puts(b, ",\"text\":");
    if (ajax) {
        mock_json_str(b, tmp->data ? tmp->data : "", tmp->len);
        es_buf_puts(b, ",\"text_raw\":");
        mock_json_text(rs, p->text, p->text_len);
    } else {
        mock_json_text(rs, tmp->data ? tmp->data : "", tmp->len);
    }
    es_buf_printf(b,
                  ",\"textLength\":%zu,\"source\":\"%s\",\"favorited\":false,"
                  "\"isLongText\":false,\"pic_num\":0,",
                  p->text_len, (p->seq & 1) ? "iPhone客户端" : "微博 weibo.com");
    es_buf_printf(b, "\"reposts_count\":%d,\"comments_count\":%d,\"attitudes_count\":%d,",
                  (int)(p->seq % 5), (int)(p->seq % 11), (int)(p->seq % 29));
    const struct mock_author *a = &p->author;
    uint64_t uid;
    es_buf_puts(b, "\"user\":{\"id\":");
    if (mock_parse_u64(a->id, &uid) == 0)
        es_buf_printf(b, "%s,\"idstr\":\"%s\"", a->id, a->id);
    else {
        mock_json_str(b, a->id, strlen(a->id));
        es_buf_puts(b, ",\"idstr\":");
        mock_json_str(b, a->id, strlen(a->id));
    }
    es_buf_puts(b, ",\"screen_name\":");
    mock_json_str(b, a->screen_name, strlen(a->screen_name));
    es_buf_printf(b,
                  ",\"profile_image_url\":\"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/"
                  "mock%s.jpg\",\"verified\":%s,\"verified_type\":%d,\"followers_count\":%ld,"
                  "\"follow_count\":%ld,\"gender\":\"%s\",\"description\":\"\"}",
                  a->id, a->verified ? "true" : "false", a->verified ? 0 : -1, a->followers,
                  a->followers / 9 + 30, (p->seq & 2) ? "f" : "m");
    if (p->has_geo) {
        es_buf_printf(b, ",\"geo\":{\"type\":\"Point\",\"coordinates\":[%.6f,%.6f]}", p->lat,
                      p->lon);
        if (p->place) {
            const char *city = strstr(p->place->label, "北京")   ? "北京"
                               : strstr(p->place->label, "上海") ? "上海"
                                                                 : "海外";
            es_buf_printf(b, ",\"region_name\":\"发布于 %s\"", city);
        }
    } else {
        es_buf_puts(b, ",\"geo\":null");
    }
    es_buf_putc(b, '}');
}

static int weibo_seq_param(struct mock_req *rq, const char *name, uint64_t *seq)
{
    char v[64];
    uint64_t id;
    if (!qparam(rq, name, v, sizeof v) || !*v || mock_parse_u64(v, &id) != 0)
        return 0;
    *seq = mock_seq_from_id(MOCK_WEIBO, id);
    return 1;
}

static void weibo_err(struct mock_resp *rs, const char *msg)
{
    rs->status = 200; /* m.weibo.cn says no with ok:0 */
    es_buf_reset(&rs->body);
    es_buf_puts(&rs->body, "{\"ok\":0,\"msg\":");
    mock_json_str(&rs->body, msg, strlen(msg));
    es_buf_puts(&rs->body, "}");
}

/*
 * containerid: 100103type=1&q=KEYWORDS (search), 231522type=1&q=#tag#
 * (topic), 107603<uid> (a user's posts), anything else or none: every
 * Weibo post. since_id is m.weibo.cn's "older page" cursor: the first id
 * of the next page, taken from cardlistInfo.since_id.
 */
void mock_feed_weibo_getindex(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char cid[1024], v[32];
    struct scan s;
    struct es_buf tmp;
    scan_init(&s, MOCK_WEIBO);
    es_buf_init(&tmp, 8 << 20);
    qparam(rq, "containerid", cid, sizeof cid);
    if (strncmp(cid, "100103", 6) == 0 || strncmp(cid, "231522", 6) == 0) {
        char kw[512];
        const char *inner = cid + 6;
        if (mock_query_get(inner, strlen(inner), "q", kw, sizeof kw) && *kw) {
            char err[128];
            parse_tw_query(kw, &s, err, sizeof err);
        }
    } else if (strncmp(cid, "107603", 6) == 0) {
        s.author_idx = mock_author_from_id(MOCK_WEIBO, cid + 6);
        if (s.author_idx < 0)
            s.author_id = cid + 6;
    }
    uint64_t seq;
    if (weibo_seq_param(rq, "since_id", &seq)) {
        if (seq == 0) {
            weibo_err(rs, "这里还没有内容");
            goto out;
        }
        s.hi = seq;
    }
    long count = 10;
    if (qparam(rq, "count", v, sizeof v)) {
        count = strtol(v, NULL, 10);
        if (count < 1 || count > 100)
            count = 10;
    }
    scan_desc(m, &s, (size_t)count);
    struct es_buf *b = &rs->body;
    es_buf_puts(b, "{\"ok\":1,\"data\":{\"cardlistInfo\":{\"containerid\":");
    mock_json_str(b, cid, strlen(cid));
    es_buf_puts(b, ",\"v_p\":42,\"show_style\":1,\"page_type\":\"searchall\"");
    if (s.resume)
        es_buf_printf(b, ",\"since_id\":%llu",
                      (unsigned long long)mock_post_id_num(MOCK_WEIBO, s.resume));
    es_buf_puts(b, "},\"cards\":[");
    for (size_t i = 0; i < s.n; i++) {
        struct mock_post p;
        if (mock_post_load(m, s.seqs[i], &p, &s.scratch) != 0)
            continue;
        es_buf_printf(b,
                      "%s{\"card_type\":9,\"itemid\":\"\",\"scheme\":\"https://m.weibo.cn/"
                      "status/%s?mblogid=%s\",\"mblog\":",
                      i ? "," : "", p.id, p.id);
        weibo_status(m, rq, rs, &p, 0, &tmp);
        es_buf_putc(b, '}');
        if (p.created_ms > rs->last_modified_ms)
            rs->last_modified_ms = p.created_ms;
    }
    es_buf_puts(b, "],\"scheme\":\"sinaweibo://cardlist?containerid=");
    url_encode(b, cid);
    es_buf_puts(b, "\",\"showAppTips\":0}}");
out:
    es_buf_cleanup(&tmp);
    scan_cleanup(&s);
}

/*
 * weibo.com's ajax timeline of one user, 20 per page. page numbers count
 * from the newest post as of the request for page 1 (remembered per uid), so
 * paging 1, 2, 3 ... neither skips nor repeats while new posts arrive; a
 * new page 1 sees them. data.since_id is a cursor too (the first id of the
 * next page).
 */
void mock_feed_weibo_mymblog(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char uid[64], v[32];
    struct scan s;
    struct es_buf tmp;
    scan_init(&s, MOCK_WEIBO);
    es_buf_init(&tmp, 8 << 20);
    if (!qparam(rq, "uid", uid, sizeof uid) || !*uid) {
        weibo_err(rs, "uid is required");
        goto out;
    }
    s.author_idx = mock_author_from_id(MOCK_WEIBO, uid);
    if (s.author_idx < 0)
        s.author_id = uid;
    long page = 1;
    if (qparam(rq, "page", v, sizeof v)) {
        page = strtol(v, NULL, 10);
        if (page < 1)
            page = 1;
    }
    uint64_t uhash = 1469598103934665603ull;
    for (const char *q = uid; *q; q++)
        uhash = (uhash ^ (unsigned char)*q) * 1099511628211ull;
    size_t slot = uhash % 256;
    uint64_t seq;
    if (weibo_seq_param(rq, "since_id", &seq)) {
        s.hi = seq ? seq : 1;
        if (!seq)
            s.lo = UINT64_MAX - 1;
    } else {
        if (page == 1 || m->snap_uid[slot] != uhash) {
            m->snap_uid[slot] = uhash;
            m->snap_head[slot] = m->head;
        }
        s.hi = m->snap_head[slot] ? m->snap_head[slot] : m->head;
        if (!s.hi)
            s.lo = UINT64_MAX - 1;
        s.skip = (size_t)(page - 1) * 20;
    }
    if (s.lo < UINT64_MAX - 1)
        scan_desc(m, &s, 20);
    struct es_buf *b = &rs->body;
    es_buf_puts(b, "{\"ok\":1,\"data\":{");
    if (s.resume)
        es_buf_printf(b, "\"since_id\":\"%llu\",",
                      (unsigned long long)mock_post_id_num(MOCK_WEIBO, s.resume));
    else
        es_buf_puts(b, "\"since_id\":\"\",");
    es_buf_puts(b, "\"list\":[");
    for (size_t i = 0; i < s.n; i++) {
        struct mock_post p;
        if (mock_post_load(m, s.seqs[i], &p, &s.scratch) != 0)
            continue;
        if (i)
            es_buf_putc(b, ',');
        weibo_status(m, rq, rs, &p, 1, &tmp);
        if (p.created_ms > rs->last_modified_ms)
            rs->last_modified_ms = p.created_ms;
    }
    es_buf_puts(b, "],\"status_visible\":0,\"bottom_tips_visible\":false,\"bottom_tips_text\":\"\","
                   "\"topicList\":[]}}");
out:
    es_buf_cleanup(&tmp);
    scan_cleanup(&s);
}

/* ---- WeChat ---- */

/*
 * Customer-service message records. Body {"starttime","endtime","msgid",
 * "number"}: records with msgid >= msgid (msgid is the record's seq; the
 * first call uses 1) inside [starttime, endtime], oldest first; the
 * response's msgid is where the next call starts.
 */
void mock_feed_wechat_msglist(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char tok[256];
    struct es_buf *b = &rs->body;
    if (!mock_query_get(rq->query, strlen(rq->query), "access_token", tok, sizeof tok) || !*tok) {
        es_buf_puts(b, "{\"errcode\":41001,\"errmsg\":\"access_token missing\"}");
        return;
    }
    json_error_t err;
    json_t *o = json_loadb(rq->body, rq->body_len, 0, &err);
    const json_t *st = json_object_get(o, "starttime"), *et = json_object_get(o, "endtime");
    const json_t *mi = json_object_get(o, "msgid"), *nu = json_object_get(o, "number");
    if (!json_is_object(o) || !json_is_integer(st) || !json_is_integer(et) ||
        !json_is_integer(nu) || (mi && !json_is_integer(mi))) {
        es_buf_puts(b, "{\"errcode\":47001,\"errmsg\":\"data format error\"}");
        json_decref(o);
        return;
    }
    long long start = json_integer_value(st), end = json_integer_value(et);
    long long msgid = mi ? json_integer_value(mi) : 1, number = json_integer_value(nu);
    json_decref(o);
    if (end < start || number < 1 || number > 10000) {
        es_buf_puts(b, "{\"errcode\":40060,\"errmsg\":\"invalid time range or number\"}");
        return;
    }
    struct scan s;
    scan_init(&s, MOCK_WECHAT);
    s.lo = msgid > 1 ? (uint64_t)msgid - 1 : 0;
    s.min_ms = start * 1000;
    s.max_ms = (end + 1) * 1000;
    if (s.min_ms == 0)
        s.min_ms = 1;
    /* number may be 10000; render in pages of MAX_PAGE */
    uint64_t next = (uint64_t)(msgid > 1 ? msgid : 1);
    long long left = number, total = 0;
    es_buf_puts(b, "{\"recordlist\":[");
    struct es_buf scratch;
    es_buf_init(&scratch, 4 << 20);
    for (;;) {
        scan_asc(m, &s, (size_t)(left < MAX_PAGE ? left : MAX_PAGE));
        for (size_t i = 0; i < s.n; i++) {
            struct mock_post p;
            if (mock_post_load(m, s.seqs[i], &p, &scratch) != 0)
                continue;
            if (total++)
                es_buf_putc(b, ',');
            es_buf_puts(b, "{\"openid\":");
            mock_json_str(b, p.author.id, strlen(p.author.id));
            es_buf_printf(b, ",\"opercode\":2003,\"text\":");
            mock_json_text(rs, p.text, p.text_len);
            es_buf_printf(b, ",\"time\":%lld,\"worker\":\"kf2001@gh_mock\"}",
                          (long long)(p.created_ms / 1000));
            next = p.seq + 1;
        }
        left -= (long long)s.n;
        if (!s.resume || left <= 0)
            break;
        if (s.n == 0) {
            next = s.resume; /* the scan budget ran out before any match */
            break;
        }
        s.lo = s.seqs[s.n - 1];
    }
    es_buf_cleanup(&scratch);
    es_buf_printf(b, "],\"number\":%lld,\"msgid\":%llu}", total, (unsigned long long)next);
    scan_cleanup(&s);
}

static void cdata(struct es_buf *tmp, const char *s, size_t n)
{
    /* "]]>" cannot appear inside CDATA: split it across two sections */
    es_buf_puts(tmp, "<![CDATA[");
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && s[i] == ']' && s[i + 1] == ']' && s[i + 2] == '>') {
            es_buf_puts(tmp, "]]]]><![CDATA[>");
            i += 2;
            continue;
        }
        es_buf_putc(tmp, s[i]);
    }
    es_buf_puts(tmp, "]]>");
}

/*
 * Official-account push messages as a JSON array of XML strings (what the
 * platform POSTs to a callback URL), for MsgId > since. Geo-tagged posts
 * arrive as location messages. X-Mock-Next-Since carries the newest MsgId.
 */
void mock_feed_wechat_push(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char v[32];
    uint64_t since = 0, limit = 100;
    if (qparam(rq, "since", v, sizeof v) && mock_parse_u64(v, &since) != 0)
        since = 0;
    if (qparam(rq, "limit", v, sizeof v) && (mock_parse_u64(v, &limit) != 0 || limit == 0))
        limit = 100;
    if (limit > MAX_PAGE)
        limit = MAX_PAGE;
    struct scan s;
    struct es_buf tmp;
    scan_init(&s, MOCK_WECHAT);
    es_buf_init(&tmp, 4 << 20);
    s.lo = mock_seq_from_id(MOCK_WECHAT, since);
    scan_asc(m, &s, (size_t)limit);
    struct es_buf *b = &rs->body;
    uint64_t next = since;
    es_buf_putc(b, '[');
    for (size_t i = 0; i < s.n; i++) {
        struct mock_post p;
        if (mock_post_load(m, s.seqs[i], &p, &s.scratch) != 0)
            continue;
        if (i)
            es_buf_putc(b, ',');
        es_buf_reset(&tmp);
        es_buf_puts(&tmp, "<xml><ToUserName><![CDATA[gh_mock_official]]></ToUserName>"
                          "<FromUserName>");
        cdata(&tmp, p.author.id, strlen(p.author.id));
        es_buf_printf(&tmp, "</FromUserName><CreateTime>%lld</CreateTime>",
                      (long long)(p.created_ms / 1000));
        es_buf_putc(b, '"');
        if (p.has_geo) {
            const char *label = p.place ? p.place->label : "";
            es_buf_printf(&tmp,
                          "<MsgType><![CDATA[location]]></MsgType><Location_X>%.6f"
                          "</Location_X><Location_Y>%.6f</Location_Y><Scale>15</Scale>"
                          "<Label>",
                          p.lat, p.lon);
            cdata(&tmp, label, strlen(label));
            es_buf_printf(&tmp, "</Label><MsgId>%s</MsgId></xml>", p.id);
            mock_json_esc(b, tmp.data, tmp.len);
        } else {
            es_buf_puts(&tmp, "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[");
            mock_json_esc(b, tmp.data, tmp.len);
            es_buf_reset(&tmp);
            cdata(&tmp, p.text, p.text_len);
            /* the text between "<![CDATA[" and "]]>" carries the text fault */
            mock_json_text_esc(rs, tmp.data + 9, tmp.len - 12);
            es_buf_reset(&tmp);
            es_buf_printf(&tmp, "]]></Content><MsgId>%s</MsgId></xml>", p.id);
            mock_json_esc(b, tmp.data, tmp.len);
        }
        es_buf_putc(b, '"');
        next = mock_post_id_num(MOCK_WECHAT, p.seq);
        if (p.created_ms > rs->last_modified_ms)
            rs->last_modified_ms = p.created_ms;
    }
    es_buf_putc(b, ']');
    if (s.n == 0 && s.resume)
        next = mock_post_id_num(MOCK_WECHAT, s.resume - 1);
    es_buf_printf(&rs->headers, "X-Mock-Next-Since: %llu\r\n", (unsigned long long)next);
    es_buf_cleanup(&tmp);
    scan_cleanup(&s);
}
