/*
 * The matcher thread: events in, deliveries out, nothing lost in between.
 *
 *   XREADGROUP alerts (own pending first, from "0", then ">")
 *     -> HGETALL of each mention (text, author, complaint)
 *     -> ZCOUNT of the customer's negative interactions (churn: >= 2 in 30 days,
 *        once per customer per window: SET NX es:alert:churn:<platform>:<author>)
 *     -> for each matching subscription and channel: XADD es:alert:out with a
 *        deterministic idempotency key; digest subscriptions accumulate instead
 *     -> XACK the events only after every XADD succeeded
 *
 * Every spike_check_s it reads the minutes completed since the last check
 * from es:stats:<minute> (on start: window + baseline minutes back) and feeds
 * one detector per brand and per brand+category; a spike is one alert
 * (SET NX es:alert:spike:<series>:<minute>), however often it is recomputed.
 *
 * A crash before the XACK makes the events pending: the restarted matcher
 * reads them again and emits the same keys (the receiver drops duplicates).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "alert/internal.h"
#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "earshot/log.h"
#include "earshot/norm.h"

#define MOD "alert"
#define BATCH 256
#define MAX_SERIES 4096
#define MAX_ARGS 24

struct cmd {
    int argc;
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    char *own[MAX_ARGS];
};

struct cmdq {
    struct cmd *v;
    int n, cap;
};

struct msub {
    json_t *sub;          /* the stored object (owned) */
    const char *id;
    bool digest, ev_mention, ev_spike, ev_churn;
    int interval_s;
    char **kw;            /* normalised keywords */
    size_t n_kw;
};

struct series {
    char name[300];       /* the es:stats field: brand:<b> or bc:<b>:<c> */
    char brand[160], category[160];
    struct es_spike sp;
};

struct es__alert_matcher {
    struct es_alerter *a;
    uv_thread_t th;
    struct es__alert_adb db;
    struct es_norm *norm;
    struct es_norm_out nout;
    struct msub *subs;
    size_t n_subs;
    long long ver;
    bool have_ver;
    struct series *ser;
    size_t n_ser;
    int64_t fed_minute;   /* last minute fed to the detectors; -1 before the first check */
    int64_t next_spike_ms, next_digest_ms;
};

/* ---- commands ---- */

static void cmdq_reset(struct cmdq *q)
{
    for (int i = 0; i < q->n; i++)
        for (int j = 0; j < q->v[i].argc; j++)
            es_free(q->v[i].own[j]);
    q->n = 0;
}

static void cmdq_free(struct cmdq *q)
{
    cmdq_reset(q);
    es_free(q->v);
    q->v = NULL;
    q->cap = 0;
}

/* cmd: append a command of NULL-terminated string arguments (copied). */
static int cmd(struct cmdq *q, ...)
{
    if (q->n == q->cap) {
        int nc = q->cap ? q->cap * 2 : 64;
        struct cmd *v = es_realloc(q->v, (size_t)nc * sizeof *v);
        if (!v)
            return ES_ENOMEM;
        q->v = v;
        q->cap = nc;
    }
    struct cmd *c = &q->v[q->n];
    c->argc = 0;
    va_list ap;
    va_start(ap, q);
    const char *s;
    int rc = 0;
    while ((s = va_arg(ap, const char *)) != NULL) {
        if (c->argc == MAX_ARGS || !(c->own[c->argc] = es_strdup(s))) {
            rc = ES_ENOMEM;
            break;
        }
        c->argv[c->argc] = c->own[c->argc];
        c->lens[c->argc] = strlen(s);
        c->argc++;
    }
    va_end(ap);
    if (rc) {
        for (int j = 0; j < c->argc; j++)
            es_free(c->own[j]);
        return rc;
    }
    q->n++;
    return 0;
}

/* run: every queued command in one round trip; rep (q->n entries) gets the replies. */
static int run(struct es__alert_matcher *m, struct cmdq *q, redisReply **rep)
{
    if (q->n == 0)
        return 0;
    int *argc = es_malloc((size_t)q->n * sizeof *argc);
    const char ***argv = es_malloc((size_t)q->n * sizeof *argv);
    const size_t **lens = es_malloc((size_t)q->n * sizeof *lens);
    int rc = ES_ENOMEM;
    if (argc && argv && lens) {
        for (int i = 0; i < q->n; i++) {
            argc[i] = q->v[i].argc;
            argv[i] = q->v[i].argv;
            lens[i] = q->v[i].lens;
        }
        rc = es__alert_adb_pipe(&m->db, q->n, argc, argv, lens, rep);
    }
    es_free(argc);
    es_free(argv);
    es_free(lens);
    return rc;
}

