/*
 * The sender thread: its own uv loop, one libcurl multi handle on it (the
 * curl driver shared with the crawler, earshot/curluv.h), and an
 * es_store_async connection.
 *
 *   tick (5 ms) ──> XREADGROUP senders (own pending from "0" first, then ">"),
 *                   XAUTOCLAIM of entries idle > reclaim_ms (crashed peers)
 *        │          entries ─> req ─> render (sign at send time) ─> curl multi
 *        v
 *   done: 2xx (email: 250)  ─> XACK + XDEL + HDEL tries
 *         refused by the SSRF guard, 4xx except 408/425/429 ─> dead letter at once
 *         else              ─> HINCRBY tries; >= max_attempts ─> dead letter (LPUSH
 *                              es:alert:dead, LTRIM, XACK, XDEL); else wait
 *                              retry_base_ms × 2^(n-1) (capped, ±10 % jitter)
 *
 * The chat robots answer HTTP 200 with an error code in the body
 * (DingTalk/WeCom "errcode", Feishu "code"): a non-zero one is a failure.
 * Requests in flight are bounded by max_inflight; libcurl keeps connections
 * to a host alive between deliveries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "alert/internal.h"
#include "earshot/alloc.h"
#include "earshot/curluv.h"
#include "earshot/clock.h"
#include "earshot/log.h"
#include "earshot/store.h"

#define MOD "alert"
#define RESP_CAP (64u << 10)

enum { R_FLIGHT, R_WAIT, R_REDIS };

struct req {
    struct es__alert_sender *s;
    struct req *prev, *next;
    int state;
    char id[48];
    char key[40], sub[72], type[16];
    int ch;
    json_t *channel, *alert;
    char lang[8];
    int64_t ms, due_ms;
    int attempts;
    CURL *e;
    struct es__alert_msg msg;
    size_t sent;
    struct es_buf resp;
    char err[CURL_ERROR_SIZE];
    struct es__alert_guard g;
    long status;
    char reason[400];
};

struct es__alert_sender {
    struct es_alerter *a;
    uv_thread_t th;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_async_t wake;
    struct es_curluv *cu; /* curl's sockets and timer on this loop */
    CURLM *multi;         /* cu's; NULL once closing */
    struct es_store_async *rs;
    struct req *reqs;
    size_t n_reqs, n_flight;
    bool reading, pending_phase, claiming;
    char cursor[48];
    int64_t next_claim_ms, next_read_ms, stop_deadline;
    int stopping, closed;
    uint64_t rng;
};

static void noop_cb(void *ud, struct redisReply *r, int status)
{
    (void)ud;
    (void)r;
    (void)status;
}

static int64_t wall_ms(struct es__alert_sender *s)
{
    return es__alert_now_ms(&s->a->o);
}

static void req_unlink_free(struct req *r)
{
    struct es__alert_sender *s = r->s;
    if (r->prev)
        r->prev->next = r->next;
    else
        s->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    s->n_reqs--;
    json_decref(r->channel);
    json_decref(r->alert);
    es__alert_msg_cleanup(&r->msg);
    es_buf_cleanup(&r->resp);
    es_free(r);
}

static void cmd(struct es__alert_sender *s, int argc, const char **argv)
{
    if (s->rs)
        es_store_async_cmd(s->rs, argc, argv, NULL, noop_cb, NULL);
}

static void ack(struct es__alert_sender *s, const char *id)
{
    const char *a1[] = {"XACK", ES__ALERT_K_OUT, ES__ALERT_G_OUT, id};
    const char *a2[] = {"XDEL", ES__ALERT_K_OUT, id};
    const char *a3[] = {"HDEL", ES__ALERT_K_TRIES, id};
    cmd(s, 4, a1);
    cmd(s, 3, a2);
    cmd(s, 3, a3);
}

/* the target for logs and dead letters: scheme://host[:port]/path, no query (tokens) */
static void target(const char *url, char *out, size_t n)
{
    size_t k = strcspn(url, "?#");
    snprintf(out, n, "%.*s", (int)(k > 200 ? 200 : k), url);
}

