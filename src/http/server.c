/*
 * server: the listener, connections, http-parser callbacks, limits, timers,
 * keep-alive, responses and chunked streams. See http_int.h for the phases of
 * a connection and earshot/http.h for the contract.
 *
 * Writes: uv_try_write first (small responses usually leave in one call);
 * what the kernel did not take is copied into a write request that owns its
 * bytes. A connection's `queued` bytes are what slow clients cost us; streams
 * are cut off above max_stream_buffer, other responses get idle_timeout_ms to
 * drain.
 *
 * Memory: per connection, a few reused buffers (request head, decoded URL,
 * body, stash, response head, JSON); nothing is allocated per request once they
 * have grown, except write requests for bytes the kernel could not take.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "earshot/alloc.h"
#include "earshot/log.h"
#include "http/http_int.h"

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t n);
static int on_header_field(http_parser *p, const char *at, size_t n);
static int on_header_value(http_parser *p, const char *at, size_t n);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t n);
static int on_message_complete(http_parser *p);

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void conn_close(struct es_http_conn *c, bool notify);
static void conn_finish(struct es_http_conn *c);
static void conn_next(struct es_http_conn *c);
static void conn_fail(struct es_http_conn *c, int status, const char *reason, const char *message);
static void conn_read_start(struct es_http_conn *c);

/* ---- the server's lifetime ---- */

static void server_free(struct es_http_server *s)
{
    es_free(s->default_headers);
    es_free(s);
}

static void server_unref(struct es_http_server *s)
{
    if (--s->refs == 0 && s->stopping)
        server_free(s);
}

static void on_server_handle_close(uv_handle_t *h)
{
    server_unref(h->data);
}

static const char *date_now(struct es_http_server *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if ((int64_t)now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_sec = (int64_t)now;
    }
    return s->date;
}

/* ---- connections: allocation, timers, closing ---- */

static struct es_http_conn *conn_new(struct es_http_server *s)
{
    struct es_http_conn *c = es_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = s;
    c->req.conn = c;
    size_t hcap = s->o.max_header_bytes + 2 * ES_HTTP_MAX_HEADERS + 64;
    es_buf_init(&c->head, hcap);
    es_buf_init(&c->dec, hcap + ES_HTTP_MAX_PARAMS * 2 + 16);
    es_buf_init(&c->body, s->o.max_body_bytes);
    es_buf_init(&c->stash, ES_HTTP_STASH_HIGH + ES_HTTP_READ_BLOCK);
    es_buf_init(&c->out, 1u << 20);
    es_buf_init(&c->json, ES_HTTP_JSON_CAP);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->phase = ES__HTTP_READ;
    s->refs++;
    return c;
}

static void ready_remove(struct es_http_conn *c)
{
    if (!c->ready)
        return;
    struct es_http_conn **pp = &c->srv->ready;
    while (*pp && *pp != c)
        pp = &(*pp)->ready_next;
    if (*pp)
        *pp = c->ready_next;
    c->ready = false;
    c->ready_next = NULL;
}

/* conn_free_if_done frees c once its handles are closed and no handler holds
 * its request. */
static void conn_free_if_done(struct es_http_conn *c)
{
    if (c->handles > 0 || c->req.pending || c->phase != ES__HTTP_CLOSED)
        return;
    struct es_http_server *s = c->srv;
    ready_remove(c);
    es_buf_cleanup(&c->head);
    es_buf_cleanup(&c->dec);
    es_buf_cleanup(&c->body);
    es_buf_cleanup(&c->stash);
    es_buf_cleanup(&c->out);
    es_buf_cleanup(&c->json);
    es_free(c);
    server_unref(s);
}

static void on_conn_handle_close(uv_handle_t *h)
{
    struct es_http_conn *c = h->data;
    c->handles--;
    conn_free_if_done(c);
}

static void on_timer(uv_timer_t *t);

static void timer_arm(struct es_http_conn *c, int ms)
{
    if (c->nosock)
        return;
    uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
}

static void timer_disarm(struct es_http_conn *c)
{
    if (!c->nosock)
        uv_timer_stop(&c->timer);
}

/* conn_close ends the connection now. If a handler holds the request it is
 * marked gone and, when notify is set, its on_gone callback runs (never from
 * inside a call the handler made, where it could free what the caller uses). */
static void conn_close(struct es_http_conn *c, bool notify)
{
    if (c->phase == ES__HTTP_CLOSED)
        return;
    struct es_http_server *s = c->srv;
    c->phase = ES__HTTP_CLOSED;
    ready_remove(c);
    struct es_http_conn **link = c->prev ? &c->prev->next : &s->conns;
    if (*link == c)
        *link = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = NULL;
    c->prev = NULL;
    s->nopen--;
    if (!c->nosock) {
        uv_close((uv_handle_t *)&c->timer, on_conn_handle_close);
        uv_close((uv_handle_t *)&c->tcp, on_conn_handle_close);
    }
    if (c->req.pending) {
        c->req.gone = true;
        if (notify && c->req.on_gone) {
            void (*cb)(struct es_http_req *, void *) = c->req.on_gone;
            c->req.on_gone = NULL;
            cb(&c->req, c->req.gone_ud);
            /* c may be gone now if it had no handles (nosock) */
            return;
        }
    }
    conn_free_if_done(c);
}

