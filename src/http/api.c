/* The triage API: routing, the worker threads' stores, token and role checks, JSON body
 * parsing, start and stop (api_int.h draws a call's life). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "earshot/log.h"
#include "http/api_int.h"
#include "http/http_int.h"

#define SECURITY_HEADERS                                                                           \
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "               \
    "frame-ancestors 'none'; form-action 'self'\r\n"                                               \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Referrer-Policy: no-referrer\r\n"                                                             \
    "X-Frame-Options: DENY\r\n"

const int es__api_statuses[ES__API_NSTATUS] = {200, 201, 304, 400, 401, 403, 404, 405,
                                               409, 413, 422, 429, 500, 501, 503, 0};

const char *const es__api_q_names[ES__Q_COUNT] = {
    "brand", "state", "category", "severity", "fence", "assignee", "platform", "limit", "cursor",
    "step",  "from",  "to",       "by",       "days",  "mid",      "actor",    "lang"};

static void me(struct es__api_call *c)
{
    c->status = 200;
    c->out = json_pack("{s:s, s:s, s:s}", "id", c->who.id, "name", c->who.name, "role",
                       es_api_role_name(c->who.role));
}

const struct es__api_route_def es__api_routes[ES__R_COUNT] = {
    [ES__R_HEALTHZ] = {"healthz", ES_ROLE_NONE, false, es__api_healthz},
    [ES__R_METRICS] = {"metrics", ES_ROLE_NONE, false, es__api_metrics_facts},
    [ES__R_ME] = {"me", ES_ROLE_AGENT, false, me},
    [ES__R_MENTIONS] = {"mentions", ES_ROLE_AGENT, false, es__api_mentions},
    [ES__R_MENTION] = {"mention", ES_ROLE_AGENT, false, es__api_mention},
    [ES__R_CLAIM] = {"claim", ES_ROLE_AGENT, true, es__api_action},
    [ES__R_RELEASE] = {"release", ES_ROLE_AGENT, true, es__api_action},
    [ES__R_REPLY] = {"reply", ES_ROLE_AGENT, true, es__api_action},
    [ES__R_DM] = {"dm", ES_ROLE_AGENT, true, es__api_action},
    [ES__R_RESOLVE] = {"resolve", ES_ROLE_AGENT, true, es__api_action},
    [ES__R_IGNORE] = {"ignore", ES_ROLE_AGENT, true, es__api_action},
    [ES__R_CHECK] = {"check", ES_ROLE_AGENT, false, es__api_check},
    [ES__R_SUGGESTIONS] = {"suggestions", ES_ROLE_AGENT, false, es__api_suggestions},
    [ES__R_STREAM] = {"stream", ES_ROLE_AGENT, false, es__api_stream_prepare},
    [ES__R_VOLUME] = {"stats_volume", ES_ROLE_AGENT, false, es__api_volume},
    [ES__R_FEARS] = {"stats_fears", ES_ROLE_AGENT, false, es__api_fears},
    [ES__R_AUDIT] = {"audit", ES_ROLE_MANAGER, false, es__api_audit},
    [ES__R_TOKENS_GET] = {"tokens_list", ES_ROLE_ADMIN, false, es__api_tokens_get},
    [ES__R_TOKENS_POST] = {"token_create", ES_ROLE_ADMIN, true, es__api_tokens_post},
    [ES__R_TOKEN_DEL] = {"token_revoke", ES_ROLE_ADMIN, true, es__api_token_del},
    [ES__R_ALERT_SUBS_GET] = {"alert_subs", ES_ROLE_MANAGER, false, es__api_alert_subs_get},
    [ES__R_ALERT_SUBS_POST] = {"alert_sub_put", ES_ROLE_MANAGER, true, es__api_alert_subs_post},
    [ES__R_ALERT_SUB_DEL] = {"alert_sub_del", ES_ROLE_MANAGER, true, es__api_alert_sub_del},
    [ES__R_ALERT_DEAD] = {"alert_dead", ES_ROLE_MANAGER, false, es__api_alert_dead},
    [ES__R_ASSET] = {"asset", ES_ROLE_NONE, false, NULL},
    [ES__R_OTHER] = {"other", ES_ROLE_NONE, false, NULL},
};

/* ---- helpers for route functions ---- */

