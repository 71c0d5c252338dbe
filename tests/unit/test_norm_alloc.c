/*
 * test_norm_alloc: every allocation of es_norm_new, es_norm_text and
 * es_norm_string can fail; the result is NULL or ES_ENOMEM, nothing leaks
 * (run under ASan) and the structures stay usable.
 */
#include <stdlib.h>

#include "earshot/alloc.h"
#include "earshot/err.h"
#include "earshot/norm.h"
#include "harness.h"

/* Mostly invalid bytes, so the output outgrows its first allocation. */
static const char text[] = "ＳＴＡＲ 門市 \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                           "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";

ES_TEST(new_fails_cleanly)
{
    es_alloc_fail_after(0);
    struct es_norm *n = es_norm_new(NULL, NULL);
    es_alloc_fail_after(-1);
    ES_ASSERT(n == NULL);
    /* One allocation allowed: the struct, then the OpenCC batch fails. */
    es_alloc_fail_after(1);
    n = es_norm_new(NULL, NULL);
    es_alloc_fail_after(-1);
    ES_ASSERT(n == NULL);
}

ES_TEST(text_fails_cleanly_at_every_allocation)
{
    struct es_norm *n = es_norm_new(NULL, NULL);
    ES_ASSERT(n != NULL);
    int succeeded = 0;
    for (long k = 0; k < 32 && !succeeded; k++) {
        struct es_norm_out o;
        es_norm_out_init(&o, 0);
        es_alloc_fail_after(k);
        int rc = es_norm_text(n, text, sizeof text - 1, &o);
        es_alloc_fail_after(-1);
        if (rc == 0) {
            succeeded = 1;
        } else {
            int ok = rc == ES_ENOMEM && o.len == 0;
            /* Still usable once memory is back. */
            ok = ok && es_norm_text(n, text, sizeof text - 1, &o) == 0 &&
                 strncmp(o.text, "star 门市 \xef\xbf\xbd", 15) == 0;
            if (!ok) {
                es_norm_out_cleanup(&o);
                es_norm_free(n);
                ES_FAILF("failing allocation %ld: rc %d", k, rc);
            }
        }
        es_norm_out_cleanup(&o);
    }
    ES_ASSERT(succeeded);

    /* The mid-text growth fails: the first reservation is len + 16 bytes. */
    struct es_norm_out o;
    es_norm_out_init(&o, 0);
    es_alloc_fail_after(3);
    int rc = es_norm_text(n, text, sizeof text - 1, &o);
    es_alloc_fail_after(-1);
    es_norm_out_cleanup(&o);
    es_norm_free(n);
    ES_ASSERT_EQ(rc, ES_ENOMEM);
}

ES_TEST(string_fails_cleanly)
{
    struct es_norm *n = es_norm_new(NULL, NULL);
    ES_ASSERT(n != NULL);
    int succeeded = 0;
    for (long k = 0; k < 16 && !succeeded; k++) {
        es_alloc_fail_after(k);
        char *s = es_norm_string(n, "ＡＢ 臺灣");
        es_alloc_fail_after(-1);
        if (s) {
            succeeded = strcmp(s, "ab 台湾") == 0;
            es_free(s);
            if (!succeeded)
                break;
        }
    }
    es_norm_free(n);
    ES_ASSERT(succeeded);
}

int main(void)
{
    ES_RUN(new_fails_cleanly);
    ES_RUN(text_fails_cleanly_at_every_allocation);
    ES_RUN(string_fails_cleanly);
    return ES_DONE();
}
