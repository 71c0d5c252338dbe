/*
 * test_http_server: the HTTP/1.1 server on a real loop (run in a thread) with
 * raw-socket clients on 127.0.0.1: requests and bodies, decoding, keep-alive,
 * pipelining, HEAD, chunked bodies, limits with JSON errors, the request
 * deadline, idle timeout, max_connections, deferred answers, clients that
 * leave, streams and slow stream clients, and a stop with everything open
 * (the loop must end and uv_loop_close() return 0; ASan checks leaks). Parser
 * details are also driven without sockets through es__http_replay.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <uv.h>

#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/http.h"
#include "harness.h"
#include "http/http_int.h"

/* ---- what handlers saw (written on the loop thread) ---- */

static struct {
    atomic_int gone_calls;   /* on_gone callbacks */
    atomic_int gone_seen;    /* deferred answers that found the client gone */
    atomic_int elimit;       /* stream writes refused with ES_ELIMIT */
    atomic_int stream_ended; /* streams ended by their owner */
    atomic_int answered;     /* deferred answers given */
} g;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* wait_for: poll an atomic until it reaches want (bounded). */
static int wait_for(atomic_int *v, int want, int ms)
{
    int64_t end = now_ms() + ms;
    while (atomic_load(v) < want && now_ms() < end)
        sleep_ms(5);
    return atomic_load(v) >= want;
}

/* ---- handlers ---- */

struct later {
    uv_timer_t t;
    struct es_http_req *r;
    int chunks; /* flood: writes per tick */
};

static void later_closed(uv_handle_t *h)
{
    es_free(h->data);
}

static void on_later(uv_timer_t *t)
{
    struct later *l = t->data;
    if (es_http_gone(l->r))
        atomic_fetch_add(&g.gone_seen, 1);
    const char *id = es_http_query(l->r, "id");
    char body[64];
    int n = snprintf(body, sizeof body, "later %s", id ? id : "-");
    es_http_respond(l->r, 200, "text/plain", NULL, body, (size_t)n);
    atomic_fetch_add(&g.answered, 1);
    uv_close((uv_handle_t *)t, later_closed);
}

static void hold_gone(struct es_http_req *r, void *ud)
{
    (void)ud;
    atomic_fetch_add(&g.gone_calls, 1);
    /* Answering a request whose client left sends nothing; it frees it. */
    if (es_http_respond(r, 200, "text/plain", NULL, "x", 1) != 0)
        abort();
}

static void sse_gone(struct es_http_req *r, void *ud)
{
    (void)ud;
    atomic_fetch_add(&g.gone_calls, 1);
    if (es_http_stream_write(r, "x", 1) != ES_ECANCELED)
        abort();
    es_http_stream_end(r);
    atomic_fetch_add(&g.stream_ended, 1);
}

static void on_flood(uv_timer_t *t)
{
    struct later *l = t->data;
    static char chunk[16 * 1024];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < l->chunks; i++) {
        int rc = es_http_stream_write(l->r, chunk, sizeof chunk);
        if (rc == 0)
            continue;
        if (rc == ES_ELIMIT)
            atomic_fetch_add(&g.elimit, 1);
        es_http_stream_end(l->r);
        atomic_fetch_add(&g.stream_ended, 1);
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, later_closed);
        return;
    }
}

static const struct es_http_asset test_asset = {
    "/a.txt",
    "text/plain",
    (const unsigned char *)"hello hello hello",
    17,
    (const unsigned char *)"GZ",
    2,
    "\"abc123\"",
};

static struct es_http_server *the_server; /* for /counters (loop thread only) */

static void handler(struct es_http_req *r, void *ud)
{
    (void)ud;
    const char *path = es_http_path(r);
    uv_loop_t *loop = ((struct es_http_server *)the_server)->loop;
    if (strcmp(path, "/echo") == 0) {
        size_t len;
        const char *body = es_http_body(r, &len);
        const char *a = es_http_query(r, "a"), *id = es_http_query(r, "id");
        json_t *j = json_pack("{s:s,s:s,s:s?,s:s?,s:s%,s:s}", "method", es_http_method(r), "path",
                              path, "a", a, "id", id, "body", body, len, "peer", es_http_peer(r));
        es_http_respond_json(r, 200, j);
    } else if (strcmp(path, "/q") == 0) {
        const char *v = es_http_query(r, es_http_query(r, "k") ? es_http_query(r, "k") : "name");
        es_http_respond(r, 200, "text/plain", NULL, v ? v : "(null)", strlen(v ? v : "(null)"));
    } else if (strcmp(path, "/hdr") == 0) {
        const char *v = es_http_header(r, es_http_query(r, "name"));
        es_http_respond(r, 200, "text/plain", "X-Extra: 1\r\n", v ? v : "(null)",
                        strlen(v ? v : "(null)"));
    } else if (strcmp(path, "/later") == 0 || strcmp(path, "/flood") == 0) {
        struct later *l = es_calloc(1, sizeof *l);
        l->r = r;
        l->t.data = l;
        uv_timer_init(loop, &l->t);
        const char *ms = es_http_query(r, "ms");
        if (path[1] == 'l') {
            uv_timer_start(&l->t, on_later, ms ? (uint64_t)atoi(ms) : 0, 0);
        } else {
            l->chunks = 64;
            es_http_stream_begin(r, 200, "application/octet-stream", NULL);
            uv_timer_start(&l->t, on_flood, 1, 1);
        }
    } else if (strcmp(path, "/hold") == 0) {
        es_http_on_gone(r, hold_gone, NULL);
    } else if (strcmp(path, "/stream") == 0) {
        const char *n = es_http_query(r, "n");
        es_http_stream_begin(r, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
        for (int i = 0; i < (n ? atoi(n) : 0); i++) {
            char ev[32];
            int k = snprintf(ev, sizeof ev, "event %d\n", i);
            es_http_stream_write(r, ev, (size_t)k);
        }
        es_http_stream_end(r);
    } else if (strcmp(path, "/sse") == 0) {
        es_http_stream_begin(r, 200, "text/event-stream", NULL);
        es_http_stream_write(r, ": hi\n\n", 6);
        es_http_on_gone(r, sse_gone, NULL);
    } else if (strcmp(path, "/counters") == 0) {
        struct es_http_counters n;
        es_http_counters(the_server, &n);
        es_http_respond_json(
            r, 200,
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "connections_total",
                      (json_int_t)n.connections_total, "connections_open",
                      (json_int_t)n.connections_open, "requests", (json_int_t)n.requests,
                      "responses_4xx", (json_int_t)n.responses_4xx, "responses_5xx",
                      (json_int_t)n.responses_5xx, "streams_open", (json_int_t)n.streams_open,
                      "bytes_out", (json_int_t)n.bytes_out));
    } else if (strcmp(path, "/a.txt") == 0) {
        es_http_respond_asset(r, &test_asset);
    } else if (strcmp(path, "/conflict") == 0) {
        es_http_error(r, 409, "claimed_by_other", "held by \"bob\"");
    } else if (strcmp(path, "/boom") == 0) {
        es_http_error(r, 503, NULL, NULL);
    } else {
        es_http_error(r, 404, "no_route", path);
    }
}

