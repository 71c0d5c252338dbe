/*
 * earshot serve --config FILE: the live listener.
 *
 *   one uv loop:  crawler (curl multi) ──page──> pipeline workers (threads)
 *                   ^  cursors (async Redis)        │ parse, match, fences, SLA,
 *                   └──────── done(meta) <──────────┘ mentions, counts, events
 *                 the triage API (config "http"): HTTP, SSE, /metrics on the same loop
 *   signals:  SIGTERM/SIGINT  stop polling and the API, drain in-flight pages and
 *                             requests, exit 0
 *             SIGHUP          reload rules, fences, SLA and sources; in-flight work
 *                             finishes on the old rules; the API keeps running
 *
 * Config (JSON, duplicate keys rejected, unknown keys are errors naming the
 * key path); every key is documented in docs/serve.md.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#include "cli/cli.h"
#include "earshot/alloc.h"
#include "earshot/api.h"
#include "earshot/clock.h"
#include "earshot/alert.h"
#include "earshot/crawl.h"
#include "earshot/fears.h"
#include "earshot/geo.h"
#include "earshot/log.h"
#include "earshot/pipeline.h"
#include "earshot/store.h"

struct config {
    json_t *root;
    const char *redis_url, *data_dir, *keywords_dir, *rules_dir;
    int workers;
    struct es_source *sources;
    size_t n_sources;
    struct es_fences *fences;
    struct es_sla_policy *sla; /* on the heap: workers hold it until a reload quiesces */
    struct es_crawl_opts crawl;
    /* "http": the triage API; read at start (a reload keeps the running listener) */
    bool http_on;
    char http_host[64];
    struct es_api_opts http;
    /* "alerts": the alert worker runs in-process; read at start */
    bool alerts_on;
    struct es_alert_opts alerts;
};

struct server {
    uv_loop_t *loop;
    char config_path[4096];
    struct config cfg;
    struct es_norm *norm;
    struct es_ruleset *rules;
    struct es_redis_child *child;
    char redis_url[1100];
    struct es_store *sync;          /* cursors at start */
    struct es_store_async *async;   /* cursor saves */
    struct es_pipeline *pipe;
    struct es_crawler *crawler;
    struct es_fears *fears;         /* the API's reply checks */
    struct es_api *api;
    struct es_alerter *alerter;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t stats_timer;
    bool stopping;
};

static void config_free(struct config *c)
{
    for (size_t i = 0; i < c->n_sources; i++)
        es_source_free_fields(&c->sources[i]);
    es_free(c->sources);
    es_fences_free(c->fences);
    es_free(c->sla);
    json_decref(c->root);
    memset(c, 0, sizeof *c);
}

/* ---- config: every error names its key path ---- */

static int bad(struct es_diag *d, const char *file, const char *fmt, const char *path,
               const char *what)
{
    return es_diag_set(d, file, 0, 0, fmt, path, what);
}

static int check_keys(const json_t *o, const char *const *allowed, const char *path,
                      const char *file, struct es_diag *d)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok) {
            char p[512];
            snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", k);
            return bad(d, file, "%s: %s", p, "unknown key");
        }
    }
    return 0;
}

/* section: an optional object of the config (http, alerts, crawl): 1 when present and its
 * keys are known, 0 when absent or null, or an error naming the key. */
static int section(const json_t *v, const char *name, const char *const *keys, const char *file,
                   struct es_diag *d)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return bad(d, file, "%s: %s", name, "must be an object");
    int rc = check_keys(v, keys, name, file, d);
    return rc ? rc : 1;
}

static const char *opt_str(const json_t *o, const char *k, const char *path, const char *file,
                           struct es_diag *d, int *rc)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || !*json_string_value(v)) {
        char p[512];
        snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", k);
        *rc = bad(d, file, "%s: %s", p, "must be a non-empty string");
        return NULL;
    }
    return json_string_value(v);
}

static double opt_num(const json_t *o, const char *k, double def, double lo, double hi,
                      const char *path, const char *file, struct es_diag *d, int *rc)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return def;
    char p[512];
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", k);
    if (!json_is_number(v)) {
        *rc = bad(d, file, "%s: %s", p, "must be a number");
        return def;
    }
    double x = json_number_value(v);
    if (x < lo || x > hi) {
        char msg[128];
        snprintf(msg, sizeof msg, "must be between %g and %g", lo, hi);
        *rc = bad(d, file, "%s: %s", p, msg);
        return def;
    }
    return x;
}

