/*
 * test_respond_fears_sim: the near-duplicate primitives. Masking makes
 * replies that differ only in names, numbers, handles and links identical;
 * Jaccard over shingles orders pairs sensibly; MinHash estimates it; LSH
 * banding (16 x 4) finds pairs at similarity >= 0.8 almost always and
 * dissimilar pairs rarely. Rates are measured on generated pairs and printed.
 */
#include <math.h>
#include <stdlib.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/norm.h"
#include "harness.h"

static struct es_norm *nm;
static struct es_fears *F;

static char *mask(const char *s, size_t *len)
{
    char *m = NULL;
    if (es_fears_shingle_text(F, s, strlen(s), &m, len) != 0)
        return NULL;
    return m;
}

static double sim(const char *a, const char *b)
{
    size_t la, lb;
    char *ma = mask(a, &la), *mb = mask(b, &lb);
    double s = es_fears_similarity(ma, la, mb, lb);
    es_free(ma);
    es_free(mb);
    return s;
}

ES_TEST(masking_hides_volatile_tokens)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"Hi Ann, order 123 arrived cold.", "hi @ order # arrived cold"},
        {"Hello Mr. Lee! Your refund of $12.50 is done", "hello @ your refund of # is done"},
        {"@ann_lee sorry, see https://brand.com/x?y=1 or mail care@brand.com",
         "@ sorry see ~ or mail @"},
        {"张女士您好，订单20241122已经发出", "@您好 订单#已经发出"},
        {"亲爱的小王，您的包裹明天到", "亲爱的@ 您的包裹明天到"},
        {"Ｈｉ　ＢＯＢ，ＯＲＤＥＲ　４５６", "hi @ order #"},
        {"您好，订单已经发出", "您好 订单已经发出"},
        {"Hi there, thanks!", "hi there thanks"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        char *m = mask(cases[i].in, &n);
        ES_ASSERT(m != NULL);
        if (strcmp(m, cases[i].out) != 0) {
            printf("  \"%s\" -> \"%s\", want \"%s\"\n", cases[i].in, m, cases[i].out);
            es_free(m);
            ES_FAILF("masking");
        }
        ES_ASSERT_EQ(n, strlen(m));
        es_free(m);
    }
}

ES_TEST(similarity_measure)
{
    ES_ASSERT_NEAR(sim("Hi Ann, order 123 arrived cold, we're remaking it now.",
                       "Hi Bob, order 456 arrived cold, we're remaking it now."),
                   1.0, 1e-9);
    ES_ASSERT_NEAR(sim("张女士您好，订单123已经安排补送，今晚八点前到。",
                       "李先生您好，订单456已经安排补送，今晚八点前到。"),
                   1.0, 1e-9);
    /* one word changed in a two-sentence reply: still canned */
    double s1 = sim("Hi Ann, your parcel is at the depot and the courier will bring it "
                    "tomorrow morning before noon.",
                    "Hi Ann, your parcel is at the depot and the driver will bring it "
                    "tomorrow morning before noon.");
    printf("  one word changed: %.3f\n", s1);
    ES_ASSERT(s1 >= ES_FEARS_CANNED_THRESHOLD);
    /* a real rewrite is not */
    double s2 = sim("Hi Ann, your parcel is at the depot and the courier will bring it "
                    "tomorrow morning before noon.",
                    "Ann, the depot has your parcel; expect it before midday tomorrow, and "
                    "reply here if it doesn't come.");
    printf("  rewrite: %.3f\n", s2);
    ES_ASSERT(s2 < 0.5);
    ES_ASSERT_NEAR(sim("", ""), 1.0, 1e-9);
    ES_ASSERT_NEAR(sim("", "x"), 0.0, 1e-9);
    ES_ASSERT_NEAR(sim("ok", "ok"), 1.0, 1e-9);
    ES_ASSERT_NEAR(es_fears_similarity("\xff\xfe", 2, "\xff\xfe", 2), 1.0, 1e-9);
    ES_ASSERT_NEAR(es_fears_similarity(NULL, 0, NULL, 0), 1.0, 1e-9);
}

