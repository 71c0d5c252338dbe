/*
 * Private to the match module: the parsed (struct es_rules) and compiled
 * (struct es_ruleset) forms of keyword lists and rules.
 */
#ifndef ES_MATCH_INTERNAL_H
#define ES_MATCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include "earshot/match.h"

enum { ES__LANG_ANY = 0, ES__LANG_ZH = 1, ES__LANG_EN = 2 };

/* ---- parsed form ---- */

struct es__kw_entry {
    char *text; /* as written (regex without the "re:" prefix) */
    bool regex;
    long line, col;
};

struct es__kw_list {
    char *name;
    bool brand;
    char *display; /* brands only */
    int lang;
    const char *file;
    long line, col;
    struct es__kw_entry *e;
    size_t n, alloc;
};

enum es__term_kind { ES__T_LIST, ES__T_BRAND_ALL, ES__T_BRAND_ONE, ES__T_REGEX, ES__T_LITERAL };

struct es__term {
    enum es__term_kind kind;
    char *text; /* list name, brand id, pattern or literal */
    long line, col;
};

struct es__termset {
    struct es__term *t;
    size_t n;
};

enum { ES__DIR_BEFORE, ES__DIR_AFTER, ES__DIR_AROUND };

struct es__clause {
    struct es__termset ts;
    int dist;
    int dir; /* for `not` */
};

struct es__rule {
    char *id;
    const char *file;
    long line, col;
    bool has_match;
    struct es__termset match;
    struct es__clause *near, *neg;
    size_t n_near, n_neg;
    struct es__termset *unless;
    size_t n_unless;
    int lang;
    int brand_mode; /* 0 any, 1 required, 2 listed */
    char **brands;
    size_t n_brands;
    long brand_line, brand_col;
    char *category;
    int severity;
    double weight;
    int cap;
};

struct es_rules {
    struct es__kw_list *lists;
    size_t n_lists, alloc_lists;
    struct es__rule *rules;
    size_t n_rules, alloc_rules;
    char **files; /* names kept for diagnostics */
    size_t n_files, alloc_files;
    double threshold;
    bool threshold_set;
};

/* ---- compiled form ---- */

enum { ES__ATOM_LIT = 0, ES__ATOM_RE = 1 };

struct es__atom {
    char *pat; /* normalised literal, or the folded regex */
    uint32_t len;
    uint8_t kind;
    uint8_t wb_start, wb_end; /* literal: needs an ASCII word boundary there */
    bool always;              /* regex Hyperscan cannot prefilter: confirm on every post */
    pcre2_code *re;
    uint32_t *sets; /* the sets (lists, brands, inline terms) this atom belongs to */
    uint32_t n_sets;
};

struct es__ids {
    uint32_t *v;
    uint32_t n;
};

struct es__cclause {
    struct es__ids sets;
    int dist;
    int dir;
};

struct es__crule {
    char *id;
    struct es__ids match;
    struct es__cclause *near, *neg;
    uint32_t n_near, n_neg;
    struct es__ids unless;
    int lang;
    int brand_mode;
    struct es__ids brands; /* brand indexes */
    char *category;
    int severity;
    double weight;
    int cap;
};

struct es_ruleset {
    const struct es_norm *norm;
    struct es__atom *atoms;
    uint32_t n_atoms;
    uint32_t *always; /* atoms confirmed on every post */
    uint32_t n_always;
    uint32_t n_sets;
    struct es__ids *set_rules; /* per set: rules whose `match` uses it */
    uint32_t brand_all_set;    /* the @brand set */
    uint32_t brand_base;       /* brand i is set brand_base + i */
    uint32_t n_brands;
    char **brand_ids;
    char **brand_names;
    struct es__crule *rules;
    uint32_t n_rules;
    double threshold;
    uint32_t match_limit;
    hs_database_t *db; /* NULL when there are no prefilterable atoms */
    hs_scratch_t *scratch_proto;
};

/* es__rules_keep_name stores a file name in r and returns the kept copy (NULL on ENOMEM). */
const char *es__rules_keep_name(struct es_rules *r, const char *name);

/* es__regex_risky: 1 when the pattern has a quantified group holding an unbounded quantifier;
 * *off gets the offset of that group. */
int es__regex_risky(const char *pat, size_t *off);

#endif
