/*
 * fears_int: what fears.c (loading, the check), fears_text.c (phones, URLs,
 * masking, shingles) and templates.c share. Not included outside respond/.
 */
#ifndef ES_RESPOND_FEARS_INT_H
#define ES_RESPOND_FEARS_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot/fears.h"

/* Sections of the phrase files; each pattern belongs to one. */
enum es__fears_sec {
    ES__SEC_CALL = 0,  /* deflection.txt [call_phrase] */
    ES__SEC_CALL_ASK,  /* [call_ask]: deflection unless the sentence invites a DM */
    ES__SEC_FORM,      /* [form_phrase] */
    ES__SEC_FORM_HOST, /* [form_host]: host suffix or host/path prefix (literal) */
    ES__SEC_FORM_WORD, /* [form_word]: host label or path token (literal) */
    ES__SEC_NOT_PHONE, /* [not_phone_before]: words that make the next number an id */
    ES__SEC_DM,        /* dm_invite.txt */
    ES__SEC_STOCK,     /* stock_phrases.txt */
    ES__SEC_N
};

struct es__fears_pat {
    enum es__fears_sec sec;
    pcre2_code *re; /* a "re:" line, else NULL */
    char *lit;      /* a literal line, normalised; else NULL */
    size_t lit_len;
    char *id;     /* stock phrases: the id */
    char *source; /* the line as written (the phrase for stock hits) */
    long line;
};

/* Compiled built-in regexes (fears_text.c owns their source). */
enum es__fears_builtin {
    ES__RE_URL = 0, /* URLs, with or without a scheme */
    ES__RE_MASK,    /* url | email | handle | number | punctuation, for masking */
    ES__RE_SALUTE,  /* a leading salutation; group 1 is the name */
    ES__RE_VANITY,  /* 1-800-FLOWERS */
    ES__RE_CONTENT, /* a letter or a digit (else the text is empty) */
    ES__RE_N
};

struct es_fears {
    const struct es_norm *norm;
    pcre2_general_context *gctx;
    pcre2_compile_context *cctx;
    pcre2_match_context *mctx; /* shared read-only: match and depth limits */
    struct es__fears_pat *pats;
    size_t n_pats, cap_pats;
    pcre2_code *builtin[ES__RE_N];
    struct es_fears_template *tpl;
    size_t n_tpl, cap_tpl;
};

/* The per-call working state of one check. */
struct es__fears_run {
    const struct es_fears *f;
    pcre2_match_data *md;
    const char *t; /* normalised text */
    size_t len;
    bool limit_hit;
    bool in_dm; /* the text is a direct message: asking for a phone number is fine */
};

/* es__fears_find: the next match of re in r->t at or after off, limited to [0, end).
 * 1 with the span in *s and *e, or 0 for none (a match-limit hit sets r->limit_hit). */
int es__fears_find(struct es__fears_run *r, const pcre2_code *re, size_t off, size_t end, size_t *s,
                   size_t *e);

/* es__fears_compile compiles pattern (len bytes) with the module's options; NULL and *err,
 * *erroff set on failure. `\b` means an ASCII word boundary (see docs/fears.md). */
pcre2_code *es__fears_compile(struct es_fears *f, const char *pat, size_t len, int *err,
                              size_t *erroff);

/* Built-in regex sources, indexed by enum es__fears_builtin. */
extern const char *const es__fears_builtin_src[ES__RE_N];

/* A phone number at [*s, *e) of r->t at or after off: 1, or 0 when none is left. */
int es__fears_next_phone(struct es__fears_run *r, size_t off, size_t *s, size_t *e);
/* A form-like URL at [*s, *e) at or after off: 1, or 0. */
int es__fears_next_form_url(struct es__fears_run *r, size_t off, size_t *s, size_t *e);

/* Templates: parse rules/fears/templates.txt into f (file:line errors in d). */
int es__fears_load_templates(struct es_fears *f, const char *path, struct es_diag *d);
void es__fears_free_templates(struct es_fears *f);

/* es__fears_read_file reads a whole file (capped) into an es_malloc'ed NUL-terminated buffer. */
int es__fears_read_file(const char *path, char **out, size_t *len, struct es_diag *d);

#endif
