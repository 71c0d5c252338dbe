/*
 * The live stream (GET /api/stream): one reader on the loop fans es:events out to
 * every client.
 *
 *   es:events ──XREAD BLOCK (own async connection)──> format once ──> ring (recent)
 *                                                         └──> each client (skips ids
 *                                                              it already has)
 *
 * Every client starts from an id: its Last-Event-ID, or the stream's newest entry
 * when it connects (both read on a worker). It gets what follows from a worker's
 * XRANGE (at most BACKLOG entries), then the ring, then the live entries; it
 * remembers the last id it was sent, so the overlap is sent once. The reader starts
 * at the newest entry, or earlier when a client connected before it did. A client that lags
 * more than the server's stream buffer is dropped (it reconnects and resumes).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "earshot/alloc.h"
#include "earshot/log.h"
#include "http/api_int.h"

#define RING 1024
#define BACKLOG 1000
#define READ_COUNT "256"
#define BLOCK_MS "5000"

struct sse_client {
    struct es__api_sse *sse;
    struct es_http_req *req;
    struct sse_client *prev, *next;
    char last_id[48];
};

struct ring_ent {
    char id[48];
    char *text;
    size_t len;
};

struct es__api_sse {
    struct es_api *api;
    struct es_store_async *rd;
    struct sse_client *clients;
    size_t nclients;
    char pos[48];       /* the reader's position in es:events */
    bool have_pos, inflight, stopping;
    unsigned ticks, hb_every;
    struct ring_ent ring[RING];
    size_t ring_head, ring_n;
    uint64_t events, dropped;
};

/* id_cmp orders stream ids "ms-seq" ("" is before everything). */
static int id_cmp(const char *a, const char *b)
{
    uint64_t am = 0, as = 0, bm = 0, bs = 0;
    if (!*a || !*b)
        return (*a != '\0') - (*b != '\0');
    sscanf(a, "%" SCNu64 "-%" SCNu64, &am, &as);
    sscanf(b, "%" SCNu64 "-%" SCNu64, &bm, &bs);
    if (am != bm)
        return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

static void client_end(struct sse_client *cl)
{
    struct es__api_sse *s = cl->sse;
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        s->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    s->nclients--;
    es_http_stream_end(cl->req);
    es_free(cl);
}

/* client_send writes one formatted event; false when the client was dropped. */
static bool client_send(struct sse_client *cl, const char *id, const char *text, size_t len)
{
    if (*cl->last_id && id && id_cmp(id, cl->last_id) <= 0)
        return true;
    int rc = es_http_stream_write(cl->req, text, len);
    if (rc) {
        if (rc == ES_ELIMIT)
            cl->sse->dropped++;
        client_end(cl);
        return false;
    }
    if (id)
        snprintf(cl->last_id, sizeof cl->last_id, "%s", id);
    return true;
}

/* format: "id: ..\nevent: mention|state\ndata: {json}\n\n" (es_malloc'ed) from an object
 * of the entry's fields. */
static char *format(const char *id, json_t *fields, size_t *len)
{
    const char *type = json_string_value(json_object_get(fields, "type"));
    const char *event = type && strcmp(type, "state") == 0 ? "state" : "mention";
    char *data = json_dumps(fields, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!data)
        return NULL;
    size_t n = strlen(id) + strlen(event) + strlen(data) + 32;
    char *out = es_malloc(n);
    if (out)
        *len = (size_t)snprintf(out, n, "id: %s\nevent: %s\ndata: %s\n\n", id, event, data);
    free(data);
    return out;
}

static void ring_push(struct es__api_sse *s, const char *id, char *text, size_t len)
{
    size_t i = (s->ring_head + s->ring_n) % RING;
    if (s->ring_n == RING) {
        es_free(s->ring[s->ring_head].text);
        i = s->ring_head;
        s->ring_head = (s->ring_head + 1) % RING;
    } else {
        s->ring_n++;
    }
    snprintf(s->ring[i].id, sizeof s->ring[i].id, "%s", id);
    s->ring[i].text = text;
    s->ring[i].len = len;
}

static void broadcast(struct es__api_sse *s, const char *id, json_t *fields)
{
    size_t len = 0;
    char *text = format(id, fields, &len);
    if (!text)
        return;
    s->events++;
    struct sse_client *cl = s->clients;
    while (cl) {
        struct sse_client *next = cl->next;
        client_send(cl, id, text, len);
        cl = next;
    }
    ring_push(s, id, text, len);
}

static void read_next(struct es__api_sse *s);

static void on_read(void *ud, struct redisReply *r, int status)
{
    struct es__api_sse *s = ud;
    s->inflight = false;
    if (status || !r || s->stopping)
        return; /* the tick retries */
    /* [[stream, [[id, [f, v, ...]], ...]]] or nil on timeout */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        redisReply *entries = r->element[0]->element[1];
        for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
            redisReply *e = entries->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[0]->type != REDIS_REPLY_STRING)
                continue;
            const char *id = e->element[0]->str;
            json_t *f = json_object();
            redisReply *kv = e->element[1];
            for (size_t j = 0; f && kv->type == REDIS_REPLY_ARRAY && j + 1 < kv->elements; j += 2)
                json_object_set_new(f, kv->element[j]->str,
                                    json_stringn(kv->element[j + 1]->str, kv->element[j + 1]->len));
            if (f)
                broadcast(s, id, f);
            json_decref(f);
            snprintf(s->pos, sizeof s->pos, "%s", id);
        }
    }
    read_next(s);
}