static void free_replies(redisReply **rep, int n)
{
    for (int i = 0; i < n; i++) {
        if (rep[i])
            freeReplyObject(rep[i]);
        rep[i] = NULL;
    }
}

static const char *dflt(const char *s, const char *d)
{
    return s ? s : d;
}

/* ---- subscriptions ---- */

static void subs_free(struct es__alert_matcher *m)
{
    for (size_t i = 0; i < m->n_subs; i++) {
        json_decref(m->subs[i].sub);
        for (size_t k = 0; k < m->subs[i].n_kw; k++)
            es_free(m->subs[i].kw[k]);
        es_free(m->subs[i].kw);
    }
    es_free(m->subs);
    m->subs = NULL;
    m->n_subs = 0;
}

static bool has(json_t *arr, const char *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *s = json_string_value(e);
        if (s && v && strcmp(s, v) == 0)
            return true;
    }
    return false;
}

static char *norm_dup(struct es__alert_matcher *m, const char *s)
{
    if (!m->norm) {
        const char *warn = NULL;
        m->norm = es_norm_new(NULL, &warn);
        if (!m->norm)
            return NULL;
        if (warn)
            es_log(ES_LOG_WARN, MOD, "event=norm detail=\"%s\"", warn);
        es_norm_out_init(&m->nout, 1 << 20);
    }
    if (es_norm_text(m->norm, s, strlen(s), &m->nout) != 0)
        return NULL;
    return es_strndup(m->nout.text, m->nout.len);
}

static void load_subs(struct es__alert_matcher *m)
{
    const char *a1[] = {"GET", ES__ALERT_K_SUBS_VER};
    redisReply *r = es__alert_adb_cmd(&m->db, 2, a1, NULL);
    if (!r)
        return;
    long long ver = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    if (m->have_ver && ver == m->ver)
        return;
    const char *a2[] = {"SMEMBERS", ES__ALERT_K_SUBS};
    r = es__alert_adb_cmd(&m->db, 2, a2, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return;
    }
    subs_free(m);
    m->subs = es_calloc(r->elements ? r->elements : 1, sizeof *m->subs);
    for (size_t i = 0; m->subs && i < r->elements; i++) {
        char key[128];
        snprintf(key, sizeof key, ES__ALERT_K_SUB "%s", r->element[i]->str);
        const char *a3[] = {"GET", key};
        redisReply *g = es__alert_adb_cmd(&m->db, 2, a3, NULL);
        json_t *sub = g && g->type == REDIS_REPLY_STRING ? json_loadb(g->str, g->len, 0, NULL)
                                                          : NULL;
        if (g)
            freeReplyObject(g);
        if (!sub)
            continue;
        struct msub *s = &m->subs[m->n_subs++];
        s->sub = sub;
        s->id = json_string_value(json_object_get(sub, "id"));
        if (!s->id)
            s->id = "";
        s->digest =
            strcmp(dflt(json_string_value(json_object_get(sub, "mode")), ""), "digest") == 0;
        json_t *iv = json_object_get(sub, "interval_s");
        s->interval_s = json_is_integer(iv) ? (int)json_integer_value(iv)
                                            : m->a->o.digest_interval_s;
        json_t *ev = json_object_get(sub, "events");
        s->ev_mention = has(ev, "mention");
        s->ev_spike = has(ev, "spike");
        s->ev_churn = has(ev, "churn");
        json_t *kw = json_object_get(sub, "keywords");
        if (json_array_size(kw)) {
            s->kw = es_calloc(json_array_size(kw), sizeof *s->kw);
            size_t k;
            json_t *e;
            json_array_foreach(kw, k, e) {
                char *nk = s->kw ? norm_dup(m, json_string_value(e)) : NULL;
                if (nk)
                    s->kw[s->n_kw++] = nk;
            }
        }
    }
    freeReplyObject(r);
    m->ver = ver;
    m->have_ver = true;
    es_log(ES_LOG_INFO, MOD, "event=subscriptions count=%zu version=%lld", m->n_subs, ver);
}

/* ---- deliveries ---- */

static json_t *sub_filter_ok(struct msub *s, const char *brand, const char *category)
{
    json_t *b = json_object_get(s->sub, "brands"), *c = json_object_get(s->sub, "categories");
    if (json_array_size(b) && !has(b, brand))
        return NULL;
    if (json_array_size(c) && !has(c, category))
        return NULL;
    return s->sub;
}

