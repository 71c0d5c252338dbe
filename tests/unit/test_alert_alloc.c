/*
 * test_alert_alloc: every allocation of the subscription parser and of the
 * renderers can fail. Jansson allocates through es_malloc here, so the Nth
 * allocation fails for N = 0, 1, ... until the call succeeds: each failing
 * call must return ES_ENOMEM (no crash, nothing leaked under ASan, no
 * half-built result), and the first success must give exactly what the
 * call gives with memory to spare (a failure silently ignored would drop a
 * field, a header or a line, and show up as a difference).
 *
 * es_alloc_fail_after fails every allocation after the Nth, so a failure
 * ignored early is caught only if nothing allocates later; the *_one_*
 * tests also fail exactly one of Jansson's allocations and let the rest
 * succeed: the call must then say ES_ENOMEM or give the full result.
 */
#include <string.h>

#include "alert/internal.h"
#include "earshot/alloc.h"
#include "harness.h"

#define MAX_N 20000

/* Jansson's allocator: es_malloc, except that allocation number j_fail_at fails */
static long j_fail_at = -1, j_count;

static void *j_malloc(size_t n)
{
    if (j_count++ == j_fail_at)
        return NULL;
    return es_malloc(n);
}

static const char PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfTCCASOgAwIBAgIUO4cX8LkidfN/IGEL/Po1iO7N2EEwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJMTI3LjAuMC4xMB4XDTI2MTEyMjEzMjgzMloXDTM2MTExOTEz\n"
    "MjgzMlowFDESMBAGA1UEAwwJMTI3LjAuMC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
    "AQcDQgAE3af/ky7eKOXFID8h/up749ZsHEB3Z6PRM6mFRdXq5z7BTuXmpednihmH\n"
    "ilTCuqtC4KLxJf0fg8A1Vg8jevRzvKNTMFEwHQYDVR0OBBYEFBG7UVEjHW6cqVHT\n"
    "rKyAm0iC4WR0MB8GA1UdIwQYMBaAFBG7UVEjHW6cqVHTrKyAm0iC4WR0MA8GA1Ud\n"
    "EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgPUldxAwO3jbKFpAEEETMviH7\n"
    "oQedBtndMmFaAVSDHW0CIQCGFBF609YF7FKoSgsjJOL3v1mhPTFL+1HCFbWgAHwh\n"
    "/w==\n"
    "-----END CERTIFICATE-----\n";

static json_t *full_sub(void)
{
    json_t *s = json_loads(
        "{\"id\": \"acme-care\", \"name\": \"ACME 客服\", \"brands\": [\"acme\", \"星巴克\"],"
        " \"categories\": [\"service\"], \"fences\": [\"xidan\"], \"keywords\": [\"排队\"],"
        " \"min_severity\": 2, \"events\": [\"mention\", \"churn\"], \"mode\": \"digest\","
        " \"interval_s\": 60, \"lang\": \"en\", \"created_ms\": 1700000000000,"
        " \"channels\": ["
        "  {\"type\": \"webhook\", \"url\": \"https://127.0.0.1/h\", \"secret\": \"s\"},"
        "  {\"type\": \"slack\", \"url\": \"https://10.0.0.1/s\"},"
        "  {\"type\": \"dingtalk\", \"url\": \"https://[::1]/r?access_token=T\", \"secret\": "
        "\"d\"},"
        "  {\"type\": \"wecom\", \"url\": \"https://hooks.example/w?key=K\"},"
        "  {\"type\": \"feishu\", \"url\": \"https://hooks.example/f\", \"secret\": \"f\"},"
        "  {\"type\": \"email\", \"url\": \"smtp://mail.example:587\", \"from\": \"a@b.test\","
        "   \"to\": [\"c@d.test\", \"e@f.test\"]}]}",
        0, NULL);
    json_t *email = json_array_get(json_object_get(s, "channels"), 5);
    json_object_set_new(email, "tls_ca", json_string(PEM));
    return s;
}

