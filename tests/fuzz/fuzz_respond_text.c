/*
 * fuzz_respond_text: arbitrary bytes through the FEARS text check and the
 * near-duplicate functions. Checks what the contract promises: every span
 * inside the input and matching its copied text, refusal codes known to the
 * reason table, similarity in [0, 1] and symmetric, a text identical to
 * itself, masked text free of NUL and as long as reported, fill never expanding a value.
 * The first byte picks the platform; the rest, split at the first 0xFF, is
 * two texts. Masked texts never hold a NUL (control characters become spaces).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/norm.h"

static struct es_norm *nm;
static struct es_fears *fe;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_report(const char *s, size_t n, const struct es_fears_report *r)
{
    for (size_t i = 0; i < r->n_deflections; i++) {
        const struct es_fears_hit *h = &r->deflections[i];
        CHECK(h->start < h->end && h->end <= n);
        CHECK(h->kind >= ES_FEARS_PHONE && h->kind <= ES_FEARS_FORM_URL);
        size_t ml = strlen(h->match);
        CHECK(ml <= h->end - h->start && memcmp(h->match, s + h->start, ml) == 0);
        if (i > 0)
            CHECK(r->deflections[i - 1].start <= h->start);
    }
    CHECK(r->deflection == (r->n_deflections > 0));
    if (r->dm_invite)
        CHECK(r->dm_start < r->dm_end && r->dm_end <= n);
    if (r->unfilled)
        CHECK(r->placeholder_start < r->placeholder_end && r->placeholder_end <= n);
    for (size_t i = 0; i < r->n_stock; i++)
        CHECK(r->stock[i].id && r->stock[i].start <= r->stock[i].end && r->stock[i].end <= n);
    for (size_t i = 0; i < r->n_refusals; i++)
        CHECK(es_fears_reason(r->refusals[i]) && es_fears_reason(r->refusals[i])->refusal);
    for (size_t i = 0; i < r->n_warnings; i++)
        CHECK(es_fears_reason(r->warnings[i]) && !es_fears_reason(r->warnings[i])->refusal);
    CHECK(r->too_long == (r->chars > r->max_chars) || n > ES_FEARS_MAX_BYTES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!nm) {
        nm = es_norm_new(NULL, NULL);
        CHECK(nm != NULL);
        struct es_diag d;
        fe = es_fears_new(nm, ES_SOURCE_DIR "/rules/fears", &d);
        CHECK(fe != NULL);
    }
    if (size == 0)
        return 0;
    struct es_fears_opts o = {(enum es_fears_platform)(data[0] % 5), data[0] >= 0xF0 ? 40 : 0};
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    struct es_fears_report r;
    CHECK(es_fears_check_text_opts(fe, s, n, &o, &r) == 0);
    check_report(s, n, &r);
    size_t ps, pe;
    CHECK(es_fears_has_placeholder(s, n, &ps, &pe) == r.unfilled || n > ES_FEARS_MAX_BYTES);

    const char *cut = memchr(s, 0xFF, n);
    size_t na = cut ? (size_t)(cut - s) : n, nb = cut ? n - na - 1 : 0;
    const char *b = cut ? cut + 1 : "";
    char *ma = NULL, *mb = NULL;
    size_t la = 0, lb = 0;
    CHECK(es_fears_shingle_text(fe, s, na, &ma, &la) == 0);
    CHECK(es_fears_shingle_text(fe, b, nb, &mb, &lb) == 0);
    CHECK(strlen(ma) == la && strlen(mb) == lb);
    double ab = es_fears_similarity(ma, la, mb, lb), ba = es_fears_similarity(mb, lb, ma, la);
    CHECK(ab >= 0 && ab <= 1 && ab == ba);
    CHECK(es_fears_similarity(ma, la, ma, la) == 1.0);
    /* raw bytes too: the functions take any bytes */
    double raw = es_fears_similarity(s, na, b, nb);
    CHECK(raw >= 0 && raw <= 1);
    struct es_fears_sketch ka, kb;
    CHECK(es_fears_sketch(fe, s, na, &ka) == 0);
    CHECK(es_fears_sketch(fe, b, nb, &kb) == 0);
    CHECK(ka.fingerprint == es_fears_fingerprint(ma, la));
    if (la == lb && memcmp(ma, mb, la) == 0)
        CHECK(ka.fingerprint == kb.fingerprint && memcmp(ka.bands, kb.bands, sizeof ka.bands) == 0);
    double est = es_fears_minhash_similarity(ka.sig, kb.sig);
    CHECK(est >= 0 && est <= 1);
    es_free(ma);
    es_free(mb);

    /* the input as a template, filled with values that look like placeholders */
    char *tmpl = es_strndup(s, na);
    CHECK(tmpl != NULL);
    const struct es_fears_vars v = {"{order}", "{name}", "", "x"};
    char *filled = NULL;
    int rc = es_fears_fill(tmpl, &v, &filled);
    CHECK(rc == 0 || rc == ES_ELIMIT);
    if (rc == 0)
        CHECK(strlen(filled) <= 7 * strlen(tmpl) + 1);
    es_free(filled);
    es_free(tmpl);
    return 0;
}
