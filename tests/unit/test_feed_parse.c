/*
 * test_feed_parse: the generic shape, shape detection, Weibo times and HTML,
 * and malformed documents (truncated, wrong types, huge, invalid UTF-8):
 * each bad record gives a diag naming source, line and field, and the rest
 * of the document goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "earshot/feed.h"
#include "earshot/utf8.h"
#include "harness.h"

struct sink {
    struct es_post *posts[64];
    size_t n;
    long errors, warnings;
    char diags[8][600];
    size_t n_diags;
};

static void on_post(void *ud, const struct es_post *p)
{
    struct sink *s = ud;
    if (s->n < 64)
        s->posts[s->n++] = es_post_copy(p);
}

static void on_diag(void *ud, const struct es_diag *d)
{
    struct sink *s = ud;
    if (d->severity == ES_DIAG_ERROR)
        s->errors++;
    else
        s->warnings++;
    if (s->n_diags < 8)
        es_diag_format(d, s->diags[s->n_diags++], sizeof s->diags[0]);
}

static void sink_clear(struct sink *s)
{
    for (size_t i = 0; i < s->n; i++)
        es_post_free(s->posts[i]);
    memset(s, 0, sizeof *s);
}

static int has_diag(const struct sink *s, const char *needle)
{
    for (size_t i = 0; i < s->n_diags; i++)
        if (strstr(s->diags[i], needle))
            return 1;
    return 0;
}

static int parse(const char *doc, enum es_format f, struct sink *s)
{
    struct es_feed_opts o = {.format = f,
                             .source = "in.jsonl",
                             .line = 7,
                             .ref_time = es_time_from_civil(2020, 5, 20, 4, 0, 0)};
    return es_feed_parse(doc, strlen(doc), &o, on_post, on_diag, s);
}

/* ---- generic ---- */

ES_TEST(generic_benchmark_line_parses_every_field)
{
    struct sink s = {0};
    const char *doc =
        "{\"id\":\"wb0000000007\",\"platform\":\"weibo\",\"author\":{\"id\":\"u000154\","
        "\"name\":\"小小土豆154\",\"followers\":0},\"text\":\"排队太久了\","
        "\"created_at\":\"2024-01-01T11:04:37+08:00\",\"lang\":\"zh\","
        "\"geo\":{\"lat\":30.87329,\"lon\":122.98468},\"reply_to\":null}";
    ES_ASSERT_EQ(es_feed_detect(doc, strlen(doc)), ES_FORMAT_GENERIC);
    ES_ASSERT_EQ(parse(doc, ES_FORMAT_AUTO, &s), 1);
    const struct es_post *p = s.posts[0];
    ES_ASSERT_STR(p->id, "wb0000000007");
    ES_ASSERT_EQ(p->platform, ES_PLATFORM_WEIBO);
    ES_ASSERT_STR(p->author.id, "u000154");
    ES_ASSERT_STR(p->author.name, "小小土豆154");
    ES_ASSERT_EQ(p->author.followers, 0);
    ES_ASSERT_STR(p->text, "排队太久了");
    ES_ASSERT_EQ(p->text_len, strlen("排队太久了"));
    ES_ASSERT_EQ(p->created_at, es_time_from_civil(2024, 1, 1, 3, 4, 37));
    ES_ASSERT_STR(p->lang, "zh");
    ES_ASSERT(p->has_point);
    ES_ASSERT_NEAR(p->lat, 30.87329, 1e-9);
    ES_ASSERT_NEAR(p->lon, 122.98468, 1e-9);
    ES_ASSERT(p->reply_to == NULL);
    ES_ASSERT_STR(p->thread_root, "wb0000000007");
    ES_ASSERT_EQ(s.errors + s.warnings, 0);
    sink_clear(&s);
}