void es__api_error(struct es__api_call *c, int status, const char *reason, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(c->out);
    c->status = status;
    c->out = json_pack("{s:s, s:s, s:s}", "error", es__http_status_name(status), "reason", reason,
                       "message", msg);
    if (!c->out) /* a message cut inside a UTF-8 sequence */
        c->out = json_pack("{s:s, s:s, s:s}", "error", es__http_status_name(status), "reason",
                           reason, "message", "");
    snprintf(c->reason, sizeof c->reason, "%s", reason);
}

void es__api_store_failed(struct es__api_call *c, int rc)
{
    if (rc == ES_ENOTFOUND)
        es__api_error(c, 404, "not_found", "No such item.");
    else if (rc == ES_EIO)
        es__api_error(c, 503, "redis_down", "Redis is unreachable; try again shortly.");
    else if (rc == ES_EINVAL)
        es__api_error(c, 400, "bad_request", "The request is invalid.");
    else
        es__api_error(c, 500, "internal", "%s", es_strerror(rc));
}

json_t *es__api_body_object(struct es__api_call *c, const char *const *allowed)
{
    if (c->body_len == 0)
        return json_object();
    json_error_t err;
    json_t *o = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        es__api_error(c, 400, "bad_json", "body line %d column %d: %s", err.line, err.column,
                      err.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        es__api_error(c, 400, "bad_json", "body: expected a JSON object");
        json_decref(o);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool ok = allowed == NULL;
        for (size_t i = 0; allowed && allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok) {
            char shown[64];
            snprintf(shown, sizeof shown, "%s", k);
            es__api_error(c, 400, "bad_field", "body: unknown field \"%s\"", shown);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

const char *es__api_field_str(struct es__api_call *c, json_t *o, const char *k, size_t max,
                              bool *bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        es__api_error(c, 400, "bad_field", "body field \"%s\": expected a string", k);
        *bad = true;
        return NULL;
    }
    if (json_string_length(v) > max) {
        es__api_error(c, 400, "bad_field", "body field \"%s\": longer than %zu bytes", k, max);
        *bad = true;
        return NULL;
    }
    /* "\u0000" would cut the C string short of what the client sent */
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        es__api_error(c, 400, "bad_field", "body field \"%s\": holds a NUL character", k);
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

int64_t es__api_q_int(struct es__api_call *c, enum es__api_q q, int64_t def, int64_t lo,
                      int64_t hi, bool *bad)
{
    const char *s = c->q[q];
    if (!s || !*s)
        return def;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi) {
        es__api_error(c, 400, "bad_param", "query parameter \"%s\": expected an integer from %lld to %lld",
                      es__api_q_names[q], (long long)lo, (long long)hi);
        *bad = true;
        return def;
    }
    return v;
}

/* ---- the worker side ---- */

static struct es_store *thread_store(struct es_api *a)
{
    struct es__api_tstore *t = pthread_getspecific(a->key);
    if (t)
        return t->s;
    struct es_store_opts so = {a->redis_url, NULL, 3000};
    struct es_store *s = NULL;
    struct es_diag d;
    memset(&d, 0, sizeof d);
    if (es_store_open(&so, &s, &d) != 0) {
        es_log(ES_LOG_WARN, "api", "redis: %s", d.msg);
        return NULL;
    }
    t = es_calloc(1, sizeof *t);
    if (!t) {
        es_store_close(s);
        return NULL;
    }
    t->s = s;
    pthread_mutex_lock(&a->mu);
    t->next = a->stores;
    a->stores = t;
    pthread_mutex_unlock(&a->mu);
    pthread_setspecific(a->key, t);
    return s;
}

static void work_cb(uv_work_t *w)
{
    struct es__api_call *c = (struct es__api_call *)((char *)w - offsetof(struct es__api_call, work));
    const struct es__api_route_def *def = &es__api_routes[c->route];
    c->store = thread_store(c->api);
    if (def->role != ES_ROLE_NONE) {
        if (!c->store) {
            es__api_error(c, 503, "redis_down", "Redis is unreachable; try again shortly.");
            return;
        }
        const char *h = c->auth;
        if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
            es__api_error(c, 401, "missing_token",
                          "Send the header Authorization: Bearer <token>.");
            return;
        }
        int rc = es_api_token_verify(c->store, h + 7, &c->who);
        if (rc == ES_ENOTFOUND) {
            es__api_error(c, 401, "bad_token", "The token is unknown or was revoked.");
            return;
        }
        if (rc) {
            es__api_store_failed(c, rc);
            return;
        }
        if (c->who.role < def->role) {
            es__api_error(c, 403, "forbidden", "This needs the %s role; the token has %s.",
                          es_api_role_name(def->role), es_api_role_name(c->who.role));
            if (def->mutating)
                es__api_audit_record(c);
            return;
        }
    }
    def->fn(c);
    if (def->mutating)
        es__api_audit_record(c);
    /* Serialise here, on the pool, not on the loop thread that every request shares. */
    if (c->out && c->route != ES__R_STREAM && c->route != ES__R_METRICS) {
        c->out_text = json_dumps(c->out, JSON_COMPACT);
        if (c->out_text)
            c->out_len = strlen(c->out_text);
    }
}

/* ---- the loop side ---- */

static void call_free(struct es__api_call *c)
{
    es_free(c->auth);
    es_free(c->body);
    for (int i = 0; i < ES__Q_COUNT; i++)
        es_free(c->q[i]);
    json_decref(c->out);
    free(c->out_text);
    es_free(c);
}

static void count(struct es_api *a, enum es__api_route route, int status)
{
    int i = 0;
    while (i < ES__API_NSTATUS - 1 && es__api_statuses[i] != status)
        i++;
    a->by_route[route][i]++;
}

static void finish(struct es_api *a);

static void respond_json(struct es_http_req *r, int status, json_t *out, const char *text,
                         size_t len)
{
    if (text) {
        json_decref(out);
        es_http_respond(r, status, "application/json",
                        status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL, text, len);
        return;
    }
    if (!out) {
        es_http_error(r, 500, "internal", "Out of memory.");
        return;
    }
    if (status != 401) {
        es_http_respond_json(r, status, out);
        return;
    }
    char *txt = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!txt) {
        es_http_error(r, 500, "internal", "Out of memory.");
        return;
    }
    es_http_respond(r, status, "application/json", "WWW-Authenticate: Bearer\r\n", txt,
                    strlen(txt));
    free(txt);
}

