/*
 * test_feed_payloads: every real payload under shared/data/api_payloads goes
 * through the adapters; the number of posts per file is the number read off
 * the data by hand (see the table in each test), and several real posts per
 * shape are checked field by field.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/clock.h"
#include "earshot/feed.h"
#include "harness.h"

#define PAYLOADS ES_SHARED_DATA "/api_payloads"

struct sink {
    struct es_post *posts[512];
    size_t n;
    long n_posts; /* all delivered, also past the array */
    long n_errors, n_warnings;
    char last_diag[600];
};

static void on_post(void *ud, const struct es_post *p)
{
    struct sink *s = ud;
    if (s->n < sizeof s->posts / sizeof s->posts[0])
        s->posts[s->n++] = es_post_copy(p);
    s->n_posts++;
}

static void on_diag(void *ud, const struct es_diag *d)
{
    struct sink *s = ud;
    if (d->severity == ES_DIAG_ERROR)
        s->n_errors++;
    else
        s->n_warnings++;
    es_diag_format(d, s->last_diag, sizeof s->last_diag);
}

static void sink_clear(struct sink *s)
{
    for (size_t i = 0; i < s->n; i++)
        es_post_free(s->posts[i]);
    memset(s, 0, sizeof *s);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    b[*len] = '\0';
    fclose(f);
    return b;
}

static const struct es_post *find(const struct sink *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->posts[i] && strcmp(s->posts[i]->id, id) == 0)
            return s->posts[i];
    return NULL;
}

static int starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Each line of a JSONL file is one document. */
static long parse_jsonl(const char *path, enum es_format fmt, struct sink *s)
{
    size_t len;
    char *b = slurp(path, &len);
    if (!b)
        return -1;
    long line = 0, total = 0;
    char *p = b, *end = b + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        line++;
        if (e > p) {
            struct es_feed_opts o = {.format = fmt, .source = path, .line = line};
            int n = es_feed_parse(p, (size_t)(e - p), &o, on_post, on_diag, s);
            if (n > 0)
                total += n;
        }
        p = e + 1;
    }
    free(b);
    return total;
}

/* tweepy bodies: the "body" member is the response; serialise it back and feed that. */
static int parse_body(const char *path, enum es_format fmt, struct sink *s)
{
    json_error_t err;
    json_t *w = json_load_file(path, 0, &err);
    if (!w)
        return -100;
    char *body = json_dumps(json_object_get(w, "body"), JSON_COMPACT);
    json_decref(w);
    if (!body)
        return -101;
    struct es_feed_opts o = {.format = fmt, .source = path};
    int n = es_feed_parse(body, strlen(body), &o, on_post, on_diag, s);
    free(body);
    return n;
}

static int parse_file(const char *path, enum es_format fmt, int64_t ref, struct sink *s)
{
    size_t len;
    char *b = slurp(path, &len);
    if (!b)
        return -100;
    struct es_feed_opts o = {.format = fmt, .source = path, .ref_time = ref};
    int n = es_feed_parse(b, len, &o, on_post, on_diag, s);
    free(b);
    return n;
}

/* ---- Twitter v2 ---- */

ES_TEST(twarc_jsonl_files_give_the_tweets_in_data)
{
    static const struct {
        const char *file;
        long posts;
    } want[] = {
        {"cotweet.jsonl", 1},
        {"counts.jsonl", 0},
        {"edited.jsonl", 1},
        {"edited_after.jsonl", 1},
        {"edited_before.jsonl", 1},
        {"geo_tweets.jsonl", 2},
        {"kpop.jsonl", 100},
        {"lists.jsonl", 0},
        {"media_tweet.jsonl", 1},
        {"mentions_tweet.jsonl", 1},
        {"two_tweets.jsonl", 1},
        {"users.jsonl", 0},
        {"streaming_output_with_error.jsonl", 7},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[512];
        struct sink s = {0};
        snprintf(path, sizeof path, "%s/twitter_v2/twarc-csv/%s", PAYLOADS, want[i].file);
        long got = parse_jsonl(path, ES_FORMAT_AUTO, &s);
        long posts = s.n_posts;
        sink_clear(&s);
        if (got != want[i].posts || posts != want[i].posts)
            ES_FAILF("%s: %ld posts (delivered %ld), want %ld", want[i].file, got, posts,
                     want[i].posts);
    }
}

