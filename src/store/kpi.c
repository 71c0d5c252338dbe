/* The triage API's keys: tokens, the audit log, KPI counters and the reads behind the
 * statistics (docs/redis.md lists the keys). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "store/internal.h"
#include "store/kpi_int.h"

#define TOKENS_SET "es:tokens"
#define AUDIT_KEY "es:audit"
#define AUDIT_CAP_S "99999" /* LTRIM's last index: ES_STORE_AUDIT_CAP - 1 */

/* Upper bounds of the first-response-time buckets, in seconds. The reply script gets the
 * bucket index from C (es__kpi_frt_bucket), so this table is the only copy. */
static const int64_t frt_bounds[] = {30,   60,   120,  180,   300,   600,   900,
                                     1200, 1800, 2700, 3600,  5400,  7200,  10800,
                                     14400, 21600, 43200, 86400, 172800, INT64_MAX};

const int64_t *es_store_frt_bounds(size_t *n)
{
    *n = sizeof frt_bounds / sizeof *frt_bounds;
    return frt_bounds;
}

int es__kpi_frt_bucket(int64_t seconds)
{
    size_t n = sizeof frt_bounds / sizeof *frt_bounds, i = 0;
    while (i + 1 < n && seconds > frt_bounds[i])
        i++;
    return (int)i;
}

void es__kpi_key(int shard, int64_t ms, char *out, size_t n)
{
    int y, mo, d, h, mi, sec;
    es_time_to_civil(ms / 1000, &y, &mo, &d, &h, &mi, &sec);
    snprintf(out, n, "es:{s%d}:kpi:%04d%02d%02d", shard, y, mo, d);
}

/* ---- tokens ---- */

static int token_key(const char *id, char *key, size_t n)
{
    size_t len = strlen(id);
    if (len == 0 || len >= 32)
        return ES_EINVAL;
    snprintf(key, n, "es:token:%s", id);
    return 0;
}

int es_store_token_put(struct es_store *s, const struct es_store_token *t)
{
    char key[64], created[32];
    if (token_key(t->id, key, sizeof key))
        return ES_EINVAL;
    snprintf(created, sizeof created, "%lld", (long long)t->created_ms);
    const char *hset[] = {"HSET", key, "name", t->name, "role", t->role,
                          "sha256", t->sha256, "created_ms", created};
    const char *sadd[] = {"SADD", TOKENS_SET, t->id};
    const char *const *argv[] = {hset, sadd};
    int argc[] = {10, 3};
    redisReply *rep[2];
    int rc = es__pipeline(s, 2, argc, argv, rep);
    if (rc)
        return rc;
    for (int i = 0; i < 2; i++) {
        if (rep[i]->type == REDIS_REPLY_ERROR)
            rc = ES_EIO;
        freeReplyObject(rep[i]);
    }
    return rc;
}

int es_store_token_get(struct es_store *s, const char *id, struct es_store_token *t)
{
    char key[64];
    memset(t, 0, sizeof *t);
    if (token_key(id, key, sizeof key))
        return ES_ENOTFOUND;
    const char *argv[] = {"HMGET", key, "name", "role", "sha256", "created_ms"};
    redisReply *r = es__cmd(s, 6, argv, NULL);
    if (!r)
        return ES_EIO;
    int rc = ES_ENOTFOUND;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
        redisReply **e = r->element;
        bool whole = true;
        for (int i = 0; i < 3; i++)
            whole = whole && e[i]->type == REDIS_REPLY_STRING;
        if (whole) {
            snprintf(t->id, sizeof t->id, "%s", id);
            snprintf(t->name, sizeof t->name, "%s", e[0]->str);
            snprintf(t->role, sizeof t->role, "%s", e[1]->str);
            snprintf(t->sha256, sizeof t->sha256, "%s", e[2]->str);
            t->created_ms = e[3]->type == REDIS_REPLY_STRING ? strtoll(e[3]->str, NULL, 10) : 0;
            rc = 0;
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        rc = ES_EIO;
    }
    freeReplyObject(r);
    return rc;
}

static int created_cmp(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "created_ms"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "created_ms"));
    return x < y ? -1 : x > y;
}