static void after_cb(uv_work_t *w, int status)
{
    struct es__api_call *c = (struct es__api_call *)((char *)w - offsetof(struct es__api_call, work));
    struct es_api *a = c->api;
    a->pending--;
    if (status == UV_ECANCELED || !c->status)
        es__api_error(c, 503, "shutting_down", "The server is stopping.");
    count(a, c->route, c->status);
    if (c->route == ES__R_STREAM && c->status == 200) {
        if (a->stopping) {
            es_http_error(c->req, 503, "shutting_down", "The server is stopping.");
        } else {
            es__api_sse_attach(a, c->req, c->last_event_id, c->out);
            c->out = NULL;
        }
    } else if (c->route == ES__R_METRICS) {
        es__api_metrics_respond(c);
    } else {
        /* a canceled call has an error body made here, not the worker's text */
        bool text = status != UV_ECANCELED && c->out_text;
        respond_json(c->req, c->status, c->out, text ? c->out_text : NULL, c->out_len);
        c->out = NULL;
    }
    call_free(c);
    if (a->stopping && a->pending == 0)
        finish(a);
}

/* route: which route a method and path name; the path's id goes to id (64 bytes).
 * *allowed gets the method the path wants when the method is wrong (405). */
static enum es__api_route route(const char *m, const char *p, char *id, const char **allowed)
{
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0,
         del = strcmp(m, "DELETE") == 0;
    *allowed = NULL;
    id[0] = '\0';
#define WANT(cond, meth, r)                                                                        \
    do {                                                                                           \
        if (cond)                                                                                  \
            return r;                                                                              \
        *allowed = meth;                                                                           \
        return ES__R_OTHER;                                                                        \
    } while (0)
    if (strcmp(p, "/healthz") == 0)
        WANT(get, "GET", ES__R_HEALTHZ);
    if (strcmp(p, "/metrics") == 0)
        WANT(get, "GET", ES__R_METRICS);
    if (strncmp(p, "/api/", 5) != 0 && strcmp(p, "/api") != 0)
        return get ? ES__R_ASSET : ES__R_OTHER;
    const char *s = p + 4;
    if (strcmp(s, "/me") == 0)
        WANT(get, "GET", ES__R_ME);
    if (strcmp(s, "/mentions") == 0)
        WANT(get, "GET", ES__R_MENTIONS);
    if (strcmp(s, "/stream") == 0)
        WANT(get, "GET", ES__R_STREAM);
    if (strcmp(s, "/stats/volume") == 0)
        WANT(get, "GET", ES__R_VOLUME);
    if (strcmp(s, "/stats/fears") == 0)
        WANT(get, "GET", ES__R_FEARS);
    if (strcmp(s, "/audit") == 0)
        WANT(get, "GET", ES__R_AUDIT);
    if (strcmp(s, "/tokens") == 0) {
        if (get || post)
            return get ? ES__R_TOKENS_GET : ES__R_TOKENS_POST;
        *allowed = "GET, POST";
        return ES__R_OTHER;
    }
    if (strcmp(s, "/alerts/subscriptions") == 0) {
        if (get || post)
            return get ? ES__R_ALERT_SUBS_GET : ES__R_ALERT_SUBS_POST;
        *allowed = "GET, POST";
        return ES__R_OTHER;
    }
    if (strcmp(s, "/alerts/dead") == 0)
        WANT(get, "GET", ES__R_ALERT_DEAD);
    const char *rest = NULL;
    enum { T_MENTION, T_TOKEN, T_SUB } kind;
    if (strncmp(s, "/mentions/", 10) == 0) {
        rest = s + 10;
        kind = T_MENTION;
    } else if (strncmp(s, "/tokens/", 8) == 0) {
        rest = s + 8;
        kind = T_TOKEN;
    } else if (strncmp(s, "/alerts/subscriptions/", 22) == 0) {
        rest = s + 22;
        kind = T_SUB;
    } else {
        return ES__R_OTHER;
    }
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!es__api_id_ok(rest, n))
        return ES__R_OTHER;
    memcpy(id, rest, n);
    id[n] = '\0';
    if (kind != T_MENTION) {
        if (slash)
            return ES__R_OTHER;
        WANT(del, "DELETE", kind == T_TOKEN ? ES__R_TOKEN_DEL : ES__R_ALERT_SUB_DEL);
    }
    if (!slash)
        WANT(get, "GET", ES__R_MENTION);
    static const struct {
        const char *name;
        enum es__api_route r;
    } acts[] = {{"claim", ES__R_CLAIM},     {"release", ES__R_RELEASE}, {"reply", ES__R_REPLY},
                {"dm", ES__R_DM},           {"resolve", ES__R_RESOLVE}, {"ignore", ES__R_IGNORE},
                {"check", ES__R_CHECK}};
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++)
        if (strcmp(slash + 1, acts[i].name) == 0)
            WANT(post, "POST", acts[i].r);
    if (strcmp(slash + 1, "suggestions") == 0)
        WANT(get, "GET", ES__R_SUGGESTIONS);