ES_TEST(v2_search_page_joins_users_and_keeps_text_date_lang_mentions)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse_jsonl(PAYLOADS "/twitter_v2/twarc-csv/kpop.jsonl", ES_FORMAT_TWITTER_V2, &s),
                 100);
    const struct es_post *p = find(&s, "1440717170493689866");
    ES_ASSERT(p);
    ES_ASSERT_EQ(p->platform, ES_PLATFORM_TWITTER);
    ES_ASSERT_STR(p->author.name, "Ximena R\xc3\xad"
                                  "os");
    ES_ASSERT_STR(p->author.handle, "ximerios12_");
    ES_ASSERT_EQ(p->author.followers, 4);
    ES_ASSERT(starts(p->text, "RT @ChartsEcuador: #TopKPopEcuador\n@BTS_"));
    ES_ASSERT_EQ(p->created_at, 1632328715);
    ES_ASSERT_STR(p->lang, "es");
    ES_ASSERT_EQ(p->n_mentions, 2);
    ES_ASSERT_STR(p->mentions[0], "ChartsEcuador");
    ES_ASSERT_STR(p->mentions[1], "BTS_twt");
    ES_ASSERT(p->reply_to == NULL);
    ES_ASSERT_STR(p->thread_root, "1440717170493689866");
    ES_ASSERT_STR(p->url, "https://twitter.com/ximerios12_/status/1440717170493689866");
    p = find(&s, "1440715923816546309");
    ES_ASSERT(p);
    ES_ASSERT_STR(p->author.handle, "jenniefears");
    ES_ASSERT_EQ(p->author.followers, 447);
    ES_ASSERT_EQ(p->created_at, 1632328418);
    ES_ASSERT(starts(p->text, "RT @koreatimescokr: #Kpop girl group #BL"));
    /* the page's "errors" (suspended users) are warnings, not lost posts */
    ES_ASSERT(s.n_warnings > 0);
    ES_ASSERT_EQ(s.n_errors, 0);
    sink_clear(&s);
}

ES_TEST(v2_geo_point_is_lon_lat_and_place_is_joined)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse_jsonl(PAYLOADS "/twitter_v2/twarc-csv/geo_tweets.jsonl", ES_FORMAT_AUTO, &s),
                 2);
    const struct es_post *p = find(&s, "1249702384659554308");
    ES_ASSERT(p);
    ES_ASSERT(p->has_point);
    ES_ASSERT_NEAR(p->lon, 42.77810097, 1e-9);
    ES_ASSERT_NEAR(p->lat, 88.01785747, 1e-9);
    ES_ASSERT_STR(p->author.handle, "kamanonickname");
    ES_ASSERT_EQ(p->author.followers, 69);
    ES_ASSERT_EQ(p->created_at, 1586787241);
    ES_ASSERT_STR(p->lang, "pl");
    p = find(&s, "1501963039859363843");
    ES_ASSERT(p);
    ES_ASSERT(!p->has_point);
    ES_ASSERT_STR(p->place_id, "3078869807f9dd36");
    ES_ASSERT_STR(p->place_name, "Berlin, Germany");
    ES_ASSERT_STR(p->reply_to, "1501958949863661574");
    ES_ASSERT_STR(p->thread_root, "1501958949863661574");
    ES_ASSERT_STR(p->author.handle, "IgorBrigadir");
    ES_ASSERT_EQ(p->author.followers, 2969);
    ES_ASSERT_EQ(p->n_mentions, 2);
    ES_ASSERT_STR(p->mentions[0], "j2bryson");
    ES_ASSERT_STR(p->mentions[1], "Twitter");
    ES_ASSERT_EQ(p->created_at, 1646930868);
    sink_clear(&s);
}