/* validate with the Nth allocation failing, until it gives want_rc and want (or want_msg) */
static int run_validate(json_t *in, int want_rc, json_t *want, const char *want_msg)
{
    for (long k = 0; k < MAX_N; k++) {
        struct es_diag d = {0};
        json_t *out = NULL;
        es_alloc_fail_after(k);
        int rc = es_alert_sub_validate(in, "127.0.0.1,::1,10.0.0.0/8", false, &out, &d);
        es_alloc_fail_after(-1);
        if (rc == ES_ENOMEM) {
            if (out) {
                printf("  allocation %ld: ES_ENOMEM with a result\n", k);
                return -1;
            }
            continue;
        }
        int ok = rc == want_rc && (rc != 0 || json_equal(out, want)) &&
                 (rc == 0 || (want_msg && strcmp(d.msg, want_msg) == 0));
        if (!ok) {
            char *got = out ? json_dumps(out, JSON_COMPACT) : NULL;
            printf("  allocation %ld failed: rc %d (%s) %s\n", k, rc, d.msg, got ? got : "");
            free(got);
        } else {
            printf("  each of the first %ld allocations failed in turn, cleanly\n", k);
        }
        json_decref(out);
        return ok ? 0 : -1;
    }
    return -2;
}

ES_TEST(sub_validate_fails_cleanly_at_every_allocation)
{
    json_t *in = full_sub(), *want = NULL;
    struct es_diag d = {0};
    ES_ASSERT(in != NULL);
    ES_ASSERT_EQ(es_alert_sub_validate(in, "127.0.0.1,::1,10.0.0.0/8", false, &want, &d), 0);
    int rc = run_validate(in, 0, want, NULL);
    json_decref(want);
    json_decref(in);
    ES_ASSERT_EQ(rc, 0);
}

ES_TEST(sub_validate_error_path_fails_cleanly_at_every_allocation)
{
    /* the error comes after the lists and the first channels were built */
    static const char *bad[] = {
        "{\"brands\": [\"a\"], \"keywords\": [\"b\"], \"channels\": ["
        " {\"type\": \"webhook\", \"url\": \"http://127.0.0.1/\"},"
        " {\"type\": \"email\", \"url\": \"smtp://127.0.0.1\", \"from\": \"a@b.test\","
        "  \"to\": [\"c@d.test\", \"not an address\"]}]}",
        "{\"events\": [\"mention\", \"nope\"], \"channels\": []}",
        "{\"channels\": [{\"type\": \"slack\", \"url\": \"https://10.0.0.1/\"},"
        " {\"type\": \"wecom\", \"url\": \"http://169.254.169.254/\"}]}",
        "{\"channels\": [{\"type\": \"email\", \"url\": \"smtp://127.0.0.1\","
        " \"from\": \"a@b.test\", \"to\": [\"c@d.test\"], \"tls_ca\": \"/etc/ssl/ca.pem\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *in = json_loads(bad[i], 0, NULL), *out = NULL;
        struct es_diag d = {0};
        ES_ASSERT(in != NULL);
        ES_ASSERT_EQ(es_alert_sub_validate(in, "127.0.0.1", false, &out, &d), ES_EPARSE);
        ES_ASSERT(out == NULL);
        for (long k = 0; k < MAX_N; k++) {
            struct es_diag d2 = {0};
            es_alloc_fail_after(k);
            int rc = es_alert_sub_validate(in, "127.0.0.1", false, &out, &d2);
            es_alloc_fail_after(-1);
            ES_ASSERT(out == NULL);
            if (rc == ES_ENOMEM)
                continue;
            ES_ASSERT_EQ(rc, ES_EPARSE);
            ES_ASSERT_STR(d2.msg, d.msg);
            break;
        }
        json_decref(in);
    }
}

