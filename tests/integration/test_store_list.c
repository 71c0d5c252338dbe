/*
 * The triage list against a real redis-server: mentions added in one batch
 * (es_store_mentions_add) come back exactly once each, in priority order,
 * page after page through the cursor; the brand and category filters keep
 * only their mentions; a batch with an already stored post reports it as
 * not created.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "earshot/alloc.h"
#include "earshot/store.h"
#include "harness.h"

#define N 130

static const char *brands[] = {"meituan", "delta", "starbucks"};
static const char *cats[] = {"delay", "refund", "rude_staff", "quality"};

static struct es_store *st;

ES_TEST(batch_add_then_page_through_in_priority_order)
{
    static char ids[N][32], authors[N][32], texts[N][64];
    static struct es_post posts[N];
    static struct es_mention_in ins[N];
    const struct es_post *pp[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", 1000 + i);
        snprintf(authors[i], sizeof authors[i], "u%d", i % 40);
        snprintf(texts[i], sizeof texts[i], "complaint number %d", i);
        posts[i].id = ids[i];
        posts[i].platform = ES_PLATFORM_TWITTER;
        posts[i].author.id = authors[i];
        posts[i].author.handle = authors[i];
        posts[i].author.followers = (i * 7919) % 100000;
        posts[i].text = texts[i];
        posts[i].text_len = strlen(texts[i]);
        posts[i].created_at = 1795000000 + i;
        snprintf(posts[i].lang, sizeof posts[i].lang, "en");
        ins[i].brand = brands[i % 3];
        ins[i].category = cats[i % 4];
        ins[i].severity = 1 + i % 4;
        ins[i].score = 3.0;
        ins[i].complaint = true;
        ins[i].tier = "";
        pp[i] = &posts[i];
    }
    static char mids[N][64];
    static bool created[N];
    ES_ASSERT_EQ(es_store_mentions_add(st, N, pp, ins, 1795000200000LL, mids, created), 0);
    for (int i = 0; i < N; i++)
        ES_ASSERT(created[i]);

    /* the same posts again: deduplicated, same ids */
    static char mids2[N][64];
    static bool created2[N];
    ES_ASSERT_EQ(es_store_mentions_add(st, 5, pp, ins, 1795000300000LL, mids2, created2), 0);
    for (int i = 0; i < 5; i++) {
        ES_ASSERT(!created2[i]);
        ES_ASSERT_STR(mids2[i], mids[i]);
    }

    /* every page in priority order, every mention once */
    static bool seen[N];
    int total = 0, pages = 0;
    double last = 1e300;
    char *cursor = NULL;
    do {
        struct es_mention_filter f = {0};
        f.limit = 50;
        f.cursor = cursor;
        json_t *arr = NULL;
        char *next = NULL;
        ES_ASSERT_EQ(es_store_mentions_list(st, &f, &arr, &next), 0);
        es_free(cursor);
        cursor = next;
        pages++;
        size_t i;
        json_t *m;
        json_array_foreach(arr, i, m)
        {
            /* queue order: whole priority points first, then the earlier SLA deadline */
            double prio = floor(json_number_value(json_object_get(m, "priority")));
            ES_ASSERT(prio <= last);
            last = prio;
            const char *pid = json_string_value(json_object_get(m, "post_id"));
            int k = atoi(pid) - 1000;
            ES_ASSERT(k >= 0 && k < N);
            ES_ASSERT(!seen[k]);
            seen[k] = true;
            total++;
        }
        ES_ASSERT(json_array_size(arr) == 50 || !cursor);
        json_decref(arr);
    } while (cursor && pages < 10);
    ES_ASSERT_EQ(total, N);
    ES_ASSERT_EQ(pages, 3);

    /* filters: one brand; one category across brands */
    struct es_mention_filter fb = {0};
    fb.brand = "delta";
    fb.limit = 1000;
    json_t *arr = NULL;
    char *next = NULL;
    ES_ASSERT_EQ(es_store_mentions_list(st, &fb, &arr, &next), 0);
    ES_ASSERT_EQ(json_array_size(arr), (size_t)(N / 3 + (N % 3 > 1)));
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) ES_ASSERT_STR(json_string_value(json_object_get(m, "brand")),
                                                "delta");
    json_decref(arr);
    es_free(next);
    struct es_mention_filter fc = {0};
    fc.category = "refund";
    fc.limit = 10;
    ES_ASSERT_EQ(es_store_mentions_list(st, &fc, &arr, &next), 0);
    ES_ASSERT_EQ(json_array_size(arr), 10u);
    json_array_foreach(arr, i, m) ES_ASSERT_STR(json_string_value(json_object_get(m, "category")),
                                                "refund");
    ES_ASSERT(next != NULL);
    json_decref(arr);
    es_free(next);
}

static char url[300];

/* A data set from before the shard-wide queues: opening the store builds them. */
ES_TEST(opening_an_older_data_set_builds_the_shard_queues)
{
    for (int k = 0; k < ES_STORE_SHARDS; k++) {
        char key[32];
        snprintf(key, sizeof key, "es:{s%d}:qall", k);
        const char *del[] = {"DEL", key};
        freeReplyObject(es_store_command(st, 2, del, NULL));
    }
    const char *del[] = {"DEL", "es:schema"};
    freeReplyObject(es_store_command(st, 2, del, NULL));
    struct es_mention_filter f = {0};
    f.limit = 1000;
    json_t *arr = NULL;
    char *next = NULL;
    ES_ASSERT_EQ(es_store_mentions_list(st, &f, &arr, &next), 0);
    ES_ASSERT_EQ(json_array_size(arr), 0u); /* what an old data set looks like now */
    json_decref(arr);
    es_free(next);

    struct es_store *again = NULL;
    struct es_store_opts o = {url, NULL, 0};
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_store_open(&o, &again, &d), 0);
    ES_ASSERT_EQ(es_store_mentions_list(again, &f, &arr, &next), 0);
    ES_ASSERT_EQ(json_array_size(arr), (size_t)N);
    json_decref(arr);
    es_free(next);
    es_store_close(again);
}

int main(void)
{
    char dir[] = "/tmp/es-list-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char sock[256];
    struct es_redis_child *child = NULL;
    struct es_diag d = {0};
    if (es_redis_child_start(dir, &child, sock, sizeof sock, &d) != 0) {
        fprintf(stderr, "redis-server: %s\n", d.msg);
        return 1;
    }
    snprintf(url, sizeof url, "unix://%s", sock);
    struct es_store_opts o = {url, NULL, 0};
    if (es_store_open(&o, &st, &d) != 0) {
        fprintf(stderr, "store: %s\n", d.msg);
        es_redis_child_stop(child);
        return 1;
    }
    ES_RUN(batch_add_then_page_through_in_priority_order);
    ES_RUN(opening_an_older_data_set_builds_the_shard_queues);
    es_store_close(st);
    es_redis_child_stop(child);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return ES_DONE();
}