/* deliver queues one XADD per channel of s for alert (alert id in "id"). */
static int deliver(struct es__alert_matcher *m, struct cmdq *q, struct msub *s, json_t *alert,
                   int64_t event_ms)
{
    json_t *chs = json_object_get(s->sub, "channels");
    const char *aid = json_string_value(json_object_get(alert, "id"));
    const char *lang = json_string_value(json_object_get(s->sub, "lang"));
    json_object_set_new(alert, "sub", json_string(s->id));
    json_object_set_new(alert, "sub_name",
                        json_string(dflt(json_string_value(json_object_get(s->sub, "name")), "")));
    char *aj = json_dumps(alert, JSON_COMPACT);
    if (!aj)
        return ES_ENOMEM;
    size_t i;
    json_t *c;
    int rc = 0;
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)event_ms);
    json_array_foreach(chs, i, c) {
        char idx[24], key[33];
        snprintf(idx, sizeof idx, "%zu", i);
        es__alert_idem_key(key, s->id, aid ? aid : "", idx);
        char *cj = json_dumps(c, JSON_COMPACT);
        if (!cj) {
            rc = ES_ENOMEM;
            break;
        }
        rc = cmd(q, "XADD", ES__ALERT_K_OUT, "MAXLEN", "~", ES__ALERT_OUT_MAXLEN, "*", "key", key,
                 "sub", s->id, "ch", idx, "type",
                 dflt(json_string_value(json_object_get(alert, "type")), "mention"), "lang",
                 lang ? lang : "zh", "ms", ms, "channel", cj, "alert", aj, (const char *)NULL);
        free(cj);
        if (rc)
            break;
        atomic_fetch_add(&m->a->n_alerts, 1);
    }
    free(aj);
    return rc;
}

static const char *hget(const redisReply *r, const char *k)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, k) == 0)
            return r->element[i + 1]->str;
    return NULL;
}

static int shard_of_mid(const char *mid)
{
    if (!mid || mid[0] != 'm')
        return -1;
    char *end;
    long k = strtol(mid + 1, &end, 10);
    return *end == '-' && k >= 0 && k < 1024 ? (int)k : -1;
}

struct ev {
    char id[48];
    const char *mid, *brand, *category, *fence, *platform;
    int severity;
    int64_t ms;
    bool skip;
};

static json_t *mention_alert(const struct ev *e, const redisReply *h)
{
    const char *name = hget(h, "author_name"), *handle = hget(h, "author_handle");
    char author[400];
    if (handle && *handle)
        snprintf(author, sizeof author, "%s%s@%s", name && *name ? name : "",
                 name && *name ? " " : "", handle);
    else
        snprintf(author, sizeof author, "%s", name ? name : "");
    json_t *a = json_object();
    if (!a)
        return NULL;
    json_object_set_new(a, "id", json_string(e->mid));
    json_object_set_new(a, "type", json_string("mention"));
    json_object_set_new(a, "mid", json_string(e->mid));
    json_object_set_new(a, "brand", json_string(e->brand));
    json_object_set_new(a, "category", json_string(e->category));
    json_object_set_new(a, "severity", json_integer(e->severity));
    json_object_set_new(a, "platform", json_string(e->platform));
    json_object_set_new(a, "fence", json_string(e->fence));
    /* strings from Redis may carry invalid UTF-8 only if the store let it through; json_string
     * refuses those, so fall back to an empty string */
    const char *text = hget(h, "text");
    json_t *t = text ? json_string(text) : NULL;
    json_object_set_new(a, "text", t ? t : json_string(""));
    json_t *au = json_string(author);
    json_object_set_new(a, "author", au ? au : json_string(""));
    json_object_set_new(a, "author_id", json_string(dflt(hget(h, "author_id"), "")));
    json_object_set_new(a, "url", json_string(dflt(hget(h, "url"), "")));
    json_object_set_new(a, "created_at", json_string(dflt(hget(h, "created_at"), "")));
    json_object_set_new(a, "event_ms", json_integer(e->ms));
    return a;
}

static bool keywords_ok(struct es__alert_matcher *m, struct msub *s, const char *text)
{
    if (!s->n_kw)
        return true;
    if (!text || !m->norm || es_norm_text(m->norm, text, strlen(text), &m->nout) != 0)
        return false;
    for (size_t k = 0; k < s->n_kw; k++)
        if (strstr(m->nout.text, s->kw[k]))
            return true;
    return false;
}

