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


ES_TEST(pages_become_mentions_counts_and_events_once)
{
    char dir[] = "/tmp/es-pipe-XXXXXX";
    ES_ASSERT(mkdtemp(dir) != NULL);
    struct es_redis_child *child = NULL;
    char sock[256], url[300];
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_redis_child_start(dir, &child, sock, sizeof sock, &d), 0);
    snprintf(url, sizeof url, "unix://%s", sock);

    const char *warn;
    struct es_norm *norm = es_norm_new(NULL, &warn);
    struct es_rules *r = es_rules_new();
    ES_ASSERT_EQ(es_rules_load_dirs(r, ES_SOURCE_DIR "/keywords", ES_SOURCE_DIR "/rules", NULL,
                                    NULL),
                 0);
    struct es_compile_opts co = {norm, 0};
    struct es_ruleset *rs = NULL;
    ES_ASSERT_EQ(es_ruleset_compile(r, &co, &rs, NULL, NULL), 0);
    es_rules_free(r);

    struct es_pipeline_opts po = {rs, NULL, NULL, url, 2, 8};
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
    ES_ASSERT_EQ(submit_wait(p, &src, page, strlen(page), &w), 0);
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
    redisContext *c = redisConnectUnix(sock);
    ES_ASSERT(c && !c->err);
    redisReply *rep = redisCommand(c, "EXISTS es:seen:twitter:9001 es:seen:twitter:9002");
    ES_ASSERT_EQ(rep->integer, 2);
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
    es_ruleset_free(rs);
    es_norm_free(norm);
    es_redis_child_stop(child);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ES_ASSERT_EQ(system(cmd), 0);
}

int main(void)
{
    ES_RUN(pages_become_mentions_counts_and_events_once);
    return ES_DONE();
}
