/*
 * crawl: the poller. One CURLM on the caller's uv loop (curl's multi_socket
 * API driven by uv_poll_t per socket and one uv_timer_t), one uv_timer_t per
 * source, one uv_async_t that brings the consumer's completions back onto the
 * loop from whatever thread called done.
 *
 * A source's life (at most one request in flight, never two):
 *
 *        timer ──> poll request (page 1; cursor; If-None-Match when the URL
 *          ^         │                        is the one the ETag came from)
 *          │         ├─ 304 ──────────────────────────────> schedule(interval)
 *          │         ├─ 429 ──────────────────────────────> schedule(Retry-After)
 *          │         ├─ 5xx, 4xx, network, over max_body,
 *          │         │  not JSON ───────────────────────────> schedule(backoff)
 *          │         └─ 2xx ─> on_page ... done(status, meta)   (any thread)
 *          │                          │ uv_async
 *          │                          v
 *          │              status < 0 ─────────────────────> schedule(backoff),
 *          │                                                 the same page again
 *          │              meta.next_token and the chain goes on:
 *          │                 request the next (older) page at once
 *          │              else the chain ends: cursor = newest id of the chain's
 *          └───────────── FIRST page, saved; its ETag kept; schedule(interval)
 *
 * Why the cursor moves only at the chain's end: Twitter's next_token and
 * Weibo's since_id walk from the newest post down; until the walk reaches
 * the old cursor, posts between the old cursor and the page last read are
 * not yet delivered. A crash in the middle re-fetches the chain (dedup
 * absorbs it) and never skips. WeChat pages forward (oldest first), so its
 * cursor (msgid) moves after every page.
 *
 * Weibo's since_id is the OLDER-page cursor: the poll reads page 1 and follows
 * older pages only while the next page still starts above the stored newest
 * id; the cursor is the newest id seen.
 *
 * Memory: the crawler owns the sources' copies, a struct fetch per request
 * (easy handle, capped body; the body is lent to the consumer until done);
 * curl's sockets and timer are the curl driver's (earshot/curluv.h). Handles
 * are counted; the crawler frees itself in the close callback of the last
 * one after es_crawler_stop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <uv.h>

#include "crawl/crawl_int.h"
#include "earshot/alloc.h"
#include "earshot/curluv.h"
#include "earshot/log.h"

#define MOD "crawl"

struct fetch;

struct src {
    struct es_crawler *c;
    size_t idx;
    struct es_source s;
    uv_timer_t timer;
    struct es_source_health h;
    char cursor[256];      /* persisted: newest id (Twitter, Weibo), next msgid (WeChat) */
    /* the chain being walked */
    char token[256];       /* the next page's token; "" = the poll (first page) */
    char chain_newest[64]; /* newest id of the chain's first page */
    int chain_pages;
    /* conditional requests: committed when a chain completes */
    char *etag, *last_modified, *cond_url;
    char *p_etag, *p_last_modified, *p_url; /* from this chain's first page */
    struct fetch *f;       /* in flight or with the consumer; NULL when idle */
    struct src *wnext;     /* in c's admission queue */
    int waiting;
};

struct fetch {
    struct src *s;
    CURL *easy;
    struct es__crawl_req req;
    struct es_buf body;
    char errbuf[CURL_ERROR_SIZE];
    int over_cap;
    int first;             /* the chain's first page (a poll) */
    int64_t started_ms;
    /* filled by done (any thread), read on the loop after the async hop */
    int done_status;
    int has_meta;
    struct es_page_meta meta;
    struct fetch *qnext;
};

struct es_crawler {
    uv_loop_t *loop;
    struct es_curluv *cu;
    CURLM *multi;    /* cu's; NULL once closing */
    uv_timer_t grace_timer;
    uv_async_t async;
    uv_mutex_t lock; /* the completion queue */
    struct fetch *q_head, *q_tail;
    struct src *srcs;
    size_t n;
    struct es_crawl_opts o;
    struct es_cursor_store store;
    es_page_cb *on_page;
    void *ud;
    uint64_t rng;
    size_t n_http, n_pages; /* requests in the multi; pages with the consumer */
    struct src *w_head, *w_tail; /* sources due while max_connections requests were in flight */
    size_t handles;         /* open uv handles: the crawler is freed when this reaches 0 */
    int stopping, closing;
};