ES_TEST(fingerprint_and_sketch)
{
    struct es_fears_sketch a, b, c;
    const char *x = "Hi Ann, order 123 arrived cold, we're remaking it now.";
    const char *y = "HI BOB!! Order #456 arrived cold; we're remaking it now";
    const char *z = "Hi Ann, order 123 arrived warm, we're remaking it now.";
    ES_ASSERT_EQ(es_fears_sketch(F, x, strlen(x), &a), 0);
    ES_ASSERT_EQ(es_fears_sketch(F, y, strlen(y), &b), 0);
    ES_ASSERT_EQ(es_fears_sketch(F, z, strlen(z), &c), 0);
    ES_ASSERT(a.fingerprint == b.fingerprint);
    ES_ASSERT(a.fingerprint != c.fingerprint);
    ES_ASSERT(memcmp(a.sig, b.sig, sizeof a.sig) == 0);
    ES_ASSERT(memcmp(a.bands, b.bands, sizeof a.bands) == 0);
    ES_ASSERT(es_fears_minhash_similarity(a.sig, c.sig) > 0.3);
    ES_ASSERT(es_fears_fingerprint("ab", 2) != es_fears_fingerprint("ba", 2));
    uint32_t sig[ES_FEARS_MINHASH_N];
    es_fears_minhash("", 0, sig);
    for (int i = 0; i < ES_FEARS_MINHASH_N; i++)
        ES_ASSERT_EQ(sig[i], UINT32_MAX);
    /* stable across builds: stored signatures must stay comparable */
    es_fears_minhash("hello world", 11, sig);
    uint64_t bands[ES_FEARS_LSH_BANDS];
    es_fears_lsh_bands(sig, bands);
    printf("  fingerprint(\"hello world\") = %016llx, sig[0] = %08x, band[0] = %016llx\n",
           (unsigned long long)es_fears_fingerprint("hello world", 11), sig[0],
           (unsigned long long)bands[0]);
    ES_ASSERT_EQ(es_fears_sketch(F, "x", 1, NULL), ES_EINVAL);
}

/* ---- generated pairs for MinHash and LSH -------------------------------------------------- */

static uint64_t rng = 0x1234567887654321ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static const char *const words[] = {
    "order",   "parcel",   "courier",  "refund",   "store",    "manager", "today",   "tomorrow",
    "sorry",   "checking", "depot",    "address",  "driver",   "kitchen", "batch",   "quality",
    "flight",  "booking",  "hotel",    "luggage",  "baggage",  "airport", "gate",    "delay",
    "payment", "charge",   "card",     "account",  "balance",  "invoice", "screen",  "battery",
    "replace", "repair",   "warranty", "engineer", "signal",   "router",  "network", "speed",
    "update",  "version",  "login",    "password", "checkout", "basket",  "voucher", "discount",
    "we",      "you",      "your",     "our",      "the",      "a",       "is",      "are",
    "will",    "have",     "has",      "been",     "with",     "for",     "and",     "to",
    "it",      "this",     "that",     "on",       "in",       "at",      "by",      "as",
    "soon",    "now",      "right",    "again",    "really",   "very",    "quite",   "still",
};
#define NWORDS (sizeof words / sizeof words[0])

static const char *const hanzi[] = {
    "我", "们", "您", "的", "订", "单", "包", "裹", "已", "经", "发", "出", "骑", "手", "门",
    "店", "退", "款", "补", "送", "今", "天", "明", "早", "晚", "点", "前", "到", "确", "认",
    "地", "址", "航", "班", "行", "李", "酒", "店", "网", "络", "信", "号", "更", "新", "版",
    "本", "登", "录", "付", "扣", "卡", "余", "额", "屏", "幕", "电", "池", "维", "修", "换",
};
#define NHANZI (sizeof hanzi / sizeof hanzi[0])

/* gen writes a random reply of n tokens into out. */
static void gen(char *out, size_t cap, int n, bool zh, int *tok)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        tok[i] = (int)rnd(zh ? NHANZI : NWORDS);
        const char *w = zh ? hanzi[tok[i]] : words[tok[i]];
        k += (size_t)snprintf(out + k, cap - k, "%s%s", (!zh && i) ? " " : "", w);
    }
}

static void render(char *out, size_t cap, int n, bool zh, const int *tok)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const char *w = zh ? hanzi[tok[i]] : words[tok[i]];
        k += (size_t)snprintf(out + k, cap - k, "%s%s", (!zh && i) ? " " : "", w);
    }
}

static bool shares_band(const struct es_fears_sketch *a, const struct es_fears_sketch *b)
{
    for (int i = 0; i < ES_FEARS_LSH_BANDS; i++)
        if (a->bands[i] == b->bands[i])
            return true;
    return false;
}