static int digest_add(struct es__alert_matcher *m, struct cmdq *q, struct msub *s, json_t *alert)
{
    char k1[128], k2[140], now[32], score[64];
    snprintf(k1, sizeof k1, ES__ALERT_K_DIG "%s", s->id);
    snprintf(k2, sizeof k2, ES__ALERT_K_DIG "%s:top", s->id);
    snprintf(now, sizeof now, "%lld", (long long)es__alert_now_ms(&m->a->o));
    long long sev = json_integer_value(json_object_get(alert, "severity"));
    long long ems = json_integer_value(json_object_get(alert, "event_ms"));
    snprintf(score, sizeof score, "%lld", sev * 10000000000000LL + ems % 10000000000000LL);
    json_t *p = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "mid",
                          json_object_get(alert, "mid"), "brand", json_object_get(alert, "brand"),
                          "severity", json_object_get(alert, "severity"), "text",
                          json_object_get(alert, "text"), "url", json_object_get(alert, "url"),
                          "author", json_object_get(alert, "author"));
    char *pj = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!pj)
        return ES_ENOMEM;
    int rc = cmd(q, "HSETNX", k1, "start_ms", now, (const char *)NULL);
    rc = rc ? rc : cmd(q, "HINCRBY", k1, "count", "1", (const char *)NULL);
    rc = rc ? rc : cmd(q, "ZADD", k2, score, pj, (const char *)NULL);
    rc = rc ? rc : cmd(q, "ZREMRANGEBYRANK", k2, "0", "-6", (const char *)NULL);
    free(pj);
    return rc;
}

static bool all_ok(redisReply **rep, int n)
{
    for (int i = 0; i < n; i++)
        if (!rep[i] || rep[i]->type == REDIS_REPLY_ERROR)
            return false;
    return true;
}