/* ---- the loop in a thread ---- */

struct fx {
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    struct es_http_server *srv;
    struct es_http_counters final;
    atomic_int done;
    int port;
};

static void fx_run(void *arg)
{
    struct fx *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    atomic_store(&f->done, 1);
}

static void on_stop(uv_async_t *a)
{
    struct fx *f = a->data;
    es_http_counters(f->srv, &f->final);
    es_http_stop(f->srv);
    uv_close((uv_handle_t *)a, NULL);
}

static int fx_start(struct fx *f, struct es_http_opts o)
{
    memset(f, 0, sizeof *f);
    memset(&g, 0, sizeof g);
    if (uv_loop_init(&f->loop) != 0)
        return -1;
    o.handler = handler;
    struct es_diag d = {0};
    if (es_http_start(&f->loop, &o, &f->srv, &d) != 0) {
        printf("  es_http_start: %s\n", d.msg);
        return -1;
    }
    the_server = f->srv;
    es_http_set_default_headers(f->srv, "X-Content-Type-Options: nosniff");
    f->port = es_http_port(f->srv);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    return uv_thread_create(&f->thread, fx_run, f);
}

/* fx_stop stops the server on its loop, waits (bounded) for the loop to run
 * dry and returns uv_loop_close()'s result. */
static int fx_stop(struct fx *f)
{
    uv_async_send(&f->stop);
    int64_t end = now_ms() + 10000;
    while (!atomic_load(&f->done) && now_ms() < end)
        sleep_ms(5);
    if (!atomic_load(&f->done)) {
        printf("  the loop did not end after es_http_stop\n");
        fflush(stdout);
        _exit(1);
    }
    uv_thread_join(&f->thread);
    return uv_loop_close(&f->loop);
}

/* ---- a raw client ---- */

struct resp {
    int status;
    char head[8192];
    size_t hlen;
    struct es_buf body;
    bool done, head_only, in_value;
};

struct cli {
    int fd;
    char buf[1 << 16];
    size_t len;
};

static int cli_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void cli_init(struct cli *c, int port)
{
    c->fd = cli_open(port);
    c->len = 0;
}

