/*
 * test_norm_basic: each normalisation step on its own and together.
 */
#include <stdlib.h>

#include "earshot/alloc.h"
#include "earshot/err.h"
#include "earshot/norm.h"
#include "earshot/utf8.h"
#include "harness.h"

static struct es_norm *nm;
static struct es_norm_out out;

/* norm normalises the NUL-terminated s and returns the text (valid until the next call). */
static const char *norm(const char *s)
{
    int rc = es_norm_text(nm, s, strlen(s), &out);
    return rc == 0 ? out.text : "(error)";
}

ES_TEST(empty_string_gives_empty_output)
{
    ES_ASSERT_EQ(es_norm_text(nm, "", 0, &out), 0);
    ES_ASSERT_EQ(out.len, 0);
    ES_ASSERT_STR(out.text, "");
    ES_ASSERT_EQ(out.map[0], 0);
    ES_ASSERT_STR(norm("   \t\n "), "");
    ES_ASSERT_STR(norm("\xe2\x80\x8b\xef\xbb\xbf"), "");
}

ES_TEST(ascii_lower_case)
{
    ES_ASSERT_STR(norm("Hello WORLD 123!?"), "hello world 123!?");
    ES_ASSERT_STR(norm("@Starbucks #FAIL"), "@starbucks #fail");
}

ES_TEST(full_width_to_half_width)
{
    ES_ASSERT_STR(norm("ＳＴＡＲＢＵＣＫＳ"), "starbucks");
    ES_ASSERT_STR(norm("ｓｔａｒｂｕｃｋｓ！１２３"), "starbucks!123");
    ES_ASSERT_STR(norm("Ａ\xe3\x80\x80Ｂ"), "a b"); /* U+3000 ideographic space */
    ES_ASSERT_STR(norm("～｀＆"), "~`&");
}

ES_TEST(latin_greek_cyrillic_case)
{
    ES_ASSERT_STR(norm("ÀÉÎÕÜ ÇÑ Ø Þ"), "àéîõü çñ ø þ");
    ES_ASSERT_STR(norm("×÷ß"), "×÷ß");
    ES_ASSERT_STR(norm("ĀĂĄĆČĐĘĞĲĹŁŃŇŊŐŒŘŚŠŤŮŰŸŹŻŽ"), "āăąćčđęğĳĺłńňŋőœřśšťůűÿźżž");
    ES_ASSERT_STR(norm("İı"), "iı");
    ES_ASSERT_STR(norm("ΑΒΓΔ ΆΈΉΊΌΎΏ ΣΟΦΙΑ σοφίας"), "αβγδ άέήίόύώ σοφια σοφίασ");
    ES_ASSERT_STR(norm("ПРИВЕТ Ёлка ЎЏ"), "привет ёлка ўџ");
}

ES_TEST(traditional_to_simplified)
{
    ES_ASSERT_STR(norm("門市服務"), "门市服务");
    ES_ASSERT_STR(norm("臺灣"), "台湾");
    ES_ASSERT_STR(norm("這個"), "这个");
    ES_ASSERT_STR(norm("我們"), "我们");
    ES_ASSERT_STR(norm("什麼"), "什么");
    ES_ASSERT_STR(norm("店裡"), "店里");
    ES_ASSERT_STR(norm("咖啡太難喝了，態度很差"), "咖啡太难喝了,态度很差");
    ES_ASSERT_STR(norm("退錢！客服電話打不通"), "退钱!客服电话打不通");
    /* Simplified text is left alone. */
    ES_ASSERT_STR(norm("门市服务太慢"), "门市服务太慢");
}

ES_TEST(mixed_text)
{
    ES_ASSERT_STR(norm("ＳＴＡＲＢＵＣＫＳ 門市&amp;服務\xe2\x80\x8b太慢"), "starbucks 门市&服务太慢");
    ES_ASSERT_STR(norm("  @McDonalds  這個漢堡   太難吃 !!\n"), "@mcdonalds 这个汉堡 太难吃 !!");
}

