/*
 * The pipeline on a real redis-server: pages of real Twitter v2 and Weibo
 * payloads and a page of complaints go in; mentions, seen marks, counts per
 * minute and events come out; a page submitted twice adds nothing; a page
 * that is not JSON is refused with a negative status so the crawler refetches.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "earshot/geo.h"
#include "earshot/pipeline.h"
#include "earshot/store.h"
#include "harness.h"

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, last_status, last_count;
    char last_newest[64];
};

static void on_done(void *ud, int status, const struct es_page_meta *meta)
{
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done++;
    w->last_status = status;
    w->last_count = meta ? meta->count : -1;
    snprintf(w->last_newest, sizeof w->last_newest, "%s", meta ? meta->newest_id : "");
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int submit_wait(struct es_pipeline *p, struct es_source *src, const char *body,
                       size_t len, struct waiter *w)
{
    pthread_mutex_lock(&w->mu);
    int before = w->done;
    pthread_mutex_unlock(&w->mu);
    if (es_pipeline_submit(p, src, body, len, 0, on_done, w) != 0)
        return -100;
    pthread_mutex_lock(&w->mu);
    while (w->done == before)
        pthread_cond_wait(&w->cv, &w->mu);
    int st = w->last_status;
    pthread_mutex_unlock(&w->mu);
    return st;
}

static char *read_all(const char *path, size_t *len)
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


/* A redis-server of the test's own and the shipped rules compiled. */
struct fixture {
    char dir[32], sock[256], url[300];
    struct es_redis_child *child;
    struct es_norm *norm;
    struct es_ruleset *rs;
};

static bool fixture_start(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/es-pipe-XXXXXX");
    struct es_diag d = {0};
    if (!mkdtemp(f->dir) || es_redis_child_start(f->dir, &f->child, f->sock, sizeof f->sock, &d))
        return false;
    snprintf(f->url, sizeof f->url, "unix://%s", f->sock);
    const char *warn;
    f->norm = es_norm_new(NULL, &warn);
    struct es_rules *r = es_rules_new();
    int rc = es_rules_load_dirs(r, ES_SOURCE_DIR "/keywords", ES_SOURCE_DIR "/rules", NULL, NULL);
    struct es_compile_opts co = {f->norm, 0};
    if (rc == 0)
        rc = es_ruleset_compile(r, &co, &f->rs, NULL, NULL);
    es_rules_free(r);
    return f->norm && rc == 0;
}

static bool fixture_stop(struct fixture *f)
{
    es_ruleset_free(f->rs);
    es_norm_free(f->norm);
    es_redis_child_stop(f->child);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    return system(cmd) == 0;
}

