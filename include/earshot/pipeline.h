/*
 * pipeline: what happens to a fetched page, on worker threads.
 *
 *   page ──queue (bounded)──> worker: es_feed_parse_page ──> posts
 *     posts ──> round trip 1: seen marks, the authors' tiers, reserved mention ids
 *       new posts ──> normalise + match (the shared ruleset; one matcher per worker)
 *         ──> geo fences (a complaint signal inside a fence -> that fence's brand)
 *         ──> complaints: round trip 2, the mentions (priority, SLA deadline from
 *             the post's created_at)
 *     ──> round trip 3: counts per brand, category and minute, events on es:events,
 *         and the seen marks; then done(meta): the crawler may move the source's cursor
 *
 * The loop thread only submits; parsing, matching and Redis round trips
 * happen on the workers, each with its own synchronous store connection.
 * A full queue refuses the page (ES_ELIMIT) so the crawler retries it later:
 * memory stays bounded whatever the feeds send.
 */
#ifndef ES_PIPELINE_H
#define ES_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot/crawl.h"
#include "earshot/match.h"

struct es_fences;
struct es_sla_policy;

struct es_pipeline_opts {
    const struct es_ruleset *rules;      /* shared, read-only; es_pipeline_set_rules swaps it */
    const struct es_fences *fences;      /* NULL: none */
    const struct es_sla_policy *sla;     /* NULL: defaults */
    const char *redis_url;               /* the store (the embedded server's unix URL too) */
    int workers;                         /* 0 = number of cores */
    size_t queue_pages;                  /* 0 = 256 */
};

struct es_pipeline_stats {
    uint64_t pages, posts, duplicates, complaints, mentions, fenced, bad_records, errors;
};

struct es_pipeline;

int es_pipeline_start(const struct es_pipeline_opts *o, struct es_pipeline **out,
                      struct es_diag *d);
/*
 * es_pipeline_submit copies the page and queues it; done runs exactly once,
 * on a worker thread, after the page's posts are stored (status 0) or when
 * it failed (negative). Returns 0, ES_ELIMIT (queue full: done will not run)
 * or ES_ENOMEM.
 */
int es_pipeline_submit(struct es_pipeline *p, const struct es_source *src, const char *body,
                       size_t len, int64_t fetched_ms, es_page_done_fn *done, void *done_ud);
/* es_pipeline_set_rules: pages taken after this call use rs; the caller frees the old
 * ruleset only after es_pipeline_quiesce returns. */
void es_pipeline_set_rules(struct es_pipeline *p, const struct es_ruleset *rs,
                           const struct es_fences *fences, const struct es_sla_policy *sla);
/* es_pipeline_quiesce waits until every page taken before it was called is done. */
void es_pipeline_quiesce(struct es_pipeline *p);
void es_pipeline_stats(struct es_pipeline *p, struct es_pipeline_stats *out);
/* es_pipeline_stop drains the queue (every queued page is processed) and frees p. */
void es_pipeline_stop(struct es_pipeline *p);

#endif