ES_TEST(html_entities)
{
    ES_ASSERT_STR(norm("a &amp; b &lt;3 &gt; &quot;x&quot; &apos;"), "a & b <3 > \"x\" '");
    ES_ASSERT_STR(norm("&#x4E00;&#20108;&#x9580;"), "一二门");
    ES_ASSERT_STR(norm("&#65;&#x42;"), "ab");        /* decoded, then folded */
    ES_ASSERT_STR(norm("&#xFF21;&#x81FA;"), "a台");  /* full-width and t2s too */
    ES_ASSERT_STR(norm("a&nbsp;&nbsp;b"), "a b");    /* decoded space collapses */
    ES_ASSERT_STR(norm("a&zwj;b"), "ab");            /* decoded zero-width drops */
    ES_ASSERT_STR(norm("&amp;amp;"), "&amp;");       /* one level only */
    ES_ASSERT_STR(norm("AT&T &unknown; & &#;"), "at&t &unknown; & &#;");
    ES_ASSERT_STR(norm("&#0;"), "\xef\xbf\xbd");
    ES_ASSERT_STR(norm("x&"), "x&");
}

ES_TEST(zero_width_dropped)
{
    ES_ASSERT_STR(norm("st\xe2\x80\x8b" "ar\xe2\x80\x8c" "bu\xe2\x80\x8d" "cks"), "starbucks");
    ES_ASSERT_STR(norm("\xef\xbb\xbf" "a\xe2\x81\xa0" "b\xc2\xad" "c"), "abc");
    /* Variation selectors, including the supplement. */
    ES_ASSERT_STR(norm("\xe2\x9d\xa4\xef\xb8\x8f!"), "\xe2\x9d\xa4!");
    ES_ASSERT_STR(norm("\xe8\xbe\xbb\xf3\xa0\x84\x80"), "\xe8\xbe\xbb");
}

ES_TEST(white_space_collapsed_and_trimmed)
{
    ES_ASSERT_STR(norm(" \t a \r\n\v\f b  "), "a b");
    ES_ASSERT_STR(norm("a\xc2\xa0\xe1\x9a\x80\xe2\x80\x80\xe2\x80\x8a\xe2\x80\xa8\xe2\x80\xa9"
                       "\xe2\x80\xaf\xe2\x81\x9f\xe3\x80\x80" "b"),
                  "a b");
    ES_ASSERT_STR(norm("a \xe2\x80\x8b b"), "a b"); /* zero-width inside a run */
    ES_ASSERT_STR(norm("\xe3\x80\x80\xe3\x80\x80" "x" "\xe3\x80\x80"), "x");
}