/* ---- writing ---- */

struct wreq {
    uv_write_t req;
    struct es_http_conn *c;
    size_t len;
    char data[];
};

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct es_http_conn *c = req->data;
    if (c->phase == ES__HTTP_CLOSED)
        return;
    if (status < 0 || c->eof) {
        conn_close(c, true);
        return;
    }
    /* Wait for the client's EOF: closing with unread input would reset the
     * connection and could destroy the response in flight. */
    timer_arm(c, ES_HTTP_LINGER_MS);
}

static void start_shutdown(struct es_http_conn *c)
{
    if (c->shut || c->phase == ES__HTTP_CLOSED)
        return;
    c->shut = true;
    if (c->nosock)
        return;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c, true);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct es_http_conn *c = w->c;
    c->writes--;
    c->queued -= w->len;
    if (status == 0)
        c->srv->n.bytes_out += w->len;
    es_free(w);
    if (c->phase == ES__HTTP_CLOSED)
        return;
    if (status < 0) {
        conn_close(c, true);
        return;
    }
    if (c->writes > 0)
        return;
    if (c->phase == ES__HTTP_FLUSH)
        conn_next(c);
    else if (c->phase == ES__HTTP_LINGER)
        start_shutdown(c);
}

/* conn_send writes bufs in order: what the kernel takes now, then a copy of the
 * rest in one write request. 0; ES_ECANCELED when the connection is closed;
 * ES_EIO or ES_ENOMEM (the connection is then closed without notification). */
static int conn_send(struct es_http_conn *c, uv_buf_t *bufs, unsigned nbufs)
{
    if (c->phase == ES__HTTP_CLOSED)
        return ES_ECANCELED;
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    if (total == 0)
        return 0;
    if (c->nosock) {
        for (unsigned i = 0; c->sink && i < nbufs; i++)
            es_buf_append(c->sink, bufs[i].base, bufs[i].len);
        c->srv->n.bytes_out += total;
        return 0;
    }
    size_t done = 0;
    if (c->writes == 0) {
        int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
        if (n < 0 && n != UV_EAGAIN) {
            conn_close(c, false);
            return ES_EIO;
        }
        if (n > 0) {
            done = (size_t)n;
            c->srv->n.bytes_out += done;
        }
        if (done == total)
            return 0;
    }
    struct wreq *w = es_malloc(sizeof *w + (total - done));
    if (!w) {
        conn_close(c, false);
        return ES_ENOMEM;
    }
    w->c = c;
    w->len = total - done;
    size_t skip = done, at = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t len = bufs[i].len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(w->data + at, bufs[i].base + skip, len - skip);
        at += len - skip;
        skip = 0;
    }
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc != 0) {
        es_free(w);
        conn_close(c, false);
        return ES_EIO;
    }
    c->writes++;
    c->queued += w->len;
    return 0;
}

/* ---- responses ---- */

static void count_status(struct es_http_server *s, int status)
{
    if (status >= 500)
        s->n.responses_5xx++;
    else if (status >= 400)
        s->n.responses_4xx++;
}

/* build_head formats the status line and headers into c->out in one call.
 * content_length < 0: none (chunked streams, 204, 304). */
static int build_head(struct es_http_conn *c, int status, const char *content_type,
                      const char *extra, long long content_length, bool chunked)
{
#define HEAD_START "HTTP/1.1 %d %s\r\nDate: %s\r\n%s%s%s"
#define HEAD_END "Connection: %s\r\n%s%s\r\n"
#define HEAD_ARGS_START                                                                            \
    status, es__http_status_text(status), date_now(s), content_type ? "Content-Type: " : "",       \
        content_type ? content_type : "", content_type ? "\r\n" : ""
#define HEAD_ARGS_END                                                                              \
    c->close_after ? "close" : "keep-alive", s->default_headers ? s->default_headers : "",         \
        extra ? extra : ""
    struct es_http_server *s = c->srv;
    es_buf_reset(&c->out);
    /* Formatted straight into the connection's buffer; a second pass only when
     * it has to grow. */
    for (int pass = 0; pass < 2; pass++) {
        size_t room = c->out.alloc > 1 ? c->out.alloc - 1 : 0;
        char *at = c->out.data;
        int n;
        if (content_length >= 0)
            n = snprintf(at, room, HEAD_START "Content-Length: %lld\r\n" HEAD_END, HEAD_ARGS_START,
                         content_length, HEAD_ARGS_END);
        else
            n = snprintf(at, room, HEAD_START "%s" HEAD_END, HEAD_ARGS_START,
                         chunked ? "Transfer-Encoding: chunked\r\n" : "", HEAD_ARGS_END);
        if (n < 0)
            return ES_EINVAL;
        if ((size_t)n < room) {
            c->out.len = (size_t)n;
            return 0;
        }
        int rc = es_buf_reserve(&c->out, (size_t)n + 1 > 1024 ? (size_t)n + 1 : 1024);
        if (rc)
            return rc;
    }
    return ES_ELIMIT;
#undef HEAD_START
#undef HEAD_END
#undef HEAD_ARGS_START
#undef HEAD_ARGS_END
}

