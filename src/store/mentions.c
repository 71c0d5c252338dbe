/* Mentions: shards and keys, adding a flagged post, listing the triage queue, detail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "store/internal.h"

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

int es_store_vip_get(struct es_store *s, const struct es_post *p, char *tier, size_t n)
{
    tier[0] = '\0';
    if (!p->author.handle && !p->author.id)
        return 0;
    char field[512];
    snprintf(field, sizeof field, "%s:%s", es_platform_name(p->platform),
             p->author.handle ? p->author.handle : p->author.id);
    for (char *q = field; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    const char *argv[] = {"HGET", "es:vip", field};
    redisReply *r = es__cmd(s, 3, argv, NULL);
    if (!r)
        return ES_EIO;
    if (r->type == REDIS_REPLY_STRING)
        snprintf(tier, n, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

int es_store_mention_add(struct es_store *s, const struct es_post *p,
                         const struct es_mention_in *in, int64_t now_ms, char *mid, size_t n,
                         bool *created)
{
    const char *platform = es_platform_name(p->platform);
    const char *author = p->author.id ? p->author.id : p->author.handle ? p->author.handle : "?";
    const char *root = p->thread_root ? p->thread_root : p->reply_to ? p->reply_to : p->id;
    int k = es__shard(platform, author);
    char tier[64];
    if (in->tier)
        snprintf(tier, sizeof tier, "%s", in->tier);
    else
        es_store_vip_get(s, p, tier, sizeof tier);

    /* The mention id: the shard's counter. */
    char seqkey[64];
    snprintf(seqkey, sizeof seqkey, "es:{s%d}:seq", k);
    const char *incr[] = {"INCR", seqkey};
    redisReply *r = es__cmd(s, 2, incr, NULL);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        return ES_EIO;
    }
    char newmid[64];
    snprintf(newmid, sizeof newmid, "m%d-%lld", k, r->integer);
    freeReplyObject(r);

    char conv[1024];
    snprintf(conv, sizeof conv, "%s:%s:%s", platform, root, author);
    char kpost[1024], km[128], kc[1200], kq[512], kcust[1024], kneg[1024], khist[1024], kqs[64];
    snprintf(kpost, sizeof kpost, "es:{s%d}:post:%s:%s", k, platform, p->id);
    snprintf(km, sizeof km, "es:{s%d}:m:%s", k, newmid);
    snprintf(kc, sizeof kc, "es:{s%d}:c:%s", k, conv);
    snprintf(kq, sizeof kq, "es:{s%d}:q:%s", k, in->brand ? in->brand : "_");
    snprintf(kcust, sizeof kcust, "es:{s%d}:cust:%s:%s", k, platform, author);
    snprintf(kneg, sizeof kneg, "es:{s%d}:neg:%s:%s", k, platform, author);
    snprintf(khist, sizeof khist, "es:{s%d}:hist:%s:%s", k, platform, author);
    snprintf(kqs, sizeof kqs, "es:{s%d}:queues", k);

    int64_t deadline = in->sla_deadline_ms
                           ? in->sla_deadline_ms
                           : (p->created_at ? p->created_at * 1000 : now_ms) + DEFAULT_SLA_MS;
    double prio = es_store_priority(in->severity, p->author.followers, tier, in->complaint);
    /* Queue score: priority first, then the earlier SLA deadline. */
    double score = floor(prio) * 1e10 + (1e10 - (double)(deadline / 1000 % 10000000000LL));

    json_t *f = json_object();
    if (!f)
        return ES_ENOMEM;
    char ts[24] = "";
    if (p->created_at)
        es_time_format_iso8601(p->created_at, ts);
    json_object_set_new(f, "post_id", json_string(p->id));
    json_object_set_new(f, "platform", json_string(platform));
    json_object_set_new(f, "brand", json_string(nz(in->brand)));
    json_object_set_new(f, "category", json_string(nz(in->category)));
    json_object_set_new(f, "severity", json_integer(in->severity));
    json_object_set_new(f, "score", json_real(in->score));
    json_object_set_new(f, "complaint", json_integer(in->complaint));
    json_object_set_new(f, "rules", json_string(in->rules_json ? in->rules_json : "[]"));
    json_object_set_new(f, "spans", json_string(in->spans_json ? in->spans_json : "[]"));
    json_object_set_new(f, "text", json_stringn(p->text, p->text_len));
    json_object_set_new(f, "author_id", json_string(author));
    json_object_set_new(f, "author_name", json_string(nz(p->author.name)));
    json_object_set_new(f, "author_handle", json_string(nz(p->author.handle)));
    json_object_set_new(f, "followers", json_integer(p->author.followers));
    json_object_set_new(f, "verified", json_integer(p->author.verified));
    json_object_set_new(f, "tier", json_string(tier));
    json_object_set_new(f, "created_at", json_string(ts));
    json_object_set_new(f, "lang", json_string(p->lang));
    json_object_set_new(f, "url", json_string(nz(p->url)));
    json_object_set_new(f, "reply_to", json_string(nz(p->reply_to)));
    json_object_set_new(f, "place", json_string(nz(p->place_name)));
    json_object_set_new(f, "fence", json_string(nz(in->fence)));
    json_object_set_new(f, "priority", json_real(prio));
    json_object_set_new(f, "sla_deadline_ms", json_integer(deadline));
    json_object_set_new(f, "holder", json_string(""));
    json_object_set_new(f, "lease_until", json_integer(0));
    if (p->has_point) {
        json_object_set_new(f, "lat", json_real(p->lat));
        json_object_set_new(f, "lon", json_real(p->lon));
    }
    char *fields = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    if (!fields)
        return ES_ENOMEM;
    char now_s[32], ttl[32], score_s[64], neg_s[32];
    snprintf(now_s, sizeof now_s, "%lld", (long long)now_ms);
    snprintf(ttl, sizeof ttl, "%d", POST_TTL_S);
    snprintf(score_s, sizeof score_s, "%.0f", score);
    snprintf(neg_s, sizeof neg_s, "%lld", NEG_WINDOW_MS);
    const char *keys[] = {kpost, km, kc, kq, kcust, kneg, khist, kqs};
    const char *args[] = {newmid, now_s, ttl, score_s, in->complaint ? "1" : "0", conv, platform,
                          root, author, nz(in->brand), fields, neg_s};
    r = es__eval(s, ES__S_MENTION_ADD, 8, keys, 12, args, NULL);
    free(fields);
    int rc = ES_EIO;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        *created = r->element[0]->integer == 1;
        snprintf(mid, n, "%s", r->element[1]->str);
        rc = 0;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

