#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"

/* Failure injection for tests: -1 means off. */
static long fail_after = -1;

void es_alloc_fail_after(long n)
{
    fail_after = n;
}

static int should_fail(void)
{
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void *es_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *es_calloc(size_t nmemb, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *es_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void es_free(void *p)
{
    free(p);
}

char *es_strndup(const char *s, size_t n)
{
    char *d = es_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *es_strdup(const char *s)
{
    return es_strndup(s, strlen(s));
}
