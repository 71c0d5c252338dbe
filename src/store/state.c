/* The conversation's state machine from C: each call is one Lua script (scripts.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define OUTBOX_MAXLEN "100000"
#define IDEM_TTL_S "86400"

/* Keys of a mention's shard: m, c, q, cust, hist, outbox; read from the mention hash. */
struct mkeys {
    int k;
    char m[128], c[1200], q[512], cust[1024], hist[1024], outbox[64];
};

static int mention_keys(struct es_store *s, const char *mid, struct mkeys *mk)
{
    mk->k = es__shard_of_mid(mid);
    if (mk->k < 0)
        return ES_ENOTFOUND;
    snprintf(mk->m, sizeof mk->m, "es:{s%d}:m:%s", mk->k, mid);
    const char *argv[] = {"HMGET", mk->m, "conv", "brand", "platform", "author_id"};
    redisReply *r = es__cmd(s, 6, argv, NULL);
    if (!r)
        return ES_EIO;
    int rc = ES_ENOTFOUND;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const char *brand = r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len
                                ? r->element[1]->str
                                : "_";
        const char *platform = r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "";
        const char *author = r->element[3]->type == REDIS_REPLY_STRING ? r->element[3]->str : "";
        snprintf(mk->c, sizeof mk->c, "es:{s%d}:c:%s", mk->k, r->element[0]->str);
        snprintf(mk->q, sizeof mk->q, "es:{s%d}:q:%s", mk->k, brand);
        snprintf(mk->cust, sizeof mk->cust, "es:{s%d}:cust:%s:%s", mk->k, platform, author);
        snprintf(mk->hist, sizeof mk->hist, "es:{s%d}:hist:%s:%s", mk->k, platform, author);
        snprintf(mk->outbox, sizeof mk->outbox, "es:{s%d}:outbox", mk->k);
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

static int not_found(struct es_store_result *res, int rc)
{
    memset(res, 0, sizeof *res);
    snprintf(res->reason, sizeof res->reason, "not_found");
    return rc == ES_ENOTFOUND ? 0 : rc;
}

/*
 * decide runs one of the state scripts: KEYS are the first nkeys of (m, c, q,
 * cust, hist) of the mention's shard, ARGV is (agent, now_ms, extra...).
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
    const char *keys[] = {mk.m, mk.c, mk.q, mk.cust, mk.hist};
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
    return decide(s, mid, ES__S_CLAIM, 3, agent, now_ms, 1, extra, res);
}

int es_store_release(struct es_store *s, const char *mid, const char *agent, int64_t now_ms,
                     struct es_store_result *res)
{
    return decide(s, mid, ES__S_RELEASE, 3, agent, now_ms, 0, NULL, res);
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
    const char *keys[] = {mk.m, mk.c, mk.q, mk.cust, mk.hist, mk.outbox, idem};
    const char *args[] = {agent,    now,           kind == ES_REPLY_DM ? "dm" : "public",
                          text,     dm_invite ? "1" : "0",
                          mid,      idem_key,      OUTBOX_MAXLEN,
                          IDEM_TTL_S};
    return finish(es__eval(s, ES__S_REPLY, 7, keys, 9, args, NULL), res);
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
    const char *extra[] = {mid};
    return decide(s, mid, ES__S_RESOLVE, 5, agent, now_ms, 1, extra, res);
}

int es_store_ignore(struct es_store *s, const char *mid, const char *agent, const char *why,
                    int64_t now_ms, struct es_store_result *res)
{
    const char *extra[] = {mid, why ? why : ""};
    return decide(s, mid, ES__S_IGNORE, 5, agent, now_ms, 2, extra, res);
}
