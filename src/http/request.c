/*
 * request: what a handler reads from a request (method, decoded path, query
 * parameters, headers, body, peer) and the status table shared by responses.
 *
 * Everything a handler sees lives in the connection's reused buffers, decoded
 * once when the request is complete: no allocation per request once a
 * connection's buffers have grown to its traffic.
 */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* ---- status codes ---- */

struct status {
    int code;
    const char *text, *name;
};

static const struct status statuses[] = {
    {100, "Continue", "continue"},
    {101, "Switching Protocols", "switching_protocols"},
    {200, "OK", "ok"},
    {201, "Created", "created"},
    {202, "Accepted", "accepted"},
    {204, "No Content", "no_content"},
    {206, "Partial Content", "partial_content"},
    {301, "Moved Permanently", "moved_permanently"},
    {302, "Found", "found"},
    {303, "See Other", "see_other"},
    {304, "Not Modified", "not_modified"},
    {307, "Temporary Redirect", "temporary_redirect"},
    {308, "Permanent Redirect", "permanent_redirect"},
    {400, "Bad Request", "bad_request"},
    {401, "Unauthorized", "unauthorized"},
    {403, "Forbidden", "forbidden"},
    {404, "Not Found", "not_found"},
    {405, "Method Not Allowed", "method_not_allowed"},
    {406, "Not Acceptable", "not_acceptable"},
    {408, "Request Timeout", "request_timeout"},
    {409, "Conflict", "conflict"},
    {410, "Gone", "gone"},
    {411, "Length Required", "length_required"},
    {412, "Precondition Failed", "precondition_failed"},
    {413, "Payload Too Large", "payload_too_large"},
    {414, "URI Too Long", "uri_too_long"},
    {415, "Unsupported Media Type", "unsupported_media_type"},
    {416, "Range Not Satisfiable", "range_not_satisfiable"},
    {417, "Expectation Failed", "expectation_failed"},
    {422, "Unprocessable Entity", "unprocessable_entity"},
    {423, "Locked", "locked"},
    {426, "Upgrade Required", "upgrade_required"},
    {428, "Precondition Required", "precondition_required"},
    {429, "Too Many Requests", "too_many_requests"},
    {431, "Request Header Fields Too Large", "request_header_fields_too_large"},
    {451, "Unavailable For Legal Reasons", "unavailable_for_legal_reasons"},
    {500, "Internal Server Error", "internal_error"},
    {501, "Not Implemented", "not_implemented"},
    {502, "Bad Gateway", "bad_gateway"},
    {503, "Service Unavailable", "service_unavailable"},
    {504, "Gateway Timeout", "gateway_timeout"},
    {505, "HTTP Version Not Supported", "http_version_not_supported"},
};

static const struct status *status_find(int code)
{
    size_t lo = 0, hi = sizeof statuses / sizeof statuses[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (statuses[mid].code == code)
            return &statuses[mid];
        if (statuses[mid].code < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *es__http_status_text(int status)
{
    const struct status *s = status_find(status);
    if (s)
        return s->text;
    return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "Unknown";
}

const char *es__http_status_name(int status)
{
    const struct status *s = status_find(status);
    if (s)
        return s->name;
    return status >= 500 ? "server_error" : status >= 400 ? "client_error" : "unknown";
}

/* ---- decoding ---- */

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* pct_decode appends s[0..n) percent-decoded to b, then a NUL; '+' becomes a
 * space when plus is set (query strings). A '%' not followed by two hex digits,
 * or an escaped NUL, is ES_EPARSE: the request is refused rather than guessed. */
static int pct_decode(struct es_buf *b, const char *s, size_t n, bool plus)
{
    int rc = es_buf_reserve(b, n + 1);
    if (rc)
        return rc;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%') {
            if (n - i < 3) /* fewer than two characters follow */
                return ES_EPARSE;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return ES_EPARSE;
            *o++ = (char)(h << 4 | l);
            i += 2;
        } else if (ch == '+' && plus) {
            *o++ = ' ';
        } else {
            *o++ = (char)ch;
        }
    }
    *o++ = '\0';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* decode_query splits "a=1&b=x+y" into the request's parameter table. */
static int decode_query(struct es_http_conn *c, const char *q, size_t n, size_t offs[][2],
                        size_t *count, const char **reason)
{
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && q[end] != '&')
            end++;
        if (end > i) {
            if (*count >= ES_HTTP_MAX_PARAMS) {
                *reason = "too_many_parameters";
                return 400;
            }
            size_t eq = i;
            while (eq < end && q[eq] != '=')
                eq++;
            offs[*count][0] = c->dec.len;
            int rc = pct_decode(&c->dec, q + i, eq - i, true);
            if (rc == 0) {
                offs[*count][1] = c->dec.len;
                rc = eq < end ? pct_decode(&c->dec, q + eq + 1, end - eq - 1, true)
                              : pct_decode(&c->dec, "", 0, true);
            }
            if (rc) {
                *reason = rc == ES_EPARSE ? "bad_query_escape" : "query_too_long";
                return rc == ES_EPARSE ? 400 : 414;
            }
            (*count)++;
        }
        i = end + 1;
    }
    return 0;
}

