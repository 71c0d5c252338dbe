/*
 * Routing, fault selection, the reply/DM endpoints that record what was
 * posted (with idempotency keys), and the /_mock/ bookkeeping endpoints.
 *
 * Fault selection for one request:
 *
 *   control path (/_mock/ except the WeChat push feed)? -> never faulted
 *   first queued rule whose path_prefix matches        -> its kind
 *   else, feed or write path and rand < --fault-rate   -> a random kind
 *
 *   5xx, 429, wrong_content_type  replace the response; a write is not
 *                                 recorded (the platform refused it)
 *   invalid_utf8, huge            go into the first post text of a feed
 *                                 page; a page without posts (or a write)
 *                                 leaves the rule queued for a later one
 *   invalid_json                  the normal body, made unparseable
 *   truncated, slow, stall, reset the normal response, damaged on the wire
 *                                 by server.c; a write IS recorded (the
 *                                 platform did it, the answer got lost)
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "earshot/alloc.h"
#include "earshot/utf8.h"
#include "mock.h"

typedef void handler_fn(struct mock *m, struct mock_req *rq, struct mock_resp *rs);

struct route {
    int method;
    const char *pattern; /* '*' matches one path segment */
    handler_fn *fn;
    const char *name;
    int kind;
};

static handler_fn h_health, h_tw_tweet, h_tw_dm, h_wb_comment, h_wb_reply, h_wb_dm, h_wx_send,
    h_wx_token, h_posted, h_reset, h_published, h_stats, h_faults_post, h_faults_get,
    h_faults_delete;

static const struct route routes[] = {
    {HTTP_GET, "/healthz", h_health, "healthz", MOCK_R_HEALTH},
    {HTTP_GET, "/2/tweets/search/recent", mock_feed_twitter_search, "twitter.v2.search",
     MOCK_R_FEED},
    {HTTP_GET, "/2/users/*/tweets", mock_feed_twitter_user, "twitter.v2.user_tweets", MOCK_R_FEED},
    {HTTP_GET, "/1.1/search/tweets.json", mock_feed_twitter_v1_search, "twitter.v1.search",
     MOCK_R_FEED},
    {HTTP_GET, "/api/container/getIndex", mock_feed_weibo_getindex, "weibo.getIndex", MOCK_R_FEED},
    {HTTP_GET, "/ajax/statuses/mymblog", mock_feed_weibo_mymblog, "weibo.mymblog", MOCK_R_FEED},
    {HTTP_POST, "/cgi-bin/customservice/msgrecord/getmsglist", mock_feed_wechat_msglist,
     "wechat.msgrecord", MOCK_R_FEED},
    {HTTP_GET, "/cgi-bin/token", h_wx_token, "wechat.token", MOCK_R_FEED},
    {HTTP_GET, "/_mock/wechat/push", mock_feed_wechat_push, "wechat.push", MOCK_R_FEED},
    {HTTP_POST, "/2/tweets", h_tw_tweet, "twitter.v2.tweets", MOCK_R_WRITE},
    {HTTP_POST, "/2/dm_conversations/with/*/messages", h_tw_dm, "twitter.v2.dm", MOCK_R_WRITE},
    {HTTP_POST, "/2/comments/create.json", h_wb_comment, "weibo.comments.create", MOCK_R_WRITE},
    {HTTP_POST, "/2/comments/reply.json", h_wb_reply, "weibo.comments.reply", MOCK_R_WRITE},
    {HTTP_POST, "/2/direct_messages/new.json", h_wb_dm, "weibo.direct_messages.new", MOCK_R_WRITE},
    {HTTP_POST, "/cgi-bin/message/custom/send", h_wx_send, "wechat.custom.send", MOCK_R_WRITE},
    {HTTP_GET, "/_mock/posted", h_posted, "mock.posted", MOCK_R_CONTROL},
    {HTTP_POST, "/_mock/reset", h_reset, "mock.reset", MOCK_R_CONTROL},
    {HTTP_GET, "/_mock/published", h_published, "mock.published", MOCK_R_CONTROL},
    {HTTP_GET, "/_mock/stats", h_stats, "mock.stats", MOCK_R_CONTROL},
    {HTTP_POST, "/_mock/faults", h_faults_post, "mock.faults", MOCK_R_CONTROL},
    {HTTP_GET, "/_mock/faults", h_faults_get, "mock.faults", MOCK_R_CONTROL},
    {HTTP_DELETE, "/_mock/faults", h_faults_delete, "mock.faults", MOCK_R_CONTROL},
};
#define NROUTES (sizeof routes / sizeof routes[0])

size_t mock_route_count(void)
{
    return NROUTES;
}

static const char *const fault_names[MOCK_NFAULTS] = {
    "none",      "5xx",          "429",          "stall", "slow",
    "truncated", "invalid_json", "invalid_utf8", "huge",  "wrong_content_type",
    "reset"};

const char *mock_fault_name(int kind)
{
    return kind >= 0 && kind < MOCK_NFAULTS ? fault_names[kind] : "?";
}