int es_store_token_list(struct es_store *s, json_t **out)
{
    const char *argv[] = {"SMEMBERS", TOKENS_SET};
    redisReply *ids = es__cmd(s, 2, argv, NULL);
    if (!ids)
        return ES_EIO;
    int rc = 0;
    size_t n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;
    json_t **items = es_calloc(n ? n : 1, sizeof *items);
    size_t k = 0;
    json_t *arr = json_array();
    if (!items || !arr) {
        rc = ES_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        struct es_store_token t;
        int g = es_store_token_get(s, ids->element[i]->str, &t);
        if (g == ES_ENOTFOUND)
            continue; /* revoked between the two reads */
        if (g) {
            rc = g;
            break;
        }
        items[k] = json_pack("{s:s, s:s, s:s, s:I}", "id", t.id, "name", t.name, "role", t.role,
                             "created_ms", (json_int_t)t.created_ms);
        if (!items[k]) {
            rc = ES_ENOMEM;
            break;
        }
        k++;
    }
    if (!rc) {
        qsort(items, k, sizeof *items, created_cmp);
        for (size_t i = 0; i < k; i++)
            json_array_append_new(arr, items[i]);
        k = 0;
        *out = arr;
        arr = NULL;
    }
fail:
    for (size_t i = 0; i < k; i++)
        json_decref(items[i]);
    es_free(items);
    json_decref(arr);
    freeReplyObject(ids);
    return rc;
}

int es_store_token_del(struct es_store *s, const char *id)
{
    char key[64];
    if (token_key(id, key, sizeof key))
        return ES_ENOTFOUND;
    const char *del[] = {"DEL", key};
    const char *srem[] = {"SREM", TOKENS_SET, id};
    const char *const *argv[] = {del, srem};
    int argc[] = {2, 3};
    redisReply *rep[2];
    int rc = es__pipeline(s, 2, argc, argv, rep);
    if (rc)
        return rc;
    rc = rep[0]->type == REDIS_REPLY_INTEGER && rep[0]->integer == 1 ? 0 : ES_ENOTFOUND;
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return rc;
}

/* ---- audit ----
 *
 *   es:audit                  every entry, newest first, capped at ES_STORE_AUDIT_CAP
 *   es:audit:mid:<mid>        the same entries of one mention (or token, subscription) id
 *   es:audit:actor:<name>     the same entries of one token name
 *
 * The indexes are capped lists (AUDIT_INDEX_CAP, the largest page the API serves) that
 * expire AUDIT_INDEX_TTL_S after their last entry, written in the pipeline that writes
 * the log (no MULTI: the keys are on different Cluster slots; an index can only miss an
 * entry the log has, when Redis fails between the commands). A filtered read is then one
 * LRANGE, whatever the size of the log. */

#define AUDIT_INDEX_CAP 1000
#define AUDIT_INDEX_CAP_S "999" /* LTRIM's last index */
#define AUDIT_INDEX_TTL_S "7776000" /* 90 days */
#define AUDIT_KEY_MAX 200

/* index_key: "es:audit:<kind>:<value>", or -1 when value is empty or too long for one. */
static int index_key(const char *kind, const char *value, char *key, size_t n)
{
    if (!value || !*value || strlen(value) > AUDIT_KEY_MAX)
        return -1;
    snprintf(key, n, "es:audit:%s:%s", kind, value);
    return 0;
}

int es_store_audit_add(struct es_store *s, const json_t *entry)
{
    char *txt = json_dumps(entry, JSON_COMPACT);
    if (!txt)
        return ES_ENOMEM;
    char mkey[AUDIT_KEY_MAX + 32], akey[AUDIT_KEY_MAX + 32];
    bool by_mid =
        index_key("mid", json_string_value(json_object_get(entry, "mid")), mkey, sizeof mkey) == 0;
    bool by_actor = index_key("actor", json_string_value(json_object_get(entry, "actor")), akey,
                              sizeof akey) == 0;
    const char *push[] = {"LPUSH", AUDIT_KEY, txt};
    const char *trim[] = {"LTRIM", AUDIT_KEY, "0", AUDIT_CAP_S};
    const char *mpush[] = {"LPUSH", mkey, txt}, *mtrim[] = {"LTRIM", mkey, "0", AUDIT_INDEX_CAP_S},
               *mexp[] = {"EXPIRE", mkey, AUDIT_INDEX_TTL_S};
    const char *apush[] = {"LPUSH", akey, txt}, *atrim[] = {"LTRIM", akey, "0", AUDIT_INDEX_CAP_S},
               *aexp[] = {"EXPIRE", akey, AUDIT_INDEX_TTL_S};
    const char *const *argv[8] = {push, trim};
    int argc[8] = {3, 4};
    int n = 2;
    if (by_mid) {
        argv[n] = mpush, argc[n++] = 3;
        argv[n] = mtrim, argc[n++] = 4;
        argv[n] = mexp, argc[n++] = 3;
    }
    if (by_actor) {
        argv[n] = apush, argc[n++] = 3;
        argv[n] = atrim, argc[n++] = 4;
        argv[n] = aexp, argc[n++] = 3;
    }
    redisReply *rep[8];
    int rc = es__pipeline(s, n, argc, argv, rep);
    free(txt);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        if (rep[i]->type == REDIS_REPLY_ERROR)
            rc = ES_EIO;
        freeReplyObject(rep[i]);
    }
    return rc;
}

