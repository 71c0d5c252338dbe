/*
 * store: Redis, earshot's system of record. Every key and every Lua script
 * lives in this module (docs/redis.md lists them). Multi-step state changes
 * are Lua scripts run with EVALSHA, never read-modify-write from C.
 *
 * The conversation state machine (one customer's complaint thread on one
 * platform: platform + thread root + author):
 *
 *              claim                reply (public)          reply (public,
 *     new ─────────────> claimed ─────────────> replied_1 ───DM invitation)──> replied_2
 *      │  <── release ──    │                       │                          (DM open:
 *      │                    │                       │                           DMs only)
 *      └──── ignore ────────┴──> ignored            └─────── resolve ─────────┐    │
 *                                                                             v    v
 *                                                                           resolved
 *
 * A claim is a lease on the conversation (holder + end time) that only its
 * holder renews; only the holder replies, resolves or ignores. A third
 * public reply is refused (fears_reply_limit), the second must invite a DM
 * (fears_dm_required), DMs need the DM open (fears_dm_not_open). Each
 * accepted reply is written to the outbox stream by the same script that
 * accepted it.
 *
 * struct es_store is a synchronous connection (CLI, tests, worker threads):
 * never use it on an event-loop thread.
 */
#ifndef ES_STORE_H
#define ES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "earshot/err.h"
#include "earshot/feed.h"

#define ES_STORE_SHARDS 16

struct es_store_opts {
    const char *redis_url; /* "redis://host:port", "unix:///path/redis.sock"; NULL or "" = embedded */
    const char *data_dir;  /* embedded server's directory (socket, AOF, log); NULL = default */
    int timeout_ms;        /* connect and command timeout; 0 = 5000 */
};

struct es_store;

/*
 * es_store_open connects. With no URL it uses the embedded server of
 * data_dir: an already running one (its socket answers PING), else it starts
 * a private redis-server child (unix socket, AOF on) and owns it: it is
 * stopped by es_store_close. Errors go to d. 0, ES_EIO or ES_ENOMEM.
 */
int es_store_open(const struct es_store_opts *o, struct es_store **out, struct es_diag *d);
void es_store_close(struct es_store *s);

/* es_store_default_dir: $EARSHOT_DATA_DIR, else $XDG_DATA_HOME/earshot, else
 * ~/.local/share/earshot. */
void es_store_default_dir(char *out, size_t n);

/* es_store_get_string: GET key as a new es_malloc'ed string (the caller frees), or NULL when
 * absent or unreachable. */
char *es_store_get_string(struct es_store *s, const char *key);
/* es_store_command: one Redis command (argv with lengths; lens may be NULL for C
 * strings) on the store's connection, reconnecting once, for modules that keep keys of
 * their own (alerts). The reply is the caller's (freeReplyObject); NULL when Redis
 * cannot be reached. */
struct redisReply;
struct redisReply *es_store_command(struct es_store *s, int argc, const char **argv,
                                    const size_t *lens);

/* es_store_ping: 0 when Redis answers. */
int es_store_ping(struct es_store *s);

/* ---- embedded redis-server ---- */

struct es_redis_child;
/* Starts redis-server in dir (created if missing) on dir/redis.sock and waits until
 * it answers (up to 10 s). sock gets the socket path. 0, ES_EIO (d says why). */
int es_redis_child_start(const char *dir, struct es_redis_child **out, char *sock, size_t n,
                         struct es_diag *d);
/* SIGTERM, wait up to 5 s, then SIGKILL. Accepts NULL. */
void es_redis_child_stop(struct es_redis_child *c);
int es_redis_child_pid(const struct es_redis_child *c);

/* ---- mentions ---- */

/* What the matcher and pipeline say about a flagged post. */
struct es_mention_in {
    const char *brand;      /* NULL: none */
    const char *category;
    int severity;           /* 1..4 */
    double score;
    bool complaint;
    const char *rules_json; /* JSON array of rule ids, or NULL */
    const char *spans_json; /* JSON array of spans, or NULL */
    const char *fence;      /* geo fence id, or NULL */
    int64_t sla_deadline_ms;/* 0: computed from created_at + 1 h */
    const char *tier;       /* customer tier, NULL: looked up in es:vip */
};

