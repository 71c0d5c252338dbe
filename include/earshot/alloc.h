/*
 * alloc: the allocation functions every module uses, so tests can make the
 * Nth allocation fail and check that nothing leaks or crashes.
 */
#ifndef ES_ALLOC_H
#define ES_ALLOC_H

#include <stddef.h>

void *es_malloc(size_t n);
void *es_calloc(size_t nmemb, size_t size);
void *es_realloc(void *p, size_t n);
void es_free(void *p);
/* es_strdup / es_strndup: NULL on failure; the caller frees with es_free. */
char *es_strdup(const char *s);
char *es_strndup(const char *s, size_t n);

/*
 * Test hook: after `n` more successful allocations every allocation fails
 * (n < 0 turns failure injection off). Not thread-safe; for unit tests.
 */
void es_alloc_fail_after(long n);

#endif