static char *dup_or_null(const char *s)
{
    return s ? es_strdup(s) : NULL;
}

static int parse_source(const json_t *o, size_t i, struct es_source *s, const char *file,
                        struct es_diag *d)
{
    static const char *const keys[] = {"id",        "platform", "base_url", "query",
                                       "user_id",   "auth_env", "interval_s", "jitter_s",
                                       "geo",       "brand",    NULL};
    char path[64];
    snprintf(path, sizeof path, "sources[%zu]", i);
    if (!json_is_object(o))
        return bad(d, file, "%s: %s", path, "must be an object");
    int rc = check_keys(o, keys, path, file, d);
    if (rc)
        return rc;
    const char *id = opt_str(o, "id", path, file, d, &rc);
    const char *platform = opt_str(o, "platform", path, file, d, &rc);
    const char *base = opt_str(o, "base_url", path, file, d, &rc);
    if (rc)
        return rc;
    char p[96];
    if (!id)
        return snprintf(p, sizeof p, "%s.id", path), bad(d, file, "%s: %s", p, "is required");
    if (!platform)
        return snprintf(p, sizeof p, "%s.platform", path),
               bad(d, file, "%s: %s", p, "is required (twitter-v2, twitter-v1, weibo, wechat)");
    if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
        return snprintf(p, sizeof p, "%s.base_url", path),
               bad(d, file, "%s: %s", p, "is required: an http(s) URL");
    if (strcmp(platform, "twitter-v2") == 0)
        s->format = ES_FORMAT_TWITTER_V2;
    else if (strcmp(platform, "twitter-v1") == 0)
        s->format = ES_FORMAT_TWITTER_V1;
    else if (strcmp(platform, "weibo") == 0)
        s->format = ES_FORMAT_WEIBO;
    else if (strcmp(platform, "wechat") == 0)
        s->format = ES_FORMAT_WECHAT_JSON;
    else
        return snprintf(p, sizeof p, "%s.platform", path),
               bad(d, file, "%s: %s", p, "must be twitter-v2, twitter-v1, weibo or wechat");
    double interval = opt_num(o, "interval_s", 60, 0.05, 86400, path, file, d, &rc);
    double jitter = opt_num(o, "jitter_s", interval / 10, 0, 3600, path, file, d, &rc);
    const char *query = opt_str(o, "query", path, file, d, &rc);
    const char *user = opt_str(o, "user_id", path, file, d, &rc);
    const char *auth = opt_str(o, "auth_env", path, file, d, &rc);
    const char *brand = opt_str(o, "brand", path, file, d, &rc);
    if (rc)
        return rc;
    json_t *geo = json_object_get(o, "geo");
    if (geo && !json_is_null(geo)) {
        static const char *const gk[] = {"lat", "lon", "radius_km", NULL};
        char gp[96];
        snprintf(gp, sizeof gp, "%s.geo", path);
        if (!json_is_object(geo))
            return bad(d, file, "%s: %s", gp, "must be an object {lat, lon, radius_km}");
        rc = check_keys(geo, gk, gp, file, d);
        if (rc)
            return rc;
        s->has_geo = true;
        s->lat = opt_num(geo, "lat", 1000, -90, 90, gp, file, d, &rc);
        s->lon = opt_num(geo, "lon", 1000, -180, 180, gp, file, d, &rc);
        s->radius_km = opt_num(geo, "radius_km", 0, 0.01, 1000, gp, file, d, &rc);
        if (!rc && (s->lat > 90 || s->lon > 180 || s->radius_km <= 0))
            rc = bad(d, file, "%s: %s", gp, "needs lat, lon and radius_km");
        if (rc)
            return rc;
    }
    s->id = es_strdup(id);
    s->base_url = es_strdup(base);
    s->query = dup_or_null(query);
    s->user_id = dup_or_null(user);
    s->auth_env = dup_or_null(auth);
    s->brand = dup_or_null(brand);
    s->interval_ms = (int64_t)(interval * 1000);
    s->jitter_ms = (int64_t)(jitter * 1000);
    if (!s->id || !s->base_url)
        return ES_ENOMEM;
    return 0;
}