static int send_str(int fd, const char *s)
{
    size_t n = strlen(s), at = 0;
    while (at < n) {
        ssize_t k = send(fd, s + at, n - at, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        at += (size_t)k;
    }
    return 0;
}

static int r_header_line(http_parser *p, const char *at, size_t n, bool value)
{
    struct resp *r = p->data;
    if (value != r->in_value || (!value && r->hlen == 0)) {
        const char *sep = value ? ": " : "\n";
        if (r->hlen + 2 < sizeof r->head) {
            memcpy(r->head + r->hlen, sep, strlen(sep));
            r->hlen += strlen(sep);
        }
    }
    r->in_value = value;
    if (r->hlen + n + 2 < sizeof r->head) {
        memcpy(r->head + r->hlen, at, n);
        r->hlen += n;
    }
    r->head[r->hlen] = '\0';
    return 0;
}

static int r_field(http_parser *p, const char *at, size_t n)
{
    return r_header_line(p, at, n, false);
}

static int r_value(http_parser *p, const char *at, size_t n)
{
    return r_header_line(p, at, n, true);
}

static int r_headers_done(http_parser *p)
{
    struct resp *r = p->data;
    r->status = p->status_code;
    if (r->hlen + 2 < sizeof r->head)
        r->head[r->hlen++] = '\n';
    r->head[r->hlen] = '\0';
    return r->head_only ? 1 : 0;
}

static int r_body(http_parser *p, const char *at, size_t n)
{
    struct resp *r = p->data;
    return es_buf_append(&r->body, at, n) == 0 ? 0 : -1;
}

static int r_done(http_parser *p)
{
    struct resp *r = p->data;
    r->done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings resp_settings = {
    .on_header_field = r_field,
    .on_header_value = r_value,
    .on_headers_complete = r_headers_done,
    .on_body = r_body,
    .on_message_complete = r_done,
};

static const char *body_of(const struct resp *r)
{
    return r->body.data ? r->body.data : "";
}

static void resp_free(struct resp *r)
{
    es_buf_cleanup(&r->body);
}

/* cli_read reads one response (leftover bytes stay for the next). 0 or -1. */
static int cli_read(struct cli *c, struct resp *r, bool head_only)
{
    memset(r, 0, sizeof *r);
    es_buf_init(&r->body, 64u << 20);
    r->head_only = head_only;
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = r;
    for (;;) {
        if (c->len > 0) {
            size_t n = http_parser_execute(&p, &resp_settings, c->buf, c->len);
            if (HTTP_PARSER_ERRNO(&p) != HPE_OK && HTTP_PARSER_ERRNO(&p) != HPE_PAUSED)
                return -1;
            memmove(c->buf, c->buf + n, c->len - n);
            c->len -= n;
            if (r->done)
                return 0;
        }
        ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (k <= 0) {
            http_parser_execute(&p, &resp_settings, NULL, 0); /* EOF ends a close-delimited body */
            return r->done ? 0 : -1;
        }
        c->len += (size_t)k;
    }
}

/* header: a response header's value (case-insensitive name) copied into out. */
static const char *header(const struct resp *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    const char *p = r->head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 2, *e = strchr(v, '\n');
            size_t len = e ? (size_t)(e - v) : strlen(v);
            if (len >= n)
                len = n - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

/* closed_within: the server closes the connection (EOF or reset) in time. */
static int closed_within(int fd, int ms)
{
    int64_t end = now_ms() + ms;
    char b[4096];
    while (now_ms() < end) {
        ssize_t k = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return 1;
        if (k < 0)
            sleep_ms(5);
    }
    return 0;
}

static int request(struct cli *c, const char *raw, struct resp *r)
{
    if (send_str(c->fd, raw) != 0)
        return -1;
    return cli_read(c, r, strncmp(raw, "HEAD ", 5) == 0);
}

static struct es_http_opts defaults(void)
{
    struct es_http_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

/* with_server runs body against a fresh server, always stops it (the loop must
 * end and uv_loop_close() return 0), then runs after (final counters). */
static void with_server(struct es_http_opts o, void (*body)(struct fx *f),
                        void (*after)(struct fx *f))
{
    static struct fx f;
    if (fx_start(&f, o) != 0)
        ES_FAILF("the server did not start");
    body(&f);
    int failed = es_t_cur_failed;
    int rc = fx_stop(&f);
    es_t_cur_failed = failed;
    ES_ASSERT_EQ(rc, 0);
    if (after && !failed)
        after(&f);
}

/* ---- tests ---- */

static void get_and_post_with_body_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    ES_ASSERT(c.fd >= 0);
    struct resp r;
    char v[256];
    ES_ASSERT_EQ(request(&c, "GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_STR(header(&r, "Content-Type", v, sizeof v), "application/json");
    ES_ASSERT_STR(header(&r, "Connection", v, sizeof v), "keep-alive");
    ES_ASSERT_STR(header(&r, "X-Content-Type-Options", v, sizeof v), "nosniff");
    ES_ASSERT(header(&r, "Date", v, sizeof v) && strstr(v, " GMT"));
    ES_ASSERT(strstr(body_of(&r), "\"method\":\"GET\""));
    ES_ASSERT(strstr(body_of(&r), "\"a\":\"1\""));
    ES_ASSERT(strstr(body_of(&r), "\"peer\":\"127.0.0.1:"));
    ES_ASSERT_EQ(atoi(header(&r, "Content-Length", v, sizeof v)), r.body.len);
    resp_free(&r);
    ES_ASSERT_EQ(
        request(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world", &r),
        0);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(strstr(body_of(&r), "\"body\":\"hello world\""));
    ES_ASSERT(strstr(body_of(&r), "\"method\":\"POST\""));
    resp_free(&r);
    /* An unknown route: the handler's JSON error, default headers included. */
    ES_ASSERT_EQ(request(&c, "GET /nope HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_EQ(r.status, 404);
    ES_ASSERT_STR(body_of(&r),
                  "{\"error\":\"not_found\",\"reason\":\"no_route\",\"message\":\"/nope\"}");
    ES_ASSERT_STR(header(&r, "X-Content-Type-Options", v, sizeof v), "nosniff");
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /conflict HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_EQ(r.status, 409);
    ES_ASSERT_STR(body_of(&r), "{\"error\":\"conflict\",\"reason\":\"claimed_by_other\","
                               "\"message\":\"held by \\\"bob\\\"\"}");
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /boom HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_EQ(r.status, 503);
    ES_ASSERT(strstr(body_of(&r), "\"error\":\"service_unavailable\""));
    resp_free(&r);
    close(c.fd);
}

static void get_and_post_with_body_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.requests, 5);
    ES_ASSERT_EQ(f->final.responses_4xx, 2);
    ES_ASSERT_EQ(f->final.responses_5xx, 1);
}

ES_TEST(get_and_post_with_body)
{
    with_server(defaults(), get_and_post_with_body_run, get_and_post_with_body_after);
}

static void query_and_path_decoding_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    ES_ASSERT_EQ(request(&c, "GET /q?name=a%20b+c%2B HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "a b c+");
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /q?x=1&&name=%E4%B8%AD&name=second HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "\xe4\xb8\xad"); /* the first of a repeated name */
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /q?k=flag&flag HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), ""); /* a name without '=' has an empty value */
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /q?k=a%20key&a+key=v HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "v"); /* names are decoded too */
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /q HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "(null)");
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /%65cho HTTP/1.1\r\n\r\n", &r), 0); /* path: /echo */
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(strstr(body_of(&r), "\"path\":\"/echo\""));
    resp_free(&r);
    /* A bad escape is refused, with a JSON error, and the connection ends. */
    ES_ASSERT_EQ(request(&c, "GET /q?name=%zz HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_EQ(r.status, 400);
    ES_ASSERT_STR(body_of(&r), "{\"error\":\"bad_request\",\"reason\":\"bad_query_escape\","
                               "\"message\":\"the request target could not be decoded\"}");
    resp_free(&r);
    ES_ASSERT(closed_within(c.fd, 3000));
    close(c.fd);
    const char *bad[] = {"GET /q?name=%4 HTTP/1.1\r\n\r\n", "GET /a%00b HTTP/1.1\r\n\r\n",
                         "GET /q?name=abc% HTTP/1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_init(&c, f->port);
        ES_ASSERT_EQ(request(&c, bad[i], &r), 0);
        ES_ASSERT_EQ(r.status, 400);
        ES_ASSERT(strstr(body_of(&r), "\"error\":\"bad_request\""));
        resp_free(&r);
        close(c.fd);
    }
}

ES_TEST(query_and_path_decoding)
{
    with_server(defaults(), query_and_path_decoding_run, NULL);
}

static void header_lookup_is_case_insensitive_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    char v[64];
    ES_ASSERT_EQ(request(&c, "GET /hdr?name=x-test HTTP/1.1\r\nX-TeSt:   v1  \r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "v1");
    ES_ASSERT_STR(header(&r, "X-Extra", v, sizeof v), "1");
    resp_free(&r);
    ES_ASSERT_EQ(
        request(&c, "GET /hdr?name=AUTHORIZATION HTTP/1.1\r\nauthorization: Bearer t\r\n\r\n", &r),
        0);
    ES_ASSERT_STR(body_of(&r), "Bearer t");
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /hdr?name=Empty HTTP/1.1\r\nEmpty:\r\nOther: o\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "");
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /hdr?name=Missing HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "(null)");
    resp_free(&r);
    close(c.fd);
}

ES_TEST(header_lookup_is_case_insensitive)
{
    with_server(defaults(), header_lookup_is_case_insensitive_run, NULL);
}

static void keep_alive_reuses_the_connection_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    for (int i = 0; i < 20; i++) {
        ES_ASSERT_EQ(request(&c, "GET /echo HTTP/1.1\r\n\r\n", &r), 0);
        ES_ASSERT_EQ(r.status, 200);
        resp_free(&r);
    }
    ES_ASSERT_EQ(request(&c, "GET /counters HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT(strstr(body_of(&r), "\"connections_total\":1,"));
    ES_ASSERT(strstr(body_of(&r), "\"connections_open\":1,"));
    ES_ASSERT(strstr(body_of(&r), "\"requests\":21,"));
    resp_free(&r);
    /* HTTP/1.0 closes unless it asks for keep-alive. */
    char v[64];
    ES_ASSERT_EQ(request(&c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r), 0);
    ES_ASSERT_STR(header(&r, "Connection", v, sizeof v), "keep-alive");
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /echo HTTP/1.0\r\n\r\n", &r), 0);
    ES_ASSERT_STR(header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    ES_ASSERT(closed_within(c.fd, 3000));
    close(c.fd);
    cli_init(&c, f->port);
    ES_ASSERT_EQ(request(&c, "GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n", &r), 0);
    ES_ASSERT_STR(header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    ES_ASSERT(closed_within(c.fd, 3000));
    close(c.fd);
}

static void keep_alive_reuses_the_connection_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.connections_total, 2);
}

ES_TEST(keep_alive_reuses_the_connection)
{
    with_server(defaults(), keep_alive_reuses_the_connection_run,
                keep_alive_reuses_the_connection_after);
}

static void pipelined_requests_answered_in_order_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    /* A slow first answer must not let the fast ones overtake it. */
    ES_ASSERT_EQ(send_str(c.fd, "GET /later?ms=60&id=1 HTTP/1.1\r\n\r\n"
                                "GET /echo?id=2 HTTP/1.1\r\n\r\n"
                                "GET /later?ms=1&id=3 HTTP/1.1\r\n\r\n"
                                "POST /echo?id=4 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                                "HEAD /echo?id=5 HTTP/1.1\r\n\r\n"
                                "GET /later?ms=0&id=6 HTTP/1.1\r\n\r\n"),
                 0);
    ES_ASSERT_EQ(cli_read(&c, &r, false), 0);
    ES_ASSERT_STR(body_of(&r), "later 1");
    resp_free(&r);
    ES_ASSERT_EQ(cli_read(&c, &r, false), 0);
    ES_ASSERT(strstr(body_of(&r), "\"id\":\"2\""));
    resp_free(&r);
    ES_ASSERT_EQ(cli_read(&c, &r, false), 0);
    ES_ASSERT_STR(body_of(&r), "later 3");
    resp_free(&r);
    ES_ASSERT_EQ(cli_read(&c, &r, false), 0);
    ES_ASSERT(strstr(body_of(&r), "\"id\":\"4\"") && strstr(body_of(&r), "\"body\":\"abc\""));
    resp_free(&r);
    ES_ASSERT_EQ(cli_read(&c, &r, true), 0);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_EQ(r.body.len, 0);
    resp_free(&r);
    ES_ASSERT_EQ(cli_read(&c, &r, false), 0);
    ES_ASSERT_STR(body_of(&r), "later 6");
    resp_free(&r);
    ES_ASSERT_EQ(c.len, 0);
    close(c.fd);
}

static void pipelined_requests_answered_in_order_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.requests, 6);
}

