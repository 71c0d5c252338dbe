/*
 * http: an HTTP/1.1 server on a libuv loop, for the API, the SSE stream and
 * the console's static files. Requests are parsed by http-parser (the
 * parser Node.js used for a decade, packaged by Debian); connections,
 * limits, keep-alive, timeouts and responses are ours.
 *
 *   accept ──> read ──http-parser──> request complete ──> handler(req)
 *                ^                                          │ now or later
 *                │                                          v
 *                └──── keep-alive <──── written <──── es_http_respond / stream
 *
 * One request at a time per connection: reading pauses while a request is
 * being handled (so pipelined requests are answered in order and a slow
 * handler cannot be flooded), and resumes once its response is written.
 *
 * Limits (each answered with a JSON error and the connection closed): header
 * bytes (431), body bytes (413), URL length (414), malformed request (400),
 * connections (new ones are closed at accept), idle keep-alive and a
 * deadline for a request's headers and body to arrive (slowloris).
 *
 * Threads: everything here runs on the loop thread. A handler may hand the
 * work to another thread (uv_queue_work) and respond from the after-work
 * callback, which runs on the loop thread.
 */
#ifndef ES_HTTP_H
#define ES_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "earshot/err.h"

struct uv_loop_s;
struct es_http_server;
struct es_http_req;

/* es_http_handler runs on the loop thread once per complete request. It must
 * eventually answer exactly once (es_http_respond*, es_http_error, or
 * es_http_stream_begin ... es_http_stream_end), now or later. */
typedef void es_http_handler(struct es_http_req *r, void *ud);

struct es_http_opts {
    const char *host;          /* "127.0.0.1", "::1", "0.0.0.0"; NULL = 127.0.0.1 */
    int port;                  /* 0: an ephemeral port (es_http_port tells which) */
    size_t max_header_bytes;   /* 0 = 16 KiB (request line + headers) */
    size_t max_body_bytes;     /* 0 = 1 MiB */
    size_t max_connections;    /* 0 = 10000 */
    int idle_timeout_ms;       /* keep-alive idle; 0 = 30000 */
    int request_timeout_ms;    /* headers + body must arrive within; 0 = 10000 */
    size_t max_stream_buffer;  /* bytes a slow streaming client may lag; 0 = 1 MiB */
    es_http_handler *handler;
    void *ud;
};

/* es_http_start listens. 0, ES_EIO (bind/listen failed: d says why), ES_ENOMEM. */
int es_http_start(struct uv_loop_s *loop, const struct es_http_opts *o,
                  struct es_http_server **out, struct es_diag *d);
int es_http_port(const struct es_http_server *s);
/* es_http_stop closes the listener and every connection (open streams end,
 * requests still being handled are answered by nobody: their es_http_respond
 * becomes a no-op). The server is freed once all handles closed; run the loop
 * until then. */
void es_http_stop(struct es_http_server *s);

struct es_http_counters {
    uint64_t connections_total, connections_open, requests, responses_4xx, responses_5xx,
        streams_open, bytes_out;
};
void es_http_counters(const struct es_http_server *s, struct es_http_counters *out);

/* ---- the request (borrowed: valid until it has been answered) ---- */

const char *es_http_method(const struct es_http_req *r);   /* "GET", "POST", ... */
const char *es_http_path(const struct es_http_req *r);     /* percent-decoded, no query */
/* es_http_query: a query parameter, percent-decoded ('+' is a space), or NULL. */
const char *es_http_query(const struct es_http_req *r, const char *name);
/* es_http_header: a request header (case-insensitive name), or NULL. */
const char *es_http_header(const struct es_http_req *r, const char *name);
const char *es_http_body(const struct es_http_req *r, size_t *len);
const char *es_http_peer(const struct es_http_req *r);     /* "127.0.0.1:53422" */
/* es_http_gone: the client closed the connection; answering is still required
 * (it frees the request) but nothing is sent. */
bool es_http_gone(const struct es_http_req *r);
/* Per-request slot for the handler's state. */
void es_http_set_data(struct es_http_req *r, void *data);
void *es_http_data(const struct es_http_req *r);

/* ---- answering ---- */

/* Headers every response gets (security headers, for example), "Name: value\r\n"
 * lines; copied. */
void es_http_set_default_headers(struct es_http_server *s, const char *lines);

/* es_http_respond: a whole response. extra_headers: "Name: value\r\n" lines or NULL.
 * HEAD gets the headers only. 0 or ES_ENOMEM. */
int es_http_respond(struct es_http_req *r, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len);
/* es_http_respond_json: body is serialised compactly and decref'ed. */
int es_http_respond_json(struct es_http_req *r, int status, json_t *body);
/* es_http_error: {"error": <status text, e.g. "conflict">, "reason": reason,
 * "message": message} with that status. */
int es_http_error(struct es_http_req *r, int status, const char *reason, const char *message);

/* Streaming (Server-Sent Events): chunked transfer encoding. */
int es_http_stream_begin(struct es_http_req *r, int status, const char *content_type,
                         const char *extra_headers);
/* es_http_stream_write: 0; ES_ELIMIT when the client lags more than max_stream_buffer
 * (the connection is then closed); ES_ECANCELED when it is gone. Either way the
 * caller still ends the stream. */
int es_http_stream_write(struct es_http_req *r, const void *data, size_t len);
void es_http_stream_end(struct es_http_req *r);
/* es_http_on_gone: cb runs (on the loop) when the client of a pending request or
 * an open stream goes away, so a stream can be ended without waiting for data. */
void es_http_on_gone(struct es_http_req *r, void (*cb)(struct es_http_req *r, void *ud),
                     void *ud);

/* ---- static assets (the console), embedded in the binary at build time ---- */

struct es_http_asset {
    const char *path;          /* "/index.html" */
    const char *content_type;
    const unsigned char *data; /* identity */
    size_t len;
    const unsigned char *gz;   /* gzip, or NULL when it would not be smaller */
    size_t gz_len;
    const char *etag;          /* "\"<hash>\"" */
};
/* es_http_asset_find: the asset at path ("/" means "/index.html"), or NULL. */
const struct es_http_asset *es_http_asset_find(const char *path);
/* es_http_respond_asset: 200 with ETag and Cache-Control, 304 on If-None-Match,
 * the gzip body when Accept-Encoding allows it (Vary: Accept-Encoding). */
int es_http_respond_asset(struct es_http_req *r, const struct es_http_asset *a);

#endif
