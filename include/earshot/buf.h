/*
 * buf: a growable byte buffer with a hard cap. Hostile input that would grow
 * a buffer past its cap gets ES_ELIMIT instead of memory.
 */
#ifndef ES_BUF_H
#define ES_BUF_H

#include <stddef.h>

struct es_buf {
    char *data; /* NUL-terminated while len < cap (a spare byte is kept) */
    size_t len;
    size_t alloc;
    size_t cap;
};

void es_buf_init(struct es_buf *b, size_t cap);
void es_buf_cleanup(struct es_buf *b);
void es_buf_reset(struct es_buf *b);
/* es_buf_reserve makes room for `extra` more bytes; 0, ES_ENOMEM or ES_ELIMIT. */
int es_buf_reserve(struct es_buf *b, size_t extra);
int es_buf_append(struct es_buf *b, const void *p, size_t n);
int es_buf_puts(struct es_buf *b, const char *s);
int es_buf_putc(struct es_buf *b, char c);
int es_buf_printf(struct es_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* es_buf_json_str appends s (n bytes, any bytes) as a JSON string literal with quotes;
 * invalid UTF-8 becomes U+FFFD. */
int es_buf_json_str(struct es_buf *b, const char *s, size_t n);

#endif