/* send_response writes a whole response; head_only leaves the body out (but
 * keeps its Content-Length). */
static int send_response(struct es_http_conn *c, int status, const char *content_type,
                         const char *extra, const void *body, size_t len, bool head_only)
{
    bool bodyless = status == 204 || status == 304 || status < 200;
    int rc = build_head(c, status, bodyless ? NULL : content_type, extra,
                        bodyless ? -1 : (long long)len, false);
    if (rc) {
        conn_close(c, false);
        return rc == ES_ELIMIT ? ES_ENOMEM : rc;
    }
    count_status(c->srv, status);
    uv_buf_t bufs[2] = {uv_buf_init(c->out.data, (unsigned)c->out.len),
                        uv_buf_init((char *)(body ? body : ""), (unsigned)len)};
    return conn_send(c, bufs, (head_only || bodyless || len == 0) ? 1 : 2);
}

/* error_json builds {"error","reason","message"} in c->json. */
static int error_json(struct es_http_conn *c, int status, const char *reason, const char *message)
{
    const char *name = es__http_status_name(status);
    if (!reason)
        reason = name;
    if (!message)
        message = es__http_status_text(status);
    struct es_buf *b = &c->json;
    es_buf_reset(b);
    int rc = es_buf_puts(b, "{\"error\":");
    if (!rc)
        rc = es_buf_json_str(b, name, strlen(name));
    if (!rc)
        rc = es_buf_puts(b, ",\"reason\":");
    if (!rc)
        rc = es_buf_json_str(b, reason, strlen(reason));
    if (!rc)
        rc = es_buf_puts(b, ",\"message\":");
    if (!rc)
        rc = es_buf_json_str(b, message, strlen(message));
    if (!rc)
        rc = es_buf_putc(b, '}');
    return rc;
}

/* conn_fail answers a request the server refused itself (limits, malformed,
 * timeouts) and ends the connection. */
static void conn_fail(struct es_http_conn *c, int status, const char *reason, const char *message)
{
    if (c->phase == ES__HTTP_CLOSED || c->phase == ES__HTTP_LINGER)
        return;
    timer_disarm(c);
    c->close_after = true;
    c->in_message = false;
    if (error_json(c, status, reason, message) != 0) {
        conn_close(c, false);
        return;
    }
    if (send_response(c, status, "application/json", NULL, c->json.data, c->json.len, false) != 0)
        return;
    conn_finish(c);
}

/* conn_finish: the last response is queued; discard input, then FIN. */
static void conn_finish(struct es_http_conn *c)
{
    if (c->phase == ES__HTTP_CLOSED)
        return;
    c->phase = ES__HTTP_LINGER;
    ready_remove(c);
    if (c->writes == 0) {
        start_shutdown(c);
    } else {
        timer_arm(c, c->srv->o.idle_timeout_ms);
    }
    if (!c->reading && !c->nosock && !c->eof)
        conn_read_start(c);
}

/* conn_answered runs when a request has been fully answered. */
static void conn_answered(struct es_http_conn *c)
{
    struct es_http_req *r = &c->req;
    r->pending = false;
    r->streaming = false;
    r->on_gone = NULL;
    r->data = NULL;
    if (c->phase == ES__HTTP_CLOSED) {
        conn_free_if_done(c);
        return;
    }
    if (c->close_after || c->srv->stopping) {
        conn_finish(c);
        return;
    }
    c->phase = ES__HTTP_FLUSH;
    if (c->writes == 0)
        conn_next(c);
    else
        timer_arm(c, c->srv->o.idle_timeout_ms);
}

/* answerable: r can be answered now; false when it is gone (the answer only
 * releases it). */
static bool answerable(struct es_http_req *r)
{
    if (!r->gone && r->conn->phase != ES__HTTP_CLOSED)
        return true;
    conn_answered(r->conn);
    return false;
}

static int sane_status(int status)
{
    if (status < 200 || status > 599) {
        es_log(ES_LOG_ERROR, "http", "response status %d is not valid; sending 500", status);
        return 500;
    }
    return status;
}

int es_http_respond(struct es_http_req *r, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len)
{
    if (!r->pending || r->streaming)
        return ES_EINVAL;
    if (!answerable(r))
        return 0;
    struct es_http_conn *c = r->conn;
    if (!r->keep_alive)
        c->close_after = true;
    int rc =
        send_response(c, sane_status(status), content_type, extra_headers, body, len, r->head_only);
    conn_answered(c);
    return rc == ES_ENOMEM ? ES_ENOMEM : 0;
}

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    return es_buf_append(data, buffer, size) == 0 ? 0 : -1;
}

