/*
 * api_int: the triage API's private structures, shared by api.c (routing,
 * threads, auth and role checks), api_parse.c (bodies and query parameters),
 * api_mentions.c (the mention endpoints), stats.c, audit.c, sse.c and metrics.c.
 *
 * A call's life:
 *
 *   loop: handler ── route ──> struct es__api_call (copies of what the worker
 *         │                    needs: path ids, query, Authorization, body)
 *         └─ uv_queue_work ──> worker: thread's es_store, token, role,
 *                              route function (sets status + JSON), audit
 *   loop: after-work ──> respond (or, for /api/stream, attach the SSE client)
 *
 * Route functions run on a worker thread and may only touch the call, the
 * worker's store and read-only API state (fears, options).
 */
#ifndef ES_API_INT_H
#define ES_API_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "earshot/api.h"
#include "earshot/http.h"
#include "earshot/store.h"

enum es__api_route {
    ES__R_HEALTHZ,
    ES__R_METRICS,
    ES__R_ME,
    ES__R_MENTIONS,
    ES__R_MENTION,
    ES__R_CLAIM,
    ES__R_RELEASE,
    ES__R_REPLY,
    ES__R_DM,
    ES__R_RESOLVE,
    ES__R_IGNORE,
    ES__R_CHECK,
    ES__R_SUGGESTIONS,
    ES__R_STREAM,
    ES__R_VOLUME,
    ES__R_FEARS,
    ES__R_AUDIT,
    ES__R_TOKENS_GET,
    ES__R_TOKENS_POST,
    ES__R_TOKEN_DEL,
    ES__R_ALERT_SUBS_GET,
    ES__R_ALERT_SUBS_POST,
    ES__R_ALERT_SUB_DEL,
    ES__R_ALERT_DEAD,
    ES__R_ASSET,
    ES__R_OTHER, /* 404 / 405 answered on the loop */
    ES__R_COUNT
};

/* Query parameters a route may read (copied on the loop thread). */
enum es__api_q {
    ES__Q_BRAND, ES__Q_STATE, ES__Q_CATEGORY, ES__Q_SEVERITY, ES__Q_FENCE, ES__Q_ASSIGNEE,
    ES__Q_PLATFORM, ES__Q_LIMIT, ES__Q_CURSOR, ES__Q_STEP, ES__Q_FROM, ES__Q_TO, ES__Q_BY,
    ES__Q_DAYS, ES__Q_MID, ES__Q_ACTOR, ES__Q_LANG, ES__Q_COUNT
};

/* The query parameters' names, by enum es__api_q. */
extern const char *const es__api_q_names[ES__Q_COUNT];

/* Statuses counted per route for /metrics (the last slot is "other"). */
#define ES__API_NSTATUS 16
extern const int es__api_statuses[ES__API_NSTATUS];

struct es__api_call;
typedef void es__api_fn(struct es__api_call *c);

struct es__api_route_def {
    const char *name;        /* metric label, audit action */
    enum es_api_role role;   /* least role; ES_ROLE_NONE: no token needed */
    bool mutating;           /* audited */
    es__api_fn *fn;          /* runs on a worker thread */
};
extern const struct es__api_route_def es__api_routes[ES__R_COUNT];

struct es__api_sse;

struct es_api {
    uv_loop_t *loop;
    struct es_api_opts o;
    char *redis_url;
    struct es_http_server *http;

    /* worker threads' stores: one per thread (pthread key), all listed for es_api_stop */
    pthread_key_t key;
    pthread_mutex_t mu;
    struct es__api_tstore *stores;

    size_t pending;          /* calls queued or running */
    bool stopping, finished;
    uv_timer_t timer;        /* SSE tick (reader retry, heartbeat); its close frees the API */

    struct es__api_sse *sse;

    /* metrics, touched on the loop thread only */
    uint64_t by_route[ES__R_COUNT][ES__API_NSTATUS];
    bool redis_up;
};

struct es__api_tstore {
    struct es_store *s;
    struct es__api_tstore *next;
};