static uv_once_t curl_once = UV_ONCE_INIT;
static int curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rnd(struct es_crawler *c, uint64_t below)
{
    /* xorshift64*: jitter only, not security */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    uint64_t r = c->rng * 2685821657736338717ull;
    return below ? r % below : 0;
}

static void set_str(char **dst, const char *v)
{
    es_free(*dst);
    *dst = v ? es_strdup(v) : NULL; /* NULL on ENOMEM too: no conditional request then */
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* ---- handles ---- */

static void free_crawler(struct es_crawler *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct src *s = &c->srcs[i];
        es_source_free_fields(&s->s);
        es_free(s->etag);
        es_free(s->last_modified);
        es_free(s->cond_url);
        es_free(s->p_etag);
        es_free(s->p_last_modified);
        es_free(s->p_url);
    }
    uv_mutex_destroy(&c->lock);
    es_free(c->srcs);
    es_free(c);
}

static void handle_gone(struct es_crawler *c)
{
    c->handles--;
    if (c->closing && c->handles == 0)
        free_crawler(c);
}

static void on_own_closed(uv_handle_t *h)
{
    handle_gone(h->data);
}

static void on_src_timer_closed(uv_handle_t *h)
{
    struct src *s = h->data;
    handle_gone(s->c);
}

/* ---- logging and health ---- */

