/*
 * test_http_asset: the embedded console table (sorted, typed, ETags, gzip that
 * inflates back to the file) and es_http_respond_asset's negotiation: 304 on
 * If-None-Match (exact, weak, lists, "*"), gzip only when Accept-Encoding
 * allows it, Vary, HEAD. Responses are driven without sockets (es__http_replay)
 * against a fake asset, so the test does not depend on what src/console holds.
 */
#include <zlib.h>

#include "earshot/buf.h"
#include "earshot/http.h"
#include "harness.h"
#include "http/http_int.h"

static const struct es_http_asset fake[] = {
    {"/app.js", "text/javascript; charset=utf-8", (const unsigned char *)"console.log(1)", 14, NULL,
     0, "\"js1\""},
    {"/index.html", "text/html; charset=utf-8", (const unsigned char *)"<p>hello hello</p>", 18,
     (const unsigned char *)"GZIPPED", 7, "\"ix1\""},
    {"/sub/x.svg", "image/svg+xml", (const unsigned char *)"<svg/>", 6, NULL, 0, "\"sv1\""},
};

ES_TEST(lookup_in_a_sorted_table)
{
    ES_ASSERT(es__http_asset_lookup(fake, 3, "/") == &fake[1]);
    ES_ASSERT(es__http_asset_lookup(fake, 3, "/index.html") == &fake[1]);
    ES_ASSERT(es__http_asset_lookup(fake, 3, "/app.js") == &fake[0]);
    ES_ASSERT(es__http_asset_lookup(fake, 3, "/sub/x.svg") == &fake[2]);
    ES_ASSERT(es__http_asset_lookup(fake, 3, "/nope.js") == NULL);
    ES_ASSERT(es__http_asset_lookup(fake, 3, "app.js") == NULL);
    ES_ASSERT(es__http_asset_lookup(fake, 3, "/../app.js") == NULL);
    ES_ASSERT(es__http_asset_lookup(fake, 0, "/") == NULL);
    ES_ASSERT(es__http_asset_lookup(fake, 3, NULL) == NULL);
}

static int inflate_equals(const unsigned char *gz, size_t gz_len, const unsigned char *want,
                          size_t want_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return 0;
    unsigned char *out = malloc(want_len + 16);
    z.next_in = (unsigned char *)gz;
    z.avail_in = (uInt)gz_len;
    z.next_out = out;
    z.avail_out = (uInt)(want_len + 16);
    int rc = inflate(&z, Z_FINISH);
    size_t n = want_len + 16 - z.avail_out;
    inflateEnd(&z);
    int ok = rc == Z_STREAM_END && n == want_len && memcmp(out, want, n) == 0;
    free(out);
    return ok;
}

ES_TEST(embedded_table_is_well_formed)
{
    /* Whatever src/console holds (maybe nothing), the table must be usable. */
    for (size_t i = 0; i < es__http_asset_count; i++) {
        const struct es_http_asset *a = &es__http_assets[i];
        ES_ASSERT(a->path && a->path[0] == '/');
        if (i > 0)
            ES_ASSERT(strcmp(es__http_assets[i - 1].path, a->path) < 0);
        ES_ASSERT(es_http_asset_find(a->path) == a);
        ES_ASSERT(a->content_type && a->data);
        ES_ASSERT(a->etag && a->etag[0] == '"' && strlen(a->etag) == 34);
        if (a->gz) {
            ES_ASSERT(a->gz_len < a->len);
            ES_ASSERT(inflate_equals(a->gz, a->gz_len, a->data, a->len));
        }
        const char *ext = strrchr(a->path, '.');
        if (ext && strcmp(ext, ".html") == 0)
            ES_ASSERT_STR(a->content_type, "text/html; charset=utf-8");
        if (ext && strcmp(ext, ".js") == 0)
            ES_ASSERT_STR(a->content_type, "text/javascript; charset=utf-8");
        if (ext && strcmp(ext, ".css") == 0)
            ES_ASSERT_STR(a->content_type, "text/css; charset=utf-8");
        if (ext && strcmp(ext, ".svg") == 0)
            ES_ASSERT_STR(a->content_type, "image/svg+xml");
    }
    if (es_http_asset_find("/index.html"))
        ES_ASSERT(es_http_asset_find("/") == es_http_asset_find("/index.html"));
    ES_ASSERT(es_http_asset_find("/no-such-file.js") == NULL);
}

static void handler(struct es_http_req *r, void *ud)
{
    (void)ud;
    es_http_respond_asset(r, es__http_asset_lookup(fake, 3, es_http_path(r)));
}

struct got {
    int status;
    char head[2048];
    char body[256];
};

/* fetch: one request through the server's parser and response path. */
static int fetch(const char *req, struct got *g)
{
    struct es_http_opts o;
    memset(&o, 0, sizeof o);
    o.handler = handler;
    struct es_buf out;
    es_buf_init(&out, 1 << 20);
    memset(g, 0, sizeof *g);
    int rc = es__http_replay(&o, req, strlen(req), 0, &out);
    if (rc == 1 && out.data) {
        sscanf(out.data, "HTTP/1.1 %d", &g->status);
        const char *end = strstr(out.data, "\r\n\r\n");
        if (end) {
            snprintf(g->head, sizeof g->head, "%.*s", (int)(end - out.data + 2), out.data);
            snprintf(g->body, sizeof g->body, "%s", end + 4);
        }
    }
    es_buf_cleanup(&out);
    return rc == 1 ? 0 : -1;
}

