#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/err.h"
#include "earshot/utf8.h"

void es_buf_init(struct es_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void es_buf_cleanup(struct es_buf *b)
{
    if (!b)
        return;
    es_free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void es_buf_reset(struct es_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int es_buf_reserve(struct es_buf *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return ES_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return 0;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need)
        n *= 2;
    if (n > b->cap + 1)
        n = b->cap + 1;
    char *p = es_realloc(b->data, n);
    if (!p)
        return ES_ENOMEM;
    b->data = p;
    b->alloc = n;
    return 0;
}

int es_buf_append(struct es_buf *b, const void *p, size_t n)
{
    int rc = es_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int es_buf_puts(struct es_buf *b, const char *s)
{
    return es_buf_append(b, s, strlen(s));
}

int es_buf_putc(struct es_buf *b, char c)
{
    return es_buf_append(b, &c, 1);
}

int es_buf_printf(struct es_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return ES_EINVAL;
    if ((size_t)n < sizeof small)
        return es_buf_append(b, small, (size_t)n);
    int rc = es_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int es_buf_json_str(struct es_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX or U+FFFD: 6 bytes each. */
    int rc = es_buf_reserve(b, n * 6 + 2);
    if (rc)
        return rc;
    char *o = b->data + b->len;
    const unsigned char *p = (const unsigned char *)s;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c >= 0x80) {
            size_t len;
            uint32_t cp = es_utf8_decode(p + i, n - i, &len);
            if (cp == ES_UTF8_REPLACEMENT && len == 1) {
                o += es_utf8_encode(ES_UTF8_REPLACEMENT, o);
            } else {
                memcpy(o, p + i, len);
                o += len;
            }
            i += len;
            continue;
        }
        i++;
        switch (c) {
        case '"': *o++ = '\\'; *o++ = '"'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        default:
            if (c < 0x20 || c == 0x7F) {
                *o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
                *o++ = hex[c >> 4]; *o++ = hex[c & 15];
            } else {
                *o++ = (char)c;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}
