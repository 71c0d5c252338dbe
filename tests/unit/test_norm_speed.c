/*
 * test_norm_speed: prints how long es_norm_new takes and how many MB/s
 * es_norm_text does on mixed Chinese / English post text. It asserts
 * nothing about time (machines and sanitizer builds differ); run a Release
 * build for figures that mean something.
 */
#include <stdlib.h>
#include <time.h>

#include "earshot/alloc.h"
#include "earshot/err.h"
#include "earshot/norm.h"
#include "earshot/utf8.h"
#include "harness.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Fragments in the proportions of the synthetic corpus: about 40% ASCII bytes. */
static const char *const frags[] = {
    "Spent the whole morning waiting at the counter. ",
    "@Starbucks your app is broken AGAIN!! ",
    "terrible experience, never coming back ",
    "Can't believe it's already December. ",
    "#周末去哪儿# 好累啊刚看完纪录片，强烈推荐。",
    "有沒有人知道蘇州哪裡有好吃的燒烤？",
    "門市服務太慢了，等了半個小時",
    "这个咖啡太难喝了，客服电话也打不通",
    "我們的訂單到現在還沒到，什麼情況",
    "ＳＴＡＲＢＵＣＫＳ門市 ",
    "\xf0\x9f\x98\xa1\xf0\x9f\x91\x8e ",
    "AT&amp;T &gt; Verizon ",
    "真的\xe2\x80\x8b無語 ",
    "ok\xe2\x9c\xa8 ",
};

ES_TEST(prints_startup_and_throughput)
{
    double t0 = now_ms();
    struct es_norm *n = es_norm_new(NULL, NULL);
    double t1 = now_ms();
    ES_ASSERT(n != NULL);
    printf("es_norm_new: %.1f ms\n", t1 - t0);

    /* 4096 posts of 60..300 bytes, from a fixed LCG. */
    enum { POSTS = 4096 };
    size_t total = 0, off[POSTS + 1];
    char *buf = es_malloc((size_t)POSTS * 400);
    ES_ASSERT(buf != NULL);
    uint32_t seed = 42;
    for (int p = 0; p < POSTS; p++) {
        off[p] = total;
        seed = seed * 1103515245u + 12345u;
        size_t want = 60 + (seed >> 8) % 240, start = total;
        while (total - start < want) {
            seed = seed * 1103515245u + 12345u;
            const char *f = frags[(seed >> 8) % (sizeof frags / sizeof frags[0])];
            size_t fl = strlen(f);
            memcpy(buf + total, f, fl);
            total += fl;
        }
    }
    off[POSTS] = total;

    struct es_norm_out o;
    es_norm_out_init(&o, 0);
    size_t done = 0, outb = 0;
    int rounds = 0, bad = 0;
    double t2 = now_ms(), t3;
    do {
        for (int p = 0; p < POSTS; p++) {
            if (es_norm_text(n, buf + off[p], off[p + 1] - off[p], &o) != 0)
                bad++;
            outb += o.len;
        }
        done += total;
        rounds++;
        t3 = now_ms();
    } while (t3 - t2 < 500 && rounds < 200);
    printf("es_norm_text: %.1f MB in %.0f ms = %.0f MB/s (%zu posts of %zu bytes avg, out %zu)\n",
           (double)done / 1e6, t3 - t2, (double)done / 1e3 / (t3 - t2), (size_t)rounds * POSTS,
           total / POSTS, outb / (size_t)rounds);
    es_norm_out_cleanup(&o);
    es_free(buf);
    es_norm_free(n);
    ES_ASSERT_EQ(bad, 0);
}

int main(void)
{
    ES_RUN(prints_startup_and_throughput);
    return ES_DONE();
}