#undef WANT
    return ES__R_OTHER;
}

/* wall_ms: the wall clock in milliseconds (decisions, leases and idempotency keys made
 * without a caller's key need better than seconds). */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_opt(const char *s)
{
    return s ? es_strdup(s) : NULL;
}

static void on_request(struct es_http_req *r, void *ud)
{
    struct es_api *a = ud;
    const char *allowed = NULL;
    char id[64];
    enum es__api_route rt = route(es_http_method(r), es_http_path(r), id, &allowed);
    if (rt == ES__R_ASSET) {
        const struct es_http_asset *as = es_http_asset_find(es_http_path(r));
        if (as) {
            count(a, rt, 200);
            es_http_respond_asset(r, as);
            return;
        }
        rt = ES__R_OTHER;
    }
    if (rt == ES__R_OTHER) {
        if (allowed) {
            char hdr[64], msg[96];
            snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allowed);
            snprintf(msg, sizeof msg,
                     "{\"error\":\"method_not_allowed\",\"reason\":\"method_not_allowed\","
                     "\"message\":\"Use %s.\"}",
                     allowed);
            count(a, rt, 405);
            es_http_respond(r, 405, "application/json", hdr, msg, strlen(msg));
        } else {
            count(a, rt, 404);
            es_http_error(r, 404, "not_found", "No such resource.");
        }
        return;
    }
    if (a->stopping) {
        count(a, rt, 503);
        es_http_error(r, 503, "shutting_down", "The server is stopping.");
        return;
    }
    struct es__api_call *c = es_calloc(1, sizeof *c);
    if (!c)
        goto nomem;
    c->api = a;
    c->req = r;
    c->route = rt;
    c->now_ms = wall_ms();
    snprintf(c->method, sizeof c->method, "%s", es_http_method(r));
    snprintf(c->mid, sizeof c->mid, "%s", id);
    snprintf(c->peer, sizeof c->peer, "%s", es_http_peer(r) ? es_http_peer(r) : "");
    const char *lei = es_http_header(r, "Last-Event-ID");
    if (lei && strlen(lei) < sizeof c->last_event_id)
        snprintf(c->last_event_id, sizeof c->last_event_id, "%s", lei);
    const char *auth = es_http_header(r, "Authorization");
    c->auth = dup_opt(auth);
    bool oom = auth && !c->auth;
    size_t blen = 0;
    const char *body = es_http_body(r, &blen);
    if (body && blen) {
        c->body = es_malloc(blen + 1);
        oom = oom || !c->body;
        if (c->body) {
            memcpy(c->body, body, blen);
            c->body[blen] = '\0';
            c->body_len = blen;
        }
    }
    for (int i = 0; i < ES__Q_COUNT; i++) {
        const char *v = es_http_query(r, es__api_q_names[i]);
        c->q[i] = dup_opt(v);
        oom = oom || (v && !c->q[i]);
    }
    if (oom || uv_queue_work(a->loop, &c->work, work_cb, after_cb) != 0) {
        call_free(c);
        goto nomem;
    }
    a->pending++;
    return;
