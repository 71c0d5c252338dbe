/*
 * asset: the console's files, embedded at build time (src/http/embed turns
 * every file under src/console into a table sorted by path), served with a
 * strong ETag, revalidation (304) and a gzip variant when the client takes it.
 *
 * Cache-Control is "no-cache": the file names carry no content hash, so a
 * browser revalidates each time and gets a cheap 304 until the binary changes.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

static int cmp_path(const void *key, const void *elem)
{
    return strcmp(key, ((const struct es_http_asset *)elem)->path);
}

const struct es_http_asset *es__http_asset_lookup(const struct es_http_asset *table, size_t n,
                                                  const char *path)
{
    if (!path || !table || n == 0)
        return NULL;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    return bsearch(path, table, n, sizeof *table, cmp_path);
}

const struct es_http_asset *es_http_asset_find(const char *path)
{
    return es__http_asset_lookup(es__http_assets, es__http_asset_count, path);
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* qvalue_zero: the parameters of one Accept-Encoding member ("; q=0.000") say
 * the coding is refused. */
static bool qvalue_zero(const char *p, const char *end)
{
    while (p < end) {
        p = skip_ows(p, end);
        if (p + 2 <= end && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p >= end || *p != '0')
                return false;
            for (p++; p < end && *p != ';'; p++)
                if (*p != '.' && *p != '0' && *p != ' ' && *p != '\t')
                    return false;
            return true;
        }
        while (p < end && *p != ';')
            p++;
        if (p < end)
            p++;
    }
    return false;
}

/* accepts_gzip reads Accept-Encoding: "gzip", "x-gzip" or "*" with a q above 0. */
static bool accepts_gzip(const char *ae)
{
    if (!ae)
        return false;
    int gzip = -1, star = -1; /* -1 unsaid, 0 refused, 1 accepted */
    const char *p = ae;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *name = skip_ows(p, end), *ne = name;
        while (ne < end && *ne != ';' && *ne != ' ' && *ne != '\t')
            ne++;
        const char *params = ne;
        while (params < end && *params != ';')
            params++;
        int ok = qvalue_zero(params < end ? params + 1 : end, end) ? 0 : 1;
        size_t nl = (size_t)(ne - name);
        if ((nl == 4 && strncasecmp(name, "gzip", 4) == 0) ||
            (nl == 6 && strncasecmp(name, "x-gzip", 6) == 0))
            gzip = ok;
        else if (nl == 1 && name[0] == '*')
            star = ok;
        p = *end ? end + 1 : end;
    }
    return gzip == 1 || (gzip == -1 && star == 1);
}

/* etag_matches: If-None-Match lists our ETag (weak comparison) or is "*". */
static bool etag_matches(const char *inm, const char *etag)
{
    if (!inm || !etag)
        return false;
    size_t el = strlen(etag);
    const char *p = inm;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *t = skip_ows(p, end), *te = end;
        while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if (te - t == 1 && *t == '*')
            return true;
        if (te - t >= 2 && t[0] == 'W' && t[1] == '/')
            t += 2;
        if ((size_t)(te - t) == el && memcmp(t, etag, el) == 0)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

int es_http_respond_asset(struct es_http_req *r, const struct es_http_asset *a)
{
    if (!a)
        return es_http_error(r, 404, "not_found", "no such file");
    char extra[256];
    bool fresh = etag_matches(es_http_header(r, "If-None-Match"), a->etag);
    bool gz = !fresh && a->gz && accepts_gzip(es_http_header(r, "Accept-Encoding"));
    snprintf(extra, sizeof extra,
             "ETag: %s\r\nCache-Control: no-cache\r\nVary: Accept-Encoding\r\n%s",
             a->etag ? a->etag : "\"\"", gz ? "Content-Encoding: gzip\r\n" : "");
    if (fresh)
        return es_http_respond(r, 304, NULL, extra, NULL, 0);
    if (gz)
        return es_http_respond(r, 200, a->content_type, extra, a->gz, a->gz_len);
    return es_http_respond(r, 200, a->content_type, extra, a->data, a->len);
}