ES_TEST(v2_stream_lines_each_give_one_tweet_and_the_truncated_line_a_diag)
{
    struct sink s = {0};
    const char *path = PAYLOADS "/twitter_v2/twarc-csv/streaming_output_with_error.jsonl";
    ES_ASSERT_EQ(parse_jsonl(path, ES_FORMAT_AUTO, &s), 7);
    ES_ASSERT_EQ(s.n_errors, 1);
    /* the diag names the source and the line */
    ES_ASSERT(strstr(s.last_diag, "streaming_output_with_error.jsonl:8:"));
    const struct es_post *p = find(&s, "1377650277642338305");
    ES_ASSERT(p);
    ES_ASSERT(p->has_point);
    ES_ASSERT_NEAR(p->lat, 34.75192228, 1e-9);
    ES_ASSERT_NEAR(p->lon, -86.58216981, 1e-9);
    ES_ASSERT_STR(p->place_name, "Huntsville, AL");
    ES_ASSERT_STR(p->country_code, "US");
    ES_ASSERT_STR(p->author.handle, "dreasaurusrex92");
    ES_ASSERT_EQ(p->author.followers, 134);
    ES_ASSERT_EQ(p->created_at, 1617292396);
    ES_ASSERT(starts(p->text, "Got the doggo groomed because it\xe2\x80\x99s been "));
    p = find(&s, "1377650090978992134");
    ES_ASSERT(p);
    ES_ASSERT(!p->has_point);
    ES_ASSERT_STR(p->place_name, "Malawi");
    ES_ASSERT_STR(p->country_code, "MW");
    int places = 0, points = 0;
    for (size_t i = 0; i < s.n; i++) {
        places += s.posts[i]->place_name != NULL;
        points += s.posts[i]->has_point;
    }
    ES_ASSERT_EQ(places, 7);
    ES_ASSERT_EQ(points, 2);
    sink_clear(&s);
}

