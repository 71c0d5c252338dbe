/*
 * test_feed_csv: the three shared CSV files through the push parser, fed in
 * odd-sized chunks, and hostile CSV (over-long records, stray quotes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/clock.h"
#include "earshot/feed.h"
#include "earshot/utf8.h"
#include "harness.h"

struct sink {
    long posts, errors, warnings, points, invalid_utf8;
    struct es_post *keep[8];
    const char *keep_ids[8];
    long last_diag_line;
    char last_diag[600];
};

static void on_post(void *ud, const struct es_post *p)
{
    struct sink *s = ud;
    s->posts++;
    s->points += p->has_point;
    s->invalid_utf8 += !es_utf8_valid(p->text, p->text_len);
    for (int i = 0; i < 8; i++)
        if (s->keep_ids[i] && !s->keep[i] && strcmp(s->keep_ids[i], p->id) == 0)
            s->keep[i] = es_post_copy(p);
}

static void on_diag(void *ud, const struct es_diag *d)
{
    struct sink *s = ud;
    if (d->severity == ES_DIAG_ERROR)
        s->errors++;
    else
        s->warnings++;
    s->last_diag_line = d->line;
    es_diag_format(d, s->last_diag, sizeof s->last_diag);
}

static void sink_clear(struct sink *s)
{
    for (int i = 0; i < 8; i++)
        es_post_free(s->keep[i]);
    memset(s, 0, sizeof *s);
}

/* feed a file in chunks of `chunk` bytes */
static int run_file(const char *path, size_t chunk, const struct es_csv_opts *o, struct sink *s)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -100;
    struct es_csv *c = es_csv_new(o, on_post, on_diag, s);
    char *buf = malloc(chunk);
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, chunk, f)) > 0)
        rc = es_csv_feed(c, buf, n);
    if (rc == 0)
        rc = es_csv_finish(c);
    es_csv_free(c);
    free(buf);
    fclose(f);
    return rc;
}

static int run_str(const char *text, const struct es_csv_opts *o, struct sink *s)
{
    struct es_csv *c = es_csv_new(o, on_post, on_diag, s);
    int rc = es_csv_feed(c, text, strlen(text));
    if (rc == 0)
        rc = es_csv_finish(c);
    es_csv_free(c);
    return rc;
}

ES_TEST(waimai_gives_11987_reviews_with_record_number_ids)
{
    struct sink s = {0};
    struct es_csv_opts o = {.source = "waimai_10k.csv"};
    s.keep_ids[0] = "1";
    s.keep_ids[1] = "11987";
    ES_ASSERT_EQ(run_file(ES_SHARED_DATA "/waimai_10k/waimai_10k.csv", 4093, &o, &s), 0);
    ES_ASSERT_EQ(s.posts, 11987);
    ES_ASSERT_EQ(s.errors, 0);
    ES_ASSERT_EQ(s.warnings, 0);
    ES_ASSERT(s.keep[0]);
    ES_ASSERT_STR(s.keep[0]->text, "很快，好吃，味道足，量大");
    ES_ASSERT_STR(s.keep[0]->lang, "zh");
    ES_ASSERT_EQ(s.keep[0]->platform, ES_PLATFORM_GENERIC);
    ES_ASSERT(s.keep[1]);
    sink_clear(&s);
}

ES_TEST(airline_cr_records_give_14640_tweets_in_readable_utf8)
{
    struct sink s = {0};
    struct es_csv_opts o = {.source = "Airline-Sentiment-2-w-AA.csv"};
    s.keep_ids[0] = "681448150";
    ES_ASSERT_EQ(
        run_file(ES_SHARED_DATA "/airline_sentiment/Airline-Sentiment-2-w-AA.csv", 65536, &o, &s),
        0);
    ES_ASSERT_EQ(s.posts, 14640);
    ES_ASSERT_EQ(s.errors, 0);
    ES_ASSERT_EQ(s.warnings, 0);
    ES_ASSERT_EQ(s.invalid_utf8, 0);
    ES_ASSERT_EQ(s.points, 855);
    ES_ASSERT(s.keep[0]);
    ES_ASSERT_STR(s.keep[0]->text, "@VirginAmerica What @dhepburn said.");
    ES_ASSERT_STR(s.keep[0]->author.handle, "cairdin");
    ES_ASSERT_EQ(s.keep[0]->platform, ES_PLATFORM_TWITTER);
    ES_ASSERT_EQ(s.keep[0]->created_at, es_time_from_civil(2015, 2, 24, 11, 35, 0));
    sink_clear(&s);
}