/* process one batch of es:events entries (r is the XREADGROUP stream's entry array) */
static int process(struct es__alert_matcher *m, const redisReply *entries)
{
    size_t n = entries->elements;
    struct ev *ev = es_calloc(n ? n : 1, sizeof *ev);
    struct cmdq q = {0}, q2 = {0};
    redisReply **rep = NULL, **rep2 = NULL;
    json_t **alerts = es_calloc(n ? n : 1, sizeof *alerts);
    int64_t now = es__alert_now_ms(&m->a->o);
    int64_t win = m->a->o.churn_window_ms;
    int rc = ES_ENOMEM;
    if (!ev || !alerts)
        goto out;
    /* 1: the mentions */
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = entries->element[i];
        struct ev *x = &ev[i];
        x->skip = true;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        snprintf(x->id, sizeof x->id, "%s", e->element[0]->str);
        const redisReply *f = e->element[1];
        const char *type = hget(f, "type");
        x->mid = hget(f, "mid");
        x->brand = dflt(hget(f, "brand"), "");
        x->category = dflt(hget(f, "category"), "");
        x->fence = dflt(hget(f, "fence"), "");
        x->platform = dflt(hget(f, "platform"), "");
        x->severity = atoi(dflt(hget(f, "severity"), "0"));
        x->ms = strtoll(dflt(hget(f, "ms"), "0"), NULL, 10);
        if (type && strcmp(type, "new") && strcmp(type, "mention"))
            continue; /* state changes are not alerts */
        if (shard_of_mid(x->mid) < 0)
            continue;
        x->skip = false;
        atomic_fetch_add(&m->a->n_events, 1);
        char key[160];
        snprintf(key, sizeof key, "es:{s%d}:m:%s", shard_of_mid(x->mid), x->mid);
        if ((rc = cmd(&q, "HGETALL", key, (const char *)NULL)) != 0)
            goto out;
    }
    rep = es_calloc((size_t)q.n + 1, sizeof *rep);
    if (!rep || (rc = run(m, &q, rep)) != 0)
        goto out;
    /* 2: churn counts of complaints */
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].skip)
            continue;
        redisReply *h = rep[k++];
        alerts[i] = mention_alert(&ev[i], h);
        if (!alerts[i]) {
            rc = ES_ENOMEM;
            goto out;
        }
        const char *complaint = hget(h, "complaint"), *aid = hget(h, "author_id");
        if (complaint && strcmp(complaint, "1") == 0 && aid && *aid) {
            char key[600], min[32];
            snprintf(key, sizeof key, "es:{s%d}:neg:%s:%s", shard_of_mid(ev[i].mid),
                     ev[i].platform, aid);
            snprintf(min, sizeof min, "%lld", (long long)(now - win));
            if ((rc = cmd(&q2, "ZCOUNT", key, min, "+inf", (const char *)NULL)) != 0)
                goto out;
            json_object_set_new(alerts[i], "_churn_q", json_integer(q2.n - 1));
        }
    }
    free_replies(rep, q.n);
    cmdq_reset(&q);
    rep2 = es_calloc((size_t)q2.n + 1, sizeof *rep2);
    if (!rep2 || (rc = run(m, &q2, rep2)) != 0)
        goto out;
    /* churn dedup: SET NX per customer and window */
    struct cmdq q3 = {0};
    int *churn_of = es_calloc(n ? n : 1, sizeof *churn_of);
    if (!churn_of) {
        rc = ES_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        churn_of[i] = -1;
        json_t *cq = alerts[i] ? json_object_get(alerts[i], "_churn_q") : NULL;
        if (!cq)
            continue;
        redisReply *c = rep2[json_integer_value(cq)];
        json_object_del(alerts[i], "_churn_q");
        if (!c || c->type != REDIS_REPLY_INTEGER || c->integer < 2)
            continue;
        json_object_set_new(alerts[i], "negatives_30d", json_integer(c->integer));
        char key[600], px[32];
        snprintf(key, sizeof key, ES__ALERT_K_CHURN "%s:%s", ev[i].platform,
                 json_string_value(json_object_get(alerts[i], "author_id")));
        snprintf(px, sizeof px, "%lld", (long long)win);
        if (cmd(&q3, "SET", key, ev[i].mid, "NX", "PX", px, (const char *)NULL) == 0)
            churn_of[i] = q3.n - 1;
    }
    redisReply **rep3 = es_calloc((size_t)q3.n + 1, sizeof *rep3);
    if (rep3 && run(m, &q3, rep3) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (churn_of[i] < 0)
                continue;
            redisReply *c = rep3[churn_of[i]];
            if (c && c->type == REDIS_REPLY_STATUS)
                json_object_set_new(alerts[i], "_churn", json_true());
        }
    }
    if (rep3)
        free_replies(rep3, q3.n);
    es_free(rep3);
    cmdq_free(&q3);
    es_free(churn_of);
    /* 3: deliveries for every matching subscription */
    for (size_t i = 0; i < n; i++) {
        if (!alerts[i])
            continue;
        bool churn = json_object_get(alerts[i], "_churn") != NULL;
        json_object_del(alerts[i], "_churn");
        const char *text = json_string_value(json_object_get(alerts[i], "text"));
        for (size_t j = 0; j < m->n_subs; j++) {
            struct msub *s = &m->subs[j];
            if (!sub_filter_ok(s, ev[i].brand, ev[i].category))
                continue;
            json_t *fences = json_object_get(s->sub, "fences");
            bool sev_ok =
                ev[i].severity >= json_integer_value(json_object_get(s->sub, "min_severity"));
            bool fence_ok = !json_array_size(fences) || has(fences, ev[i].fence);
            if (s->ev_mention && sev_ok && fence_ok && keywords_ok(m, s, text)) {
                json_t *a = json_deep_copy(alerts[i]);
                rc = a ? (s->digest ? digest_add(m, &q, s, a) : deliver(m, &q, s, a, ev[i].ms))
                       : ES_ENOMEM;
                json_decref(a);
                if (rc)
                    goto out;
            }
            if (churn && s->ev_churn) {
                json_t *a = json_deep_copy(alerts[i]);
                if (!a) {
                    rc = ES_ENOMEM;
                    goto out;
                }
                char id[700];
                snprintf(id, sizeof id, "churn:%s:%s", ev[i].platform,
                         json_string_value(json_object_get(a, "author_id")));
                json_object_set_new(a, "id", json_string(id));
                json_object_set_new(a, "type", json_string("churn"));
                rc = deliver(m, &q, s, a, ev[i].ms);
                json_decref(a);
                if (rc)
                    goto out;
            }
        }
    }
    /* 4: the deliveries, then the acknowledgement */
    es_free(rep);
    rep = es_calloc((size_t)q.n + 1, sizeof *rep);
    if (!rep || (rc = run(m, &q, rep)) != 0)
        goto out;
    if (!all_ok(rep, q.n)) {
        es_log(ES_LOG_WARN, MOD, "event=xadd_failed detail=\"events stay pending\"");
        rc = ES_EIO;
        goto out;
    }
    free_replies(rep, q.n);
    cmdq_reset(&q);
    for (size_t i = 0; i < n; i++) {
        if (!ev[i].id[0])
            continue;
        if ((rc = cmd(&q, "XACK", ES__ALERT_EVENTS, ES__ALERT_G_EVENTS, ev[i].id,
                      (const char *)NULL)) != 0)
            goto out;
    }
    es_free(rep);
    rep = es_calloc((size_t)q.n + 1, sizeof *rep);
    rc = rep ? run(m, &q, rep) : ES_ENOMEM;
out:
    if (rep)
        free_replies(rep, q.n);
    if (rep2)
        free_replies(rep2, q2.n);
    es_free(rep);
    es_free(rep2);
    cmdq_free(&q);
    cmdq_free(&q2);
    for (size_t i = 0; alerts && i < n; i++)
        json_decref(alerts[i]);
    es_free(alerts);
    es_free(ev);
    return rc;
}

/* ---- digests ---- */