int es_http_respond_json(struct es_http_req *r, int status, json_t *body)
{
    if (!r->pending || r->streaming) {
        json_decref(body);
        return ES_EINVAL;
    }
    struct es_http_conn *c = r->conn;
    es_buf_reset(&c->json);
    if (!body ||
        json_dump_callback(body, dump_to_buf, &c->json, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        json_decref(body);
        return es_http_error(r, 500, "json_dump", "the response could not be serialised");
    }
    json_decref(body);
    return es_http_respond(r, status, "application/json", NULL, c->json.data, c->json.len);
}

int es_http_error(struct es_http_req *r, int status, const char *reason, const char *message)
{
    if (!r->pending || r->streaming)
        return ES_EINVAL;
    struct es_http_conn *c = r->conn;
    if (r->gone || c->phase == ES__HTTP_CLOSED)
        return es_http_respond(r, status, NULL, NULL, NULL, 0);
    status = status < 400 || status > 599 ? 500 : status;
    if (error_json(c, status, reason, message) != 0) {
        es_buf_reset(&c->json);
        es_buf_puts(&c->json, "{\"error\":\"internal_error\"}");
    }
    return es_http_respond(r, status, "application/json", NULL, c->json.data, c->json.len);
}

void es_http_set_default_headers(struct es_http_server *s, const char *lines)
{
    es_free(s->default_headers);
    s->default_headers = NULL;
    s->default_headers_len = 0;
    if (!lines || !*lines)
        return;
    size_t n = strlen(lines);
    bool crlf = n >= 2 && lines[n - 2] == '\r' && lines[n - 1] == '\n';
    char *h = es_malloc(n + 3);
    if (!h) {
        es_log(ES_LOG_ERROR, "http", "default headers: out of memory");
        return;
    }
    memcpy(h, lines, n);
    if (!crlf) {
        h[n++] = '\r';
        h[n++] = '\n';
    }
    h[n] = '\0';
    s->default_headers = h;
    s->default_headers_len = n;
}

/* ---- streams ---- */

int es_http_stream_begin(struct es_http_req *r, int status, const char *content_type,
                         const char *extra_headers)
{
    if (!r->pending || r->streaming)
        return ES_EINVAL;
    struct es_http_conn *c = r->conn;
    r->streaming = true;
    c->srv->n.streams_open++;
    if (r->gone || c->phase == ES__HTTP_CLOSED)
        return 0;
    /* HTTP/1.0 has no chunked framing: the body runs until we close. */
    r->chunked = r->http_major > 1 || (r->http_major == 1 && r->http_minor >= 1);
    if (!r->chunked || !r->keep_alive)
        c->close_after = true;
    status = sane_status(status);
    /* From here on the stream is open whatever happens: a failure closes the
     * connection, later writes return ES_ECANCELED, the caller ends it. */
    int rc = build_head(c, status, content_type, extra_headers, -1, r->chunked);
    if (rc) {
        es_log(ES_LOG_ERROR, "http", "stream to %s: %s", c->peer, es_strerror(rc));
        conn_close(c, false);
        return 0;
    }
    count_status(c->srv, status);
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
    conn_send(c, &b, 1);
    return 0;
}

int es_http_stream_write(struct es_http_req *r, const void *data, size_t len)
{
    if (!r->pending || !r->streaming)
        return ES_EINVAL;
    struct es_http_conn *c = r->conn;
    if (r->gone || c->phase == ES__HTTP_CLOSED)
        return ES_ECANCELED;
    if (r->head_only || len == 0)
        return 0;
    char size[24];
    int sl = r->chunked ? snprintf(size, sizeof size, "%zx\r\n", len) : 0;
    size_t framed = len + (size_t)sl + (r->chunked ? 2 : 0);
    if (c->queued + framed > c->srv->o.max_stream_buffer) {
        es_log(ES_LOG_INFO, "http", "stream to %s: client lags by %zu bytes; closing", c->peer,
               c->queued);
        conn_close(c, false);
        r->gone = true;
        return ES_ELIMIT;
    }
    uv_buf_t bufs[3] = {uv_buf_init(size, (unsigned)sl), uv_buf_init((char *)data, (unsigned)len),
                        uv_buf_init("\r\n", 2)};
    int rc = r->chunked ? conn_send(c, bufs, 3) : conn_send(c, bufs + 1, 1);
    if (rc) {
        r->gone = true;
        return ES_ECANCELED;
    }
    return 0;
}

void es_http_stream_end(struct es_http_req *r)
{
    if (!r->pending || !r->streaming)
        return;
    struct es_http_conn *c = r->conn;
    c->srv->n.streams_open--;
    if (!r->gone && c->phase != ES__HTTP_CLOSED && !r->head_only && r->chunked) {
        uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);
        conn_send(c, &b, 1);
    }
    conn_answered(c);
}

/* ---- parsing ---- */

static int refuse(struct es_http_conn *c, int status, const char *reason)
{
    c->error_status = status;
    c->error_reason = reason;
    return -1;
}