ES_TEST(generic_numeric_ids_string_author_and_unix_time)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("{\"id\":12345678901234,\"text\":\"hi @x\",\"author\":\"Ann\","
                       "\"created_at\":1700000000,\"reply_to\":99,\"mentions\":[\"@x\",\"y\",3],"
                       "\"place\":\"Xidan, Beijing\",\"url\":\"https://e/1\"}",
                       ES_FORMAT_GENERIC, &s),
                 1);
    const struct es_post *p = s.posts[0];
    ES_ASSERT_STR(p->id, "12345678901234");
    ES_ASSERT_STR(p->author.name, "Ann");
    ES_ASSERT_EQ(p->author.followers, -1);
    ES_ASSERT_EQ(p->created_at, 1700000000);
    ES_ASSERT_STR(p->reply_to, "99");
    ES_ASSERT(p->thread_root == NULL);
    ES_ASSERT_EQ(p->n_mentions, 2);
    ES_ASSERT_STR(p->mentions[0], "x");
    ES_ASSERT_STR(p->mentions[1], "y");
    ES_ASSERT_STR(p->place_name, "Xidan, Beijing");
    ES_ASSERT_STR(p->url, "https://e/1");
    ES_ASSERT_EQ(p->platform, ES_PLATFORM_GENERIC);
    sink_clear(&s);
}

ES_TEST(generic_array_goes_on_after_bad_records_with_named_fields)
{
    struct sink s = {0};
    const char *doc = "[{\"id\":\"a\",\"text\":\"one\"},"
                      "{\"id\":\"b\",\"text\":42},"
                      "{\"text\":\"no id\"},"
                      "{\"id\":\"c\",\"text\":\"three\",\"created_at\":\"yesterday\","
                      "\"geo\":{\"lat\":123,\"lon\":0}},"
                      "7,"
                      "{\"id\":\"d\",\"text\":\"four\",\"author\":{\"followers\":\"many\"}}]";
    ES_ASSERT_EQ(parse(doc, ES_FORMAT_GENERIC, &s), 3);
    ES_ASSERT_STR(s.posts[0]->id, "a");
    ES_ASSERT_STR(s.posts[1]->id, "c");
    ES_ASSERT_EQ(s.posts[1]->created_at, 0);
    ES_ASSERT(!s.posts[1]->has_point);
    ES_ASSERT_STR(s.posts[2]->id, "d");
    ES_ASSERT_EQ(s.errors, 3);
    ES_ASSERT(has_diag(&s, "in.jsonl:7: error: [1].text: not a string"));
    ES_ASSERT(has_diag(&s, "[2].id: missing"));
    ES_ASSERT(has_diag(&s, "[3].created_at: not a date"));
    ES_ASSERT(has_diag(&s, "[3].geo: not a point"));
    ES_ASSERT(has_diag(&s, "[4]: not an object"));
    ES_ASSERT(has_diag(&s, "[5].author.followers: not a count"));
    sink_clear(&s);
}

/* ---- malformed documents ---- */

ES_TEST(truncated_json_is_a_parse_error_naming_source_and_line)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("{\"data\": {\"author_id\": \"1021159080151404544\"", ES_FORMAT_AUTO, &s),
                 ES_EPARSE);
    ES_ASSERT_EQ(s.errors, 1);
    ES_ASSERT(has_diag(&s, "in.jsonl:7:"));
    sink_clear(&s);
    ES_ASSERT_EQ(parse("", ES_FORMAT_AUTO, &s), ES_EPARSE);
    ES_ASSERT_EQ(parse("{\"hello\":1}", ES_FORMAT_AUTO, &s), ES_EPARSE);
    ES_ASSERT(has_diag(&s, "unrecognised payload shape"));
    sink_clear(&s);
}