static bool field_is(json_t *o, const char *k, const char *want)
{
    if (!want)
        return true;
    const char *v = json_string_value(json_object_get(o, k));
    return v && strcmp(v, want) == 0;
}

int es_store_audit_list(struct es_store *s, const char *mid, const char *actor, size_t limit,
                        json_t **out)
{
    if (limit == 0)
        limit = 100;
    char key[AUDIT_KEY_MAX + 32];
    snprintf(key, sizeof key, "%s", AUDIT_KEY);
    size_t want = limit;
    if (mid || actor) {
        /* the per-mention index when both are given (the shorter list, in practice) */
        if (index_key(mid ? "mid" : "actor", mid ? mid : actor, key, sizeof key) != 0) {
            *out = json_array();
            return *out ? 0 : ES_ENOMEM;
        }
        if (mid && actor)
            want = AUDIT_INDEX_CAP;
    }
    if (want > ES_STORE_AUDIT_CAP)
        want = ES_STORE_AUDIT_CAP;
    char last[24];
    snprintf(last, sizeof last, "%zu", want - 1);
    const char *argv[] = {"LRANGE", key, "0", last};
    redisReply *r = es__cmd(s, 4, argv, NULL);
    if (!r)
        return ES_EIO;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return ES_EIO;
    }
    json_t *arr = json_array();
    int rc = arr ? 0 : ES_ENOMEM;
    for (size_t i = 0; !rc && i < r->elements && json_array_size(arr) < limit; i++) {
        json_t *e = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
        /* the filters are checked again: an index holds exactly what the log holds */
        if (e && field_is(e, "mid", mid) && field_is(e, "actor", actor) &&
            json_array_append(arr, e))
            rc = ES_ENOMEM;
        json_decref(e);
    }
    freeReplyObject(r);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* ---- KPI ---- */

int es_store_kpi_refusal(struct es_store *s, const char *mid, const char *reason,
                         int64_t now_ms)
{
    int k = es__shard_of_mid(mid);
    if (k < 0)
        k = 0;
    char key[64], field[80];
    es__kpi_key(k, now_ms, key, sizeof key);
    snprintf(field, sizeof field, "refused:%s", reason);
    const char *incr[] = {"HINCRBY", key, field, "1"};
    const char *exp[] = {"EXPIRE", key, ES__KPI_TTL_S};
    const char *const *argv[] = {incr, exp};
    int argc[] = {4, 3};
    redisReply *rep[2];
    int rc = es__pipeline(s, 2, argc, argv, rep);
    if (rc)
        return rc;
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return 0;
}

/* add_hash adds an HGETALL reply's integer fields into sum. */
static int add_hash(json_t *sum, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str;
        long long v = strtoll(r->element[i + 1]->str, NULL, 10);
        json_int_t cur = json_integer_value(json_object_get(sum, k));
        if (json_object_set_new(sum, k, json_integer(cur + v)))
            return ES_ENOMEM;
    }
    return 0;
}