ES_TEST(pipelined_requests_answered_in_order)
{
    with_server(defaults(), pipelined_requests_answered_in_order_run,
                pipelined_requests_answered_in_order_after);
}

static void head_gets_headers_only_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    char v[64];
    ES_ASSERT_EQ(request(&c, "HEAD /echo HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(atoi(header(&r, "Content-Length", v, sizeof v)) > 10);
    resp_free(&r);
    /* Had a body been sent, this response would be read as garbage. */
    ES_ASSERT_EQ(request(&c, "GET /q?name=next HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "next");
    resp_free(&r);
    ES_ASSERT_EQ(c.len, 0);
    close(c.fd);
}

ES_TEST(head_gets_headers_only)
{
    with_server(defaults(), head_gets_headers_only_run, NULL);
}

static void chunked_request_body_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    ES_ASSERT_EQ(request(&c,
                         "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
                         &r),
                 0);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(strstr(body_of(&r), "\"body\":\"hello world\""));
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "GET /q?name=after HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "after");
    resp_free(&r);
    close(c.fd);
}

ES_TEST(chunked_request_body)
{
    with_server(defaults(), chunked_request_body_run, NULL);
}

/* expect_error: a request the server refuses with status and reason, then closes. */
static int expect_error(int port, const char *raw, int status, const char *reason)
{
    struct cli c;
    cli_init(&c, port);
    struct resp r;
    char v[64], want[128];
    int ok = request(&c, raw, &r) == 0 && r.status == status;
    snprintf(want, sizeof want, "\"reason\":\"%s\"", reason);
    ok = ok && body_of(&r) && strstr(body_of(&r), want) && strstr(body_of(&r), "\"message\":\"");
    ok = ok && header(&r, "Connection", v, sizeof v) && strcmp(v, "close") == 0;
    ok = ok && header(&r, "X-Content-Type-Options", v, sizeof v);
    if (!ok)
        printf("  %d %s: got %d %s\n", status, reason, r.status, body_of(&r) ? body_of(&r) : "");
    resp_free(&r);
    ok = ok && closed_within(c.fd, 3000);
    close(c.fd);
    return ok;
}

static void limits_answer_with_json_errors_run(struct fx *f)
{
    char big[4096];
    /* 431: one large header */
    memset(big, 0, sizeof big);
    strcpy(big, "GET /echo HTTP/1.1\r\nX-Big: ");
    memset(big + strlen(big), 'a', 2100);
    strcat(big, "\r\n\r\n");
    ES_ASSERT(expect_error(f->port, big, 431, "headers_too_large"));
    /* 431: many small headers */
    memset(big, 0, sizeof big);
    strcpy(big, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < 150; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "H%d: v\r\n", i);
    strcat(big, "\r\n");
    ES_ASSERT(expect_error(f->port, big, 431, "too_many_headers"));
    /* 414: a long URL */
    memset(big, 0, sizeof big);
    strcpy(big, "GET /echo?a=");
    memset(big + strlen(big), 'u', 2100);
    strcat(big, " HTTP/1.1\r\n\r\n");
    ES_ASSERT(expect_error(f->port, big, 414, "url_too_long"));
    /* 413: Content-Length over the cap, refused before any body byte */
    ES_ASSERT(expect_error(f->port, "POST /echo HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413,
                           "body_too_large"));
    /* 413: a chunked body passing the cap, refused before it ends */
    memset(big, 0, sizeof big);
    strcpy(big, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n");
    memset(big + strlen(big), 'b', 1024);
    strcat(big, "\r\n");
    ES_ASSERT(expect_error(f->port, big, 413, "body_too_large"));
    /* 400: malformed */
    ES_ASSERT(expect_error(f->port, "BLAH / HTTP/1.1\r\n\r\n", 400, "invalid_method"));
    ES_ASSERT(expect_error(f->port,
                           "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
                           "unexpected_content_length"));
    ES_ASSERT(expect_error(f->port, "GET nopath HTTP/1.1\r\n\r\n", 400, "invalid_url"));
    ES_ASSERT(expect_error(f->port, "GET / HTTP/1.1\r\nBad\001Header: x\r\n\r\n", 400,
                           "invalid_header_token"));
    ES_ASSERT(expect_error(f->port, "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400,
                           "invalid_content_length"));
    /* Exactly at the cap is fine. */
    struct cli c;
    cli_init(&c, f->port);
    memset(big, 0, sizeof big);
    strcpy(big, "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    memset(big + strlen(big), 'c', 1000);
    struct resp r;
    ES_ASSERT_EQ(request(&c, big, &r), 0);
    ES_ASSERT_EQ(r.status, 200);
    resp_free(&r);
    close(c.fd);
}

static void limits_answer_with_json_errors_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.responses_4xx, 10);
}

ES_TEST(limits_answer_with_json_errors)
{
    struct es_http_opts o = defaults();
    o.max_header_bytes = 2048;
    o.max_body_bytes = 1000;
    with_server(o, limits_answer_with_json_errors_run, limits_answer_with_json_errors_after);
}

static void expect_100_continue_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    ES_ASSERT_EQ(
        request(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", &r),
        0);
    ES_ASSERT_EQ(r.status, 100);
    resp_free(&r);
    ES_ASSERT_EQ(request(&c, "howdy", &r), 0);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(strstr(body_of(&r), "\"body\":\"howdy\""));
    resp_free(&r);
    close(c.fd);
    /* Too large: refused at once, no 100. */
    ES_ASSERT(expect_error(
        f->port, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n", 413,
        "body_too_large"));
    ES_ASSERT(expect_error(f->port,
                           "POST /echo HTTP/1.1\r\nExpect: tea\r\nContent-Length: 1\r\n\r\n", 417,
                           "unsupported_expectation"));
}

ES_TEST(expect_100_continue)
{
    struct es_http_opts o = defaults();
    o.max_body_bytes = 100;
    with_server(o, expect_100_continue_run, NULL);
}

static void request_deadline_closes_slowloris_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    int64_t t0 = now_ms();
    ES_ASSERT_EQ(send_str(c.fd, "GET /echo HTTP/1.1\r\n"), 0);
    /* Dribble a header line every 50 ms: the deadline does not move. */
    for (int i = 0; i < 20 && now_ms() - t0 < 1000; i++) {
        if (send_str(c.fd, "X-a: b\r\n") != 0)
            break;
        char b;
        if (recv(c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
            break; /* the answer arrived */
        sleep_ms(50);
    }
    struct resp r;
    ES_ASSERT_EQ(cli_read(&c, &r, false), 0);
    int64_t took = now_ms() - t0;
    ES_ASSERT_EQ(r.status, 408);
    ES_ASSERT(strstr(body_of(&r), "\"error\":\"request_timeout\""));
    resp_free(&r);
    ES_ASSERT(took >= 250 && took < 2000);
    ES_ASSERT(closed_within(c.fd, 3000));
    close(c.fd);
}

ES_TEST(request_deadline_closes_slowloris)
{
    struct es_http_opts o = defaults();
    o.request_timeout_ms = 300;
    with_server(o, request_deadline_closes_slowloris_run, NULL);
}

static void idle_keep_alive_timeout_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    ES_ASSERT_EQ(request(&c, "GET /echo HTTP/1.1\r\n\r\n", &r), 0);
    resp_free(&r);
    int64_t t0 = now_ms();
    ES_ASSERT(closed_within(c.fd, 3000));
    int64_t took = now_ms() - t0;
    ES_ASSERT(took >= 150 && took < 2000);
    close(c.fd);
    /* A connection that never sends anything is idle too. */
    int fd = cli_open(f->port);
    ES_ASSERT(closed_within(fd, 3000));
    close(fd);
}

static void idle_keep_alive_timeout_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.connections_open, 0);
}

