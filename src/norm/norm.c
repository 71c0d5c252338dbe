/*
 * norm: one pass over a post's bytes that writes the canonical text and,
 * per output byte, where in the input it came from.
 *
 * The loop has three speeds. Runs of plain ASCII (letters, digits,
 * punctuation) go through a tight inner loop: one table load for the lower
 * case, three stores. Well-formed 3-byte UTF-8 (CJK, the bulk of Chinese
 * posts) is decoded inline and, when the t2s table has no entry, copied as
 * is. Everything else (entities, white space, 2- and 4-byte characters,
 * invalid bytes) takes the general path through fold().
 *
 * White space is never written when seen: a run only sets `pend`, and the
 * single ' ' is written in front of the next character that produces
 * output. Runs at the start (nothing written yet) and at the end (no next
 * character) thereby vanish: that is the trim.
 *
 * Room: the buffers start at len + 16 bytes. Invariant: alloc - k - pend >=
 * len - i (k written, i read), which the ASCII paths keep (they never write
 * more bytes than they read). The general path, which may write up to 5
 * (a pending space and a 4-byte character) for 1 read, first makes sure that
 * alloc - k >= len - i + 16.
 */
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/err.h"
#include "earshot/norm.h"
#include "earshot/utf8.h"
#include "norm/norm_int.h"

/* Inputs are capped so that offsets and up to 4x growth stay in 32 bits. */
#define MAX_CAP ((size_t)UINT32_MAX / 4)

struct es_norm *es_norm_new(const char *opencc_config, const char **warn)
{
    struct es_norm *n = es_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    es__norm_fill_small(n);
    if (es__norm_fill_t2s(n, opencc_config, warn) != 0) {
        es_free(n);
        return NULL;
    }
    return n;
}

void es_norm_free(struct es_norm *n)
{
    es_free(n);
}

void es_norm_out_init(struct es_norm_out *o, size_t cap)
{
    memset(o, 0, sizeof *o);
    if (cap == 0)
        cap = ES_NORM_DEFAULT_CAP;
    o->cap = cap < MAX_CAP ? cap : MAX_CAP;
}

void es_norm_out_cleanup(struct es_norm_out *o)
{
    es_free(o->text);
    es_free(o->map);
    es_free(o->map_end);
    o->text = NULL;
    o->map = NULL;
    o->map_end = NULL;
    o->len = 0;
    o->alloc = 0;
}

/* grow makes room for `want` bytes (and want + 1 map entries); 0 or ES_ENOMEM, o intact. */
static int grow(struct es_norm_out *o, size_t want)
{
    if (want <= o->alloc && o->text && o->map && o->map_end)
        return 0;
    if (want < o->alloc * 2)
        want = o->alloc * 2;
    char *t = es_realloc(o->text, want + 1);
    if (!t)
        return ES_ENOMEM;
    o->text = t;
    uint32_t *m = es_realloc(o->map, (want + 1) * sizeof *m);
    if (!m)
        return ES_ENOMEM;
    o->map = m;
    m = es_realloc(o->map_end, (want + 1) * sizeof *m);
    if (!m)
        return ES_ENOMEM;
    o->map_end = m;
    o->alloc = want;
    return 0;
}

/*
 * fold maps one code point to its canonical form: a code point,
 * ES__NORM_DROP or ES__NORM_SPACE.
 */
static uint32_t fold(const struct es_norm *n, uint32_t cp)
{
    if (cp < ES__NORM_SMALL_N)
        return n->small[cp];
    if (cp - ES__NORM_HAN_BASE < ES__NORM_HAN_N) {
        uint32_t t = n->han[cp - ES__NORM_HAN_BASE];
        return t ? t : cp;
    }
    if (cp - 0xFF01u <= 0xFF5Eu - 0xFF01u)
        return n->small[cp - 0xFEE0u]; /* full-width ASCII, then its lower case */
    if (cp - 0x2000u <= 0x206Fu - 0x2000u) {
        if (cp <= 0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F)
            return ES__NORM_SPACE;
        if (cp <= 0x200D || cp == 0x2060)
            return ES__NORM_DROP;
        return cp;
    }
    if (cp == 0x3000 || cp == 0x1680)
        return ES__NORM_SPACE;
    if (cp == 0xFEFF || (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF))
        return ES__NORM_DROP;
    if (cp - ES__NORM_COMPAT_BASE < ES__NORM_COMPAT_N) {
        uint32_t t = n->compat[cp - ES__NORM_COMPAT_BASE];
        return t ? t : cp;
    }
    return cp;
}

static void fail_out(struct es_norm_out *o)
{
    o->len = 0;
    if (o->text)
        o->text[0] = '\0';
    if (o->map)
        o->map[0] = 0;
    if (o->map_end)
        o->map_end[0] = 0;
}

