/*
 * The live pipeline's batched writes: dedup marks, tiers and mention ids read
 * before a page is judged, counts per minute and events after.
 *
 * A page costs three round trips however many posts it has:
 *
 *   es_store_page_prepare   seen marks (HMGET per day), the authors' tiers
 *                           (one HMGET of es:vip), a block of mention ids per
 *                           shard (INCRBY)
 *   es_store_mentions_add_ids   every complaint's mention_add script
 *   es_store_page_commit    counters, events, and the seen marks
 *
 * Round trips, not commands, are what a page costs here: each is a write, a
 * blocking read and two context switches.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "store/internal.h"

#define SEEN_TTL "691200"    /* 8 days: a day's hash outlives its last post by 7 */
#define STATS_TTL "691200"   /* 8 days */
#define EVENTS_MAXLEN "1000000"

/* Commands of one pipeline: argv pointers into storage the builders own. */
struct cmds {
    const char *const **pv;
    int *argc;
    size_t n, cap;
};

static int cmds_init(struct cmds *c, size_t cap)
{
    c->n = 0;
    c->cap = cap;
    c->pv = es_malloc((cap ? cap : 1) * sizeof *c->pv);
    c->argc = es_malloc((cap ? cap : 1) * sizeof *c->argc);
    return c->pv && c->argc ? 0 : ES_ENOMEM;
}

static void cmds_cleanup(struct cmds *c)
{
    es_free(c->pv);
    es_free(c->argc);
}

static void cmds_add(struct cmds *c, const char *const *argv, int argc)
{
    c->pv[c->n] = argv;
    c->argc[c->n++] = argc;
}

/* run sends the commands in one round trip; replies are freed unless rep is kept. */
static int run(struct es_store *s, struct cmds *c, redisReply **rep)
{
    if (c->n == 0)
        return 0;
    if (c->n > INT_MAX)
        return ES_ELIMIT;
    return es__pipeline(s, (int)c->n, c->argc, c->pv, rep);
}

static void free_replies(redisReply **rep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
}

/* ---- seen marks ---- */

/*
 * Seen marks live in one hash per platform and UTC day of the post's time
 * (es:seen:<platform>:<yyyymmdd>, field = post id), so a page costs one
 * HMGET (check) and one HSET + EXPIRE (mark) per day it spans, not a
 * command and a key with its own TTL per post. A post without a time goes
 * to the day it was fetched.
 */
struct seen {
    char (*keys)[64];
    size_t *group; /* each post's day: the index of the day's first post in first[] */
    size_t *first; /* the days, by their first post */
    size_t ng;
    const char **args; /* 7 a post at most */
};

static void seen_cleanup(struct seen *sp)
{
    es_free(sp->keys);
    es_free(sp->group);
    es_free(sp->first);
    es_free(sp->args);
}

static int seen_init(struct seen *sp, const struct es_post *const *posts, size_t n)
{
    memset(sp, 0, sizeof *sp);
    size_t m = n ? n : 1;
    sp->keys = es_malloc(m * sizeof *sp->keys);
    sp->group = es_malloc(m * sizeof *sp->group);
    sp->first = es_malloc(m * sizeof *sp->first);
    sp->args = es_malloc(m * 7 * sizeof *sp->args);
    if (!sp->keys || !sp->group || !sp->first || !sp->args) {
        seen_cleanup(sp);
        return ES_ENOMEM;
    }
    int64_t now_s = es_clock_now();
    for (size_t i = 0; i < n; i++) {
        int y, mo, d, h, mi, sec;
        es_time_to_civil(posts[i]->created_at ? posts[i]->created_at : now_s, &y, &mo, &d, &h,
                         &mi, &sec);
        snprintf(sp->keys[i], sizeof sp->keys[i], "es:seen:%s:%04d%02d%02d",
                 es_platform_name(posts[i]->platform), y, mo, d);
        size_t g = 0;
        while (g < sp->ng && strcmp(sp->keys[sp->first[g]], sp->keys[i]) != 0)
            g++;
        if (g == sp->ng)
            sp->first[sp->ng++] = i;
        sp->group[i] = g;
    }
    return 0;
}

/* seen_build adds HMGET key ids... (check) or HSET key id 1 ... + EXPIRE (mark) per day. */
static void seen_build(struct seen *sp, const struct es_post *const *posts, size_t n, bool mark,
                       struct cmds *c)
{
    size_t a = 0;
    for (size_t g = 0; g < sp->ng; g++) {
        const char **cmd = &sp->args[a];
        sp->args[a++] = mark ? "HSET" : "HMGET";
        sp->args[a++] = sp->keys[sp->first[g]];
        for (size_t i = sp->first[g]; i < n; i++) {
            if (sp->group[i] != g)
                continue;
            sp->args[a++] = posts[i]->id;
            if (mark)
                sp->args[a++] = "1";
        }
        cmds_add(c, cmd, (int)(&sp->args[a] - cmd));
        if (mark) {
            cmd = &sp->args[a];
            sp->args[a++] = "EXPIRE";
            sp->args[a++] = sp->keys[sp->first[g]];
            sp->args[a++] = SEEN_TTL;
            cmds_add(c, cmd, 3);
        }
    }
}