/* parse_http reads "http": {"listen": "127.0.0.1:8088", limits...}. */
static int parse_http(const json_t *h, struct config *c, const char *file, struct es_diag *d)
{
    static const char *const hk[] = {"listen",           "max_body_bytes",  "max_header_bytes",
                                     "max_connections",  "idle_timeout_ms", "request_timeout_ms",
                                     "max_stream_buffer_bytes",             "sse_heartbeat_ms",
                                     "canned_days",      NULL};
    int rc = section(h, "http", hk, file, d);
    if (rc <= 0)
        return rc;
    rc = 0;
    const char *listen = opt_str(h, "listen", "http", file, d, &rc);
    if (rc)
        return rc;
    if (!listen)
        listen = "127.0.0.1:8088";
    /* host:port, [v6]:port */
    const char *colon = strrchr(listen, ':');
    const char *host = listen, *host_end = colon;
    if (listen[0] == '[') {
        host = listen + 1;
        host_end = strchr(listen, ']');
        if (!host_end || host_end[1] != ':')
            return bad(d, file, "%s: %s", "http.listen", "must be host:port or [v6]:port");
        colon = host_end + 1;
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || host_end == host || !end || *end || port < 0 || port > 65535 ||
        (size_t)(host_end - host) >= sizeof c->http_host)
        return bad(d, file, "%s: %s", "http.listen", "must be host:port (port 0 to 65535)");
    memcpy(c->http_host, host, (size_t)(host_end - host));
    c->http_host[host_end - host] = '\0';
    c->http_on = true;
    c->http.port = (int)port;
    c->http.max_body_bytes =
        (size_t)opt_num(h, "max_body_bytes", 0, 1024, 64 << 20, "http", file, d, &rc);
    c->http.max_header_bytes =
        (size_t)opt_num(h, "max_header_bytes", 0, 1024, 1 << 20, "http", file, d, &rc);
    c->http.max_connections =
        (size_t)opt_num(h, "max_connections", 0, 1, 1000000, "http", file, d, &rc);
    c->http.idle_timeout_ms =
        (int)opt_num(h, "idle_timeout_ms", 0, 100, 3600000, "http", file, d, &rc);
    c->http.request_timeout_ms =
        (int)opt_num(h, "request_timeout_ms", 0, 100, 600000, "http", file, d, &rc);
    c->http.max_stream_buffer =
        (size_t)opt_num(h, "max_stream_buffer_bytes", 0, 4096, 256 << 20, "http", file, d, &rc);
    c->http.sse_heartbeat_ms =
        (int)opt_num(h, "sse_heartbeat_ms", 0, 100, 3600000, "http", file, d, &rc);
    c->http.canned_days = (int)opt_num(h, "canned_days", 0, 1, 3650, "http", file, d, &rc);
    return rc;
}

/* parse_alerts reads "alerts": {"allow": "127.0.0.1,::1", "max_attempts": 6, ...}. */
static int parse_alerts(const json_t *a, struct config *c, const char *file, struct es_diag *d)
{
    static const char *const ak[] = {"allow",         "max_attempts",  "retry_base_ms",
                                     "retry_max_ms",  "timeout_ms",    "max_inflight",
                                     "digest_interval_s", "spike_check_s", NULL};
    int rc = section(a, "alerts", ak, file, d);
    if (rc <= 0)
        return rc;
    rc = 0;
    struct es_alert_opts *o = &c->alerts;
    o->allow = opt_str(a, "allow", "alerts", file, d, &rc);
    if (rc)
        return rc;
    struct es_net_allow allow;
    struct es_diag ad = {0};
    if (es_net_allow_parse(o->allow, &allow, &ad) != 0)
        return bad(d, file, "%s: %s", "alerts.allow", ad.msg);
    o->max_attempts = (int)opt_num(a, "max_attempts", 0, 1, 100, "alerts", file, d, &rc);
    o->retry_base_ms = (int64_t)opt_num(a, "retry_base_ms", 0, 10, 3600000, "alerts", file, d,
                                        &rc);
    o->retry_max_ms = (int64_t)opt_num(a, "retry_max_ms", 0, 10, 86400000, "alerts", file, d,
                                       &rc);
    o->timeout_ms = (int64_t)opt_num(a, "timeout_ms", 0, 100, 600000, "alerts", file, d, &rc);
    o->max_inflight = (int)opt_num(a, "max_inflight", 0, 1, 100000, "alerts", file, d, &rc);
    o->digest_interval_s =
        (int)opt_num(a, "digest_interval_s", 0, 10, 86400 * 7, "alerts", file, d, &rc);
    o->spike_check_s = (int)opt_num(a, "spike_check_s", 0, 1, 3600, "alerts", file, d, &rc);
    c->alerts_on = rc == 0;
    return rc;
}