static void trim_value(char *v)
{
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
}

int es__http_req_finish(struct es_http_conn *c, const char **reason)
{
    struct es_http_req *r = &c->req;
    const char *url = c->head.data;
    size_t url_len = c->url_len;
    for (size_t i = 0; i < r->nheaders; i++)
        trim_value(c->head.data + r->headers[i].value);

    struct http_parser_url u;
    http_parser_url_init(&u);
    const char *path = "*";
    size_t path_len = 1;
    const char *query = NULL;
    size_t query_len = 0;
    if (!(url_len == 1 && url[0] == '*')) {
        if (http_parser_parse_url(url, url_len, c->parser.method == HTTP_CONNECT, &u) != 0) {
            *reason = "bad_url";
            return 400;
        }
        if (u.field_set & (1 << UF_PATH)) {
            path = url + u.field_data[UF_PATH].off;
            path_len = u.field_data[UF_PATH].len;
        } else {
            path = "/";
        }
        if (u.field_set & (1 << UF_QUERY)) {
            query = url + u.field_data[UF_QUERY].off;
            query_len = u.field_data[UF_QUERY].len;
        }
    }
    if (path[0] != '/' && !(path_len == 1 && path[0] == '*') && c->parser.method != HTTP_CONNECT) {
        *reason = "bad_path";
        return 400;
    }

    /* Offsets first: dec may move while it grows. */
    size_t offs[ES_HTTP_MAX_PARAMS][2];
    size_t count = 0;
    es_buf_reset(&c->dec);
    int rc = pct_decode(&c->dec, path, path_len, false);
    if (rc) {
        *reason = rc == ES_EPARSE ? "bad_path_escape" : "path_too_long";
        return rc == ES_EPARSE ? 400 : 414;
    }
    int st = decode_query(c, query, query_len, offs, &count, reason);
    if (st)
        return st;
    r->path = c->dec.data;
    for (size_t i = 0; i < count; i++) {
        r->params[i][0] = c->dec.data + offs[i][0];
        r->params[i][1] = c->dec.data + offs[i][1];
    }
    r->nparams = count;
    return 0;
}

/* ---- accessors ---- */

const char *es_http_method(const struct es_http_req *r)
{
    return r->method;
}

const char *es_http_path(const struct es_http_req *r)
{
    return r->path;
}

const char *es_http_query(const struct es_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i][0], name) == 0)
            return r->params[i][1];
    return NULL;
}

const char *es_http_header(const struct es_http_req *r, const char *name)
{
    const char *base = r->conn->head.data;
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(base + r->headers[i].name, name) == 0)
            return base + r->headers[i].value;
    return NULL;
}

const char *es_http_body(const struct es_http_req *r, size_t *len)
{
    const struct es_buf *b = &r->conn->body;
    if (len)
        *len = b->len;
    return b->data ? b->data : "";
}

const char *es_http_peer(const struct es_http_req *r)
{
    return r->conn->peer;
}

bool es_http_gone(const struct es_http_req *r)
{
    return r->gone;
}

void es_http_set_data(struct es_http_req *r, void *data)
{
    r->data = data;
}

void *es_http_data(const struct es_http_req *r)
{
    return r->data;
}

void es_http_on_gone(struct es_http_req *r, void (*cb)(struct es_http_req *r, void *ud), void *ud)
{
    r->on_gone = cb;
    r->gone_ud = ud;
}
