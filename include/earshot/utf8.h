/*
 * utf8: decoding and small helpers. Posts carry broken UTF-8, so the
 * decoder never fails: an invalid sequence decodes as U+FFFD of length 1.
 */
#ifndef ES_UTF8_H
#define ES_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define ES_UTF8_REPLACEMENT 0xFFFDu

/* es_utf8_decode reads one code point at s (n > 0 bytes available) and
 * stores its byte length in *len (>= 1). Invalid input gives U+FFFD, *len 1. */
uint32_t es_utf8_decode(const unsigned char *s, size_t n, size_t *len);
/* es_utf8_encode writes cp into out (4 bytes room) and returns the length. */
size_t es_utf8_encode(uint32_t cp, char *out);
/* es_utf8_valid: 1 when the n bytes are valid UTF-8. */
int es_utf8_valid(const char *s, size_t n);
/* es_utf8_count: the number of code points in n bytes (invalid bytes count one each). */
size_t es_utf8_count(const char *s, size_t n);
/* es_utf8_is_cjk: Han ideographs, kana, hangul, CJK punctuation. */
int es_utf8_is_cjk(uint32_t cp);



/*
 * es_html_entity decodes one HTML character reference at s ("&amp;",
 * "&#38;", "&#x4E00;", "&nbsp;" and the other common named ones; n bytes
 * available, s[0] == '&'). Returns the bytes consumed and sets *cp, or 0
 * when s does not start a reference it knows (the '&' is then literal text).
 */
size_t es_html_entity(const char *s, size_t n, uint32_t *cp);

#endif