static int config_load(const char *file, struct config *c, struct es_diag *d)
{
    memset(c, 0, sizeof *c);
    json_error_t err;
    c->root = json_load_file(file, JSON_REJECT_DUPLICATES, &err);
    if (!c->root)
        return es_diag_set(d, file, err.line, err.column, "%s", err.text);
    if (!json_is_object(c->root))
        return es_diag_set(d, file, 0, 0, "the config must be a JSON object");
    static const char *const keys[] = {"redis_url", "data_dir", "keywords_dir", "rules_dir",
                                       "workers",   "sources",  "fences",       "sla",
                                       "crawl",     "log_level", "http",        "alerts",
                                       NULL};
    int rc = check_keys(c->root, keys, "", file, d);
    if (rc)
        return rc;
    c->redis_url = opt_str(c->root, "redis_url", "", file, d, &rc);
    c->data_dir = opt_str(c->root, "data_dir", "", file, d, &rc);
    c->keywords_dir = opt_str(c->root, "keywords_dir", "", file, d, &rc);
    c->rules_dir = opt_str(c->root, "rules_dir", "", file, d, &rc);
    c->workers = (int)opt_num(c->root, "workers", 0, 0, 256, "", file, d, &rc);
    const char *level = opt_str(c->root, "log_level", "", file, d, &rc);
    if (rc)
        return rc;
    if (level) {
        if (strcmp(level, "debug") == 0)
            es_log_set_level(ES_LOG_DEBUG);
        else if (strcmp(level, "info") == 0)
            es_log_set_level(ES_LOG_INFO);
        else if (strcmp(level, "warn") == 0)
            es_log_set_level(ES_LOG_WARN);
        else if (strcmp(level, "error") == 0)
            es_log_set_level(ES_LOG_ERROR);
        else
            return bad(d, file, "%s: %s", "log_level", "must be debug, info, warn or error");
    }
    json_t *crawl = json_object_get(c->root, "crawl");
    static const char *const ck[] = {"connect_timeout_ms", "total_timeout_ms", "max_body_bytes",
                                     "backoff_max_ms",     "max_connections",  NULL};
    rc = section(crawl, "crawl", ck, file, d);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        rc = 0;
        c->crawl.connect_timeout_ms =
            (int64_t)opt_num(crawl, "connect_timeout_ms", 0, 1, 600000, "crawl", file, d, &rc);
        c->crawl.total_timeout_ms =
            (int64_t)opt_num(crawl, "total_timeout_ms", 0, 1, 3600000, "crawl", file, d, &rc);
        c->crawl.max_body =
            (size_t)opt_num(crawl, "max_body_bytes", 0, 1024, 1 << 30, "crawl", file, d, &rc);
        c->crawl.backoff_max_ms =
            (int64_t)opt_num(crawl, "backoff_max_ms", 0, 100, 86400000, "crawl", file, d, &rc);
        c->crawl.max_connections =
            (int)opt_num(crawl, "max_connections", 0, 1, 100000, "crawl", file, d, &rc);
        if (rc)
            return rc;
    }
    rc = parse_http(json_object_get(c->root, "http"), c, file, d);
    if (rc)
        return rc;
    rc = parse_alerts(json_object_get(c->root, "alerts"), c, file, d);
    if (rc)
        return rc;
    json_t *sources = json_object_get(c->root, "sources");
    if (!json_is_array(sources))
        return bad(d, file, "%s: %s", "sources", "is required: an array of sources");
    c->n_sources = json_array_size(sources);
    c->sources = es_calloc(c->n_sources ? c->n_sources : 1, sizeof *c->sources);
    if (!c->sources)
        return ES_ENOMEM;
    for (size_t i = 0; i < c->n_sources; i++) {
        rc = parse_source(json_array_get(sources, i), i, &c->sources[i], file, d);
        if (rc)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->sources[k].id, c->sources[i].id) == 0) {
                char p[64];
                snprintf(p, sizeof p, "sources[%zu].id", i);
                return bad(d, file, "%s: %s", p, "duplicate source id");
            }
    }
    rc = es_fences_parse(json_object_get(c->root, "fences"), &c->fences, d);
    c->sla = es_calloc(1, sizeof *c->sla);
    if (!rc && !c->sla)
        rc = ES_ENOMEM;
    if (!rc)
        rc = es_sla_parse(json_object_get(c->root, "sla"), c->sla, d);
    if (rc && d && !d->file)
        d->file = file;
    return rc;
}

