/*
 * test_geo_sla: SLA defaults, config overrides (smallest applicable limit
 * wins, else the default), the clock starting at created_at, unknown and
 * future timestamps, and every parse error with its key path.
 */
#include "earshot/geo.h"
#include "harness.h"

#define MIN 60000LL

static int parse(const char *text, struct es_sla_policy *p, struct es_diag *d)
{
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (!j) {
        snprintf(d->msg, sizeof d->msg, "bad test JSON");
        return 1;
    }
    int rc = es_sla_parse(j, p, d);
    json_decref(j);
    return rc;
}

ES_TEST(defaults_as_documented)
{
    struct es_sla_policy p;
    es_sla_policy_default(&p);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "weibo", NULL, 2), 60 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "twitter", "none", 1), 60 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "generic", "gold", 3), 60 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "wechat", NULL, 2), 10 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "dm", NULL, 1), 10 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "twitter", "vip", 1), 10 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "weibo", NULL, 4), 15 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "wechat", "vip", 4), 10 * MIN);
    /* Unknown names and severities add no limit. */
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "myspace", "platinum", 9), 60 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, NULL, NULL, 0), 60 * MIN);
    /* A missing section is the defaults. */
    struct es_sla_policy q;
    memset(&q, 0xab, sizeof q);
    ES_ASSERT_EQ(es_sla_parse(NULL, &q, NULL), 0);
    ES_ASSERT(memcmp(&p, &q, sizeof p) == 0);
}

ES_TEST(overrides_smallest_applicable_wins)
{
    struct es_sla_policy p;
    struct es_diag d = {0};
    int rc = parse("{\"default_minutes\":60,\"channels\":{\"wechat\":10},"
                   "\"tiers\":{\"vip\":10,\"gold\":30},\"severity\":{\"4\":15}}",
                   &p, &d);
    if (rc)
        ES_FAILF("parse: %s", d.msg);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "twitter", "gold", 1), 30 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "twitter", "gold", 4), 15 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "wechat", "gold", 4), 10 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "weibo", NULL, 3), 60 * MIN);

    /* Only what is named changes; an override can lengthen; null removes a limit. */
    rc = parse("{\"default_minutes\":120,\"channels\":{\"generic\":240,\"dm\":null},"
               "\"severity\":{\"3\":0.5}}",
               &p, &d);
    if (rc)
        ES_FAILF("parse: %s", d.msg);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "weibo", NULL, 1), 120 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "generic", NULL, 1), 240 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "dm", NULL, 1), 120 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "wechat", NULL, 1), 10 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "generic", "vip", 1), 10 * MIN);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "generic", NULL, 3), 30000);
    ES_ASSERT_EQ(es_sla_limit_ms(&p, "generic", NULL, 4), 15 * MIN);
}

ES_TEST(clock_starts_at_created_at)
{
    struct es_sla_policy p;
    es_sla_policy_default(&p);
    int64_t created = 1700000000, ingest = created * 1000 + 7 * MIN;
    /* Fetched 7 minutes late: a WeChat message has 3 minutes left, not 10. */
    int64_t dl = es_sla_deadline_ms(&p, "wechat", NULL, 1, created, ingest);
    ES_ASSERT_EQ(dl, created * 1000 + 10 * MIN);
    ES_ASSERT_EQ(es_sla_remaining_ms(dl, ingest), 3 * MIN);
    ES_ASSERT(!es_sla_breached(dl, ingest));
    ES_ASSERT(es_sla_breached(dl, dl));
    ES_ASSERT_EQ(es_sla_remaining_ms(dl, dl + 5000), -5000);
    /* Found two hours late by a backfill: already breached on arrival. */
    dl = es_sla_deadline_ms(&p, "weibo", NULL, 2, created, created * 1000 + 120 * MIN);
    ES_ASSERT_EQ(dl, created * 1000 + 60 * MIN);
    ES_ASSERT(es_sla_breached(dl, created * 1000 + 120 * MIN));
    ES_ASSERT_EQ(es_sla_remaining_ms(dl, created * 1000 + 120 * MIN), -60 * MIN);
}

ES_TEST(unknown_created_at_uses_ingest)
{
    struct es_sla_policy p;
    es_sla_policy_default(&p);
    int64_t ingest = 1700000000123LL;
    ES_ASSERT_EQ(es_sla_deadline_ms(&p, "twitter", "vip", 1, 0, ingest), ingest + 10 * MIN);
    ES_ASSERT_EQ(es_sla_deadline_ms(&p, "twitter", NULL, 1, -5, ingest), ingest + 60 * MIN);
}