ES_TEST(v2_wrong_types_are_reported_per_tweet_and_the_page_goes_on)
{
    struct sink s = {0};
    const char *doc =
        "{\"data\":[{\"id\":\"1\",\"text\":\"ok\",\"created_at\":\"2021-01-01T00:00:00Z\"},"
        "{\"id\":2,\"text\":\"numeric id\"},"
        "{\"id\":\"3\",\"text\":[1],\"author_id\":\"9\"},"
        "{\"id\":\"4\",\"text\":\"bad date\",\"created_at\":5,"
        "\"geo\":{\"coordinates\":{\"type\":\"Point\",\"coordinates\":[\"x\",1]}}},"
        "{\"id\":{},\"text\":\"bad id\"}],"
        "\"includes\":{\"users\":\"not an array\"}}";
    ES_ASSERT_EQ(parse(doc, ES_FORMAT_AUTO, &s), 3);
    ES_ASSERT_STR(s.posts[1]->id, "2");
    ES_ASSERT(has_diag(&s, "data[2].text: not a string"));
    ES_ASSERT(has_diag(&s, "data[3].created_at: not a date"));
    ES_ASSERT(has_diag(&s, "data[3].geo.coordinates"));
    ES_ASSERT(has_diag(&s, "data[4].id: not a string"));
    sink_clear(&s);
}

ES_TEST(v2_error_object_gives_zero_posts_and_a_diag)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("{\"errors\":[{\"title\":\"Not Found Error\",\"detail\":\"Could not find "
                       "tweet with id: [1].\",\"type\":\"https://api.twitter.com/2/problems/"
                       "resource-not-found\"}]}",
                       ES_FORMAT_AUTO, &s),
                 0);
    ES_ASSERT_EQ(s.errors, 1);
    ES_ASSERT(has_diag(&s, "Not Found Error"));
    sink_clear(&s);
    ES_ASSERT_EQ(parse("{\"title\":\"Unauthorized\",\"type\":\"about:blank\",\"status\":401,"
                       "\"detail\":\"Unauthorized\"}",
                       ES_FORMAT_TWITTER_V2, &s),
                 0);
    ES_ASSERT_EQ(s.errors, 1);
    sink_clear(&s);
}

ES_TEST(v2_note_tweet_and_entities_are_preferred_and_decoded)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("{\"data\":{\"id\":\"5\",\"text\":\"short &amp; cut\",\"note_tweet\":"
                       "{\"text\":\"the long text &lt;3 &amp; more\"},\"author_id\":\"7\","
                       "\"referenced_tweets\":[{\"type\":\"quoted\",\"id\":\"1\"},"
                       "{\"type\":\"replied_to\",\"id\":\"4\"}],\"conversation_id\":\"2\"},"
                       "\"includes\":{\"users\":[{\"id\":\"7\",\"name\":\"N\",\"username\":\"u\","
                       "\"verified\":true,\"public_metrics\":{\"followers_count\":12}}]}}",
                       ES_FORMAT_AUTO, &s),
                 1);
    ES_ASSERT_STR(s.posts[0]->text, "the long text <3 & more");
    ES_ASSERT_STR(s.posts[0]->reply_to, "4");
    ES_ASSERT_STR(s.posts[0]->thread_root, "2");
    ES_ASSERT(s.posts[0]->author.verified);
    ES_ASSERT_EQ(s.posts[0]->author.followers, 12);
    ES_ASSERT_STR(s.posts[0]->url, "https://twitter.com/u/status/5");
    sink_clear(&s);
}

ES_TEST(v1_extended_text_geo_lat_lon_and_id_str_over_float_id)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("{\"statuses\":[{\"id\":1.1497e18,\"id_str\":\"1149700000000000001\","
                       "\"text\":\"trunc\\u2026\",\"truncated\":true,\"extended_tweet\":"
                       "{\"full_text\":\"the full one\"},\"created_at\":\"Wed Oct 10 20:19:24 "
                       "+0000 2018\",\"geo\":{\"type\":\"Point\",\"coordinates\":[39.9,116.4]},"
                       "\"coordinates\":null,\"user\":{\"id_str\":\"3\",\"screen_name\":\"s\"}},"
                       "{\"id_str\":\"2\",\"full_text\":\"full mode\",\"coordinates\":{\"type\":"
                       "\"Point\",\"coordinates\":[116.4,39.9]},\"created_at\":\"nonsense\"}]}",
                       ES_FORMAT_AUTO, &s),
                 2);
    ES_ASSERT_STR(s.posts[0]->id, "1149700000000000001");
    ES_ASSERT_STR(s.posts[0]->text, "the full one");
    ES_ASSERT_EQ(s.posts[0]->created_at, 1539202764);
    ES_ASSERT_NEAR(s.posts[0]->lat, 39.9, 1e-9);
    ES_ASSERT_NEAR(s.posts[0]->lon, 116.4, 1e-9);
    ES_ASSERT_STR(s.posts[1]->text, "full mode");
    ES_ASSERT_NEAR(s.posts[1]->lat, 39.9, 1e-9);
    ES_ASSERT_NEAR(s.posts[1]->lon, 116.4, 1e-9);
    ES_ASSERT(has_diag(&s, "statuses[1].created_at: not a date"));
    sink_clear(&s);
}