/* ---- cursors: loaded with the sync connection at start, saved asynchronously ---- */

static char *cursor_load(void *ud, const char *source_id)
{
    struct server *sv = ud;
    char key[300];
    snprintf(key, sizeof key, "es:cursor:%s", source_id);
    return es_store_get_string(sv->sync, key);
}

static void on_saved(void *ud, struct redisReply *r, int status)
{
    (void)ud;
    (void)r;
    if (status)
        es_log(ES_LOG_WARN, "serve", "cursor not saved (%s); it is saved with the next page",
               es_strerror(status));
}

static void cursor_save(void *ud, const char *source_id, const char *cursor)
{
    struct server *sv = ud;
    char key[300];
    snprintf(key, sizeof key, "es:cursor:%s", source_id);
    const char *argv[] = {"SET", key, cursor};
    es_store_async_cmd(sv->async, 3, argv, NULL, on_saved, sv);
}

/* ---- the page path ---- */

static void on_page(void *ud, const struct es_source *src, const char *body, size_t len,
                    int64_t fetched_ms, es_page_done_fn *done, void *done_ud)
{
    struct server *sv = ud;
    int rc = es_pipeline_submit(sv->pipe, src, body, len, fetched_ms, done, done_ud);
    if (rc) {
        /* queue full: the crawler backs off and fetches the page again */
        done(done_ud, rc, NULL);
    }
}

static int load_rules(struct server *sv, const struct config *c, struct es_ruleset **out)
{
    char kw[4096], rules[4096];
    if (c->keywords_dir)
        snprintf(kw, sizeof kw, "%s", c->keywords_dir);
    else
        es_cli_default_dir("keywords", kw, sizeof kw);
    if (c->rules_dir)
        snprintf(rules, sizeof rules, "%s", c->rules_dir);
    else
        es_cli_default_dir("rules", rules, sizeof rules);
    struct es_rules *r = es_rules_new();
    if (!r)
        return ES_ENOMEM;
    int rc = es_rules_load_dirs(r, kw, rules, NULL, NULL);
    if (!rc) {
        struct es_compile_opts o = {sv->norm, 0};
        rc = es_ruleset_compile(r, &o, out, NULL, NULL);
    }
    es_rules_free(r);
    if (rc)
        es_log(ES_LOG_ERROR, "serve", "rules in %s and %s do not load (earshot rules check)", kw,
               rules);
    return rc;
}

static void log_stats(uv_timer_t *t)
{
    struct server *sv = t->data;
    struct es_pipeline_stats st;
    es_pipeline_stats(sv->pipe, &st);
    es_log(ES_LOG_INFO, "serve",
           "pages %llu posts %llu duplicates %llu complaints %llu mentions %llu fenced %llu "
           "bad %llu errors %llu",
           (unsigned long long)st.pages, (unsigned long long)st.posts,
           (unsigned long long)st.duplicates, (unsigned long long)st.complaints,
           (unsigned long long)st.mentions, (unsigned long long)st.fenced,
           (unsigned long long)st.bad_records, (unsigned long long)st.errors);
    for (size_t i = 0; sv->crawler && i < sv->cfg.n_sources; i++) {
        const struct es_source_health *h = es_crawler_health(sv->crawler, i);
        if (h)
            es_log(ES_LOG_INFO, "crawl",
                   "source %s pages %llu posts %llu errors %llu lag_ms %lld last_error %s",
                   sv->cfg.sources[i].id, (unsigned long long)h->pages,
                   (unsigned long long)h->posts, (unsigned long long)h->errors,
                   (long long)h->lag_ms, h->last_error[0] ? h->last_error : "-");
    }
}

static int start_crawler(struct server *sv)
{
    struct es_cursor_store cs = {cursor_load, cursor_save, sv};
    struct es_diag d = {0};
    int rc = es_crawler_start(sv->loop, sv->cfg.sources, sv->cfg.n_sources, &sv->cfg.crawl, &cs,
                              on_page, sv, &sv->crawler, &d);
    if (rc)
        es_log(ES_LOG_ERROR, "serve", "crawler: %s", d.msg[0] ? d.msg : es_strerror(rc));
    return rc;
}