/* hash_to_json turns an HGETALL reply into an object; numeric fields become numbers. */
static json_t *hash_to_json(const redisReply *r)
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
        o = hash_to_json(r);
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
    struct qitem *items = NULL;
    size_t n = 0, alloc = 0;
    int rc = 0;
    for (int k = 0; k < ES_STORE_SHARDS && !rc; k++) {
        /* the brand's queue, or every queue of the shard */
        char pattern[512];
        redisReply *keys = NULL;
        if (f->brand) {
            snprintf(pattern, sizeof pattern, "es:{s%d}:q:%s", k, f->brand);
        } else {
            snprintf(pattern, sizeof pattern, "es:{s%d}:queues", k);
            const char *argv[] = {"SMEMBERS", pattern};
            keys = es__cmd(s, 2, argv, NULL);
            if (!keys) {
                rc = ES_EIO;
                break;
            }
        }
        size_t nkeys = keys ? keys->elements : 1;
        for (size_t ki = 0; ki < nkeys && !rc; ki++) {
            const char *qk = keys ? keys->element[ki]->str : pattern;
            char max[64];
            snprintf(max, sizeof max, "%.0f", isinf(cur_score) ? 1e300 : cur_score);
            char lim[32];
            snprintf(lim, sizeof lim, "%zu", limit * 4 + 16);
            const char *argv[] = {"ZREVRANGEBYSCORE", qk, max, "-inf", "WITHSCORES", "LIMIT",
                                  "0", lim};
            redisReply *r = es__cmd(s, 8, argv, NULL);
            if (!r) {
                rc = ES_EIO;
                break;
            }
            for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
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
            freeReplyObject(r);
        }
        if (keys)
            freeReplyObject(keys);
    }
    json_t *arr = json_array();
    if (!rc && !arr)
        rc = ES_ENOMEM;
    if (!rc && n)
        qsort(items, n, sizeof *items, qitem_cmp);
    int64_t now = es_clock_now() * 1000;
    size_t taken = 0, i;
    for (i = 0; !rc && i < n && taken < limit; i++) {
        char key[128];
        snprintf(key, sizeof key, "es:{s%d}:m:%s", es__shard_of_mid(items[i].mid), items[i].mid);
        json_t *m = get_hash(s, key);
        if (!m)
            continue;
        fix_state(m, now);
        if (!keep(m, f)) {
            json_decref(m);
            continue;
        }
        json_array_append_new(arr, m);
        taken++;
        if (taken == limit && i + 1 < n) {
            char buf[128];
            snprintf(buf, sizeof buf, "%.0f:%s", items[i].score, items[i].mid);
            *next_cursor = es_strdup(buf);
        }
    }
    es_free(items);
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
    fix_state(m, es_clock_now() * 1000);
    const char *conv = json_string_value(json_object_get(m, "conv"));
    const char *platform = json_string_value(json_object_get(m, "platform"));
    const char *author = json_string_value(json_object_get(m, "author_id"));
    if (conv) {
        char ck[1200];
        snprintf(ck, sizeof ck, "es:{s%d}:c:%s", k, conv);
        json_t *c = get_hash(s, ck);
        if (c) {
            fix_state(c, es_clock_now() * 1000);
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
