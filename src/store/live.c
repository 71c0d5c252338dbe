/* The live pipeline's batched writes: dedup marks, counts per minute, events. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "store/internal.h"

#define SEEN_TTL "691200"    /* 8 days: a day's hash outlives its last post by 7 */
#define STATS_TTL "691200"   /* 8 days */
#define EVENTS_MAXLEN "1000000"

/*
 * Seen marks live in one hash per platform and UTC day of the post's time
 * (es:seen:<platform>:<yyyymmdd>, field = post id), so a page costs one
 * HMGET (check) and one HSET + EXPIRE (mark) per day it spans, not a
 * command and a key with its own TTL per post. A post without a time goes
 * to the day it was fetched.
 */
static void seen_key(const struct es_post *p, int64_t now_s, char *out, size_t n)
{
    int y, mo, d, h, mi, sec;
    es_time_to_civil(p->created_at ? p->created_at : now_s, &y, &mo, &d, &h, &mi, &sec);
    snprintf(out, n, "es:seen:%s:%04d%02d%02d", es_platform_name(p->platform), y, mo, d);
}

static int seen_cmds(struct es_store *s, const struct es_post *const *posts, size_t n, bool mark,
                     bool *is_new)
{
    if (n == 0)
        return 0;
    if (n > INT_MAX / 4)
        return ES_ELIMIT;
    char(*keys)[64] = es_malloc(n * sizeof *keys);
    size_t *group = es_malloc(n * sizeof *group); /* each post's key: index of its first post */
    size_t *first = es_malloc(n * sizeof *first); /* the groups, by their first post */
    const char **args = es_malloc(n * 7 * sizeof *args); /* 2 a post, 5 a group at most */
    const char *const **pv = es_malloc(n * 2 * sizeof *pv);
    int *argc = es_malloc(n * 2 * sizeof *argc);
    redisReply **rep = es_calloc(n * 2, sizeof *rep);
    int rc = ES_ENOMEM;
    if (!keys || !group || !first || !args || !pv || !argc || !rep)
        goto out;
    int64_t now_s = es_clock_now();
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        seen_key(posts[i], now_s, keys[i], sizeof keys[i]);
        size_t g = 0;
        while (g < ng && strcmp(keys[first[g]], keys[i]) != 0)
            g++;
        if (g == ng)
            first[ng++] = i;
        group[i] = g;
    }
    /* one command per group (HMGET key ids... / HSET key id 1 ...), and for a mark an
     * EXPIRE per group */
    size_t a = 0, k = 0;
    for (size_t g = 0; g < ng; g++) {
        pv[k] = &args[a];
        args[a++] = mark ? "HSET" : "HMGET";
        args[a++] = keys[first[g]];
        for (size_t i = first[g]; i < n; i++) {
            if (group[i] != g)
                continue;
            args[a++] = posts[i]->id;
            if (mark)
                args[a++] = "1";
        }
        argc[k] = (int)(&args[a] - pv[k]);
        k++;
        if (mark) {
            pv[k] = &args[a];
            args[a++] = "EXPIRE";
            args[a++] = keys[first[g]];
            args[a++] = SEEN_TTL;
            argc[k++] = 3;
        }
    }
    rc = es__pipeline(s, (int)k, argc, pv, rep);
    for (size_t g = 0; !rc && !mark && g < ng; g++) {
        const redisReply *r = rep[g];
        size_t e = 0;
        for (size_t i = first[g]; i < n; i++) {
            if (group[i] != g)
                continue;
            is_new[i] = !(r->type == REDIS_REPLY_ARRAY && e < r->elements &&
                          r->element[e]->type == REDIS_REPLY_STRING);
            e++;
        }
    }
    for (size_t i = 0; !rc && i < k; i++)
        freeReplyObject(rep[i]);
out:
    es_free(keys);
    es_free(group);
    es_free(first);
    es_free(args);
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

