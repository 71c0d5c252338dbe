/*
 * test_respond_fears_alloc: every allocation of es_fears_load, of the text
 * check and of the similarity functions may fail; each failure must come back
 * as ES_ENOMEM (or a negative similarity) with nothing leaked or half-built
 * (the sanitizer build checks the leaks).
 */
#include <stdlib.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/norm.h"
#include "harness.h"

static struct es_norm *nm;

/* Failures at 0..DENSE, then every STRIDE-th until a load succeeds: a full load makes
 * thousands of allocations (it checks every template), each try compiles every regex. */
#define DENSE 1000
#define STRIDE 17

ES_TEST(load_survives_every_failed_allocation)
{
    long tries = 0;
    for (long n = 0;; n = n < DENSE ? n + 1 : n + STRIDE) {
        struct es_fears *f = NULL;
        struct es_diag d = {0};
        es_alloc_fail_after(n);
        int rc = es_fears_load(nm, ES_SOURCE_DIR "/rules/fears", &f, &d);
        es_alloc_fail_after(-1);
        tries++;
        if (rc == 0) {
            ES_ASSERT(f != NULL);
            es_fears_free(f);
            break;
        }
        if (rc != ES_ENOMEM)
            ES_FAILF("fail after %ld: rc %d (%s) %s", n, rc, es_strerror(rc), d.msg);
        ES_ASSERT(f == NULL);
        ES_ASSERT(n < 10000000);
    }
    printf("  %ld loads\n", tries);
    es_alloc_fail_after(0);
    ES_ASSERT(es_fears_new(nm, ES_SOURCE_DIR "/rules/fears", NULL) == NULL);
    es_alloc_fail_after(-1);
}

ES_TEST(checks_survive_every_failed_allocation)
{
    struct es_fears *f = es_fears_new(nm, ES_SOURCE_DIR "/rules/fears", NULL);
    ES_ASSERT(f != NULL);
    const char *text = "Hi {name}, 请拨打400-820-8820 or see https://forms.gle/x. 私信我们. "
                       "Sorry for the inconvenience.";
    struct es_fears_report r;
    bool ok = false;
    for (long n = 0; n < 200 && !ok; n++) {
        es_alloc_fail_after(n);
        int rc = es_fears_check_text(f, text, strlen(text), &r);
        es_alloc_fail_after(-1);
        if (rc == 0) {
            ok = true;
            ES_ASSERT(r.deflection && r.dm_invite && r.unfilled && r.n_stock == 1);
        } else {
            ES_ASSERT_EQ(rc, ES_ENOMEM);
        }
    }
    ES_ASSERT(ok);
    ok = false;
    for (long n = 0; n < 200 && !ok; n++) {
        struct es_fears_sketch s;
        char *m = NULL;
        es_alloc_fail_after(n);
        int rc = es_fears_sketch(f, text, strlen(text), &s);
        int rc2 = es_fears_shingle_text(f, text, strlen(text), &m, NULL);
        double sim = es_fears_similarity("abcdef", 6, "abcdeg", 6);
        char *filled = NULL;
        int rc3 = es_fears_fill("{name} {order}", NULL, &filled);
        es_alloc_fail_after(-1);
        ES_ASSERT(rc == 0 || rc == ES_ENOMEM);
        ES_ASSERT(rc2 == 0 || rc2 == ES_ENOMEM);
        ES_ASSERT(rc3 == 0 || rc3 == ES_ENOMEM);
        ES_ASSERT(sim >= 0 || sim == -1.0);
        ES_ASSERT((rc2 == 0) == (m != NULL));
        es_free(m);
        es_free(filled);
        ok = rc == 0 && rc2 == 0 && rc3 == 0 && sim >= 0;
    }
    ES_ASSERT(ok);
    es_fears_free(f);
}

int main(void)
{
    nm = es_norm_new(NULL, NULL);
    if (!nm)
        return 1;
    ES_RUN(load_survives_every_failed_allocation);
    ES_RUN(checks_survive_every_failed_allocation);
    es_norm_free(nm);
    return ES_DONE();
}
