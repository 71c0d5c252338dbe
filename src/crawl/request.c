/*
 * request: source validation and the request for one page, per platform
 * shape. Cursors and tokens go where each platform wants them:
 *
 *   twitter-v2  GET {base}/2/tweets/search/recent?query=Q[ point_radius:[lon lat Nkm]]
 *                   &max_results=100&since_id=CURSOR[&next_token=TOKEN] (+ fields)
 *               GET {base}/2/users/:id/tweets?...&since_id=CURSOR[&pagination_token=TOKEN]
 *   twitter-v1  GET {base}/1.1/search/tweets.json?q=Q&count=100&since_id=CURSOR
 *                   &tweet_mode=extended[&geocode=lat,lon,Nkm][&max_id=TOKEN]
 *   weibo       GET {base}/api/container/getIndex?containerid=C[&since_id=TOKEN]
 *                   (the cursor is not sent: m.weibo.cn's since_id goes to OLDER pages)
 *   wechat      POST {base}/cgi-bin/customservice/msgrecord/getmsglist?access_token=T
 *                   {"starttime","endtime","msgid":TOKEN|CURSOR|1,"number":100}
 *
 * Twitter authenticates with "Authorization: Bearer $auth_env", Weibo and
 * WeChat with an access_token parameter. The token is read from the
 * environment per request (rotation needs no restart) and never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl/crawl_int.h"
#include "earshot/alloc.h"

#define URL_MAX (64u << 10)
#define BODY_MAX (4u << 10)

static const char *skip_zeros(const char *s)
{
    while (s[0] == '0' && s[1])
        s++;
    return s;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}


/* Percent-encoding of a query value: RFC 3986 unreserved characters stay. */
static int esc(struct es_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            rc = es_buf_putc(b, (char)ch);
        } else {
            char t[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = es_buf_append(b, t, 3);
        }
    }
    return rc;
}

static int param(struct es_buf *b, const char *name, const char *value)
{
    int rc = es_buf_putc(b, strchr(b->data ? b->data : "", '?') ? '&' : '?');
    if (rc == 0)
        rc = es_buf_puts(b, name);
    if (rc == 0)
        rc = es_buf_putc(b, '=');
    if (rc == 0)
        rc = esc(b, value);
    return rc;
}

/* The base URL without a trailing slash. */
static int base(struct es_buf *b, const char *url, const char *path)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    int rc = es_buf_append(b, url, n);
    return rc ? rc : es_buf_puts(b, path);
}

static const char V2_FIELDS[][2][160] = {
    {"tweet.fields", "attachments,author_id,conversation_id,created_at,entities,geo,id,"
                     "in_reply_to_user_id,lang,note_tweet,public_metrics,referenced_tweets,text"},
    {"expansions", "author_id,geo.place_id,referenced_tweets.id,in_reply_to_user_id,"
                   "entities.mentions.username"},
    {"user.fields", "created_at,id,location,name,public_metrics,username,verified"},
    {"place.fields", "contained_within,country,country_code,full_name,geo,id,name,place_type"},
};

static int twitter_v2(struct es__crawl_req *r, const struct es_source *s, const char *cursor,
                      const char *token)
{
    struct es_buf *u = &r->url;
    int rc;
    if (s->user_id) {
        rc = base(u, s->base_url, "/2/users/");
        if (rc == 0)
            rc = esc(u, s->user_id);
        if (rc == 0)
            rc = es_buf_puts(u, "/tweets");
    } else {
        rc = base(u, s->base_url, "/2/tweets/search/recent");
        struct es_buf q;
        es_buf_init(&q, URL_MAX);
        if (rc == 0 && s->query)
            rc = es_buf_puts(&q, s->query);
        if (rc == 0 && s->has_geo)
            rc = es_buf_printf(&q, "%spoint_radius:[%.6f %.6f %.3gkm]", q.len ? " " : "", s->lon,
                               s->lat, s->radius_km);
        if (rc == 0)
            rc = param(u, "query", q.data ? q.data : "");
        es_buf_cleanup(&q);
    }
    if (rc == 0)
        rc = param(u, "max_results", "100");
    for (size_t i = 0; rc == 0 && i < sizeof V2_FIELDS / sizeof V2_FIELDS[0]; i++)
        rc = param(u, V2_FIELDS[i][0], V2_FIELDS[i][1]);
    if (rc == 0 && cursor[0])
        rc = param(u, "since_id", cursor);
    if (rc == 0 && token[0])
        rc = param(u, s->user_id ? "pagination_token" : "next_token", token);
    return rc;
}