static void slog(struct src *s, enum es_log_level l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void slog(struct src *s, enum es_log_level l, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    es_log(l, MOD, "source=%s %s", s->s.id, msg);
}

/* ---- scheduling ---- */

static void on_src_timer(uv_timer_t *t);

static void schedule(struct src *s, int64_t delay_ms)
{
    if (s->c->stopping)
        return;
    if (delay_ms < 0)
        delay_ms = 0;
    s->h.next_poll_ms = wall_ms() + delay_ms;
    uv_timer_start(&s->timer, on_src_timer, (uint64_t)delay_ms, 0);
}

static int64_t interval(struct src *s)
{
    return s->s.interval_ms + (int64_t)rnd(s->c, (uint64_t)s->s.jitter_ms + 1);
}

static int64_t backoff(struct src *s)
{
    struct es_crawler *c = s->c;
    int e = s->h.consecutive_errors > 0 ? s->h.consecutive_errors - 1 : 0;
    int64_t d = c->o.backoff_base_ms;
    while (e-- > 0 && d < c->o.backoff_max_ms)
        d *= 2;
    if (d > c->o.backoff_max_ms)
        d = c->o.backoff_max_ms;
    /* "equal jitter": half fixed, half random, so sources that failed together spread out */
    return d / 2 + (int64_t)rnd(c, (uint64_t)(d - d / 2) + 1);
}

/*
 * fail: one error of kind (http, network, body, consumer, request) on the
 * source: counted, logged, and the same page tried again after the backoff
 * (or after retry_after_ms when the platform said when, >= 0).
 */
static void fail(struct src *s, const char *kind, int64_t retry_after_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct src *s, const char *kind, int64_t retry_after_ms, const char *fmt, ...)
{
    char detail[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    s->h.last_error_ms = wall_ms();
    snprintf(s->h.last_error, sizeof s->h.last_error, "%s: %s", kind, detail);
    int64_t delay;
    if (retry_after_ms >= 0) {
        s->h.rate_limited++;
        delay = retry_after_ms;
    } else {
        s->h.errors++;
        s->h.consecutive_errors++;
        delay = backoff(s);
    }
    slog(s, ES_LOG_WARN,
         "event=%s kind=%s detail=\"%s\" page=%d consecutive_errors=%d retry_in_ms=%lld",
         retry_after_ms >= 0 ? "rate_limited" : "error", kind, detail, s->chain_pages + 1,
         s->h.consecutive_errors, (long long)delay);
    schedule(s, delay);
}

static void ok(struct src *s)
{
    if (s->h.consecutive_errors > 0)
        slog(s, ES_LOG_INFO, "event=recovered after_errors=%d", s->h.consecutive_errors);
    s->h.consecutive_errors = 0;
    s->h.last_ok_ms = wall_ms();
}

/* ---- requests ---- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct fetch *f = ud;
    size_t n = size * nmemb;
    if (es_buf_append(&f->body, ptr, n) != 0) {
        f->over_cap = 1;
        return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
    }
    return n;
}

static void fetch_free(struct fetch *f)
{
    if (!f)
        return;
    if (f->easy)
        curl_easy_cleanup(f->easy);
    es__crawl_req_cleanup(&f->req);
    es_buf_cleanup(&f->body);
    es_free(f);
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (rc == 0 && curl_easy_setopt(e, opt, val) != CURLE_OK)                                  \
            rc = ES_EINVAL;                                                                        \
    } while (0)

static int add_header(struct fetch *f, const char *name, const char *value)
{
    char line[512];
    size_t nl = strlen(name), vl = strlen(value);
    if (nl + vl + 3 > sizeof line)
        return 0; /* a validator that long is no validator: skip it */
    memcpy(line, name, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, value, vl + 1);
    struct curl_slist *l = curl_slist_append(f->req.headers, line);
    if (!l)
        return ES_ENOMEM;
    f->req.headers = l;
    return 0;
}

static int start(struct src *s)
{
    struct es_crawler *c = s->c;
    struct fetch *f = es_calloc(1, sizeof *f);
    int rc;
    if (!f)
        return ES_ENOMEM;
    f->s = s;
    f->first = s->token[0] == '\0';
    f->started_ms = wall_ms();
    es_buf_init(&f->body, c->o.max_body + 1);
    rc = es__crawl_build(&f->req, &s->s, s->cursor, s->token, f->started_ms / 1000);
    if (rc)
        goto fail;
    /* Conditional only for the poll, and only for the URL the validators came from. */
    if (f->first && s->cond_url && strcmp(s->cond_url, f->req.url.data) == 0 &&
        f->req.body.len == 0) {
        if (s->etag)
            rc = add_header(f, "If-None-Match", s->etag);
        else if (s->last_modified)
            rc = add_header(f, "If-Modified-Since", s->last_modified);
        if (rc)
            goto fail;
    }
    CURL *e = curl_easy_init();
    if (!e) {
        rc = ES_ENOMEM;
        goto fail;
    }
    f->easy = e;
    SETOPT(CURLOPT_URL, f->req.url.data);
    SETOPT(CURLOPT_PRIVATE, f);
    SETOPT(CURLOPT_ERRORBUFFER, f->errbuf);
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, f);
    SETOPT(CURLOPT_HTTPHEADER, f->req.headers);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)c->o.total_timeout_ms);
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, (long)c->o.low_speed_bytes);
    SETOPT(CURLOPT_LOW_SPEED_TIME, (long)c->o.low_speed_s);
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_MAXCONNECTS, (long)c->o.max_connections);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_USERAGENT, "earshot/" ES_VERSION);
    if (f->req.body.len) {
        SETOPT(CURLOPT_POSTFIELDSIZE, (long)f->req.body.len);
        SETOPT(CURLOPT_POSTFIELDS, f->req.body.data);
    }
    if (rc)
        goto fail;
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        rc = ES_ENOMEM;
        goto fail;
    }
    s->f = f;
    c->n_http++;
    return 0;
fail:
    fetch_free(f);
    return rc;
}

/*
 * request starts the source's next request, or queues the source when
 * max_connections requests are already in flight: a transfer waiting inside
 * curl's multi holds an easy handle and its buffers, so with 10,000 sources
 * due in the same second, admission here is what keeps memory flat.
 */
static void request(struct src *s)
{
    struct es_crawler *c = s->c;
    if (c->n_http >= (size_t)c->o.max_connections) {
        if (!s->waiting) {
            s->waiting = 1;
            s->wnext = NULL;
            if (c->w_tail)
                c->w_tail->wnext = s;
            else
                c->w_head = s;
            c->w_tail = s;
        }
        return;
    }
    int rc = start(s);
    if (rc == ES_EINVAL && s->s.auth_env && !getenv(s->s.auth_env))
        fail(s, "request", -1, "environment variable %s is not set", s->s.auth_env);
    else if (rc)
        fail(s, "request", -1, "cannot start: %s", es_strerror(rc));
}