int mock_fault_from_name(const char *s)
{
    for (int i = 1; i < MOCK_NFAULTS; i++)
        if (strcmp(s, fault_names[i]) == 0)
            return i;
    if (strcmp(s, "503") == 0)
        return MOCK_FAULT_5XX;
    return -1;
}

/* 1 when path matches pattern; the '*' segment is copied into param. */
static int path_match(const char *pat, const char *path, char *param, size_t pn)
{
    while (*pat && *path) {
        if (*pat == '*') {
            const char *e = path;
            while (*e && *e != '/')
                e++;
            if (e == path)
                return 0;
            mock_url_decode(path, (size_t)(e - path), param, pn);
            path = e;
            pat++;
            continue;
        }
        if (*pat != *path)
            return 0;
        pat++;
        path++;
    }
    return *pat == '\0' && *path == '\0';
}

/* ---- responses in each platform's error shape ---- */

enum { PF_TW, PF_WB, PF_WX };

static int path_platform(const char *path)
{
    if (strncmp(path, "/cgi-bin/", 9) == 0 || strncmp(path, "/_mock/wechat", 13) == 0)
        return PF_WX;
    if (strncmp(path, "/api/container", 14) == 0 || strncmp(path, "/ajax/", 6) == 0 ||
        strncmp(path, "/2/comments/", 12) == 0 || strncmp(path, "/2/direct_messages/", 19) == 0)
        return PF_WB;
    return PF_TW;
}

static void platform_error(struct mock_resp *rs, const char *path, int status, const char *msg,
                           int code)
{
    rs->status = status;
    es_buf_reset(&rs->body);
    switch (path_platform(path)) {
    case PF_WB:
        es_buf_puts(&rs->body, "{\"ok\":0,\"error\":");
        mock_json_str(&rs->body, msg, strlen(msg));
        es_buf_printf(&rs->body, ",\"error_code\":%d,\"request\":", code);
        mock_json_str(&rs->body, path, strlen(path));
        es_buf_putc(&rs->body, '}');
        break;
    case PF_WX:
        es_buf_printf(&rs->body, "{\"errcode\":%d,\"errmsg\":", code);
        mock_json_str(&rs->body, msg, strlen(msg));
        es_buf_putc(&rs->body, '}');
        break;
    default:
        es_buf_puts(&rs->body, "{\"title\":");
        mock_json_str(&rs->body, msg, strlen(msg));
        es_buf_puts(&rs->body, ",\"detail\":");
        mock_json_str(&rs->body, msg, strlen(msg));
        es_buf_printf(&rs->body, ",\"type\":\"about:blank\",\"status\":%d}", status);
        break;
    }
}

/* Twitter's invalid-request shape (400). */
static void tw_invalid(struct mock_resp *rs, const char *msg)
{
    rs->status = 400;
    es_buf_reset(&rs->body);
    es_buf_puts(&rs->body, "{\"errors\":[{\"message\":");
    mock_json_str(&rs->body, msg, strlen(msg));
    es_buf_puts(&rs->body, "}],\"title\":\"Invalid Request\",\"detail\":\"One or more parameters "
                           "to your request was invalid.\",\"type\":"
                           "\"https://api.twitter.com/2/problems/invalid-request\"}");
}

/* ---- faults ---- */

static struct mock_fault_rule *fault_find(struct mock *m, const char *path)
{
    for (struct mock_fault_rule *r = m->faults; r; r = r->next)
        if (r->remaining > 0 && strncmp(path, r->path_prefix, strlen(r->path_prefix)) == 0)
            return r;
    return NULL;
}

static void fault_free(struct mock_fault_rule *r)
{
    es_free(r->path_prefix);
    es_free(r);
}

static void fault_consume(struct mock *m, struct mock_fault_rule *rule, int kind)
{
    m->stats.faults[kind]++;
    m->stats.faults_total++;
    if (!rule || --rule->remaining > 0)
        return;
    for (struct mock_fault_rule **pp = &m->faults; *pp; pp = &(*pp)->next) {
        if (*pp == rule) {
            *pp = rule->next;
            fault_free(rule);
            return;
        }
    }
}

static void fault_response(struct mock *m, struct mock_req *rq, struct mock_resp *rs, int kind,
                           long retry_after_s)
{
    if (kind == MOCK_FAULT_5XX) {
        platform_error(rs, rq->path, 503, "Service Unavailable",
                       path_platform(rq->path) == PF_WX ? -1 : 10001);
    } else if (kind == MOCK_FAULT_429) {
        platform_error(rs, rq->path, 429, "Too Many Requests",
                       path_platform(rq->path) == PF_WX ? 45009 : 10023);
        es_buf_printf(&rs->headers,
                      "Retry-After: %ld\r\nx-rate-limit-limit: 450\r\n"
                      "x-rate-limit-remaining: 0\r\nx-rate-limit-reset: %lld\r\n",
                      retry_after_s, (long long)(rq->now_ms / 1000 + retry_after_s));
    } else {
        rs->status = 200;
        rs->content_type = "text/html; charset=utf-8";
        es_buf_reset(&rs->body);
        es_buf_puts(&rs->body, "<!DOCTYPE html>\n<html><head><title>Service notice</title></head>"
                               "<body><h1>We'll be right back</h1><p>The service is "
                               "temporarily unavailable.</p></body></html>\n");
    }
    (void)m;
}

