/*
 * http_int: the server's private structures, shared by server.c (connections,
 * parsing, responses), request.c (accessors, URL decoding) and asset.c.
 *
 * A connection moves through these phases:
 *
 *          idle timer                     request deadline
 *   READ ─────────────> (closed)   READ ──(message begun)──> 408, LINGER
 *    │ message complete: parsing pauses, later bytes go to the stash
 *    v
 *   HANDLER ── es_http_respond / stream_end ──> FLUSH ── writes done ──> READ
 *    │                                            │      (stash parsed from
 *    │ error, "Connection: close", HTTP/1.0       │       the idle callback)
 *    v                                            v
 *   LINGER: input discarded; once written, shutdown (FIN), wait for the
 *           client's EOF or a short timer
 *    v
 *   CLOSED: handles closing; the struct is freed when both close callbacks
 *           ran and no handler still holds the request (it must answer).
 */
#ifndef ES_HTTP_INT_H
#define ES_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "earshot/buf.h"
#include "earshot/http.h"

#define ES_HTTP_MAX_HEADERS 100 /* more: 431 */
#define ES_HTTP_MAX_PARAMS 100  /* more query parameters: 400 */
#define ES_HTTP_MAX_URL 8192    /* longer request target: 414 */
#define ES_HTTP_LINGER_MS 2000  /* wait for the client's EOF after our FIN */
#define ES_HTTP_READ_BLOCK (64 * 1024)
#define ES_HTTP_STASH_HIGH (128 * 1024) /* stop reading above this; resume below */
#define ES_HTTP_JSON_CAP (64u << 20)    /* es_http_respond_json bodies */

enum es__http_phase {
    ES__HTTP_READ,    /* waiting for or parsing a request */
    ES__HTTP_HANDLER, /* the handler holds the request (or a stream is open) */
    ES__HTTP_FLUSH,   /* answered; writes in flight, then READ */
    ES__HTTP_LINGER,  /* the last response; then shutdown and close */
    ES__HTTP_CLOSED
};

struct es__http_hdr {
    uint32_t name, value; /* offsets of NUL-terminated strings in conn->head */
};

struct es_http_req {
    struct es_http_conn *conn;
    const char *method;
    const char *path; /* in conn->dec */
    const char *params[ES_HTTP_MAX_PARAMS][2];
    size_t nparams;
    struct es__http_hdr headers[ES_HTTP_MAX_HEADERS];
    size_t nheaders;
    void *data;
    void (*on_gone)(struct es_http_req *r, void *ud);
    void *gone_ud;
    unsigned char http_major, http_minor;
    bool head_only;  /* HEAD: headers only */
    bool keep_alive; /* http_should_keep_alive() */
    bool pending;    /* handed to the handler, not yet fully answered */
    bool streaming;  /* between stream_begin and stream_end */
    bool chunked;    /* the stream uses chunked framing (HTTP/1.1) */
    bool gone;       /* the connection closed: answers are not sent */
};

struct es_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    http_parser parser;
    struct es_http_server *srv;
    struct es_http_conn *prev, *next; /* the server's open connections */
    struct es_http_conn *ready_next;  /* the server's list of stashes to parse */
    enum es__http_phase phase;
    int handles;      /* uv handles not yet closed */
    bool nosock;      /* es__http_replay: no socket, writes go to sink */
    bool ready;       /* on the ready list */
    bool reading;     /* uv_read_start is in effect */
    bool shut;        /* uv_shutdown issued */
    bool eof;         /* the client's EOF arrived while we were finishing */
    bool close_after; /* the response being written is the last */
    bool in_message;  /* a request has begun and is not complete */
    bool in_headers;  /* header callbacks belong to the head, not trailers */
    bool last_was_value;
    int error_status; /* set by a parser callback that refused the request */
    const char *error_reason;
    size_t header_bytes;
    size_t url_len;
    unsigned writes;    /* uv_write requests in flight */
    size_t queued;      /* their bytes */
    struct es_buf head; /* url NUL, then name NUL value NUL ... */
    struct es_buf dec;  /* decoded path and query parameters */
    struct es_buf body;
    struct es_buf stash; /* bytes read while a request is handled */
    struct es_buf out;   /* response head being built */
    struct es_buf json;  /* JSON bodies built here */
    struct es_buf *sink; /* nosock: what would have been sent */
    char peer[64];
    struct es_http_req req;
};

struct es_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_idle_t idle; /* runs while connections wait on the ready list */
    struct es_http_opts o;
    char host[64];
    char *default_headers;
    size_t default_headers_len;
    struct es_http_conn *conns;
    struct es_http_conn *ready;
    size_t nopen;
    size_t refs; /* open handles of the server + allocated connections */
    bool stopping;
    bool idle_active;
    int port;
    int64_t date_sec;
    char date[40];
    struct es_http_counters n;
    char rbuf[ES_HTTP_READ_BLOCK];
};

/* request.c: finish the request after on_message_complete: the url's path and
 * query are decoded into conn->dec, header values trimmed. 0, or an HTTP status
 * (400/414) with *reason set. */
int es__http_req_finish(struct es_http_conn *c, const char **reason);

/* Status line text and error name ("Payload Too Large", "payload_too_large"). */
const char *es__http_status_text(int status);
const char *es__http_status_name(int status);

/* es__http_asset_lookup: binary search of a table sorted by path ("/" is
 * "/index.html"); NULL when absent. es_http_asset_find searches the table
 * generated from src/console at build time. */
const struct es_http_asset *es__http_asset_lookup(const struct es_http_asset *table, size_t n,
                                                  const char *path);
/* Defined by the generated assets file (sorted by path; count may be 0). */
extern const struct es_http_asset es__http_assets[];
extern const size_t es__http_asset_count;

/* es__http_replay: feed data to one connection without a socket or a loop, in
 * pieces of at most `piece` bytes (0: all at once), as the fuzzer and unit tests
 * do. o->handler must answer before it returns. What the server would have sent
 * is appended to out (NULL: dropped). Returns the number of requests handed to
 * the handler. */
int es__http_replay(const struct es_http_opts *o, const void *data, size_t len, size_t piece,
                    struct es_buf *out);

#endif