static int twitter_v1(struct es__crawl_req *r, const struct es_source *s, const char *cursor,
                      const char *token)
{
    struct es_buf *u = &r->url;
    int rc = base(u, s->base_url, "/1.1/search/tweets.json");
    if (rc == 0)
        rc = param(u, "q", s->query ? s->query : "");
    if (rc == 0)
        rc = param(u, "count", "100");
    if (rc == 0 && cursor[0])
        rc = param(u, "since_id", cursor);
    if (rc == 0)
        rc = param(u, "tweet_mode", "extended");
    if (rc == 0 && s->has_geo) {
        char g[96];
        snprintf(g, sizeof g, "%.6f,%.6f,%.3gkm", s->lat, s->lon, s->radius_km);
        rc = param(u, "geocode", g);
    }
    if (rc == 0 && token[0])
        rc = param(u, "max_id", token);
    return rc;
}

static int weibo(struct es__crawl_req *r, const struct es_source *s, const char *token,
                 const char *auth)
{
    struct es_buf *u = &r->url, cid;
    int rc = base(u, s->base_url, "/api/container/getIndex");
    es_buf_init(&cid, URL_MAX);
    if (s->user_id)
        rc = rc ? rc : es_buf_printf(&cid, "107603%s", s->user_id);
    else if (s->query && s->query[0] >= '0' && s->query[0] <= '9')
        rc = rc ? rc : es_buf_puts(&cid, s->query); /* a containerid as is */
    else if (s->query)
        rc = rc ? rc : es_buf_printf(&cid, "100103type=1&q=%s", s->query);
    if (rc == 0 && cid.len)
        rc = param(u, "containerid", cid.data);
    es_buf_cleanup(&cid);
    if (rc == 0 && token[0])
        rc = param(u, "since_id", token);
    if (rc == 0 && auth)
        rc = param(u, "access_token", auth);
    return rc;
}

static int wechat(struct es__crawl_req *r, const struct es_source *s, const char *cursor,
                  const char *token, const char *auth, int64_t now_s)
{
    struct es_buf *u = &r->url;
    int rc = base(u, s->base_url, "/cgi-bin/customservice/msgrecord/getmsglist");
    if (rc == 0)
        rc = param(u, "access_token", auth ? auth : "");
    const char *from = token[0] ? token : cursor[0] ? cursor : "1";
    if (!all_digits(from))
        from = "1";
    /* The platform serves at most 24 hours per call. */
    if (rc == 0)
        rc = es_buf_printf(&r->body, "{\"starttime\":%lld,\"endtime\":%lld,\"msgid\":%s,"
                                     "\"number\":%d}",
                           (long long)(now_s - 86400 + 1), (long long)now_s, skip_zeros(from),
                           ES__CRAWL_PAGE);
    if (rc == 0) {
        struct curl_slist *h = curl_slist_append(r->headers, "Content-Type: application/json");
        if (!h)
            return ES_ENOMEM;
        r->headers = h;
    }
    return rc;
}

int es__crawl_build(struct es__crawl_req *r, const struct es_source *s, const char *cursor,
                    const char *token, int64_t now_s)
{
    es_buf_init(&r->url, URL_MAX);
    es_buf_init(&r->body, BODY_MAX);
    r->headers = NULL;
    cursor = cursor ? cursor : "";
    token = token ? token : "";
    const char *auth = s->auth_env ? getenv(s->auth_env) : NULL;
    if (s->auth_env && (!auth || !auth[0]))
        return ES_EINVAL;
    int rc;
    switch (s->format) {
    case ES_FORMAT_TWITTER_V2:
    case ES_FORMAT_TWITTER_V1:
        rc = s->format == ES_FORMAT_TWITTER_V2 ? twitter_v2(r, s, cursor, token)
                                               : twitter_v1(r, s, cursor, token);
        if (rc == 0 && auth) {
            struct es_buf h;
            es_buf_init(&h, 8 << 10);
            rc = es_buf_printf(&h, "Authorization: Bearer %s", auth);
            struct curl_slist *l = rc == 0 ? curl_slist_append(r->headers, h.data) : NULL;
            if (rc == 0 && !l)
                rc = ES_ENOMEM;
            if (l)
                r->headers = l;
            if (h.data)
                memset(h.data, 0, h.len); /* the token does not linger in freed memory */
            es_buf_cleanup(&h);
        }
        break;
    case ES_FORMAT_WEIBO:
        rc = weibo(r, s, token, auth);
        break;
    case ES_FORMAT_WECHAT_JSON:
        rc = wechat(r, s, cursor, token, auth, now_s);
        break;
    default:
        rc = ES_EINVAL;
    }
    if (rc == 0) {
        struct curl_slist *l = curl_slist_append(r->headers, "Accept: application/json");
        if (!l)
            rc = ES_ENOMEM;
        else
            r->headers = l;
    }
    return rc;
}

