/*
 * fuzz_feed_json: es_feed_parse over arbitrary bytes, once with AUTO and
 * once with the format picked by the first input byte, so every JSON adapter
 * sees every shape. Posts are copied and freed to exercise es_post_copy.
 */
#include <stdint.h>
#include <string.h>

#include "earshot/feed.h"

static void on_post(void *ud, const struct es_post *p)
{
    size_t *n = ud;
    struct es_post *q = es_post_copy(p);
    if (q && q->text_len != p->text_len)
        __builtin_trap();
    if (!p->id || !p->text || memchr(p->text, 0, 0) != NULL)
        __builtin_trap();
    es_post_free(q);
    (*n)++;
}

static void on_diag(void *ud, const struct es_diag *d)
{
    (void)ud;
    (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum es_format formats[] = {ES_FORMAT_TWITTER_V2, ES_FORMAT_TWITTER_V1,
                                             ES_FORMAT_WEIBO, ES_FORMAT_WECHAT_JSON,
                                             ES_FORMAT_GENERIC};
    size_t n = 0;
    struct es_feed_opts o = {
        .format = ES_FORMAT_AUTO, .source = "fuzz", .line = 1, .ref_time = 1589860800};
    es_feed_parse((const char *)data, size, &o, on_post, on_diag, &n);
    es_feed_detect((const char *)data, size);
    if (size > 0) {
        o.format = formats[data[0] % 5];
        es_feed_parse((const char *)data, size, &o, on_post, on_diag, &n);
        /* the Weibo helpers on the raw bytes as a string */
        char buf[256], out[257];
        size_t k = size < sizeof buf - 1 ? size : sizeof buf - 1;
        memcpy(buf, data, k);
        buf[k] = '\0';
        int64_t t;
        es_weibo_parse_time(buf, 1589860800, 28800, &t);
        size_t m = es_html_strip(buf, k, out);
        if (m > k)
            __builtin_trap();
    }
    return 0;
}