ES_TEST(invalid_utf8_becomes_replacement_characters_not_a_lost_page)
{
    struct sink s = {0};
    const char doc[] = "{\"id\":\"1\",\"text\":\"bad \xff\xfe bytes \xe4\xb8\"}";
    ES_ASSERT_EQ(parse(doc, ES_FORMAT_AUTO, &s), 1);
    ES_ASSERT(es_utf8_valid(s.posts[0]->text, s.posts[0]->text_len));
    ES_ASSERT(strstr(s.posts[0]->text, "\xef\xbf\xbd"));
    ES_ASSERT_EQ(s.warnings, 1);
    sink_clear(&s);
}

ES_TEST(huge_text_is_cut_at_64k_on_a_character_boundary_with_a_warning)
{
    size_t n = 100000;
    char *doc = malloc(n * 3 + 64);
    strcpy(doc, "{\"id\":\"big\",\"text\":\"");
    size_t o = strlen(doc);
    for (size_t i = 0; i < n; i++) {
        memcpy(doc + o, "\xe4\xb8\xad", 3); /* 中 */
        o += 3;
    }
    strcpy(doc + o, "\"}");
    struct sink s = {0};
    ES_ASSERT_EQ(parse(doc, ES_FORMAT_AUTO, &s), 1);
    free(doc);
    ES_ASSERT(s.posts[0]->text_len <= 65536);
    ES_ASSERT(s.posts[0]->text_len > 65530);
    ES_ASSERT_EQ(s.posts[0]->text_len % 3, 0);
    ES_ASSERT(es_utf8_valid(s.posts[0]->text, s.posts[0]->text_len));
    ES_ASSERT_EQ(s.warnings, 1);
    ES_ASSERT(has_diag(&s, "post.text: 300000 bytes, truncated"));
    sink_clear(&s);
}

ES_TEST(allocation_failures_never_crash_or_leak)
{
    const char *doc = "{\"data\":[{\"id\":\"1\",\"text\":\"a &amp; b\",\"author_id\":\"2\"}],"
                      "\"includes\":{\"users\":[{\"id\":\"2\",\"username\":\"u\"}]}}";
    for (long k = 0; k < 40; k++) {
        struct sink s = {0};
        es_alloc_fail_after(k);
        int rc = parse(doc, ES_FORMAT_AUTO, &s);
        es_alloc_fail_after(-1);
        sink_clear(&s);
        if (rc != 1 && rc != ES_ENOMEM)
            ES_FAILF("fail after %ld: rc %d", k, rc);
    }
}

/* ---- detection ---- */