/* es_store_priority: the triage priority of a mention (higher first), from severity,
 * author reach (followers), tier and complaint. Documented in docs/redis.md. */
double es_store_priority(int severity, int64_t followers, const char *tier, bool complaint);

/*
 * es_store_mention_add records a flagged post as a mention (deduplicated by
 * platform + post id across restarts and instances). mid gets the mention id
 * (new or the existing one); *created says which. 0, ES_EIO, ES_ENOMEM.
 */
int es_store_mention_add(struct es_store *s, const struct es_post *p,
                         const struct es_mention_in *in, int64_t now_ms, char *mid, size_t n,
                         bool *created);
/* es_store_mentions_add: n mentions in three round trips (tiers, ids, then every
 * script, pipelined). mids[i] and created[i] as above. 0, ES_EIO, ES_ENOMEM. */
int es_store_mentions_add(struct es_store *s, size_t n, const struct es_post *const *posts,
                          const struct es_mention_in *ins, int64_t now_ms, char (*mids)[64],
                          bool *created);
/* es_store_mentions_add_ids: the same in one round trip, with every tier given
 * (ins[i].tier, "" for none) and each mention's id number reserved beforehand
 * (es_store_page_prepare). */
int es_store_mentions_add_ids(struct es_store *s, size_t n, const struct es_post *const *posts,
                              const struct es_mention_in *ins, const long long *ids,
                              int64_t now_ms, char (*mids)[64], bool *created);

struct es_mention_filter {
    const char *brand;    /* NULL: all */
    const char *state;    /* NULL: open ones (not resolved or ignored) */
    const char *category, *platform, *assignee, *fence;
    int min_severity;
    size_t limit;         /* 0 = 50 */
    const char *cursor;   /* from a previous page, or NULL */
    bool brief;           /* leave out the verdict's rules and spans (the queue view) */
};

/* es_store_mentions_list: mentions in priority order as a JSON array of objects
 * (new reference, caller decrefs); *next_cursor (es_malloc'ed, caller frees) or NULL. */
int es_store_mentions_list(struct es_store *s, const struct es_mention_filter *f, json_t **out,
                           char **next_cursor);

/* es_store_mention_get: the mention with its conversation and the customer's history
 * (new reference). ES_ENOTFOUND when there is none. */
int es_store_mention_get(struct es_store *s, const char *mid, json_t **out);

/* What the reply path needs to know about a mention before deciding (one HMGET). */
struct es_mention_brief {
    char brand[128];      /* "_" when none */
    char platform[16];
    char state[24];
    char holder[128];
    int64_t lease_until_ms;
};
/* es_store_mention_brief: 0, ES_ENOTFOUND or ES_EIO. */
int es_store_mention_brief(struct es_store *s, const char *mid, struct es_mention_brief *b);

/* ---- the conversation's state machine ---- */

struct es_store_result {
    bool ok;
    char reason[48];       /* "" when ok; else claimed_by_other, not_claimed, bad_state,
                              not_found, fears_reply_limit, fears_dm_required, fears_dm_not_open */
    char state[24];        /* the conversation's state after the call */
    char holder[128];      /* claim holder ("" when none) */
    int64_t lease_until_ms;
    int public_replies;
    char outbox_id[48];    /* accepted replies: the outbox stream entry */
    bool duplicate;        /* the idempotency key was seen: this is the first call's result */
};

int es_store_claim(struct es_store *s, const char *mid, const char *agent, int64_t lease_ms,
                   int64_t now_ms, struct es_store_result *r);
int es_store_release(struct es_store *s, const char *mid, const char *agent, int64_t now_ms,
                     struct es_store_result *r);

enum es_reply_kind { ES_REPLY_PUBLIC, ES_REPLY_DM };