static json_t *alert_of(const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:i, "
                     "s:s, s:{s:f, s:f, s:f, s:i}, s:[{s:s, s:i, s:s, s:s}, {s:s, s:i, s:s, "
                     "s:s}]}",
                     "id", "m1-1", "type", type, "mid", "m1-1", "brand", "星巴克", "category",
                     "service", "severity", 3, "text",
                     "排队一小时 [click](http://evil.example) <@U1> & *b* #t\nline", "author",
                     "张三 @zhang", "url", "https://weibo.com/1/2", "created_at",
                     "2026-11-22T10:00:00Z", "fence", "xidan", "event_ms",
                     (json_int_t)1700000000000, "count", 12, "interval_s", 3600,
                     "negatives_30d", 2, "sub_name", "ACME", "spike", "rate", 120.0, "baseline",
                     20.0, "ratio", 6.0, "window_min", 60, "top", "mid", "m1-1", "severity", 4,
                     "brand", "acme", "text", "queue <b>", "mid", "m1-2", "severity", 2, "brand",
                     "acme", "text", "refund");
}

static void slist_dump(struct es_buf *b, const struct curl_slist *l)
{
    for (; l; l = l->next) {
        es_buf_puts(b, l->data);
        es_buf_putc(b, '\n');
    }
}

/* a rendered message as one string (url, headers, recipients, sender, body) */
static char *msg_dump(const struct es__alert_msg *m)
{
    struct es_buf b;
    es_buf_init(&b, 1 << 20);
    es_buf_printf(&b, "%s\n", m->url ? m->url : "(null)");
    slist_dump(&b, m->hdr);
    slist_dump(&b, m->rcpt);
    es_buf_printf(&b, "%s\n", m->from ? m->from : "(null)");
    es_buf_append(&b, m->body.data ? m->body.data : "", m->body.len);
    char *s = strdup(b.data ? b.data : "");
    es_buf_cleanup(&b);
    return s;
}

ES_TEST(render_fails_cleanly_at_every_allocation)
{
    static const char *types[] = {"mention", "churn", "spike", "digest", "test"};
    static const char *langs[] = {"zh", "en"};
    json_t *sub = full_sub(), *chs = json_object_get(sub, "channels");
    size_t total = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        json_t *a = alert_of(types[t]);
        ES_ASSERT(a != NULL);
        for (size_t c = 0; c < json_array_size(chs); c++) {
            json_t *ch = json_array_get(chs, c);
            const char *lang = langs[(t + c) % 2];
            struct es__alert_msg m;
            ES_ASSERT_EQ(es__alert_render(ch, a, lang, "k0123", 1700000000123, &m), 0);
            char *want = msg_dump(&m);
            es__alert_msg_cleanup(&m);
            long k = 0;
            for (; k < MAX_N; k++) {
                es_alloc_fail_after(k);
                int rc = es__alert_render(ch, a, lang, "k0123", 1700000000123, &m);
                es_alloc_fail_after(-1);
                if (rc == ES_ENOMEM) {
                    ES_ASSERT(m.url == NULL && m.hdr == NULL && m.body.data == NULL);
                    continue;
                }
                if (rc != 0)
                    ES_FAILF("%s to %s, allocation %ld: rc %d", types[t],
                             json_string_value(json_object_get(ch, "type")), k, rc);
                char *got = msg_dump(&m);
                es__alert_msg_cleanup(&m);
                int same = strcmp(got, want) == 0;
                if (!same)
                    printf(
                        "  %s to %s, allocation %ld failed silently:\n--- want\n%s\n--- got\n%s\n",
                        types[t], json_string_value(json_object_get(ch, "type")), k, want, got);
                free(got);
                ES_ASSERT(same);
                break;
            }
            free(want);
            ES_ASSERT(k < MAX_N);
            total += (size_t)k;
        }
        json_decref(a);
    }
    printf("  %zu failing allocations over 5 alert types x 6 channels\n", total);
    json_decref(sub);
}