ES_TEST(invalid_utf8_replaced)
{
    ES_ASSERT_STR(norm("a\xff" "b"), "a\xef\xbf\xbd" "b");
    ES_ASSERT_STR(norm("\xc3"), "\xef\xbf\xbd");                      /* truncated */
    ES_ASSERT_STR(norm("\xe9\x96"), "\xef\xbf\xbd\xef\xbf\xbd");      /* truncated 3-byte */
    ES_ASSERT_STR(norm("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");      /* overlong */
    ES_ASSERT_STR(norm("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    ES_ASSERT_STR(norm("\xe0\x80\xaf"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    ES_ASSERT_STR(norm("\xef\xbf\xbf"), "\xef\xbf\xbf"); /* U+FFFF is valid: kept */
    ES_ASSERT(es_utf8_valid(out.text, out.len));
    /* Every byte invalid: the output is three times the input. */
    char bad[64];
    memset(bad, 0x80, sizeof bad);
    ES_ASSERT_EQ(es_norm_text(nm, bad, sizeof bad, &out), 0);
    ES_ASSERT_EQ(out.len, 3 * sizeof bad);
    ES_ASSERT(es_utf8_valid(out.text, out.len));
}

ES_TEST(emoji_preserved)
{
    ES_ASSERT_STR(norm("bad coffee \xf0\x9f\x98\xa1\xf0\x9f\x91\x8e"),
                  "bad coffee \xf0\x9f\x98\xa1\xf0\x9f\x91\x8e");
    ES_ASSERT_STR(norm("\xf0\xa0\x80\x80"), "\xf0\xa0\x80\x80"); /* Ext B ideograph */
}

ES_TEST(cap_gives_elimit)
{
    struct es_norm_out small;
    es_norm_out_init(&small, 8);
    ES_ASSERT_EQ(es_norm_text(nm, "12345678", 8, &small), 0);
    ES_ASSERT_STR(small.text, "12345678");
    ES_ASSERT_EQ(es_norm_text(nm, "123456789", 9, &small), ES_ELIMIT);
    ES_ASSERT_EQ(small.len, 0);
    es_norm_out_cleanup(&small);
    es_norm_out_cleanup(&small); /* twice is fine */

    es_norm_out_init(&small, 0);
    ES_ASSERT_EQ(small.cap, ES_NORM_DEFAULT_CAP);
    es_norm_out_cleanup(&small);
}

ES_TEST(output_is_reused)
{
    ES_ASSERT_STR(norm("a long first text to grow the buffers a bit"),
                  "a long first text to grow the buffers a bit");
    ES_ASSERT_STR(norm("B"), "b");
    ES_ASSERT_EQ(out.len, 1);
    ES_ASSERT_EQ(out.map[1], 1);
}

ES_TEST(norm_string_for_rules)
{
    char *s = es_norm_string(nm, "  ＳＴＡＲＢＵＣＫＳ門市  ");
    ES_ASSERT(s != NULL);
    ES_ASSERT_STR(s, "starbucks门市");
    es_free(s);
    s = es_norm_string(nm, "");
    ES_ASSERT_STR(s, "");
    es_free(s);
}

ES_TEST(normalised_text_is_stable)
{
    const char *in = "ＳＴＡＲＢＵＣＫＳ 門市服務 ΣΟΦΙΑ ς İ Ÿ \xff 臺灣 \xf0\x9f\x98\xa1";
    char *once = es_norm_string(nm, in);
    ES_ASSERT(once != NULL);
    char *twice = es_norm_string(nm, once);
    int same = twice && strcmp(once, twice) == 0;
    es_free(once);
    es_free(twice);
    ES_ASSERT(same);
}

ES_TEST(no_opencc_config_warns)
{
    const char *warn = NULL;
    struct es_norm *n2 = es_norm_new("/nonexistent/no-such-config.json", &warn);
    ES_ASSERT(n2 != NULL);
    ES_ASSERT(warn != NULL);
    struct es_norm_out o2;
    es_norm_out_init(&o2, 0);
    int rc = es_norm_text(n2, "ＳＴＡＲ 門市", strlen("ＳＴＡＲ 門市"), &o2);
    int ok = rc == 0 && strcmp(o2.text, "star 門市") == 0;
    es_norm_out_cleanup(&o2);
    es_norm_free(n2);
    ES_ASSERT(ok);
    es_norm_free(NULL);
}

int main(void)
{
    const char *warn = NULL;
    nm = es_norm_new(NULL, &warn);
    if (!nm) {
        printf("es_norm_new failed\n");
        return 1;
    }
    if (warn) {
        printf("es_norm_new: %s\n", warn);
        return 1;
    }
    es_norm_out_init(&out, 4096);
    ES_RUN(empty_string_gives_empty_output);
    ES_RUN(ascii_lower_case);
    ES_RUN(full_width_to_half_width);
    ES_RUN(latin_greek_cyrillic_case);
    ES_RUN(traditional_to_simplified);
    ES_RUN(mixed_text);
    ES_RUN(html_entities);
    ES_RUN(zero_width_dropped);
    ES_RUN(white_space_collapsed_and_trimmed);
    ES_RUN(invalid_utf8_replaced);
    ES_RUN(emoji_preserved);
    ES_RUN(cap_gives_elimit);
    ES_RUN(output_is_reused);
    ES_RUN(norm_string_for_rules);
    ES_RUN(normalised_text_is_stable);
    ES_RUN(no_opencc_config_warns);
    es_norm_out_cleanup(&out);
    es_norm_free(nm);
    return ES_DONE();
}
