/*
 * The pipeline's workers (see include/earshot/pipeline.h for the flow).
 *
 * A bounded ring of pages, a mutex and two condition variables. Each worker
 * owns a matcher for the rule set generation it last used and a store
 * connection; when the rule set is swapped (SIGHUP), a worker rebuilds its
 * matcher before its next page, and es_pipeline_quiesce waits until no
 * worker is still inside a page of an older generation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/clock.h"
#include "earshot/geo.h"
#include "earshot/log.h"
#include "earshot/pipeline.h"
#include "earshot/store.h"

struct page {
    char source_id[128];
    enum es_format format;
    char brand[128];
    char *body;
    size_t len;
    int64_t fetched_ms;
    es_page_done_fn *done;
    void *done_ud;
};

struct worker {
    struct es_pipeline *p;
    pthread_t tid;
    struct es_store *store;
    struct es_matcher *m;
    const struct es_ruleset *m_rules; /* the rule set m was built for */
    const struct es_fences *fences;   /* and its fences and SLA policy */
    const struct es_sla_policy *sla;
    uint64_t m_gen;                   /* its generation */
    uint64_t busy_gen;                /* generation of the page in hand; 0 when idle */
    /* per page */
    struct es_post **posts;
    size_t n_posts, alloc_posts;
    uint64_t bad;
};

struct es_pipeline {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, idle_cv;
    struct page **ring;
    size_t cap, head, count;
    bool stopping;
    const struct es_ruleset *rules;
    const struct es_fences *fences;
    const struct es_sla_policy *sla;
    uint64_t rules_gen;
    struct worker *workers;
    int n_workers;
    struct es_pipeline_stats stats;
};

static void page_free(struct page *pg)
{
    if (!pg)
        return;
    es_free(pg->body);
    es_free(pg);
}

static void on_post(void *ud, const struct es_post *post)
{
    struct worker *w = ud;
    if (w->n_posts == w->alloc_posts) {
        size_t na = w->alloc_posts ? w->alloc_posts * 2 : 128;
        struct es_post **np = es_realloc(w->posts, na * sizeof *np);
        if (!np) {
            w->bad++;
            return;
        }
        w->posts = np;
        w->alloc_posts = na;
    }
    struct es_post *c = es_post_copy(post);
    if (!c) {
        w->bad++;
        return;
    }
    w->posts[w->n_posts++] = c;
}

static void on_diag(void *ud, const struct es_diag *d)
{
    struct worker *w = ud;
    if (d->severity != ES_DIAG_ERROR)
        return;
    w->bad++;
    char line[1024];
    es_diag_format(d, line, sizeof line);
    es_log(ES_LOG_WARN, "pipeline", "%s", line);
}

/* A complaint of the page, judged and waiting to be stored with the others. */
struct pending {
    size_t post;   /* index into the page's posts */
    size_t event;  /* index into the page's events */
    struct es_buf rules, spans;
};

/* store_mentions writes the page's complaints as mentions in one round trip (their tiers
 * and id numbers came with the page's dedup read) and fills in the events' mention ids. */
static int store_mentions(struct worker *w, struct pending *pd, size_t np,
                          struct es_mention_in *ins, struct es_store_event *ev, char (*mids)[64],
                          char (*tiers)[64], const long long *page_ids, int64_t now,
                          uint64_t *mentions)
{
    const struct es_post **posts = es_malloc(np * sizeof *posts);
    long long *ids = es_malloc(np * sizeof *ids);
    bool *created = es_calloc(np, sizeof *created);
    int rc = ES_ENOMEM;
    if (!posts || !ids || !created)
        goto out;
    struct es_sla_policy def;
    const struct es_sla_policy *sla = w->sla;
    if (!sla) {
        es_sla_policy_default(&def);
        sla = &def;
    }
    for (size_t i = 0; i < np; i++) {
        const struct es_store_event *e = &ev[pd[i].event];
        posts[i] = w->posts[pd[i].post];
        ids[i] = page_ids[pd[i].post];
        const char *tier = tiers[pd[i].post];
        ins[i].tier = tier;
        ins[i].rules_json = pd[i].rules.data;
        ins[i].spans_json = pd[i].spans.data;
        /* the SLA clock starts at the post's own time, not at ingest */
        ins[i].sla_deadline_ms =
            es_sla_deadline_ms(sla, e->platform, tier, e->severity, posts[i]->created_at, now);
    }
    rc = es_store_mentions_add_ids(w->store, np, posts, ins, ids, now, mids, created);
    for (size_t i = 0; rc == 0 && i < np; i++)
        if (created[i]) {
            (*mentions)++;
            ev[pd[i].event].mid = mids[i];
        }
out:
    es_free(posts);
    es_free(ids);
    es_free(created);
    return rc;
}