/* api_metrics: the pipeline's and the crawler's counters for /metrics (loop thread). */
static size_t api_metrics(void *ud, char *out, size_t n)
{
    struct server *sv = ud;
    struct es_pipeline_stats st;
    es_pipeline_stats(sv->pipe, &st);
    unsigned long long pages = 0, posts = 0, errors = 0, limited = 0;
    long long lag = 0;
    for (size_t i = 0; sv->crawler && i < sv->cfg.n_sources; i++) {
        const struct es_source_health *h = es_crawler_health(sv->crawler, i);
        if (!h)
            continue;
        pages += h->pages;
        posts += h->posts;
        errors += h->errors;
        limited += h->rate_limited;
        if (h->lag_ms > lag)
            lag = h->lag_ms;
    }
    int k = snprintf(
        out, n,
        "# TYPE es_pipeline_pages_total counter\nes_pipeline_pages_total %llu\n"
        "# TYPE es_pipeline_posts_total counter\nes_pipeline_posts_total %llu\n"
        "# TYPE es_pipeline_duplicates_total counter\nes_pipeline_duplicates_total %llu\n"
        "# TYPE es_pipeline_complaints_total counter\nes_pipeline_complaints_total %llu\n"
        "# TYPE es_pipeline_mentions_total counter\nes_pipeline_mentions_total %llu\n"
        "# TYPE es_pipeline_fenced_total counter\nes_pipeline_fenced_total %llu\n"
        "# TYPE es_pipeline_bad_records_total counter\nes_pipeline_bad_records_total %llu\n"
        "# TYPE es_pipeline_errors_total counter\nes_pipeline_errors_total %llu\n"
        "# TYPE es_crawl_sources gauge\nes_crawl_sources %zu\n"
        "# TYPE es_crawl_pages_total counter\nes_crawl_pages_total %llu\n"
        "# TYPE es_crawl_posts_total counter\nes_crawl_posts_total %llu\n"
        "# TYPE es_crawl_errors_total counter\nes_crawl_errors_total %llu\n"
        "# TYPE es_crawl_rate_limited_total counter\nes_crawl_rate_limited_total %llu\n"
        "# TYPE es_crawl_lag_ms_max gauge\nes_crawl_lag_ms_max %lld\n",
        (unsigned long long)st.pages, (unsigned long long)st.posts,
        (unsigned long long)st.duplicates, (unsigned long long)st.complaints,
        (unsigned long long)st.mentions, (unsigned long long)st.fenced,
        (unsigned long long)st.bad_records, (unsigned long long)st.errors,
        sv->crawler ? sv->cfg.n_sources : (size_t)0, pages, posts, errors, limited, lag);
    return k < 0 ? 0 : (size_t)k < n ? (size_t)k : n;
}

/* start_api: the triage API on the loop, when the config has "http". */
static int start_api(struct server *sv)
{
    if (!sv->cfg.http_on)
        return 0;
    char rules[4096], dir[4200];
    if (sv->cfg.rules_dir)
        snprintf(rules, sizeof rules, "%s", sv->cfg.rules_dir);
    else
        es_cli_default_dir("rules", rules, sizeof rules);
    snprintf(dir, sizeof dir, "%s/fears", rules);
    struct es_diag d = {0};
    sv->fears = es_fears_new(sv->norm, dir, &d);
    if (!sv->fears) {
        char line[1024];
        es_diag_format(&d, line, sizeof line);
        es_log(ES_LOG_ERROR, "serve", "FEARS rules: %s", line);
        return ES_EPARSE;
    }
    struct es_api_opts o = sv->cfg.http;
    o.host = sv->cfg.http_host;
    o.redis_url = sv->redis_url;
    o.fears = sv->fears;
    o.metrics = api_metrics;
    o.metrics_ud = sv;
    int rc = es_api_start(sv->loop, &o, &sv->api, &d);
    if (rc) {
        es_log(ES_LOG_ERROR, "serve", "http: %s", d.msg[0] ? d.msg : es_strerror(rc));
        return rc;
    }
    es_log(ES_LOG_INFO, "serve", "api on http://%s%s%s:%d", strchr(o.host, ':') ? "[" : "",
           o.host, strchr(o.host, ':') ? "]" : "", es_api_port(sv->api));
    return 0;
}