static void dead(struct es__alert_sender *s, struct req *r)
{
    char tg[256];
    target(json_string_value(json_object_get(r->channel, "url")) ?
               json_string_value(json_object_get(r->channel, "url")) : "",
           tg, sizeof tg);
    json_t *d = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:I, s:I, s:O}", "key",
                          r->key, "id", r->id, "sub", r->sub, "ch", r->ch, "channel",
                          json_string_value(json_object_get(r->channel, "type")) ?
                              json_string_value(json_object_get(r->channel, "type")) : "",
                          "target", tg, "attempts", r->attempts, "reason", r->reason,
                          "status", (json_int_t)r->status, "ms", (json_int_t)wall_ms(s),
                          "alert", r->alert ? r->alert : json_null());
    char *js = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (js) {
        const char *a1[] = {"LPUSH", ES__ALERT_K_DEAD, js};
        const char *a2[] = {"LTRIM", ES__ALERT_K_DEAD, "0", ES__ALERT_DEAD_CAP};
        cmd(s, 3, a1);
        cmd(s, 4, a2);
        free(js);
        ack(s, r->id);
    } /* else: stays pending, retried after a restart */
    atomic_fetch_add(&s->a->n_dead, 1);
    es_log(ES_LOG_WARN, MOD, "event=dead key=%s channel=%s target=%s attempts=%d reason=\"%s\"",
           r->key, json_string_value(json_object_get(r->channel, "type")), tg, r->attempts,
           r->reason);
}

static uint64_t rnd(struct es__alert_sender *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ull;
}

static void schedule_retry(struct es__alert_sender *s, struct req *r)
{
    int64_t d = s->a->o.retry_base_ms;
    for (int i = 1; i < r->attempts && d < s->a->o.retry_max_ms; i++)
        d *= 2;
    if (d > s->a->o.retry_max_ms)
        d = s->a->o.retry_max_ms;
    int64_t j = d / 10;
    if (j > 0)
        d += (int64_t)(rnd(s) % (uint64_t)(2 * j + 1)) - j;
    r->due_ms = wall_ms(s) + d;
    r->state = R_WAIT;
    es_log(ES_LOG_INFO, MOD, "event=retry key=%s attempts=%d in_ms=%lld reason=\"%s\"", r->key,
           r->attempts, (long long)d, r->reason);
}

static void on_tries(void *ud, struct redisReply *rep, int status)
{
    struct req *r = ud;
    struct es__alert_sender *s = r->s;
    if (status == ES_ECANCELED || s->stopping) {
        req_unlink_free(r);
        return;
    }
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        r->attempts = (int)rep->integer;
    else
        r->attempts++;
    if (r->attempts >= s->a->o.max_attempts) {
        dead(s, r);
        req_unlink_free(r);
        return;
    }
    schedule_retry(s, r);
}

/* ---- one delivery ---- */

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct req *r = ud;
    es_buf_append(&r->resp, p, size * n); /* past the cap the rest is dropped, not an error */
    return size * n;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct req *r = ud;
    size_t left = r->msg.body.len - r->sent, k = size * n < left ? size * n : left;
    memcpy(buf, r->msg.body.data + r->sent, k);
    r->sent += k;
    return k;
}

static void failed(struct es__alert_sender *s, struct req *r, bool permanent)
{
    atomic_fetch_add(&s->a->n_failed, 1);
    if (permanent) {
        r->attempts++;
        dead(s, r);
        req_unlink_free(r);
        return;
    }
    r->state = R_REDIS;
    const char *argv[] = {"HINCRBY", ES__ALERT_K_TRIES, r->id, "1"};
    if (!s->rs || es_store_async_cmd(s->rs, 4, argv, NULL, on_tries, r) != 0) {
        r->attempts++;
        schedule_retry(s, r);
    }
}