static void digest_flush(struct es__alert_matcher *m, struct msub *s, int64_t now)
{
    char k1[128], k2[140], f1[140], f2[150];
    snprintf(k1, sizeof k1, ES__ALERT_K_DIG "%s", s->id);
    snprintf(k2, sizeof k2, ES__ALERT_K_DIG "%s:top", s->id);
    snprintf(f1, sizeof f1, ES__ALERT_K_DIG "%s:flush", s->id);
    snprintf(f2, sizeof f2, ES__ALERT_K_DIG "%s:flush:top", s->id);
    const char *ex[] = {"EXISTS", f1};
    redisReply *r = es__alert_adb_cmd(&m->db, 2, ex, NULL);
    bool pending = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    if (!pending) {
        const char *hg[] = {"HGET", k1, "start_ms"};
        r = es__alert_adb_cmd(&m->db, 3, hg, NULL);
        int64_t start = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
        if (r)
            freeReplyObject(r);
        if (!start || now < start + (int64_t)s->interval_s * 1000)
            return;
        /* move the interval aside atomically: mentions arriving now open the next one */
        struct cmdq q = {0};
        redisReply *rep[4] = {0};
        if (cmd(&q, "MULTI", (const char *)NULL) == 0 &&
            cmd(&q, "RENAME", k1, f1, (const char *)NULL) == 0 &&
            cmd(&q, "RENAME", k2, f2, (const char *)NULL) == 0 &&
            cmd(&q, "EXEC", (const char *)NULL) == 0)
            run(m, &q, rep);
        free_replies(rep, q.n);
        cmdq_free(&q);
    }
    const char *hga[] = {"HGETALL", f1};
    const char *zr[] = {"ZREVRANGE", f2, "0", "4"};
    redisReply *h = es__alert_adb_cmd(&m->db, 2, hga, NULL);
    redisReply *z = es__alert_adb_cmd(&m->db, 4, zr, NULL);
    const char *start = hget(h, "start_ms");
    if (start) {
        json_t *top = json_array();
        for (size_t i = 0; top && z && z->type == REDIS_REPLY_ARRAY && i < z->elements; i++) {
            json_t *p = json_loadb(z->element[i]->str, z->element[i]->len, 0, NULL);
            if (p)
                json_array_append_new(top, p);
        }
        char id[200];
        snprintf(id, sizeof id, "digest:%s:%s", s->id, start);
        json_t *a = json_pack("{s:s, s:s, s:I, s:i, s:I, s:o?}", "id", id, "type", "digest",
                              "count", (json_int_t)strtoll(dflt(hget(h, "count"), "0"), NULL, 10),
                              "interval_s", s->interval_s, "event_ms",
                              (json_int_t)strtoll(start, NULL, 10), "top", top);
        /* the XADDs first; the interval is deleted only once every delivery is in the
         * stream, else it stays aside and the next check sends it again (same key) */
        struct cmdq q = {0};
        redisReply **rep = NULL;
        if (a && deliver(m, &q, s, a, strtoll(start, NULL, 10)) == 0) {
            rep = es_calloc((size_t)q.n + 1, sizeof *rep);
            bool sent = rep && run(m, &q, rep) == 0 && all_ok(rep, q.n);
            if (rep)
                free_replies(rep, q.n);
            cmdq_reset(&q);
            if (sent && cmd(&q, "DEL", f1, f2, (const char *)NULL) == 0 && run(m, &q, rep) == 0)
                es_log(ES_LOG_INFO, MOD, "event=digest sub=%s", s->id);
            else if (!sent)
                es_log(ES_LOG_WARN, MOD, "event=digest_xadd_failed sub=%s", s->id);
        }
        if (rep)
            free_replies(rep, q.n);
        es_free(rep);
        cmdq_free(&q);
        json_decref(a);
    }
    if (h)
        freeReplyObject(h);
    if (z)
        freeReplyObject(z);
}

/* ---- spikes ---- */

static struct series *series_get(struct es__alert_matcher *m, const char *field, int64_t before)
{
    for (size_t i = 0; i < m->n_ser; i++)
        if (strcmp(m->ser[i].name, field) == 0)
            return &m->ser[i];
    if (m->n_ser == MAX_SERIES || strlen(field) >= sizeof m->ser[0].name)
        return NULL;
    struct series *v = es_realloc(m->ser, (m->n_ser + 1) * sizeof *v);
    if (!v)
        return NULL;
    m->ser = v;
    struct series *s = &m->ser[m->n_ser];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", field);
    if (strncmp(field, "brand:", 6) == 0) {
        snprintf(s->brand, sizeof s->brand, "%s", field + 6);
    } else {
        const char *b = field + 3, *c = strchr(b, ':');
        if (!c)
            return NULL;
        snprintf(s->brand, sizeof s->brand, "%.*s", (int)(c - b), b);
        snprintf(s->category, sizeof s->category, "%s", c + 1);
    }
    if (es_spike_init(&s->sp, &m->a->o.spike) != 0)
        return NULL;
    s->sp.last_minute = before; /* earlier minutes count as zeros */
    m->n_ser++;
    return s;
}