/*
 * es_store_reply runs the atomic reply decision (holder, reply limit, DM
 * rules) and, when accepted, writes the outbox entry in the same script.
 * dm_invite says whether the text invites a direct message (decided by the
 * caller's text checks). idem_key makes a retried call return the first
 * call's result instead of deciding twice. Returns 0 with r filled (r->ok
 * false and r->reason set on a refusal), or ES_EIO / ES_ENOMEM.
 */
int es_store_reply(struct es_store *s, const char *mid, const char *agent, enum es_reply_kind kind,
                   const char *text, bool dm_invite, const char *idem_key, int64_t now_ms,
                   struct es_store_result *r);
/* es_store_reply_lookup: the recorded result of an accepted reply with this idempotency
 * key (*found false when there is none). */
int es_store_reply_lookup(struct es_store *s, const char *mid, const char *idem_key,
                          struct es_store_result *r, bool *found);
int es_store_resolve(struct es_store *s, const char *mid, const char *agent, int64_t now_ms,
                     struct es_store_result *r);
int es_store_ignore(struct es_store *s, const char *mid, const char *agent, const char *why,
                    int64_t now_ms, struct es_store_result *r);

/* ---- canned-reply memory (per brand) ---- */

/* es_store_canned_reserve: SET NX of the exact fingerprint for days; *taken when it exists. */
int es_store_canned_reserve(struct es_store *s, const char *brand, uint64_t fp, const char *owner,
                            int days, bool *taken);
int es_store_canned_unreserve(struct es_store *s, const char *brand, uint64_t fp);
/* es_store_canned_candidates: ids of recent replies sharing an LSH band (JSON array of
 * {"id","text"}, new reference). */
int es_store_canned_candidates(struct es_store *s, const char *brand, const uint64_t *bands,
                               size_t n_bands, json_t **out);
/* es_store_canned_record: remember an accepted reply's text and bands for days. */
int es_store_canned_record(struct es_store *s, const char *brand, const char *reply_id,
                           const char *text, const uint64_t *bands, size_t n_bands, int days);

/* ---- outbox ---- */

struct es_outbox_entry {
    char shard_key[32];    /* the stream key's shard, e.g. "{s3}" */
    char id[48];           /* stream entry id */
    json_t *fields;        /* kind, mid, conv, platform, in_reply_to, to, text, idem, agent, brand */
    int64_t attempts;      /* posting attempts made so far (before this one) */
    int64_t due_ms;        /* not before this time (backoff after a failed attempt); 0 = now */
};

/*
 * es_store_outbox_read takes up to max new entries for consumer (from every
 * shard), after first reclaiming entries idle for more than reclaim_ms from
 * crashed consumers (XAUTOCLAIM). Fills out[0..*n); free each entry's
 * fields with json_decref.
 */
int es_store_outbox_read(struct es_store *s, const char *consumer, int64_t reclaim_ms,
                         struct es_outbox_entry *out, size_t max, size_t *n);
/* es_store_outbox_attempt: count an attempt (e->attempts is updated). */
int es_store_outbox_attempt(struct es_store *s, struct es_outbox_entry *e);
/* es_store_outbox_retry_later: the entry stays pending and is not tried before due_ms. */
int es_store_outbox_retry_later(struct es_store *s, const struct es_outbox_entry *e,
                                int64_t due_ms);
/* es_store_outbox_done: record the platform's post id on the conversation, ack. */
int es_store_outbox_done(struct es_store *s, const struct es_outbox_entry *e,
                         const char *platform_id);
/* es_store_outbox_dead: move to the dead-letter list with the reason, ack. */
int es_store_outbox_dead(struct es_store *s, const struct es_outbox_entry *e, const char *reason);
/* es_store_outbox_dead_list: the dead letters (new reference). */
int es_store_outbox_dead_list(struct es_store *s, size_t limit, json_t **out);

/* ---- the live pipeline's writes ---- */

/*
 * Dedup across restarts and instances, in two steps so that nothing is lost:
 * es_store_page_prepare (below) tells which posts were never stored;
 * es_store_page_commit marks them seen once everything else is stored. A
 * crash between the two only makes the refetch judge the posts again (the
 * mention script has its own dedup, so no mention is made twice).
 */