ES_TEST(idle_keep_alive_timeout)
{
    struct es_http_opts o = defaults();
    o.idle_timeout_ms = 200;
    with_server(o, idle_keep_alive_timeout_run, idle_keep_alive_timeout_after);
}

static void max_connections_refuses_extra_run(struct fx *f)
{
    struct cli a, b, c;
    struct resp r;
    cli_init(&a, f->port);
    cli_init(&b, f->port);
    ES_ASSERT_EQ(request(&a, "GET /echo HTTP/1.1\r\n\r\n", &r), 0);
    resp_free(&r);
    ES_ASSERT_EQ(request(&b, "GET /echo HTTP/1.1\r\n\r\n", &r), 0);
    resp_free(&r);
    cli_init(&c, f->port);
    ES_ASSERT_EQ(cli_read(&c, &r, false), 0);
    ES_ASSERT_EQ(r.status, 503);
    ES_ASSERT(strstr(body_of(&r), "too_many_connections"));
    resp_free(&r);
    ES_ASSERT(closed_within(c.fd, 3000));
    close(c.fd);
    close(a.fd);
    /* Once one leaves, a new one is served. */
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        cli_init(&c, f->port);
        ok = request(&c, "GET /q?name=in HTTP/1.1\r\n\r\n", &r) == 0 && r.status == 200;
        resp_free(&r);
        close(c.fd);
        if (!ok)
            sleep_ms(10);
    }
    ES_ASSERT(ok);
    close(b.fd);
}

