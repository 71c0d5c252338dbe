/*
 * test_feed_page_meta: es_feed_parse_page's paging meta (the crawler's
 * cursors) on real payloads from shared/data/api_payloads and on pages in
 * the mock platform's shapes: newest/oldest id, next page token, count.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/feed.h"
#include "harness.h"

#define PAYLOADS ES_SHARED_DATA "/api_payloads"

struct sink {
    int posts, diags;
};

static void on_post(void *ud, const struct es_post *p)
{
    (void)p;
    ((struct sink *)ud)->posts++;
}

static void on_diag(void *ud, const struct es_diag *d)
{
    (void)d;
    ((struct sink *)ud)->diags++; /* the caller's ud, not the parser's */
}

/* The file (or its "body" member, for the tweepy wrappers) as JSON text; free() it. */
static char *load(const char *path, int body)
{
    json_t *j = json_load_file(path, 0, NULL);
    if (!j)
        return NULL;
    char *s = json_dumps(body ? json_object_get(j, "body") : j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static int page(const char *doc, enum es_format f, struct es_page_meta *m, struct sink *s)
{
    struct es_feed_opts o = {.format = f, .source = "test", .tz_offset_s = 28800};
    memset(s, 0, sizeof *s);
    return es_feed_parse_page(doc, strlen(doc), &o, on_post, on_diag, s, m);
}

ES_TEST(twitter_v2_search_page_gives_meta_ids_and_next_token)
{
    struct es_page_meta m;
    struct sink s;
    char *doc = load(PAYLOADS "/twitter_v2/tweepy-cassettes/bodies/"
                              "test_client_search_recent_tweets.0.json", 1);
    ES_ASSERT(doc);
    int rc = page(doc, ES_FORMAT_TWITTER_V2, &m, &s);
    free(doc);
    ES_ASSERT_EQ(rc, 10);
    ES_ASSERT_EQ(m.count, 10);
    ES_ASSERT_EQ(m.records, 10);
    ES_ASSERT_STR(m.newest_id, "1578516068309794817");
    ES_ASSERT_STR(m.oldest_id, "1578511538419212288");
    ES_ASSERT_STR(m.next_token, "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul");
}

ES_TEST(twitter_v2_empty_page_has_no_ids_and_a_cut_page_keeps_its_token)
{
    struct es_page_meta m;
    struct sink s;
    ES_ASSERT_EQ(page("{\"meta\":{\"result_count\":0}}", ES_FORMAT_TWITTER_V2, &m, &s), 0);
    ES_ASSERT_STR(m.newest_id, "");
    ES_ASSERT_STR(m.next_token, "");
    ES_ASSERT_EQ(m.count, 0);
    ES_ASSERT_EQ(page("{\"meta\":{\"result_count\":0,\"next_token\":\"esk1f\"}}",
                      ES_FORMAT_TWITTER_V2, &m, &s), 0);
    ES_ASSERT_STR(m.next_token, "esk1f");
    /* no meta ids: computed from the delivered tweets */
    ES_ASSERT_EQ(page("{\"data\":[{\"id\":\"9\",\"text\":\"a\"},{\"id\":\"10\",\"text\":\"b\"}]}",
                      ES_FORMAT_TWITTER_V2, &m, &s), 2);
    ES_ASSERT_STR(m.newest_id, "10");
    ES_ASSERT_STR(m.oldest_id, "9");
}

ES_TEST(twitter_v1_search_next_results_max_id_is_the_token)
{
    struct es_page_meta m;
    struct sink s;
    char *doc = load(PAYLOADS "/twitter_v1.1/tweepy-cassettes/bodies/testsearchtweets.0.json", 1);
    ES_ASSERT(doc);
    int rc = page(doc, ES_FORMAT_TWITTER_V1, &m, &s);
    free(doc);
    ES_ASSERT_EQ(rc, 15);
    ES_ASSERT_EQ(m.count, 15);
    ES_ASSERT_STR(m.newest_id, "1149825924029980674");
    ES_ASSERT_STR(m.oldest_id, "1149557488447975429");
    ES_ASSERT_STR(m.next_token, "1149557488447975428");
    /* the last page: no next_results */
    ES_ASSERT_EQ(page("{\"statuses\":[],\"search_metadata\":{\"max_id_str\":\"0\"}}",
                      ES_FORMAT_TWITTER_V1, &m, &s), 0);
    ES_ASSERT_STR(m.next_token, "");
    ES_ASSERT_STR(m.newest_id, "");
}

ES_TEST(weibo_getindex_since_id_is_the_older_page_token)
{
    struct es_page_meta m;
    struct sink s;
    char *doc = load(PAYLOADS "/weibo/m.weibo.cn_getIndex_timeline/weibo.json", 0);
    ES_ASSERT(doc);
    int rc = page(doc, ES_FORMAT_WEIBO, &m, &s);
    free(doc);
    ES_ASSERT_EQ(rc, 10);
    ES_ASSERT_STR(m.newest_id, "4451195839843564");
    ES_ASSERT_STR(m.oldest_id, "4412113394976214");
    ES_ASSERT_STR(m.next_token, "4407134353313108");
    /* the last page has no since_id; weibo.com ajax uses data.since_id (a string) */
    ES_ASSERT_EQ(page("{\"ok\":1,\"data\":{\"cardlistInfo\":{\"containerid\":\"x\"},\"cards\":[]}}",
                      ES_FORMAT_WEIBO, &m, &s), 0);
    ES_ASSERT_STR(m.next_token, "");
    page("{\"ok\":1,\"data\":{\"since_id\":\"4900000000000042\",\"list\":[]}}", ES_FORMAT_WEIBO, &m,
         &s);
    ES_ASSERT_STR(m.next_token, "4900000000000042");
}

ES_TEST(wechat_msglist_msgid_is_the_cursor_and_number_the_records)
{
    struct es_page_meta m;
    struct sink s;
    const char *doc =
        "{\"recordlist\":[{\"openid\":\"o1\",\"opercode\":2003,\"text\":\"a\",\"time\":1700000000},"
        "{\"openid\":\"o1\",\"opercode\":2002,\"text\":\"agent\",\"time\":1700000001},"
        "{\"openid\":\"o2\",\"opercode\":2003,\"text\":\"b\",\"time\":1700000002}],"
        "\"number\":3,\"msgid\":42}";
    ES_ASSERT_EQ(page(doc, ES_FORMAT_WECHAT_JSON, &m, &s), 2);
    ES_ASSERT_EQ(m.count, 2);
    ES_ASSERT_EQ(m.records, 3);
    ES_ASSERT_STR(m.newest_id, "42");
    ES_ASSERT_STR(m.next_token, "42");
    ES_ASSERT_STR(m.oldest_id, "");
    ES_ASSERT_EQ(m.newest_created_at, 1700000002);
    ES_ASSERT_EQ(page("{\"recordlist\":[],\"number\":0,\"msgid\":42}", ES_FORMAT_WECHAT_JSON, &m,
                      &s), 0);
    ES_ASSERT_STR(m.newest_id, "42");
    ES_ASSERT_STR(m.next_token, "");
    /* the real fixture: no msgid, so no cursor; records counted */
    char *fx = load(PAYLOADS "/wechat/wechatpy-fixtures/customservice_msgrecord_getmsglist.json", 0);
    ES_ASSERT(fx);
    int rc = page(fx, ES_FORMAT_WECHAT_JSON, &m, &s);
    free(fx);
    ES_ASSERT_EQ(rc, 1);
    ES_ASSERT_EQ(m.records, 2);
    ES_ASSERT_STR(m.newest_id, "");
}

ES_TEST(diag_reaches_the_callers_ud_and_bad_json_gives_eparse)
{
    struct es_page_meta m;
    struct sink s;
    ES_ASSERT_EQ(page("{\"data\":[{\"id\":\"1\",\"text\":\"a\"},\"oops\":}", ES_FORMAT_TWITTER_V2,
                      &m, &s), ES_EPARSE);
    ES_ASSERT_EQ(s.diags, 1);
    ES_ASSERT_EQ(m.count, 0);
    ES_ASSERT_STR(m.newest_id, "");
    /* invalid UTF-8 inside a post: the page still gives its post and its meta */
    ES_ASSERT_EQ(page("{\"data\":[{\"id\":\"7\",\"text\":\"a\xC3\x28\"}],\"meta\":"
                      "{\"newest_id\":\"7\",\"oldest_id\":\"7\"}}",
                      ES_FORMAT_TWITTER_V2, &m, &s), 1);
    ES_ASSERT_EQ(s.diags, 1);
    ES_ASSERT_STR(m.newest_id, "7");
    /* meta may be NULL */
    struct es_feed_opts o = {.format = ES_FORMAT_TWITTER_V2};
    ES_ASSERT_EQ(es_feed_parse_page("{\"data\":[]}", 11, &o, on_post, NULL, &s, NULL), 0);
}

int main(void)
{
    ES_RUN(twitter_v2_search_page_gives_meta_ids_and_next_token);
    ES_RUN(twitter_v2_empty_page_has_no_ids_and_a_cut_page_keeps_its_token);
    ES_RUN(twitter_v1_search_next_results_max_id_is_the_token);
    ES_RUN(weibo_getindex_since_id_is_the_older_page_token);
    ES_RUN(wechat_msglist_msgid_is_the_cursor_and_number_the_records);
    ES_RUN(diag_reaches_the_callers_ud_and_bad_json_gives_eparse);
    return ES_DONE();
}
