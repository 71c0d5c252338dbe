/* /healthz and /metrics (Prometheus text format 0.0.4). The Redis facts are read on a
 * worker; the text is written on the loop, where the HTTP counters and the caller's
 * metrics callback live. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "http/api_int.h"

#define METRICS_CAP (256 * 1024)

void es__api_healthz(struct es__api_call *c)
{
    bool up = c->store && es_store_ping(c->store) == 0;
    c->status = up ? 200 : 503;
    c->out = json_pack("{s:s, s:s}", "status", up ? "ok" : "degraded", "redis", up ? "up" : "down");
}

void es__api_metrics_facts(struct es__api_call *c)
{
    bool up = c->store && es_store_ping(c->store) == 0;
    int64_t triage = 0, outbox = 0;
    if (up && es_store_depths(c->store, &triage, &outbox) != 0)
        up = false;
    c->status = 200;
    c->out = json_pack("{s:b, s:I, s:I}", "redis", up, "triage", (json_int_t)triage, "outbox",
                       (json_int_t)outbox);
}

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->len >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

static void metric(struct out *o, const char *name, const char *type, const char *help,
                   unsigned long long v)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

void es__api_metrics_respond(struct es__api_call *c)
{
    struct es_api *a = c->api;
    struct out o = {es_malloc(METRICS_CAP), 0, METRICS_CAP};
    if (!o.p) {
        es_http_error(c->req, 503, "overloaded", "Out of memory.");
        return;
    }
    o.p[0] = '\0';
    struct es_http_counters hc;
    memset(&hc, 0, sizeof hc);
    if (a->http)
        es_http_counters(a->http, &hc);
    metric(&o, "es_http_connections_total", "counter", "HTTP connections accepted.",
           (unsigned long long)hc.connections_total);
    metric(&o, "es_http_connections_open", "gauge", "HTTP connections open.",
           (unsigned long long)hc.connections_open);
    metric(&o, "es_http_requests_total", "counter", "HTTP requests parsed.",
           (unsigned long long)hc.requests);
    metric(&o, "es_http_responses_4xx_total", "counter", "Responses with a 4xx status.",
           (unsigned long long)hc.responses_4xx);
    metric(&o, "es_http_responses_5xx_total", "counter", "Responses with a 5xx status.",
           (unsigned long long)hc.responses_5xx);
    metric(&o, "es_http_streams_open", "gauge", "Streaming responses open.",
           (unsigned long long)hc.streams_open);
    metric(&o, "es_http_bytes_out_total", "counter", "Response bytes written.",
           (unsigned long long)hc.bytes_out);
    put(&o, "# HELP es_api_requests_total API requests by route and status.\n"
            "# TYPE es_api_requests_total counter\n");
    for (int r = 0; r < ES__R_COUNT; r++)
        for (int i = 0; i < ES__API_NSTATUS; i++) {
            if (!a->by_route[r][i])
                continue;
            char st[8];
            if (es__api_statuses[i])
                snprintf(st, sizeof st, "%d", es__api_statuses[i]);
            else
                snprintf(st, sizeof st, "other");
            put(&o, "es_api_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                es__api_routes[r].name, st, (unsigned long long)a->by_route[r][i]);
        }
    uint64_t events = 0, dropped = 0;
    es__api_sse_counts(a, &events, &dropped);
    metric(&o, "es_api_sse_clients", "gauge", "Clients on /api/stream.",
           (unsigned long long)es__api_sse_clients(a));
    metric(&o, "es_api_sse_events_total", "counter", "Events read from es:events and fanned out.",
           (unsigned long long)events);
    metric(&o, "es_api_sse_dropped_total", "counter", "Stream clients dropped for lagging.",
           (unsigned long long)dropped);
    json_t *f = c->out;
    metric(&o, "es_redis_up", "gauge", "1 when Redis answers.",
           json_is_true(json_object_get(f, "redis")) ? 1 : 0);
    metric(&o, "es_triage_open", "gauge", "Open mentions in the triage queues.",
           (unsigned long long)json_integer_value(json_object_get(f, "triage")));
    metric(&o, "es_outbox_pending", "gauge", "Outbox entries not yet delivered.",
           (unsigned long long)json_integer_value(json_object_get(f, "outbox")));
    a->redis_up = json_is_true(json_object_get(f, "redis"));
    if (a->o.metrics && o.len + 1 < o.cap) {
        size_t n = a->o.metrics(a->o.metrics_ud, o.p + o.len, o.cap - o.len - 1);
        o.len += n < o.cap - o.len - 1 ? n : o.cap - o.len - 1;
        o.p[o.len] = '\0';
    }
    es_http_respond(c->req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, o.p, o.len);
    es_free(o.p);
}