ES_TEST(alert_text_fails_cleanly_at_every_allocation)
{
    json_t *a = alert_of("digest");
    struct es_buf t, b;
    es_buf_init(&t, 4096);
    es_buf_init(&b, 1 << 16);
    ES_ASSERT_EQ(es__alert_text(a, "zh", true, &t, &b), 0);
    char *want_t = strdup(t.data), *want_b = strdup(b.data);
    es_buf_cleanup(&t);
    es_buf_cleanup(&b);
    long k = 0;
    for (; k < MAX_N; k++) {
        es_buf_init(&t, 4096);
        es_buf_init(&b, 1 << 16);
        es_alloc_fail_after(k);
        int rc = es__alert_text(a, "zh", true, &t, &b);
        es_alloc_fail_after(-1);
        int same = rc == 0 && strcmp(t.data, want_t) == 0 && strcmp(b.data, want_b) == 0;
        es_buf_cleanup(&t);
        es_buf_cleanup(&b);
        if (rc == ES_ENOMEM)
            continue;
        ES_ASSERT(same);
        break;
    }
    free(want_t);
    free(want_b);
    json_decref(a);
    ES_ASSERT(k > 0 && k < MAX_N);
}

ES_TEST(one_failed_json_allocation_is_never_ignored)
{
    json_t *sub = full_sub(), *want = NULL;
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_alert_sub_validate(sub, "127.0.0.1,::1,10.0.0.0/8", false, &want, &d), 0);
    long k = 0;
    for (;; k++) {
        json_t *out = NULL;
        j_count = 0;
        j_fail_at = k;
        int rc = es_alert_sub_validate(sub, "127.0.0.1,::1,10.0.0.0/8", false, &out, &d);
        j_fail_at = -1;
        bool hit = j_count > k, same = rc == 0 && json_equal(out, want);
        json_decref(out);
        if (!same && rc != ES_ENOMEM)
            ES_FAILF("validate, json allocation %ld: rc %d, result differs", k, rc);
        if (!hit)
            break;
    }
    printf("  validate: each of %ld json allocations failed alone\n", k);
    json_decref(want);
    static const char *types[] = {"mention", "churn", "spike", "digest", "test"};
    json_t *chs = json_object_get(sub, "channels");
    for (size_t t = 0; t < 5; t++) {
        json_t *a = alert_of(types[t]);
        for (size_t c = 0; c < json_array_size(chs); c++) {
            json_t *ch = json_array_get(chs, c);
            struct es__alert_msg m;
            ES_ASSERT_EQ(es__alert_render(ch, a, "zh", "k0123", 1700000000123, &m), 0);
            char *ref = msg_dump(&m);
            es__alert_msg_cleanup(&m);
            for (k = 0;; k++) {
                j_count = 0;
                j_fail_at = k;
                int rc = es__alert_render(ch, a, "zh", "k0123", 1700000000123, &m);
                j_fail_at = -1;
                bool hit = j_count > k;
                char *got = rc == 0 ? msg_dump(&m) : NULL;
                if (rc == 0)
                    es__alert_msg_cleanup(&m);
                bool same = got && strcmp(got, ref) == 0;
                if (got && !same)
                    printf("--- want\n%s\n--- got\n%s\n", ref, got);
                free(got);
                if (!same && rc != ES_ENOMEM) {
                    printf("  %s to %s, json allocation %ld: rc %d, message differs\n",
                           types[t], json_string_value(json_object_get(ch, "type")), k, rc);
                    free(ref);
                    json_decref(a);
                    json_decref(sub);
                    ES_FAILF("a failed allocation was ignored");
                }
                if (!hit)
                    break;
            }
            free(ref);
        }
        json_decref(a);
    }
    json_decref(sub);
}

int main(void)
{
    /* jansson's objects, strings and dumps go through es_malloc too */
    json_set_alloc_funcs(j_malloc, es_free);
    ES_RUN(sub_validate_fails_cleanly_at_every_allocation);
    ES_RUN(sub_validate_error_path_fails_cleanly_at_every_allocation);
    ES_RUN(render_fails_cleanly_at_every_allocation);
    ES_RUN(alert_text_fails_cleanly_at_every_allocation);
    ES_RUN(one_failed_json_allocation_is_never_ignored);
    return ES_DONE();
}