static int start(struct es__alert_sender *s, struct req *r)
{
    es__alert_msg_cleanup(&r->msg);
    es_buf_reset(&r->resp);
    r->sent = 0;
    r->err[0] = '\0';
    r->status = 0;
    int rc = es__alert_render(r->channel, r->alert, r->lang, r->key, wall_ms(s), &r->msg);
    if (rc) {
        snprintf(r->reason, sizeof r->reason, "cannot render the message: %s", es_strerror(rc));
        failed(s, r, rc == ES_EINVAL);
        return rc;
    }
    bool email = es__alert_ch_parse(json_string_value(json_object_get(r->channel, "type"))) ==
                 ES__ALERT_CH_EMAIL;
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        failed(s, r, false);
        return ES_ENOMEM;
    }
    r->e = e;
    r->g.allow = &s->a->allow;
    r->g.refused = &s->a->n_refused;
    es__alert_guard_setup(e, &r->g, email);
    if (es__alert_tls_setup(e, r->channel, email) != 0) {
        curl_easy_cleanup(e);
        r->e = NULL;
        snprintf(r->reason, sizeof r->reason, "out of memory");
        failed(s, r, false);
        return ES_ENOMEM;
    }
    curl_easy_setopt(e, CURLOPT_URL, r->msg.url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->a->o.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->a->o.timeout_ms / 2));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "earshot-alerts/" ES_VERSION);
    if (email) {
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, r->msg.from);
        curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->msg.rcpt);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->msg.body.len);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->msg.body.data);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->msg.body.len);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->msg.hdr);
    }
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        r->e = NULL;
        snprintf(r->reason, sizeof r->reason, "curl_multi_add_handle failed");
        failed(s, r, false);
        return ES_EIO;
    }
    r->state = R_FLIGHT;
    s->n_flight++;
    return 0;
}

/* bot_error: the error code a chat robot put in an HTTP 200 body, 0 when none */
static long bot_error(struct req *r, char *msg, size_t n)
{
    int t = es__alert_ch_parse(json_string_value(json_object_get(r->channel, "type")));
    if (t != ES__ALERT_CH_DINGTALK && t != ES__ALERT_CH_WECOM && t != ES__ALERT_CH_FEISHU)
        return 0;
    json_t *j = json_loadb(r->resp.data ? r->resp.data : "", r->resp.len, 0, NULL);
    json_t *c = json_object_get(j, t == ES__ALERT_CH_FEISHU ? "code" : "errcode");
    if (!c && t == ES__ALERT_CH_FEISHU)
        c = json_object_get(j, "StatusCode");
    long code = json_is_integer(c) ? (long)json_integer_value(c) : 0;
    const char *m =
        json_string_value(json_object_get(j, t == ES__ALERT_CH_FEISHU ? "msg" : "errmsg"));
    snprintf(msg, n, "%.200s", m ? m : "");
    json_decref(j);
    return code;
}

static void finished(struct es__alert_sender *s, struct req *r, CURLcode res)
{
    long code = 0;
    curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(s->multi, r->e);
    curl_easy_cleanup(r->e);
    r->e = NULL;
    s->n_flight--;
    r->status = code;
    bool email = es__alert_ch_parse(json_string_value(json_object_get(r->channel, "type"))) ==
                 ES__ALERT_CH_EMAIL;
    if (res == CURLE_OK && (email || (code >= 200 && code < 300))) {
        char bm[256];
        long be = bot_error(r, bm, sizeof bm);
        if (be == 0) {
            ack(s, r->id);
            atomic_fetch_add(&s->a->n_delivered, 1);
            req_unlink_free(r);
            return;
        }
        snprintf(r->reason, sizeof r->reason, "robot error %ld: %s", be, bm);
        failed(s, r, false);
        return;
    }
    if (r->g.why[0]) {
        snprintf(r->reason, sizeof r->reason, "%s", r->g.why);
        failed(s, r, true);
        return;
    }
    if (res != CURLE_OK) {
        snprintf(r->reason, sizeof r->reason, "%s: %s", curl_easy_strerror(res),
                 r->err[0] ? r->err : "");
        failed(s, r, false);
        return;
    }
    snprintf(r->reason, sizeof r->reason, "HTTP %ld", code);
    failed(s, r, code >= 400 && code < 500 && code != 408 && code != 425 && code != 429);
}

static void on_transfer_done(void *ud, CURL *easy, CURLcode res)
{
    struct req *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    if (r)
        finished(ud, r, res);
}

/* ---- reading the delivery stream ---- */

static const char *fget(const redisReply *f, const char *k)
{
    if (!f || f->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, k) == 0)
            return f->element[i + 1]->str;
    return NULL;
}

static bool known(struct es__alert_sender *s, const char *id)
{
    for (struct req *r = s->reqs; r; r = r->next)
        if (strcmp(r->id, id) == 0)
            return true;
    return false;
}