ES_TEST(max_connections_refuses_extra)
{
    struct es_http_opts o = defaults();
    o.max_connections = 2;
    with_server(o, max_connections_refuses_extra_run, NULL);
}

static void deferred_response_and_gone_clients_run(struct fx *f)
{
    struct cli c;
    struct resp r;
    cli_init(&c, f->port);
    int64_t t0 = now_ms();
    ES_ASSERT_EQ(request(&c, "GET /later?ms=80&id=7 HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT(now_ms() - t0 >= 70);
    ES_ASSERT_STR(body_of(&r), "later 7");
    resp_free(&r);
    close(c.fd);
    /* The client leaves while its request is pending: on_gone runs. */
    cli_init(&c, f->port);
    ES_ASSERT_EQ(send_str(c.fd, "GET /hold HTTP/1.1\r\n\r\n"), 0);
    sleep_ms(50);
    close(c.fd);
    ES_ASSERT(wait_for(&g.gone_calls, 1, 3000));
    /* Without on_gone: the late answer finds es_http_gone() and sends nothing. */
    cli_init(&c, f->port);
    ES_ASSERT_EQ(send_str(c.fd, "GET /later?ms=200 HTTP/1.1\r\n\r\n"), 0);
    sleep_ms(30);
    close(c.fd);
    ES_ASSERT(wait_for(&g.gone_seen, 1, 3000));
}

static void deferred_response_and_gone_clients_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.connections_open, 0);
}

ES_TEST(deferred_response_and_gone_clients)
{
    with_server(defaults(), deferred_response_and_gone_clients_run,
                deferred_response_and_gone_clients_after);
}

