/*
 * crawl: the listening side. One libuv loop polls many sources over the
 * libcurl multi socket API (no thread per request, no curl_easy_perform).
 *
 *   per source:  timer (interval + jitter) ──> request (cursor, ETag, auth)
 *                  ^                              │  2xx: page -> es_page_cb
 *                  │                              │  304: nothing new
 *                  │                              │  429: wait Retry-After
 *                  │                              │  5xx / network / bad body:
 *                  │                              │      exponential backoff (capped)
 *                  └──── done(next cursor) <──────┘  (the consumer stored the posts)
 *
 * At most one request per source is in flight. A page is handed to the
 * consumer (the pipeline) with a completion; the source's cursor moves, and
 * is persisted, only when the consumer says the page's posts are stored: a
 * crash re-fetches, never skips (dedup absorbs the repeat).
 */
#ifndef ES_CRAWL_H
#define ES_CRAWL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "earshot/err.h"
#include "earshot/feed.h"

/* One configured source. */
struct es_source {
    char *id;               /* unique, [A-Za-z0-9_.-]+ */
    enum es_format format;  /* ES_FORMAT_TWITTER_V2, _TWITTER_V1, _WEIBO or _WECHAT_JSON */
    char *base_url;         /* e.g. https://api.twitter.com or http://127.0.0.1:8080 */
    char *query;            /* search query in the platform's syntax; NULL: none */
    char *user_id;          /* user timeline instead of search (v2 /2/users/:id/tweets) */
    char *auth_env;         /* environment variable with the bearer / access token */
    int64_t interval_ms;    /* poll interval */
    int64_t jitter_ms;      /* uniform random 0..jitter added to each interval */
    bool has_geo;           /* geo query: point + radius */
    double lat, lon, radius_km;
    char *brand;            /* optional brand hint for posts of this source */
};

/* es_source_free_fields frees the strings of s (not s itself). */
void es_source_free_fields(struct es_source *s);

/* A source's health, for logs and metrics. */
struct es_source_health {
    int64_t last_ok_ms, last_error_ms;
    char last_error[256];
    int64_t lag_ms;            /* now - newest post's created_at at the last page */
    uint64_t pages, posts, not_modified, errors, rate_limited;
    int consecutive_errors;
    int64_t next_poll_ms;
};

struct es_crawler;

/*
 * es_page_cb: a fetched page (body borrowed until done is called). The
 * consumer parses it once with es_feed_parse_page, stores its posts, and
 * calls done(done_ud, status, meta) with the page's meta (newest id, next
 * page token): status 0 lets the crawler follow the next page or move and
 * persist the source's cursor; a negative status keeps the old cursor and
 * backs off. done may be called from any thread, exactly once.
 */
typedef void es_page_done_fn(void *done_ud, int status, const struct es_page_meta *meta);
typedef void es_page_cb(void *ud, const struct es_source *src, const char *body, size_t len,
                        int64_t fetched_ms, es_page_done_fn *done, void *done_ud);

/* Where cursors live: loaded once at start, saved after each page (the store's async client
 * in the daemon; a test may keep them in memory). load returns a malloc'ed string or NULL. */
struct es_cursor_store {
    char *(*load)(void *ud, const char *source_id);
    void (*save)(void *ud, const char *source_id, const char *cursor);
    void *ud;
};

struct es_crawl_opts {
    int64_t connect_timeout_ms;   /* 0 = 5000 */
    int64_t total_timeout_ms;     /* 0 = 30000 */
    int64_t low_speed_bytes;      /* abort when below this many bytes/s ... (0 = 100) */
    int64_t low_speed_s;          /* ... for this long (0 = 10) */
    size_t max_body;              /* 0 = 16 MiB */
    int64_t backoff_max_ms;       /* 0 = 300000 */
    int max_connections;          /* total; 0 = 256 */
    int64_t backoff_base_ms;      /* first backoff step, doubled per consecutive error; 0 = 1000 */
    int max_backfill_pages;       /* pages followed in one chain when the source has no cursor
                                     yet (older history is left alone, with a warning), and
                                     WeChat pages per poll; 0 = 50 */
    int64_t retry_after_max_ms;   /* cap on a 429's Retry-After; 0 = 3600000 */
};

/*
 * es_crawler_start registers the sources on the loop and starts polling. The
 * sources are copied. 0, ES_EINVAL (a bad source: d says which), ES_ENOMEM.
 */
int es_crawler_start(uv_loop_t *loop, const struct es_source *sources, size_t n,
                     const struct es_crawl_opts *o, const struct es_cursor_store *cursors,
                     es_page_cb *on_page, void *ud, struct es_crawler **out, struct es_diag *d);
/* es_crawler_health: the health of source i (0..n-1), or NULL. */
const struct es_source_health *es_crawler_health(const struct es_crawler *c, size_t i);
/* es_crawler_stop: no new requests; in-flight ones are finished (drained) or, after
 * grace_ms, aborted; then every handle is closed and c freed by the loop. A page already
 * handed to the consumer is waited for (its done must still be called); a page fetched
 * while draining is still handed over, but no further page of its chain is fetched.
 * Call it once; c must not be used after it returns. */
void es_crawler_stop(struct es_crawler *c, int64_t grace_ms);

#endif