ES_TEST(tweepy_v2_bodies_give_tweets_only)
{
    static const struct {
        const char *file;
        int posts;
    } want[] = {
        {"test_client_create_and_delete_tweet.0.json", 1},
        {"test_client_create_and_delete_tweet.1.json", 0},
        {"test_client_get_home_timeline.0.json", 98},
        {"test_client_get_quote_tweets.0.json", 9},
        {"test_client_get_recent_tweets_count.0.json", 0},
        {"test_client_get_tweet.0.json", 1},
        {"test_client_get_tweets.0.json", 2},
        {"test_client_get_user.0.json", 0},
        {"test_client_get_users_mentions.0.json", 10},
        {"test_client_hide_and_unhide_reply.0.json", 0},
        {"test_client_hide_and_unhide_reply.1.json", 0},
        {"test_client_search_all_tweets.0.json", 10},
        {"test_client_search_recent_tweets.0.json", 10},
        {"test_manage_and_lookup_direct_messages.0.json", 0},
        {"test_manage_and_lookup_direct_messages.1.json", 0},
        {"test_manage_and_lookup_direct_messages.2.json", 0},
        {"test_manage_and_lookup_direct_messages.3.json", 0},
        {"test_manage_and_lookup_direct_messages.4.json", 0},
        {"test_manage_and_lookup_direct_messages.5.json", 0},
    };
    size_t n_files = 0;
    DIR *d = opendir(PAYLOADS "/twitter_v2/tweepy-cassettes/bodies");
    ES_ASSERT(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n_files += strstr(e->d_name, ".json") != NULL;
    closedir(d);
    ES_ASSERT_EQ(n_files, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[512];
        struct sink s = {0};
        snprintf(path, sizeof path, "%s/twitter_v2/tweepy-cassettes/bodies/%s", PAYLOADS,
                 want[i].file);
        int got = parse_body(path, ES_FORMAT_TWITTER_V2, &s);
        long errors = s.n_errors;
        sink_clear(&s);
        if (got != want[i].posts)
            ES_FAILF("%s: %d posts, want %d", want[i].file, got, want[i].posts);
        if (errors)
            ES_FAILF("%s: %ld errors", want[i].file, errors);
    }
    /* with AUTO, a page with data is detected as v2 */
    struct sink s = {0};
    ES_ASSERT_EQ(parse_body(PAYLOADS "/twitter_v2/tweepy-cassettes/bodies/"
                                     "test_client_search_recent_tweets.0.json",
                            ES_FORMAT_AUTO, &s),
                 10);
    ES_ASSERT(s.posts[0]->id && s.posts[0]->text);
    ES_ASSERT_EQ(s.posts[0]->platform, ES_PLATFORM_TWITTER);
    /* without expansions: no author, permalink through /i/web/ */
    ES_ASSERT(starts(s.posts[0]->url, "https://twitter.com/i/web/status/"));
    sink_clear(&s);
}

/* ---- Twitter v1.1 ---- */

ES_TEST(tweepy_v1_bodies_give_statuses_only)
{
    static const struct {
        const char *file;
        int posts;
    } want[] = {
        {"testgeoapis.0.json", 0},
        {"testgeoapis.1.json", 0},
        {"testgeoapis.2.json", 0},
        {"testgetdirectmessages.0.json", 0},
        {"testgetstatus.0.json", 1},
        {"testhometimeline.0.json", 19},
        {"testmentionstimeline.0.json", 0},
        {"testsearchtweets.0.json", 15},
        {"testsendanddeletedirectmessage.0.json", 0},
        {"testsendanddeletedirectmessage.1.json", 0},
        {"testsendanddeletedirectmessage.2.json", 0},
        {"testupdateanddestroystatus.0.json", 1},
        {"testupdateanddestroystatus.1.json", 1},
        {"testupdateanddestroystatus.2.json", 1},
        {"testupdateanddestroystatus.3.json", 1},
        {"testusertimeline.0.json", 4},
        {"testusertimeline.1.json", 20},
        {"testverifycredentials.0.json", 0},
        {"testverifycredentials.1.json", 0},
        {"testverifycredentials.2.json", 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[512];
        struct sink s = {0};
        snprintf(path, sizeof path, "%s/twitter_v1.1/tweepy-cassettes/bodies/%s", PAYLOADS,
                 want[i].file);
        int got = parse_body(path, ES_FORMAT_TWITTER_V1, &s);
        long errors = s.n_errors;
        sink_clear(&s);
        if (got != want[i].posts || errors)
            ES_FAILF("%s: %d posts (%ld errors), want %d", want[i].file, got, errors,
                     want[i].posts);
        /* AUTO agrees on the statuses */
        if (want[i].posts) {
            got = parse_body(path, ES_FORMAT_AUTO, &s);
            sink_clear(&s);
            if (got != want[i].posts)
                ES_FAILF("%s with AUTO: %d posts, want %d", want[i].file, got, want[i].posts);
        }
    }
}

ES_TEST(v1_user_timeline_has_13_of_24_geo_tagged_and_full_fields)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse_body(PAYLOADS
                            "/twitter_v1.1/tweepy-cassettes/bodies/testusertimeline.0.json",
                            ES_FORMAT_AUTO, &s),
                 4);
    ES_ASSERT_EQ(parse_body(PAYLOADS
                            "/twitter_v1.1/tweepy-cassettes/bodies/testusertimeline.1.json",
                            ES_FORMAT_AUTO, &s),
                 20);
    int tagged = 0;
    for (size_t i = 0; i < s.n; i++)
        tagged += s.posts[i]->place_name != NULL || s.posts[i]->has_point;
    ES_ASSERT_EQ(tagged, 13);
    const struct es_post *p = find(&s, "1341793727208181762");
    ES_ASSERT(p);
    ES_ASSERT_STR(p->author.id, "783214");
    ES_ASSERT_STR(p->author.name, "Twitter");
    ES_ASSERT_STR(p->author.handle, "Twitter");
    ES_ASSERT_EQ(p->author.followers, 58778710);
    ES_ASSERT(p->author.verified);
    ES_ASSERT_EQ(p->created_at, 1608743528);
    ES_ASSERT_STR(p->place_name, "Manhattan, NY");
    ES_ASSERT_STR(p->place_id, "01a9a39529b27f36");
    ES_ASSERT_STR(p->country_code, "US");
    ES_ASSERT_STR(p->reply_to, "1341404809354760192");
    ES_ASSERT(p->thread_root == NULL);
    ES_ASSERT_EQ(p->n_mentions, 1);
    ES_ASSERT_STR(p->mentions[0], "TreyNKennedy");
    ES_ASSERT(starts(p->text, "@TreyNKennedy \xf0\x9f\x91\x80 https://t.co/1"));
    ES_ASSERT_STR(p->lang, "und");
    ES_ASSERT_STR(p->url, "https://twitter.com/Twitter/status/1341793727208181762");
    p = find(&s, "1341398683594715138");
    ES_ASSERT(p);
    ES_ASSERT_STR(p->text, "roast 2020. go.");
    ES_ASSERT(p->reply_to == NULL);
    ES_ASSERT_STR(p->thread_root, "1341398683594715138");
    ES_ASSERT(p->place_name == NULL);
    sink_clear(&s);
}

