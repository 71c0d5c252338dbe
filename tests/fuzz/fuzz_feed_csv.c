/*
 * fuzz_feed_csv: the CSV push parser, fed in chunks whose size comes from
 * the first input byte, with a small record cap so the cap path runs.
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

static void on_diag(void *ud, const struct es_diag *d)
{
    (void)ud;
    (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1;
    struct es_csv_opts o = {.source = "fuzz", .max_record = (size_t)(data[0] & 1 ? 64 : 4096)};
    struct es_csv *c = es_csv_new(&o, on_post, on_diag, &n);
    if (!c)
        return 0;
    data++;
    size--;
    for (size_t i = 0; i < size; i += chunk)
        if (es_csv_feed(c, (const char *)data + i, size - i < chunk ? size - i : chunk) != 0)
            break;
    es_csv_finish(c);
    es_csv_free(c);
    return 0;
}