ES_TEST(pages_become_mentions_counts_and_events_once)
{
    struct fixture f;
    ES_ASSERT(fixture_start(&f));
    struct es_diag d = {0};

    struct es_pipeline_opts po = {f.rs, NULL, NULL, f.url, 2, 8};
    struct es_pipeline *p = NULL;
    ES_ASSERT_EQ(es_pipeline_start(&po, &p, &d), 0);
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, ""};

    /* a v2 search page of complaints, in the real response shape */
    const char *page =
        "{\"data\":[{\"id\":\"9001\",\"text\":\"@united lost my luggage again, worst airline\","
        "\"author_id\":\"7\",\"created_at\":\"2026-11-20T10:00:00.000Z\",\"lang\":\"en\","
        "\"conversation_id\":\"9001\"},{\"id\":\"9002\",\"text\":\"lovely sunny day\","
        "\"author_id\":\"8\",\"created_at\":\"2026-11-20T10:00:05.000Z\",\"lang\":\"en\"}],"
        "\"includes\":{\"users\":[{\"id\":\"7\",\"name\":\"Ann\",\"username\":\"ann\","
        "\"public_metrics\":{\"followers_count\":1200}},{\"id\":\"8\",\"name\":\"Bo\","
        "\"username\":\"bo\"}]},\"meta\":{\"newest_id\":\"9002\",\"oldest_id\":\"9001\","
        "\"result_count\":2}}";
    struct es_source src = {"tw", ES_FORMAT_TWITTER_V2, "http://127.0.0.1", NULL, NULL, NULL,
                            1000, 0, false, 0, 0, 0, NULL};
    /* Ann is a VIP: the page's dedup read brings her tier, and her SLA is 10 minutes */
    redisContext *vc = redisConnectUnix(f.sock);
    ES_ASSERT(vc && !vc->err);
    freeReplyObject(redisCommand(vc, "HSET es:vip twitter:ann vip"));
    ES_ASSERT_EQ(submit_wait(p, &src, page, strlen(page), &w), 0);
    redisReply *vr = redisCommand(vc, "EVAL %s 0",
                      "for _, k in ipairs(redis.call('KEYS', 'es:{s*}:m:*')) do "
                      "return redis.call('HMGET', k, 'tier', 'sla_deadline_ms', 'post_id') end");
    ES_ASSERT(vr && vr->type == REDIS_REPLY_ARRAY && vr->elements == 3);
    ES_ASSERT_STR(vr->element[0]->str, "vip");
    /* 2026-11-20T10:00:00Z + 10 min */
    ES_ASSERT_STR(vr->element[1]->str, "1795169400000");
    ES_ASSERT_STR(vr->element[2]->str, "9001");
    freeReplyObject(vr);
    redisFree(vc);
    ES_ASSERT_EQ(w.last_count, 2);
    ES_ASSERT_STR(w.last_newest, "9002");
    struct es_pipeline_stats st;
    es_pipeline_stats(p, &st);
    ES_ASSERT_EQ(st.posts, 2);
    ES_ASSERT_EQ(st.mentions, 1);

    /* the same page again: nothing new */
    ES_ASSERT_EQ(submit_wait(p, &src, page, strlen(page), &w), 0);
    es_pipeline_stats(p, &st);
    ES_ASSERT_EQ(st.duplicates, 2);
    ES_ASSERT_EQ(st.mentions, 1);

    /* real payloads: kpop (100 tweets) and a Weibo timeline (10 posts) */
    size_t len;
    char *kpop = read_all(ES_SHARED_DATA "/api_payloads/twitter_v2/twarc-csv/kpop.jsonl", &len);
    ES_ASSERT(kpop != NULL);
    ES_ASSERT_EQ(submit_wait(p, &src, kpop, len, &w), 0);
    ES_ASSERT_EQ(w.last_count, 100);
    free(kpop);
    struct es_source wb = {"wb", ES_FORMAT_WEIBO, "http://127.0.0.1", NULL, NULL, NULL,
                           1000, 0, false, 0, 0, 0, NULL};
    char *weibo = read_all(ES_SHARED_DATA "/api_payloads/weibo/m.weibo.cn_getIndex_timeline/"
                                          "weibo.json",
                           &len);
    ES_ASSERT(weibo != NULL);
    ES_ASSERT_EQ(submit_wait(p, &wb, weibo, len, &w), 0);
    ES_ASSERT_EQ(w.last_count, 10);
    free(weibo);

    /* a truncated page: refused, so the crawler fetches it again */
    ES_ASSERT(submit_wait(p, &src, page, strlen(page) / 2, &w) < 0);

    es_pipeline_stats(p, &st);
    ES_ASSERT_EQ(st.posts, 2 + 2 + 100 + 10);

    /* what Redis holds: the mention, seen marks, counts and an event */
    redisContext *c = redisConnectUnix(f.sock);
    ES_ASSERT(c && !c->err);
    redisReply *rep = redisCommand(c, "HMGET es:seen:twitter:20261120 9001 9002 9003");
    ES_ASSERT(rep->type == REDIS_REPLY_ARRAY && rep->elements == 3);
    ES_ASSERT(rep->element[0]->type == REDIS_REPLY_STRING);
    ES_ASSERT(rep->element[1]->type == REDIS_REPLY_STRING);
    ES_ASSERT(rep->element[2]->type == REDIS_REPLY_NIL);
    freeReplyObject(rep);
    rep = redisCommand(c, "TTL es:seen:twitter:20261120");
    ES_ASSERT(rep->integer > 7 * 86400);
    freeReplyObject(rep);
    rep = redisCommand(c, "HGET es:stats:202611201000 brand:united");
    ES_ASSERT(rep->type == REDIS_REPLY_STRING);
    ES_ASSERT_STR(rep->str, "1");
    freeReplyObject(rep);
    rep = redisCommand(c, "XLEN es:events");
    ES_ASSERT(rep->integer >= 1);
    freeReplyObject(rep);
    redisFree(c);

    es_pipeline_stop(p);
    ES_ASSERT(fixture_stop(&f));
}

