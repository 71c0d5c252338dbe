/*
 * norm_int: the tables behind struct es_norm, shared by norm.c (the hot
 * path) and tables.c (building them once in es_norm_new).
 *
 *   input code point                         table
 *   ----------------------------------------------------------------------
 *   U+0000..U+007F   ascii_cls, ascii_low    class (plain / space / '&') and
 *                                            lower case
 *   U+0000..U+07FF   small                   result code point, or
 *                                            ES__NORM_DROP / ES__NORM_SPACE
 *   U+3400..U+9FFF   han                     simplified code point, 0 = same
 *   U+F900..U+FAFF   compat                  simplified code point, 0 = same
 *   anything else    a few range tests in norm.c (full-width, spaces,
 *                                            zero-width, variation selectors)
 */
#ifndef ES_NORM_INT_H
#define ES_NORM_INT_H

#include <stdint.h>

#define ES__NORM_HAN_BASE 0x3400u
#define ES__NORM_HAN_LAST 0x9FFFu
#define ES__NORM_HAN_N (ES__NORM_HAN_LAST - ES__NORM_HAN_BASE + 1)
#define ES__NORM_COMPAT_BASE 0xF900u
#define ES__NORM_COMPAT_LAST 0xFAFFu
#define ES__NORM_COMPAT_N (ES__NORM_COMPAT_LAST - ES__NORM_COMPAT_BASE + 1)
#define ES__NORM_SMALL_N 0x800u

/* Markers in `small` and results of fold(): past U+10FFFF, so never a real code point. */
#define ES__NORM_DROP 0x110000u
#define ES__NORM_SPACE 0x110001u

/* ascii_cls values. */
enum { ES__NORM_PLAIN = 0, ES__NORM_WS = 1, ES__NORM_AMP = 2 };

struct es_norm {
    uint8_t ascii_cls[128];
    uint8_t ascii_low[128];
    uint32_t small[ES__NORM_SMALL_N];
    uint32_t han[ES__NORM_HAN_N];       /* 32 bits: ~800 targets are in Ext B..G */
    uint32_t compat[ES__NORM_COMPAT_N];
    int has_t2s;      /* 0 when OpenCC could not be used */
    unsigned t2s_n;   /* how many code points the t2s table changes */
};

/* es__norm_fill_small fills ascii_cls, ascii_low and small (case folding, spaces, drops). */
void es__norm_fill_small(struct es_norm *n);

/*
 * es__norm_fill_t2s fills han and compat from the OpenCC config (a name
 * OpenCC resolves, e.g. "t2s.json"). 0 with has_t2s set; 0 with has_t2s
 * clear and *warn set when OpenCC cannot be used; ES_ENOMEM.
 */
int es__norm_fill_t2s(struct es_norm *n, const char *config, const char **warn);

#endif