void es__crawl_req_cleanup(struct es__crawl_req *r)
{
    if (r->url.data)
        memset(r->url.data, 0, r->url.len);
    es_buf_cleanup(&r->url);
    es_buf_cleanup(&r->body);
    curl_slist_free_all(r->headers);
    r->headers = NULL;
}

int es__crawl_check(const struct es_source *s, struct es_diag *d)
{
    const char *id = s->id ? s->id : "(no id)";
    if (!s->id || !s->id[0] || strspn(s->id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                              "0123456789_.-") != strlen(s->id)) {
        es_diag_set(d, id, 0, 0, "source id: must be [A-Za-z0-9_.-]+");
        return ES_EINVAL;
    }
    if (s->format != ES_FORMAT_TWITTER_V2 && s->format != ES_FORMAT_TWITTER_V1 &&
        s->format != ES_FORMAT_WEIBO && s->format != ES_FORMAT_WECHAT_JSON) {
        es_diag_set(d, id, 0, 0, "format: %s is not a polled shape "
                    "(twitter-v2, twitter-v1, weibo, wechat-json)", es_format_name(s->format));
        return ES_EINVAL;
    }
    if (!s->base_url ||
        (strncmp(s->base_url, "http://", 7) != 0 && strncmp(s->base_url, "https://", 8) != 0)) {
        es_diag_set(d, id, 0, 0, "base_url: must start with http:// or https://");
        return ES_EINVAL;
    }
    if (s->interval_ms <= 0 || s->jitter_ms < 0) {
        es_diag_set(d, id, 0, 0, "interval_ms must be > 0 and jitter_ms >= 0");
        return ES_EINVAL;
    }
    if (s->has_geo && (s->lat < -90 || s->lat > 90 || s->lon < -180 || s->lon > 180 ||
                       !(s->radius_km > 0))) {
        es_diag_set(d, id, 0, 0, "geo: lat in [-90, 90], lon in [-180, 180], radius_km > 0");
        return ES_EINVAL;
    }
    if (s->format == ES_FORMAT_TWITTER_V2 && !s->query && !s->user_id && !s->has_geo) {
        es_diag_set(d, id, 0, 0, "twitter-v2: query, user_id or geo is required");
        return ES_EINVAL;
    }
    if (s->format == ES_FORMAT_TWITTER_V1 && !s->query && !s->has_geo) {
        es_diag_set(d, id, 0, 0, "twitter-v1: query or geo is required");
        return ES_EINVAL;
    }
    if (s->format == ES_FORMAT_WECHAT_JSON && !s->auth_env) {
        es_diag_set(d, id, 0, 0, "wechat-json: auth_env (the access_token variable) is required");
        return ES_EINVAL;
    }
    if (s->auth_env && (!getenv(s->auth_env) || !getenv(s->auth_env)[0])) {
        es_diag_set(d, id, 0, 0, "auth_env: environment variable %s is not set", s->auth_env);
        return ES_EINVAL;
    }
    return 0;
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = es_strdup(src);
    return *dst ? 0 : ES_ENOMEM;
}

int es__crawl_copy(struct es_source *d, const struct es_source *s)
{
    *d = *s;
    int rc = dup_str(&d->id, s->id);
    rc |= dup_str(&d->base_url, s->base_url);
    rc |= dup_str(&d->query, s->query);
    rc |= dup_str(&d->user_id, s->user_id);
    rc |= dup_str(&d->auth_env, s->auth_env);
    rc |= dup_str(&d->brand, s->brand);
    if (rc) {
        es_source_free_fields(d);
        return ES_ENOMEM;
    }
    return 0;
}

void es_source_free_fields(struct es_source *s)
{
    if (!s)
        return;
    es_free(s->id);
    es_free(s->base_url);
    es_free(s->query);
    es_free(s->user_id);
    es_free(s->auth_env);
    es_free(s->brand);
    s->id = s->base_url = s->query = s->user_id = s->auth_env = s->brand = NULL;
}
