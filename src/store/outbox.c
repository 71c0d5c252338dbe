/*
 * The outbox: one stream per shard (es:{sK}:outbox), consumer group
 * "workers". Entries are added by the reply script; workers read them,
 * post them, and either record the platform id and ack (outbox_done) or
 * dead-letter them. A crashed worker's pending entries are taken over with
 * XAUTOCLAIM once idle for reclaim_ms. Attempts and the backoff deadline
 * are kept in es:{sK}:outbox:tries (fields <id> and due:<id>) so the
 * dead-letter limit and the backoff survive crashes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/clock.h"
#include "store/internal.h"

#define DEAD_KEY "es:outbox:dead"

static int ensure_group(struct es_store *s, const char *key)
{
    const char *argv[] = {"XGROUP", "CREATE", key, "workers", "0", "MKSTREAM"};
    redisReply *r = es__cmd(s, 6, argv, NULL);
    if (!r)
        return ES_EIO;
    int ok = r->type == REDIS_REPLY_STATUS ||
             (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) == 0);
    freeReplyObject(r);
    return ok ? 0 : ES_EIO;
}

/* take appends the entries of an [[id, [k, v, ...]], ...] reply. */
static void take(const redisReply *arr, int k, struct es_outbox_entry *out, size_t max, size_t *n)
{
    for (size_t i = 0; arr && arr->type == REDIS_REPLY_ARRAY && i < arr->elements && *n < max;
         i++) {
        const redisReply *e = arr->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue; /* a deleted entry (nil fields): nothing to post */
        struct es_outbox_entry *o = &out[*n];
        memset(o, 0, sizeof *o);
        snprintf(o->shard_key, sizeof o->shard_key, "{s%d}", k);
        snprintf(o->id, sizeof o->id, "%s", e->element[0]->str);
        o->fields = json_object();
        const redisReply *f = e->element[1];
        for (size_t j = 0; o->fields && j + 1 < f->elements; j += 2)
            json_object_set_new(o->fields, f->element[j]->str,
                                json_stringn(f->element[j + 1]->str, f->element[j + 1]->len));
        if (o->fields)
            (*n)++;
    }
}

int es_store_outbox_read(struct es_store *s, const char *consumer, int64_t reclaim_ms,
                         struct es_outbox_entry *out, size_t max, size_t *n)
{
    *n = 0;
    char count[32], idle[32];
    snprintf(idle, sizeof idle, "%lld", (long long)reclaim_ms);
    for (int k = 0; k < ES_STORE_SHARDS && *n < max; k++) {
        char key[64];
        snprintf(key, sizeof key, "es:{s%d}:outbox", k);
        int rc = ensure_group(s, key);
        if (rc)
            return rc;
        snprintf(count, sizeof count, "%zu", max - *n);
        /* First what crashed consumers left behind, then new entries. */
        const char *ac[] = {"XAUTOCLAIM", key, "workers", consumer, idle, "0-0", "COUNT", count};
        redisReply *r = es__cmd(s, 8, ac, NULL);
        if (!r)
            return ES_EIO;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
            take(r->element[1], k, out, max, n);
        freeReplyObject(r);
        if (*n >= max)
            break;
        snprintf(count, sizeof count, "%zu", max - *n);
        const char *rg[] = {"XREADGROUP", "GROUP", "workers", consumer, "COUNT", count,
                            "STREAMS",    key,     ">"};
        r = es__cmd(s, 9, rg, NULL);
        if (!r)
            return ES_EIO;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
            take(r->element[0]->element[1], k, out, max, n);
        freeReplyObject(r);
    }
    /* Attempts so far and backoff, kept in Redis so they survive a crash. */
    for (size_t i = 0; i < *n; i++) {
        char tries[64], due[80];
        snprintf(tries, sizeof tries, "es:%s:outbox:tries", out[i].shard_key);
        snprintf(due, sizeof due, "due:%s", out[i].id);
        const char *argv[] = {"HMGET", tries, out[i].id, due};
        redisReply *r = es__cmd(s, 4, argv, NULL);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            if (r->element[0]->type == REDIS_REPLY_STRING)
                out[i].attempts = strtoll(r->element[0]->str, NULL, 10);
            if (r->element[1]->type == REDIS_REPLY_STRING)
                out[i].due_ms = strtoll(r->element[1]->str, NULL, 10);
        }
        if (r)
            freeReplyObject(r);
    }
    return 0;
}