static void stream_uses_chunked_framing_run(struct fx *f)
{
    struct cli c;
    cli_init(&c, f->port);
    ES_ASSERT_EQ(send_str(c.fd, "GET /stream?n=3 HTTP/1.1\r\n\r\n"), 0);
    /* Raw bytes first: the framing itself. */
    char raw[4096];
    size_t n = 0;
    int64_t end = now_ms() + 3000;
    while (now_ms() < end && (n < 5 || memcmp(raw + n - 5, "0\r\n\r\n", 5) != 0)) {
        ssize_t k = recv(c.fd, raw + n, sizeof raw - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    raw[n] = '\0';
    ES_ASSERT(strstr(raw, "HTTP/1.1 200 OK\r\n"));
    ES_ASSERT(strstr(raw, "Transfer-Encoding: chunked\r\n"));
    ES_ASSERT(strstr(raw, "Content-Type: text/event-stream\r\n"));
    ES_ASSERT(strstr(raw, "Cache-Control: no-cache\r\n"));
    ES_ASSERT(!strstr(raw, "Content-Length"));
    ES_ASSERT(
        strstr(raw, "\r\n\r\n8\r\nevent 0\n\r\n8\r\nevent 1\n\r\n8\r\nevent 2\n\r\n0\r\n\r\n"));
    /* The connection stays usable; HTTP/1.0 gets a close-delimited body. */
    struct resp r;
    char v[64];
    ES_ASSERT_EQ(request(&c, "GET /stream?n=2 HTTP/1.0\r\n\r\n", &r), 0);
    ES_ASSERT_STR(body_of(&r), "event 0\nevent 1\n");
    ES_ASSERT(!header(&r, "Transfer-Encoding", v, sizeof v));
    ES_ASSERT_STR(header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    close(c.fd);
}

static void stream_uses_chunked_framing_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.streams_open, 0);
}

ES_TEST(stream_uses_chunked_framing)
{
    with_server(defaults(), stream_uses_chunked_framing_run, stream_uses_chunked_framing_after);
}

static void slow_stream_client_is_cut_off_run(struct fx *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ES_ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    ES_ASSERT_EQ(send_str(fd, "GET /flood HTTP/1.1\r\n\r\n"), 0);
    /* Never read: the server's queue grows past 64 KiB and it gives up. */
    ES_ASSERT(wait_for(&g.elimit, 1, 10000));
    ES_ASSERT(wait_for(&g.stream_ended, 1, 1000));
    ES_ASSERT(closed_within(fd, 5000));
    close(fd);
    struct cli c;
    cli_init(&c, f->port);
    struct resp r;
    ES_ASSERT_EQ(request(&c, "GET /counters HTTP/1.1\r\n\r\n", &r), 0);
    ES_ASSERT(strstr(body_of(&r), "\"streams_open\":0,"));
    resp_free(&r);
    close(c.fd);
}

ES_TEST(slow_stream_client_is_cut_off)
{
    struct es_http_opts o = defaults();
    o.max_stream_buffer = 64 * 1024;
    with_server(o, slow_stream_client_is_cut_off_run, NULL);
}

static struct cli idle, hold, sse, partial, later; /* stop_with_open_... */

static void stop_with_open_connections_and_streams_run(struct fx *f)
{
    struct resp r;
    cli_init(&idle, f->port);
    ES_ASSERT_EQ(request(&idle, "GET /echo HTTP/1.1\r\n\r\n", &r), 0);
    resp_free(&r);
    cli_init(&hold, f->port);
    ES_ASSERT_EQ(send_str(hold.fd, "GET /hold HTTP/1.1\r\n\r\n"), 0);
    cli_init(&sse, f->port);
    ES_ASSERT_EQ(send_str(sse.fd, "GET /sse HTTP/1.1\r\n\r\n"), 0);
    char b[256];
    ES_ASSERT(recv(sse.fd, b, sizeof b, 0) > 0); /* the stream is open */
    cli_init(&partial, f->port);
    ES_ASSERT_EQ(send_str(partial.fd, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), 0);
    cli_init(&later, f->port);
    ES_ASSERT_EQ(send_str(later.fd, "GET /later?ms=300 HTTP/1.1\r\n\r\n"), 0);
    sleep_ms(100);
    /* The loop must end once the pending /later answers (a no-op by then). */
}

static void stop_with_open_connections_and_streams_after(struct fx *f)
{
    ES_ASSERT_EQ(atomic_load(&g.gone_calls), 2); /* /hold and /sse */
    ES_ASSERT_EQ(atomic_load(&g.stream_ended), 1);
    ES_ASSERT_EQ(atomic_load(&g.gone_seen), 1);
    ES_ASSERT_EQ(f->final.connections_open, 5);
    ES_ASSERT_EQ(f->final.streams_open, 1);
    ES_ASSERT(closed_within(idle.fd, 1000));
    ES_ASSERT(closed_within(partial.fd, 1000));
    close(idle.fd);
    close(hold.fd);
    close(sse.fd);
    close(partial.fd);
    close(later.fd);
}

ES_TEST(stop_with_open_connections_and_streams)
{
    with_server(defaults(), stop_with_open_connections_and_streams_run,
                stop_with_open_connections_and_streams_after);
}

static void counters_count_run(struct fx *f)
{
    struct cli c;
    struct resp r;
    cli_init(&c, f->port);
    size_t got = 0;
    for (int i = 0; i < 3; i++) {
        ES_ASSERT_EQ(request(&c, "GET /nope HTTP/1.1\r\n\r\n", &r), 0);
        got += r.hlen + r.body.len;
        resp_free(&r);
    }
    ES_ASSERT_EQ(request(&c, "GET /counters HTTP/1.1\r\n\r\n", &r), 0);
    json_t *j = json_loads(body_of(&r), 0, NULL);
    resp_free(&r);
    ES_ASSERT(j);
    ES_ASSERT_EQ(json_integer_value(json_object_get(j, "requests")), 4);
    ES_ASSERT_EQ(json_integer_value(json_object_get(j, "responses_4xx")), 3);
    ES_ASSERT_EQ(json_integer_value(json_object_get(j, "responses_5xx")), 0);
    ES_ASSERT_EQ(json_integer_value(json_object_get(j, "connections_open")), 1);
    ES_ASSERT((size_t)json_integer_value(json_object_get(j, "bytes_out")) >= got);
    json_decref(j);
    close(c.fd);
}

static void counters_count_after(struct fx *f)
{
    ES_ASSERT_EQ(f->final.requests, 4);
}

ES_TEST(counters_count)
{
    with_server(defaults(), counters_count_run, counters_count_after);
}

static void nop_handler(struct es_http_req *r, void *ud)
{
    (void)ud;
    es_http_respond(r, 200, "text/plain", NULL, es_http_peer(r), strlen(es_http_peer(r)));
}

ES_TEST(start_errors_and_ipv6)
{
    uv_loop_t loop;
    ES_ASSERT_EQ(uv_loop_init(&loop), 0);
    struct es_http_opts o = defaults();
    o.handler = nop_handler;
    struct es_http_server *a = NULL, *b = NULL;
    struct es_diag d = {0};
    o.host = "not-an-address";
    ES_ASSERT_EQ(es_http_start(&loop, &o, &a, &d), ES_EIO);
    ES_ASSERT(strstr(d.msg, "not an IP address"));
    o.host = NULL;
    ES_ASSERT_EQ(es_http_start(&loop, &o, &a, &d), 0);
    o.port = es_http_port(a);
    ES_ASSERT(o.port > 0);
    memset(&d, 0, sizeof d);
    ES_ASSERT_EQ(es_http_start(&loop, &o, &b, &d), ES_EIO); /* the port is taken */
    ES_ASSERT(b == NULL && strstr(d.msg, "listen on 127.0.0.1:"));
    es_http_stop(a);
    /* IPv6 loopback, if this machine has it. */
    o.host = "::1";
    o.port = 0;
    if (es_http_start(&loop, &o, &b, &d) == 0) {
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                                  .sin6_port = htons((uint16_t)es_http_port(b))};
        a6.sin6_addr = in6addr_loopback;
        ES_ASSERT_EQ(connect(fd, (struct sockaddr *)&a6, sizeof a6), 0);
        ES_ASSERT_EQ(send_str(fd, "GET / HTTP/1.1\r\n\r\n"), 0);
        char got[1024] = "";
        size_t n = 0;
        int64_t end = now_ms() + 3000;
        while (now_ms() < end && !strstr(got, "[::1]:")) {
            uv_run(&loop, UV_RUN_NOWAIT);
            ssize_t k = recv(fd, got + n, sizeof got - 1 - n, MSG_DONTWAIT);
            if (k > 0)
                n += (size_t)k;
            got[n] = '\0';
        }
        close(fd);
        ES_ASSERT(strstr(got, "HTTP/1.1 200 OK\r\n"));
        ES_ASSERT(strstr(got, "[::1]:")); /* es_http_peer */
        es_http_stop(b);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    ES_ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* ---- without sockets ---- */

static void replay_handler(struct es_http_req *r, void *ud)
{
    (void)ud;
    char out[512];
    const char *h = es_http_header(r, "x-h");
    size_t len;
    const char *body = es_http_body(r, &len);
    int n =
        snprintf(out, sizeof out, "%s %s q=%s h=%s b=%.*s", es_http_method(r), es_http_path(r),
                 es_http_query(r, "q") ? es_http_query(r, "q") : "-", h ? h : "-", (int)len, body);
    es_http_respond(r, 200, "text/plain", NULL, out, (size_t)n);
}

ES_TEST(byte_at_a_time_parsing)
{
    const char *in = "GET /a%2Fb?q=x%20y HTTP/1.1\r\nX-H: one\r\n\r\n"
                     "POST /p HTTP/1.1\r\nx-h:two\r\nContent-Length: 4\r\n\r\nbody"
                     "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
    struct es_http_opts o = defaults();
    o.handler = replay_handler;
    for (size_t piece = 1; piece <= 7; piece += 3) {
        struct es_buf out;
        es_buf_init(&out, 1 << 20);
        ES_ASSERT_EQ(es__http_replay(&o, in, strlen(in), piece, &out), 3);
        ES_ASSERT(strstr(out.data, "\r\n\r\nGET /a/b q=x y h=one b="));
        ES_ASSERT(strstr(out.data, "\r\n\r\nPOST /p q=- h=two b=body"));
        ES_ASSERT(strstr(out.data, "\r\n\r\nPUT /c q=- h=- b=ab"));
        es_buf_cleanup(&out);
    }
}

/* replay_status: the status line of the first response to in. */
static int replay_status(const char *in, char *reason, size_t n)
{
    struct es_http_opts o = defaults();
    o.handler = replay_handler;
    struct es_buf out;
    es_buf_init(&out, 1 << 20);
    es__http_replay(&o, in, strlen(in), 0, &out);
    int status = 0;
    reason[0] = '\0';
    if (out.data) {
        sscanf(out.data, "HTTP/1.1 %d", &status);
        const char *p = strstr(out.data, "\"reason\":\"");
        if (p)
            snprintf(reason, n, "%.*s", (int)strcspn(p + 10, "\""), p + 10);
    }
    es_buf_cleanup(&out);
    return status;
}

ES_TEST(strict_where_the_parser_is_lenient)
{
    char reason[64];
    ES_ASSERT_EQ(replay_status("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", reason, sizeof reason),
                 400);
    ES_ASSERT_STR(reason, "invalid_header_name");
    ES_ASSERT_EQ(replay_status("GET / HTTP/1.1\r\n Folded: x\r\n\r\n", reason, sizeof reason), 400);
    ES_ASSERT_EQ(replay_status("GET / HTTP/2.0\r\n\r\n", reason, sizeof reason), 505);
    ES_ASSERT_STR(reason, "http_version_not_supported");
    ES_ASSERT_EQ(replay_status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                               "0\r\n\r\n",
                               reason, sizeof reason),
                 501);
    ES_ASSERT_STR(reason, "unsupported_transfer_encoding");
    ES_ASSERT_EQ(replay_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Length: 3\r\n\r\n0\r\n\r\n",
                               reason, sizeof reason),
                 400);
    ES_ASSERT_EQ(replay_status("GET / HTTP/1.1\r\nX: a\001b\r\n\r\n", reason, sizeof reason), 400);
    /* Bare LF line ends and UTF-8 in values are tolerated. */
    ES_ASSERT_EQ(replay_status("GET / HTTP/1.1\nX: y\n\n", reason, sizeof reason), 200);
    ES_ASSERT_EQ(replay_status("GET / HTTP/1.1\r\nX: \xe4\xb8\xad\r\n\r\n", reason, sizeof reason),
                 200);
}