ES_TEST(twcs_gives_5000_tweets_keeping_raw_cr_inside_a_field)
{
    struct sink s = {0};
    struct es_csv_opts o = {.source = "twcs.csv"};
    s.keep_ids[0] = "1";
    s.keep_ids[1] = "2";
    s.keep_ids[2] = "3399";
    ES_ASSERT_EQ(run_file(ES_SHARED_DATA "/twcs_sample/twcs.csv", 1000, &o, &s), 0);
    ES_ASSERT_EQ(s.posts, 5000);
    ES_ASSERT_EQ(s.errors, 0);
    ES_ASSERT_EQ(s.warnings, 0);
    ES_ASSERT(s.keep[0] && s.keep[1] && s.keep[2]);
    ES_ASSERT_STR(s.keep[0]->author.id, "sprintcare");
    ES_ASSERT_STR(s.keep[0]->author.handle, "sprintcare");
    ES_ASSERT_STR(s.keep[0]->reply_to, "3");
    ES_ASSERT_EQ(s.keep[0]->created_at, es_time_from_civil(2017, 10, 31, 22, 10, 47));
    ES_ASSERT(strncmp(s.keep[0]->text, "@115712 I understand.", 21) == 0);
    ES_ASSERT_STR(s.keep[1]->author.id, "115712");
    ES_ASSERT(s.keep[1]->author.handle == NULL);
    ES_ASSERT_STR(s.keep[1]->reply_to, "1");
    ES_ASSERT_STR(s.keep[1]->text, "@sprintcare and how do you propose we do that");
    ES_ASSERT(strchr(s.keep[2]->text, '\r') != NULL);
    sink_clear(&s);
}

ES_TEST(crlf_and_lf_and_cr_record_ends_all_work_in_tiny_chunks)
{
    static const char *docs[] = {
        "id,text\r\n1,hello\r\n2,\"two\r\nlines\"\r\n3,bye\r\n",
        "id,text\n1,hello\n2,\"two\nlines\"\n3,bye",
        "id,text\r1,hello\r2,\"two\nlines\"\r3,bye\r",
    };
    for (int d = 0; d < 3; d++) {
        for (size_t chunk = 1; chunk <= 7; chunk += 3) {
            struct sink s = {0};
            s.keep_ids[0] = "3";
            s.keep_ids[1] = "2";
            struct es_csv *c = es_csv_new(NULL, on_post, on_diag, &s);
            const char *t = docs[d];
            size_t len = strlen(t);
            for (size_t i = 0; i < len; i += chunk)
                ES_ASSERT_EQ(es_csv_feed(c, t + i, len - i < chunk ? len - i : chunk), 0);
            ES_ASSERT_EQ(es_csv_finish(c), 0);
            es_csv_free(c);
            long posts = s.posts, errors = s.errors;
            int ok3 = s.keep[0] && strcmp(s.keep[0]->text, "bye") == 0;
            int ok2 = s.keep[1] && strncmp(s.keep[1]->text, "two", 3) == 0 &&
                      strstr(s.keep[1]->text, "lines");
            sink_clear(&s);
            if (posts != 3 || errors || !ok3 || !ok2)
                ES_FAILF("doc %d chunk %zu: %ld posts %ld errors ok3 %d ok2 %d", d, chunk, posts,
                         errors, ok3, ok2);
        }
    }
}