ES_TEST(lsh_finds_near_duplicates)
{
    int pairs = 0, found = 0;
    double err_sum = 0, err_max = 0;
    char a[2048], b[2048];
    int tok[128];
    for (int round = 0; pairs < 2000 && round < 20000; round++) {
        bool zh = round % 2;
        int n = zh ? 40 + (int)rnd(60) : 20 + (int)rnd(30);
        gen(a, sizeof a, n, zh, tok);
        /* change a few tokens */
        int edits = 1 + (int)rnd(zh ? 3 : 2);
        for (int e = 0; e < edits; e++)
            tok[rnd((uint32_t)n)] = (int)rnd(zh ? NHANZI : NWORDS);
        render(b, sizeof b, n, zh, tok);
        double j = sim(a, b);
        if (j < ES_FEARS_CANNED_THRESHOLD || j >= 1.0)
            continue;
        struct es_fears_sketch sa, sb;
        ES_ASSERT_EQ(es_fears_sketch(F, a, strlen(a), &sa), 0);
        ES_ASSERT_EQ(es_fears_sketch(F, b, strlen(b), &sb), 0);
        pairs++;
        found += shares_band(&sa, &sb);
        double err = fabs(es_fears_minhash_similarity(sa.sig, sb.sig) - j);
        err_sum += err;
        if (err > err_max)
            err_max = err;
    }
    double recall = (double)found / pairs;
    printf("  LSH recall at Jaccard >= 0.80: %d/%d = %.4f; MinHash error mean %.3f max %.3f\n",
           found, pairs, recall, err_sum / pairs, err_max);
    ES_ASSERT(pairs >= 1000);
    ES_ASSERT(recall >= 0.95);
    ES_ASSERT(err_sum / pairs < 0.06);
}

ES_TEST(lsh_rarely_pairs_dissimilar_texts)
{
    int pairs = 0, cand = 0, low = 0, low_cand = 0;
    char a[2048], b[2048];
    int tok[128];
    for (int round = 0; round < 3000; round++) {
        bool zh = round % 2;
        int n = zh ? 40 + (int)rnd(60) : 20 + (int)rnd(30);
        gen(a, sizeof a, n, zh, tok);
        gen(b, sizeof b, n, zh, tok);
        double j = sim(a, b);
        struct es_fears_sketch sa, sb;
        ES_ASSERT_EQ(es_fears_sketch(F, a, strlen(a), &sa), 0);
        ES_ASSERT_EQ(es_fears_sketch(F, b, strlen(b), &sb), 0);
        bool c = shares_band(&sa, &sb);
        pairs++;
        cand += c;
        if (j < 0.3) {
            low++;
            low_cand += c;
        }
    }
    printf("  LSH false candidates among unrelated texts: %d/%d = %.4f (Jaccard < 0.3: %d/%d)\n",
           cand, pairs, (double)cand / pairs, low_cand, low);
    ES_ASSERT((double)cand / pairs < 0.05);
}

ES_TEST(lsh_on_real_templates)
{
    /* Templates are real replies that share topic words: candidates among different ones are
     * what the store will have to confirm. */
    size_t n = es_fears_template_count(F), pairs = 0, cand = 0;
    struct es_fears_sketch *s = calloc(n, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        const struct es_fears_template *t = es_fears_template_at(F, i);
        ES_ASSERT_EQ(es_fears_sketch(F, t->text, strlen(t->text), &s[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            pairs++;
            cand += shares_band(&s[i], &s[j]);
        }
    free(s);
    printf("  LSH candidates among distinct templates: %zu/%zu = %.4f\n", cand, pairs,
           (double)cand / (double)pairs);
    ES_ASSERT((double)cand / (double)pairs < 0.02);
}

int main(void)
{
    nm = es_norm_new(NULL, NULL);
    struct es_diag d = {0};
    F = es_fears_new(nm, ES_SOURCE_DIR "/rules/fears", &d);
    if (!F) {
        char buf[800];
        es_diag_format(&d, buf, sizeof buf);
        printf("es_fears_new: %s\n", buf);
        return 1;
    }
    ES_RUN(masking_hides_volatile_tokens);
    ES_RUN(similarity_measure);
    ES_RUN(fingerprint_and_sketch);
    ES_RUN(lsh_finds_near_duplicates);
    ES_RUN(lsh_rarely_pairs_dissimilar_texts);
    ES_RUN(lsh_on_real_templates);
    es_fears_free(F);
    es_norm_free(nm);
    return ES_DONE();
}