int es_store_outbox_attempt(struct es_store *s, struct es_outbox_entry *e)
{
    char tries[64];
    snprintf(tries, sizeof tries, "es:%s:outbox:tries", e->shard_key);
    const char *argv[] = {"HINCRBY", tries, e->id, "1"};
    redisReply *r = es__cmd(s, 4, argv, NULL);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        return ES_EIO;
    }
    e->attempts = r->integer;
    freeReplyObject(r);
    return 0;
}

int es_store_outbox_retry_later(struct es_store *s, const struct es_outbox_entry *e,
                                int64_t due_ms)
{
    char tries[64], due[80], v[32];
    snprintf(tries, sizeof tries, "es:%s:outbox:tries", e->shard_key);
    snprintf(due, sizeof due, "due:%s", e->id);
    snprintf(v, sizeof v, "%lld", (long long)due_ms);
    const char *argv[] = {"HSET", tries, due, v};
    redisReply *r = es__cmd(s, 4, argv, NULL);
    if (!r)
        return ES_EIO;
    freeReplyObject(r);
    return 0;
}

static void forget_tries(struct es_store *s, const struct es_outbox_entry *e)
{
    char tries[64];
    snprintf(tries, sizeof tries, "es:%s:outbox:tries", e->shard_key);
    char due[80];
    snprintf(due, sizeof due, "due:%s", e->id);
    const char *argv[] = {"HDEL", tries, e->id, due};
    redisReply *r = es__cmd(s, 4, argv, NULL);
    if (r)
        freeReplyObject(r);
}

int es_store_outbox_done(struct es_store *s, const struct es_outbox_entry *e,
                         const char *platform_id)
{
    const char *conv = json_string_value(json_object_get(e->fields, "conv"));
    const char *kind = json_string_value(json_object_get(e->fields, "kind"));
    char kc[1200], ko[64], now[32];
    snprintf(kc, sizeof kc, "es:%s:c:%s", e->shard_key, conv ? conv : "");
    snprintf(ko, sizeof ko, "es:%s:outbox", e->shard_key);
    snprintf(now, sizeof now, "%lld", (long long)es_clock_now_ms());
    const char *keys[] = {kc, ko};
    const char *args[] = {e->id, platform_id ? platform_id : "", kind ? kind : "public", now};
    redisReply *r = es__eval(s, ES__S_OUTBOX_DONE, 2, keys, 4, args, NULL);
    if (!r)
        return ES_EIO;
    int rc = r->type == REDIS_REPLY_ERROR ? ES_EIO : 0;
    freeReplyObject(r);
    if (!rc)
        forget_tries(s, e);
    return rc;
}

int es_store_outbox_dead(struct es_store *s, const struct es_outbox_entry *e, const char *reason)
{
    json_t *d = json_pack("{s:s,s:s,s:O,s:s,s:I,s:I}", "id", e->id, "shard", e->shard_key,
                          "entry", e->fields, "reason", reason ? reason : "",
                          "attempts", (json_int_t)e->attempts, "ms",
                          (json_int_t)es_clock_now_ms());
    char *txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (!txt)
        return ES_ENOMEM;
    const char *push[] = {"LPUSH", DEAD_KEY, txt};
    redisReply *r = es__cmd(s, 3, push, NULL);
    free(txt);
    if (!r)
        return ES_EIO;
    freeReplyObject(r);
    const char *trim[] = {"LTRIM", DEAD_KEY, "0", "9999"};
    r = es__cmd(s, 4, trim, NULL);
    if (r)
        freeReplyObject(r);
    char ko[64];
    snprintf(ko, sizeof ko, "es:%s:outbox", e->shard_key);
    const char *ack[] = {"XACK", ko, "workers", e->id};
    r = es__cmd(s, 4, ack, NULL);
    if (!r)
        return ES_EIO;
    freeReplyObject(r);
    forget_tries(s, e);
    return 0;
}

int es_store_outbox_dead_list(struct es_store *s, size_t limit, json_t **out)
{
    char stop[32];
    snprintf(stop, sizeof stop, "%zu", limit ? limit - 1 : 99);
    const char *argv[] = {"LRANGE", DEAD_KEY, "0", stop};
    redisReply *r = es__cmd(s, 4, argv, NULL);
    if (!r)
        return ES_EIO;
    json_t *arr = json_array();
    for (size_t i = 0; arr && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        json_t *v = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
        if (v)
            json_array_append_new(arr, v);
    }
    freeReplyObject(r);
    if (!arr)
        return ES_ENOMEM;
    *out = arr;
    return 0;
}