/* ---- dispatch ---- */

static uint64_t fnv64(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* The body hash behind ETags: eight bytes a step, pages are large. */
static uint64_t body_hash(const char *s, size_t n)
{
    uint64_t h = 0x243f6a8885a308d3ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    return mock_hash64(h ^ w);
}

/* Conditional GET: the ETag is a hash of the body, so "nothing new" gives
 * the same tag and a 304; Last-Modified is the newest post on the page. */
static void conditional(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char tag[40];
    snprintf(tag, sizeof tag, "\"%016llx\"",
             (unsigned long long)body_hash(rs->body.data ? rs->body.data : "", rs->body.len));
    es_buf_printf(&rs->headers, "ETag: %s\r\n", tag);
    char lm[40] = "";
    if (rs->last_modified_ms > 0) {
        mock_fmt_http(rs->last_modified_ms / 1000, lm);
        es_buf_printf(&rs->headers, "Last-Modified: %s\r\n", lm);
    }
    int not_modified = 0;
    if (rq->if_none_match) {
        not_modified =
            strstr(rq->if_none_match, tag) != NULL || strcmp(rq->if_none_match, "*") == 0;
    } else if (rq->if_modified_since) {
        int64_t ims;
        if (mock_parse_http_date(rq->if_modified_since, &ims) == 0)
            not_modified = rs->last_modified_ms == 0 || rs->last_modified_ms / 1000 <= ims;
    }
    if (not_modified) {
        rs->status = 304;
        m->stats.not_modified++;
    }
}

int mock_dispatch(struct mock *m, struct mock_req *rq, struct mock_resp *rs, long *retry_after_s,
                  long *chunk_bytes)
{
    static char param[512];
    m->stats.requests++;
    const struct route *r = NULL;
    int path_known = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!path_match(routes[i].pattern, rq->path, param, sizeof param))
            continue;
        path_known = 1;
        if ((int)routes[i].method == rq->method) {
            r = &routes[i];
            m->route_hits[i]++;
            break;
        }
    }
    if (!r) {
        if (path_known) {
            m->stats.bad_requests++;
            platform_error(rs, rq->path, 405, "Method Not Allowed", 405);
        } else {
            m->stats.not_found++;
            rs->status = 404;
            es_buf_puts(&rs->body, "{\"error\":\"not_found\",\"path\":");
            mock_json_str(&rs->body, rq->path, strlen(rq->path));
            es_buf_putc(&rs->body, '}');
        }
        return MOCK_FAULT_NONE;
    }
    rq->param = param;

    struct mock_fault_rule *rule = NULL;
    int kind = MOCK_FAULT_NONE;
    if (r->kind != MOCK_R_CONTROL) {
        rule = fault_find(m, rq->path);
        if (rule) {
            kind = rule->kind;
            *retry_after_s = rule->retry_after_s;
            *chunk_bytes = rule->chunk_bytes;
        } else if (m->fault_rate > 0 && r->kind != MOCK_R_HEALTH &&
                   mock_rng_unit(&m->fault_rng) < m->fault_rate) {
            int n = 0, pick[MOCK_NFAULTS];
            for (int k = 1; k < MOCK_NFAULTS; k++)
                if (m->fault_kinds_mask & (1u << k))
                    pick[n++] = k;
            if (n) {
                kind = pick[mock_rng_next(&m->fault_rng) % (uint64_t)n];
                *retry_after_s = 1 + (long)(mock_rng_next(&m->fault_rng) % 3);
                *chunk_bytes = 64;
            }
        }
    }
    if (kind == MOCK_FAULT_5XX || kind == MOCK_FAULT_429 || kind == MOCK_FAULT_WRONG_CT) {
        fault_response(m, rq, rs, kind, *retry_after_s);
        fault_consume(m, rule, kind);
        return MOCK_FAULT_NONE;
    }
    if ((kind == MOCK_FAULT_INVALID_UTF8 || kind == MOCK_FAULT_HUGE) && r->kind == MOCK_R_FEED)
        rs->text_fault = kind;
    r->fn(m, rq, rs);
    if (r->kind == MOCK_R_FEED && rs->status == 200 && rq->method == HTTP_GET && !rs->text_applied)
        conditional(m, rq, rs);
    switch (kind) {
    case MOCK_FAULT_NONE:
        return MOCK_FAULT_NONE;
    case MOCK_FAULT_INVALID_UTF8:
    case MOCK_FAULT_HUGE:
        if (rs->text_applied)
            fault_consume(m, rule, kind);
        return MOCK_FAULT_NONE;
    case MOCK_FAULT_INVALID_JSON:
        if (rs->status == 304)
            return MOCK_FAULT_NONE;
        if (rs->body.len > 0)
            rs->body.len--; /* the closing bracket */
        es_buf_puts(&rs->body, ",\"oops\":}");
        fault_consume(m, rule, kind);
        return MOCK_FAULT_NONE;
    default:
        fault_consume(m, rule, kind);
        return kind;
    }
}