ES_TEST(detect_tells_the_shapes_apart)
{
    static const struct {
        const char *doc;
        enum es_format f;
    } cases[] = {
        {"{\"data\":[{\"id\":\"1\",\"text\":\"x\"}],\"meta\":{}}", ES_FORMAT_TWITTER_V2},
        {"{\"errors\":[{\"title\":\"x\"}]}", ES_FORMAT_TWITTER_V2},
        {"{\"id_str\":\"1\",\"text\":\"x\",\"user\":{}}", ES_FORMAT_TWITTER_V1},
        {"[{\"id_str\":\"1\",\"text\":\"x\"}]", ES_FORMAT_TWITTER_V1},
        {"{\"statuses\":[{\"id_str\":\"1\"}]}", ES_FORMAT_TWITTER_V1},
        {"{\"statuses\":[{\"idstr\":\"1\",\"mid\":\"1\"}]}", ES_FORMAT_WEIBO},
        {"{\"ok\":1,\"data\":{\"cards\":[]}}", ES_FORMAT_WEIBO},
        {"{\"idstr\":\"1\",\"text\":\"x\"}", ES_FORMAT_WEIBO},
        {"  <xml><MsgType>text</MsgType></xml>", ES_FORMAT_WECHAT_XML},
        {"<?xml version=\"1.0\"?>\n<xml></xml>", ES_FORMAT_WECHAT_XML},
        {"<html></html>", ES_FORMAT_AUTO},
        {"{\"recordlist\":[]}", ES_FORMAT_WECHAT_JSON},
        {"{\"touser\":\"o\",\"msgtype\":\"text\",\"text\":{\"content\":\"x\"}}",
         ES_FORMAT_WECHAT_JSON},
        {"{\"id\":1,\"text\":\"x\"}", ES_FORMAT_GENERIC},
        {"{\"foo\":1}", ES_FORMAT_AUTO},
        {"not json", ES_FORMAT_AUTO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum es_format f = es_feed_detect(cases[i].doc, strlen(cases[i].doc));
        if (f != cases[i].f)
            ES_FAILF("case %zu (%s): %s, want %s", i, cases[i].doc, es_format_name(f),
                     es_format_name(cases[i].f));
    }
    ES_ASSERT_EQ(es_format_from_name("wechat-json"), ES_FORMAT_WECHAT_JSON);
    ES_ASSERT_EQ(es_format_from_name("nope"), -1);
    ES_ASSERT_STR(es_platform_name(ES_PLATFORM_WEIBO), "weibo");
    ES_ASSERT_EQ(es_platform_from_name("wechat"), ES_PLATFORM_WECHAT);
}

/* ---- Weibo ---- */

ES_TEST(weibo_relative_times_against_a_fixed_reference)
{
    /* ref: 2020-05-20 12:00 Beijing = 04:00 UTC */
    int64_t ref = es_time_from_civil(2020, 5, 20, 4, 0, 0), t;
    const int tz = 28800;
    ES_ASSERT_EQ(es_weibo_parse_time("刚刚", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, ref);
    ES_ASSERT_EQ(es_weibo_parse_time("5分钟前", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, ref - 300);
    ES_ASSERT_EQ(es_weibo_parse_time("30秒前", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, ref - 30);
    ES_ASSERT_EQ(es_weibo_parse_time("6小时前", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, ref - 6 * 3600);
    ES_ASSERT_EQ(es_weibo_parse_time("昨天 12:00", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, es_time_from_civil(2020, 5, 19, 4, 0, 0));
    ES_ASSERT_EQ(es_weibo_parse_time("今天 08:01", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, es_time_from_civil(2020, 5, 20, 0, 1, 0));
    ES_ASSERT_EQ(es_weibo_parse_time("05-20", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, es_time_from_civil(2020, 5, 19, 16, 0, 0));
    ES_ASSERT_EQ(es_weibo_parse_time("12-31", ref, tz, &t), 0); /* after today: last year */
    ES_ASSERT_EQ(t, es_time_from_civil(2019, 12, 30, 16, 0, 0));
    ES_ASSERT_EQ(es_weibo_parse_time("2019-05-20", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, es_time_from_civil(2019, 5, 19, 16, 0, 0));
    ES_ASSERT_EQ(es_weibo_parse_time("2019-05-20 08:30", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, es_time_from_civil(2019, 5, 20, 0, 30, 0));
    ES_ASSERT_EQ(es_weibo_parse_time("Tue May 19 10:00:00 +0800 2020", ref, tz, &t), 0);
    ES_ASSERT_EQ(t, es_time_from_civil(2020, 5, 19, 2, 0, 0));
    /* just after local midnight (16:30 UTC the day before): 昨天 is local yesterday */
    int64_t ref2 = es_time_from_civil(2020, 5, 19, 16, 30, 0);
    ES_ASSERT_EQ(es_weibo_parse_time("昨天 23:59", ref2, tz, &t), 0);
    ES_ASSERT_EQ(t, es_time_from_civil(2020, 5, 19, 15, 59, 0));
    ES_ASSERT_EQ(es_weibo_parse_time("", ref, tz, &t), ES_EPARSE);
    ES_ASSERT_EQ(es_weibo_parse_time("分钟前", ref, tz, &t), ES_EPARSE);
    ES_ASSERT_EQ(es_weibo_parse_time("昨天 25:00", ref, tz, &t), ES_EPARSE);
    ES_ASSERT_EQ(es_weibo_parse_time("13-01", ref, tz, &t), ES_EPARSE);
    ES_ASSERT_EQ(es_weibo_parse_time("5 minutes ago", ref, tz, &t), ES_EPARSE);
}

static int strip_is(const char *in, const char *want)
{
    char out[512];
    size_t n = es_html_strip(in, strlen(in), out);
    return n == strlen(want) && strcmp(out, want) == 0 && n <= strlen(in);
}

ES_TEST(html_strip_keeps_text_alts_and_breaks)
{
    ES_ASSERT(strip_is("好吃<br/>难吃<br />", "好吃\n难吃\n"));
    ES_ASSERT(strip_is("哈<span class=\"url-icon\"><img alt=\"[哈哈]\" src=\"x.png\" /></span>!",
                       "哈[哈哈]!"));
    ES_ASSERT(strip_is("<a href='/n/小明'>@小明</a> 你好", "@小明 你好"));
    ES_ASSERT(strip_is("a &amp; b &lt;3 &#x4E00; &quot;q&quot;", "a & b <3 一 \"q\""));
    ES_ASSERT(strip_is("1 < 2 and a<b", "1 < 2 and a<b"));
    ES_ASSERT(strip_is("open <a href=\"x", "open <a href=\"x"));
    ES_ASSERT(strip_is("x<!-- hidden -->y", "xy"));
    ES_ASSERT(strip_is("<img alt='a>b' src=1>", "a>b"));
    ES_ASSERT(strip_is("", ""));
}

ES_TEST(weibo_followers_strings_text_raw_and_long_text)
{
    struct sink s = {0};
    const char *doc =
        "{\"ok\":1,\"data\":{\"list\":["
        "{\"idstr\":\"1\",\"text\":\"<b>html</b>\",\"text_raw\":\"raw a<b\","
        "\"user\":{\"id\":1,\"screen_name\":\"A\",\"followers_count\":\"1.2万\",\"verified\":true},"
        "\"created_at\":\"Tue May 19 10:00:00 +0800 2020\",\"region_name\":\"发布于 北京\"},"
        "{\"id\":2,\"text\":\"short\",\"longText\":{\"longTextContent\":\"long<br />text @小红 "
        "hi\"},"
        "\"user\":{\"id\":\"2\",\"screen_name\":\"B\",\"followers_count\":\"3亿\"},"
        "\"geo\":{\"type\":\"Point\",\"coordinates\":[39.9,116.4]},\"created_at\":\"whenever\"},"
        "{\"mid\":\"3\",\"text\":\"x\",\"user\":{\"followers_count\":\"lots\"}},"
        "{\"text\":\"no id\"}]}}";
    ES_ASSERT_EQ(parse(doc, ES_FORMAT_AUTO, &s), 3);
    ES_ASSERT_STR(s.posts[0]->text, "raw a<b");
    ES_ASSERT_EQ(s.posts[0]->author.followers, 12000);
    ES_ASSERT(s.posts[0]->author.verified);
    ES_ASSERT_STR(s.posts[0]->place_name, "北京");
    ES_ASSERT_EQ(s.posts[0]->created_at, es_time_from_civil(2020, 5, 19, 2, 0, 0));
    ES_ASSERT_STR(s.posts[1]->id, "2");
    ES_ASSERT_STR(s.posts[1]->text, "long\ntext @小红 hi");
    ES_ASSERT_EQ(s.posts[1]->n_mentions, 1);
    ES_ASSERT_STR(s.posts[1]->mentions[0], "小红");
    ES_ASSERT_EQ(s.posts[1]->author.followers, 300000000);
    ES_ASSERT_NEAR(s.posts[1]->lat, 39.9, 1e-9);
    ES_ASSERT_NEAR(s.posts[1]->lon, 116.4, 1e-9);
    ES_ASSERT_STR(s.posts[2]->id, "3");
    ES_ASSERT_EQ(s.posts[2]->author.followers, -1);
    ES_ASSERT(has_diag(&s, "data.list[1].created_at: not a date"));
    ES_ASSERT(has_diag(&s, "data.list[2].user.followers_count: not a count"));
    ES_ASSERT(has_diag(&s, "data.list[3].id: missing"));
    sink_clear(&s);
}

ES_TEST(weibo_card_groups_and_bare_mblogs)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("{\"ok\":1,\"data\":{\"cards\":[{\"card_type\":11,\"card_group\":["
                       "{\"card_type\":9,\"mblog\":{\"id\":\"9\",\"text\":\"in group\"}}]},"
                       "{\"card_type\":9,\"mblog\":{\"id\":\"8\",\"text\":\"top\"}}]}}",
                       ES_FORMAT_AUTO, &s),
                 2);
    ES_ASSERT_STR(s.posts[0]->text, "in group");
    sink_clear(&s);
    ES_ASSERT_EQ(parse("{\"idstr\":\"5\",\"mid\":\"5\",\"text\":\"bare\"}", ES_FORMAT_AUTO, &s), 1);
    sink_clear(&s);
    ES_ASSERT_EQ(parse("{\"ok\":0,\"msg\":\"这里还没有内容\"}", ES_FORMAT_WEIBO, &s), 0);
    ES_ASSERT_EQ(s.warnings, 1);
    sink_clear(&s);
}

/* ---- WeChat ---- */

ES_TEST(wechat_voice_recognition_and_json_shapes)
{
    struct sink s = {0};
    ES_ASSERT_EQ(
        parse("<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]>"
              "</FromUserName><CreateTime>1357290913</CreateTime><MsgType><![CDATA[voice]]>"
              "</MsgType><MediaId>m</MediaId><Recognition><![CDATA[外卖还没到]]>"
              "</Recognition><MsgId>77</MsgId></xml>",
              ES_FORMAT_AUTO, &s),
        1);
    ES_ASSERT_STR(s.posts[0]->text, "外卖还没到");
    ES_ASSERT_STR(s.posts[0]->id, "77");
    sink_clear(&s);
    ES_ASSERT_EQ(parse("<xml><MsgType>text</MsgType><Content>a &amp; b</Content>"
                       "<FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>",
                       ES_FORMAT_AUTO, &s),
                 1);
    ES_ASSERT_STR(s.posts[0]->text, "a & b");
    ES_ASSERT(strncmp(s.posts[0]->id, "wx-o-1-", 7) == 0);
    sink_clear(&s);
    ES_ASSERT_EQ(parse("{\"msglist\":[{\"openid\":\"o\",\"opercode\":2003,\"text\":\"hi\","
                       "\"time\":5},{\"openid\":\"o\",\"opercode\":2002,\"text\":\"agent\","
                       "\"time\":6},{\"opercode\":\"x\"}]}",
                       ES_FORMAT_AUTO, &s),
                 1);
    ES_ASSERT(has_diag(&s, "msglist[2].opercode"));
    sink_clear(&s);
    ES_ASSERT_EQ(parse("{\"touser\":\"o\",\"msgtype\":\"text\",\"text\":{\"content\":\"你好\"}}",
                       ES_FORMAT_AUTO, &s),
                 1);
    ES_ASSERT_STR(s.posts[0]->text, "你好");
    ES_ASSERT_STR(s.posts[0]->lang, "zh");
    sink_clear(&s);
    ES_ASSERT_EQ(parse("{\"ToUserName\":\"gh\",\"FromUserName\":\"o\",\"CreateTime\":1348831860,"
                       "\"MsgType\":\"text\",\"Content\":\"json push\",\"MsgId\":1234567890123456}",
                       ES_FORMAT_AUTO, &s),
                 1);
    ES_ASSERT_STR(s.posts[0]->id, "1234567890123456");
    ES_ASSERT_EQ(s.posts[0]->created_at, 1348831860);
    sink_clear(&s);
}

ES_TEST(wechat_bad_xml_is_a_diag_and_entity_bombs_are_refused)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("<xml><MsgType>text</MsgType><Content>cut", ES_FORMAT_AUTO, &s), ES_EPARSE);
    ES_ASSERT_EQ(s.errors, 1);
    ES_ASSERT(has_diag(&s, "in.jsonl:7:"));
    sink_clear(&s);
    ES_ASSERT_EQ(parse("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\">"
                       "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
                       "<xml><MsgType>text</MsgType><Content>&b;</Content></xml>",
                       ES_FORMAT_WECHAT_XML, &s),
                 ES_EPARSE);
    ES_ASSERT(has_diag(&s, "entity declarations are refused"));
    sink_clear(&s);
    ES_ASSERT_EQ(parse("<root><MsgType>text</MsgType></root>", ES_FORMAT_WECHAT_XML, &s),
                 ES_EPARSE);
    sink_clear(&s);
    ES_ASSERT_EQ(parse("<xml><MsgType>text</MsgType><Content>bad \xff byte</Content>"
                       "<MsgId>1</MsgId></xml>",
                       ES_FORMAT_AUTO, &s),
                 1);
    ES_ASSERT_STR(s.posts[0]->text, "bad \xef\xbf\xbd byte");
    sink_clear(&s);
}

ES_TEST(post_copy_is_one_block_independent_of_the_arena)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse("{\"id\":77,\"text\":\"t\",\"mentions\":[\"a\",\"b\"],\"author\":"
                       "{\"id\":5,\"handle\":\"@h\"}}",
                       ES_FORMAT_AUTO, &s),
                 1);
    struct es_post *q = es_post_copy(s.posts[0]);
    sink_clear(&s);
    ES_ASSERT(q);
    ES_ASSERT_STR(q->id, "77");
    ES_ASSERT_STR(q->author.id, "5");
    ES_ASSERT_STR(q->author.handle, "h");
    ES_ASSERT_STR(q->mentions[1], "b");
    ES_ASSERT_STR(q->text, "t");
    es_post_free(q);
    es_post_free(NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* keep the output if a sanitizer aborts */
    ES_RUN(generic_benchmark_line_parses_every_field);
    ES_RUN(generic_numeric_ids_string_author_and_unix_time);
    ES_RUN(generic_array_goes_on_after_bad_records_with_named_fields);
    ES_RUN(truncated_json_is_a_parse_error_naming_source_and_line);
    ES_RUN(v2_wrong_types_are_reported_per_tweet_and_the_page_goes_on);
    ES_RUN(v2_error_object_gives_zero_posts_and_a_diag);
    ES_RUN(v2_note_tweet_and_entities_are_preferred_and_decoded);
    ES_RUN(v1_extended_text_geo_lat_lon_and_id_str_over_float_id);
    ES_RUN(invalid_utf8_becomes_replacement_characters_not_a_lost_page);
    ES_RUN(huge_text_is_cut_at_64k_on_a_character_boundary_with_a_warning);
    ES_RUN(allocation_failures_never_crash_or_leak);
    ES_RUN(detect_tells_the_shapes_apart);
    ES_RUN(weibo_relative_times_against_a_fixed_reference);
    ES_RUN(html_strip_keeps_text_alts_and_breaks);
    ES_RUN(weibo_followers_strings_text_raw_and_long_text);
    ES_RUN(weibo_card_groups_and_bare_mblogs);
    ES_RUN(wechat_voice_recognition_and_json_shapes);
    ES_RUN(wechat_bad_xml_is_a_diag_and_entity_bombs_are_refused);
    ES_RUN(post_copy_is_one_block_independent_of_the_arena);
    return ES_DONE();
}
