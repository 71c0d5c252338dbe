/* Mentions: shards and keys, adding a flagged post, listing the triage queue, detail. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "store/internal.h"
#include "store/kpi_int.h"

#define POST_TTL_S (30 * 86400)
#define NEG_WINDOW_MS (30LL * 86400 * 1000)
#define DEFAULT_SLA_MS (3600LL * 1000)

int es__shard(const char *platform, const char *author)
{
    uint32_t h = 2166136261u;
    for (const char *p = platform; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ ':') * 16777619u;
    for (const char *p = author; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (int)(h % ES_STORE_SHARDS);
}

int es__shard_of_mid(const char *mid)
{
    if (!mid || mid[0] != 'm')
        return -1;
    char *end;
    long k = strtol(mid + 1, &end, 10);
    if (end == mid + 1 || *end != '-' || k < 0 || k >= ES_STORE_SHARDS)
        return -1;
    for (const char *p = end + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    return end[1] ? (int)k : -1;
}

double es_store_priority(int severity, int64_t followers, const char *tier, bool complaint)
{
    /* Severity dominates; reach (log of followers) and tier order within it. */
    double p = (severity < 1 ? 1 : severity > 4 ? 4 : severity) * 100.0;
    double reach = followers > 0 ? log10((double)followers + 1) : 0;
    p += (reach > 8 ? 8 : reach) * 10.0;
    if (tier && strcmp(tier, "vip") == 0)
        p += 150;
    else if (tier && *tier)
        p += 75;
    if (!complaint)
        p -= 50;
    return p;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* es__vip_field: the es:vip field of a post's author ("" when it has none). */
