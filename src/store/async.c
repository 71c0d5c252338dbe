/*
 * The asynchronous client: hiredis on the daemon's libuv loop.
 *
 *   start ──connect──> up ──drop──> down ──timer (backoff)──> connect ...
 *                       │                      (100 ms doubling to 5 s)
 *                       └── stop: pending requests end with ES_ECANCELED
 *
 * Commands issued while the connection is being made (start, or a reconnect attempt
 * under way) are queued in hiredis's output buffer, at most CONNECTING_MAX of them, and
 * written as soon as the socket is connected; if the attempt fails they end with
 * ES_EIO. So a caller may send right after es_store_async_start. While down between
 * attempts (the backoff timer), a command fails at once with ES_EIO.
 *
 * Each request is a struct areq holding a copy of its argv, so an EVALSHA
 * answered with NOSCRIPT can be resent after SCRIPT LOAD. hiredis owns the
 * context and frees it after the disconnect callback; our pointer is cleared
 * there. Pending hiredis callbacks run with a NULL reply on disconnect; that
 * is where a request learns the connection was lost.
 */
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <uv.h>

#include "earshot/alloc.h"
#include "earshot/log.h"
#include "store/internal.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECTING_MAX 64 /* commands queued before the connection is up */

struct es_store_async {
    uv_loop_t *loop;
    redisAsyncContext *ac; /* NULL while down */
    int up;
    int stopping;
    char sock[1024];
    char host[256];
    int port;
    uv_timer_t timer;
    uint64_t backoff_ms;
    int pending;           /* requests whose hiredis callback has not run yet */
    int early;             /* of those, sent while connecting (bounded by CONNECTING_MAX) */
    int timer_closed;
    char sha[ES__S_COUNT][41];
};

struct areq {
    struct es_store_async *a;
    es_store_async_cb *cb;
    void *ud;
    int script;            /* -1 for a plain command */
    int retried;
    int argc;
    char **argv;
    size_t *lens;
};

static void connect_now(struct es_store_async *a);

static void maybe_free(struct es_store_async *a)
{
    if (a->stopping && !a->ac && a->pending == 0 && a->timer_closed)
        es_free(a);
}

static void areq_free(struct areq *r)
{
    for (int i = 0; i < r->argc; i++)
        es_free(r->argv[i]);
    es_free(r->argv);
    es_free(r->lens);
    es_free(r);
}

static void on_timer(uv_timer_t *t)
{
    struct es_store_async *a = t->data;
    if (!a->stopping && !a->ac)
        connect_now(a);
}

static void schedule_reconnect(struct es_store_async *a)
{
    if (a->stopping)
        return;
    uv_timer_start(&a->timer, on_timer, a->backoff_ms, 0);
    a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct es_store_async *a = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        es_log(ES_LOG_WARN, "store", "redis connect failed: %s; retrying in %llu ms", ac->errstr,
               (unsigned long long)a->backoff_ms);
        a->ac = NULL;
        a->up = 0;
        a->early = 0; /* their callbacks run next, with a NULL reply: ES_EIO */
        schedule_reconnect(a);
        maybe_free(a);
        return;
    }
    a->up = 1;
    a->early = 0;
    a->backoff_ms = BACKOFF_MIN_MS;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct es_store_async *a = ac->data;
    a->ac = NULL;
    a->up = 0;
    a->early = 0;
    if (!a->stopping) {
        es_log(ES_LOG_WARN, "store", "redis connection lost (%s); reconnecting",
               status == REDIS_OK ? "closed" : ac->errstr);
        schedule_reconnect(a);
    }
    maybe_free(a);
}

