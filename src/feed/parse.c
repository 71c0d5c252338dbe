/*
 * parse: es_feed_parse, the entry point. It loads the document once, picks
 * the adapter (the one asked for, or by shape) and runs it over the tree.
 *
 * Invalid UTF-8: jansson (and expat) refuse a document holding invalid
 * UTF-8, which would drop every good post on a page for one bad byte. So a document that
 * is not valid UTF-8 is first copied with each invalid byte replaced by
 * U+FFFD (one warning per document), then parsed.
 */
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/utf8.h"
#include "feed/feed_int.h"

/* Documents larger than this are refused outright (hostile input). */
#define ES_FEED_DOC_MAX ((size_t)256 << 20)

static const char *skip_ws(const char *p, const char *end)
{
    if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

static int looks_like_xml(const char *buf, size_t len)
{
    const char *p = skip_ws(buf, buf + len);
    return p < buf + len && *p == '<';
}

static int has(const json_t *o, const char *k)
{
    return json_object_get(o, k) != NULL;
}

static enum es_format detect_object(const json_t *o)
{
    const json_t *data = json_object_get(o, "data");
    if (has(o, "ok") || has(o, "cards") || has(o, "mblog") || has(o, "idstr") || has(o, "mblogid"))
        return ES_FORMAT_WEIBO;
    if (has(o, "recordlist") || has(o, "msglist") || has(o, "msgtype") || has(o, "MsgType") ||
        has(o, "errcode"))
        return ES_FORMAT_WECHAT_JSON;
    if (has(o, "id_str"))
        return ES_FORMAT_TWITTER_V1;
    const json_t *st = json_object_get(o, "statuses");
    if (json_is_array(st)) {
        const json_t *s0 = json_array_get(st, 0);
        if (has(s0, "mid") || has(s0, "idstr") || has(s0, "mblogid"))
            return ES_FORMAT_WEIBO;
        return ES_FORMAT_TWITTER_V1;
    }
    if (data || has(o, "includes") || has(o, "matching_rules") ||
        (json_is_array(json_object_get(o, "errors")) && !has(o, "id")))
        return ES_FORMAT_TWITTER_V2;
    if (has(o, "id") && (has(o, "text") || has(o, "full_text"))) {
        /* A v1.1 status without id_str (trimmed), or our generic shape. */
        const json_t *u = json_object_get(o, "user");
        if (json_is_object(u) && has(u, "screen_name"))
            return ES_FORMAT_TWITTER_V1;
        return ES_FORMAT_GENERIC;
    }
    return ES_FORMAT_AUTO;
}

enum es_format es__feed_detect_json(const json_t *root)
{
    if (json_is_object(root))
        return detect_object(root);
    if (json_is_array(root)) {
        const json_t *first = json_array_get(root, 0);
        return json_is_object(first) ? detect_object(first) : ES_FORMAT_AUTO;
    }
    return ES_FORMAT_AUTO;
}

enum es_format es_feed_detect(const char *buf, size_t len)
{
    if (!buf || !len)
        return ES_FORMAT_AUTO;
    if (looks_like_xml(buf, len)) {
        const char *p = skip_ws(buf, buf + len), *end = buf + len;
        if (end - p >= 5 && memcmp(p, "<?xml", 5) == 0) {
            const char *q = memchr(p, '>', (size_t)(end - p));
            p = q ? skip_ws(q + 1, end) : end;
        }
        return end - p >= 4 && memcmp(p, "<xml", 4) == 0 ? ES_FORMAT_WECHAT_XML : ES_FORMAT_AUTO;
    }
    json_error_t err;
    json_t *root = json_loadb(buf, len, 0, &err);
    if (!root)
        return ES_FORMAT_AUTO;
    enum es_format f = es__feed_detect_json(root);
    json_decref(root);
    return f;
}

/* sanitise copies buf with each invalid UTF-8 byte replaced by U+FFFD. */
static char *sanitise(const char *buf, size_t len, size_t *out_len)
{
    if (len > ES_FEED_DOC_MAX / 3)
        return NULL;
    char *out = es_malloc(len * 3 + 1);
    if (!out)
        return NULL;
    const unsigned char *u = (const unsigned char *)buf;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k;
        uint32_t cp = u[i] < 0x80 ? u[i] : es_utf8_decode(u + i, len - i, &k);
        if (u[i] < 0x80) {
            out[o++] = (char)u[i++];
        } else if (cp == ES_UTF8_REPLACEMENT && k == 1) {
            o += es_utf8_encode(ES_UTF8_REPLACEMENT, out + o);
            i++;
        } else {
            memcpy(out + o, u + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static int feed_parse(const char *buf, size_t len, const struct es_feed_opts *opts,
                      es_post_cb *on_post, es_diag_cb *on_diag, void *ud,
                      struct es_page_meta *meta);

int es_feed_parse(const char *buf, size_t len, const struct es_feed_opts *opts, es_post_cb *on_post,
                  es_diag_cb *on_diag, void *ud)
{
    return feed_parse(buf, len, opts, on_post, on_diag, ud, NULL);
}

/* The page's posts pass through here on their way to the caller: count, newest, oldest. */
struct page_tap {
    es_post_cb *on_post;
    es_diag_cb *on_diag;
    void *ud;
    struct es_page_meta *meta;
};

static void page_tap_diag(void *ud, const struct es_diag *d)
{
    struct page_tap *t = ud;
    t->on_diag(t->ud, d);
}

static void page_tap_post(void *ud, const struct es_post *p)
{
    struct page_tap *t = ud;
    es__page_meta_post(t->meta, p);
    t->on_post(t->ud, p);
}

int es_feed_parse_page(const char *buf, size_t len, const struct es_feed_opts *opts,
                       es_post_cb *on_post, es_diag_cb *on_diag, void *ud,
                       struct es_page_meta *meta)
{
    struct es_page_meta local;
    if (!meta)
        meta = &local; /* a caller that only wants the posts */
    memset(meta, 0, sizeof *meta);
    meta->records = -1;
    if (!on_post)
        return ES_EINVAL;
    struct page_tap t = {on_post, on_diag, ud, meta};
    int rc = feed_parse(buf, len, opts, page_tap_post, on_diag ? page_tap_diag : NULL, &t, meta);
    if (meta->records < 0)
        meta->records = meta->count;
    return rc;
}

static int feed_parse(const char *buf, size_t len, const struct es_feed_opts *opts,
                      es_post_cb *on_post, es_diag_cb *on_diag, void *ud,
                      struct es_page_meta *meta)
{
    static const struct es_feed_opts defaults = {0};
    struct es__feed_ctx ctx, *c = &ctx;
    char *clean = NULL;
    json_t *root = NULL;
    int rc;

    if (!on_post || (!buf && len))
        return ES_EINVAL;
    c->opts = opts ? opts : &defaults;
    c->on_post = on_post;
    c->on_diag = on_diag;
    c->ud = ud;
    c->n_posts = 0;
    c->nomem = 0;
    es__arena_init(&c->arena);

    enum es_format f = c->opts->format;
    if (len > ES_FEED_DOC_MAX) {
        es__feed_diag(c, ES_DIAG_ERROR, "document of %zu bytes is over the %zu byte cap", len,
                      ES_FEED_DOC_MAX);
        rc = ES_EPARSE;
        goto out;
    }
    if (!es_utf8_valid(buf, len)) {
        size_t clean_len = 0;
        clean = sanitise(buf, len, &clean_len);
        if (!clean) {
            rc = ES_ENOMEM;
            goto out;
        }
        es__feed_diag(c, ES_DIAG_WARNING, "invalid UTF-8 replaced with U+FFFD");
        buf = clean;
        len = clean_len;
    }
    if (f == ES_FORMAT_WECHAT_XML || (f == ES_FORMAT_AUTO && looks_like_xml(buf, len))) {
        rc = es__wechat_xml_parse(c, buf, len);
        goto out;
    }
    json_error_t err;
    root = json_loadb(buf, len, 0, &err);
    if (!root) {
        if (on_diag) {
            struct es_diag d;
            d.file = c->opts->source;
            d.line = c->opts->line > 0 ? c->opts->line + err.line - 1 : err.line;
            d.col = err.column > 0 ? err.column : 0;
            d.severity = ES_DIAG_ERROR;
            snprintf(d.msg, sizeof d.msg, "not JSON: %s", err.text);
            on_diag(ud, &d);
        }
        rc = ES_EPARSE;
        goto out;
    }
    if (f == ES_FORMAT_AUTO) {
        f = es__feed_detect_json(root);
        if (f == ES_FORMAT_AUTO) {
            if (json_is_array(root) && json_array_size(root) == 0) {
                rc = 0;
                goto out;
            }
            es__feed_diag(c, ES_DIAG_ERROR, "unrecognised payload shape (no known posts)");
            rc = ES_EPARSE;
            goto out;
        }
    }
    switch (f) {
    case ES_FORMAT_TWITTER_V2:
        es__twitter_v2_parse(c, root);
        break;
    case ES_FORMAT_TWITTER_V1:
        es__twitter_v1_parse(c, root);
        break;
    case ES_FORMAT_WEIBO:
        es__weibo_parse(c, root);
        break;
    case ES_FORMAT_WECHAT_JSON:
        es__wechat_json_parse(c, root);
        break;
    case ES_FORMAT_GENERIC:
        es__generic_parse(c, root);
        break;
    default:
        es__feed_diag(c, ES_DIAG_ERROR, "unknown format %d", (int)f);
        rc = ES_EINVAL;
        goto out;
    }
    if (meta)
        es__page_meta_doc(meta, f, root);
    rc = 0;
out:
    if (rc >= 0)
        rc = c->nomem ? ES_ENOMEM : c->n_posts;
    json_decref(root);
    es_free(clean);
    es__arena_reset(&c->arena);
    return rc;
}