ES_TEST(future_created_at_is_clamped_to_ingest)
{
    struct es_sla_policy p;
    es_sla_policy_default(&p);
    int64_t ingest = 1700000000123LL;
    /* A clock 5 minutes fast on the platform side. */
    ES_ASSERT_EQ(es_sla_deadline_ms(&p, "weibo", NULL, 4, 1700000300, ingest), ingest + 15 * MIN);
    /* Later within the same second counts as the future too. */
    ES_ASSERT_EQ(es_sla_deadline_ms(&p, "weibo", NULL, 4, 1700000001, ingest), ingest + 15 * MIN);
    /* The same second, earlier: the post's time. */
    ES_ASSERT_EQ(es_sla_deadline_ms(&p, "weibo", NULL, 4, 1700000000, ingest),
                 1700000000000LL + 15 * MIN);
    /* Absurd values do not overflow. */
    ES_ASSERT_EQ(es_sla_deadline_ms(&p, "weibo", NULL, 4, INT64_MAX, ingest), ingest + 15 * MIN);
}

ES_TEST(names)
{
    ES_ASSERT_EQ(es_sla_channel_from_name("wechat"), ES_SLA_WECHAT);
    ES_ASSERT_EQ(es_sla_channel_from_name("dm"), ES_SLA_DM);
    ES_ASSERT_EQ(es_sla_channel_from_name("WeChat"), -1);
    ES_ASSERT_EQ(es_sla_channel_from_name(NULL), -1);
    ES_ASSERT_EQ(es_sla_tier_from_name("vip"), ES_SLA_TIER_VIP);
    ES_ASSERT_EQ(es_sla_tier_from_name("gold"), ES_SLA_TIER_GOLD);
    ES_ASSERT_EQ(es_sla_tier_from_name("bronze"), ES_SLA_TIER_NONE);
    ES_ASSERT_EQ(es_sla_tier_from_name(NULL), ES_SLA_TIER_NONE);
}

ES_TEST(every_parse_error_names_its_key_path)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"[]", "sla: must be an object"},
        {"{\"default\":60}",
         "sla.default: unknown key (expected default_minutes, channels, tiers, severity)"},
        {"{\"default_minutes\":0}",
         "sla.default_minutes: must be a number of minutes > 0 and <= 43200"},
        {"{\"default_minutes\":null}",
         "sla.default_minutes: must be a number of minutes > 0 and <= 43200"},
        {"{\"default_minutes\":\"60\"}",
         "sla.default_minutes: must be a number of minutes > 0 and <= 43200"},
        {"{\"default_minutes\":50000}",
         "sla.default_minutes: must be a number of minutes > 0 and <= 43200"},
        {"{\"channels\":[]}", "sla.channels: must be an object {name: minutes}"},
        {"{\"channels\":{\"wechat\":10,\"weixin\":10}}",
         "sla.channels.weixin: unknown key (expected twitter, weibo, wechat, generic, dm)"},
        {"{\"channels\":{\"wechat\":-1}}",
         "sla.channels.wechat: must be a number of minutes > 0 and <= 43200 (or null: no limit)"},
        {"{\"tiers\":{\"VIP\":10}}", "sla.tiers.VIP: unknown key (expected none, gold, vip)"},
        {"{\"tiers\":{\"gold\":true}}",
         "sla.tiers.gold: must be a number of minutes > 0 and <= 43200 (or null: no limit)"},
        {"{\"severity\":{\"5\":10}}", "sla.severity.5: unknown key (expected 1, 2, 3, 4)"},
        {"{\"severity\":{\"4\":\"15\"}}",
         "sla.severity.4: must be a number of minutes > 0 and <= 43200 (or null: no limit)"},
        {"{\"severity\":4}", "sla.severity: must be an object {name: minutes}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct es_sla_policy p, before;
        es_sla_policy_default(&p);
        p.default_ms = 12345;
        before = p;
        struct es_diag d = {0};
        int rc = parse(cases[i].json, &p, &d);
        if (rc != ES_EPARSE || strcmp(d.msg, cases[i].msg) != 0)
            ES_FAILF("case %zu: rc %d\n    got  \"%s\"\n    want \"%s\"", i, rc, d.msg,
                     cases[i].msg);
        if (memcmp(&p, &before, sizeof p) != 0)
            ES_FAILF("case %zu: policy changed on error", i);
    }
}

int main(void)
{
    ES_RUN(defaults_as_documented);
    ES_RUN(overrides_smallest_applicable_wins);
    ES_RUN(clock_starts_at_created_at);
    ES_RUN(unknown_created_at_uses_ingest);
    ES_RUN(future_created_at_is_clamped_to_ingest);
    ES_RUN(names);
    ES_RUN(every_parse_error_names_its_key_path);
    return ES_DONE();
}