ES_TEST(a_complaint_inside_a_fence_is_routed_to_the_fence_brand)
{
    struct fixture f;
    ES_ASSERT(fixture_start(&f));
    struct es_diag d = {0};
    json_t *fj = json_loads("[{\"id\":\"xidan\",\"brand\":\"starbucks\",\"name\":\"Xidan\","
                            "\"team\":\"bj\",\"circle\":{\"lat\":39.9087,\"lon\":116.3747,"
                            "\"radius_m\":300}}]",
                            0, NULL);
    struct es_fences *fences = NULL;
    ES_ASSERT_EQ(es_fences_parse(fj, &fences, &d), 0);
    json_decref(fj);
    struct es_sla_policy sla;
    es_sla_policy_default(&sla);
    struct es_pipeline_opts po = {f.rs, fences, &sla, f.url, 1, 8};
    struct es_pipeline *p = NULL;
    ES_ASSERT_EQ(es_pipeline_start(&po, &p, &d), 0);
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, ""};
    struct es_source src = {"gen", ES_FORMAT_GENERIC, "http://127.0.0.1", NULL, NULL, NULL,
                            1000, 0, false, 0, 0, 0, NULL};
    /* inside the 300 m circle, names no brand: a mention for starbucks, fence xidan */
    const char *in = "{\"id\":\"g1\",\"platform\":\"weibo\",\"author\":{\"id\":\"a1\"},"
                     "\"text\":\"排队排了一个小时，服务态度太差了\",\"lang\":\"zh\","
                     "\"created_at\":\"2026-11-20T10:00:00Z\","
                     "\"geo\":{\"lat\":39.9090,\"lon\":116.3750}}";
    /* 2 km away: a complaint, but no brand and no fence */
    const char *out = "{\"id\":\"g2\",\"platform\":\"weibo\",\"author\":{\"id\":\"a2\"},"
                      "\"text\":\"排队排了一个小时，服务态度太差了\",\"lang\":\"zh\","
                      "\"created_at\":\"2026-11-20T10:00:00Z\","
                      "\"geo\":{\"lat\":39.9270,\"lon\":116.3747}}";
    ES_ASSERT_EQ(submit_wait(p, &src, in, strlen(in), &w), 0);
    ES_ASSERT_EQ(submit_wait(p, &src, out, strlen(out), &w), 0);
    struct es_pipeline_stats st;
    es_pipeline_stats(p, &st);
    ES_ASSERT_EQ(st.mentions, 2);
    ES_ASSERT_EQ(st.fenced, 1);
    struct es_store_opts so = {f.url, NULL, 0};
    struct es_store *s = NULL;
    ES_ASSERT_EQ(es_store_open(&so, &s, &d), 0);
    struct es_mention_filter mf = {0};
    json_t *arr = NULL;
    char *next = NULL;
    ES_ASSERT_EQ(es_store_mentions_list(s, &mf, &arr, &next), 0);
    ES_ASSERT_EQ(json_array_size(arr), 2);
    int routed = 0;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        const char *post = json_string_value(json_object_get(m, "post_id"));
        const char *brand = json_string_value(json_object_get(m, "brand"));
        const char *fence = json_string_value(json_object_get(m, "fence"));
        json_int_t deadline = json_integer_value(json_object_get(m, "sla_deadline_ms"));
        /* the SLA clock started at the post's own time: 10:00 + 60 min */
        ES_ASSERT_EQ(deadline, (json_int_t)1795168800000LL + 3600000);
        if (strcmp(post, "g1") == 0) {
            ES_ASSERT_STR(brand, "starbucks");
            ES_ASSERT_STR(fence, "xidan");
            routed = 1;
        } else {
            ES_ASSERT_STR(brand, "");
            ES_ASSERT_STR(fence, "");
        }
    }
    ES_ASSERT(routed);
    json_decref(arr);
    free(next);
    es_store_close(s);
    es_pipeline_stop(p);
    es_fences_free(fences);
    ES_ASSERT(fixture_stop(&f));
}

int main(void)
{
    ES_RUN(pages_become_mentions_counts_and_events_once);
    ES_RUN(a_complaint_inside_a_fence_is_routed_to_the_fence_brand);
    return ES_DONE();
}