int es_store_kpi_sum(struct es_store *s, int64_t now_ms, int days, json_t **out)
{
    if (days < 1 || days > 366)
        return ES_EINVAL;
    int n = days * ES_STORE_SHARDS;
    char(*keys)[64] = es_malloc((size_t)n * sizeof *keys);
    const char *(*argv)[2] = es_malloc((size_t)n * sizeof *argv);
    const char *const **pv = es_malloc((size_t)n * sizeof *pv);
    int *argc = es_malloc((size_t)n * sizeof *argc);
    redisReply **rep = es_calloc((size_t)n, sizeof *rep);
    json_t *sum = json_object();
    int rc = ES_ENOMEM;
    if (!keys || !argv || !pv || !argc || !rep || !sum)
        goto out;
    for (int d = 0; d < days; d++)
        for (int k = 0; k < ES_STORE_SHARDS; k++) {
            int i = d * ES_STORE_SHARDS + k;
            es__kpi_key(k, now_ms - (int64_t)d * 86400000, keys[i], sizeof keys[i]);
            argv[i][0] = "HGETALL";
            argv[i][1] = keys[i];
            pv[i] = argv[i];
            argc[i] = 2;
        }
    rc = es__pipeline(s, n, argc, pv, rep);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = add_hash(sum, rep[i]);
    for (int i = 0; i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    if (!rc) {
        *out = sum;
        sum = NULL;
    }
out:
    json_decref(sum);
    es_free(keys);
    es_free(argv);
    es_free(pv);
    es_free(argc);
    es_free(rep);
    return rc;
}

int es_store_stats_minutes(struct es_store *s, int64_t from_ms, size_t n, json_t **out)
{
    if (n > 20000)
        return ES_ELIMIT;
    json_t *arr = json_array();
    if (!arr)
        return ES_ENOMEM;
    int64_t t0 = from_ms / 60000 * 60;
    int rc = 0;
    /* pipelined in pages, so a long range never holds every reply at once */
    enum { PAGE = 512 };
    char keys[PAGE][40];
    const char *argv[PAGE][2];
    const char *const *pv[PAGE];
    int argc[PAGE];
    redisReply *rep[PAGE];
    for (size_t base = 0; base < n && !rc; base += PAGE) {
        int m = (int)(n - base < PAGE ? n - base : PAGE);
        for (int i = 0; i < m; i++) {
            int y, mo, d, h, mi, sec;
            es_time_to_civil(t0 + (int64_t)(base + (size_t)i) * 60, &y, &mo, &d, &h, &mi, &sec);
            snprintf(keys[i], sizeof keys[i], "es:stats:%04d%02d%02d%02d%02d", y, mo, d, h, mi);
            argv[i][0] = "HGETALL";
            argv[i][1] = keys[i];
            pv[i] = argv[i];
            argc[i] = 2;
        }
        rc = es__pipeline(s, m, argc, pv, rep);
        for (int i = 0; !rc && i < m; i++) {
            json_t *o = json_object();
            if (!o || add_hash(o, rep[i]) || json_array_append_new(arr, o))
                rc = ES_ENOMEM;
        }
        for (int i = 0; i < m; i++)
            if (rep[i])
                freeReplyObject(rep[i]);
    }
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int es_store_depths(struct es_store *s, int64_t *triage, int64_t *outbox)
{
    *triage = 0;
    *outbox = 0;
    for (int k = 0; k < ES_STORE_SHARDS; k++) {
        char qs[32], ob[32];
        snprintf(qs, sizeof qs, "es:{s%d}:queues", k);
        snprintf(ob, sizeof ob, "es:{s%d}:outbox", k);
        const char *argv[] = {"SMEMBERS", qs};
        redisReply *keys = es__cmd(s, 2, argv, NULL);
        if (!keys)
            return ES_EIO;
        size_t nq = keys->type == REDIS_REPLY_ARRAY ? keys->elements : 0;
        for (size_t i = 0; i < nq; i++) {
            const char *zc[] = {"ZCARD", keys->element[i]->str};
            redisReply *r = es__cmd(s, 2, zc, NULL);
            if (r && r->type == REDIS_REPLY_INTEGER)
                *triage += r->integer;
            if (r)
                freeReplyObject(r);
        }
        freeReplyObject(keys);
        /* XINFO GROUPS: lag (never delivered) + pending (delivered, not acknowledged) */
        const char *xi[] = {"XINFO", "GROUPS", ob};
        redisReply *r = es__cmd(s, 3, xi, NULL);
        for (size_t g = 0; r && r->type == REDIS_REPLY_ARRAY && g < r->elements; g++) {
            redisReply *grp = r->element[g];
            for (size_t i = 0; grp->type == REDIS_REPLY_ARRAY && i + 1 < grp->elements; i += 2) {
                const char *f = grp->element[i]->str;
                redisReply *v = grp->element[i + 1];
                if (f && (strcmp(f, "lag") == 0 || strcmp(f, "pending") == 0) &&
                    v->type == REDIS_REPLY_INTEGER)
                    *outbox += v->integer;
            }
        }
        if (r)
            freeReplyObject(r);
    }
    return 0;
}

static void copy_el(const redisReply *e, char *out, size_t n)
{
    snprintf(out, n, "%s", e->type == REDIS_REPLY_STRING ? e->str : "");
}

int es_store_conv_brief(struct es_store *s, const char *mid, int64_t now_ms,
                        struct es_conv_brief *b)
{
    memset(b, 0, sizeof *b);
    int k = es__shard_of_mid(mid);
    if (k < 0)
        return ES_ENOTFOUND;
    char key[128];
    snprintf(key, sizeof key, "es:{s%d}:m:%s", k, mid);
    const char *argv[] = {"HMGET", key, "conv", "brand", "platform", "category"};
    redisReply *r = es__cmd(s, 6, argv, NULL);
    if (!r)
        return ES_EIO;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return ES_ENOTFOUND;
    }
    char ck[1200];
    snprintf(ck, sizeof ck, "es:{s%d}:c:%s", k, r->element[0]->str);
    copy_el(r->element[1], b->brand, sizeof b->brand);
    copy_el(r->element[2], b->platform, sizeof b->platform);
    copy_el(r->element[3], b->category, sizeof b->category);
    freeReplyObject(r);
    const char *cv[] = {"HMGET", ck, "state", "holder", "lease_until", "public_replies", "dm_open"};
    r = es__cmd(s, 7, cv, NULL);
    if (!r)
        return ES_EIO;
    int rc = ES_ENOTFOUND;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 5 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        redisReply **e = r->element;
        copy_el(e[0], b->state, sizeof b->state);
        copy_el(e[1], b->holder, sizeof b->holder);
        b->lease_until_ms = e[2]->type == REDIS_REPLY_STRING ? strtoll(e[2]->str, NULL, 10) : 0;
        b->public_replies = e[3]->type == REDIS_REPLY_STRING ? atoi(e[3]->str) : 0;
        b->dm_open = e[4]->type == REDIS_REPLY_STRING && strcmp(e[4]->str, "1") == 0;
        if (b->lease_until_ms <= now_ms) {
            b->holder[0] = '\0';
            if (strcmp(b->state, "claimed") == 0)
                snprintf(b->state, sizeof b->state, "new");
        }
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}

int es_store_events_after(struct es_store *s, const char *id, size_t count, json_t **out)
{
    char start[80], cnt[24];
    snprintf(start, sizeof start, "(%s", id && *id ? id : "0-0");
    snprintf(cnt, sizeof cnt, "%zu", count ? count : 100);
    const char *argv[] = {"XRANGE", "es:events", start, "+", "COUNT", cnt};
    redisReply *r = es__cmd(s, 6, argv, NULL);
    if (!r)
        return ES_EIO;
    if (r->type != REDIS_REPLY_ARRAY) {
        /* a malformed id: nothing to resume from */
        freeReplyObject(r);
        *out = json_array();
        return *out ? 0 : ES_ENOMEM;
    }
    json_t *arr = json_array();
    int rc = arr ? 0 : ES_ENOMEM;
    for (size_t i = 0; !rc && i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "id", json_string(e->element[0]->str))) {
            json_decref(o);
            rc = ES_ENOMEM;
            break;
        }
        redisReply *f = e->element[1];
        for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2)
            json_object_set_new(o, f->element[j]->str,
                                json_stringn(f->element[j + 1]->str, f->element[j + 1]->len));
        json_array_append_new(arr, o);
    }
    freeReplyObject(r);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int es_store_events_last(struct es_store *s, char *id, size_t n)
{
    const char *argv[] = {"XREVRANGE", "es:events", "+", "-", "COUNT", "1"};
    redisReply *r = es__cmd(s, 6, argv, NULL);
    if (!r)
        return ES_EIO;
    snprintf(id, n, "0-0");
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
        r->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(id, n, "%s", r->element[0]->element[0]->str);
    freeReplyObject(r);
    return 0;
}