static void connect_now(struct es_store_async *a)
{
    redisAsyncContext *ac = a->sock[0] ? redisAsyncConnectUnix(a->sock)
                                       : redisAsyncConnect(a->host, a->port);
    if (!ac) {
        schedule_reconnect(a);
        return;
    }
    if (ac->err) {
        es_log(ES_LOG_WARN, "store", "redis connect failed: %s", ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(a);
        return;
    }
    ac->data = a;
    if (redisLibuvAttach(ac, a->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(a);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    a->ac = ac;
}

int es_store_async_start(uv_loop_t *loop, const char *url, struct es_store_async **out)
{
    if (!url)
        return ES_EINVAL;
    struct es_store_async *a = es_calloc(1, sizeof *a);
    if (!a)
        return ES_ENOMEM;
    a->loop = loop;
    a->backoff_ms = BACKOFF_MIN_MS;
    if (strncmp(url, "unix://", 7) == 0) {
        snprintf(a->sock, sizeof a->sock, "%s", url + 7);
    } else if (strncmp(url, "redis://", 8) == 0) {
        const char *h = url + 8;
        size_t hl = strcspn(h, ":/");
        if (hl == 0 || hl >= sizeof a->host) {
            es_free(a);
            return ES_EINVAL;
        }
        memcpy(a->host, h, hl);
        a->port = h[hl] == ':' ? atoi(h + hl + 1) : 6379;
    } else {
        es_free(a);
        return ES_EINVAL;
    }
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    connect_now(a);
    *out = a;
    return 0;
}

int es_store_async_connected(const struct es_store_async *a)
{
    return a->up;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int send_req(struct areq *r)
{
    struct es_store_async *a = r->a;
    if (!a->ac || (!a->up && a->early >= CONNECTING_MAX))
        return ES_EIO;
    if (redisAsyncCommandArgv(a->ac, on_reply, r, r->argc, (const char **)r->argv, r->lens) !=
        REDIS_OK)
        return ES_EIO;
    a->pending++;
    if (!a->up)
        a->early++;
    return 0;
}

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct areq *r = privdata;
    struct es_store_async *a = r->a;
    a->pending--;
    redisReply *rep = reply;
    int status = a->stopping ? ES_ECANCELED : ES_EIO;
    if (rep && rep->type == REDIS_REPLY_STRING && rep->len == 40) {
        memcpy(a->sha[r->script], rep->str, 41);
        es_free(r->argv[1]);
        r->argv[1] = es_strdup(a->sha[r->script]);
        if (r->argv[1] && !a->stopping) {
            r->lens[1] = 40;
            if (send_req(r) == 0) {
                maybe_free(a);
                return;
            }
        }
    }
    r->cb(r->ud, NULL, status);
    areq_free(r);
    maybe_free(a);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct areq *r = privdata;
    struct es_store_async *a = r->a;
    a->pending--;
    redisReply *rep = reply;
    if (rep && r->script >= 0 && !r->retried && rep->type == REDIS_REPLY_ERROR &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0 && a->ac && !a->stopping) {
        /* Load the script, then resend (once). */
        r->retried = 1;
        const char *argv[] = {"SCRIPT", "LOAD", es__script_source((enum es__script)r->script)};
        if (redisAsyncCommandArgv(a->ac, on_script_loaded, r, 3, argv, NULL) == REDIS_OK) {
            a->pending++;
            return;
        }
    }
    if (rep)
        r->cb(r->ud, rep, 0);
    else
        r->cb(r->ud, NULL, a->stopping ? ES_ECANCELED : ES_EIO);
    areq_free(r);
    maybe_free(a);
}

static struct areq *areq_new(struct es_store_async *a, int script, int argc, const char **argv,
                             const size_t *lens, es_store_async_cb *cb, void *ud)
{
    struct areq *r = es_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->a = a;
    r->cb = cb;
    r->ud = ud;
    r->script = script;
    r->argc = argc;
    r->argv = es_calloc((size_t)argc, sizeof *r->argv);
    r->lens = es_calloc((size_t)argc, sizeof *r->lens);
    if (!r->argv || !r->lens) {
        areq_free(r);
        return NULL;
    }
    for (int i = 0; i < argc; i++) {
        size_t l = lens ? lens[i] : strlen(argv[i]);
        r->argv[i] = es_malloc(l + 1);
        if (!r->argv[i]) {
            areq_free(r);
            return NULL;
        }
        memcpy(r->argv[i], argv[i], l);
        r->argv[i][l] = '\0';
        r->lens[i] = l;
    }
    return r;
}

int es_store_async_cmd(struct es_store_async *a, int argc, const char **argv, const size_t *lens,
                       es_store_async_cb *cb, void *ud)
{
    if (a->stopping)
        return ES_ECANCELED;
    struct areq *r = areq_new(a, -1, argc, argv, lens, cb, ud);
    if (!r)
        return ES_ENOMEM;
    int rc = send_req(r);
    if (rc)
        areq_free(r);
    return rc;
}

int es_store_async_script(struct es_store_async *a, int script, int nkeys, int nargs,
                          const char **argv, const size_t *lens, es_store_async_cb *cb, void *ud)
{
    if (a->stopping)
        return ES_ECANCELED;
    if (script < 0 || script >= ES__S_COUNT || nkeys < 0 || nargs < 0 || nkeys + nargs > 60)
        return ES_EINVAL;
    const char *full[64];
    size_t flens[64];
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    full[0] = "EVALSHA";
    /* an unknown digest draws NOSCRIPT, which loads the script: one round trip the first time */
    full[1] = a->sha[script][0] ? a->sha[script] : "0000000000000000000000000000000000000000";
    full[2] = nk;
    for (int i = 0; i < 3; i++)
        flens[i] = strlen(full[i]);
    for (int i = 0; i < nkeys + nargs; i++) {
        full[3 + i] = argv[i];
        flens[3 + i] = lens ? lens[i] : strlen(argv[i]);
    }
    struct areq *r = areq_new(a, script, 3 + nkeys + nargs, full, flens, cb, ud);
    if (!r)
        return ES_ENOMEM;
    int rc = send_req(r);
    if (rc)
        areq_free(r);
    return rc;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct es_store_async *a = h->data;
    a->timer_closed = 1;
    maybe_free(a);
}

void es_store_async_stop(struct es_store_async *a)
{
    if (!a || a->stopping)
        return;
    a->stopping = 1;
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, on_timer_closed);
    redisAsyncContext *ac = a->ac;
    a->ac = NULL;
    a->up = 0;
    if (ac) {
        /* pending callbacks run with NULL replies (ES_ECANCELED), and on_disconnect when it
         * was connected; a cannot be freed before the timer's close callback */
        redisAsyncFree(ac);
    }
}