/* ---- health ---- */

static void h_health(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    (void)m;
    (void)rq;
    rs->content_type = "text/plain";
    es_buf_puts(&rs->body, "ok");
}

/* ---- recording replies and DMs ---- */

static void idem_insert(struct mock *m, const char *key, size_t idx);

static int idem_grow(struct mock *m)
{
    size_t ncap = m->idem_cap ? m->idem_cap * 2 : 1024;
    size_t *n = es_calloc(ncap, sizeof *n);
    if (!n)
        return -1;
    es_free(m->idem);
    m->idem = n;
    m->idem_cap = ncap;
    for (size_t i = 0; i < m->nposted; i++)
        if (m->posted[i].key)
            idem_insert(m, m->posted[i].key, i);
    return 0;
}

static void idem_insert(struct mock *m, const char *key, size_t idx)
{
    size_t mask = m->idem_cap - 1, h = (size_t)fnv64(key, strlen(key)) & mask;
    while (m->idem[h])
        h = (h + 1) & mask;
    m->idem[h] = idx + 1;
}

static struct mock_posted *idem_find(struct mock *m, const char *key)
{
    if (!m->idem_cap)
        return NULL;
    size_t mask = m->idem_cap - 1, h = (size_t)fnv64(key, strlen(key)) & mask;
    while (m->idem[h]) {
        struct mock_posted *p = &m->posted[m->idem[h] - 1];
        if (p->key && strcmp(p->key, key) == 0)
            return p;
        h = (h + 1) & mask;
    }
    return NULL;
}

/* A repeated Idempotency-Key gets the first answer again. */
static int replay_if_duplicate(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    if (!rq->idem_key)
        return 0;
    struct mock_posted *p = idem_find(m, rq->idem_key);
    if (!p)
        return 0;
    m->stats.duplicates_dropped++;
    rs->status = p->status;
    es_buf_reset(&rs->body);
    es_buf_puts(&rs->body, p->resp_body);
    es_buf_puts(&rs->headers, "Idempotent-Replayed: true\r\n");
    return 1;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? es_strdup(s) : NULL;
}

static void record(struct mock *m, struct mock_req *rq, struct mock_resp *rs, const char *endpoint,
                   const char *in_reply_to, const char *to, const char *text,
                   const char *platform_id)
{
    if (m->nposted >= m->max_posted) {
        m->stats.posted_dropped++;
        return;
    }
    if (m->nposted == m->posted_alloc) {
        size_t na = m->posted_alloc ? m->posted_alloc * 2 : 256;
        struct mock_posted *np = es_realloc(m->posted, na * sizeof *np);
        if (!np)
            return;
        m->posted = np;
        m->posted_alloc = na;
    }
    if (rq->idem_key && (m->nposted + 1) * 2 > m->idem_cap && idem_grow(m) != 0)
        return;
    struct mock_posted *p = &m->posted[m->nposted];
    memset(p, 0, sizeof *p);
    p->seq = ++m->posted_seq;
    p->endpoint = endpoint;
    p->key = dup_or_null(rq->idem_key);
    p->in_reply_to = dup_or_null(in_reply_to);
    p->to = dup_or_null(to);
    p->text = es_strdup(text ? text : "");
    p->platform_id = es_strdup(platform_id);
    p->received_ms = rq->now_ms;
    p->status = rs->status;
    p->resp_body = es_strdup(rs->body.data ? rs->body.data : "");
    if (!p->text || !p->platform_id || !p->resp_body || (rq->idem_key && !p->key)) {
        es_free(p->key);
        es_free(p->in_reply_to);
        es_free(p->to);
        es_free(p->text);
        es_free(p->platform_id);
        es_free(p->resp_body);
        return;
    }
    m->nposted++;
    if (p->key)
        idem_insert(m, p->key, m->nposted - 1);
}

static void posted_clear(struct mock *m)
{
    for (size_t i = 0; i < m->nposted; i++) {
        struct mock_posted *p = &m->posted[i];
        es_free(p->key);
        es_free(p->in_reply_to);
        es_free(p->to);
        es_free(p->text);
        es_free(p->platform_id);
        es_free(p->resp_body);
    }
    m->nposted = 0;
    if (m->idem)
        memset(m->idem, 0, m->idem_cap * sizeof *m->idem);
    m->stats.duplicates_dropped = 0;
    m->stats.posted_dropped = 0;
}

void mock_routes_cleanup(struct mock *m)
{
    posted_clear(m);
    es_free(m->posted);
    m->posted = NULL;
    m->posted_alloc = 0;
    es_free(m->idem);
    m->idem = NULL;
    m->idem_cap = 0;
    while (m->faults) {
        struct mock_fault_rule *r = m->faults;
        m->faults = r->next;
        fault_free(r);
    }
}

