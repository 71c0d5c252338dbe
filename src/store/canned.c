/*
 * The brand's memory of recent reply texts, for the canned-reply check
 * (FEARS E): exact fingerprints reserved with SET NX, and MinHash LSH bands
 * that find near-duplicate candidates without comparing every past reply.
 * Keys share the brand's hash tag {b:<brand>}.
 */
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

int es_store_canned_reserve(struct es_store *s, const char *brand, uint64_t fp, const char *owner,
                            int days, bool *taken)
{
    char key[512], ttl[32];
    snprintf(key, sizeof key, "es:{b:%s}:fp:%016llx", brand, (unsigned long long)fp);
    snprintf(ttl, sizeof ttl, "%d", days * 86400);
    const char *argv[] = {"SET", key, owner, "NX", "EX", ttl};
    redisReply *r = es__cmd(s, 6, argv, NULL);
    if (!r)
        return ES_EIO;
    int rc = r->type == REDIS_REPLY_ERROR ? ES_EIO : 0;
    *taken = r->type == REDIS_REPLY_NIL;
    freeReplyObject(r);
    return rc;
}

int es_store_canned_unreserve(struct es_store *s, const char *brand, uint64_t fp)
{
    char key[512];
    snprintf(key, sizeof key, "es:{b:%s}:fp:%016llx", brand, (unsigned long long)fp);
    const char *argv[] = {"DEL", key};
    redisReply *r = es__cmd(s, 2, argv, NULL);
    if (!r)
        return ES_EIO;
    freeReplyObject(r);
    return 0;
}

int es_store_canned_candidates(struct es_store *s, const char *brand, const uint64_t *bands,
                               size_t n_bands, json_t **out)
{
    json_t *ids = json_object(), *arr = json_array();
    if (!ids || !arr) {
        json_decref(ids);
        json_decref(arr);
        return ES_ENOMEM;
    }
    int rc = 0;
    for (size_t b = 0; b < n_bands && !rc; b++) {
        char key[512];
        snprintf(key, sizeof key, "es:{b:%s}:lsh:%zu:%016llx", brand, b,
                 (unsigned long long)bands[b]);
        const char *argv[] = {"SMEMBERS", key};
        redisReply *r = es__cmd(s, 2, argv, NULL);
        if (!r) {
            rc = ES_EIO;
            break;
        }
        /* at most 200 candidates per band: bounded work whatever the history */
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && i < 200; i++)
            json_object_set_new(ids, r->element[i]->str, json_true());
        freeReplyObject(r);
    }
    const char *id;
    json_t *v;
    json_object_foreach(ids, id, v)
    {
        if (rc)
            break;
        char key[512];
        snprintf(key, sizeof key, "es:{b:%s}:r:%s", brand, id);
        const char *argv[] = {"GET", key};
        redisReply *r = es__cmd(s, 2, argv, NULL);
        if (!r) {
            rc = ES_EIO;
            break;
        }
        if (r->type == REDIS_REPLY_STRING)
            json_array_append_new(arr, json_pack("{s:s,s:s%}", "id", id, "text", r->str,
                                                 (size_t)r->len));
        freeReplyObject(r);
    }
    json_decref(ids);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int es_store_canned_record(struct es_store *s, const char *brand, const char *reply_id,
                           const char *text, const uint64_t *bands, size_t n_bands, int days)
{
    char ttl[32], key[512];
    snprintf(ttl, sizeof ttl, "%d", days * 86400);
    snprintf(key, sizeof key, "es:{b:%s}:r:%s", brand, reply_id);
    const char *set[] = {"SET", key, text, "EX", ttl};
    redisReply *r = es__cmd(s, 5, set, NULL);
    if (!r)
        return ES_EIO;
    freeReplyObject(r);
    for (size_t b = 0; b < n_bands; b++) {
        snprintf(key, sizeof key, "es:{b:%s}:lsh:%zu:%016llx", brand, b,
                 (unsigned long long)bands[b]);
        const char *sadd[] = {"SADD", key, reply_id};
        const char *exp[] = {"EXPIRE", key, ttl};
        r = es__cmd(s, 3, sadd, NULL);
        if (!r)
            return ES_EIO;
        freeReplyObject(r);
        r = es__cmd(s, 3, exp, NULL);
        if (!r)
            return ES_EIO;
        freeReplyObject(r);
    }
    return 0;
}