ES_TEST(replay_survives_failed_allocations)
{
    const char *in = "POST /x?q=1 HTTP/1.1\r\nX-H: v\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /y HTTP/1.1\r\n\r\n";
    struct es_http_opts o = defaults();
    o.handler = replay_handler;
    for (long n = 0; n < 40; n++) {
        struct es_buf out;
        es_buf_init(&out, 1 << 20);
        es_alloc_fail_after(n);
        int rc = es__http_replay(&o, in, strlen(in), 0, &out);
        es_alloc_fail_after(-1);
        ES_ASSERT(rc >= ES_ENOMEM && rc <= 2);
        es_buf_cleanup(&out);
    }
}

int main(void)
{
    ES_RUN(get_and_post_with_body);
    ES_RUN(query_and_path_decoding);
    ES_RUN(header_lookup_is_case_insensitive);
    ES_RUN(keep_alive_reuses_the_connection);
    ES_RUN(pipelined_requests_answered_in_order);
    ES_RUN(head_gets_headers_only);
    ES_RUN(chunked_request_body);
    ES_RUN(limits_answer_with_json_errors);
    ES_RUN(expect_100_continue);
    ES_RUN(request_deadline_closes_slowloris);
    ES_RUN(idle_keep_alive_timeout);
    ES_RUN(max_connections_refuses_extra);
    ES_RUN(deferred_response_and_gone_clients);
    ES_RUN(stream_uses_chunked_framing);
    ES_RUN(slow_stream_client_is_cut_off);
    ES_RUN(stop_with_open_connections_and_streams);
    ES_RUN(counters_count);
    ES_RUN(start_errors_and_ipv6);
    ES_RUN(byte_at_a_time_parsing);
    ES_RUN(strict_where_the_parser_is_lenient);
    ES_RUN(replay_survives_failed_allocations);
    return ES_DONE();
}
