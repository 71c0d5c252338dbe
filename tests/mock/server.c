/*
 * The HTTP/1.1 side of the mock: a libuv TCP listener, http-parser per
 * connection, keep-alive, size caps, and the wire-level faults.
 *
 * A connection:
 *
 *   accept --> reading --(request)--> dispatch --> write --> reading ...
 *                 |                       |
 *                 |             fault stall/slow/truncated/reset,
 *                 |             error (400/413/431), "Connection: close"
 *                 v                       v
 *               EOF  ---------------> draining: input is ignored; after the
 *                 |                   last write, shutdown (FIN) and wait for
 *                 v                   the client's EOF (2 s at most)
 *               close tcp + timer; the struct is freed when both close
 *               callbacks ran
 *
 * Requests are handled in read order on one loop, so responses of
 * pipelined requests go out in order. The read buffer is one static block:
 * every read is parsed before the callback returns.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "earshot/alloc.h"
#include "earshot/log.h"
#include "mock.h"

#define MAX_HEADER_BYTES (16 * 1024)
#define MAX_BODY_BYTES (1024 * 1024)
#define LINGER_MS 2000

struct mock_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    http_parser parser;
    struct mock *m;
    struct mock_conn *prev, *next;
    struct es_buf url, hname, hval, body, idem, inm, ims;
    int last_was_value;
    int error_status; /* 413, 414, 431 found by a callback */
    int draining;     /* the connection is ending: input is ignored */
    int closing;
    int handles_open;
    int pending_writes;
    int close_after_write;
    int shut;
    char *slow_data; /* slow fault: what is left to send */
    size_t slow_len, slow_off, slow_chunk;
};

struct wreq {
    uv_write_t req;
    struct mock_conn *c;
    size_t len;
    char data[];
};

static http_parser_settings settings;
static char read_block[64 * 1024];

int64_t mock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mock_resp_init(struct mock_resp *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->status = 200;
    rs->content_type = "application/json; charset=utf-8";
    es_buf_init(&rs->body, 64u << 20);
    es_buf_init(&rs->headers, 16 * 1024);
}

void mock_resp_cleanup(struct mock_resp *rs)
{
    es_buf_cleanup(&rs->body);
    es_buf_cleanup(&rs->headers);
}

/* ---- closing ---- */

static void on_handle_close(uv_handle_t *h)
{
    struct mock_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    es_buf_cleanup(&c->url);
    es_buf_cleanup(&c->hname);
    es_buf_cleanup(&c->hval);
    es_buf_cleanup(&c->body);
    es_buf_cleanup(&c->idem);
    es_buf_cleanup(&c->inm);
    es_buf_cleanup(&c->ims);
    es_free(c->slow_data);
    es_free(c);
}

static void conn_unlink(struct mock_conn *c)
{
    struct mock *m = c->m;
    if (c->prev)
        c->prev->next = c->next;
    else
        m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    m->nconns--;
}

static void conn_close(struct mock_conn *c, int reset)
{
    if (c->closing)
        return;
    c->closing = 1;
    conn_unlink(c);
    uv_close((uv_handle_t *)&c->timer, on_handle_close);
    if (!reset || uv_tcp_close_reset(&c->tcp, on_handle_close) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_handle_close);
}

static void on_linger_timeout(uv_timer_t *t)
{
    conn_close(t->data, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct mock_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, 0);
        return;
    }
    /* Wait for the client's EOF so unread input cannot turn our close into
     * a reset that loses the response. */
    uv_timer_stop(&c->timer);
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
}

static void conn_finish(struct mock_conn *c)
{
    c->draining = 1;
    c->close_after_write = 1;
    if (c->pending_writes > 0 || c->shut || c->closing)
        return;
    c->shut = 1;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c, 0);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct mock_conn *c = w->c;
    es_free(w);
    c->pending_writes--;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, 0);
        return;
    }
    if (c->close_after_write && c->pending_writes == 0 && !c->slow_data)
        conn_finish(c);
}

static int conn_write2(struct mock_conn *c, const char *a, size_t al, const char *b, size_t bl)
{
    if (c->closing)
        return -1;
    struct wreq *w = es_malloc(sizeof *w + al + bl);
    if (!w) {
        conn_close(c, 0);
        return -1;
    }
    w->c = c;
    w->len = al + bl;
    if (al)
        memcpy(w->data, a, al);
    if (bl)
        memcpy(w->data + al, b, bl);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
        es_free(w);
        conn_close(c, 0);
        return -1;
    }
    c->pending_writes++;
    return 0;
}