static int count_header_bytes(struct es_http_conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->srv->o.max_header_bytes)
        return refuse(c, 431, "headers_too_large");
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct es_http_conn *c = p->data;
    struct es_http_req *r = &c->req;
    es_buf_reset(&c->head);
    es_buf_reset(&c->body);
    c->header_bytes = 16; /* the request line's method, version and CRLF */
    c->url_len = 0;
    c->in_message = true;
    c->in_headers = true;
    c->last_was_value = false;
    r->nheaders = 0;
    r->nparams = 0;
    timer_arm(c, c->srv->o.request_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct es_http_conn *c = p->data;
    size_t cap =
        c->srv->o.max_header_bytes < ES_HTTP_MAX_URL ? c->srv->o.max_header_bytes : ES_HTTP_MAX_URL;
    if (c->url_len + n > cap)
        return refuse(c, 414, "url_too_long");
    if (es_buf_append(&c->head, at, n) != 0)
        return refuse(c, 431, "headers_too_large");
    c->url_len += n;
    return count_header_bytes(c, n);
}

/* Header names and values arrive in pieces; a NUL ends each one. */
static int head_put(struct es_http_conn *c, const char *at, size_t n, bool start)
{
    if (start && es_buf_putc(&c->head, '\0') != 0)
        return refuse(c, 431, "headers_too_large");
    if (es_buf_append(&c->head, at, n) != 0)
        return refuse(c, 431, "headers_too_large");
    return count_header_bytes(c, n);
}

/* is_tchar: RFC 9110 token characters (http-parser as packaged is lenient). */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct es_http_conn *c = p->data;
    struct es_http_req *r = &c->req;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)at[i]))
            return refuse(c, 400, "invalid_header_name");
    if (!c->in_headers) /* trailers: counted, not kept */
        return count_header_bytes(c, n);
    bool start = r->nheaders == 0 || c->last_was_value;
    c->last_was_value = false;
    if (start) {
        if (r->nheaders >= ES_HTTP_MAX_HEADERS)
            return refuse(c, 431, "too_many_headers");
        /* the NUL that ends the previous string comes first */
        r->headers[r->nheaders].name = (uint32_t)c->head.len + 1;
        r->headers[r->nheaders].value = 0;
        r->nheaders++;
        if (count_header_bytes(c, 4) != 0) /* ": " and CRLF */
            return -1;
    }
    return head_put(c, at, n, start);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct es_http_conn *c = p->data;
    struct es_http_req *r = &c->req;
    if (!c->in_headers)
        return count_header_bytes(c, n);
    bool start = !c->last_was_value;
    c->last_was_value = true;
    if (start)
        r->headers[r->nheaders - 1].value = (uint32_t)c->head.len + 1;
    return head_put(c, at, n, start);
}

