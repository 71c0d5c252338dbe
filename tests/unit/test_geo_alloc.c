/*
 * test_geo_alloc: every allocation of the config parsers can fail; the
 * result is ES_ENOMEM with *out untouched, nothing leaks (run under ASan),
 * and the same input parses once memory is back.
 */
#include "earshot/alloc.h"
#include "earshot/geo.h"
#include "harness.h"

static const char FENCES[] =
    "[{\"id\":\"xidan_store\",\"brand\":\"starbucks\",\"name\":\"西单大悦城店\","
    "\"team\":\"bj-stores\",\"circle\":{\"lat\":39.9087,\"lon\":116.3747,\"radius_m\":300}},"
    " {\"id\":\"jfk_t4\",\"brand\":\"delta\",\"name\":\"JFK Terminal 4\",\"team\":\"nyc-airports\","
    "\"polygon\":[[-73.79,40.64],[-73.78,40.64],[-73.78,40.65],[-73.79,40.65],[-73.79,40.64]]},"
    " {\"id\":\"city\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
    "\"polygon\":[[116,39.5],[117,39.5],[117,40.5],[116,40.5]]},"
    " {\"id\":\"pole\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
    "\"circle\":{\"lat\":89.999,\"lon\":0,\"radius_m\":5000}}]";

/* A config whose error comes after allocations: cleanup on the error path too. */
static const char FENCES_BAD[] = "[{\"id\":\"a\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
                                 "\"polygon\":[[0,0],[1,0],[1,1]]},"
                                 " {\"id\":\"a\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
                                 "\"polygon\":[[0,0],[1,0],[1,1]]}]";

static int run_fences(const char *text, int want_rc)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        return -100;
    int succeeded = 0;
    for (long k = 0; k < 200 && !succeeded; k++) {
        struct es_fences *f = (struct es_fences *)&succeeded; /* must stay untouched */
        struct es_diag d = {0};
        es_alloc_fail_after(k);
        int rc = es_fences_parse(j, &f, &d);
        es_alloc_fail_after(-1);
        if (rc == want_rc && (rc != 0 || f != (struct es_fences *)&succeeded)) {
            succeeded = 1;
            printf("  each of the first %ld allocations failed in turn, cleanly\n", k);
            if (rc == 0) {
                int ok = es_geo_match(f, 39.9087, 116.3747, NULL, 0) == 2;
                es_fences_free(f);
                if (!ok) {
                    json_decref(j);
                    return -101;
                }
            }
        } else if (rc != ES_ENOMEM || f != (struct es_fences *)&succeeded) {
            printf("  failing allocation %ld: rc %d (%s)\n", k, rc, d.msg);
            json_decref(j);
            return -102;
        }
    }
    json_decref(j);
    return succeeded ? 0 : -103;
}

ES_TEST(fences_parse_fails_cleanly_at_every_allocation)
{
    ES_ASSERT_EQ(run_fences(FENCES, 0), 0);
}

ES_TEST(fences_error_path_fails_cleanly_at_every_allocation)
{
    ES_ASSERT_EQ(run_fences(FENCES_BAD, ES_EPARSE), 0);
}

ES_TEST(sla_parse_needs_no_allocation)
{
    json_t *j = json_loads("{\"default_minutes\":60,\"channels\":{\"wechat\":10},"
                           "\"tiers\":{\"vip\":10,\"gold\":30},\"severity\":{\"4\":15}}",
                           0, NULL);
    ES_ASSERT(j != NULL);
    struct es_sla_policy p;
    es_alloc_fail_after(0);
    int rc = es_sla_parse(j, &p, NULL);
    es_alloc_fail_after(-1);
    json_decref(j);
    ES_ASSERT_EQ(rc, 0);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "twitter", "gold", 1), 30 * 60000);
}

int main(void)
{
    ES_RUN(fences_parse_fails_cleanly_at_every_allocation);
    ES_RUN(fences_error_path_fails_cleanly_at_every_allocation);
    ES_RUN(sla_parse_needs_no_allocation);
    return ES_DONE();
}
