/*
 * test_norm_span: the offset maps and es_norm_span, for every step.
 */
#include <stdlib.h>

#include "earshot/alloc.h"
#include "earshot/err.h"
#include "earshot/norm.h"
#include "earshot/utf8.h"
#include "harness.h"

static struct es_norm *nm;
static struct es_norm_out out;

static int run(const char *s)
{
    return es_norm_text(nm, s, strlen(s), &out);
}

/* span_is checks that normalised [a, b) maps to original [os, oe). */
static int span_is(size_t a, size_t b, size_t os, size_t oe)
{
    size_t x, y;
    es_norm_span(&out, a, b, &x, &y);
    if (x != os || y != oe) {
        printf("  span [%zu,%zu) -> [%zu,%zu), want [%zu,%zu)\n", a, b, x, y, os, oe);
        return 0;
    }
    return 1;
}

/*
 * round_trip checks, for every output character that is not the collapsed
 * space, that normalising the original bytes es_norm_span gives for it
 * yields that character again; and that both maps are non-decreasing.
 */
static int round_trip(const char *s)
{
    size_t slen = strlen(s);
    if (es_norm_text(nm, s, slen, &out) != 0)
        return 0;
    struct es_norm_out part;
    es_norm_out_init(&part, 0);
    int ok = 1;
    for (size_t i = 0; i < out.len && ok;) {
        size_t clen;
        es_utf8_decode((const unsigned char *)out.text + i, out.len - i, &clen);
        if (i > 0 && (out.map[i] < out.map[i - 1] || out.map_end[i] < out.map_end[i - 1]))
            ok = 0;
        size_t os, oe;
        es_norm_span(&out, i, i + clen, &os, &oe);
        if (os >= oe || oe > slen)
            ok = 0;
        if (ok && out.text[i] != ' ') {
            if (es_norm_text(nm, s + os, oe - os, &part) != 0 || part.len != clen ||
                memcmp(part.text, out.text + i, clen) != 0) {
                printf("  \"%s\": char at %zu maps to [%zu,%zu) = \"%.*s\" -> \"%s\"\n", s, i, os,
                       oe, (int)(oe - os), s + os, part.text);
                ok = 0;
            }
        }
        i += clen;
    }
    es_norm_out_cleanup(&part);
    return ok;
}

ES_TEST(header_example_maps_back)
{
    const char *s = "ＳＴＡＲＢＵＣＫＳ 門市&amp;服務\xe2\x80\x8b太慢";
    ES_ASSERT_EQ(run(s), 0);
    ES_ASSERT_STR(out.text, "starbucks 门市&服务太慢");
    ES_ASSERT(span_is(0, 9, 0, 27));    /* starbucks: nine full-width letters */
    ES_ASSERT(span_is(9, 10, 27, 28));  /* the space */
    ES_ASSERT(span_is(10, 16, 28, 34)); /* 门市 */
    ES_ASSERT(span_is(16, 17, 34, 39)); /* & from &amp; */
    ES_ASSERT(span_is(17, 23, 39, 45)); /* 服务 */
    ES_ASSERT(span_is(23, 29, 48, 54)); /* 太慢, after the dropped U+200B */
    ES_ASSERT(span_is(10, 29, 28, 54));
    ES_ASSERT_EQ(out.map[out.len], strlen(s));
    ES_ASSERT_EQ(out.map_end[out.len], strlen(s));
}

ES_TEST(each_step_maps_back)
{
    ES_ASSERT_EQ(run("Ｓ"), 0);
    ES_ASSERT(span_is(0, 1, 0, 3));
    ES_ASSERT_EQ(run("&#x9580;x"), 0);
    ES_ASSERT(span_is(0, 3, 0, 8));
    ES_ASSERT(span_is(3, 4, 8, 9));
    ES_ASSERT_EQ(run("İx"), 0); /* 2 bytes -> 1 */
    ES_ASSERT(span_is(0, 1, 0, 2));
    ES_ASSERT(span_is(1, 2, 2, 3));
    ES_ASSERT_EQ(run("ΣΑ"), 0);
    ES_ASSERT(span_is(2, 4, 2, 4));
    ES_ASSERT_EQ(run("a \r\n b"), 0); /* the space stands for the whole run */
    ES_ASSERT_STR(out.text, "a b");
    ES_ASSERT(span_is(1, 2, 1, 5));
    ES_ASSERT(span_is(2, 3, 5, 6));
    ES_ASSERT_EQ(run("  \xe3\x80\x80x"), 0); /* leading run trimmed */
    ES_ASSERT(span_is(0, 1, 5, 6));
    ES_ASSERT_EQ(run("a\xff" "b"), 0);
    ES_ASSERT(span_is(1, 4, 1, 2));
    ES_ASSERT_EQ(run("\xf0\x9f\x98\xa1!"), 0);
    ES_ASSERT(span_is(0, 4, 0, 4));
    ES_ASSERT(span_is(4, 5, 4, 5));
    ES_ASSERT_EQ(run("a\xe2\x80\x8d" "b"), 0);
    ES_ASSERT(span_is(0, 2, 0, 5));
    ES_ASSERT_EQ(run("臺灣"), 0);
    ES_ASSERT(span_is(3, 6, 3, 6));
}

ES_TEST(empty_and_out_of_range_spans)
{
    ES_ASSERT_EQ(run("  abc  "), 0);
    ES_ASSERT(span_is(1, 1, 3, 3));
    ES_ASSERT(span_is(3, 3, 7, 7));    /* at len: the original length */
    ES_ASSERT(span_is(2, 100, 4, 5));  /* end clamped */
    ES_ASSERT(span_is(50, 100, 7, 7)); /* both clamped */
    ES_ASSERT(span_is(2, 1, 3, 3));    /* reversed: the empty range at end */
    ES_ASSERT_EQ(run(""), 0);
    ES_ASSERT(span_is(0, 0, 0, 0));
    struct es_norm_out fresh;
    es_norm_out_init(&fresh, 0);
    size_t a = 9, b = 9;
    es_norm_span(&fresh, 0, 5, &a, &b); /* nothing normalised yet */
    ES_ASSERT_EQ(a, 0);
    ES_ASSERT_EQ(b, 0);
}

ES_TEST(every_character_round_trips)
{
    static const char *const cases[] = {
        "ＳＴＡＲＢＵＣＫＳ 門市&amp;服務\xe2\x80\x8b太慢",
        "  @McDonalds  這個漢堡   太難吃 !!\n",
        "AT&amp;T &lt;3 &#x4E00;&#20108; &nbsp;x&zwj;y &bogus; &",
        "ÀÉÎ ĲŸ İ ΆΣΟΦΊΑ ς ПРИВЕТ Ёж",
        "a\xff\xfe\xc3(\xe9\x96 \xed\xa0\x80\xf0\x9f\x98\xa1\xef\xb8\x8f",
        "臺灣 這個 們 麼 裡 門市服務 咖啡",
        "\xef\xbb\xbf\xe3\x80\x80ｈｅｌｌｏ\xe3\x80\x80ｗｏｒｌｄ\xc2\xa0\xc2\xad!",
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        ES_ASSERT(round_trip(cases[k]));
}

int main(void)
{
    nm = es_norm_new(NULL, NULL);
    if (!nm)
        return 1;
    es_norm_out_init(&out, 0);
    ES_RUN(header_example_maps_back);
    ES_RUN(each_step_maps_back);
    ES_RUN(empty_and_out_of_range_spans);
    ES_RUN(every_character_round_trips);
    es_norm_out_cleanup(&out);
    es_norm_free(nm);
    return ES_DONE();
}