static int on_headers_complete(http_parser *p)
{
    struct es_http_conn *c = p->data;
    struct es_http_req *r = &c->req;
    /* End the last string; a header without a value gets an empty one. */
    if (es_buf_putc(&c->head, '\0') != 0)
        return refuse(c, 431, "headers_too_large");
    if (r->nheaders > 0 && !c->last_was_value) {
        r->headers[r->nheaders - 1].value = (uint32_t)c->head.len;
        if (es_buf_putc(&c->head, '\0') != 0)
            return refuse(c, 431, "headers_too_large");
    }
    c->in_headers = false;
    if (p->http_major != 1)
        return refuse(c, 505, "http_version_not_supported");
    /* Only chunked framing is understood; a coding we would pass on undecoded
     * is refused. */
    const char *te = es_http_header(r, "Transfer-Encoding");
    if (te && strcasecmp(te, "chunked") != 0)
        return refuse(c, 501, "unsupported_transfer_encoding");
    size_t max_body = c->srv->o.max_body_bytes;
    bool has_length = p->content_length != ULLONG_MAX && p->content_length > 0;
    if (has_length && p->content_length > max_body)
        return refuse(c, 413, "body_too_large");
    const char *expect = es_http_header(r, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return refuse(c, 417, "unsupported_expectation");
        if (p->http_major == 1 && p->http_minor >= 1 && (has_length || (p->flags & F_CHUNKED))) {
            uv_buf_t b = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
            if (conn_send(c, &b, 1) != 0)
                return refuse(c, 500, "write_failed");
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct es_http_conn *c = p->data;
    int rc = es_buf_append(&c->body, at, n);
    if (rc == ES_ELIMIT)
        return refuse(c, 413, "body_too_large");
    if (rc)
        return refuse(c, 500, "out_of_memory");
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct es_http_conn *c = p->data;
    c->in_message = false;
    http_parser_pause(p, 1);
    return 0;
}

/* dispatch hands a complete request to the handler. */
static void dispatch(struct es_http_conn *c)
{
    struct es_http_server *s = c->srv;
    struct es_http_req *r = &c->req;
    http_parser *p = &c->parser;
    timer_disarm(c);
    const char *reason = NULL;
    int st = es__http_req_finish(c, &reason);
    if (st) {
        conn_fail(c, st, reason,
                  st == 414 ? "the request target is too long"
                            : "the request target could not be decoded");
        return;
    }
    r->method = http_method_str((enum http_method)p->method);
    r->http_major = (unsigned char)p->http_major;
    r->http_minor = (unsigned char)p->http_minor;
    r->head_only = p->method == HTTP_HEAD;
    r->keep_alive = http_should_keep_alive(p) != 0;
    r->pending = true;
    r->streaming = false;
    r->chunked = false;
    r->gone = false;
    r->data = NULL;
    r->on_gone = NULL;
    c->close_after = !r->keep_alive || p->upgrade;
    c->phase = ES__HTTP_HANDLER;
    s->n.requests++;
    s->o.handler(r, s->o.ud);
}

static const char *parse_error_message(struct es_http_conn *c, int status)
{
    switch (status) {
    case 400:
        if (c->error_status == 400)
            return "a header name has characters outside the token set";
        break;
    case 413:
        return "the request body is larger than the server accepts";
    case 414:
        return "the request target is too long";
    case 417:
        return "only \"Expect: 100-continue\" is supported";
    case 431:
        return "the request headers are too large";
    case 501:
        return "only the chunked transfer coding is supported";
    case 505:
        return "only HTTP/1.0 and HTTP/1.1 are supported";
    default:
        break;
    }
    return http_errno_description(HTTP_PARSER_ERRNO(&c->parser));
}

/* parse runs the parser over data. from_stash: data is c->stash, whose parsed
 * part is dropped; otherwise what follows a complete request is stashed. */
static void parse(struct es_http_conn *c, const char *data, size_t len, bool from_stash)
{
    size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        if (n > len)
            n = len;
        if (from_stash) {
            memmove(c->stash.data, c->stash.data + n, len - n);
            c->stash.len = len - n;
        } else if (len > n && es_buf_append(&c->stash, data + n, len - n) != 0) {
            conn_fail(c, 500, "out_of_memory", "the request could not be buffered");
            return;
        }
        dispatch(c);
        return;
    }
    if (from_stash)
        c->stash.len = 0;
    if (e == HPE_OK)
        return;
    int status = c->error_status;
    const char *reason = c->error_reason;
    if (!status && e == HPE_HEADER_OVERFLOW) {
        status = 431;
        reason = "headers_too_large";
    }
    char name[48];
    if (!status) {
        /* http-parser's name for the fault: HPE_INVALID_METHOD -> invalid_method */
        const char *hpe = http_errno_name(e);
        if (strncmp(hpe, "HPE_", 4) == 0)
            hpe += 4;
        size_t i = 0;
        for (; hpe[i] && i + 1 < sizeof name; i++)
            name[i] = (char)((hpe[i] >= 'A' && hpe[i] <= 'Z') ? hpe[i] + 32 : hpe[i]);
        name[i] = '\0';
        status = 400;
        reason = name;
    }
    es_log(ES_LOG_DEBUG, "http", "%s: %d %s", c->peer, status, reason);
    conn_fail(c, status, reason, parse_error_message(c, status));
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct es_http_conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->srv->rbuf, sizeof c->srv->rbuf);
}