/* One counter of a page, summed before it is sent. */
struct incr {
    char key[32];    /* es:stats:<yyyymmddHHMM> */
    char field[256];
    long long by;
    char by_s[24];
    const char *argv[4];
};

/* count adds one to (key, field), merging with an earlier counter of the page. */
static void count(struct incr *inc, size_t *n, const char *key, const char *field)
{
    for (size_t i = *n; i-- > 0;)
        if (strcmp(inc[i].field, field) == 0 && strcmp(inc[i].key, key) == 0) {
            inc[i].by++;
            return;
        }
    struct incr *c = &inc[(*n)++];
    snprintf(c->key, sizeof c->key, "%s", key);
    snprintf(c->field, sizeof c->field, "%s", field);
    c->by = 1;
}

int es_store_events_batch(struct es_store *s, const struct es_store_event *ev, size_t n)
{
    if (n == 0)
        return 0;
    /* Counters are summed per page (a page's posts mostly share a minute): at most 5
     * per event, one EXPIRE per distinct minute, one XADD per mention. */
    struct xadd {
        const char *argv[24];
        char num[3][32];
    } *x = es_malloc(n * sizeof *x);
    struct incr *inc = es_malloc(n * 5 * sizeof *inc);
    size_t cap = n * 7;
    const char *const **pv = es_malloc(cap * sizeof *pv);
    int *argc = es_malloc(cap * sizeof *argc);
    redisReply **rep = es_malloc(cap * sizeof *rep);
    const char *(*expire)[3] = es_malloc(n * sizeof *expire);
    int rc = ES_ENOMEM;
    if (!x || !inc || !pv || !argc || !rep || !expire)
        goto out;
    size_t k = 0, ninc = 0;
    for (size_t i = 0; i < n; i++) {
        const struct es_store_event *e = &ev[i];
        int64_t t = (e->created_ms ? e->created_ms : e->now_ms) / 1000;
        int y, mo, d, h, mi, sec;
        es_time_to_civil(t, &y, &mo, &d, &h, &mi, &sec);
        char key[32], f[256];
        snprintf(key, sizeof key, "es:stats:%04d%02d%02d%02d%02d", y, mo, d, h, mi);
        count(inc, &ninc, key, "posts");
        if (e->complaint) {
            const char *b = e->brand ? e->brand : "_", *cat = e->category ? e->category : "_";
            count(inc, &ninc, key, "complaints");
            snprintf(f, sizeof f, "brand:%s", b);
            count(inc, &ninc, key, f);
            snprintf(f, sizeof f, "cat:%s", cat);
            count(inc, &ninc, key, f);
            snprintf(f, sizeof f, "bc:%s:%s", b, cat);
            count(inc, &ninc, key, f);
        }
        if (e->mid) {
            struct xadd *m = &x[i];
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
    size_t nexp = 0;
    for (size_t i = 0; i < ninc; i++) {
        struct incr *c = &inc[i];
        snprintf(c->by_s, sizeof c->by_s, "%lld", c->by);
        c->argv[0] = "HINCRBY";
        c->argv[1] = c->key;
        c->argv[2] = c->field;
        c->argv[3] = c->by_s;
        pv[k] = c->argv;
        argc[k++] = 4;
        size_t j = 0;
        while (j < nexp && strcmp(expire[j][1], c->key) != 0)
            j++;
        if (j == nexp) { /* the minute's first counter: its hash expires after 8 days */
            expire[nexp][0] = "EXPIRE";
            expire[nexp][1] = c->key;
            expire[nexp][2] = STATS_TTL;
            pv[k] = expire[nexp++];
            argc[k++] = 3;
        }
    }
    rc = es__pipeline(s, (int)k, argc, pv, rep);
    for (size_t i = 0; !rc && i < k; i++)
        freeReplyObject(rep[i]);
out:
    es_free(x);
    es_free(inc);
    es_free(expire);
    es_free(pv);
    es_free(argc);
    es_free(rep);
    return rc;
}