static void on_src_timer(uv_timer_t *t)
{
    struct src *s = t->data;
    if (s->c->stopping || s->f || s->waiting)
        return;
    request(s);
}

/* admit starts queued sources, oldest first, while connections are free. */
static void admit(struct es_crawler *c)
{
    while (c->w_head && !c->stopping && c->n_http < (size_t)c->o.max_connections) {
        struct src *s = c->w_head;
        c->w_head = s->wnext;
        if (!c->w_head)
            c->w_tail = NULL;
        s->waiting = 0;
        s->wnext = NULL;
        if (!s->f)
            request(s);
    }
}

/* ---- the chain ---- */

static void save_cursor(struct src *s, const char *cursor)
{
    if (!cursor[0] || strcmp(cursor, s->cursor) == 0)
        return;
    copy(s->cursor, sizeof s->cursor, cursor);
    if (s->c->store.save)
        s->c->store.save(s->c->store.ud, s->s.id, s->cursor);
    slog(s, ES_LOG_DEBUG, "event=cursor cursor=%s", s->cursor);
}

static void chain_end(struct src *s)
{
    if (s->s.format != ES_FORMAT_WECHAT_JSON && s->chain_newest[0] &&
        (!s->cursor[0] || es_post_id_cmp(s->chain_newest, s->cursor) > 0))
        save_cursor(s, s->chain_newest);
    /* The validators describe a page whose whole chain is now delivered. */
    if (s->p_url) {
        es_free(s->etag);
        es_free(s->last_modified);
        es_free(s->cond_url);
        s->etag = s->p_etag;
        s->last_modified = s->p_last_modified;
        s->cond_url = s->p_url;
        s->p_etag = s->p_last_modified = s->p_url = NULL;
    }
    s->token[0] = '\0';
    s->chain_newest[0] = '\0';
    s->chain_pages = 0;
    schedule(s, interval(s));
}

static int follow(struct src *s, const struct es_page_meta *m, int had_cursor)
{
    if (!m->next_token[0])
        return 0;
    int cap = s->c->o.max_backfill_pages;
    switch (s->s.format) {
    case ES_FORMAT_WECHAT_JSON:
        /* a short page is the last one; a full page may have more behind it */
        return m->records >= ES__CRAWL_PAGE && s->chain_pages < cap;
    case ES_FORMAT_WEIBO:
        if (had_cursor) {
            /* the next page starts at next_token: follow while it is above the cursor */
            if (es_post_id_cmp(m->next_token, s->cursor) <= 0)
                return 0;
            if (m->oldest_id[0] && es_post_id_cmp(m->oldest_id, s->cursor) <= 0)
                return 0;
            return 1;
        }
        break;
    default:
        if (had_cursor)
            return 1; /* since_id bounds the walk: it ends by itself */
        break;
    }
    if (s->chain_pages >= cap) {
        slog(s, ES_LOG_WARN, "event=backfill_cut pages=%d detail=\"no cursor yet: older "
             "history is not read\"", s->chain_pages);
        return 0;
    }
    return 1;
}

/* A page's completion, back on the loop. */
static void page_finished(struct fetch *f)
{
    struct src *s = f->s;
    struct es_crawler *c = s->c;
    s->f = NULL;
    if (f->done_status < 0) {
        int st = f->done_status;
        fetch_free(f);
        if (!c->stopping)
            fail(s, "consumer", -1, "page not stored: %s", es_strerror(st));
        return;
    }
    struct es_page_meta m;
    memset(&m, 0, sizeof m);
    if (f->has_meta)
        m = f->meta;
    m.newest_id[sizeof m.newest_id - 1] = '\0';
    m.oldest_id[sizeof m.oldest_id - 1] = '\0';
    m.next_token[sizeof m.next_token - 1] = '\0';
    s->h.pages++;
    if (m.count > 0)
        s->h.posts += (uint64_t)m.count;
    if (m.newest_created_at > 0 && f->first)
        s->h.lag_ms = wall_ms() - m.newest_created_at * 1000;
    ok(s);
    int had_cursor = s->cursor[0] != '\0';
    s->chain_pages++;
    if (f->first) {
        copy(s->chain_newest, sizeof s->chain_newest, m.newest_id);
    }
    if (s->s.format == ES_FORMAT_WECHAT_JSON)
        save_cursor(s, m.newest_id); /* forward paging: every page moves it */
    fetch_free(f);
    if (c->stopping)
        return; /* the chain is not done: its cursor stays, the next run reads it again */
    if (follow(s, &m, had_cursor)) {
        copy(s->token, sizeof s->token, m.next_token);
        request(s);
        return;
    }
    chain_end(s);
}