static void conn_read_stop(struct es_http_conn *c)
{
    if (c->reading && !c->nosock)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void on_idle(uv_idle_t *h);

static void schedule(struct es_http_conn *c)
{
    struct es_http_server *s = c->srv;
    if (c->ready)
        return;
    c->ready = true;
    c->ready_next = s->ready;
    s->ready = c;
    if (!s->idle_active && !c->nosock) {
        uv_idle_start(&s->idle, on_idle);
        s->idle_active = true;
    }
}

/* conn_input takes bytes that arrived. */
static void conn_input(struct es_http_conn *c, const char *data, size_t len)
{
    switch (c->phase) {
    case ES__HTTP_READ:
        if (c->stash.len == 0 && !c->ready) {
            parse(c, data, len, false);
            return;
        }
        /* the stash is parsed first */
        /* fall through */
    case ES__HTTP_HANDLER:
    case ES__HTTP_FLUSH:
        if (es_buf_append(&c->stash, data, len) != 0) {
            conn_fail(c, 500, "out_of_memory", "the request could not be buffered");
            return;
        }
        if (c->stash.len >= ES_HTTP_STASH_HIGH)
            conn_read_stop(c);
        return;
    case ES__HTTP_LINGER:
    case ES__HTTP_CLOSED:
        return;
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct es_http_conn *c = st->data;
    if (nread < 0) {
        /* EOF or an error: the client is gone. A last response still being
         * written is finished first (a client may half-close). */
        if (c->phase == ES__HTTP_LINGER && nread == UV_EOF && (c->writes > 0 || !c->shut)) {
            c->eof = true;
            conn_read_stop(c);
            return;
        }
        conn_close(c, true);
        return;
    }
    conn_input(c, buf->base, (size_t)nread);
}

static void conn_read_start(struct es_http_conn *c)
{
    if (c->reading || c->nosock || c->phase == ES__HTTP_CLOSED)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_close(c, true);
        return;
    }
    c->reading = true;
}

/* resume parses a connection's stash, from the idle callback (never inside a
 * handler's call, so pipelined requests do not nest). */
static void resume(struct es_http_conn *c)
{
    if (c->phase != ES__HTTP_READ)
        return;
    if (c->stash.len > 0)
        parse(c, c->stash.data, c->stash.len, true);
    if (c->phase == ES__HTTP_READ && !c->in_message && !c->ready)
        timer_arm(c, c->srv->o.idle_timeout_ms);
    if ((c->phase == ES__HTTP_READ || c->phase == ES__HTTP_HANDLER || c->phase == ES__HTTP_FLUSH) &&
        c->stash.len < ES_HTTP_STASH_HIGH)
        conn_read_start(c);
}

static void run_ready(struct es_http_server *s)
{
    while (s->ready) {
        struct es_http_conn *c = s->ready;
        s->ready = c->ready_next;
        c->ready = false;
        c->ready_next = NULL;
        resume(c);
    }
}

static void on_idle(uv_idle_t *h)
{
    struct es_http_server *s = h->data;
    run_ready(s);
    if (!s->ready && s->idle_active) {
        uv_idle_stop(&s->idle);
        s->idle_active = false;
    }
}

/* conn_next: the response is written; on to the next request. */
static void conn_next(struct es_http_conn *c)
{
    struct es_http_req *r = &c->req;
    c->phase = ES__HTTP_READ;
    c->error_status = 0;
    c->error_reason = NULL;
    r->method = NULL;
    r->path = NULL;
    r->nheaders = 0;
    r->nparams = 0;
    /* A large body's memory is not kept for an idle connection. */
    if (c->body.alloc > 256 * 1024)
        es_buf_cleanup(&c->body);
    http_parser_pause(&c->parser, 0);
    if (c->stash.len > 0) {
        timer_disarm(c);
        schedule(c);
    } else {
        timer_arm(c, c->srv->o.idle_timeout_ms);
        conn_read_start(c);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct es_http_conn *c = t->data;
    switch (c->phase) {
    case ES__HTTP_READ:
        if (c->in_message) {
            es_log(ES_LOG_DEBUG, "http", "%s: request not complete in time", c->peer);
            conn_fail(c, 408, "request_timeout", "the request did not arrive in time");
        } else {
            conn_close(c, true);
        }
        return;
    case ES__HTTP_FLUSH:
    case ES__HTTP_LINGER:
        conn_close(c, true);
        return;
    case ES__HTTP_HANDLER:
    case ES__HTTP_CLOSED:
        return;
    }
}

/* ---- accepting ---- */

struct refused {
    uv_tcp_t tcp;
    struct es_http_server *s;
};

static void on_refused_close(uv_handle_t *h)
{
    struct refused *f = h->data;
    struct es_http_server *s = f->s;
    es_free(f);
    server_unref(s);
}

/* refuse_connection: over max_connections; a short 503 if the socket takes
 * it, then close. */
static void refuse_connection(struct es_http_server *s)
{
    struct refused *f = es_malloc(sizeof *f);
    if (!f)
        return;
    f->s = s;
    uv_tcp_init(s->loop, &f->tcp);
    f->tcp.data = f;
    s->refs++;
    if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&f->tcp) == 0) {
        static const char body[] = "{\"error\":\"service_unavailable\",\"reason\":"
                                   "\"too_many_connections\",\"message\":\"the server is full\"}";
        char msg[512];
        int n = snprintf(msg, sizeof msg,
                         "HTTP/1.1 503 Service Unavailable\r\nDate: %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\nRetry-After: 1\r\n\r\n%s",
                         date_now(s), sizeof body - 1, body);
        uv_buf_t b = uv_buf_init(msg, (unsigned)n);
        uv_try_write((uv_stream_t *)&f->tcp, &b, 1);
    }
    uv_close((uv_handle_t *)&f->tcp, on_refused_close);
}

static void format_peer(struct es_http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            port = ntohs(a->sin6_port);
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
            return;
        }
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct es_http_server *s = listener->data;
    if (status < 0 || s->stopping)
        return;
    if (s->nopen >= s->o.max_connections) {
        refuse_connection(s);
        return;
    }
    struct es_http_conn *c = conn_new(s);
    if (!c) {
        refuse_connection(s);
        return;
    }
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nopen++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, false);
        return;
    }
    s->n.connections_total++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60); /* a vanished stream client is noticed */
    format_peer(c);
    timer_arm(c, s->o.idle_timeout_ms);
    conn_read_start(c);
}

/* ---- starting and stopping ---- */

