/*
 * Fuzz the keyword-file parser and compiler: the input is a keyword file;
 * a fixed rule uses every list name the input is likely to define.
 */
#include <stdint.h>
#include <string.h>

#include "earshot/match.h"

static struct es_norm *norm;

static const char RULES[] = "rule r\n  match @brand\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!norm)
        norm = es_norm_new(NULL, NULL);
    if (!norm)
        return 0;
    struct es_rules *r = es_rules_new();
    if (!r)
        return 0;
    int rc = es_rules_add_keywords(r, "fuzz.kw", (const char *)data, size, NULL, NULL);
    es_rules_add_rules(r, "r", RULES, sizeof RULES - 1, NULL, NULL);
    struct es_ruleset *rs = NULL;
    struct es_compile_opts o = {norm, 1000};
    if (rc == 0 && es_ruleset_compile(r, &o, &rs, NULL, NULL) == 0) {
        struct es_matcher *m = es_matcher_new(rs);
        const struct es_match *res;
        if (m)
            es_match_text(m, (const char *)data, size, NULL, &res);
        es_matcher_free(m);
        es_ruleset_free(rs);
    }
    es_rules_free(r);
    return 0;
}