static void maybe_close(struct es_crawler *c);

static void on_async(uv_async_t *a)
{
    struct es_crawler *c = a->data;
    uv_mutex_lock(&c->lock);
    struct fetch *f = c->q_head;
    c->q_head = c->q_tail = NULL;
    uv_mutex_unlock(&c->lock);
    while (f) {
        struct fetch *next = f->qnext;
        c->n_pages--;
        page_finished(f);
        f = next;
    }
    maybe_close(c);
}

/* done: any thread, exactly once per page. */
static void page_done(void *done_ud, int status, const struct es_page_meta *meta)
{
    struct fetch *f = done_ud;
    struct es_crawler *c = f->s->c;
    f->done_status = status;
    if (meta) {
        f->meta = *meta;
        f->has_meta = 1;
    }
    f->qnext = NULL;
    uv_mutex_lock(&c->lock);
    if (c->q_tail)
        c->q_tail->qnext = f;
    else
        c->q_head = f;
    c->q_tail = f;
    uv_mutex_unlock(&c->lock);
    uv_async_send(&c->async);
}

/* Retry-After: delta-seconds or an HTTP date. -1 when absent or unreadable. */
static int64_t retry_after(CURL *e, int64_t cap)
{
    struct curl_header *h;
    if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return -1;
    const char *v = h->value;
    int64_t ms;
    if (*v >= '0' && *v <= '9') {
        char *end;
        long long sec = strtoll(v, &end, 10);
        if (*end && *end != ' ')
            return -1;
        ms = sec > cap / 1000 ? cap : sec * 1000;
    } else {
        time_t t = curl_getdate(v, NULL);
        if (t < 0)
            return -1;
        ms = (int64_t)t * 1000 - wall_ms();
    }
    if (ms < 0)
        ms = 0;
    return ms > cap ? cap : ms;
}

static const char *header(CURL *e, const char *name)
{
    struct curl_header *h;
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

/* A transfer is over (CURLMSG_DONE): classify, then hand the page over or retry. */
static void fetch_finished(struct fetch *f, CURLcode res)
{
    struct src *s = f->s;
    struct es_crawler *c = s->c;
    CURL *e = f->easy;
    long status = 0;
    const char *ctype = NULL;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ctype);
    int64_t ra = status == 429 ? retry_after(e, c->o.retry_after_max_ms) : -1;
    char ctype_copy[128];
    copy(ctype_copy, sizeof ctype_copy, ctype);
    if (f->first && res == CURLE_OK && status == 200) {
        const char *et = header(e, "ETag"), *lm = header(e, "Last-Modified");
        set_str(&s->p_etag, et);
        set_str(&s->p_last_modified, lm);
        set_str(&s->p_url, et || lm ? f->req.url.data : NULL);
    }
    curl_multi_remove_handle(c->multi, e);
    curl_easy_cleanup(e);
    f->easy = NULL;
    c->n_http--;
    admit(c);

    if (res != CURLE_OK) {
        s->f = NULL;
        if (f->over_cap) {
            fetch_free(f);
            fail(s, "body", -1, "response over max_body (%zu bytes): aborted", c->o.max_body);
        } else {
            char msg[CURL_ERROR_SIZE + 64];
            snprintf(msg, sizeof msg, "curl %d: %s", (int)res,
                     f->errbuf[0] ? f->errbuf : curl_easy_strerror(res));
            fetch_free(f);
            fail(s, "network", -1, "%s", msg);
        }
        return;
    }
    if (status == 304 && f->first) {
        s->f = NULL;
        fetch_free(f);
        s->h.not_modified++;
        ok(s);
        /* nothing new since a chain that completed: the cursor stands */
        s->token[0] = '\0';
        s->chain_pages = 0;
        schedule(s, interval(s));
        return;
    }
    if (status < 200 || status > 299) {
        s->f = NULL;
        fetch_free(f);
        if (status == 429)
            fail(s, "http", ra >= 0 ? ra : -1, "HTTP 429%s", ra >= 0 ? "" : " without Retry-After");
        else
            fail(s, "http", -1, "HTTP %ld", status);
        return;
    }
    if (!ctype_copy[0] || !strcasestr(ctype_copy, "json")) {
        s->f = NULL;
        fetch_free(f);
        fail(s, "body", -1, "content-type \"%.60s\" is not JSON", ctype_copy);
        return;
    }
    c->n_pages++;
    c->on_page(c->ud, &s->s, f->body.data ? f->body.data : "", f->body.len, f->started_ms,
               page_done, f);
}

