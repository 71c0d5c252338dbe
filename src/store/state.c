/* The conversation's state machine from C: each call is one Lua script (scripts.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/clock.h"
#include "store/internal.h"
#include "store/kpi_int.h"

#define OUTBOX_MAXLEN "100000"
#define IDEM_TTL_S "86400"
#define EVENTS_MAXLEN "1000000"

/* Keys of a mention's shard: m, c, q, cust, hist, outbox; read from the mention hash. The
 * KPI key is the day's (kpi_for fills it); post_ms and sla_ms are the post's time and SLA
 * deadline (0 when unknown), for the first-response KPIs. */
struct mkeys {
    int k;
    char m[128], c[1200], q[512], qall[64], cust[1024], hist[1024], outbox[64], kpi[64];
    int64_t post_ms, sla_ms;
};

static int mention_keys(struct es_store *s, const char *mid, struct mkeys *mk)
{
    mk->k = es__shard_of_mid(mid);
    if (mk->k < 0)
        return ES_ENOTFOUND;
    snprintf(mk->m, sizeof mk->m, "es:{s%d}:m:%s", mk->k, mid);
    const char *argv[] = {"HMGET",    mk->m,        "conv",           "brand",
                          "platform", "author_id", "created_at", "sla_deadline_ms"};
    redisReply *r = es__cmd(s, 8, argv, NULL);
    if (!r)
        return ES_EIO;
    int rc = ES_ENOTFOUND;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 6 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const char *brand = r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len
                                ? r->element[1]->str
                                : "_";
        const char *platform = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "";
        const char *author = r->element[3]->type == REDIS_REPLY_STRING ? r->element[3]->str : "";
        snprintf(mk->c, sizeof mk->c, "es:{s%d}:c:%s", mk->k, r->element[0]->str);
        snprintf(mk->q, sizeof mk->q, "es:{s%d}:q:%s", mk->k, brand);
        snprintf(mk->qall, sizeof mk->qall, "es:{s%d}:qall", mk->k);
        snprintf(mk->cust, sizeof mk->cust, "es:{s%d}:cust:%s:%s", mk->k, platform, author);
        snprintf(mk->hist, sizeof mk->hist, "es:{s%d}:hist:%s:%s", mk->k, platform, author);
        snprintf(mk->outbox, sizeof mk->outbox, "es:{s%d}:outbox", mk->k);
        int64_t t = 0;
        mk->post_ms = r->element[4]->type == REDIS_REPLY_STRING &&
                              es_time_parse_iso8601(r->element[4]->str, r->element[4]->len, &t) == 0
                          ? t * 1000
                          : 0;
        mk->sla_ms =
            r->element[5]->type == REDIS_REPLY_STRING ? strtoll(r->element[5]->str, NULL, 10) : 0;
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

int es_store_mention_brief(struct es_store *s, const char *mid, struct es_mention_brief *b)
{
    memset(b, 0, sizeof *b);
    int k = es__shard_of_mid(mid);
    if (k < 0)
        return ES_ENOTFOUND;
    char key[128];
    snprintf(key, sizeof key, "es:{s%d}:m:%s", k, mid);
    const char *argv[] = {"HMGET", key, "brand", "platform", "state", "holder", "lease_until"};
    redisReply *r = es__cmd(s, 7, argv, NULL);
    if (!r)
        return ES_EIO;
    int rc = ES_ENOTFOUND;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 5 &&
        r->element[2]->type == REDIS_REPLY_STRING) {
        const redisReply *const *e = (const redisReply *const *)r->element;
        snprintf(b->brand, sizeof b->brand, "%s",
                 e[0]->type == REDIS_REPLY_STRING && e[0]->len ? e[0]->str : "_");
        snprintf(b->platform, sizeof b->platform, "%s",
                 e[1]->type == REDIS_REPLY_STRING ? e[1]->str : "");
        snprintf(b->state, sizeof b->state, "%s", e[2]->str);
        snprintf(b->holder, sizeof b->holder, "%s",
                 e[3]->type == REDIS_REPLY_STRING ? e[3]->str : "");
        b->lease_until_ms = e[4]->type == REDIS_REPLY_STRING ? strtoll(e[4]->str, NULL, 10) : 0;
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

static int finish(redisReply *r, struct es_store_result *res)
{
    if (!r)
        return ES_EIO;
    if (r->type == REDIS_REPLY_ERROR) {
        memset(res, 0, sizeof *res);
        snprintf(res->reason, sizeof res->reason, "store_error");
        freeReplyObject(r);
        return ES_EIO;
    }
    es__result_from(r, res);
    freeReplyObject(r);
    return 0;
}

/*
 * state_event tells the live stream (es:events, type "state") about an accepted
 * change, after its script, so that every client's action (API, CLI) shows up.
 * A failure here is logged by nobody and changes nothing: the decision stands.
 */
static void state_event(struct es_store *s, const char *action, const char *mid,
                        const char *agent, int64_t now_ms, const struct es_store_result *res)
{
    if (!res->ok || res->duplicate)
        return;
    char ms[32], pr[16];
    snprintf(ms, sizeof ms, "%lld", (long long)now_ms);
    snprintf(pr, sizeof pr, "%d", res->public_replies);
    const char *argv[] = {"XADD",  "es:events",    "MAXLEN",       "~",   EVENTS_MAXLEN,
                          "*",     "type",         "state",        "mid", mid,
                          "action", action,        "state",        res->state,
                          "holder", res->holder,   "agent",        agent,
                          "public_replies", pr,    "ms",           ms};
    redisReply *r = es__cmd(s, (int)(sizeof argv / sizeof *argv), argv, NULL);
    if (r)
        freeReplyObject(r);
}

static int not_found(struct es_store_result *res, int rc)
{
    memset(res, 0, sizeof *res);
    snprintf(res->reason, sizeof res->reason, "not_found");
    return rc == ES_ENOTFOUND ? 0 : rc;
}

/*
 * decide runs one of the state scripts: KEYS are the first nkeys of (m, c, q,
 * cust, hist, kpi) of the mention's shard, ARGV is (agent, now_ms, extra...).
 */
static int decide(struct es_store *s, const char *mid, enum es__script sc, int nkeys,
                  const char *agent, int64_t now_ms, int nextra, const char *const *extra,
                  struct es_store_result *res)
{
    struct mkeys mk;
    int rc = mention_keys(s, mid, &mk);
    if (rc)
        return not_found(res, rc);
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    es__kpi_key(mk.k, now_ms, mk.kpi, sizeof mk.kpi);
    const char *keys[] = {mk.m, mk.c, mk.q, mk.cust, mk.hist, mk.kpi, mk.qall};
    const char *args[8] = {agent, now};
    for (int i = 0; i < nextra && i < 6; i++)
        args[2 + i] = extra[i];
    return finish(es__eval(s, sc, nkeys, keys, 2 + nextra, args, NULL), res);
}

int es_store_claim(struct es_store *s, const char *mid, const char *agent, int64_t lease_ms,
                   int64_t now_ms, struct es_store_result *res)
{
    char lease[32];
    snprintf(lease, sizeof lease, "%lld", (long long)lease_ms);
    const char *extra[] = {lease};
    int rc = decide(s, mid, ES__S_CLAIM, 3, agent, now_ms, 1, extra, res);
    if (rc == 0)
        state_event(s, "claim", mid, agent, now_ms, res);
    return rc;
}

int es_store_release(struct es_store *s, const char *mid, const char *agent, int64_t now_ms,
                     struct es_store_result *res)
{
    int rc = decide(s, mid, ES__S_RELEASE, 3, agent, now_ms, 0, NULL, res);
    if (rc == 0)
        state_event(s, "release", mid, agent, now_ms, res);
    return rc;
}

int es_store_reply(struct es_store *s, const char *mid, const char *agent, enum es_reply_kind kind,
                   const char *text, bool dm_invite, const char *idem_key, int64_t now_ms,
                   struct es_store_result *res)
{
    struct mkeys mk;
    int rc = mention_keys(s, mid, &mk);
    if (rc)
        return not_found(res, rc);
    char now[32], idem[256];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    /* Without a caller key, the decision is keyed by time: no retry protection. */
    char own[96];
    if (!idem_key || !*idem_key) {
        snprintf(own, sizeof own, "%s:%s", mid, now);
        idem_key = own;
    }
    snprintf(idem, sizeof idem, "es:{s%d}:idem:%s", mk.k, idem_key);
    es__kpi_key(mk.k, now_ms, mk.kpi, sizeof mk.kpi);
    /* first-response time from the post's time, and the SLA verdict, for the KPIs (the
     * script uses them only when this is the conversation's first public reply) */
    int64_t frt_s = mk.post_ms > 0 && now_ms > mk.post_ms ? (now_ms - mk.post_ms) / 1000 : 0;
    char bucket[16], frt[32];
    snprintf(bucket, sizeof bucket, "%d", es__kpi_frt_bucket(frt_s));
    snprintf(frt, sizeof frt, "%lld", (long long)frt_s);
    const char *sla = mk.sla_ms <= 0 ? "" : now_ms <= mk.sla_ms ? "1" : "0";
    const char *keys[] = {mk.m, mk.c, mk.q, mk.cust, mk.hist, mk.outbox, idem, mk.kpi, mk.qall};
    const char *args[] = {agent,    now,           kind == ES_REPLY_DM ? "dm" : "public",
                          text,     dm_invite ? "1" : "0",
                          mid,      idem_key,      OUTBOX_MAXLEN,
                          IDEM_TTL_S, mk.post_ms > 0 ? bucket : "", frt, sla, ES__KPI_TTL_S};
    rc = finish(es__eval(s, ES__S_REPLY, 9, keys, 13, args, NULL), res);
    if (rc == 0)
        state_event(s, kind == ES_REPLY_DM ? "dm" : "reply", mid, agent, now_ms, res);
    return rc;
}

static const char *jstr(const json_t *a, size_t i)
{
    const char *v = json_string_value(json_array_get(a, i));
    return v ? v : "";
}

int es_store_reply_lookup(struct es_store *s, const char *mid, const char *idem_key,
                          struct es_store_result *res, bool *found)
{
    *found = false;
    int k = es__shard_of_mid(mid);
    if (k < 0)
        return 0;
    char key[320];
    snprintf(key, sizeof key, "es:{s%d}:idem:%s", k, idem_key);
    const char *argv[] = {"GET", key};
    redisReply *r = es__cmd(s, 2, argv, NULL);
    if (!r)
        return ES_EIO;
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING) {
        /* the script stored its result array as JSON */
        json_t *a = json_loadb(r->str, r->len, 0, NULL);
        if (a && json_is_array(a) && json_array_size(a) >= 8) {
            memset(res, 0, sizeof *res);
            res->ok = strcmp(jstr(a, 0), "ok") == 0;
            snprintf(res->reason, sizeof res->reason, "%s", jstr(a, 1));
            snprintf(res->state, sizeof res->state, "%s", jstr(a, 2));
            snprintf(res->holder, sizeof res->holder, "%s", jstr(a, 3));
            const char *lu = json_string_value(json_array_get(a, 4));
            res->lease_until_ms = lu ? strtoll(lu, NULL, 10) : 0;
            const char *pr = json_string_value(json_array_get(a, 5));
            res->public_replies = pr ? atoi(pr) : 0;
            snprintf(res->outbox_id, sizeof res->outbox_id, "%s", jstr(a, 6));
            res->duplicate = true;
            *found = true;
        }
        json_decref(a);
    }
    freeReplyObject(r);
    return rc;
}

int es_store_resolve(struct es_store *s, const char *mid, const char *agent, int64_t now_ms,
                     struct es_store_result *res)
{
    const char *extra[] = {mid, ES__KPI_TTL_S};
    int rc = decide(s, mid, ES__S_RESOLVE, 7, agent, now_ms, 2, extra, res);
    if (rc == 0)
        state_event(s, "resolve", mid, agent, now_ms, res);
    return rc;
}

int es_store_ignore(struct es_store *s, const char *mid, const char *agent, const char *why,
                    int64_t now_ms, struct es_store_result *res)
{
    const char *extra[] = {mid, why ? why : "", ES__KPI_TTL_S};
    int rc = decide(s, mid, ES__S_IGNORE, 7, agent, now_ms, 3, extra, res);
    if (rc == 0)
        state_event(s, "ignore", mid, agent, now_ms, res);
    return rc;
}