/* The author of one of our posts, for the "to" of a public reply. */
static void author_of(struct mock *m, enum mock_platform pf, const char *post_id, char *out,
                      size_t n)
{
    uint64_t id, seq;
    struct mock_post p;
    struct es_buf scratch;
    out[0] = '\0';
    if (!post_id || mock_parse_u64(post_id, &id) != 0)
        return;
    seq = mock_seq_from_id(pf, id);
    es_buf_init(&scratch, 1 << 20);
    if (seq && mock_post_load(m, seq, &p, &scratch) == 0 && p.platform == pf)
        snprintf(out, n, "%s", p.author.id);
    es_buf_cleanup(&scratch);
}

/* Twitter's weighted length: most CJK and emoji count 2, Latin 1. */
static size_t tw_weighted_len(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = es_utf8_decode((const unsigned char *)s + i, n - i, &l);
        i += l;
        w += (cp <= 0x10FF || (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x201F) ||
              (cp >= 0x2032 && cp <= 0x2037))
                 ? 1
                 : 2;
    }
    return w;
}

static json_t *body_json(struct mock_req *rq)
{
    json_error_t err;
    json_t *o = json_loadb(rq->body, rq->body_len, 0, &err);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void h_tw_tweet(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    if (replay_if_duplicate(m, rq, rs))
        return;
    json_t *o = body_json(rq);
    const char *text = jstr(o, "text");
    const char *reply_to = jstr(json_object_get(o, "reply"), "in_reply_to_tweet_id");
    if (!o) {
        tw_invalid(rs, "The request body is not a JSON object");
    } else if (!text || !*text) {
        tw_invalid(rs, "$.text: a Tweet needs text");
    } else if (tw_weighted_len(text, strlen(text)) > 280) {
        platform_error(rs, rq->path, 403, "Your Tweet text is too long.", 186);
    } else {
        char id[24], to[32];
        snprintf(id, sizeof id, "%llu",
                 (unsigned long long)(MOCK_TWITTER_ID_BASE + 100000000000000000ull +
                                      ++m->next_write_id));
        author_of(m, MOCK_TWITTER, reply_to, to, sizeof to);
        rs->status = 201;
        es_buf_printf(&rs->body,
                      "{\"data\":{\"edit_history_tweet_ids\":[\"%s\"],\"id\":\"%s\","
                      "\"text\":",
                      id, id);
        mock_json_str(&rs->body, text, strlen(text));
        es_buf_puts(&rs->body, "}}");
        record(m, rq, rs, "twitter.v2.tweets", reply_to, to, text, id);
    }
    json_decref(o);
}

static void h_tw_dm(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    if (replay_if_duplicate(m, rq, rs))
        return;
    json_t *o = body_json(rq);
    const char *text = jstr(o, "text");
    if (!o || !text || !*text) {
        tw_invalid(rs, "$.text: a message needs text");
    } else if (strlen(text) > 10000) {
        tw_invalid(rs, "$.text: longer than 10000 characters");
    } else {
        char id[24];
        snprintf(id, sizeof id, "%llu",
                 (unsigned long long)(MOCK_TWITTER_ID_BASE + 110000000000000000ull +
                                      ++m->next_write_id));
        rs->status = 201;
        es_buf_puts(&rs->body, "{\"data\":{\"dm_conversation_id\":");
        char conv[600];
        snprintf(conv, sizeof conv, "%s-1500000000000000001", rq->param);
        mock_json_str(&rs->body, conv, strlen(conv));
        es_buf_printf(&rs->body, ",\"dm_event_id\":\"%s\"}}", id);
        record(m, rq, rs, "twitter.v2.dm", NULL, rq->param, text, id);
    }
    json_decref(o);
}

/* Weibo's write endpoints take form bodies; fields may also be in the query. */
static int form_get(struct mock_req *rq, const char *name, char *out, size_t n)
{
    if (mock_query_get(rq->body, rq->body_len, name, out, n))
        return 1;
    return mock_query_get(rq->query, strlen(rq->query), name, out, n);
}

static void wb_comment_obj(struct mock *m, struct mock_req *rq, struct mock_resp *rs,
                           const char *id, const char *status_id, const char *text, const char *cid)
{
    char when[40];
    mock_fmt_twitter(rq->now_ms / 1000, 480, when);
    (void)m;
    es_buf_printf(&rs->body,
                  "{\"created_at\":\"%s\",\"id\":%s,\"idstr\":\"%s\",\"mid\":\"%s\","
                  "\"text\":",
                  when, id, id, id);
    mock_json_str(&rs->body, text, strlen(text));
    es_buf_puts(&rs->body, ",\"source\":\"es-mock-platform\",\"user\":{\"id\":5999999999,"
                           "\"idstr\":\"5999999999\",\"screen_name\":\"品牌官方客服\"},"
                           "\"status\":{\"id\":");
    es_buf_printf(&rs->body, "%s,\"idstr\":\"%s\",\"mid\":\"%s\"}", status_id, status_id,
                  status_id);
    if (cid)
        es_buf_printf(&rs->body, ",\"reply_comment\":{\"id\":%s,\"idstr\":\"%s\"}", cid, cid);
    es_buf_putc(&rs->body, '}');
}

static void wb_comment(struct mock *m, struct mock_req *rq, struct mock_resp *rs, int reply)
{
    if (replay_if_duplicate(m, rq, rs))
        return;
    char id[64], cid[64], text[8192];
    uint64_t v;
    int has_id = form_get(rq, "id", id, sizeof id);
    int has_cid = form_get(rq, "cid", cid, sizeof cid);
    form_get(rq, "comment", text, sizeof text);
    if (!has_id || mock_parse_u64(id, &v) != 0 || (reply && (!has_cid || mock_parse_u64(cid, &v))))
        platform_error(rs, rq->path, 400,
                       reply ? "miss required parameter (id, cid) , see doc for more info."
                             : "miss required parameter (id) , see doc for more info.",
                       10016);
    else if (!*text)
        platform_error(rs, rq->path, 400,
                       "miss required parameter (comment) , see doc for more "
                       "info.",
                       10016);
    else if (!es_utf8_valid(text, strlen(text)))
        platform_error(rs, rq->path, 400, "invalid comment encoding", 10017);
    else if (es_utf8_count(text, strlen(text)) > 140)
        platform_error(rs, rq->path, 400,
                       "text too long, please input text less than 140 "
                       "characters!",
                       20012);
    else {
        char newid[24], to[32];
        snprintf(newid, sizeof newid, "%llu",
                 (unsigned long long)(MOCK_WEIBO_ID_BASE + 90000000000000ull + ++m->next_write_id));
        author_of(m, MOCK_WEIBO, id, to, sizeof to);
        wb_comment_obj(m, rq, rs, newid, id, text, reply ? cid : NULL);
        record(m, rq, rs, reply ? "weibo.comments.reply" : "weibo.comments.create", id, to, text,
               newid);
    }
}

static void h_wb_comment(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    wb_comment(m, rq, rs, 0);
}

static void h_wb_reply(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    wb_comment(m, rq, rs, 1);
}

static void h_wb_dm(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    if (replay_if_duplicate(m, rq, rs))
        return;
    char uid[64], text[8192];
    uint64_t v;
    int has_uid = form_get(rq, "uid", uid, sizeof uid);
    form_get(rq, "text", text, sizeof text);
    if (!has_uid || mock_parse_u64(uid, &v) != 0) {
        platform_error(rs, rq->path, 400, "miss required parameter (uid) , see doc for more info.",
                       10016);
    } else if (!*text || !es_utf8_valid(text, strlen(text))) {
        platform_error(rs, rq->path, 400,
                       "miss required parameter (text) , see doc for more "
                       "info.",
                       10016);
    } else {
        char id[24], when[40];
        snprintf(id, sizeof id, "%llu",
                 (unsigned long long)(MOCK_WEIBO_ID_BASE + 95000000000000ull + ++m->next_write_id));
        mock_fmt_twitter(rq->now_ms / 1000, 480, when);
        es_buf_printf(&rs->body, "{\"id\":%s,\"idstr\":\"%s\",\"created_at\":\"%s\",\"text\":", id,
                      id, when);
        mock_json_str(&rs->body, text, strlen(text));
        es_buf_printf(&rs->body,
                      ",\"sender_id\":5999999999,\"recipient_id\":%s,"
                      "\"sender_screen_name\":\"品牌官方客服\"}",
                      uid);
        record(m, rq, rs, "weibo.direct_messages.new", NULL, uid, text, id);
    }
}

static int wx_token_ok(struct mock_req *rq, struct mock_resp *rs)
{
    char tok[512];
    if (mock_query_get(rq->query, strlen(rq->query), "access_token", tok, sizeof tok) && *tok)
        return 1;
    es_buf_puts(&rs->body, "{\"errcode\":41001,\"errmsg\":\"access_token missing\"}");
    return 0;
}

static void h_wx_send(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    if (replay_if_duplicate(m, rq, rs))
        return;
    if (!wx_token_ok(rq, rs))
        return;
    json_t *o = body_json(rq);
    const char *touser = jstr(o, "touser"), *type = jstr(o, "msgtype");
    const char *content = jstr(json_object_get(o, "text"), "content");
    if (!o)
        es_buf_puts(&rs->body, "{\"errcode\":44002,\"errmsg\":\"empty post data\"}");
    else if (!touser || !*touser)
        es_buf_puts(&rs->body, "{\"errcode\":40003,\"errmsg\":\"invalid openid\"}");
    else if (!type || strcmp(type, "text") != 0)
        es_buf_puts(&rs->body, "{\"errcode\":40008,\"errmsg\":\"invalid message type\"}");
    else if (!content || !*content)
        es_buf_puts(&rs->body, "{\"errcode\":44003,\"errmsg\":\"empty news data\"}");
    else {
        char id[24];
        snprintf(
            id, sizeof id, "%llu",
            (unsigned long long)(MOCK_WECHAT_ID_BASE + 900000000000000ull + ++m->next_write_id));
        es_buf_puts(&rs->body, "{\"errcode\":0,\"errmsg\":\"ok\"}");
        record(m, rq, rs, "wechat.custom.send", NULL, touser, content, id);
    }
    json_decref(o);
}

static void h_wx_token(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    (void)m;
    char appid[128];
    mock_query_get(rq->query, strlen(rq->query), "appid", appid, sizeof appid);
    if (!*appid) {
        es_buf_puts(&rs->body, "{\"errcode\":41002,\"errmsg\":\"appid missing\"}");
        return;
    }
    es_buf_printf(&rs->body, "{\"access_token\":\"MOCK_TOKEN_%016llx\",\"expires_in\":7200}",
                  (unsigned long long)fnv64(appid, strlen(appid)));
}

/* ---- /_mock/ ---- */

static void json_str_or_null(struct es_buf *b, const char *s)
{
    if (s)
        mock_json_str(b, s, strlen(s));
    else
        es_buf_puts(b, "null");
}

static void h_posted(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    (void)rq;
    es_buf_puts(&rs->body, "{\"posted\":[");
    for (size_t i = 0; i < m->nposted; i++) {
        const struct mock_posted *p = &m->posted[i];
        es_buf_printf(&rs->body, "%s{\"seq\":%llu,\"endpoint\":\"%s\",\"key\":", i ? "," : "",
                      (unsigned long long)p->seq, p->endpoint);
        json_str_or_null(&rs->body, p->key);
        es_buf_puts(&rs->body, ",\"in_reply_to\":");
        json_str_or_null(&rs->body, p->in_reply_to);
        es_buf_puts(&rs->body, ",\"to\":");
        json_str_or_null(&rs->body, p->to);
        es_buf_puts(&rs->body, ",\"text\":");
        json_str_or_null(&rs->body, p->text);
        es_buf_puts(&rs->body, ",\"platform_id\":");
        json_str_or_null(&rs->body, p->platform_id);
        es_buf_printf(&rs->body, ",\"received_ms\":%lld}", (long long)p->received_ms);
    }
    es_buf_printf(&rs->body, "],\"duplicates_dropped\":%llu,\"dropped_over_cap\":%llu}",
                  (unsigned long long)m->stats.duplicates_dropped,
                  (unsigned long long)m->stats.posted_dropped);
}

static void h_reset(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    (void)rq;
    posted_clear(m);
    es_buf_puts(&rs->body, "{\"ok\":true}");
}

static const char *const pf_names[MOCK_NPLATFORMS] = {"twitter", "weibo", "wechat"};

static void h_published(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    char v[32];
    uint64_t since = 0, limit = 1000;
    size_t ql = strlen(rq->query);
    if (mock_query_get(rq->query, ql, "since_seq", v, sizeof v) && mock_parse_u64(v, &since)) {
        platform_error(rs, rq->path, 400, "since_seq: not a number", 400);
        return;
    }
    if (mock_query_get(rq->query, ql, "limit", v, sizeof v) &&
        (mock_parse_u64(v, &limit) || limit == 0)) {
        platform_error(rs, rq->path, 400, "limit: not a positive number", 400);
        return;
    }
    if (limit > 100000)
        limit = 100000;
    uint64_t from = since + 1, oldest = mock_oldest_seq(m);
    if (from < oldest)
        from = oldest;
    es_buf_putc(&rs->body, '[');
    for (uint64_t s = from, n = 0; s <= m->head && n < limit; s++, n++) {
        const struct mock_slot *sl = mock_slot_get(m, s);
        es_buf_printf(&rs->body,
                      "%s{\"seq\":%llu,\"id\":\"%llu\",\"platform\":\"%s\","
                      "\"published_ms\":%lld}",
                      n ? "," : "", (unsigned long long)s,
                      (unsigned long long)mock_post_id_num(sl->platform, s), pf_names[sl->platform],
                      (long long)sl->published_ms);
    }
    es_buf_putc(&rs->body, ']');
}

static void h_stats(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    (void)rq;
    struct es_buf *b = &rs->body;
    es_buf_printf(b, "{\"requests\":%llu,\"endpoints\":{", (unsigned long long)m->stats.requests);
    int first = 1;
    for (size_t i = 0; i < NROUTES; i++) {
        uint64_t n = m->route_hits[i];
        /* the three /_mock/faults methods share a name: add them up */
        if (i > 0 && strcmp(routes[i].name, routes[i - 1].name) == 0)
            continue;
        for (size_t j = i + 1; j < NROUTES && strcmp(routes[j].name, routes[i].name) == 0; j++)
            n += m->route_hits[j];
        es_buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", routes[i].name, (unsigned long long)n);
        first = 0;
    }
    es_buf_printf(b,
                  "},\"not_found\":%llu,\"bad_requests\":%llu,\"not_modified\":%llu,"
                  "\"posts_generated\":%llu,\"head_seq\":%llu,\"oldest_seq\":%llu,"
                  "\"faults_injected\":%llu,\"faults\":{",
                  (unsigned long long)m->stats.not_found, (unsigned long long)m->stats.bad_requests,
                  (unsigned long long)m->stats.not_modified,
                  (unsigned long long)m->stats.posts_generated, (unsigned long long)m->head,
                  (unsigned long long)(m->head ? mock_oldest_seq(m) : 0),
                  (unsigned long long)m->stats.faults_total);
    for (int k = 1; k < MOCK_NFAULTS; k++)
        es_buf_printf(b, "%s\"%s\":%llu", k > 1 ? "," : "", fault_names[k],
                      (unsigned long long)m->stats.faults[k]);
    es_buf_printf(b,
                  "},\"connections\":{\"open\":%llu,\"total\":%llu},\"posted\":%zu,"
                  "\"duplicates_dropped\":%llu,\"posted_dropped\":%llu}",
                  (unsigned long long)m->nconns, (unsigned long long)m->stats.conns_total,
                  m->nposted, (unsigned long long)m->stats.duplicates_dropped,
                  (unsigned long long)m->stats.posted_dropped);
}

static int fault_add(struct mock *m, const json_t *o, char *err, size_t en)
{
    if (!json_is_object(o)) {
        snprintf(err, en, "a fault is a JSON object");
        return -1;
    }
    const char *kind = jstr(o, "kind"), *prefix = jstr(o, "path_prefix");
    const json_t *count = json_object_get(o, "count"), *ra = json_object_get(o, "retry_after_s");
    const json_t *cb = json_object_get(o, "chunk_bytes");
    int k = kind ? mock_fault_from_name(kind) : -1;
    if (k < 0) {
        snprintf(err, en,
                 "kind: one of 5xx, 429, stall, slow, truncated, invalid_json, "
                 "invalid_utf8, huge, wrong_content_type, reset");
        return -1;
    }
    if ((count && (!json_is_integer(count) || json_integer_value(count) < 1)) ||
        (ra && (!json_is_integer(ra) || json_integer_value(ra) < 0)) ||
        (cb && (!json_is_integer(cb) || json_integer_value(cb) < 1))) {
        snprintf(err, en, "count and chunk_bytes must be integers >= 1, retry_after_s >= 0");
        return -1;
    }
    struct mock_fault_rule *r = es_calloc(1, sizeof *r);
    if (!r || !(r->path_prefix = es_strdup(prefix ? prefix : "/"))) {
        es_free(r);
        snprintf(err, en, "out of memory");
        return -1;
    }
    r->kind = k;
    r->remaining = count ? (long)json_integer_value(count) : 1;
    r->retry_after_s = ra ? (long)json_integer_value(ra) : 1;
    r->chunk_bytes = cb ? (long)json_integer_value(cb) : 64;
    /* Append: rules fire in the order they were queued. */
    struct mock_fault_rule **pp = &m->faults;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
    return 0;
}

static void h_faults_get(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    (void)rq;
    es_buf_puts(&rs->body, "{\"faults\":[");
    for (struct mock_fault_rule *r = m->faults; r; r = r->next) {
        es_buf_printf(&rs->body, "%s{\"path_prefix\":", r == m->faults ? "" : ",");
        mock_json_str(&rs->body, r->path_prefix, strlen(r->path_prefix));
        es_buf_printf(&rs->body,
                      ",\"kind\":\"%s\",\"count\":%ld,\"retry_after_s\":%ld,"
                      "\"chunk_bytes\":%ld}",
                      fault_names[r->kind], r->remaining, r->retry_after_s, r->chunk_bytes);
    }
    es_buf_puts(&rs->body, "]}");
}

static void h_faults_delete(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    (void)rq;
    size_t n = 0;
    while (m->faults) {
        struct mock_fault_rule *r = m->faults;
        m->faults = r->next;
        fault_free(r);
        n++;
    }
    es_buf_printf(&rs->body, "{\"cleared\":%zu}", n);
}

static void h_faults_post(struct mock *m, struct mock_req *rq, struct mock_resp *rs)
{
    json_error_t jerr;
    json_t *o = json_loadb(rq->body, rq->body_len, 0, &jerr);
    char err[256] = "";
    size_t n = 0;
    if (!o) {
        snprintf(err, sizeof err, "body: %s", jerr.text);
    } else if (json_is_object(o) && json_is_true(json_object_get(o, "clear"))) {
        json_decref(o);
        h_faults_delete(m, rq, rs);
        return;
    } else if (json_is_array(o)) {
        for (size_t i = 0; i < json_array_size(o) && !*err; i++)
            if (fault_add(m, json_array_get(o, i), err, sizeof err) == 0)
                n++;
    } else if (fault_add(m, o, err, sizeof err) == 0) {
        n++;
    }
    json_decref(o);
    if (*err) {
        rs->status = 400;
        es_buf_puts(&rs->body, "{\"error\":");
        mock_json_str(&rs->body, err, strlen(err));
        es_buf_printf(&rs->body, ",\"queued\":%zu}", n);
        return;
    }
    es_buf_printf(&rs->body, "{\"queued\":%zu}", n);
}