ES_TEST(v1_search_statuses_keep_retweets_as_themselves)
{
    struct sink s = {0};
    ES_ASSERT_EQ(parse_body(PAYLOADS
                            "/twitter_v1.1/tweepy-cassettes/bodies/testsearchtweets.0.json",
                            ES_FORMAT_AUTO, &s),
                 15);
    const struct es_post *p = find(&s, "1149678185375600641");
    ES_ASSERT(p);
    ES_ASSERT_STR(p->author.handle, "jluisperezg");
    ES_ASSERT_EQ(p->author.followers, 2864);
    ES_ASSERT_EQ(p->created_at, 1562939614);
    ES_ASSERT_STR(p->place_name, "Badalona, Spain");
    ES_ASSERT_STR(p->country_code, "ES");
    ES_ASSERT_STR(p->reply_to, "1149676837204717568");
    ES_ASSERT_EQ(p->n_mentions, 8);
    ES_ASSERT_STR(p->mentions[0], "Kirzahk");
    ES_ASSERT_STR(p->mentions[7], "agarcod");
    p = find(&s, "1149825924029980674");
    ES_ASSERT(p);
    ES_ASSERT(starts(p->text, "RT @KassidyCook1: Me, during the season 3 Stranger Things"));
    /* the retweeted status is not delivered on its own */
    ES_ASSERT(find(&s, "1149803446704443392") == NULL);
    sink_clear(&s);
}

/* ---- Weibo ---- */

static int64_t weibo_ref(void)
{
    /* 2019-12-19 12:00 in Beijing */
    return es_time_from_civil(2019, 12, 19, 4, 0, 0);
}

ES_TEST(weibo_timeline_gives_ten_mblogs_with_stripped_text_and_times)
{
    struct sink s = {0};
    int n = parse_file(PAYLOADS "/weibo/m.weibo.cn_getIndex_timeline/weibo.json", ES_FORMAT_AUTO,
                       weibo_ref(), &s);
    ES_ASSERT_EQ(n, 10);
    ES_ASSERT_EQ(s.n_errors, 0);
    const struct es_post *p = find(&s, "4451195839843564");
    ES_ASSERT(p);
    ES_ASSERT_EQ(p->platform, ES_PLATFORM_WEIBO);
    ES_ASSERT_STR(p->text, "许愿要考好哦🎄 昆明·云南艺术学院 ");
    ES_ASSERT_STR(p->place_name, "昆明·云南艺术学院");
    ES_ASSERT_STR(p->author.id, "6299499718");
    ES_ASSERT_STR(p->author.name, "KellyGGW");
    ES_ASSERT_EQ(p->author.followers, 123);
    ES_ASSERT(!p->author.verified);
    ES_ASSERT_EQ(p->created_at, weibo_ref() - 6 * 3600);
    ES_ASSERT_STR(p->lang, "zh");
    ES_ASSERT_STR(p->url, "https://m.weibo.cn/detail/4451195839843564");
    p = find(&s, "4450913563314565"); /* 昨天 18:12 */
    ES_ASSERT(p);
    ES_ASSERT_EQ(p->created_at, es_time_from_civil(2019, 12, 18, 10, 12, 0));
    p = find(&s, "4450194340834122"); /* 12-16 */
    ES_ASSERT(p);
    ES_ASSERT_EQ(p->created_at, es_time_from_civil(2019, 12, 15, 16, 0, 0));
    p = find(&s, "4432013463022724"); /* a repost: as itself */
    ES_ASSERT(p);
    ES_ASSERT_STR(p->text, "转发微博");
    ES_ASSERT(find(&s, "4431995729947279") == NULL);
    p = find(&s, "4423836038326950"); /* a link that is not a place */
    ES_ASSERT(p);
    ES_ASSERT_STR(p->text, "今天是我的生日10月05日，来祝福我吧~");
    ES_ASSERT(p->place_name == NULL);
    sink_clear(&s);
}

