/*
 * respond: the responder. es_respond_reply is the one way a reply or DM
 * leaves earshot:
 *
 *   text ──> FEARS text checks (fears.h): empty, too long, unfilled template,
 *   │        channel deflection (phone numbers, "call us", forms)   ── refuse
 *   ├──> canned check: exact fingerprint reserved (SET NX) and MinHash LSH
 *   │    candidates compared by Jaccard similarity ≥ 0.80            ── refuse
 *   └──> store reply script: claim holder, third public reply, DM invitation
 *        on the second, DMs only once open — and the outbox entry,
 *        atomically                                                  ── refuse / accept
 *
 * The outbox worker (es_outbox_run) posts accepted entries through the
 * platform's reply or DM API with an idempotency key, retries transient
 * failures with backoff, dead-letters the rest, and records the platform's
 * post id on the conversation.
 */
#ifndef ES_RESPOND_H
#define ES_RESPOND_H

#include <stdbool.h>
#include <stdint.h>

#include "earshot/fears.h"
#include "earshot/store.h"

#define ES_CANNED_DAYS_DEFAULT 30

struct es_reply_req {
    const char *mid;
    const char *agent;
    enum es_reply_kind kind;
    const char *text;
    const char *idem_key; /* retries with the same key get the first decision */
    int canned_days;      /* 0: ES_CANNED_DAYS_DEFAULT */
};

struct es_reply_out {
    bool ok;
    const char *reason;   /* static code ("" when ok): fears_*, claimed_by_other, ... */
    const char *message;  /* one sentence for a person ("" when ok) */
    struct es_store_result store;  /* state, holder, lease, public replies, outbox id */
    struct es_fears_report text;   /* the text checks (deflections, DM invitation, stock phrases) */
    double similarity;             /* fears_canned: similarity to the earlier reply */
    char similar_to[64];           /* fears_canned: the earlier reply's id */
};

/*
 * es_respond_reply decides and, when accepted, queues one reply. Returns 0
 * with out filled (out->ok false and out->reason set on a refusal), or
 * ES_EIO / ES_ENOMEM / ES_EINVAL.
 */
int es_respond_reply(struct es_store *s, const struct es_fears *f, const struct es_reply_req *q,
                     int64_t now_ms, struct es_reply_out *out);

/* Where the worker posts, per platform (base URLs; credentials from the environment:
 * EARSHOT_TWITTER_TOKEN, EARSHOT_WEIBO_TOKEN, EARSHOT_WECHAT_TOKEN). */
struct es_outbox_opts {
    const char *consumer;    /* consumer name in the group (unique per worker) */
    const char *twitter_url; /* e.g. https://api.twitter.com */
    const char *weibo_url;   /* e.g. https://api.weibo.com */
    const char *wechat_url;  /* e.g. https://api.weixin.qq.com */
    int64_t reclaim_ms;      /* idle time before a pending entry is retried or taken over */
    int max_attempts;        /* then dead-lettered; 0 = 8 */
    int timeout_ms;          /* per request; 0 = 10000 */
    int64_t run_ms;          /* stop after this long; 0 = until *stop */
    bool once;               /* stop when nothing is left to do */
    volatile int *stop;      /* set to non-zero (e.g. from a signal handler) to stop */
};

struct es_outbox_stats {
    uint64_t posted, retried, dead, skipped;
};

/* es_outbox_run: the worker loop. 0 or ES_EIO (Redis unreachable). */
int es_outbox_run(struct es_store *s, const struct es_outbox_opts *o, struct es_outbox_stats *st);

#endif