static void on_term(uv_signal_t *h, int sig)
{
    struct server *sv = h->data;
    if (sv->stopping)
        return;
    sv->stopping = true;
    es_log(ES_LOG_INFO, "serve", "signal %d: stopping; draining in-flight work", sig);
    es_crawler_stop(sv->crawler, 5000);
    sv->crawler = NULL;
    /* the API answers what it is handling, then closes its connections */
    es_api_stop(sv->api);
    sv->api = NULL;
    uv_timer_stop(&sv->stats_timer);
    uv_close((uv_handle_t *)&sv->stats_timer, NULL);
    uv_close((uv_handle_t *)&sv->sig_term, NULL);
    uv_close((uv_handle_t *)&sv->sig_int, NULL);
    uv_close((uv_handle_t *)&sv->sig_hup, NULL);
    /* the pipeline drains after the loop ends (its done callbacks hop back through the
     * crawler, which has stopped taking them); the async store closes with the loop */
    es_store_async_stop(sv->async);
    sv->async = NULL;
}

static void on_hup(uv_signal_t *h, int sig)
{
    (void)sig;
    struct server *sv = h->data;
    if (sv->stopping)
        return;
    struct config nc;
    struct es_diag d = {0};
    int rc = config_load(sv->config_path, &nc, &d);
    struct es_ruleset *nr = NULL;
    if (!rc)
        rc = load_rules(sv, &nc, &nr);
    if (rc) {
        char line[1024];
        es_diag_format(&d, line, sizeof line);
        es_log(ES_LOG_ERROR, "serve", "reload refused, keeping the running config: %s",
               d.msg[0] ? line : es_strerror(rc));
        config_free(&nc);
        return;
    }
    /* rules, fences, SLA: new pages use the new ones; pages in flight finish on the old
     * ones, which are freed once the pipeline has quiesced */
    es_pipeline_set_rules(sv->pipe, nr, nc.fences, nc.sla);
    es_pipeline_quiesce(sv->pipe);
    es_ruleset_free(sv->rules);
    sv->rules = nr;
    /* sources: the old crawler drains and closes itself (it copied its sources); the new
     * one takes over */
    es_crawler_stop(sv->crawler, 5000);
    sv->crawler = NULL;
    struct config old = sv->cfg;
    sv->cfg = nc;
    config_free(&old);
    start_crawler(sv);
    es_log(ES_LOG_INFO, "serve", "reloaded: %zu sources, %zu rules", sv->cfg.n_sources,
           es_ruleset_rule_count(sv->rules));
}

static void usage(FILE *f)
{
    fprintf(f, "usage: earshot serve --config FILE [--check]\n"
               "\n"
               "Polls the configured sources, judges every new post, and records complaints as\n"
               "mentions in Redis (the embedded server when redis_url is not set). SIGTERM or\n"
               "Ctrl-C drains in-flight work and exits; SIGHUP reloads the config, rules, fences\n"
               "and sources without losing in-flight work. Logs are JSON lines on stderr.\n"
               "\n"
               "  --config FILE   the JSON config (docs/serve.md lists every key)\n"
               "  --check         validate the config and the rules, then exit\n");
}

