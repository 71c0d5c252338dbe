/*
 * Fuzz the rule-file parser and compiler: the input is a rules file, judged
 * against a fixed keyword file, then a few posts are matched with whatever
 * compiled.
 */
#include <stdint.h>
#include <string.h>

#include "earshot/match.h"

static struct es_norm *norm;

static const char KW[] = "list c lang=en\n  bad\n  re:wait(ed)? \\d+ hours\n"
                         "list z\n  太慢\nlist n\n  不\nbrand acme \"Acme\"\n  acme\n  阿克米\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!norm)
        norm = es_norm_new(NULL, NULL);
    if (!norm)
        return 0;
    struct es_rules *r = es_rules_new();
    if (!r)
        return 0;
    es_rules_add_keywords(r, "kw", KW, sizeof KW - 1, NULL, NULL);
    int rc = es_rules_add_rules(r, "fuzz.rules", (const char *)data, size, NULL, NULL);
    struct es_ruleset *rs = NULL;
    struct es_compile_opts o = {norm, 1000};
    if (rc == 0 && es_ruleset_compile(r, &o, &rs, NULL, NULL) == 0) {
        struct es_matcher *m = es_matcher_new(rs);
        static const char *posts[] = {"acme is bad, waited 3 hours", "阿克米太慢，不太慢", ""};
        for (size_t i = 0; m && i < 3; i++) {
            const struct es_match *res;
            es_match_text(m, posts[i], strlen(posts[i]), NULL, &res);
        }
        es_matcher_free(m);
        es_ruleset_free(rs);
    }
    es_rules_free(r);
    return 0;
}