/* One judged post, for the counts per minute and the event stream. */
struct es_store_event {
    const char *platform;
    const char *brand;    /* NULL: none */
    const char *category; /* NULL: none */
    const char *mid;      /* the mention made of it, or NULL */
    const char *fence;    /* NULL: none */
    bool complaint;
    int severity;
    int64_t created_ms;   /* the post's time */
    int64_t now_ms;
};

/*
 * es_store_events_batch, in one round trip: per minute (es:stats:<yyyymmddHHMM>, hash,
 * kept 8 days) counts of posts, complaints, and complaints per brand, category and
 * brand+category; and one es:events stream entry (trimmed to ~1M) per mention.
 */
int es_store_events_batch(struct es_store *s, const struct es_store_event *ev, size_t n);

/*
 * A fetched page in three round trips (src/store/live.c):
 *
 * es_store_page_prepare, before the page is judged: which posts were never stored
 * (is_new), each author's tier (tiers[i], "" when none) and an id number reserved for
 * each post in its customer shard (ids[i]; unused ones are gaps, never reused).
 * es_store_mentions_add_ids then stores the complaints; es_store_page_commit writes the
 * counters and events (as es_store_events_batch) and marks the posts seen, in one
 * round trip, once everything else is stored.
 */
int es_store_page_prepare(struct es_store *s, const struct es_post *const *posts, size_t n,
                          bool *is_new, char (*tiers)[64], long long *ids);
int es_store_page_commit(struct es_store *s, const struct es_store_event *ev, size_t ne,
                         const struct es_post *const *posts, size_t n);

/* ---- the asynchronous client, for the daemon's event loop ---- */

/*
 * struct es_store_async is a hiredis connection on a libuv loop. It connects
 * at once and reconnects after a drop from a timer, with backoff (100 ms
 * doubling to 5 s); commands sent while a connection is being made are
 * queued (at most 64) and sent once it is up; commands sent while it is down
 * between attempts fail with ES_EIO rather than wait. EVALSHA of the store's scripts reloads a script on NOSCRIPT
 * (a restarted Redis) and retries once.
 *
 * Callbacks: if a call returns 0, its callback runs exactly once: with the
 * reply (borrowed: valid only during the callback) and status 0, or with
 * NULL and ES_EIO (connection lost) or ES_ECANCELED (es_store_async_stop).
 */
struct es_store_async;
struct redisReply;
typedef void es_store_async_cb(void *ud, struct redisReply *reply, int status);
struct uv_loop_s;

/* es_store_async_start: url as in es_store_opts ("unix:///path" or "redis://host:port";
 * the embedded server must already run). 0, ES_EINVAL, ES_ENOMEM. */
int es_store_async_start(struct uv_loop_s *loop, const char *url, struct es_store_async **out);
/* es_store_async_connected: 1 while the connection is up. */
int es_store_async_connected(const struct es_store_async *a);
/* es_store_async_cmd: any command (argv with lengths; lens NULL for C strings). */
int es_store_async_cmd(struct es_store_async *a, int argc, const char **argv, const size_t *lens,
                       es_store_async_cb *cb, void *ud);
/* es_store_async_script: EVALSHA of script number `script` of the store's scripts; keys then
 * args as argv. */
int es_store_async_script(struct es_store_async *a, int script, int nkeys, int nargs,
                          const char **argv, const size_t *lens, es_store_async_cb *cb, void *ud);
/* es_store_async_stop cancels what is pending (ES_ECANCELED), closes the connection and
 * frees a once the loop has run its close callbacks. */
void es_store_async_stop(struct es_store_async *a);

/* ---- customers ---- */

/* es_store_vip_set: tier for platform:handle (from a customers file). */
int es_store_vip_set(struct es_store *s, const char *platform, const char *handle,
                     const char *tier);

/* ---- the triage API: tokens, audit log, KPIs, stats reads (src/store/kpi.c) ---- */