static const char *status_text(int s)
{
    switch (s) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

static const char *date_header(struct mock *m)
{
    int64_t now = mock_now_ms() / 1000;
    if (now != m->date_sec) {
        m->date_sec = now;
        mock_fmt_http(now, m->date_hdr);
    }
    return m->date_hdr;
}

static size_t head_fmt(struct mock_conn *c, const struct mock_resp *rs, size_t content_length,
                       int close, char *out, size_t n)
{
    int k = snprintf(out, n,
                     "HTTP/1.1 %d %s\r\nServer: es-mock-platform\r\nDate: %s\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                     rs->status, status_text(rs->status), date_header(c->m), rs->content_type,
                     content_length, rs->headers.len ? rs->headers.data : "",
                     close ? "Connection: close\r\n" : "");
    return k < 0 ? 0 : (size_t)k >= n ? n - 1 : (size_t)k;
}

static void send_resp(struct mock_conn *c, const struct mock_resp *rs, int close)
{
    char head[20 * 1024];
    size_t blen = rs->status == 304 ? 0 : rs->body.len;
    size_t hl = head_fmt(c, rs, blen, close, head, sizeof head);
    conn_write2(c, head, hl, rs->body.data, blen);
    if (close)
        conn_finish(c);
}

static void send_error(struct mock_conn *c, int status, const char *reason)
{
    struct mock_resp rs;
    mock_resp_init(&rs);
    rs.status = status;
    es_buf_printf(&rs.body, "{\"error\":\"%s\",\"status\":%d}", reason, status);
    c->m->stats.bad_requests++;
    send_resp(c, &rs, 1);
    mock_resp_cleanup(&rs);
}

static void on_slow_tick(uv_timer_t *t)
{
    struct mock_conn *c = t->data;
    size_t n = c->slow_len - c->slow_off;
    if (n > c->slow_chunk)
        n = c->slow_chunk;
    if (conn_write2(c, c->slow_data + c->slow_off, n, NULL, 0) != 0)
        return;
    c->slow_off += n;
    if (c->slow_off >= c->slow_len) {
        uv_timer_stop(t);
        es_free(c->slow_data);
        c->slow_data = NULL;
        conn_finish(c);
    }
}

/* ---- parsing ---- */

static void req_reset(struct mock_conn *c)
{
    es_buf_reset(&c->url);
    es_buf_reset(&c->hname);
    es_buf_reset(&c->hval);
    es_buf_reset(&c->body);
    es_buf_reset(&c->idem);
    es_buf_reset(&c->inm);
    es_buf_reset(&c->ims);
    c->last_was_value = 0;
}

static int on_message_begin(http_parser *p)
{
    req_reset(p->data);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;
    if (es_buf_append(&c->url, at, n) != 0) {
        c->error_status = 414;
        return -1;
    }
    return 0;
}

static int name_is(const struct es_buf *b, const char *name)
{
    return b->len == strlen(name) && strncasecmp(b->data, name, b->len) == 0;
}

static void header_done(struct mock_conn *c)
{
    struct es_buf *dst = NULL;
    if (name_is(&c->hname, "idempotency-key"))
        dst = &c->idem;
    else if (name_is(&c->hname, "if-none-match"))
        dst = &c->inm;
    else if (name_is(&c->hname, "if-modified-since"))
        dst = &c->ims;
    if (dst) {
        es_buf_reset(dst);
        es_buf_append(dst, c->hval.data ? c->hval.data : "", c->hval.len);
    }
    es_buf_reset(&c->hname);
    es_buf_reset(&c->hval);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;
    if (c->last_was_value)
        header_done(c);
    c->last_was_value = 0;
    if (es_buf_append(&c->hname, at, n) != 0) {
        c->error_status = 431;
        return -1;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;
    c->last_was_value = 1;
    if (es_buf_append(&c->hval, at, n) != 0) {
        c->error_status = 431;
        return -1;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct mock_conn *c = p->data;
    if (c->last_was_value)
        header_done(c);
    c->last_was_value = 0;
    if (p->content_length != ULLONG_MAX && p->content_length > MAX_BODY_BYTES) {
        c->error_status = 413;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;
    if (es_buf_append(&c->body, at, n) != 0) {
        c->error_status = 413;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct mock_conn *c = p->data;
    struct mock *m = c->m;
    char empty[1] = "";
    char *url = c->url.data ? c->url.data : empty;
    char *q = strchr(url, '?');
    if (q)
        *q++ = '\0';
    char *hash = q ? strchr(q, '#') : NULL;
    if (hash)
        *hash = '\0';
    struct mock_req rq = {
        .method = p->method,
        .path = url,
        .query = q ? q : empty,
        .body = c->body.data ? c->body.data : "",
        .body_len = c->body.len,
        .idem_key = c->idem.len ? c->idem.data : NULL,
        .if_none_match = c->inm.len ? c->inm.data : NULL,
        .if_modified_since = c->ims.len ? c->ims.data : NULL,
        .now_ms = mock_now_ms(),
    };
    int keep_alive = http_should_keep_alive(p);
    struct mock_resp rs;
    mock_resp_init(&rs);
    long retry_after_s = 0, chunk = 0;
    int fault = mock_dispatch(m, &rq, &rs, &retry_after_s, &chunk);
    int close = !keep_alive || rs.close || m->stopping;
    switch (fault) {
    case MOCK_FAULT_STALL:
        /* Say nothing; the client gives up and closes, or shutdown does. */
        c->draining = 1;
        break;
    case MOCK_FAULT_RESET:
        c->draining = 1;
        conn_close(c, 1);
        break;
    case MOCK_FAULT_TRUNCATED: {
        char head[20 * 1024];
        size_t hl = head_fmt(c, &rs, rs.body.len, 1, head, sizeof head);
        conn_write2(c, head, hl, rs.body.data, rs.body.len / 2);
        conn_finish(c);
        break;
    }
    case MOCK_FAULT_SLOW: {
        char head[20 * 1024];
        size_t hl = head_fmt(c, &rs, rs.body.len, 1, head, sizeof head);
        c->draining = 1;
        c->close_after_write = 1;
        if (conn_write2(c, head, hl, NULL, 0) != 0)
            break;
        c->slow_data = rs.body.data; /* take the body */
        c->slow_len = rs.body.len;
        c->slow_off = 0;
        c->slow_chunk = chunk > 0 ? (size_t)chunk : 64;
        rs.body.data = NULL;
        rs.body.len = rs.body.alloc = 0;
        if (c->slow_len == 0) {
            es_free(c->slow_data);
            c->slow_data = NULL;
            conn_finish(c);
        } else {
            uv_timer_start(&c->timer, on_slow_tick, 100, 100);
        }
        break;
    }
    default:
        send_resp(c, &rs, close);
        break;
    }
    mock_resp_cleanup(&rs);
    req_reset(c);
    if (c->draining || c->closing)
        http_parser_pause(p, 1);
    return 0;
}

/* ---- reading and accepting ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_block, sizeof read_block);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct mock_conn *c = s->data;
    if (nread < 0) {
        conn_close(c, 0);
        return;
    }
    if (nread == 0 || c->draining || c->closing)
        return;
    http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
    if (c->draining || c->closing)
        return;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_OK)
        return;
    if (c->error_status == 413)
        send_error(c, 413, "body_too_large");
    else if (c->error_status == 414)
        send_error(c, 414, "uri_too_long");
    else if (c->error_status == 431 || e == HPE_HEADER_OVERFLOW)
        send_error(c, 431, "headers_too_large");
    else
        send_error(c, 400, http_errno_name(e));
}

static void on_connection(uv_stream_t *server, int status)
{
    struct mock *m = server->data;
    if (status < 0 || m->stopping)
        return;
    struct mock_conn *c = es_calloc(1, sizeof *c);
    if (!c)
        return;
    c->m = m;
    uv_tcp_init(m->loop, &c->tcp);
    uv_timer_init(m->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    es_buf_init(&c->url, MAX_HEADER_BYTES);
    es_buf_init(&c->hname, 1024);
    es_buf_init(&c->hval, MAX_HEADER_BYTES);
    es_buf_init(&c->body, MAX_BODY_BYTES);
    es_buf_init(&c->idem, 1024);
    es_buf_init(&c->inm, 1024);
    es_buf_init(&c->ims, 256);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = m->conns;
    if (m->conns)
        m->conns->prev = c;
    m->conns = c;
    m->nconns++;
    m->stats.conns_total++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, 0);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c, 0);
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        static const unsigned char lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return memcmp(&in6->sin6_addr, lo, 16) == 0;
    }
    return 0;
}

int mock_server_start(struct mock *m)
{
    struct sockaddr_storage ss;
    const char *host = strcmp(m->host, "localhost") == 0 ? "127.0.0.1" : m->host;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(host, m->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, m->port, (struct sockaddr_in6 *)&ss) != 0) {
        es_log(ES_LOG_ERROR, "mock", "--host %s: not an IP address", m->host);
        return -2;
    }
    if (!is_loopback((struct sockaddr *)&ss)) {
        es_log(ES_LOG_ERROR, "mock", "--host %s: refusing a non-loopback address", m->host);
        return -2;
    }
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    http_parser_set_max_header_size(MAX_HEADER_BYTES);
    uv_tcp_init(m->loop, &m->listener);
    m->listener.data = m;
    int rc = uv_tcp_bind(&m->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&m->listener, 4096, on_connection);
    if (rc != 0) {
        es_log(ES_LOG_ERROR, "mock", "listen on %s:%d: %s", m->host, m->port, uv_strerror(rc));
        return -1;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&m->listener, (struct sockaddr *)&bound, &len);
    m->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

void mock_server_stop(struct mock *m)
{
    if (m->listener.loop && !uv_is_closing((uv_handle_t *)&m->listener))
        uv_close((uv_handle_t *)&m->listener, NULL);
    while (m->conns)
        conn_close(m->conns, 0);
}