static void spike_alert(struct es__alert_matcher *m, struct series *s, int64_t minute,
                        const struct es_spike_verdict *v)
{
    char key[400], id[400];
    snprintf(key, sizeof key, ES__ALERT_K_SPIKE "%s:%lld", s->name, (long long)minute);
    const char *sx[] = {"SET", key, "1", "NX", "EX", "172800"};
    redisReply *r = es__alert_adb_cmd(&m->db, 6, sx, NULL);
    bool first = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    if (!first)
        return;
    snprintf(id, sizeof id, "spike:%s:%lld", s->name, (long long)minute);
    es_log(ES_LOG_INFO, MOD, "event=spike series=%s rate=%.0f baseline=%.1f", s->name, v->rate,
           v->baseline);
    struct cmdq q = {0};
    for (size_t j = 0; j < m->n_subs; j++) {
        struct msub *sub = &m->subs[j];
        json_t *cats = json_object_get(sub->sub, "categories");
        /* brand-level spikes for subscriptions without a category filter, per category ones
         * for those with one */
        if (!sub->ev_spike || (json_array_size(cats) ? !s->category[0] : !!s->category[0]))
            continue;
        if (!sub_filter_ok(sub, s->brand, s->category))
            continue;
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:f, s:f, s:f, s:i, s:i, s:I}}", "id",
                              id, "type", "spike", "brand", s->brand, "category", s->category,
                              "event_ms", (json_int_t)(minute * 60000), "spike", "rate", v->rate,
                              "baseline", v->baseline, "ratio", v->ratio, "window_min",
                              s->sp.o.window_min, "baseline_min", s->sp.o.baseline_min,
                              "minute_ms", (json_int_t)(minute * 60000));
        if (a)
            deliver(m, &q, sub, a, es__alert_now_ms(&m->a->o));
        json_decref(a);
    }
    redisReply **rep = es_calloc((size_t)q.n + 1, sizeof *rep);
    if (rep && run(m, &q, rep) == 0 && !all_ok(rep, q.n)) {
        /* allow a retry on the next check */
        const char *dx[] = {"DEL", key};
        redisReply *d = es__alert_adb_cmd(&m->db, 2, dx, NULL);
        if (d)
            freeReplyObject(d);
    }
    if (rep)
        free_replies(rep, q.n);
    es_free(rep);
    cmdq_free(&q);
}

static void spike_check(struct es__alert_matcher *m, int64_t now)
{
    int64_t cur = now / 60000; /* the current minute is incomplete */
    const struct es_spike_opts *so = &m->a->o.spike;
    int64_t span = (so->window_min > 0 ? so->window_min : 60) +
                   (so->baseline_min > 0 ? so->baseline_min : 720);
    if (m->fed_minute < 0 || cur - 1 - m->fed_minute > span)
        m->fed_minute = cur - 1 - span;
    int64_t recent = cur - (so->window_min > 0 ? so->window_min : 60);
    while (m->fed_minute < cur - 1 && !atomic_load(&m->a->stop)) {
        int64_t from = m->fed_minute + 1, to = cur - 1;
        if (to - from >= 120)
            to = from + 119;
        struct cmdq q = {0};
        for (int64_t mi = from; mi <= to; mi++) {
            int y, mo, d, h, mn, s;
            es_time_to_civil(mi * 60, &y, &mo, &d, &h, &mn, &s);
            char key[64];
            snprintf(key, sizeof key, "es:stats:%04d%02d%02d%02d%02d", y, mo, d, h, mn);
            if (cmd(&q, "HGETALL", key, (const char *)NULL) != 0)
                break;
        }
        redisReply **rep = es_calloc((size_t)q.n + 1, sizeof *rep);
        if (!rep || q.n != to - from + 1 || run(m, &q, rep) != 0) {
            es_free(rep);
            cmdq_free(&q);
            return;
        }
        for (int64_t mi = from; mi <= to; mi++) {
            redisReply *r = rep[mi - from];
            /* known series get this minute's count (0 when absent) */
            for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
                const char *f = r->element[i]->str;
                if (strncmp(f, "brand:", 6) == 0 || strncmp(f, "bc:", 3) == 0)
                    series_get(m, f, mi - 1);
            }
            for (size_t si = 0; si < m->n_ser; si++) {
                struct series *s = &m->ser[si];
                const char *c = hget(r, s->name);
                struct es_spike_verdict v;
                es_spike_feed(&s->sp, mi, c ? strtod(c, NULL) : 0, &v);
                if (v.fire && mi >= recent)
                    spike_alert(m, s, mi, &v);
            }
        }
        free_replies(rep, q.n);
        es_free(rep);
        cmdq_free(&q);
        m->fed_minute = to;
    }
}

