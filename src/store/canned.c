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
    enum { MAXB = 64, MAXC = 256 };
    if (n_bands > MAXB)
        n_bands = MAXB;
    char keys[MAXB][300];
    const char *argvs[MAXB][3];
    const char *const *pv[MAXB] = {0};
    int argc[MAXB] = {0};
    redisReply *rep[MAXB];
    for (size_t b = 0; b < n_bands; b++) {
        snprintf(keys[b], sizeof keys[b], "es:{b:%s}:lsh:%zu:%016llx", brand, b,
                 (unsigned long long)bands[b]);
        /* a bucket shared by boilerplate can grow large: take a bounded sample of it (the
         * other bands still find a true near-copy) */
        argvs[b][0] = "SRANDMEMBER";
        argvs[b][1] = keys[b];
        argvs[b][2] = "64";
        pv[b] = argvs[b];
        argc[b] = 3;
    }
    /* All bands in one round trip, then all candidate texts in another. */
    if (es__pipeline(s, (int)n_bands, argc, pv, rep) != 0)
        return ES_EIO;
    /* Count in how many bands each id turned up. */
    json_t *seen = json_object(), *ids = json_object(), *arr = json_array();
    for (size_t b = 0; b < n_bands; b++) {
        for (size_t i = 0; seen && rep[b]->type == REDIS_REPLY_ARRAY && i < rep[b]->elements;
             i++) {
            const char *id = rep[b]->element[i]->str;
            json_t *c = json_object_get(seen, id);
            json_object_set_new(seen, id, json_integer(c ? json_integer_value(c) + 1 : 1));
        }
        freeReplyObject(rep[b]);
    }
    if (!seen || !ids || !arr) {
        json_decref(seen);
        json_decref(ids);
        json_decref(arr);
        return ES_ENOMEM;
    }
    /*
     * A text at similarity s shares each band with probability s^4 (0.41 at 0.8): a true
     * near-copy shares two or more of the 16 bands with probability 0.997, while texts that
     * only share boilerplate rarely do. So when there are many candidates, only those seen
     * in two bands are fetched; a handful are fetched whatever their count.
     */
    bool few = json_object_size(seen) <= 8;
    const char *sid;
    json_t *cnt;
    json_object_foreach(seen, sid, cnt)
    {
        if ((few || json_integer_value(cnt) >= 2) && json_object_size(ids) < MAXC)
            json_object_set_new(ids, sid, json_true());
    }
    json_decref(seen);
    size_t n = json_object_size(ids);
    int rc = 0;
    if (n) {
        static __thread char gkeys[MAXC][300];
        const char *gv[MAXC][2];
        const char *const *gpv[MAXC];
        int gc[MAXC];
        redisReply *grep[MAXC];
        const char *names[MAXC];
        size_t k = 0;
        const char *id;
        json_t *v;
        json_object_foreach(ids, id, v)
        {
            snprintf(gkeys[k], sizeof gkeys[k], "es:{b:%s}:r:%s", brand, id);
            gv[k][0] = "GET";
            gv[k][1] = gkeys[k];
            gpv[k] = gv[k];
            gc[k] = 2;
            names[k] = id;
            k++;
        }
        rc = es__pipeline(s, (int)k, gc, gpv, grep);
        for (size_t i = 0; !rc && i < k; i++) {
            if (grep[i]->type == REDIS_REPLY_STRING)
                json_array_append_new(arr, json_pack("{s:s,s:s%}", "id", names[i], "text",
                                                     grep[i]->str, (size_t)grep[i]->len));
            freeReplyObject(grep[i]);
        }
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
    enum { MAXB = 64 };
    if (n_bands > MAXB)
        n_bands = MAXB;
    char ttl[32], rkey[512], keys[MAXB][300];
    snprintf(ttl, sizeof ttl, "%d", days * 86400);
    snprintf(rkey, sizeof rkey, "es:{b:%s}:r:%s", brand, reply_id);
    const char *argvs[1 + 2 * MAXB][5];
    const char *const *pv[1 + 2 * MAXB];
    int argc[1 + 2 * MAXB];
    redisReply *rep[1 + 2 * MAXB];
    int n = 0;
    argvs[n][0] = "SET";
    argvs[n][1] = rkey;
    argvs[n][2] = text;
    argvs[n][3] = "EX";
    argvs[n][4] = ttl;
    argc[n] = 5;
    pv[n] = argvs[n];
    n++;
    for (size_t b = 0; b < n_bands; b++) {
        snprintf(keys[b], sizeof keys[b], "es:{b:%s}:lsh:%zu:%016llx", brand, b,
                 (unsigned long long)bands[b]);
        argvs[n][0] = "SADD";
        argvs[n][1] = keys[b];
        argvs[n][2] = reply_id;
        argc[n] = 3;
        pv[n] = argvs[n];
        n++;
        argvs[n][0] = "EXPIRE";
        argvs[n][1] = keys[b];
        argvs[n][2] = ttl;
        argc[n] = 3;
        pv[n] = argvs[n];
        n++;
    }
    if (es__pipeline(s, n, argc, pv, rep) != 0)
        return ES_EIO;
    for (int i = 0; i < n; i++)
        freeReplyObject(rep[i]);
    return 0;
}