static struct es_http_server *server_new(const struct es_http_opts *o)
{
    struct es_http_server *s = es_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->o = *o;
    snprintf(s->host, sizeof s->host, "%s", o->host ? o->host : "127.0.0.1");
    s->o.host = s->host;
    if (!s->o.max_header_bytes)
        s->o.max_header_bytes = 16 * 1024;
    if (!s->o.max_body_bytes)
        s->o.max_body_bytes = 1024 * 1024;
    if (!s->o.max_connections)
        s->o.max_connections = 10000;
    if (s->o.idle_timeout_ms <= 0)
        s->o.idle_timeout_ms = 30000;
    if (s->o.request_timeout_ms <= 0)
        s->o.request_timeout_ms = 10000;
    if (!s->o.max_stream_buffer)
        s->o.max_stream_buffer = 1024 * 1024;
    /* http-parser's own cap is process-wide: keep it above every server's. */
    static uint32_t parser_cap = 80 * 1024;
    if (s->o.max_header_bytes + 1024 > parser_cap) {
        parser_cap = (uint32_t)(s->o.max_header_bytes + 1024);
        http_parser_set_max_header_size(parser_cap);
    }
    return s;
}

/* listening_port: the port the kernel gave (the one asked for if it cannot tell). */
static int listening_port(const uv_tcp_t *listener, int asked)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
        struct sockaddr_storage any;
    } name;
    int len = (int)sizeof name;
    if (uv_tcp_getsockname(listener, &name.sa, &len) != 0)
        return asked;
    switch (name.sa.sa_family) {
    case AF_INET:
        return ntohs(name.v4.sin_port);
    case AF_INET6:
        return ntohs(name.v6.sin6_port);
    default:
        return asked;
    }
}

int es_http_start(uv_loop_t *loop, const struct es_http_opts *o, struct es_http_server **out,
                  struct es_diag *d)
{
    *out = NULL;
    if (!o || !o->handler || o->port < 0 || o->port > 65535) {
        es_diag_set(d, "http", 0, 0, "no handler or a bad port");
        return ES_EINVAL;
    }
    struct es_http_server *s = server_new(o);
    if (!s)
        return ES_ENOMEM;
    s->loop = loop;
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof addr);
    bool v6 = strchr(s->host, ':') != NULL;
    int bad =
        v6 ? uv_ip6_addr(s->host, o->port, &addr.v6) : uv_ip4_addr(s->host, o->port, &addr.v4);
    if (bad) {
        es_diag_set(d, "http", 0, 0, "listen address %s: not an IP address", s->host);
        server_free(s);
        return ES_EIO;
    }
    uv_tcp_init(loop, &s->listener);
    uv_idle_init(loop, &s->idle);
    s->listener.data = s->idle.data = s;
    s->refs = 2;
    int rc = uv_tcp_bind(&s->listener, &addr.sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
    if (rc != 0) {
        es_diag_set(d, "http", 0, 0, "listen on %s:%d: %s", s->host, o->port, uv_strerror(rc));
        /* The handles are released by the loop's next turn. */
        s->stopping = true;
        uv_close((uv_handle_t *)&s->listener, on_server_handle_close);
        uv_close((uv_handle_t *)&s->idle, on_server_handle_close);
        return ES_EIO;
    }
    s->port = listening_port(&s->listener, o->port);
    *out = s;
    return 0;
}

int es_http_port(const struct es_http_server *s)
{
    return s->port;
}

void es_http_stop(struct es_http_server *s)
{
    if (!s || s->stopping)
        return;
    s->stopping = true;
    s->refs++; /* conn_close below may drop the last connection */
    uv_close((uv_handle_t *)&s->listener, on_server_handle_close);
    uv_close((uv_handle_t *)&s->idle, on_server_handle_close);
    while (s->conns)
        conn_close(s->conns, true);
    server_unref(s);
}

void es_http_counters(const struct es_http_server *s, struct es_http_counters *out)
{
    *out = s->n;
    out->connections_open = s->nopen;
}

/* ---- without a socket: the fuzzer's and the unit tests' entry ---- */

int es__http_replay(const struct es_http_opts *o, const void *data, size_t len, size_t piece,
                    struct es_buf *out)
{
    if (!o || !o->handler)
        return ES_EINVAL;
    struct es_http_server *s = server_new(o);
    if (!s)
        return ES_ENOMEM;
    struct es_http_conn *c = conn_new(s);
    if (!c) {
        server_free(s);
        return ES_ENOMEM;
    }
    c->nosock = true;
    c->handles = 1; /* held until the end, like a socket's handle */
    c->sink = out;
    snprintf(c->peer, sizeof c->peer, "replay:0");
    c->next = s->conns;
    s->conns = c;
    s->nopen++;
    const char *p = data;
    if (piece == 0)
        piece = len ? len : 1;
    for (size_t at = 0; at < len && c->phase != ES__HTTP_CLOSED; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        conn_input(c, p + at, n);
        run_ready(s);
    }
    run_ready(s);
    int requests = (int)s->n.requests;
    s->stopping = true;
    s->refs++;
    conn_close(c, true);
    c->handles = 0;
    conn_free_if_done(c);
    server_unref(s);
    return requests;
}