/* ---- the thread ---- */

static void ensure_groups(struct es__alert_matcher *m)
{
    const char *g1[] = {"XGROUP", "CREATE", ES__ALERT_EVENTS, ES__ALERT_G_EVENTS, "$", "MKSTREAM"};
    const char *g2[] = {"XGROUP", "CREATE", ES__ALERT_K_OUT, ES__ALERT_G_OUT, "0", "MKSTREAM"};
    redisReply *r = es__alert_adb_cmd(&m->db, 6, g1, NULL);
    if (r)
        freeReplyObject(r);
    r = es__alert_adb_cmd(&m->db, 6, g2, NULL);
    if (r)
        freeReplyObject(r);
}

static void main_loop(void *arg)
{
    struct es__alert_matcher *m = arg;
    struct es_alerter *a = m->a;
    char cursor[48] = "0"; /* own pending entries first */
    bool pending = true;
    ensure_groups(m);
    while (!atomic_load(&a->stop)) {
        int64_t now = es__alert_now_ms(&a->o);
        load_subs(m);
        if (now >= m->next_digest_ms) {
            for (size_t i = 0; i < m->n_subs; i++)
                if (m->subs[i].digest)
                    digest_flush(m, &m->subs[i], now);
            m->next_digest_ms = now + 1000;
        }
        if (now >= m->next_spike_ms) {
            spike_check(m, now);
            m->next_spike_ms = now + (int64_t)a->o.spike_check_s * 1000;
        }
        const char *argv[] = {"XREADGROUP",
                              "GROUP",
                              ES__ALERT_G_EVENTS,
                              a->consumer,
                              "COUNT",
                              "256",
                              "BLOCK",
                              "200",
                              "STREAMS",
                              ES__ALERT_EVENTS,
                              pending ? cursor : ">"};
        const char *pv[] = {"XREADGROUP", "GROUP",   ES__ALERT_G_EVENTS, a->consumer, "COUNT",
                            "256",        "STREAMS", ES__ALERT_EVENTS,   cursor};
        redisReply *r = pending ? es__alert_adb_cmd(&m->db, 9, pv, NULL)
                                : es__alert_adb_cmd(&m->db, 11, argv, NULL);
        if (!r) {
            usleep(200 * 1000);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (strstr(r->str, "NOGROUP"))
                ensure_groups(m);
            else
                es_log(ES_LOG_WARN, MOD, "event=xreadgroup error=\"%.200s\"", r->str);
            freeReplyObject(r);
            usleep(200 * 1000);
            continue;
        }
        const redisReply *entries = NULL;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
            entries = r->element[0]->element[1];
        if (entries && entries->type == REDIS_REPLY_ARRAY && entries->elements > 0) {
            const redisReply *last = entries->element[entries->elements - 1];
            if (pending && last->type == REDIS_REPLY_ARRAY && last->elements >= 1)
                snprintf(cursor, sizeof cursor, "%s", last->element[0]->str);
            if (process(m, entries) != 0) {
                /* left pending: read them again from the start of our pending list */
                snprintf(cursor, sizeof cursor, "0");
                pending = true;
                usleep(200 * 1000);
            }
        } else if (pending) {
            pending = false;
        }
        freeReplyObject(r);
    }
}

int64_t es__alert_now_ms(const struct es_alert_opts *o)
{
    if (o->now)
        return o->now(o->now_ud);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int es__alert_matcher_start(struct es_alerter *a, struct es_diag *d)
{
    struct es__alert_matcher *m = es_calloc(1, sizeof *m);
    if (!m)
        return ES_ENOMEM;
    m->a = a;
    m->fed_minute = -1;
    int rc = es__alert_adb_open(&m->db, a->url, 5000, d);
    if (rc) {
        es_free(m);
        return rc;
    }
    if (uv_thread_create(&m->th, main_loop, m) != 0) {
        es__alert_adb_close(&m->db);
        es_free(m);
        return ES_EIO;
    }
    a->m = m;
    return 0;
}

void es__alert_matcher_stop(struct es_alerter *a)
{
    struct es__alert_matcher *m = a->m;
    if (!m)
        return;
    uv_thread_join(&m->th);
    subs_free(m);
    for (size_t i = 0; i < m->n_ser; i++)
        es_spike_cleanup(&m->ser[i].sp);
    es_free(m->ser);
    es_norm_out_cleanup(&m->nout);
    es_norm_free(m->norm);
    es__alert_adb_close(&m->db);
    es_free(m);
    a->m = NULL;
}
