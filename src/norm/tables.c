/*
 * tables: builds the lookup tables of struct es_norm once, in es_norm_new.
 * Case folding and the space / zero-width classes are arithmetic over a few
 * ranges; the traditional-to-simplified table is asked of OpenCC one code
 * point at a time, in one batch.
 */
#include <string.h>

#include <opencc/opencc.h>

#include "earshot/alloc.h"
#include "earshot/err.h"
#include "earshot/utf8.h"
#include "norm/norm_int.h"

/* Simple lower-case mapping (and case folding of final sigma) below U+0800. */
static uint32_t fold_small(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 0x20;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 0x20;
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x130)
            return 'i';
        if (cp == 0x178)
            return 0xFF;
        if ((cp <= 0x12F || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) &&
            cp % 2 == 0)
            return cp + 1;
        if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) && cp % 2 == 1)
            return cp + 1;
        return cp;
    }
    if (cp >= 0x370 && cp <= 0x3FF) {
        if (cp == 0x386)
            return 0x3AC;
        if (cp >= 0x388 && cp <= 0x38A)
            return cp + 37;
        if (cp == 0x38C)
            return 0x3CC;
        if (cp == 0x38E || cp == 0x38F)
            return cp + 63;
        if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
            return cp + 0x20;
        if (cp == 0x3C2)
            return 0x3C3;
        return cp;
    }
    if (cp >= 0x400 && cp <= 0x52F) {
        if (cp <= 0x40F)
            return cp + 0x50;
        if (cp <= 0x42F)
            return cp + 0x20;
        if (cp == 0x4C0)
            return 0x4CF;
        if (((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) || cp >= 0x4D0) &&
            cp % 2 == 0)
            return cp + 1;
        if (cp >= 0x4C1 && cp <= 0x4CE && cp % 2 == 1)
            return cp + 1;
        return cp;
    }
    return cp;
}

void es__norm_fill_small(struct es_norm *n)
{
    for (uint32_t cp = 0; cp < ES__NORM_SMALL_N; cp++) {
        uint32_t r = fold_small(cp);
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0)
            r = ES__NORM_SPACE;
        else if (cp == 0xAD)
            r = ES__NORM_DROP;
        n->small[cp] = r;
        if (cp < 128) {
            n->ascii_low[cp] = (uint8_t)(r == ES__NORM_SPACE ? ' ' : r);
            n->ascii_cls[cp] = r == ES__NORM_SPACE ? ES__NORM_WS
                               : cp == '&'         ? ES__NORM_AMP
                                                   : ES__NORM_PLAIN;
        }
    }
}

static uint32_t *t2s_slot(struct es_norm *n, uint32_t cp)
{
    if (cp >= ES__NORM_HAN_BASE && cp <= ES__NORM_HAN_LAST)
        return &n->han[cp - ES__NORM_HAN_BASE];
    if (cp >= ES__NORM_COMPAT_BASE && cp <= ES__NORM_COMPAT_LAST)
        return &n->compat[cp - ES__NORM_COMPAT_BASE];
    return NULL;
}

/* The code point at position k of the batch: Han first, then compatibility ideographs. */
static uint32_t batch_cp(size_t k)
{
    return k < ES__NORM_HAN_N ? ES__NORM_HAN_BASE + (uint32_t)k
                              : ES__NORM_COMPAT_BASE + (uint32_t)(k - ES__NORM_HAN_N);
}

/*
 * Read OpenCC's answer: one line per code point of the batch, in order. A
 * line that is one code point other than the question becomes a table entry
 * (about 800 targets lie in CJK Ext B..G); longer answers are skipped, so the
 * table stays 1:1. Returns 0, or -1 when the answer does not have one line
 * per question (then nothing is kept).
 */
static int read_answer(struct es_norm *n, const char *out, size_t total)
{
    const unsigned char *p = (const unsigned char *)out;
    size_t olen = strlen(out), i = 0, k = 0;
    while (i < olen && k < total) {
        size_t j = i;
        while (j < olen && p[j] != '\n')
            j++;
        size_t used = 0;
        uint32_t cp = j > i ? es_utf8_decode(p + i, j - i, &used) : 0;
        uint32_t src = batch_cp(k);
        if (used == j - i && cp != src && cp != ES_UTF8_REPLACEMENT && cp > 0x7F)
            *t2s_slot(n, src) = cp;
        k++;
        i = j + 1;
    }
    if (k != total || i < olen) {
        memset(n->han, 0, sizeof n->han);
        memset(n->compat, 0, sizeof n->compat);
        return -1;
    }
    return 0;
}

/*
 * Follow chains (A -> B where B -> C in the same table) so that one pass is
 * final: normalising normalised text changes nothing. Cycles keep the first
 * step.
 */
static void resolve_chains(struct es_norm *n)
{
    for (size_t k = 0; k < ES__NORM_HAN_N + ES__NORM_COMPAT_N; k++) {
        uint32_t *slot = t2s_slot(n, batch_cp(k));
        if (!*slot)
            continue;
        uint32_t t = *slot;
        for (int step = 0; step < 4; step++) {
            uint32_t *next = t2s_slot(n, t);
            if (!next || !*next || *next == batch_cp(k))
                break;
            t = *next;
        }
        *slot = t;
        n->t2s_n++;
    }
}

int es__norm_fill_t2s(struct es_norm *n, const char *config, const char **warn)
{
    static const char *const no_open =
        "norm: OpenCC config could not be opened; traditional-to-simplified conversion is off";
    static const char *const bad_answer =
        "norm: OpenCC gave an unexpected answer; traditional-to-simplified conversion is off";
    const size_t total = ES__NORM_HAN_N + ES__NORM_COMPAT_N;

    n->has_t2s = 0;
    n->t2s_n = 0;
    memset(n->han, 0, sizeof n->han);
    memset(n->compat, 0, sizeof n->compat);

    /* Every candidate is 3 bytes of UTF-8 plus a '\n'. */
    char *in = es_malloc(total * 4 + 1);
    if (!in)
        return ES_ENOMEM;
    size_t ilen = 0;
    for (size_t k = 0; k < total; k++) {
        ilen += es_utf8_encode(batch_cp(k), in + ilen);
        in[ilen++] = '\n';
    }
    in[ilen] = '\0';

    opencc_t cc = opencc_open(config ? config : "t2s.json");
    if (cc == (opencc_t)-1) {
        es_free(in);
        if (warn)
            *warn = no_open;
        return 0;
    }
    /* One call for the whole batch: OpenCC's per-call overhead, not the
     * dictionary lookups, dominates when characters are sent one by one. */
    char *out = opencc_convert_utf8(cc, in, ilen);
    es_free(in);
    int ok = out && read_answer(n, out, total) == 0;
    if (out)
        opencc_convert_utf8_free(out);
    opencc_close(cc);
    if (!ok) {
        if (warn)
            *warn = bad_answer;
        return 0;
    }
    resolve_chains(n);
    n->has_t2s = 1;
    return 0;
}