/* An API token as stored (es:token:<id>): never the secret, only its SHA-256. */
struct es_store_token {
    char id[32];
    char name[72];
    char role[16];     /* agent, manager, admin */
    char sha256[65];   /* lowercase hex of SHA-256(secret) */
    int64_t created_ms;
};
/* es_store_token_put: store (or overwrite) t. 0 or ES_EIO. */
int es_store_token_put(struct es_store *s, const struct es_store_token *t);
/* es_store_token_get: 0, ES_ENOTFOUND (no such or revoked token) or ES_EIO. */
int es_store_token_get(struct es_store *s, const char *id, struct es_store_token *t);
/* es_store_token_list: JSON array of {id, name, role, created_ms}, oldest first (new
 * reference, caller decrefs). */
int es_store_token_list(struct es_store *s, json_t **out);
/* es_store_token_del: revoke. 0, ES_ENOTFOUND or ES_EIO. */
int es_store_token_del(struct es_store *s, const char *id);

/* es_store_audit_add: append one entry (serialised as given; borrowed) to es:audit,
 * capped at ES_STORE_AUDIT_CAP entries. 0, ES_EIO, ES_ENOMEM. */
#define ES_STORE_AUDIT_CAP 100000
int es_store_audit_add(struct es_store *s, const json_t *entry);
/* es_store_audit_list: newest first, at most limit entries whose "mid" / "actor" equal the
 * given ones (NULL: any); a filtered read is one range of the per-mention or per-actor
 * index (es:audit:mid:<mid>, es:audit:actor:<name>: the newest 1,000). New reference. */
int es_store_audit_list(struct es_store *s, const char *mid, const char *actor, size_t limit,
                        json_t **out);

/*
 * KPI counters, one hash per customer shard and UTC day (es:{sK}:kpi:<yyyymmdd>),
 * bumped by the scripts where the facts happen: complaints (new complaint
 * conversations), answered (first public reply), public_replies, dm_switch, dms,
 * resolved, ignored, sla_met, sla_missed, frt_n, frt_sum_s, frt_b<i> (first
 * response time histogram, bounds in es_store_frt_bounds), and refused:<reason>
 * (es_store_kpi_refusal).
 */
/* es_store_frt_bounds: the histogram's upper bounds in seconds (the last is +inf). */
const int64_t *es_store_frt_bounds(size_t *n);
/* es_store_kpi_refusal: count one refused reply of mention mid for reason. */
int es_store_kpi_refusal(struct es_store *s, const char *mid, const char *reason,
                         int64_t now_ms);
/* es_store_kpi_sum: the fields of every shard's KPI hash over the `days` UTC days up to
 * and including now_ms's, summed (JSON object of integers, new reference). */
int es_store_kpi_sum(struct es_store *s, int64_t now_ms, int days, json_t **out);

/* es_store_stats_minutes: the es:stats hashes of n consecutive minutes from from_ms
 * (rounded down to its minute), pipelined: a JSON array of n objects of integers (empty
 * objects for minutes without posts). New reference. n <= 20000. */
int es_store_stats_minutes(struct es_store *s, int64_t from_ms, size_t n, json_t **out);

/* es_store_depths: open mentions in the triage queues and outbox entries not yet
 * delivered (consumer group lag + pending). 0 or ES_EIO. */
int es_store_depths(struct es_store *s, int64_t *triage, int64_t *outbox);

/* What the live reply check needs about a mention's conversation (two HMGETs). An
 * expired lease reads as no holder. */
struct es_conv_brief {
    char state[24];
    char holder[128];
    char platform[16];
    char brand[128];
    char category[64];
    int64_t lease_until_ms;
    int public_replies;
    bool dm_open;
};
/* es_store_conv_brief: 0, ES_ENOTFOUND or ES_EIO. */
int es_store_conv_brief(struct es_store *s, const char *mid, int64_t now_ms,
                        struct es_conv_brief *b);

/* es_store_events_after: up to count es:events entries after id (exclusive), oldest
 * first, as a JSON array of {"id": <entry id>, <field>: <value>...} (new reference). */
int es_store_events_after(struct es_store *s, const char *id, size_t count, json_t **out);
/* es_store_events_last: the id of the newest es:events entry ("0-0" when there is none). */
int es_store_events_last(struct es_store *s, char *id, size_t n);

#endif