void es__vip_field(const struct es_post *p, char *field, size_t n)
{
    field[0] = '\0';
    if (!p->author.handle && !p->author.id)
        return;
    snprintf(field, n, "%s:%s", es_platform_name(p->platform),
             p->author.handle ? p->author.handle : p->author.id);
    for (char *q = field; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
}

void es__vip_args(const struct es_post *const *posts, size_t n, char (*fields)[512],
                  const char **argv)
{
    argv[0] = "HMGET";
    argv[1] = "es:vip";
    for (size_t i = 0; i < n; i++) {
        es__vip_field(posts[i], fields[i], sizeof fields[i]);
        argv[2 + i] = fields[i][0] ? fields[i] : "-"; /* no author: a field never set */
    }
}

void es__vip_tier(const redisReply *r, size_t i, const char *field, char *tier, size_t n)
{
    tier[0] = '\0';
    if (field[0] && r && r->type == REDIS_REPLY_ARRAY && i < r->elements &&
        r->element[i]->type == REDIS_REPLY_STRING)
        snprintf(tier, n, "%s", r->element[i]->str);
}

/* vip_get_many: the tiers of n posts' authors in one command (tiers[i] gets "" when
 * none; each has room for tier_n bytes). */
static int vip_get_many(struct es_store *s, const struct es_post *const *posts, size_t n,
                        char *const *tiers, size_t tier_n)
{
    if (n == 0)
        return 0;
    if (n > INT_MAX - 2)
        return ES_ELIMIT;
    char(*fields)[512] = es_malloc(n * sizeof *fields);
    const char **argv = es_malloc((n + 2) * sizeof *argv);
    int rc = ES_ENOMEM;
    if (fields && argv) {
        es__vip_args(posts, n, fields, argv);
        redisReply *r = es__cmd(s, (int)(n + 2), argv, NULL);
        rc = r ? 0 : ES_EIO;
        for (size_t i = 0; i < n; i++)
            es__vip_tier(r, i, fields[i], tiers[i], tier_n);
        if (r)
            freeReplyObject(r);
    }
    es_free(fields);
    es_free(argv);
    return rc;
}

/* EVALSHA, sha, numkeys, 10 keys, 12 arguments; then at most MADD_FIELDS name, value pairs. */
#define MADD_FIXED 25
#define MADD_FIELDS 32

/* One mention being added: its keys and the mention_add script's arguments. */
struct madd {
    char mid[64], conv[1024], kpost[1024], km[128], kc[1200], kq[512], kcust[1024],
        kneg[1024], khist[1024], kqs[64], kkpi[64], kqall[64], seqkey[64], tier[64];
    char evalsha[8], sha[41], nkeys[4], now_s[32], ttl[32], score_s[64], neg_s[32],
        nfields[8], created_at[24];
    char num[MADD_FIELDS][40]; /* numeric field values, by field index */
    char *text;                /* the post's text, NUL-terminated */
    const char *argv[MADD_FIXED + 2 * MADD_FIELDS];
    int argc;
};

static void field(struct madd *a, int *nf, const char *name, const char *value)
{
    a->argv[MADD_FIXED + 2 * *nf] = name;
    a->argv[MADD_FIXED + 2 * *nf + 1] = value;
    (*nf)++;
}

static void field_int(struct madd *a, int *nf, const char *name, long long v)
{
    snprintf(a->num[*nf], sizeof a->num[*nf], "%lld", v);
    field(a, nf, name, a->num[*nf]);
}

/* Lua's tostring precision, as the fields had when they were JSON */
static void field_real(struct madd *a, int *nf, const char *name, double v)
{
    snprintf(a->num[*nf], sizeof a->num[*nf], "%.14g", v);
    field(a, nf, name, a->num[*nf]);
}

const char *es__author_of(const struct es_post *p)
{
    return p->author.id ? p->author.id : p->author.handle ? p->author.handle : "?";
}

/* madd_prepare fills a for post p given the shard counter's new value. */
static int madd_prepare(struct es_store *s, const struct es_post *p,
                        const struct es_mention_in *in, long long counter, int64_t now_ms,
                        struct madd *a)
{
    const char *platform = es_platform_name(p->platform);
    const char *author = es__author_of(p);
    const char *root = p->thread_root ? p->thread_root : p->reply_to ? p->reply_to : p->id;
    int k = es__shard(platform, author);
    snprintf(a->mid, sizeof a->mid, "m%d-%lld", k, counter);
    snprintf(a->conv, sizeof a->conv, "%s:%s:%s", platform, root, author);
    snprintf(a->kpost, sizeof a->kpost, "es:{s%d}:post:%s:%s", k, platform, p->id);
    snprintf(a->km, sizeof a->km, "es:{s%d}:m:%s", k, a->mid);
    snprintf(a->kc, sizeof a->kc, "es:{s%d}:c:%s", k, a->conv);
    snprintf(a->kq, sizeof a->kq, "es:{s%d}:q:%s", k, in->brand ? in->brand : "_");
    snprintf(a->kcust, sizeof a->kcust, "es:{s%d}:cust:%s:%s", k, platform, author);
    snprintf(a->kneg, sizeof a->kneg, "es:{s%d}:neg:%s:%s", k, platform, author);
    snprintf(a->khist, sizeof a->khist, "es:{s%d}:hist:%s:%s", k, platform, author);
    snprintf(a->kqs, sizeof a->kqs, "es:{s%d}:queues", k);
    es__kpi_key(k, now_ms, a->kkpi, sizeof a->kkpi);
    snprintf(a->kqall, sizeof a->kqall, "es:{s%d}:qall", k);

    int64_t deadline = in->sla_deadline_ms
                           ? in->sla_deadline_ms
                           : (p->created_at ? p->created_at * 1000 : now_ms) + DEFAULT_SLA_MS;
    double prio = es_store_priority(in->severity, p->author.followers, a->tier, in->complaint);
    /* Queue score: priority first, then the earlier SLA deadline. */
    double score = floor(prio) * 1e10 + (1e10 - (double)(deadline / 1000 % 10000000000LL));

    /* The mention's fields go to the script as name, value pairs (no JSON to decode
     * in Lua: that was most of the script's cost). */
    int nf = 0;
    if (p->created_at)
        es_time_format_iso8601(p->created_at, a->created_at);
    field(a, &nf, "post_id", p->id);
    field(a, &nf, "platform", platform);
    field(a, &nf, "brand", nz(in->brand));
    field(a, &nf, "category", nz(in->category));
    field_int(a, &nf, "severity", in->severity);
    field_real(a, &nf, "score", in->score);
    field(a, &nf, "complaint", in->complaint ? "1" : "0");
    field(a, &nf, "rules", in->rules_json ? in->rules_json : "[]");
    field(a, &nf, "spans", in->spans_json ? in->spans_json : "[]");
    a->text = es_strndup(p->text, p->text_len);
    if (!a->text)
        return ES_ENOMEM;
    field(a, &nf, "text", a->text);
    field(a, &nf, "author_id", author);
    field(a, &nf, "author_name", nz(p->author.name));
    field(a, &nf, "author_handle", nz(p->author.handle));
    field_int(a, &nf, "followers", p->author.followers);
    field(a, &nf, "verified", p->author.verified ? "1" : "0");
    field(a, &nf, "tier", a->tier);
    field(a, &nf, "created_at", a->created_at);
    field(a, &nf, "lang", p->lang);
    field(a, &nf, "url", nz(p->url));
    field(a, &nf, "reply_to", nz(p->reply_to));
    field(a, &nf, "place", nz(p->place_name));
    field(a, &nf, "fence", nz(in->fence));
    field_real(a, &nf, "priority", prio);
    field_int(a, &nf, "sla_deadline_ms", deadline);
    field(a, &nf, "holder", "");
    field(a, &nf, "lease_until", "0");
    if (p->has_point) {
        field_real(a, &nf, "lat", p->lat);
        field_real(a, &nf, "lon", p->lon);
    }
    a->argc = MADD_FIXED + 2 * nf;
    snprintf(a->nfields, sizeof a->nfields, "%d", nf);
    snprintf(a->evalsha, sizeof a->evalsha, "EVALSHA");
    snprintf(a->sha, sizeof a->sha, "%s", s->sha[ES__S_MENTION_ADD]);
    snprintf(a->nkeys, sizeof a->nkeys, "10");
    snprintf(a->now_s, sizeof a->now_s, "%lld", (long long)now_ms);
    snprintf(a->ttl, sizeof a->ttl, "%d", POST_TTL_S);
    snprintf(a->score_s, sizeof a->score_s, "%.0f", score);
    snprintf(a->neg_s, sizeof a->neg_s, "%lld", NEG_WINDOW_MS);
    const char *argv[MADD_FIXED] = {a->evalsha, a->sha,   a->nkeys, a->kpost, a->km,
                                    a->kc,      a->kq,    a->kcust, a->kneg,  a->khist,
                                    a->kqs,     a->kkpi,  a->kqall, a->mid,   a->now_s, a->ttl,   a->score_s,
                                    in->complaint ? "1" : "0", a->conv, platform, root, author,
                                    nz(in->brand), a->nfields, a->neg_s};
    memcpy(a->argv, argv, sizeof argv);
    return 0;
}

int es_store_mention_add(struct es_store *s, const struct es_post *p,
                         const struct es_mention_in *in, int64_t now_ms, char *mid, size_t n,
                         bool *created)
{
    char buf[64];
    int rc = es_store_mentions_add(s, 1, &p, in, now_ms, &buf, created);
    if (rc == 0)
        snprintf(mid, n, "%s", buf);
    return rc;
}

/* add_scripts: every mention_add script of n posts, given each one's tier (a[i].tier) and
 * id counter, in one round trip. A Redis that forgot the scripts answers NOSCRIPT:
 * those run again one by one (es__eval loads the script). */
static int add_scripts(struct es_store *s, size_t n, const struct es_post *const *posts,
                       const struct es_mention_in *ins, const long long *counters,
                       int64_t now_ms, struct madd *a, char (*mids)[64], bool *created)
{
    int rc = 0;
    redisReply **rep = es_calloc(n, sizeof *rep);
    const char *const **pv = es_malloc(n * sizeof *pv);
    int *argc = es_malloc(n * sizeof *argc);
    if (!rep || !pv || !argc) {
        rc = ES_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = madd_prepare(s, posts[i], &ins[i], counters[i], now_ms, &a[i]);
        pv[i] = a[i].argv;
        argc[i] = a[i].argc;
    }
    if (!rc)
        rc = es__pipeline(s, (int)n, argc, pv, rep);
    for (size_t i = 0; i < n && rc == 0; i++) {
        redisReply *r = rep[i];
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(r);
            r = rep[i] = es__eval(s, ES__S_MENTION_ADD, 10, a[i].argv + 3, a[i].argc - 13,
                                  a[i].argv + 13, NULL);
        }
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            created[i] = r->element[0]->integer == 1;
            snprintf(mids[i], 64, "%s", r->element[1]->str);
        } else
            rc = ES_EIO;
    }
