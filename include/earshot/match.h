/*
 * match: the rule language, its compiler and the matcher.
 *
 *   keywords/NAME.kw ─┐  parse        compile                         per post
 *   rules/NAME.rules ─┴────> rules ─────────> es_ruleset ──────> es_matcher ──> es_match
 *                     (diag: file:line:col)  (shared,        (per thread:
 *                                             read-only)      scratch, match data)
 *
 * A ruleset holds every literal and regex of every list and rule as an
 * "atom". All atoms go into one Hyperscan database: literals exactly,
 * regexes in prefilter mode (a superset of their matches). One scan of a
 * post's normalised text gives the literal hits with their spans and the few
 * regexes worth confirming; PCRE2 (JIT, match-limited) confirms those and
 * gives their spans. Rules are then evaluated only if one of their `match`
 * terms was hit. The language itself is documented in docs/rules.md.
 *
 * A ruleset is immutable once built and may be shared by any number of
 * threads; each thread makes its own es_matcher.
 */
#ifndef ES_MATCH_H
#define ES_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot/err.h"
#include "earshot/feed.h"
#include "earshot/norm.h"

struct es_rules;   /* parsed, not compiled */
struct es_ruleset; /* compiled */
struct es_matcher;

/* es_rules_new: an empty rule collection; NULL on ES_ENOMEM. */
struct es_rules *es_rules_new(void);
void es_rules_free(struct es_rules *r);

/*
 * es_rules_add_keywords / es_rules_add_rules parse one file's text (`name`
 * is used in diagnostics and must outlive r). Every problem goes to on_diag
 * (errors and warnings); parsing goes on after an error so one run shows
 * them all. Returns 0, ES_EPARSE when there was an error, or ES_ENOMEM.
 */
int es_rules_add_keywords(struct es_rules *r, const char *name, const char *text, size_t len,
                          es_diag_cb *on_diag, void *ud);
int es_rules_add_rules(struct es_rules *r, const char *name, const char *text, size_t len,
                       es_diag_cb *on_diag, void *ud);

/*
 * es_rules_load_dirs reads every *.kw file of keywords_dir and every *.rules
 * file of rules_dir (sorted by name; either may be NULL). File names are
 * kept by r. Returns 0, ES_EPARSE, ES_EIO (diag says which file) or ES_ENOMEM.
 */
int es_rules_load_dirs(struct es_rules *r, const char *keywords_dir, const char *rules_dir,
                       es_diag_cb *on_diag, void *ud);

struct es_compile_opts {
    const struct es_norm *norm; /* required: the normaliser posts go through */
    uint32_t match_limit;       /* PCRE2 match limit per regex run; 0 = 100000 */
};

/*
 * es_ruleset_compile resolves names, compiles every regex (PCRE2 + JIT) and
 * the Hyperscan database, and reports errors (unknown list, bad regex with
 * PCRE2's message at the right column) and warnings (catastrophic
 * backtracking, duplicate aliases, unused or empty lists). *out is set only
 * on success; r is not changed and may be freed afterwards.
 * Returns 0, ES_EPARSE or ES_ENOMEM.
 */
int es_ruleset_compile(const struct es_rules *r, const struct es_compile_opts *opts,
                       struct es_ruleset **out, es_diag_cb *on_diag, void *ud);
void es_ruleset_free(struct es_ruleset *rs);

size_t es_ruleset_rule_count(const struct es_ruleset *rs);
size_t es_ruleset_atom_count(const struct es_ruleset *rs);
const char *es_ruleset_rule_id(const struct es_ruleset *rs, size_t i);
size_t es_ruleset_brand_count(const struct es_ruleset *rs);
const char *es_ruleset_brand_id(const struct es_ruleset *rs, size_t i);
double es_ruleset_threshold(const struct es_ruleset *rs);

/* A span of the original post text, in bytes: [start, end). */
struct es_span {
    size_t start, end;
    int rule;  /* rule index, or -1 for a brand alias */
    int brand; /* brand index for a brand alias, else -1 */
};

#define ES_MATCH_MAX_RULES 64
#define ES_MATCH_MAX_SPANS 64

/* The verdict on one post. Owned by the matcher; valid until its next call. */
struct es_match {
    bool complaint;
    double score;
    int brand;            /* brand index or -1 */
    const char *category; /* NULL when no positive rule fired */
    int severity;         /* 0 when no positive rule fired */
    int rules[ES_MATCH_MAX_RULES]; /* fired rules, in rule order */
    size_t n_rules;
    struct es_span spans[ES_MATCH_MAX_SPANS];
    size_t n_spans;
    bool limit_hit;       /* a regex hit the PCRE2 match limit on this post */
};

/* Counters a matcher keeps across posts (summed by the caller over threads). */
struct es_match_stats {
    uint64_t posts, complaints, limit_hits, regex_runs, truncated;
};

/* es_matcher_new: per-thread state; NULL on ES_ENOMEM. */
struct es_matcher *es_matcher_new(const struct es_ruleset *rs);
void es_matcher_free(struct es_matcher *m);

/*
 * es_match_text judges one text. lang may be NULL or "" (then guessed from
 * the script). Returns 0, ES_ELIMIT (text over the normaliser's cap: judged
 * on its first part, m->stats.truncated counted) or ES_ENOMEM. *out points
 * into m.
 */
int es_match_text(struct es_matcher *m, const char *text, size_t len, const char *lang,
                  const struct es_match **out);
const struct es_match_stats *es_matcher_stats(const struct es_matcher *m);

struct es_buf;
/*
 * es_match_json appends the verdict's fired rule ids to rules as a JSON array
 * (["zh.delay",...]) and its spans to spans ([{"start","end","rule"|"brand"}]),
 * as stored on a mention. 0, ES_ENOMEM or ES_ELIMIT (a buffer's cap).
 */
int es_match_json(const struct es_ruleset *rs, const struct es_match *res, struct es_buf *rules,
                  struct es_buf *spans);
/* es_matcher_rule_hits: per-rule fire counts, es_ruleset_rule_count() entries. */
const uint64_t *es_matcher_rule_hits(const struct es_matcher *m);

#endif