ES_TEST(weibo_profile_responses_have_no_posts_and_no_errors)
{
    DIR *d = opendir(PAYLOADS "/weibo/m.weibo.cn_profile");
    ES_ASSERT(d);
    struct dirent *e;
    int files = 0;
    long posts = 0, errors = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char path[600];
        struct sink s = {0};
        snprintf(path, sizeof path, "%s/weibo/m.weibo.cn_profile/%s", PAYLOADS, e->d_name);
        int n = parse_file(path, ES_FORMAT_AUTO, weibo_ref(), &s);
        files++;
        posts += n;
        errors += s.n_errors;
        sink_clear(&s);
    }
    closedir(d);
    ES_ASSERT_EQ(files, 200);
    ES_ASSERT_EQ(posts, 0);
    ES_ASSERT_EQ(errors, 0);
}

/* ---- WeChat ---- */

ES_TEST(wechat_push_xml_text_location_link_are_posts_events_are_not)
{
    DIR *d = opendir(PAYLOADS "/wechat/push-xml");
    ES_ASSERT(d);
    struct dirent *e;
    int files = 0;
    long posts = 0, errors = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".xml"))
            continue;
        char path[600];
        struct sink s = {0};
        snprintf(path, sizeof path, "%s/wechat/push-xml/%s", PAYLOADS, e->d_name);
        int n = parse_file(path, ES_FORMAT_AUTO, 0, &s);
        int want = strstr(e->d_name, "_00_text") || strstr(e->d_name, "_04_location") ||
                   strstr(e->d_name, "_05_link");
        files++;
        posts += n;
        errors += s.n_errors;
        sink_clear(&s);
        if (n != want)
            ES_FAILF("%s: %d posts, want %d", e->d_name, n, want);
    }
    closedir(d);
    ES_ASSERT_EQ(files, 51);
    ES_ASSERT_EQ(posts, 3);
    ES_ASSERT_EQ(errors, 0);

    struct sink s = {0};
    ES_ASSERT_EQ(
        parse_file(PAYLOADS "/wechat/push-xml/test_parser_00_text.xml", ES_FORMAT_AUTO, 0, &s), 1);
    ES_ASSERT_STR(s.posts[0]->id, "1234567890123456");
    ES_ASSERT_STR(s.posts[0]->text, "this is a test");
    ES_ASSERT_STR(s.posts[0]->author.id, "fromUser");
    ES_ASSERT_EQ(s.posts[0]->created_at, 1348831860);
    ES_ASSERT_EQ(s.posts[0]->platform, ES_PLATFORM_WECHAT);
    ES_ASSERT_STR(s.posts[0]->lang, "");
    sink_clear(&s);
    ES_ASSERT_EQ(parse_file(PAYLOADS "/wechat/push-xml/test_parser_04_location.xml",
                            ES_FORMAT_WECHAT_XML, 0, &s),
                 1);
    ES_ASSERT(s.posts[0]->has_point);
    ES_ASSERT_NEAR(s.posts[0]->lat, 23.134521, 1e-9);
    ES_ASSERT_NEAR(s.posts[0]->lon, 113.358803, 1e-9);
    ES_ASSERT_STR(s.posts[0]->text, "位置信息");
    ES_ASSERT_STR(s.posts[0]->place_name, "位置信息");
    ES_ASSERT_STR(s.posts[0]->lang, "zh");
    ES_ASSERT_EQ(s.posts[0]->created_at, 1351776360);
    sink_clear(&s);
    ES_ASSERT_EQ(
        parse_file(PAYLOADS "/wechat/push-xml/test_parser_05_link.xml", ES_FORMAT_AUTO, 0, &s), 1);
    ES_ASSERT_STR(s.posts[0]->text, "公众平台官网链接\n公众平台官网链接");
    sink_clear(&s);
}