out:
    for (size_t i = 0; rep && i < n; i++)
        if (rep[i])
            freeReplyObject(rep[i]);
    es_free(rep);
    es_free(pv);
    es_free(argc);
    return rc;
}

int es_store_mentions_add_ids(struct es_store *s, size_t n, const struct es_post *const *posts,
                              const struct es_mention_in *ins, const long long *ids,
                              int64_t now_ms, char (*mids)[64], bool *created)
{
    if (n == 0)
        return 0;
    if (n > INT_MAX)
        return ES_ELIMIT;
    struct madd *a = es_calloc(n, sizeof *a);
    if (!a)
        return ES_ENOMEM;
    for (size_t i = 0; i < n; i++)
        snprintf(a[i].tier, sizeof a[i].tier, "%s", ins[i].tier ? ins[i].tier : "");
    int rc = add_scripts(s, n, posts, ins, ids, now_ms, a, mids, created);
    for (size_t i = 0; i < n; i++)
        es_free(a[i].text);
    es_free(a);
    return rc;
}

int es_store_mentions_add(struct es_store *s, size_t n, const struct es_post *const *posts,
                          const struct es_mention_in *ins, int64_t now_ms, char (*mids)[64],
                          bool *created)
{
    if (n == 0)
        return 0;
    if (n > INT_MAX)
        return ES_ELIMIT;
    int rc = ES_ENOMEM;
    struct madd *a = es_calloc(n, sizeof *a);
    redisReply **rep = es_calloc(n, sizeof *rep);
    const char *const **pv = es_malloc(n * sizeof *pv);
    const char *(*incr)[2] = es_malloc(n * sizeof *incr);
    int *argc = es_malloc(n * sizeof *argc);
    char **tiers = es_malloc(n * sizeof *tiers);
    const struct es_post **need = es_malloc(n * sizeof *need);
    long long *counters = es_malloc(n * sizeof *counters);
    size_t nneed = 0;
    if (!a || !rep || !pv || !incr || !argc || !tiers || !need || !counters)
        goto out;

    /* The tiers not given, then each mention's id from its shard's counter. */
    for (size_t i = 0; i < n; i++) {
        if (ins[i].tier)
            snprintf(a[i].tier, sizeof a[i].tier, "%s", ins[i].tier);
        else {
            need[nneed] = posts[i];
            tiers[nneed++] = a[i].tier;
        }
    }
    rc = vip_get_many(s, need, nneed, tiers, sizeof a->tier);
    if (rc)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int k = es__shard(es_platform_name(posts[i]->platform), es__author_of(posts[i]));
        snprintf(a[i].seqkey, sizeof a[i].seqkey, "es:{s%d}:seq", k);
        incr[i][0] = "INCR";
        incr[i][1] = a[i].seqkey;
        pv[i] = incr[i];
        argc[i] = 2;
    }
    rc = es__pipeline(s, (int)n, argc, pv, rep);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!rep[i] || rep[i]->type != REDIS_REPLY_INTEGER)
            rc = ES_EIO;
        else
            counters[i] = rep[i]->integer;
    }
    if (!rc)
        rc = add_scripts(s, n, posts, ins, counters, now_ms, a, mids, created);