int es_norm_text(const struct es_norm *n, const char *s, size_t len, struct es_norm_out *o)
{
    if (len > o->cap || len > MAX_CAP) {
        fail_out(o);
        return ES_ELIMIT;
    }
    if (grow(o, len + 16) != 0) {
        fail_out(o);
        return ES_ENOMEM;
    }
    const unsigned char *p = (const unsigned char *)s;
    const uint8_t *cls = n->ascii_cls, *low = n->ascii_low;
    const uint32_t *han = n->han;
    char *out = o->text;
    uint32_t *ms = o->map, *me = o->map_end;
    size_t i = 0, k = 0;
    int pend = 0;
    uint32_t ws_start = 0, ws_end = 0;

    while (i < len) {
        unsigned c = p[i];
        uint32_t cp;
        size_t used;
        if (c < 0x80) {
            unsigned cl = cls[c];
            if (cl == ES__NORM_PLAIN) {
                if (pend) {
                    out[k] = ' ';
                    ms[k] = ws_start;
                    me[k] = ws_end;
                    k++;
                    pend = 0;
                }
                do {
                    out[k] = (char)low[c];
                    ms[k] = (uint32_t)i;
                    me[k] = (uint32_t)i + 1;
                    k++;
                    i++;
                } while (i < len && (c = p[i]) < 0x80 && cls[c] == ES__NORM_PLAIN);
                continue;
            }
            if (cl == ES__NORM_WS) {
                if (k) {
                    if (!pend)
                        ws_start = (uint32_t)i;
                    pend = 1;
                    ws_end = (uint32_t)i + 1;
                }
                i++;
                continue;
            }
            used = es_html_entity(s + i, len - i, &cp);
            if (used == 0) {
                cp = '&';
                used = 1;
            }
        } else if ((c & 0xF0) == 0xE0 && len - i >= 3 && (p[i + 1] & 0xC0) == 0x80 &&
                   (p[i + 2] & 0xC0) == 0x80) {
            cp = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            used = 3;
            if (cp - ES__NORM_HAN_BASE < ES__NORM_HAN_N && han[cp - ES__NORM_HAN_BASE] == 0) {
                /* A Han character the table leaves alone: copy its bytes. As the
                 * ASCII loop, 3 written for 3 read (plus a pending space that
                 * earlier white space paid for). */
                if (pend) {
                    out[k] = ' ';
                    ms[k] = ws_start;
                    me[k] = ws_end;
                    k++;
                    pend = 0;
                }
                memcpy(out + k, p + i, 3);
                ms[k] = ms[k + 1] = ms[k + 2] = (uint32_t)i;
                me[k] = me[k + 1] = me[k + 2] = (uint32_t)i + 3;
                k += 3;
                i += 3;
                continue;
            }
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
                cp = es_utf8_decode(p + i, len - i, &used);
        } else {
            cp = es_utf8_decode(p + i, len - i, &used);
        }

        /* General path: one source character [i, i + used) -> cp. */
        uint32_t r = fold(n, cp);
        if (r == ES__NORM_DROP) {
            i += used;
            continue;
        }
        if (r == ES__NORM_SPACE) {
            if (k) {
                if (!pend)
                    ws_start = (uint32_t)i;
                pend = 1;
                ws_end = (uint32_t)(i + used);
            }
            i += used;
            continue;
        }
        if (o->alloc - k < len - i + 16) {
            if (grow(o, k + (len - i) + 16) != 0) {
                fail_out(o);
                return ES_ENOMEM;
            }
            out = o->text;
            ms = o->map;
            me = o->map_end;
        }
        if (pend) {
            out[k] = ' ';
            ms[k] = ws_start;
            me[k] = ws_end;
            k++;
            pend = 0;
        }
        size_t w = es_utf8_encode(r, out + k);
        for (size_t j = 0; j < w; j++) {
            ms[k + j] = (uint32_t)i;
            me[k + j] = (uint32_t)(i + used);
        }
        k += w;
        i += used;
    }
    out[k] = '\0';
    ms[k] = (uint32_t)len;
    me[k] = (uint32_t)len;
    o->len = k;
    return 0;
}

void es_norm_span(const struct es_norm_out *o, size_t start, size_t end, size_t *ostart,
                  size_t *oend)
{
    if (!o->map) {
        *ostart = *oend = 0;
        return;
    }
    if (end > o->len)
        end = o->len;
    if (start > end)
        start = end;
    *ostart = o->map[start];
    *oend = end > start ? o->map_end[end - 1] : *ostart;
}

char *es_norm_string(const struct es_norm *n, const char *s)
{
    size_t len = strlen(s);
    struct es_norm_out o;
    es_norm_out_init(&o, len ? len : 1);
    if (len > o.cap || es_norm_text(n, s, len, &o) != 0) {
        es_norm_out_cleanup(&o);
        return NULL;
    }
    char *r = es_strndup(o.text, o.len);
    es_norm_out_cleanup(&o);
    return r;
}