static int walk_fixtures(const char *dir, long *files, long *posts, long *errors)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t nl = strlen(e->d_name);
        if (nl > 5 && strcmp(e->d_name + nl - 5, ".json") == 0) {
            struct sink s = {0};
            int n = parse_file(path, ES_FORMAT_WECHAT_JSON, 0, &s);
            (*files)++;
            if (n > 0)
                *posts += n;
            if (n < 0)
                (*errors)++;
            sink_clear(&s);
        } else if (!strchr(e->d_name, '.')) {
            walk_fixtures(path, files, posts, errors);
        }
    }
    closedir(d);
    return 0;
}

ES_TEST(wechat_fixtures_only_customer_service_records_carry_posts)
{
    long files = 0, posts = 0, failed = 0;
    ES_ASSERT_EQ(walk_fixtures(PAYLOADS "/wechat/wechatpy-fixtures", &files, &posts, &failed), 0);
    ES_ASSERT_EQ(files, 217); /* the 218th file is pay/v3/bill.xlsx */
    ES_ASSERT_EQ(posts, 1);
    ES_ASSERT_EQ(failed, 0);

    struct sink s = {0};
    ES_ASSERT_EQ(parse_file(PAYLOADS
                            "/wechat/wechatpy-fixtures/customservice_msgrecord_getmsglist.json",
                            ES_FORMAT_AUTO, 0, &s),
                 1);
    /* opercode 2003: the message the agent received, i.e. the customer's */
    ES_ASSERT(starts(s.posts[0]->text, " 你好，有什么事情？"));
    ES_ASSERT_STR(s.posts[0]->author.id, "oDF3iY9WMaswOPWjCIp_f3Bnpljk");
    ES_ASSERT_EQ(s.posts[0]->created_at, 1400563731);
    ES_ASSERT_STR(s.posts[0]->lang, "zh");
    ES_ASSERT(starts(s.posts[0]->id, "wx-oDF3iY9WMaswOPWjCIp_f3Bnpljk-1400563731-"));
    sink_clear(&s);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* keep the output if a sanitizer aborts */
    ES_RUN(twarc_jsonl_files_give_the_tweets_in_data);
    ES_RUN(v2_search_page_joins_users_and_keeps_text_date_lang_mentions);
    ES_RUN(v2_geo_point_is_lon_lat_and_place_is_joined);
    ES_RUN(v2_stream_lines_each_give_one_tweet_and_the_truncated_line_a_diag);
    ES_RUN(tweepy_v2_bodies_give_tweets_only);
    ES_RUN(tweepy_v1_bodies_give_statuses_only);
    ES_RUN(v1_user_timeline_has_13_of_24_geo_tagged_and_full_fields);
    ES_RUN(v1_search_statuses_keep_retweets_as_themselves);
    ES_RUN(weibo_timeline_gives_ten_mblogs_with_stripped_text_and_times);
    ES_RUN(weibo_profile_responses_have_no_posts_and_no_errors);
    ES_RUN(wechat_push_xml_text_location_link_are_posts_events_are_not);
    ES_RUN(wechat_fixtures_only_customer_service_records_carry_posts);
    return ES_DONE();
}
