#include <string.h>

#include "earshot/utf8.h"

uint32_t es_utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    *len = 1;
    if (c < 0x80)
        return c;
    uint32_t cp;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1F;
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        cp = c & 0x0F;
        need = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07;
        need = 4;
    } else {
        return ES_UTF8_REPLACEMENT;
    }
    if (n < need)
        return ES_UTF8_REPLACEMENT;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return ES_UTF8_REPLACEMENT;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* Overlongs, surrogates and values past U+10FFFF are invalid. */
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return ES_UTF8_REPLACEMENT;
    *len = need;
    return cp;
}

size_t es_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = ES_UTF8_REPLACEMENT;
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF)
        return es_utf8_encode(ES_UTF8_REPLACEMENT, out);
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int es_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, eight bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp = es_utf8_decode(p + i, n - i, &len);
        if (cp == ES_UTF8_REPLACEMENT && len == 1)
            return 0;
        i += len;
    }
    return 1;
}

size_t es_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

int es_utf8_is_cjk(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2FA1F) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x3000 && cp <= 0x30FF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xFF00 && cp <= 0xFFEF);
}

struct named_entity {
    const char *name;
    uint32_t cp;
};

/* The references platforms actually send in post text and Weibo HTML. */
static const struct named_entity named[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
    {"apos", '\''},    {"nbsp", 0xA0},    {"ensp", 0x2002},  {"emsp", 0x2003},
    {"thinsp", 0x2009}, {"zwnj", 0x200C}, {"zwj", 0x200D},   {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"middot", 0xB7},  {"copy", 0xA9},
    {"reg", 0xAE},     {"trade", 0x2122}, {"yen", 0xA5},     {"euro", 0x20AC},
    {"pound", 0xA3},   {"times", 0xD7},   {"laquo", 0xAB},   {"raquo", 0xBB},
    {"deg", 0xB0},     {"bull", 0x2022},
};

size_t es_html_entity(const char *s, size_t n, uint32_t *cp)
{
    if (n < 3 || s[0] != '&')
        return 0;
    size_t i = 1;
    if (s[1] == '#') {
        uint32_t v = 0;
        int hex = i + 1 < n && (s[2] == 'x' || s[2] == 'X');
        i = hex ? 3 : 2;
        size_t start = i;
        while (i < n && i - start < 8) {
            char c = s[i];
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                break;
            v = v * (hex ? 16 : 10) + (uint32_t)d;
            i++;
        }
        if (i == start || i >= n || s[i] != ';')
            return 0;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            v = ES_UTF8_REPLACEMENT;
        *cp = v;
        return i + 1;
    }
    while (i < n && i < 10 && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
        i++;
    if (i >= n || s[i] != ';' || i == 1)
        return 0;
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        if (strlen(named[k].name) == i - 1 && memcmp(named[k].name, s + 1, i - 1) == 0) {
            *cp = named[k].cp;
            return i + 1;
        }
    }
    return 0;
}