int es_cli_serve(int argc, char **argv)
{
    static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
                                       {"check", no_argument, NULL, 'k'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    struct server sv;
    memset(&sv, 0, sizeof sv);
    bool check = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': snprintf(sv.config_path, sizeof sv.config_path, "%s", optarg); break;
        case 'k': check = true; break;
        case 'h': usage(stdout); return ES_EXIT_OK;
        default: usage(stderr); return ES_EXIT_USAGE;
        }
    }
    if (!sv.config_path[0] || optind != argc) {
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    struct es_diag d = {0};
    if (config_load(sv.config_path, &sv.cfg, &d)) {
        char line[1024];
        es_diag_format(&d, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        config_free(&sv.cfg);
        return ES_EXIT_USAGE;
    }
    const char *warn = NULL;
    sv.norm = es_norm_new(NULL, &warn);
    if (!sv.norm || load_rules(&sv, &sv.cfg, &sv.rules)) {
        config_free(&sv.cfg);
        es_norm_free(sv.norm);
        return ES_EXIT_USAGE;
    }
    if (check) {
        printf("%s: %zu sources, %zu fences, %zu rules: ok\n", sv.config_path, sv.cfg.n_sources,
               es_fences_count(sv.cfg.fences), es_ruleset_rule_count(sv.rules));
        es_ruleset_free(sv.rules);
        es_norm_free(sv.norm);
        config_free(&sv.cfg);
        return ES_EXIT_OK;
    }
    int code = ES_EXIT_FOUND;
    /* the API's Redis work runs on libuv's thread pool (4 threads by default) */
    setenv("UV_THREADPOOL_SIZE", "8", 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Redis: the configured one, or the embedded server of the data directory. */
    const char *url = sv.cfg.redis_url ? sv.cfg.redis_url : getenv("EARSHOT_REDIS_URL");
    if (url && *url) {
        snprintf(sv.redis_url, sizeof sv.redis_url, "%s", url);
    } else {
        char dir[900], sock[1024];
        if (sv.cfg.data_dir)
            snprintf(dir, sizeof dir, "%s", sv.cfg.data_dir);
        else
            es_store_default_dir(dir, sizeof dir);
        if (es_redis_child_start(dir, &sv.child, sock, sizeof sock, &d) != 0) {
            es_log(ES_LOG_ERROR, "serve", "%s", d.msg);
            goto out;
        }
        snprintf(sv.redis_url, sizeof sv.redis_url, "unix://%s", sock);
    }
    struct es_store_opts so = {sv.redis_url, NULL, 0};
    if (es_store_open(&so, &sv.sync, &d) != 0) {
        es_log(ES_LOG_ERROR, "serve", "%s", d.msg);
        goto out;
    }
    struct es_pipeline_opts po = {sv.rules, sv.cfg.fences, sv.cfg.sla, sv.redis_url,
                                  sv.cfg.workers, 0};
    if (es_pipeline_start(&po, &sv.pipe, &d) != 0) {
        es_log(ES_LOG_ERROR, "serve", "pipeline: %s", d.msg);
        goto out;
    }
    if (sv.cfg.alerts_on) {
        /* the alert worker: its own threads, reading the events the pipeline writes */
        struct es_alert_opts ao = sv.cfg.alerts;
        ao.redis_url = sv.redis_url;
        if (es_alerter_start(&ao, &sv.alerter, &d) != 0) {
            es_log(ES_LOG_ERROR, "serve", "alerts: %s", d.msg);
            goto out;
        }
    }
    sv.loop = uv_default_loop();
    if (es_store_async_start(sv.loop, sv.redis_url, &sv.async) != 0)
        goto out;
    if (start_crawler(&sv) != 0)
        goto out;
    if (start_api(&sv) != 0) {
        es_crawler_stop(sv.crawler, 0);
        sv.crawler = NULL;
        es_store_async_stop(sv.async);
        sv.async = NULL;
        uv_run(sv.loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_signal_init(sv.loop, &sv.sig_term);
    uv_signal_init(sv.loop, &sv.sig_int);
    uv_signal_init(sv.loop, &sv.sig_hup);
    sv.sig_term.data = sv.sig_int.data = sv.sig_hup.data = &sv;
    uv_signal_start(&sv.sig_term, on_term, SIGTERM);
    uv_signal_start(&sv.sig_int, on_term, SIGINT);
    uv_signal_start(&sv.sig_hup, on_hup, SIGHUP);
    uv_timer_init(sv.loop, &sv.stats_timer);
    sv.stats_timer.data = &sv;
    uv_timer_start(&sv.stats_timer, log_stats, 10000, 10000);
    es_log(ES_LOG_INFO, "serve", "listening to %zu sources; redis %s", sv.cfg.n_sources,
           sv.child ? "embedded" : "external");
    uv_run(sv.loop, UV_RUN_DEFAULT);
    log_stats(&sv.stats_timer);
    code = ES_EXIT_OK;
out:
    es_pipeline_stop(sv.pipe);
    /* stopped last: events it has not read stay in its consumer group for the next start */
    es_alerter_stop(sv.alerter);
    if (sv.async) {
        es_store_async_stop(sv.async);
        uv_run(sv.loop, UV_RUN_DEFAULT);
    }
    if (sv.loop && uv_loop_close(sv.loop) != 0)
        es_log(ES_LOG_WARN, "serve", "the loop still had open handles at exit");
    es_store_close(sv.sync);
    es_redis_child_stop(sv.child);
    es_fears_free(sv.fears);
    es_ruleset_free(sv.rules);
    es_norm_free(sv.norm);
    config_free(&sv.cfg);
    curl_global_cleanup();
    es_log(ES_LOG_INFO, "serve", "stopped");
    return code;
}
