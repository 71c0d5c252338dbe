/*
 * err: error codes and diagnostics shared by every module.
 *
 * Functions return 0 on success and a negative ES_E* code on failure. Where
 * the failure is about outside input (a rule file, a feed page, a CSV line)
 * the caller passes a struct es_diag that the callee fills with where it
 * happened and why, so the message can name file:line:col.
 */
#ifndef ES_ERR_H
#define ES_ERR_H

#include <stddef.h>

enum {
    ES_OK = 0,
    ES_ENOMEM = -1,   /* an allocation failed */
    ES_EPARSE = -2,   /* malformed input; details in the es_diag */
    ES_ELIMIT = -3,   /* a size or count cap was reached */
    ES_EIO = -4,      /* read or write failed; errno is kept in the diag */
    ES_EINVAL = -5,   /* a caller passed a bad argument */
    ES_ENOTFOUND = -6,
    ES_EUNSUPP = -7,  /* a shape or feature this build does not handle */
    ES_ECANCELED = -8 /* async work stopped by shutdown */
};

/* es_strerror returns a static string naming the code. */
const char *es_strerror(int code);

enum es_severity { ES_DIAG_ERROR = 0, ES_DIAG_WARNING = 1 };

/*
 * Where and why. `file` is borrowed (it must outlive the diag, usually the
 * caller's path string); `msg` is owned by the diag itself.
 */
struct es_diag {
    const char *file;
    long line; /* 1-based; 0 when unknown */
    long col;  /* 1-based, counted in code points; 0 when unknown */
    enum es_severity severity;
    char msg[512];
};

/* es_diag_set fills d (which may be NULL) in printf style and returns ES_EPARSE. */
int es_diag_set(struct es_diag *d, const char *file, long line, long col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* es_diag_format writes "file:line:col: error: msg" into out (always NUL-terminated). */
void es_diag_format(const struct es_diag *d, char *out, size_t n);

#endif