/* take: one stream entry ([id, [field, value, ...]]) becomes a request */
static void take(struct es__alert_sender *s, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    if (known(s, id))
        return;
    if (f->type != REDIS_REPLY_ARRAY) {
        ack(s, id); /* deleted meanwhile */
        return;
    }
    struct req *r = es_calloc(1, sizeof *r);
    if (!r)
        return;
    r->s = s;
    es_buf_init(&r->resp, RESP_CAP);
    snprintf(r->id, sizeof r->id, "%s", id);
    const char *ch = fget(f, "channel"), *al = fget(f, "alert");
    snprintf(r->key, sizeof r->key, "%s", fget(f, "key") ? fget(f, "key") : "");
    snprintf(r->sub, sizeof r->sub, "%s", fget(f, "sub") ? fget(f, "sub") : "");
    snprintf(r->type, sizeof r->type, "%s", fget(f, "type") ? fget(f, "type") : "");
    snprintf(r->lang, sizeof r->lang, "%s", fget(f, "lang") ? fget(f, "lang") : "zh");
    r->ch = atoi(fget(f, "ch") ? fget(f, "ch") : "0");
    r->ms = strtoll(fget(f, "ms") ? fget(f, "ms") : "0", NULL, 10);
    r->channel = ch ? json_loads(ch, 0, NULL) : NULL;
    r->alert = al ? json_loads(al, 0, NULL) : NULL;
    r->next = s->reqs;
    if (s->reqs)
        s->reqs->prev = r;
    s->reqs = r;
    s->n_reqs++;
    if (!r->channel || !r->alert) {
        snprintf(r->reason, sizeof r->reason, "malformed delivery entry");
        failed(s, r, true);
        return;
    }
    start(s, r);
}

static const redisReply *stream_entries(const redisReply *rep)
{
    /* RESP2: [[stream, entries]] */
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2)
        return rep->element[0]->element[1];
    return NULL;
}

static void on_xread(void *ud, struct redisReply *rep, int status)
{
    struct es__alert_sender *s = ud;
    s->reading = false;
    if (status != 0 || !rep || s->stopping)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (strstr(rep->str, "NOGROUP")) {
            const char *g[] = {"XGROUP",        "CREATE", ES__ALERT_K_OUT,
                               ES__ALERT_G_OUT, "0",      "MKSTREAM"};
            cmd(s, 6, g);
        }
        s->next_read_ms = wall_ms(s) + 200;
        return;
    }
    const redisReply *en = stream_entries(rep);
    size_t n = en && en->type == REDIS_REPLY_ARRAY ? en->elements : 0;
    if (s->pending_phase) {
        if (n == 0) {
            s->pending_phase = false;
        } else {
            const redisReply *last = en->element[n - 1];
            if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1)
                snprintf(s->cursor, sizeof s->cursor, "%s", last->element[0]->str);
        }
    }
    for (size_t i = 0; i < n; i++)
        take(s, en->element[i]);
    if (n == 0 && !s->pending_phase)
        s->next_read_ms = wall_ms(s) + 5; /* idle: poll again soon (no BLOCK on a shared
                                             connection) */
}

static void on_claim(void *ud, struct redisReply *rep, int status)
{
    struct es__alert_sender *s = ud;
    s->claiming = false;
    if (status != 0 || !rep || s->stopping || rep->type != REDIS_REPLY_ARRAY ||
        rep->elements < 2)
        return;
    const redisReply *en = rep->element[1];
    for (size_t i = 0; en->type == REDIS_REPLY_ARRAY && i < en->elements; i++)
        take(s, en->element[i]);
}

static void close_all(struct es__alert_sender *s);

