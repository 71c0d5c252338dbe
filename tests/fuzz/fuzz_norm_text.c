/*
 * fuzz_norm_text: normalise arbitrary bytes and check what es_norm_text
 * promises: valid UTF-8, NUL-terminated, no leading, trailing or doubled
 * space, maps non-decreasing and inside the input, es_norm_span inside the
 * input, and (when no '&' is left to decode) a second pass changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/norm.h"
#include "earshot/utf8.h"

static struct es_norm *nm;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nm) {
        nm = es_norm_new(NULL, NULL);
        CHECK(nm != NULL);
    }
    struct es_norm_out o, again;
    es_norm_out_init(&o, 1 << 20);
    es_norm_out_init(&again, 1 << 20);
    const char *s = (const char *)data;
    if (size > o.cap) {
        es_norm_out_cleanup(&o);
        es_norm_out_cleanup(&again);
        return 0;
    }
    CHECK(es_norm_text(nm, s, size, &o) == 0);
    CHECK(o.text[o.len] == '\0');
    CHECK(es_utf8_valid(o.text, o.len));
    CHECK(o.map[o.len] == size && o.map_end[o.len] == size);
    if (o.len > 0)
        CHECK(o.text[0] != ' ' && o.text[o.len - 1] != ' ');
    for (size_t i = 0; i < o.len; i++) {
        CHECK(o.map[i] < size && o.map[i] < o.map_end[i] && o.map_end[i] <= size);
        if (i > 0) {
            CHECK(o.map[i] >= o.map[i - 1] && o.map_end[i] >= o.map_end[i - 1]);
            CHECK(!(o.text[i] == ' ' && o.text[i - 1] == ' '));
        }
    }
    /* A few spans, from bytes of the input. */
    for (size_t k = 0; k + 1 < size && k < 16; k += 2) {
        size_t a = data[k] % (o.len + 2), b = data[k + 1] % (o.len + 2), x, y;
        es_norm_span(&o, a, b, &x, &y);
        CHECK(x <= y && y <= size);
    }
    if (!memchr(o.text, '&', o.len)) {
        CHECK(es_norm_text(nm, o.text, o.len, &again) == 0);
        CHECK(again.len == o.len && memcmp(again.text, o.text, o.len) == 0);
    }
    es_norm_out_cleanup(&o);
    es_norm_out_cleanup(&again);
    return 0;
}