static void on_pos(void *ud, struct redisReply *r, int status)
{
    struct es__api_sse *s = ud;
    s->inflight = false;
    if (status || !r || s->stopping)
        return;
    if (r->type == REDIS_REPLY_ARRAY) {
        snprintf(s->pos, sizeof s->pos, "0-0");
        if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
            r->element[0]->elements == 2 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
            snprintf(s->pos, sizeof s->pos, "%s", r->element[0]->element[0]->str);
        /* clients that connected before the reader must not miss what came since */
        for (struct sse_client *cl = s->clients; cl; cl = cl->next)
            if (*cl->last_id && id_cmp(cl->last_id, s->pos) < 0)
                snprintf(s->pos, sizeof s->pos, "%s", cl->last_id);
        s->have_pos = true;
    }
    read_next(s);
}

static void read_next(struct es__api_sse *s)
{
    if (s->stopping || s->inflight || !s->rd)
        return;
    int rc;
    if (!s->have_pos) {
        const char *argv[] = {"XREVRANGE", "es:events", "+", "-", "COUNT", "1"};
        rc = es_store_async_cmd(s->rd, 6, argv, NULL, on_pos, s);
    } else {
        const char *argv[] = {"XREAD", "COUNT", READ_COUNT, "BLOCK", BLOCK_MS,
                              "STREAMS", "es:events", s->pos};
        rc = es_store_async_cmd(s->rd, 8, argv, NULL, on_read, s);
    }
    s->inflight = rc == 0;
}

int es__api_sse_start(struct es_api *a)
{
    struct es__api_sse *s = es_calloc(1, sizeof *s);
    if (!s)
        return ES_ENOMEM;
    s->api = a;
    int rc = es_store_async_start(a->loop, a->redis_url, &s->rd);
    if (rc) {
        es_free(s);
        return rc;
    }
    a->sse = s;
    read_next(s);
    return 0;
}

void es__api_sse_tick(struct es_api *a)
{
    struct es__api_sse *s = a->sse;
    if (!s || s->stopping)
        return;
    if (!s->inflight)
        read_next(s);
    int hb = a->o.sse_heartbeat_ms;
    int tick = hb < ES__API_TICK_MS ? hb : ES__API_TICK_MS;
    if (++s->ticks * (unsigned)tick < (unsigned)hb)
        return;
    s->ticks = 0;
    static const char beat[] = ": hb\n\n";
    struct sse_client *cl = s->clients;
    while (cl) {
        struct sse_client *next = cl->next;
        client_send(cl, NULL, beat, sizeof beat - 1);
        cl = next;
    }
}

static void on_gone(struct es_http_req *r, void *ud)
{
    (void)r;
    client_end(ud);
}

void es__api_stream_prepare(struct es__api_call *c)
{
    json_t *backlog = NULL;
    int rc;
    if (c->last_event_id[0]) {
        rc = es_store_events_after(c->store, c->last_event_id, BACKLOG, &backlog);
    } else {
        rc = es_store_events_last(c->store, c->last_event_id, sizeof c->last_event_id);
        backlog = rc ? NULL : json_array();
        if (!rc && !backlog)
            rc = ES_ENOMEM;
    }
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = backlog;
}

void es__api_sse_attach(struct es_api *a, struct es_http_req *r, const char *last_id,
                        json_t *backlog)
{
    struct es__api_sse *s = a->sse;
    struct sse_client *cl = es_calloc(1, sizeof *cl);
    if (!cl) {
        json_decref(backlog);
        es_http_error(r, 503, "overloaded", "Out of memory.");
        return;
    }
    cl->sse = s;
    cl->req = r;
    if (es_http_stream_begin(r, 200, "text/event-stream; charset=utf-8",
                             "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n") != 0) {
        json_decref(backlog);
        es_free(cl);
        es_http_error(r, 503, "overloaded", "Out of memory.");
        return;
    }
    cl->next = s->clients;
    if (s->clients)
        s->clients->prev = cl;
    s->clients = cl;
    s->nclients++;
    es_http_on_gone(r, on_gone, cl);
    static const char hello[] = "retry: 3000\n\n";
    bool alive = client_send(cl, NULL, hello, sizeof hello - 1);
    size_t i;
    json_t *e;
    json_array_foreach(backlog, i, e)
    {
        if (!alive)
            break;
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!id)
            continue;
        char sid[48];
        snprintf(sid, sizeof sid, "%s", id);
        json_object_del(e, "id");
        size_t len = 0;
        char *text = format(sid, e, &len);
        if (text)
            alive = client_send(cl, sid, text, len);
        es_free(text);
    }
    json_decref(backlog);
    /* then the recent events the reader already fanned out */
    if (alive && last_id && *last_id) {
        if (!*cl->last_id)
            snprintf(cl->last_id, sizeof cl->last_id, "%s", last_id);
        for (size_t k = 0; alive && k < s->ring_n; k++) {
            struct ring_ent *re = &s->ring[(s->ring_head + k) % RING];
            alive = client_send(cl, re->id, re->text, re->len);
        }
    }
}

size_t es__api_sse_clients(const struct es_api *a)
{
    return a->sse ? a->sse->nclients : 0;
}

void es__api_sse_counts(const struct es_api *a, uint64_t *events, uint64_t *dropped)
{
    *events = a->sse ? a->sse->events : 0;
    *dropped = a->sse ? a->sse->dropped : 0;
}

void es__api_sse_stop(struct es_api *a)
{
    struct es__api_sse *s = a->sse;
    if (!s)
        return;
    s->stopping = true;
    es_store_async_stop(s->rd); /* runs a pending read's callback (ES_ECANCELED) now */
    s->rd = NULL;
    while (s->clients)
        client_end(s->clients);
    for (size_t k = 0; k < s->ring_n; k++)
        es_free(s->ring[(s->ring_head + k) % RING].text);
    a->sse = NULL;
    es_free(s);
}