out:
    for (size_t i = 0; a && i < n; i++) {
        if (rep && rep[i])
            freeReplyObject(rep[i]);
        es_free(a[i].text);
    }
    es_free(a);
    es_free(rep);
    es_free(pv);
    es_free(incr);
    es_free(argc);
    es_free(tiers);
    es_free(need);
    es_free(counters);
    return rc;
}

/* hash_to_json turns an HGETALL reply into an object; numeric fields become numbers and
 * the verdict's rules and spans arrays (left out when brief). */
static json_t *hash_to_json(const redisReply *r, bool brief)
{
    static const char *numeric[] = {"severity", "score", "complaint", "followers", "verified",
                                    "priority", "sla_deadline_ms", "lease_until", "created_ms",
                                    "updated_ms", "public_replies", "dm_open", "mentions",
                                    "first_ms", "last_ms", "last_reply_ms", "first_reply_ms",
                                    "resolved_ms", "churn_risk", "lat", "lon", "complaints",
                                    "replies", "resolved", "ignored", "negatives_30d", "posted",
                                    "dm_opened_ms"};
    static const char *embedded_json[] = {"rules", "spans"};
    json_t *o = json_object();
    if (!o || !r || r->type != REDIS_REPLY_ARRAY)
        return o;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        size_t vl = r->element[i + 1]->len;
        json_t *val = NULL;
        if (brief && (strcmp(k, "rules") == 0 || strcmp(k, "spans") == 0))
            continue;
        for (size_t j = 0; j < sizeof numeric / sizeof *numeric && !val; j++)
            if (strcmp(k, numeric[j]) == 0)
                val = strchr(v, '.') ? json_real(strtod(v, NULL))
                                     : json_integer(strtoll(v, NULL, 10));
        for (size_t j = 0; j < sizeof embedded_json / sizeof *embedded_json && !val; j++)
            if (strcmp(k, embedded_json[j]) == 0)
                val = json_loadb(v, vl, 0, NULL);
        if (!val)
            val = json_stringn(v, vl);
        json_object_set_new(o, k, val);
    }
    return o;
}

