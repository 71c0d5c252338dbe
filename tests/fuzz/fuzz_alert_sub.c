/*
 * Fuzz the subscription parser: the input is a subscription as JSON (as
 * `earshot alerts add` and the API take it), validated without resolving host
 * names. An input whose first line starts with '#' gives the SSRF allow-list
 * on that line. A subscription that validates must validate again to the
 * same normalised form, and each of its channels must render a mention and a
 * digest alert (or refuse with ES_EINVAL) without crashing.
 */
#include <stdint.h>
#include <string.h>

#include "alert/internal.h"
#include "earshot/alert.h"

static json_t *alert_of(const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:i, s:i, s:[{s:s, s:i, "
                     "s:s}]}",
                     "id", "m1-1", "type", type, "brand", "acme", "category", "service",
                     "severity", 3, "text", "排队 [x](http://e.test) <@U1> *b* #t", "author",
                     "a @b", "url", "https://weibo.com/1/2", "event_ms",
                     (json_int_t)1700000000000, "count", 7, "interval_s", 60, "top", "mid",
                     "m1-1", "severity", 3, "text", "t");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    char allow[512] = "127.0.0.1,::1,10.0.0.0/8";
    if (size && p[0] == '#') {
        const char *nl = memchr(p, '\n', size);
        size_t n = nl ? (size_t)(nl - p) - 1 : size - 1;
        if (n >= sizeof allow)
            n = sizeof allow - 1;
        memcpy(allow, p + 1, n);
        allow[n] = '\0';
        size_t skip = nl ? (size_t)(nl - p) + 1 : size;
        p += skip;
        size -= skip;
    }
    json_t *sub = json_loadb(p, size, JSON_REJECT_DUPLICATES, NULL);
    if (!sub)
        return 0;
    struct es_diag d = {0};
    json_t *out = NULL;
    int rc = es_alert_sub_validate(sub, allow, false, &out, &d);
    if (rc == 0) {
        json_t *again = NULL;
        struct es_diag d2 = {0};
        if (es_alert_sub_validate(out, allow, false, &again, &d2) != 0 || !json_equal(out, again))
            __builtin_trap();
        json_decref(again);
        const char *lang = json_string_value(json_object_get(out, "lang"));
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(out, "channels"), i, ch) {
            static const char *types[] = {"mention", "digest", "churn", "spike", "test"};
            json_t *a = alert_of(types[i % 5]);
            struct es__alert_msg m;
            int r = es__alert_render(ch, a, lang, "0123456789abcdef0123456789abcdef",
                                     1700000000000, &m);
            if (r == 0 && (!m.url || (!m.body.len && !m.body.data)))
                __builtin_trap();
            if (r == 0)
                es__alert_msg_cleanup(&m);
            else if (r != ES_EINVAL && r != ES_ENOMEM && r != ES_ELIMIT)
                __builtin_trap();
            json_decref(a);
        }
        json_decref(out);
    } else if (rc != ES_EPARSE || !d.msg[0]) {
        __builtin_trap(); /* a refusal must say why */
    }
    json_decref(sub);
    return 0;
}