static void on_transfer_done(void *ud, CURL *easy, CURLcode res)
{
    (void)ud;
    struct fetch *f = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
    if (f)
        fetch_finished(f, res);
}

static void on_transfers_drained(void *ud)
{
    maybe_close(ud);
}

static void on_curluv_closed(void *ud)
{
    handle_gone(ud);
}

/* ---- start, health, stop ---- */

static void opts_defaults(struct es_crawl_opts *o, const struct es_crawl_opts *in)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof *o);
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = 5000;
    if (o->total_timeout_ms <= 0)
        o->total_timeout_ms = 30000;
    if (o->low_speed_bytes <= 0)
        o->low_speed_bytes = 100;
    if (o->low_speed_s <= 0)
        o->low_speed_s = 10;
    if (o->max_body == 0)
        o->max_body = (size_t)16 << 20;
    if (o->backoff_max_ms <= 0)
        o->backoff_max_ms = 300000;
    if (o->max_connections <= 0)
        o->max_connections = 256;
    if (o->backoff_base_ms <= 0)
        o->backoff_base_ms = 1000;
    if (o->backoff_base_ms > o->backoff_max_ms)
        o->backoff_base_ms = o->backoff_max_ms;
    if (o->max_backfill_pages <= 0)
        o->max_backfill_pages = 50;
    if (o->retry_after_max_ms <= 0)
        o->retry_after_max_ms = 3600000;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_sources(const struct es_source *v, size_t n, struct es_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        int rc = es__crawl_check(&v[i], d);
        if (rc)
            return rc;
    }
    if (n < 2)
        return 0;
    const char **ids = es_malloc(n * sizeof *ids);
    if (!ids)
        return ES_ENOMEM;
    for (size_t i = 0; i < n; i++)
        ids[i] = v[i].id;
    qsort(ids, n, sizeof *ids, cmp_ids);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
        {
            es_diag_set(d, ids[i], 0, 0, "source id: used twice");
            rc = ES_EINVAL;
        }
    es_free((void *)ids);
    return rc;
}