ES_TEST(identity_gzip_and_vary)
{
    struct got g;
    ES_ASSERT_EQ(fetch("GET / HTTP/1.1\r\n\r\n", &g), 0);
    ES_ASSERT_EQ(g.status, 200);
    ES_ASSERT_STR(g.body, "<p>hello hello</p>");
    ES_ASSERT(strstr(g.head, "\r\nETag: \"ix1\"\r\n"));
    ES_ASSERT(strstr(g.head, "\r\nCache-Control: no-cache\r\n"));
    ES_ASSERT(strstr(g.head, "\r\nVary: Accept-Encoding\r\n"));
    ES_ASSERT(strstr(g.head, "\r\nContent-Type: text/html; charset=utf-8\r\n"));
    ES_ASSERT(!strstr(g.head, "Content-Encoding"));

    const char *yes[] = {"gzip",   "deflate, gzip;q=1.0, br", "GZIP", "*",
                         "x-gzip", "br;q=1, *;q=0.5"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /index.html HTTP/1.1\r\nAccept-Encoding: %s\r\n\r\n",
                 yes[i]);
        ES_ASSERT_EQ(fetch(req, &g), 0);
        if (strcmp(g.body, "GZIPPED") != 0)
            ES_FAILF("Accept-Encoding: %s: body %s", yes[i], g.body);
        ES_ASSERT(strstr(g.head, "\r\nContent-Encoding: gzip\r\n"));
        ES_ASSERT(strstr(g.head, "\r\nContent-Length: 7\r\n"));
    }
    const char *no[] = {"gzip;q=0", "deflate, br", "gzip; q=0.000", "*;q=0",
                        "identity", "gzip;q=0, *", "gzipx"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /index.html HTTP/1.1\r\nAccept-Encoding: %s\r\n\r\n", no[i]);
        ES_ASSERT_EQ(fetch(req, &g), 0);
        if (strcmp(g.body, "<p>hello hello</p>") != 0)
            ES_FAILF("Accept-Encoding: %s: body %s", no[i], g.body);
    }
    /* No gzip variant: identity whatever the client accepts. */
    ES_ASSERT_EQ(fetch("GET /app.js HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n", &g), 0);
    ES_ASSERT_STR(g.body, "console.log(1)");
    ES_ASSERT(!strstr(g.head, "Content-Encoding"));
}

ES_TEST(revalidation_and_head)
{
    struct got g;
    const char *match[] = {"\"js1\"", "W/\"js1\"", "\"zzz\", \"js1\"", "*", " \"a\" ,W/\"js1\" "};
    for (size_t i = 0; i < sizeof match / sizeof match[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /app.js HTTP/1.1\r\nIf-None-Match: %s\r\n\r\n", match[i]);
        ES_ASSERT_EQ(fetch(req, &g), 0);
        if (g.status != 304)
            ES_FAILF("If-None-Match: %s: status %d", match[i], g.status);
        ES_ASSERT_STR(g.body, "");
        ES_ASSERT(strstr(g.head, "\r\nETag: \"js1\"\r\n"));
        ES_ASSERT(!strstr(g.head, "Content-Length"));
    }
    const char *miss[] = {"\"js2\"", "\"js1", "js1", "W/\"other\""};
    for (size_t i = 0; i < sizeof miss / sizeof miss[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET /app.js HTTP/1.1\r\nIf-None-Match: %s\r\n\r\n", miss[i]);
        ES_ASSERT_EQ(fetch(req, &g), 0);
        if (g.status != 200)
            ES_FAILF("If-None-Match: %s: status %d", miss[i], g.status);
    }
    /* 304 with gzip accepted: still no body, no Content-Encoding. */
    ES_ASSERT_EQ(
        fetch("GET / HTTP/1.1\r\nIf-None-Match: \"ix1\"\r\nAccept-Encoding: gzip\r\n\r\n", &g), 0);
    ES_ASSERT_EQ(g.status, 304);
    ES_ASSERT(!strstr(g.head, "Content-Encoding"));
    ES_ASSERT(strstr(g.head, "\r\nVary: Accept-Encoding\r\n"));
    ES_ASSERT_EQ(fetch("HEAD /sub/x.svg HTTP/1.1\r\n\r\n", &g), 0);
    ES_ASSERT_EQ(g.status, 200);
    ES_ASSERT(strstr(g.head, "\r\nContent-Length: 6\r\n"));
    ES_ASSERT_STR(g.body, "");
    ES_ASSERT_EQ(fetch("GET /missing.css HTTP/1.1\r\n\r\n", &g), 0);
    ES_ASSERT_EQ(g.status, 404);
    ES_ASSERT(strstr(g.body, "\"error\":\"not_found\""));
}

int main(void)
{
    ES_RUN(lookup_in_a_sorted_table);
    ES_RUN(embedded_table_is_well_formed);
    ES_RUN(identity_gzip_and_vary);
    ES_RUN(revalidation_and_head);
    return ES_DONE();
}