/* process one page; returns 0 or a negative status for the crawler (refetch later) */
static int process(struct worker *w, struct page *pg, struct es_page_meta *meta)
{
    struct es_pipeline *p = w->p;
    struct es_feed_opts fo = {pg->format, pg->source_id, 0, 0, 0};
    w->n_posts = 0;
    w->bad = 0;
    int rc = es_feed_parse_page(pg->body, pg->len, &fo, on_post, on_diag, w, meta);
    size_t n = w->n_posts, ne = 0, np = 0;
    bool *fresh = NULL;
    struct es_store_event *ev = NULL;
    struct pending *pd = NULL;
    struct es_mention_in *ins = NULL;
    char(*mids)[64] = NULL, (*tiers)[64] = NULL;
    long long *ids = NULL;
    uint64_t dups = 0, complaints = 0, mentions = 0, errors = 0, fenced = 0;
    if (rc < 0) /* the page as a whole is not understood (truncated, not JSON) */
        goto out;
    rc = 0;
    if (n) {
        fresh = es_calloc(n, sizeof *fresh);
        ev = es_calloc(n, sizeof *ev);
        pd = es_calloc(n, sizeof *pd);
        ins = es_calloc(n, sizeof *ins);
        mids = es_calloc(n, sizeof *mids);
        tiers = es_calloc(n, sizeof *tiers);
        ids = es_calloc(n, sizeof *ids);
        if (!fresh || !ev || !pd || !ins || !mids || !tiers || !ids) {
            rc = ES_ENOMEM;
            goto out;
        }
        /* round trip 1: dedup marks, the authors' tiers, id numbers for the mentions */
        if (es_store_page_prepare(w->store, (const struct es_post *const *)w->posts, n, fresh,
                                  tiers, ids)) {
            rc = ES_EIO;
            goto out;
        }
    }
    int64_t now = es_clock_now_ms();
    for (size_t i = 0; i < n; i++) {
        const struct es_post *post = w->posts[i];
        if (!fresh[i]) {
            dups++;
            continue;
        }
        const struct es_match *res;
        int mrc = es_match_text(w->m, post->text, post->text_len, post->lang, &res);
        if (mrc && mrc != ES_ELIMIT) {
            errors++;
            continue;
        }
        const char *brand = res->brand >= 0 ? es_ruleset_brand_id(w->m_rules, (size_t)res->brand)
                                            : (pg->brand[0] ? pg->brand : NULL);
        struct es_store_event *e = &ev[ne++];
        e->platform = es_platform_name(post->platform);
        e->brand = brand;
        e->category = res->category;
        e->complaint = res->complaint;
        e->severity = res->severity;
        e->created_ms = post->created_at * 1000;
        e->now_ms = now;
        /* A complaint signal inside a geo fence is a mention for the fence's brand even
         * when the post names no brand and scores below the threshold. */
        const struct es_fence *fence = NULL;
        if (post->has_point && w->fences && res->severity > 0 &&
            es_geo_match(w->fences, post->lat, post->lon, &fence, 1) == 0)
            fence = NULL;
        if (fence) {
            e->fence = fence->id;
            if (!brand)
                e->brand = brand = fence->brand;
            fenced++;
        }
        if (!res->complaint && !fence)
            continue;
        e->complaint = true;
        complaints++;
        /* The verdict is the matcher's until its next post: keep it as JSON. */
        struct pending *c = &pd[np];
        es_buf_init(&c->rules, 1 << 16);
        es_buf_init(&c->spans, 1 << 20);
        es_match_json(w->m_rules, res, &c->rules, &c->spans);
        c->post = i;
        c->event = ne - 1;
        struct es_mention_in *in = &ins[np++];
        in->brand = brand;
        in->category = res->category;
        in->severity = res->severity;
        in->score = res->score;
        in->complaint = true;
        in->fence = fence ? fence->id : NULL;
    }
    /* round trip 2: the mentions; the cursor must not move past a post not stored */
    if (np && store_mentions(w, pd, np, ins, ev, mids, tiers, ids, now, &mentions))
        rc = ES_EIO;
    /* round trip 3: counts and events, and only now, everything stored, the seen marks */
    if (!rc && es_store_page_commit(w->store, ev, ne, (const struct es_post *const *)w->posts, n))
        rc = ES_EIO;
out:
    pthread_mutex_lock(&p->mu);
    p->stats.posts += n;
    p->stats.duplicates += dups;
    p->stats.complaints += complaints;
    p->stats.mentions += mentions;
    p->stats.fenced += fenced;
    p->stats.bad_records += w->bad;
    p->stats.errors += errors + (rc ? 1 : 0);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < n; i++)
        es_post_free(w->posts[i]);
    w->n_posts = 0;
    for (size_t i = 0; i < np; i++) {
        es_buf_cleanup(&pd[i].rules);
        es_buf_cleanup(&pd[i].spans);
    }
    es_free(fresh);
    es_free(ev);
    es_free(pd);
    es_free(ins);
    es_free(mids);
    es_free(tiers);
    es_free(ids);
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct es_pipeline *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->count == 0 && p->stopping)
            break;
        struct page *pg = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        const struct es_ruleset *rs = p->rules;
        w->fences = p->fences;
        w->sla = p->sla;
        uint64_t gen = p->rules_gen;
        w->busy_gen = gen;
        pthread_mutex_unlock(&p->mu);

        if (w->m_gen != gen) {
            es_matcher_free(w->m);
            w->m = es_matcher_new(rs);
            w->m_rules = rs;
            w->m_gen = w->m ? gen : 0;
        }
        struct es_page_meta meta;
        memset(&meta, 0, sizeof meta);
        int status = w->m ? process(w, pg, &meta) : ES_ENOMEM;
        pg->done(pg->done_ud, status < 0 ? status : 0, &meta);
        page_free(pg);

        pthread_mutex_lock(&p->mu);
        w->busy_gen = 0;
        pthread_cond_broadcast(&p->idle_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int es_pipeline_start(const struct es_pipeline_opts *o, struct es_pipeline **out,
                      struct es_diag *d)
{
    if (!o || !o->rules || !o->redis_url)
        return ES_EINVAL;
    struct es_pipeline *p = es_calloc(1, sizeof *p);
    if (!p)
        return ES_ENOMEM;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    p->n_workers = o->workers > 0 ? o->workers : ncpu > 0 ? (int)ncpu : 1;
    p->cap = o->queue_pages ? o->queue_pages : 256;
    p->rules = o->rules;
    p->fences = o->fences;
    p->sla = o->sla;
    p->rules_gen = 1;
    p->ring = es_calloc(p->cap, sizeof *p->ring);
    p->workers = es_calloc((size_t)p->n_workers, sizeof *p->workers);
    if (!p->ring || !p->workers) {
        es_free(p->ring);
        es_free(p->workers);
        es_free(p);
        return ES_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->idle_cv, NULL);
    int rc = 0, started = 0;
    for (int i = 0; i < p->n_workers; i++) {
        struct worker *w = &p->workers[i];
        w->p = p;
        struct es_store_opts so = {o->redis_url, NULL, 0};
        rc = es_store_open(&so, &w->store, d);
        if (rc)
            break;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            es_store_close(w->store);
            w->store = NULL;
            rc = ES_ENOMEM;
            break;
        }
        started++;
    }
    if (rc) {
        p->n_workers = started;
        es_pipeline_stop(p);
        return rc;
    }
    *out = p;
    return 0;
}