/* seen_parse reads the HMGET replies (rep[g] for day g): a post is new without a mark. */
static void seen_parse(const struct seen *sp, size_t n, redisReply *const *rep, bool *is_new)
{
    for (size_t g = 0; g < sp->ng; g++) {
        const redisReply *r = rep[g];
        size_t e = 0;
        for (size_t i = sp->first[g]; i < n; i++) {
            if (sp->group[i] != g)
                continue;
            is_new[i] = !(r->type == REDIS_REPLY_ARRAY && e < r->elements &&
                          r->element[e]->type == REDIS_REPLY_STRING);
            e++;
        }
    }
}

/* ---- counters and events ---- */

/* One counter of a page, summed before it is sent. */
struct incr {
    char key[32];    /* es:stats:<yyyymmddHHMM> */
    char field[256];
    long long by;
    char by_s[24];
    const char *argv[4];
};

struct xadd {
    const char *argv[24];
    char num[3][32];
};

struct events {
    struct xadd *x;
    struct incr *inc;
    const char *(*expire)[3];
    size_t ninc;
};

static void events_cleanup(struct events *ep)
{
    es_free(ep->x);
    es_free(ep->inc);
    es_free(ep->expire);
}

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

/* events_build: counters summed per page (a page's posts mostly share a minute): at most
 * 5 a post, one EXPIRE per distinct minute, one XADD per mention: 7 commands a post. */
static int events_build(struct events *ep, const struct es_store_event *ev, size_t n,
                        struct cmds *c)
{
    memset(ep, 0, sizeof *ep);
    size_t m = n ? n : 1;
    ep->x = es_malloc(m * sizeof *ep->x);
    ep->inc = es_malloc(m * 5 * sizeof *ep->inc);
    ep->expire = es_malloc(m * sizeof *ep->expire);
    if (!ep->x || !ep->inc || !ep->expire)
        return ES_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct es_store_event *e = &ev[i];
        int64_t t = (e->created_ms ? e->created_ms : e->now_ms) / 1000;
        int y, mo, d, h, mi, sec;
        es_time_to_civil(t, &y, &mo, &d, &h, &mi, &sec);
        char key[32], f[256];
        snprintf(key, sizeof key, "es:stats:%04d%02d%02d%02d%02d", y, mo, d, h, mi);
        count(ep->inc, &ep->ninc, key, "posts");
        if (e->complaint) {
            const char *b = e->brand ? e->brand : "_", *cat = e->category ? e->category : "_";
            count(ep->inc, &ep->ninc, key, "complaints");
            snprintf(f, sizeof f, "brand:%s", b);
            count(ep->inc, &ep->ninc, key, f);
            snprintf(f, sizeof f, "cat:%s", cat);
            count(ep->inc, &ep->ninc, key, f);
            snprintf(f, sizeof f, "bc:%s:%s", b, cat);
            count(ep->inc, &ep->ninc, key, f);
        }
        if (!e->mid)
            continue;
        struct xadd *m = &ep->x[i];
        snprintf(m->num[0], sizeof m->num[0], "%lld", (long long)e->created_ms);
        snprintf(m->num[1], sizeof m->num[1], "%lld", (long long)e->now_ms);
        snprintf(m->num[2], sizeof m->num[2], "%d", e->severity);
        const char *argv[] = {"XADD",     "es:events",    "MAXLEN",  "~",
                              EVENTS_MAXLEN, "*",         "type",    "mention",
                              "mid",      e->mid,         "platform", e->platform,
                              "brand",    e->brand ? e->brand : "", "category",
                              e->category ? e->category : "", "severity", m->num[2],
                              "fence",    e->fence ? e->fence : "", "post_ms", m->num[0],
                              "ms",       m->num[1]};
        memcpy(m->argv, argv, sizeof argv);
        cmds_add(c, m->argv, (int)(sizeof argv / sizeof *argv));
    }
    size_t nexp = 0;
    for (size_t i = 0; i < ep->ninc; i++) {
        struct incr *in = &ep->inc[i];
        snprintf(in->by_s, sizeof in->by_s, "%lld", in->by);
        in->argv[0] = "HINCRBY";
        in->argv[1] = in->key;
        in->argv[2] = in->field;
        in->argv[3] = in->by_s;
        cmds_add(c, in->argv, 4);
        size_t j = 0;
        while (j < nexp && strcmp(ep->expire[j][1], in->key) != 0)
            j++;
        if (j == nexp) { /* the minute's first counter: its hash expires after 8 days */
            ep->expire[nexp][0] = "EXPIRE";
            ep->expire[nexp][1] = in->key;
            ep->expire[nexp][2] = STATS_TTL;
            cmds_add(c, ep->expire[nexp++], 3);
        }
    }
    return 0;
}