struct es__api_call {
    uv_work_t work;
    struct es_api *api;
    struct es_http_req *req;
    enum es__api_route route;
    char method[8];
    char mid[64];            /* the {mid} or {id} of the path */
    char *auth;              /* the Authorization header, or NULL */
    char *body;
    size_t body_len;
    char *q[ES__Q_COUNT];
    char peer[64];
    char last_event_id[64];
    int64_t now_ms;

    /* filled on the worker */
    struct es_store *store;
    struct es_api_identity who;
    int status;
    json_t *out;             /* the response body (or the metrics facts) */
    char *out_text;          /* out serialised on the worker thread (free()), or NULL */
    size_t out_len;
    char reason[64];         /* audit: the refusal or error reason, "" when ok */
    bool refused;            /* audit: a decision that said no */
};

/* es__api_error: set a JSON error {"error","reason","message"} as the call's answer. */
void es__api_error(struct es__api_call *c, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* es__api_body_object: the body as a JSON object (an empty body is {}), every key in
 * `allowed` (NULL-terminated; NULL: any key). NULL after answering 400 (saying where). New reference. */
json_t *es__api_body_object(struct es__api_call *c, const char *const *allowed);
/* es__api_field_str: a string field (NULL when absent); on a wrong type or a string longer
 * than max bytes answers 400 and sets *bad. */
const char *es__api_field_str(struct es__api_call *c, json_t *o, const char *k, size_t max,
                              bool *bad);
/* es__api_q_int: a query parameter as an integer in [lo, hi]; def when absent; on a bad
 * value answers 400 and sets *bad. */
int64_t es__api_q_int(struct es__api_call *c, enum es__api_q q, int64_t def, int64_t lo,
                      int64_t hi, bool *bad);
/* es__api_store_failed: answer an ES_* code from the store (503 for ES_EIO). */
void es__api_store_failed(struct es__api_call *c, int rc);

/* ---- api_parse.c: bodies and query parameters, with no Redis and no loop (the fuzz
 * target tests/fuzz/fuzz_http_api.c calls these on a bare call). Each returns 0, or
 * answers 400 on c (es__api_error, saying which field or parameter) and returns
 * ES_EINVAL. Strings returned borrow from c->q or from the parsed body (root), which the
 * caller decrefs; on an error nothing is left to free. ---- */

#define ES__API_MAX_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define ES__API_MAX_MINUTES 1440
#define ES__API_MAX_HOURS 192
#define ES__API_NAME_MAX_CP 48 /* a customer's name in a filled template */

struct es__api_text_body {
    json_t *root;
    const char *text;        /* required */
    const char *idem;        /* reply, dm: idempotency_key or NULL */
    bool dm;                 /* dm route, or check with "kind":"dm" */
};
/* es__api_id_ok: a path or query id (mention, token, subscription): 1 to 63 of
 * [A-Za-z0-9._-]. */
bool es__api_id_ok(const char *s, size_t n);
/* reply and dm: {text, idempotency_key}; check: {text, kind: "reply"|"dm"}. */
int es__api_parse_reply(struct es__api_call *c, struct es__api_text_body *b);
int es__api_parse_check(struct es__api_call *c, struct es__api_text_body *b);
/* claim: {lease_s: 10..3600} (default 300), as milliseconds. */
int es__api_parse_claim(struct es__api_call *c, int64_t *lease_ms);
/* ignore: {reason} ("" when absent; borrows from *root). */
int es__api_parse_ignore(struct es__api_call *c, json_t **root, const char **why);
/* release, resolve: no body, or {}. */
int es__api_parse_empty(struct es__api_call *c);
struct es__api_token_body {
    json_t *root;
    const char *role, *name; /* a valid role; a name es__api_name_ok accepts */
};
int es__api_parse_token(struct es__api_call *c, struct es__api_token_body *b);
/* GET /api/mentions: brand, state, category, fence, assignee, platform, severity, limit,
 * cursor (the next_cursor of a previous page). */
int es__api_parse_mentions_q(struct es__api_call *c, struct es_mention_filter *f);
struct es__api_volume_q {
    const char *step, *by;   /* "minute"|"hour"; NULL|"brand"|"category" */
    bool hour;
    int64_t width_ms, from, to; /* from and to rounded down to a bucket */
    int64_t buckets;         /* 1..ES__API_MAX_MINUTES or ES__API_MAX_HOURS */
};
int es__api_parse_volume_q(struct es__api_call *c, struct es__api_volume_q *v);
/* GET /api/audit: limit 1..1000 (100), mid (an id), actor (a token name). */
int es__api_parse_audit_q(struct es__api_call *c, size_t *limit, const char **mid,
                          const char **actor);
/* GET /api/stats/fears: days 1..90 (7). */
int es__api_parse_days(struct es__api_call *c, int *days);
/* GET .../suggestions: lang zh or en (NULL: both). */
int es__api_parse_lang(struct es__api_call *c, const char **lang);
/* es__api_name_ok: 1 to 64 of [A-Za-z0-9._@-] (token names, audit actors). auth.c. */
bool es__api_name_ok(const char *name);
/* es__api_clean_name: a customer's name (len bytes, any bytes) made fit for a reply:
 * invalid UTF-8, controls, bidirectional and zero-width characters and braces dropped,
 * spaces collapsed and trimmed, at most ES__API_NAME_MAX_CP code points and n - 1 bytes.
 * out is always NUL-terminated. 0, or ES_EINVAL when n is 0. */
int es__api_clean_name(const char *in, size_t len, char *out, size_t n);
/* es__api_fill: tmpl with {name} and {brand} filled (NULL or "": left for the agent).
 * *out (es_malloc'ed, caller frees) the text; *left (new reference) the names of the
 * placeholders that remain, each once, in order. 0, ES_ENOMEM, ES_ELIMIT. */
int es__api_fill(const char *tmpl, const char *name, const char *brand, char **out,
                 json_t **left);

/* api_mentions.c */
void es__api_mentions(struct es__api_call *c);
void es__api_mention(struct es__api_call *c);
void es__api_action(struct es__api_call *c); /* claim, release, reply, dm, resolve, ignore */
void es__api_check(struct es__api_call *c);
void es__api_suggestions(struct es__api_call *c);
/* stats.c */
void es__api_volume(struct es__api_call *c);
void es__api_fears(struct es__api_call *c);
/* audit.c */
void es__api_audit(struct es__api_call *c);
void es__api_audit_record(struct es__api_call *c);
void es__api_tokens_get(struct es__api_call *c);
void es__api_tokens_post(struct es__api_call *c);
void es__api_token_del(struct es__api_call *c);
void es__api_alert_subs_get(struct es__api_call *c);
void es__api_alert_subs_post(struct es__api_call *c);
void es__api_alert_sub_del(struct es__api_call *c);
void es__api_alert_dead(struct es__api_call *c);
/* sse.c: the worker half reads what a resuming client missed; the loop half attaches it */
void es__api_stream_prepare(struct es__api_call *c);
int es__api_sse_start(struct es_api *a);
void es__api_sse_attach(struct es_api *a, struct es_http_req *r, const char *last_id,
                        json_t *backlog);
/* es__api_sse_tick runs every ES__API_TICK_MS (or the heartbeat period when shorter):
 * restarts a failed reader, and sends the heartbeat comment when it is due. */
#define ES__API_TICK_MS 1000
void es__api_sse_tick(struct es_api *a);
size_t es__api_sse_clients(const struct es_api *a);
/* es__api_sse_counts: events fanned out, clients dropped for lagging. */
void es__api_sse_counts(const struct es_api *a, uint64_t *events, uint64_t *dropped);
void es__api_sse_stop(struct es_api *a);
/* metrics.c */
void es__api_metrics_facts(struct es__api_call *c);  /* worker: Redis up, queue depths */
void es__api_metrics_respond(struct es__api_call *c); /* loop: the text */
void es__api_healthz(struct es__api_call *c);

#endif
