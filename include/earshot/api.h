/*
 * api: the triage API on the daemon's loop (docs/api.md, docs/openapi.json).
 *
 *   http (loop thread) ──> route ──> /healthz, /metrics, /api/...: uv_queue_work
 *                           │          worker thread: token check (es:token:<id>),
 *                           │          role check, the store call, audit entry
 *                           │          after-work (loop): es_http_respond_json
 *                           ├──> /api/stream: token checked on a worker, then one
 *                           │    XREAD BLOCK reader (es_store_async) on the loop
 *                           │    fans es:events entries out to every SSE client
 *                           └──> anything else (GET): the console's embedded files
 *
 * Each worker thread keeps its own synchronous struct es_store (opened on first
 * use with the API's Redis URL, closed by es_api_stop). The work runs on the
 * libuv thread pool, whose size is UV_THREADPOOL_SIZE (libuv's default is 4;
 * `earshot serve` sets 8 when the variable is unset).
 *
 * Tokens: "es_<id>_<secret>", id 16 hex digits, secret 64 hex digits (32 bytes
 * from getrandom). Only SHA-256(secret) is stored; the token is shown once.
 * Roles, each including the one before: agent < manager < admin.
 */
#ifndef ES_API_H
#define ES_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "earshot/err.h"

struct uv_loop_s;
struct es_api;
struct es_store;
struct es_fears;

/* es_api_metrics_cb appends Prometheus text lines (the caller's own metrics, e.g. the
 * pipeline's and the crawler's counters) to out, at most n bytes, and returns the bytes
 * written. Runs on the loop thread while /metrics is answered. */
typedef size_t es_api_metrics_cb(void *ud, char *out, size_t n);

struct es_api_opts {
    const char *host;            /* NULL = 127.0.0.1 */
    int port;                    /* 0: ephemeral (es_api_port tells which) */
    const char *redis_url;       /* "unix:///path" or "redis://host:port"; required */
    const struct es_fears *fears;/* the text checks and templates (borrowed; outlives the API) */
    int canned_days;             /* 0: ES_CANNED_DAYS_DEFAULT */
    /* http limits: 0 = the server's defaults (http.h) */
    size_t max_header_bytes, max_body_bytes, max_connections, max_stream_buffer;
    int idle_timeout_ms, request_timeout_ms;
    int sse_heartbeat_ms;        /* 0 = 15000 */
    es_api_metrics_cb *metrics;  /* may be NULL */
    void *metrics_ud;
};

/* es_api_start listens and starts the SSE reader. 0, ES_EIO (bind failed: d says why),
 * ES_EINVAL (no redis_url or fears), ES_ENOMEM. */
int es_api_start(struct uv_loop_s *loop, const struct es_api_opts *o, struct es_api **out,
                 struct es_diag *d);
int es_api_port(const struct es_api *a);
/* es_api_stop stops listening, ends every stream, lets queued work finish (answers to
 * clients already gone are dropped), closes the worker threads' connections and frees a
 * once the loop has run its close callbacks. Accepts NULL. */
void es_api_stop(struct es_api *a);

/* ---- tokens (the CLI, `earshot demo` and POST /api/tokens) ---- */

/* es_api_token_create makes a token for name with role ("agent", "manager", "admin") and
 * stores its hash. token gets "es_<id>_<secret>" (token_n >= 100), id the id (id_n >= 17).
 * 0, ES_EINVAL (bad role, or name not 1-64 of [A-Za-z0-9._@-]), ES_EIO, ES_ENOMEM. */
int es_api_token_create(struct es_store *s, const char *role, const char *name, char *token,
                        size_t token_n, char *id, size_t id_n);
/* es_api_token_list: a JSON array of {id, name, role, created_ms} (new reference). */
int es_api_token_list(struct es_store *s, json_t **out);
/* es_api_token_revoke: 0, ES_ENOTFOUND, ES_EIO. */
int es_api_token_revoke(struct es_store *s, const char *id);

/* ---- roles ---- */

enum es_api_role { ES_ROLE_NONE = 0, ES_ROLE_AGENT = 1, ES_ROLE_MANAGER = 2, ES_ROLE_ADMIN = 3 };
/* es_api_role_parse: the role named, or ES_ROLE_NONE. */
enum es_api_role es_api_role_parse(const char *name);
const char *es_api_role_name(enum es_api_role r);

/* es_api_token_verify: the identity of a presented token ("es_<id>_<secret>"), compared
 * in constant time with the stored hash. 0 with name/role/id filled; ES_ENOTFOUND (bad,
 * unknown or revoked token); ES_EIO (Redis unreachable). */
struct es_api_identity {
    char id[32];
    char name[72];
    enum es_api_role role;
};
int es_api_token_verify(struct es_store *s, const char *token, struct es_api_identity *who);

#endif
