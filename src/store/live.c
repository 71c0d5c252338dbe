/* The live pipeline's batched writes: dedup marks, counts per minute, events. */
#include <stdio.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "store/internal.h"

#define SEEN_TTL "604800"    /* 7 days */
#define STATS_TTL "691200"   /* 8 days */
#define EVENTS_MAXLEN "1000000"

/* seen_cmds runs one command per post on its seen key: EXISTS (check) or SET EX (mark). */
static int seen_cmds(struct es_store *s, const struct es_post *const *posts, size_t n, bool mark,
                     bool *is_new)
{
    if (n == 0)
        return 0;
    char(*keys)[300] = es_malloc(n * sizeof *keys);
    const char *(*argv)[5] = es_malloc(n * sizeof *argv);
    const char *const **pv = es_malloc(n * sizeof *pv);
    int *argc = es_malloc(n * sizeof *argc);
    redisReply **rep = es_malloc(n * sizeof *rep);
    int rc = ES_ENOMEM;
    if (!keys || !argv || !pv || !argc || !rep)
        goto out;
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "es:seen:%s:%s", es_platform_name(posts[i]->platform),
                 posts[i]->id);
        argv[i][0] = mark ? "SET" : "EXISTS";
        argv[i][1] = keys[i];
        argv[i][2] = "1";
        argv[i][3] = "EX";
        argv[i][4] = SEEN_TTL;
        pv[i] = argv[i];
        argc[i] = mark ? 5 : 2;
    }
    rc = es__pipeline(s, (int)n, argc, pv, rep);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!mark)
            is_new[i] = rep[i]->type == REDIS_REPLY_INTEGER && rep[i]->integer == 0;
        freeReplyObject(rep[i]);
    }
out:
    es_free(keys);
    es_free(argv);
    es_free(pv);
    es_free(argc);
    es_free(rep);
    return rc;
}

int es_store_seen_check(struct es_store *s, const struct es_post *const *posts, size_t n,
                        bool *is_new)
{
    return seen_cmds(s, posts, n, false, is_new);
}

int es_store_seen_mark(struct es_store *s, const struct es_post *const *posts, size_t n)
{
    return seen_cmds(s, posts, n, true, NULL);
}

int es_store_events_batch(struct es_store *s, const struct es_store_event *ev, size_t n)
{
    if (n == 0)
        return 0;
    /* at most 7 commands per event: 5 HINCRBY (posts, complaints, brand, category,
     * brand+category), 1 EXPIRE, 1 XADD; plus
     * one EXPIRE per distinct minute (bounded by n) */
    size_t cap = n * 7;
    struct cmd {
        const char *argv[24];
        char key[64];
        char field[2][320];
        char num[4][32];
    } *c = es_calloc(cap, sizeof *c);
    const char *const **pv = es_malloc(cap * sizeof *pv);
    int *argc = es_malloc(cap * sizeof *argc);
    redisReply **rep = es_malloc(cap * sizeof *rep);
    int rc = ES_ENOMEM;
    if (!c || !pv || !argc || !rep)
        goto out;
    size_t k = 0;
    char last_minute[64] = "";
    for (size_t i = 0; i < n; i++) {
        const struct es_store_event *e = &ev[i];
        int64_t t = (e->created_ms ? e->created_ms : e->now_ms) / 1000;
        int y, mo, d, h, mi, sec;
        es_time_to_civil(t, &y, &mo, &d, &h, &mi, &sec);
        char key[64];
        snprintf(key, sizeof key, "es:stats:%04d%02d%02d%02d%02d", y, mo, d, h, mi);
        const char *fields[5];
        char buf[3][320];
        int nf = 0;
        fields[nf++] = "posts";
        if (e->complaint) {
            fields[nf++] = "complaints";
            snprintf(buf[0], sizeof buf[0], "brand:%s", e->brand ? e->brand : "_");
            snprintf(buf[1], sizeof buf[1], "cat:%s", e->category ? e->category : "_");
            snprintf(buf[2], sizeof buf[2], "bc:%s:%s", e->brand ? e->brand : "_",
                     e->category ? e->category : "_");
            fields[nf++] = buf[0];
            fields[nf++] = buf[1];
            fields[nf++] = buf[2];
        }
        for (int f = 0; f < nf; f++) {
            struct cmd *m = &c[k];
            snprintf(m->key, sizeof m->key, "%s", key);
            snprintf(m->field[0], sizeof m->field[0], "%s", fields[f]);
            m->argv[0] = "HINCRBY";
            m->argv[1] = m->key;
            m->argv[2] = m->field[0];
            m->argv[3] = "1";
            pv[k] = m->argv;
            argc[k++] = 4;
        }
        if (strcmp(key, last_minute) != 0) {
            struct cmd *m = &c[k];
            snprintf(m->key, sizeof m->key, "%s", key);
            m->argv[0] = "EXPIRE";
            m->argv[1] = m->key;
            m->argv[2] = STATS_TTL;
            pv[k] = m->argv;
            argc[k++] = 3;
            snprintf(last_minute, sizeof last_minute, "%s", key);
        }
        if (e->mid) {
            struct cmd *m = &c[k];
            int a = 0;
            snprintf(m->num[0], sizeof m->num[0], "%lld", (long long)e->created_ms);
            snprintf(m->num[1], sizeof m->num[1], "%lld", (long long)e->now_ms);
            snprintf(m->num[2], sizeof m->num[2], "%d", e->severity);
            m->argv[a++] = "XADD";
            m->argv[a++] = "es:events";
            m->argv[a++] = "MAXLEN";
            m->argv[a++] = "~";
            m->argv[a++] = EVENTS_MAXLEN;
            m->argv[a++] = "*";
            m->argv[a++] = "type";
            m->argv[a++] = "mention";
            m->argv[a++] = "mid";
            m->argv[a++] = e->mid;
            m->argv[a++] = "platform";
            m->argv[a++] = e->platform;
            m->argv[a++] = "brand";
            m->argv[a++] = e->brand ? e->brand : "";
            m->argv[a++] = "category";
            m->argv[a++] = e->category ? e->category : "";
            m->argv[a++] = "severity";
            m->argv[a++] = m->num[2];
            m->argv[a++] = "fence";
            m->argv[a++] = e->fence ? e->fence : "";
            m->argv[a++] = "post_ms";
            m->argv[a++] = m->num[0];
            m->argv[a++] = "ms";
            m->argv[a++] = m->num[1];
            pv[k] = m->argv;
            argc[k++] = a;
        }
    }
    rc = es__pipeline(s, (int)k, argc, pv, rep);
    for (size_t i = 0; !rc && i < k; i++)
        freeReplyObject(rep[i]);
out:
    es_free(c);
    es_free(pv);
    es_free(argc);
    es_free(rep);
    return rc;
}
