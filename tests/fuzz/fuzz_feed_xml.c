/*
 * fuzz_feed_xml: WeChat push-message XML through es_feed_parse.
 */
#include <stdint.h>

#include "earshot/feed.h"

static void on_post(void *ud, const struct es_post *p)
{
    size_t *n = ud;
    if (!p->id || !p->text)
        __builtin_trap();
    struct es_post *q = es_post_copy(p);
    es_post_free(q);
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    struct es_feed_opts o = {.format = ES_FORMAT_WECHAT_XML, .source = "fuzz"};
    es_feed_parse((const char *)data, size, &o, on_post, NULL, &n);
    return 0;
}