static void on_tick(uv_timer_t *t)
{
    struct es__alert_sender *s = t->data;
    int64_t now = wall_ms(s);
    if (s->stopping) {
        if (s->n_flight == 0 || es_clock_mono_ms() >= s->stop_deadline)
            close_all(s);
        return;
    }
    size_t max = (size_t)s->a->o.max_inflight;
    for (struct req *r = s->reqs, *nx; r && s->n_flight < max; r = nx) {
        nx = r->next;
        if (r->state == R_WAIT && r->due_ms <= now)
            start(s, r);
    }
    bool up = s->rs && es_store_async_connected(s->rs);
    if (up && !s->reading && s->n_reqs < max && now >= s->next_read_ms) {
        char count[24];
        snprintf(count, sizeof count, "%zu", max - s->n_reqs);
        const char *argv[] = {"XREADGROUP",   "GROUP",         ES__ALERT_G_OUT,
                              s->a->consumer, "COUNT",         count,
                              "STREAMS",      ES__ALERT_K_OUT, s->pending_phase ? s->cursor : ">"};
        if (es_store_async_cmd(s->rs, 9, argv, NULL, on_xread, s) == 0)
            s->reading = true;
    }
    if (up && !s->claiming && now >= s->next_claim_ms && s->n_reqs < max) {
        char idle[32];
        snprintf(idle, sizeof idle, "%lld", (long long)s->a->o.reclaim_ms);
        const char *argv[] = {"XAUTOCLAIM", ES__ALERT_K_OUT, ES__ALERT_G_OUT, s->a->consumer,
                              idle,         "0-0",           "COUNT",         "100"};
        if (es_store_async_cmd(s->rs, 8, argv, NULL, on_claim, s) == 0)
            s->claiming = true;
        s->next_claim_ms = now + s->a->o.reclaim_ms / 2;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_all(struct es__alert_sender *s)
{
    if (s->closed)
        return;
    s->closed = 1;
    for (struct req *r = s->reqs; r; r = r->next)
        if (r->e) {
            curl_multi_remove_handle(s->multi, r->e);
            curl_easy_cleanup(r->e);
            r->e = NULL;
        }
    s->n_flight = 0;
    s->multi = NULL;
    es_curluv_close(s->cu, NULL, NULL); /* closes cached connections, then its handles */
    s->cu = NULL;
    /* requests waiting for Redis are freed by their callbacks (ES_ECANCELED) */
    es_store_async_stop(s->rs);
    s->rs = NULL;
    while (s->reqs)
        req_unlink_free(s->reqs);
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, on_handle_closed);
    uv_close((uv_handle_t *)&s->wake, on_handle_closed);
}

static void on_wake(uv_async_t *w)
{
    struct es__alert_sender *s = w->data;
    if (atomic_load(&s->a->stop) && !s->stopping) {
        s->stopping = 1;
        s->stop_deadline = es_clock_mono_ms() + 5000;
    }
}

static void thread_main(void *arg)
{
    struct es__alert_sender *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
}

int es__alert_sender_start(struct es_alerter *a, struct es_diag *d)
{
    struct es__alert_sender *s = es_calloc(1, sizeof *s);
    if (!s)
        return ES_ENOMEM;
    s->a = a;
    s->pending_phase = true;
    snprintf(s->cursor, sizeof s->cursor, "0");
    s->rng = (uint64_t)es_clock_mono_ms() * 0x9E3779B97F4A7C15ull | 1;
    s->next_claim_ms = 0;
    if (uv_loop_init(&s->loop) != 0) {
        es_free(s);
        return ES_EIO;
    }
    int rc = es_curluv_new(&s->loop, on_transfer_done, NULL, s, &s->cu);
    if (rc == 0)
        rc = es_store_async_start(&s->loop, a->url, &s->rs);
    if (rc) {
        es_diag_set(d, a->url, 0, 0, "cannot start the Redis client: %s", es_strerror(rc));
        es_curluv_close(s->cu, NULL, NULL);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        es_free(s);
        return rc;
    }
    s->multi = es_curluv_multi(s->cu);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)a->o.max_inflight);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
    uv_timer_init(&s->loop, &s->tick);
    uv_async_init(&s->loop, &s->wake, on_wake);
    s->tick.data = s->wake.data = s;
    uv_timer_start(&s->tick, on_tick, 5, 5);
    if (uv_thread_create(&s->th, thread_main, s) != 0) {
        close_all(s);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        es_free(s);
        return ES_EIO;
    }
    a->s = s;
    return 0;
}

void es__alert_sender_stop(struct es_alerter *a)
{
    struct es__alert_sender *s = a->s;
    if (!s)
        return;
    uv_async_send(&s->wake);
    uv_thread_join(&s->th);
    if (uv_loop_close(&s->loop) != 0)
        es_log(ES_LOG_WARN, MOD, "event=loop_not_empty");
    es_free(s);
    a->s = NULL;
}