nomem:
    count(a, rt, 503);
    es_http_error(r, 503, "overloaded", "The server is out of memory; try again shortly.");
}

static void on_tick(uv_timer_t *t)
{
    es__api_sse_tick(t->data);
}

int es_api_start(uv_loop_t *loop, const struct es_api_opts *o, struct es_api **out,
                 struct es_diag *d)
{
    if (!o || !o->redis_url || !*o->redis_url || !o->fears) {
        es_diag_set(d, NULL, 0, 0, "api: a Redis URL and the FEARS rules are required");
        return ES_EINVAL;
    }
    struct es_api *a = es_calloc(1, sizeof *a);
    if (!a)
        return ES_ENOMEM;
    a->loop = loop;
    a->o = *o;
    a->redis_url = es_strdup(o->redis_url);
    if (!a->redis_url) {
        es_free(a);
        return ES_ENOMEM;
    }
    a->o.redis_url = a->redis_url;
    a->o.host = NULL; /* not kept: the server copies it */
    a->redis_up = true;
    if (pthread_key_create(&a->key, NULL) != 0) {
        es_free(a->redis_url);
        es_free(a);
        return ES_ENOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    struct es_http_opts ho = {
        .host = o->host,
        .port = o->port,
        .max_header_bytes = o->max_header_bytes,
        .max_body_bytes = o->max_body_bytes,
        .max_connections = o->max_connections,
        .idle_timeout_ms = o->idle_timeout_ms,
        .request_timeout_ms = o->request_timeout_ms,
        .max_stream_buffer = o->max_stream_buffer,
        .handler = on_request,
        .ud = a,
    };
    int rc = es__api_sse_start(a);
    if (rc)
        goto fail;
    rc = es_http_start(loop, &ho, &a->http, d);
    if (rc) {
        es__api_sse_stop(a);
        goto fail;
    }
    es_http_set_default_headers(a->http, SECURITY_HEADERS);
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    int hb = o->sse_heartbeat_ms > 0 ? o->sse_heartbeat_ms : 15000;
    a->o.sse_heartbeat_ms = hb;
    int tick = hb < ES__API_TICK_MS ? hb : ES__API_TICK_MS;
    uv_timer_start(&a->timer, on_tick, (uint64_t)tick, (uint64_t)tick);
    *out = a;
    return 0;
fail:
    pthread_key_delete(a->key);
    pthread_mutex_destroy(&a->mu);
    es_free(a->redis_url);
    es_free(a);
    return rc;
}

int es_api_port(const struct es_api *a)
{
    return es_http_port(a->http);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct es_api *a = h->data;
    pthread_key_delete(a->key);
    pthread_mutex_destroy(&a->mu);
    es_free(a->redis_url);
    es_free(a);
}

/* finish: every call has been answered; stop the server, close the threads' stores. */
static void finish(struct es_api *a)
{
    if (a->finished)
        return;
    a->finished = true;
    es_http_stop(a->http);
    a->http = NULL;
    pthread_mutex_lock(&a->mu);
    struct es__api_tstore *t = a->stores;
    a->stores = NULL;
    pthread_mutex_unlock(&a->mu);
    while (t) {
        struct es__api_tstore *next = t->next;
        es_store_close(t->s);
        es_free(t);
        t = next;
    }
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}

void es_api_stop(struct es_api *a)
{
    if (!a || a->stopping)
        return;
    a->stopping = true;
    es__api_sse_stop(a);
    if (a->pending == 0)
        finish(a);
}