int es_store_events_batch(struct es_store *s, const struct es_store_event *ev, size_t n)
{
    return es_store_page_commit(s, ev, n, NULL, 0);
}

int es_store_page_commit(struct es_store *s, const struct es_store_event *ev, size_t ne,
                         const struct es_post *const *posts, size_t n)
{
    if (ne == 0 && n == 0)
        return 0;
    struct events ep = {0};
    struct seen sp = {0};
    struct cmds c = {0};
    redisReply **rep = NULL;
    size_t cap = ne * 7 + n * 2;
    int rc = cmds_init(&c, cap);
    rep = es_calloc(cap ? cap : 1, sizeof *rep);
    if (rc || !rep) {
        rc = ES_ENOMEM;
        goto out;
    }
    rc = events_build(&ep, ev, ne, &c);
    if (!rc && n) {
        rc = seen_init(&sp, posts, n);
        if (!rc)
            seen_build(&sp, posts, n, true, &c);
    }
    if (!rc)
        rc = run(s, &c, rep);
    free_replies(rep, c.n);
out:
    es_free(rep);
    cmds_cleanup(&c);
    events_cleanup(&ep);
    seen_cleanup(&sp);
    return rc;
}

/* ---- before a page is judged ---- */

int es_store_page_prepare(struct es_store *s, const struct es_post *const *posts, size_t n,
                          bool *is_new, char (*tiers)[64], long long *ids)
{
    if (n == 0)
        return 0;
    struct seen sp;
    struct cmds c = {0};
    redisReply **rep = NULL;
    char(*fields)[512] = NULL;
    const char **vip = NULL;
    int rc = seen_init(&sp, posts, n);
    if (rc)
        return rc;
    /* per shard: how many ids the page may need, and the INCRBY that reserves them */
    long long want[ES_STORE_SHARDS] = {0};
    int shard_of[ES_STORE_SHARDS];
    char keys[ES_STORE_SHARDS][32], by[ES_STORE_SHARDS][24];
    const char *incr[ES_STORE_SHARDS][3];
    int *shard = es_malloc(n * sizeof *shard);
    fields = es_malloc(n * sizeof *fields);
    vip = es_malloc((n + 2) * sizeof *vip);
    rep = es_calloc(n + 2 + ES_STORE_SHARDS, sizeof *rep);
    rc = cmds_init(&c, n + 2 + ES_STORE_SHARDS);
    if (rc || !shard || !fields || !vip || !rep) {
        rc = ES_ENOMEM;
        goto out;
    }
    seen_build(&sp, posts, n, false, &c);
    size_t vip_at = c.n;
    es__vip_args(posts, n, fields, vip);
    for (size_t i = 0; i < n; i++) {
        shard[i] = es__shard(es_platform_name(posts[i]->platform), es__author_of(posts[i]));
        want[shard[i]]++;
    }
    cmds_add(&c, vip, (int)(n + 2));
    size_t incr_at = c.n, nshards = 0;
    for (int k = 0; k < ES_STORE_SHARDS; k++) {
        if (!want[k])
            continue;
        snprintf(keys[k], sizeof keys[k], "es:{s%d}:seq", k);
        snprintf(by[k], sizeof by[k], "%lld", want[k]);
        incr[k][0] = "INCRBY";
        incr[k][1] = keys[k];
        incr[k][2] = by[k];
        cmds_add(&c, incr[k], 3);
        shard_of[nshards++] = k;
    }
    rc = run(s, &c, rep);
    if (rc)
        goto out;
    seen_parse(&sp, n, rep, is_new);
    for (size_t i = 0; i < n; i++)
        es__vip_tier(rep[vip_at], i, fields[i], tiers[i], sizeof tiers[i]);
    /* each shard's block is (value - want, value]: hand its ids out in page order */
    long long next[ES_STORE_SHARDS] = {0};
    for (size_t j = 0; j < nshards; j++) {
        const redisReply *r = rep[incr_at + j];
        if (r->type != REDIS_REPLY_INTEGER) {
            rc = ES_EIO;
            goto out;
        }
        next[shard_of[j]] = r->integer - want[shard_of[j]] + 1;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = next[shard[i]]++;
out:
    free_replies(rep, c.n);
    es_free(rep);
    es_free(shard);
    es_free(fields);
    es_free(vip);
    cmds_cleanup(&c);
    seen_cleanup(&sp);
    return rc;
}