/* effective_state: a claim whose lease ran out reads as new again. */
static void fix_state(json_t *m, int64_t now_ms)
{
    const char *st = json_string_value(json_object_get(m, "state"));
    json_int_t until = json_integer_value(json_object_get(m, "lease_until"));
    if (until <= now_ms) {
        json_object_set_new(m, "holder", json_string(""));
        if (st && strcmp(st, "claimed") == 0)
            json_object_set_new(m, "state", json_string("new"));
    }
}

static json_t *get_hash(struct es_store *s, const char *key)
{
    const char *argv[] = {"HGETALL", key};
    redisReply *r = es__cmd(s, 2, argv, NULL);
    json_t *o = NULL;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0)
        o = hash_to_json(r, false);
    if (r)
        freeReplyObject(r);
    return o;
}

static bool str_eq(json_t *o, const char *k, const char *want)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && strcmp(v, want) == 0;
}

static bool keep(json_t *m, const struct es_mention_filter *f)
{
    const char *st = json_string_value(json_object_get(m, "state"));
    if (f->state ? !str_eq(m, "state", f->state)
                 : (st && (strcmp(st, "resolved") == 0 || strcmp(st, "ignored") == 0)))
        return false;
    if (f->category && !str_eq(m, "category", f->category))
        return false;
    if (f->platform && !str_eq(m, "platform", f->platform))
        return false;
    if (f->assignee && !str_eq(m, "holder", f->assignee))
        return false;
    if (f->fence && !str_eq(m, "fence", f->fence))
        return false;
    if (f->min_severity && json_integer_value(json_object_get(m, "severity")) < f->min_severity)
        return false;
    return true;
}

struct qitem {
    char mid[64];
    double score;
};

static int qitem_cmp(const void *a, const void *b)
{
    const struct qitem *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->mid, y->mid);
}

/*
 * es_store_mentions_list merges the per-shard queues of the brand (or of all
 * brands) by score. The cursor is "score:mid" of the last item returned.
 */
/* run_pipeline: n commands of argc words each (argv[i] has them), in one round trip. */
static int run_pipeline(struct es_store *s, size_t n, int argc, const char *const *argv,
                        redisReply **rep)
{
    if (n == 0)
        return 0;
    const char *const **pv = es_malloc(n * sizeof *pv);
    int *ac = es_malloc(n * sizeof *ac);
    int rc = ES_ENOMEM;
    if (pv && ac) {
        for (size_t i = 0; i < n; i++) {
            pv[i] = argv + i * (size_t)argc;
            ac[i] = argc;
        }
        rc = es__pipeline(s, (int)n, ac, pv, rep);
    }
    es_free(pv);
    es_free(ac);
    return rc;
}

