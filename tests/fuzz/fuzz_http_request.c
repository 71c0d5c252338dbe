/*
 * fuzz_http_request: arbitrary bytes as what a client sends on one connection,
 * through the server's real parsing, decoding, limits and response paths (no
 * socket: es__http_replay). The input is fed twice: at once and in small
 * pieces, since header names, values and chunk sizes split across reads take
 * other paths. The handler reads everything a handler can and answers in each
 * of the ways a handler can.
 */
#include <stdint.h>
#include <string.h>

#include "earshot/buf.h"
#include "earshot/http.h"
#include "http/http_int.h"

static const struct es_http_asset asset = {
    "/index.html",
    "text/html",
    (const unsigned char *)"<p>x</p>",
    8,
    (const unsigned char *)"gz",
    2,
    "\"e1\"",
};

static void handler(struct es_http_req *r, void *ud)
{
    (void)ud;
    size_t len = 0;
    const char *body = es_http_body(r, &len);
    const char *path = es_http_path(r);
    const char *q = es_http_query(r, "x");
    const char *h = es_http_header(r, "host");
    size_t sum = strlen(es_http_method(r)) + strlen(path) + (q ? strlen(q) : 0) +
                 (h ? strlen(h) : 0) + strlen(es_http_peer(r)) + (len ? (size_t)body[len - 1] : 0);
    switch (sum % 5) {
    case 0:
        es_http_respond(r, 200, "text/plain", "X-A: b\r\n", body, len);
        break;
    case 1:
        es_http_respond_json(r, 201, json_pack("{s:s,s:s?}", "path", path, "x", q));
        break;
    case 2:
        es_http_error(r, 409, "conflict_reason", path);
        break;
    case 3:
        es_http_stream_begin(r, 200, "text/event-stream", NULL);
        es_http_stream_write(r, body, len);
        es_http_stream_write(r, "data: x\n\n", 9);
        es_http_stream_end(r);
        break;
    default:
        es_http_respond_asset(r, &asset);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct es_http_opts o;
    memset(&o, 0, sizeof o);
    o.handler = handler;
    o.max_header_bytes = 4096;
    o.max_body_bytes = 16384;
    struct es_buf out;
    es_buf_init(&out, 1 << 20);
    es__http_replay(&o, data, size, 0, &out);
    es_buf_reset(&out);
    es__http_replay(&o, data, size, 1 + size % 13, &out);
    es_buf_cleanup(&out);
    return 0;
}