int es_pipeline_submit(struct es_pipeline *p, const struct es_source *src, const char *body,
                       size_t len, int64_t fetched_ms, es_page_done_fn *done, void *done_ud)
{
    struct page *pg = es_calloc(1, sizeof *pg);
    if (!pg)
        return ES_ENOMEM;
    pg->body = es_malloc(len + 1);
    if (!pg->body) {
        es_free(pg);
        return ES_ENOMEM;
    }
    memcpy(pg->body, body, len);
    pg->body[len] = '\0';
    pg->len = len;
    snprintf(pg->source_id, sizeof pg->source_id, "%s", src->id);
    snprintf(pg->brand, sizeof pg->brand, "%s", src->brand ? src->brand : "");
    pg->format = src->format;
    pg->fetched_ms = fetched_ms;
    pg->done = done;
    pg->done_ud = done_ud;
    pthread_mutex_lock(&p->mu);
    if (p->count == p->cap || p->stopping) {
        pthread_mutex_unlock(&p->mu);
        page_free(pg);
        return ES_ELIMIT;
    }
    p->ring[(p->head + p->count) % p->cap] = pg;
    p->count++;
    p->stats.pages++;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void es_pipeline_set_rules(struct es_pipeline *p, const struct es_ruleset *rs,
                           const struct es_fences *fences, const struct es_sla_policy *sla)
{
    pthread_mutex_lock(&p->mu);
    p->rules = rs;
    p->fences = fences;
    p->sla = sla;
    p->rules_gen++;
    pthread_mutex_unlock(&p->mu);
}

void es_pipeline_quiesce(struct es_pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        bool old = false;
        for (int i = 0; i < p->n_workers; i++)
            if (p->workers[i].busy_gen && p->workers[i].busy_gen != p->rules_gen)
                old = true;
        if (!old)
            break;
        pthread_cond_wait(&p->idle_cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

void es_pipeline_stats(struct es_pipeline *p, struct es_pipeline_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}

void es_pipeline_stop(struct es_pipeline *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++)
        pthread_join(p->workers[i].tid, NULL);
    for (int i = 0; i < p->n_workers; i++) {
        struct worker *w = &p->workers[i];
        es_matcher_free(w->m);
        es_store_close(w->store);
        es_free(w->posts);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->idle_cv);
    es_free(p->ring);
    es_free(p->workers);
    es_free(p);
}