int es_crawler_start(uv_loop_t *loop, const struct es_source *sources, size_t n,
                     const struct es_crawl_opts *o, const struct es_cursor_store *cursors,
                     es_page_cb *on_page, void *ud, struct es_crawler **out, struct es_diag *d)
{
    struct es_crawler *c = NULL;
    size_t copied = 0;
    int rc;
    if (!loop || (!sources && n) || !on_page || !out)
        return ES_EINVAL;
    *out = NULL;
    rc = check_sources(sources, n, d);
    if (rc)
        return rc;
    uv_once(&curl_once, curl_init_once);
    if (curl_init_rc)
        return ES_ENOMEM;
    c = es_calloc(1, sizeof *c);
    if (!c)
        return ES_ENOMEM;
    if (uv_mutex_init(&c->lock) != 0) {
        es_free(c);
        return ES_ENOMEM;
    }
    c->loop = loop;
    opts_defaults(&c->o, o);
    if (cursors)
        c->store = *cursors;
    c->on_page = on_page;
    c->ud = ud;
    c->rng = (uint64_t)wall_ms() ^ ((uint64_t)(uintptr_t)c << 16) ^ 0x9E3779B97F4A7C15ull;
    c->n = n;
    c->srcs = es_calloc(n ? n : 1, sizeof *c->srcs);
    if (!c->srcs) {
        rc = ES_ENOMEM;
        goto fail;
    }
    for (; copied < n; copied++) {
        struct src *s = &c->srcs[copied];
        rc = es__crawl_copy(&s->s, &sources[copied]);
        if (rc)
            goto fail;
        s->c = c;
        s->idx = copied;
    }
    rc = es_curluv_new(loop, on_transfer_done, on_transfers_drained, c, &c->cu);
    if (rc)
        goto fail;
    c->multi = es_curluv_multi(c->cu);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->o.max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->o.max_connections);
    /* From here on nothing fails: handles are initialised and owned by the loop. */
    if (uv_async_init(loop, &c->async, on_async) != 0) {
        rc = ES_ENOMEM;
        goto fail;
    }
    c->async.data = c;
    c->handles++;
    uv_timer_init(loop, &c->grace_timer);
    c->grace_timer.data = c;
    c->handles += 2; /* the grace timer and the curl driver */
    for (size_t i = 0; i < n; i++) {
        struct src *s = &c->srcs[i];
        uv_timer_init(loop, &s->timer);
        s->timer.data = s;
        c->handles++;
        char *cur = c->store.load ? c->store.load(c->store.ud, s->s.id) : NULL;
        if (cur) {
            copy(s->cursor, sizeof s->cursor, cur);
            free(cur);
        }
        slog(s, ES_LOG_INFO, "event=start format=%s cursor=%s interval_ms=%lld",
             es_format_name(s->s.format), s->cursor[0] ? s->cursor : "none",
             (long long)s->s.interval_ms);
        schedule(s, (int64_t)rnd(c, (uint64_t)s->s.jitter_ms + 1));
    }
    *out = c;
    return 0;
fail:
    /* the driver frees itself once the loop has closed its timer */
    es_curluv_close(c->cu, NULL, NULL);
    for (size_t i = 0; i < copied; i++)
        es_source_free_fields(&c->srcs[i].s);
    es_free(c->srcs);
    uv_mutex_destroy(&c->lock);
    es_free(c);
    return rc;
}

const struct es_source_health *es_crawler_health(const struct es_crawler *c, size_t i)
{
    if (!c || i >= c->n)
        return NULL;
    return &c->srcs[i].h;
}

/* Everything quiet after a stop: close the multi and every handle. */
static void maybe_close(struct es_crawler *c)
{
    if (!c->stopping || c->closing || c->n_http || c->n_pages)
        return;
    c->closing = 1;
    c->multi = NULL;
    es_curluv_close(c->cu, on_curluv_closed, c);
    for (size_t i = 0; i < c->n; i++) {
        slog(&c->srcs[i], ES_LOG_INFO, "event=stop cursor=%s",
             c->srcs[i].cursor[0] ? c->srcs[i].cursor : "none");
        uv_close((uv_handle_t *)&c->srcs[i].timer, on_src_timer_closed);
    }
    uv_close((uv_handle_t *)&c->grace_timer, on_own_closed);
    uv_close((uv_handle_t *)&c->async, on_own_closed);
}

static void on_grace(uv_timer_t *t)
{
    struct es_crawler *c = t->data;
    for (size_t i = 0; i < c->n; i++) {
        struct src *s = &c->srcs[i];
        if (s->f && s->f->easy) {
            slog(s, ES_LOG_WARN, "event=aborted detail=\"request still running after the "
                 "shutdown grace\"");
            curl_multi_remove_handle(c->multi, s->f->easy);
            fetch_free(s->f);
            s->f = NULL;
            c->n_http--;
        }
    }
    maybe_close(c);
}

void es_crawler_stop(struct es_crawler *c, int64_t grace_ms)
{
    if (!c || c->stopping)
        return;
    c->stopping = 1;
    for (size_t i = 0; i < c->n; i++)
        uv_timer_stop(&c->srcs[i].timer);
    if (c->n_http || c->n_pages) {
        es_log(ES_LOG_INFO, MOD, "event=draining requests=%zu pages=%zu grace_ms=%lld",
               c->n_http, c->n_pages, (long long)grace_ms);
        uv_timer_start(&c->grace_timer, on_grace, (uint64_t)(grace_ms > 0 ? grace_ms : 0), 0);
        return;
    }
    maybe_close(c);
}