/* queue_keys: the queues to merge: the brand's queue in every shard, or every shard's
 * queue of all brands (es:{sK}:qall). JSON array of strings, new reference. */
static int queue_keys(const char *brand, json_t **out)
{
    json_t *keys = json_array();
    if (!keys)
        return ES_ENOMEM;
    for (int k = 0; k < ES_STORE_SHARDS; k++) {
        char name[512];
        if (brand)
            snprintf(name, sizeof name, "es:{s%d}:q:%s", k, brand);
        else
            snprintf(name, sizeof name, "es:{s%d}:qall", k);
        json_array_append_new(keys, json_string(name));
    }
    *out = keys;
    return 0;
}

int es_store_mentions_list(struct es_store *s, const struct es_mention_filter *f, json_t **out,
                           char **next_cursor)
{
    size_t limit = f->limit ? f->limit : 50;
    if (limit > 1000)
        limit = 1000;
    double cur_score = INFINITY;
    char cur_mid[64] = "";
    if (f->cursor && sscanf(f->cursor, "%lf:%63s", &cur_score, cur_mid) != 2) {
        cur_score = INFINITY;
        cur_mid[0] = '\0';
    }
    *next_cursor = NULL;
    /* Queues hold open mentions only: without other filters each queue needs to give
     * no more than a page (and one to tell whether there is a next page). */
    bool filtered = f->state || f->category || f->platform || f->assignee || f->fence ||
                    f->min_severity;
    size_t per_queue = filtered ? limit * 4 + 16 : limit + 1;
    struct qitem *items = NULL;
    size_t n = 0, alloc = 0, nq = 0;
    json_t *keys = NULL, *arr = NULL;
    const char *(*zargv)[8] = NULL;
    redisReply **rep = NULL;
    const char *(*hargv)[2] = NULL;
    char(*hkeys)[128] = NULL;
    int rc = queue_keys(f->brand, &keys);
    if (rc)
        goto out;

    /* Round trip: the head of every queue below the cursor. */
    nq = json_array_size(keys);
    char max[64], lim[32];
    snprintf(max, sizeof max, "%.0f", isinf(cur_score) ? 1e300 : cur_score);
    snprintf(lim, sizeof lim, "%zu", per_queue);
    zargv = es_malloc((nq ? nq : 1) * sizeof *zargv);
    rep = es_calloc(nq > limit ? nq : limit, sizeof *rep);
    if (!zargv || !rep) {
        rc = ES_ENOMEM;
        goto out;
    }
    for (size_t q = 0; q < nq; q++) {
        const char *a[8] = {"ZREVRANGEBYSCORE", json_string_value(json_array_get(keys, q)),
                            max, "-inf", "WITHSCORES", "LIMIT", "0", lim};
        memcpy(zargv[q], a, sizeof a);
    }
    rc = run_pipeline(s, nq, 8, &zargv[0][0], rep);
    for (size_t q = 0; q < nq; q++) {
        redisReply *r = rep[q];
        for (size_t i = 0; !rc && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
            double sc = strtod(r->element[i + 1]->str, NULL);
            const char *mid = r->element[i]->str;
            if (sc == cur_score && strcmp(mid, cur_mid) <= 0)
                continue;
            if (n == alloc) {
                alloc = alloc ? alloc * 2 : 256;
                struct qitem *ni = es_realloc(items, alloc * sizeof *ni);
                if (!ni) {
                    rc = ES_ENOMEM;
                    break;
                }
                items = ni;
            }
            snprintf(items[n].mid, sizeof items[n].mid, "%s", mid);
            items[n].score = sc;
            n++;
        }
        if (r)
            freeReplyObject(r);
        rep[q] = NULL;
    }
    if (rc)
        goto out;
    arr = json_array();
    hargv = es_malloc(limit * sizeof *hargv);
    hkeys = es_malloc(limit * sizeof *hkeys);
    if (!arr || !hargv || !hkeys) {
        rc = ES_ENOMEM;
        goto out;
    }
    if (n)
        qsort(items, n, sizeof *items, qitem_cmp);

    /* Round trips: the mentions, best first, a page's worth at a time until the page is
     * full (filters may drop some). */
    int64_t now = es_clock_now_ms();
    size_t taken = 0, i = 0;
    while (!rc && i < n && taken < limit) {
        size_t batch = limit - taken;
        if (batch > n - i)
            batch = n - i;
        for (size_t j = 0; j < batch; j++) {
            const char *mid = items[i + j].mid;
            snprintf(hkeys[j], sizeof hkeys[j], "es:{s%d}:m:%s", es__shard_of_mid(mid), mid);
            hargv[j][0] = "HGETALL";
            hargv[j][1] = hkeys[j];
        }
        rc = run_pipeline(s, batch, 2, &hargv[0][0], rep);
        for (size_t j = 0; j < batch; j++) {
            json_t *m = NULL;
            if (!rc && rep[j]->type == REDIS_REPLY_ARRAY && rep[j]->elements > 0)
                m = hash_to_json(rep[j], f->brief);
            if (rep[j])
                freeReplyObject(rep[j]);
            rep[j] = NULL;
            if (!m)
                continue;
            fix_state(m, now);
            if (!keep(m, f) || taken == limit) {
                json_decref(m);
                continue;
            }
            json_array_append_new(arr, m);
            if (++taken == limit && i + j + 1 < n) {
                char buf[128];
                snprintf(buf, sizeof buf, "%.0f:%s", items[i + j].score, items[i + j].mid);
                *next_cursor = es_strdup(buf);
            }
        }
        i += batch;
    }
out:
    es_free(items);
    es_free(zargv);
    es_free(rep);
    es_free(hargv);
    es_free(hkeys);
    json_decref(keys);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int es_store_mention_get(struct es_store *s, const char *mid, json_t **out)
{
    int k = es__shard_of_mid(mid);
    if (k < 0)
        return ES_ENOTFOUND;
    char key[128];
    snprintf(key, sizeof key, "es:{s%d}:m:%s", k, mid);
    json_t *m = get_hash(s, key);
    if (!m)
        return ES_ENOTFOUND;
    fix_state(m, es_clock_now_ms());
    const char *conv = json_string_value(json_object_get(m, "conv"));
    const char *platform = json_string_value(json_object_get(m, "platform"));
    const char *author = json_string_value(json_object_get(m, "author_id"));
    if (conv) {
        char ck[1200];
        snprintf(ck, sizeof ck, "es:{s%d}:c:%s", k, conv);
        json_t *c = get_hash(s, ck);
        if (c) {
            fix_state(c, es_clock_now_ms());
            json_object_set_new(m, "conversation", c);
        }
    }
    if (platform && author) {
        char kk[1024];
        snprintf(kk, sizeof kk, "es:{s%d}:cust:%s:%s", k, platform, author);
        json_t *cust = get_hash(s, kk);
        if (!cust)
            cust = json_object();
        json_int_t negs = json_integer_value(json_object_get(cust, "negatives_30d"));
        json_object_set_new(cust, "churn_risk", json_boolean(negs >= 2));
        snprintf(kk, sizeof kk, "es:{s%d}:hist:%s:%s", k, platform, author);
        const char *argv[] = {"LRANGE", kk, "0", "49"};
        redisReply *r = es__cmd(s, 4, argv, NULL);
        json_t *hist = json_array();
        for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            json_t *ev = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
            if (ev)
                json_array_append_new(hist, ev);
        }
        if (r)
            freeReplyObject(r);
        json_object_set_new(cust, "history", hist);
        json_object_set_new(m, "customer", cust);
    }
    *out = m;
    return 0;
}

int es_store_vip_set(struct es_store *s, const char *platform, const char *handle,
                     const char *tier)
{
    char field[512];
    snprintf(field, sizeof field, "%s:%s", platform, handle[0] == '@' ? handle + 1 : handle);
    for (char *q = field; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    const char *argv[] = {"HSET", "es:vip", field, tier};
    redisReply *r = es__cmd(s, 4, argv, NULL);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : ES_EIO;
}
