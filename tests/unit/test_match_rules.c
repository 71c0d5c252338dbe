/* The rule language, compiler and matcher, on small rule sets written here. */
#include <stdlib.h>

#include "earshot/alloc.h"
#include "earshot/match.h"
#include "harness.h"

static struct es_norm *norm;

struct diags {
    int errors, warnings;
    char last[1024];
    char all[8192];
};

static void collect(void *ud, const struct es_diag *d)
{
    struct diags *ds = ud;
    char line[1024];
    es_diag_format(d, line, sizeof line);
    if (d->severity == ES_DIAG_ERROR)
        ds->errors++;
    else
        ds->warnings++;
    snprintf(ds->last, sizeof ds->last, "%s", line);
    size_t n = strlen(ds->all);
    snprintf(ds->all + n, sizeof ds->all - n, "%s\n", line);
}

/* build compiles the two texts; returns the ruleset or NULL (diags in ds). */
static struct es_ruleset *build(const char *kw, const char *rules, struct diags *ds)
{
    memset(ds, 0, sizeof *ds);
    struct es_rules *r = es_rules_new();
    int rc = es_rules_add_keywords(r, "kw.kw", kw, strlen(kw), collect, ds);
    int rc2 = es_rules_add_rules(r, "r.rules", rules, strlen(rules), collect, ds);
    struct es_ruleset *rs = NULL;
    struct es_compile_opts o = {norm, 0};
    int rc3 = es_ruleset_compile(r, &o, &rs, collect, ds);
    es_rules_free(r);
    if (rc || rc2 || rc3) {
        es_ruleset_free(rs);
        return NULL;
    }
    return rs;
}

static const struct es_match *judge(struct es_matcher *m, const char *text, const char *lang)
{
    const struct es_match *res = NULL;
    es_match_text(m, text, strlen(text), lang, &res);
    return res;
}

static const char *KW = "list complaint_en lang=en\n"
                        "  bad\n"
                        "  never again\n"
                        "  re:wait(ed|ing)? \\d+ (hours|minutes)\n"
                        "list complaint_zh lang=zh\n"
                        "  太慢\n"
                        "  难吃\n"
                        "list praise_zh\n"
                        "  好吃\n"
                        "list neg_zh\n"
                        "  不\n"
                        "  没有\n"
                        "list excl\n"
                        "  抽奖\n"
                        "brand starbucks \"Starbucks\"\n"
                        "  starbucks\n"
                        "  星巴克\n"
                        "  @starbucks\n"
                        "brand kfc \"KFC\"\n"
                        "  kfc\n"
                        "  肯德基\n";

static const char *RULES = "set threshold 1.0\n"
                           "rule en.bad\n"
                           "  match @complaint_en\n"
                           "  lang en\n"
                           "  category service\n"
                           "  severity 2\n"
                           "rule zh.slow\n"
                           "  match @complaint_zh\n"
                           "  unless @excl\n"
                           "  lang zh\n"
                           "  category delivery\n"
                           "rule zh.praise\n"
                           "  match @praise_zh\n"
                           "  not @neg_zh before 2\n"
                           "  weight -1.5\n"
                           "  category praise\n"
                           "rule churn\n"
                           "  match \"never again\" | /再也不(买|来)/\n"
                           "  near @brand within 20\n"
                           "  brand required\n"
                           "  severity 3\n"
                           "  category churn\n"
                           "  weight 2\n";