ES_TEST(an_over_long_record_is_reported_by_number_and_skipped)
{
    size_t big = 5000;
    char *doc = malloc(big + 100);
    strcpy(doc, "id,text\n1,ok\n2,\"");
    size_t n = strlen(doc);
    memset(doc + n, 'x', big);
    strcpy(doc + n + big, "\"\n3,fine\n");
    struct sink s = {0};
    struct es_csv_opts o = {.source = "big.csv", .max_record = 1024};
    ES_ASSERT_EQ(run_str(doc, &o, &s), 0);
    free(doc);
    ES_ASSERT_EQ(s.posts, 2);
    ES_ASSERT_EQ(s.errors, 1);
    ES_ASSERT_EQ(s.last_diag_line, 3);
    ES_ASSERT(strstr(s.last_diag, "big.csv:3:"));
    sink_clear(&s);
}

ES_TEST(an_unterminated_quote_costs_bounded_memory_and_one_diag)
{
    /* 8 MiB inside one open quote, fed in chunks: memory stays near max_record */
    struct sink s = {0};
    struct es_csv_opts o = {.source = "open.csv", .max_record = 4096};
    struct es_csv *c = es_csv_new(&o, on_post, on_diag, &s);
    ES_ASSERT_EQ(es_csv_feed(c, "id,text\n1,ok\n2,\"", 16), 0);
    char chunk[8192];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 1024; i++)
        ES_ASSERT_EQ(es_csv_feed(c, chunk, sizeof chunk), 0);
    ES_ASSERT_EQ(es_csv_finish(c), 0);
    es_csv_free(c);
    ES_ASSERT_EQ(s.posts, 1);
    ES_ASSERT(s.errors >= 1);
    sink_clear(&s);
}

ES_TEST(a_stray_quote_skips_that_record_only)
{
    struct sink s = {0};
    struct es_csv_opts o = {.source = "q.csv"};
    ES_ASSERT_EQ(run_str("id,text\n1,ok\n2,\"bad\"x,\n3,good\n", &o, &s), 0);
    ES_ASSERT_EQ(s.posts, 2);
    ES_ASSERT_EQ(s.errors, 1);
    ES_ASSERT_EQ(s.last_diag_line, 3);
    sink_clear(&s);
}

ES_TEST(a_record_without_text_is_reported_and_the_rest_go_on)
{
    struct sink s = {0};
    ES_ASSERT_EQ(run_str("id,text,lat,lon\n1,,1,2\n2,hi,91,0\n3,there,30.5,120.25\n", NULL, &s), 0);
    ES_ASSERT_EQ(s.posts, 2);
    ES_ASSERT_EQ(s.errors, 1);
    ES_ASSERT_EQ(s.warnings, 1); /* lat 91 */
    ES_ASSERT_EQ(s.points, 1);
    sink_clear(&s);
    ES_ASSERT_EQ(run_str("id,body\n1,x\n", NULL, &s), 0);
    ES_ASSERT_EQ(s.posts, 0);
    ES_ASSERT_EQ(s.errors, 1);
    sink_clear(&s);
    struct es_csv_opts o = {.text_column = "body"};
    ES_ASSERT_EQ(run_str("id,body\n1,x\n", &o, &s), 0);
    ES_ASSERT_EQ(s.posts, 1);
    sink_clear(&s);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* keep the output if a sanitizer aborts */
    ES_RUN(waimai_gives_11987_reviews_with_record_number_ids);
    ES_RUN(airline_cr_records_give_14640_tweets_in_readable_utf8);
    ES_RUN(twcs_gives_5000_tweets_keeping_raw_cr_inside_a_field);
    ES_RUN(crlf_and_lf_and_cr_record_ends_all_work_in_tiny_chunks);
    ES_RUN(an_over_long_record_is_reported_by_number_and_skipped);
    ES_RUN(an_unterminated_quote_costs_bounded_memory_and_one_diag);
    ES_RUN(a_stray_quote_skips_that_record_only);
    ES_RUN(a_record_without_text_is_reported_and_the_rest_go_on);
    return ES_DONE();
}