ES_TEST(literal_needs_word_boundary_only_for_ascii)
{
    struct diags ds;
    struct es_ruleset *rs = build(KW, RULES, &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    ES_ASSERT(judge(m, "this is bad!", "en")->complaint);
    ES_ASSERT(!judge(m, "nice badge", "en")->complaint);
    ES_ASSERT(!judge(m, "badly", "en")->complaint);
    ES_ASSERT(judge(m, "外卖太慢了", "zh")->complaint);
    ES_ASSERT(judge(m, "送得太慢", NULL)->complaint);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(traditional_fullwidth_and_case_match_simplified_entries)
{
    struct diags ds;
    struct es_ruleset *rs = build(KW, RULES, &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    const struct es_match *r = judge(m, "這家太慢，難吃", "zh-Hant");
    ES_ASSERT(r->complaint);
    ES_ASSERT_STR(r->category, "delivery");
    r = judge(m, "ＢＡＤ service", NULL);
    ES_ASSERT(r->complaint);
    r = judge(m, "星巴克 never AGAIN", NULL);
    ES_ASSERT(r->complaint);
    ES_ASSERT_EQ(r->brand, 0);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(spans_map_back_to_original_bytes)
{
    struct diags ds;
    struct es_ruleset *rs = build(KW, RULES, &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    const char *text = "ＳＴＡＲＢＵＣＫＳ is BAD";
    const struct es_match *r = judge(m, text, "en");
    ES_ASSERT(r->complaint);
    ES_ASSERT_EQ(r->brand, 0);
    int found_rule = 0, found_brand = 0;
    for (size_t i = 0; i < r->n_spans; i++) {
        const struct es_span *sp = &r->spans[i];
        if (sp->rule >= 0) {
            ES_ASSERT_EQ(sp->end - sp->start, 3);
            ES_ASSERT(memcmp(text + sp->start, "BAD", 3) == 0);
            found_rule = 1;
        } else {
            ES_ASSERT_EQ(sp->start, 0);
            ES_ASSERT_EQ(sp->end, 27); /* nine full-width letters, 3 bytes each */
            found_brand = 1;
        }
    }
    ES_ASSERT(found_rule && found_brand);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(negation_cancels_praise_and_praise_lowers_score)
{
    struct diags ds;
    struct es_ruleset *rs = build(KW, RULES, &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    /* 太慢 (+1) and 好吃 (-1.5): praise wins, not a complaint */
    const struct es_match *r = judge(m, "有点太慢，但是很好吃", "zh");
    ES_ASSERT(!r->complaint);
    ES_ASSERT_NEAR(r->score, -0.5, 1e-9);
    /* 不好吃: the praise is negated, so only 太慢 counts */
    r = judge(m, "太慢，而且不好吃", "zh");
    ES_ASSERT(r->complaint);
    ES_ASSERT_NEAR(r->score, 1.0, 1e-9);
    /* negation too far away does not count */
    r = judge(m, "不知道为什么，这次很好吃", "zh");
    ES_ASSERT_NEAR(r->score, -1.5, 1e-9);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(exclusion_and_language_gate_rules)
{
    struct diags ds;
    struct es_ruleset *rs = build(KW, RULES, &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    ES_ASSERT(!judge(m, "转发抽奖：快递太慢", "zh")->complaint);
    /* a zh-only rule does not fire on a post declared English */
    ES_ASSERT(!judge(m, "太慢", "en")->complaint);
    /* an en-only rule does not fire on Chinese text */
    ES_ASSERT(!judge(m, "这个 bad 字", NULL)->complaint);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(proximity_is_counted_in_characters)
{
    struct diags ds;
    struct es_ruleset *rs = build(KW, RULES, &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    /* 再也不来 within 20 characters of 肯德基: churn, severity 3, brand kfc */
    const struct es_match *r = judge(m, "肯德基这服务，我再也不来了", "zh");
    ES_ASSERT(r->complaint);
    ES_ASSERT_EQ(r->severity, 3);
    ES_ASSERT_STR(r->category, "churn");
    ES_ASSERT_EQ(r->brand, 1);
    /* 25 Chinese characters between brand and phrase: too far */
    r = judge(m, "肯德基一二三四五六七八九十一二三四五六七八九十一二三四五我再也不来了", "zh");
    ES_ASSERT(!r->complaint);
    /* no brand at all: brand required */
    r = judge(m, "我再也不来了", "zh");
    ES_ASSERT(!r->complaint);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(regex_entries_are_confirmed_by_pcre2)
{
    struct diags ds;
    struct es_ruleset *rs = build(KW, RULES, &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    ES_ASSERT(judge(m, "We waited 3 hours for a table", "en")->complaint);
    ES_ASSERT(!judge(m, "We waited for hours", "en")->complaint);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(errors_name_file_line_and_column)
{
    struct diags ds;
    ES_ASSERT(build(KW, "rule a\n  match @nosuch\n", &ds) == NULL);
    ES_ASSERT_EQ(ds.errors, 1);
    ES_ASSERT(strstr(ds.all, "r.rules:2:9: error: unknown list '@nosuch'") != NULL);

    ES_ASSERT(build(KW, "rule a\n  match /ab(c/\n", &ds) == NULL);
    ES_ASSERT(strstr(ds.all, "r.rules:2:") != NULL);
    ES_ASSERT(strstr(ds.all, "missing closing parenthesis") != NULL);

    ES_ASSERT(build(KW, "rule a\n  match @complaint_en\n  colour red\n", &ds) == NULL);
    ES_ASSERT(strstr(ds.all, "r.rules:3:3: error: unknown key 'colour'") != NULL);

    ES_ASSERT(build(KW, "rule a\n  match @complaint_en\nrule a\n  match @complaint_zh\n", &ds) ==
              NULL);
    ES_ASSERT(strstr(ds.all, "r.rules:3:6: error: rule 'a' already defined") != NULL);

    ES_ASSERT(build(KW, "rule a\n  severity 9\n", &ds) == NULL);
    ES_ASSERT(strstr(ds.all, "severity must be 1..4") != NULL);
    ES_ASSERT(strstr(ds.all, "has no 'match' line") != NULL);

    ES_ASSERT(build("list x\n  re:a(\n", "rule a\n  match @x\n", &ds) == NULL);
    ES_ASSERT(strstr(ds.all, "kw.kw:2:") != NULL);

    ES_ASSERT(build(KW, "rule a\n  match /a*/\n", &ds) == NULL);
    ES_ASSERT(strstr(ds.all, "matches the empty string") != NULL);
}

ES_TEST(warnings_for_risky_regex_duplicate_alias_and_unused_list)
{
    struct diags ds;
    const char *kw = "brand a \"A\"\n  acme\n  acme\nbrand b \"B\"\n  acme\nlist unused\n  x\n"
                     "list c\n  re:(\\w+\\s?)*!\n";
    struct es_ruleset *rs = build(kw, "rule r\n  match @c\n", &ds);
    ES_ASSERT(rs != NULL);
    ES_ASSERT_EQ(ds.errors, 0);
    ES_ASSERT(strstr(ds.all, "kw.kw:3:3: warning: alias 'acme' is listed twice") != NULL);
    ES_ASSERT(strstr(ds.all, "kw.kw:5:3: warning: alias 'acme' is also listed under brand 'a'") !=
              NULL);
    ES_ASSERT(strstr(ds.all, "kw.kw:6:1: warning: list 'unused' is not used") != NULL);
    ES_ASSERT(strstr(ds.all, "kw.kw:9:6: warning: regex can backtrack catastrophically") != NULL);
    es_ruleset_free(rs);
}

ES_TEST(hostile_post_hits_the_match_limit_and_is_counted)
{
    struct diags ds;
    /* The backreference passes the prefilter (Hyperscan approximates it), so PCRE2
     * must run and backtrack over every way to split the x's. */
    struct es_ruleset *rs = build("list c\n  re:(x+x+)+y\\1\n", "rule r\n  match @c\n", &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    char text[4096];
    memset(text, 'x', sizeof text - 2);
    text[sizeof text - 2] = 'y';
    text[sizeof text - 1] = '\0';
    const struct es_match *r = judge(m, text, "en");
    ES_ASSERT(!r->complaint);
    ES_ASSERT(r->limit_hit);
    ES_ASSERT(es_matcher_stats(m)->limit_hits >= 1);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(cap_counts_distinct_occurrences)
{
    struct diags ds;
    struct es_ruleset *rs = build("list c\n  bad\n  awful\n",
                                  "set threshold 2.5\nrule r\n  match @c\n  cap 3\n", &ds);
    ES_ASSERT(rs != NULL);
    struct es_matcher *m = es_matcher_new(rs);
    ES_ASSERT_NEAR(judge(m, "bad", "en")->score, 1, 1e-9);
    ES_ASSERT(!judge(m, "bad and awful", "en")->complaint);
    ES_ASSERT(judge(m, "bad, awful, bad again", "en")->complaint);
    ES_ASSERT_NEAR(judge(m, "bad bad bad bad bad", "en")->score, 3, 1e-9);
    es_matcher_free(m);
    es_ruleset_free(rs);
}

ES_TEST(allocation_failures_do_not_crash_or_leak)
{
    /* Fail the Nth allocation for every N until compile succeeds. */
    for (long n = 0; n < 100000; n++) {
        struct es_rules *r = es_rules_new();
        es_alloc_fail_after(n);
        int rc = r ? es_rules_add_keywords(r, "kw.kw", KW, strlen(KW), NULL, NULL) : ES_ENOMEM;
        if (!rc)
            rc = es_rules_add_rules(r, "r.rules", RULES, strlen(RULES), NULL, NULL);
        struct es_ruleset *rs = NULL;
        struct es_compile_opts o = {norm, 0};
        if (!rc)
            rc = es_ruleset_compile(r, &o, &rs, NULL, NULL);
        struct es_matcher *m = rs ? es_matcher_new(rs) : NULL;
        es_alloc_fail_after(-1);
        es_matcher_free(m);
        es_ruleset_free(rs);
        es_rules_free(r);
        if (rc == 0 && m)
            return;
        ES_ASSERT(rc == 0 || rc == ES_ENOMEM);
    }
    ES_FAILF("never succeeded");
}

int main(void)
{
    const char *warn = NULL;
    norm = es_norm_new(NULL, &warn);
    if (!norm || warn) {
        printf("norm: %s\n", warn ? warn : "out of memory");
        return 1;
    }
    ES_RUN(literal_needs_word_boundary_only_for_ascii);
    ES_RUN(traditional_fullwidth_and_case_match_simplified_entries);
    ES_RUN(spans_map_back_to_original_bytes);
    ES_RUN(negation_cancels_praise_and_praise_lowers_score);
    ES_RUN(exclusion_and_language_gate_rules);
    ES_RUN(proximity_is_counted_in_characters);
    ES_RUN(regex_entries_are_confirmed_by_pcre2);
    ES_RUN(errors_name_file_line_and_column);
    ES_RUN(warnings_for_risky_regex_duplicate_alias_and_unused_list);
    ES_RUN(hostile_post_hits_the_match_limit_and_is_counted);
    ES_RUN(cap_counts_distinct_occurrences);
    ES_RUN(allocation_failures_do_not_crash_or_leak);
    es_norm_free(norm);
    return ES_DONE();
}
