/*
 * fears: what earshot checks in a reply an agent wants to send (the pure
 * text half of the FEARS rules; see docs/fears.md).
 *
 *   rules/fears/deflection.txt   --+
 *   rules/fears/dm_invite.txt    --+--> es_fears_new() --> struct es_fears
 *   rules/fears/stock_phrases.txt--+        (read-only, shared by threads)
 *   rules/fears/templates.txt    --+                 |
 *                                                    v
 *   agent's text --> es_fears_check_text() --> struct es_fears_report
 *                      normalise (es_norm), then:
 *                      S  channel deflection: phone numbers, "call us" /
 *                         "请拨打", "fill out the form" / "填写表单", form URLs
 *                      S  DM invitation: "DM us" / "私信我们" (the second public
 *                         reply needs one; decided by the reply path)
 *                      E  stock phrases (a warning), unfilled {placeholder},
 *                         empty text, platform length limit
 *
 *   agent's text --> es_fears_sketch() --> fingerprint (exact repeat),
 *                      MinHash signature, 16 LSH band keys: the store keeps
 *                      these per brand and finds near-duplicates (fears_canned)
 *                      without comparing every past reply.
 *
 * Decisions that need Redis (reply count, DM state, claims, past replies) are
 * made by the reply path; this module only names their reason codes and
 * sentences, in one table with its own (es_fears_reason).
 *
 * Thread safety: struct es_fears is read-only after es_fears_new and may be
 * shared by any number of threads. Every check allocates its own PCRE2 match
 * data and normalisation buffers per call (replies are agent-typed and short,
 * so the cost is a few small allocations), so no per-thread object is needed.
 */
#ifndef ES_FEARS_H
#define ES_FEARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot/err.h"

struct es_norm;
struct es_fears;

/* ---- loading ---------------------------------------------------------------------------- */

/*
 * es_fears_load reads the four files of `dir` (normally "<EARSHOT_HOME>/rules/fears"),
 * normalises literal phrases with `norm`, compiles every regex once (PCRE2 JIT, match
 * limit) and checks every template (known category, scenario and language, known
 * placeholders only, no channel deflection, a DM invitation in each dm_invite
 * template). Returns 0 and sets *out; ES_EPARSE with d's file:line:col set; ES_EIO
 * (file unreadable: d names it); ES_ENOMEM. `norm` is borrowed and must outlive the
 * result. d may be NULL.
 */
int es_fears_load(const struct es_norm *norm, const char *dir, struct es_fears **out,
                  struct es_diag *d);
/* es_fears_new is es_fears_load returning the object, or NULL (d says why, when not NULL). */
struct es_fears *es_fears_new(const struct es_norm *norm, const char *dir, struct es_diag *d);
/* es_fears_free accepts NULL. */
void es_fears_free(struct es_fears *f);

/* ---- the text check --------------------------------------------------------------------- */

/* What a channel-deflection hit is. */
enum es_fears_kind {
    ES_FEARS_KIND_NONE = 0,
    ES_FEARS_PHONE,       /* a phone number: 138 1234 5678, 400-820-8820, +1 (800) 555-0199 */
    ES_FEARS_CALL_PHRASE, /* "call us", "请拨打", "客服热线", "leave your phone number" */
    ES_FEARS_FORM_PHRASE, /* "fill out the form", "填写表单", "提交工单" */
    ES_FEARS_FORM_URL     /* forms.gle/..., brand.com/contact, support.brand.com, wj.qq.com */
};
/* es_fears_kind_name: "phone", "call_phrase", "form_phrase", "form_url" (or "none"). */
const char *es_fears_kind_name(enum es_fears_kind k);

/*
 * Where the reply goes, for its length limit (es_fears_platform_limit):
 *   GENERIC  2000 code points.
 *   TWITTER  280, counted the twitter-text way: a code point below U+1100 (and
 *            some punctuation) counts 1, any other (CJK, emoji) 2, a URL 23.
 *   WEIBO    140 Chinese characters (comments/create): a half-width (ASCII)
 *            character counts half, anything else one; `chars` is rounded up.
 *   WECHAT   600 code points (an official account's comment reply; provisional).
 *   DM       10000 code points (direct messages on every platform).
 */
enum es_fears_platform {
    ES_FEARS_PLATFORM_GENERIC = 0,
    ES_FEARS_PLATFORM_TWITTER,
    ES_FEARS_PLATFORM_WEIBO,
    ES_FEARS_PLATFORM_WECHAT,
    ES_FEARS_PLATFORM_DM
};
size_t es_fears_platform_limit(enum es_fears_platform p);
/* es_fears_count_chars: the length of len bytes of text as platform p counts it. */
size_t es_fears_count_chars(const struct es_fears *f, enum es_fears_platform p, const char *text,
                            size_t len);

/* Texts longer than this many bytes are refused as fears_too_long without further checks. */
#define ES_FEARS_MAX_BYTES ((size_t)64 << 10)

#define ES_FEARS_MAX_HITS 8    /* deflection and stock-phrase hits kept per report */
#define ES_FEARS_MATCH_MAX 128 /* bytes of matched text copied into a hit */
#define ES_FEARS_MAX_REASONS 8

struct es_fears_hit {
    enum es_fears_kind kind;
    size_t start, end; /* byte span in the original text */
    /* the original bytes of the span, cut at a code point boundary, NUL-terminated */
    char match[ES_FEARS_MATCH_MAX];
};

struct es_fears_stock_hit {
    const char *id;     /* stable id from stock_phrases.txt ("sorry_inconvenience_en"); borrowed */
    const char *phrase; /* the phrase as written in the file; borrowed */
    size_t start, end;  /* byte span in the original text */
};

/*
 * The verdict. Every borrowed pointer lives as long as the struct es_fears.
 * refusals[] lists the reason codes that refuse this text, most important
 * first (fears_empty, fears_too_long, fears_template_unfilled,
 * fears_channel_deflection); warnings[] those that only warn
 * (fears_stock_phrase). dm_invite is a fact, not a verdict: the reply path
 * refuses a second public reply without one as fears_dm_required.
 */
struct es_fears_report {
    bool empty; /* nothing but white space, punctuation or symbols */
    bool too_long;
    size_t chars;     /* length as the platform counts it */
    size_t max_chars; /* the limit used */
    bool unfilled;    /* an unfilled {placeholder} remains */
    size_t placeholder_start, placeholder_end;
    bool deflection;
    size_t n_deflections; /* hits stored in deflections[] (at most ES_FEARS_MAX_HITS) */
    struct es_fears_hit deflections[ES_FEARS_MAX_HITS];
    bool dm_invite;
    size_t dm_start, dm_end;
    size_t n_stock;
    struct es_fears_stock_hit stock[ES_FEARS_MAX_HITS];
    size_t n_refusals;
    const char *refusals[ES_FEARS_MAX_REASONS]; /* static strings */
    size_t n_warnings;
    const char *warnings[ES_FEARS_MAX_REASONS];
    bool limit_hit; /* a regex hit its match limit; that pattern was taken as not matching */
};

struct es_fears_opts {
    enum es_fears_platform platform;
    size_t max_chars; /* 0: es_fears_platform_limit(platform) */
};

/*
 * es_fears_check_text runs every text check on len bytes of text (any bytes: invalid
 * UTF-8 is judged as U+FFFD) and fills *out (overwritten). Returns 0 (the verdict is
 * in out->refusals, which may be empty), ES_EINVAL (f, out or text NULL with len > 0)
 * or ES_ENOMEM. Uses the GENERIC platform limit.
 */
int es_fears_check_text(const struct es_fears *f, const char *text, size_t len,
                        struct es_fears_report *out);
/* es_fears_check_text_opts: the same with a platform and/or an explicit limit (o may be NULL). */
int es_fears_check_text_opts(const struct es_fears *f, const char *text, size_t len,
                             const struct es_fears_opts *o, struct es_fears_report *out);

/*
 * es_fears_has_placeholder: true when text still holds an unfilled placeholder:
 * {name} (any {identifier}, full-width braces too), or one of the known names in
 * [..], <..> or 【..】 ([name], <order>, 【姓名】), or a run of three or more X
 * ("亲爱的XXX"). Pure byte scan, no es_fears needed. start/end (either may be
 * NULL) get the first one's byte span.
 */
bool es_fears_has_placeholder(const char *text, size_t len, size_t *start, size_t *end);

/* ---- reasons ---------------------------------------------------------------------------- */

struct es_fears_reason {
    const char *code;    /* "fears_channel_deflection" */
    char letter;         /* the FEARS rule: 'E', 'A', 'R', 'S', or 0 for workflow codes */
    bool refusal;        /* false: a warning the agent may override */
    int http_status;     /* what the API answers with it: 409 state conflicts, 422 the text */
    const char *message; /* one human sentence */
};
/* es_fears_reasons: the whole table (static), *n entries. */
const struct es_fears_reason *es_fears_reasons(size_t *n);
/* es_fears_reason: the entry for code, or NULL. */
const struct es_fears_reason *es_fears_reason(const char *code);
/* es_fears_reason_message: the sentence for code, or NULL for an unknown code. */
const char *es_fears_reason_message(const char *code);

/* ---- near-duplicates (fears_canned) ----------------------------------------------------- */

/*
 * The measure: Jaccard similarity of the sets of character shingles of the
 * masked text. Masking (es_fears_shingle_text): normalise (es_norm), then
 * URLs -> "~", e-mail addresses and @handles -> "@", runs of digits (with
 * inner . , : / -) -> "#", the name in a leading salutation ("hi ann,",
 * "dear mr lee,", "张女士您好", "亲爱的小王，") -> "@", punctuation, symbols and
 * control characters dropped, white space collapsed. Shingles are 3 code points, or 2 when the
 * masked text has fewer than ES_FEARS_SHORT_CP code points; a text shorter
 * than the shingle is one shingle. At ES_FEARS_CANNED_THRESHOLD (0.80) or
 * above, a reply is the same as an earlier one (docs/fears.md says why).
 */
#define ES_FEARS_CANNED_THRESHOLD 0.80
#define ES_FEARS_SHORT_CP 12
#define ES_FEARS_MINHASH_N 64
#define ES_FEARS_LSH_BANDS 16
#define ES_FEARS_LSH_ROWS 4
/* Part of every stored signature: change it when the masking, shingles or hashes change. */
#define ES_FEARS_SKETCH_VERSION 1

/*
 * es_fears_shingle_text writes the masked normalised text of len bytes of text into
 * *out (es_malloc'ed, NUL-terminated, the caller frees with es_free) and its length
 * into *out_len (may be NULL). 0, ES_ENOMEM, ES_ELIMIT (len > ES_FEARS_MAX_BYTES).
 */
int es_fears_shingle_text(const struct es_fears *f, const char *text, size_t len, char **out,
                          size_t *out_len);

/*
 * es_fears_similarity: the Jaccard similarity (0..1) of the shingle sets of two
 * masked texts (es_fears_shingle_text output; any bytes are accepted). Two empty
 * texts are 1, an empty and a non-empty one 0. Negative only when memory ran out.
 */
double es_fears_similarity(const char *a, size_t alen, const char *b, size_t blen);

/*
 * es_fears_minhash: the 64-value MinHash signature of a masked text's shingle
 * set. Hash i of shingle x is the high 32 bits of mix64(x ^ seed_i), where the
 * seeds come from splitmix64 started at a fixed constant (ES_FEARS_SKETCH_VERSION
 * names the choice). An empty text gives all 0xFFFFFFFF. Allocates nothing.
 */
void es_fears_minhash(const char *masked, size_t len, uint32_t sig[ES_FEARS_MINHASH_N]);
/* es_fears_minhash_similarity: the fraction of equal values, an estimate of the Jaccard
 * similarity (standard error about 0.05 at 0.8). */
double es_fears_minhash_similarity(const uint32_t a[ES_FEARS_MINHASH_N],
                                   const uint32_t b[ES_FEARS_MINHASH_N]);
/*
 * es_fears_lsh_bands: 16 band keys of 4 signature rows each; key b is a 64-bit hash of
 * b and rows 4b..4b+3. Two texts sharing any band key are candidates; at similarity s
 * the chance is 1 - (1 - s^4)^16: 0.9998 at 0.8, 0.64 at 0.5, 0.12 at 0.3.
 */
void es_fears_lsh_bands(const uint32_t sig[ES_FEARS_MINHASH_N], uint64_t bands[ES_FEARS_LSH_BANDS]);
/* es_fears_fingerprint: a 64-bit hash of a masked text (exact repeats, whatever the name
 * or order number). */
uint64_t es_fears_fingerprint(const char *masked, size_t len);

/* Everything the store keeps about one sent reply. */
struct es_fears_sketch {
    uint64_t fingerprint;
    uint32_t sig[ES_FEARS_MINHASH_N];
    uint64_t bands[ES_FEARS_LSH_BANDS];
};
/* es_fears_sketch masks text and fills *out. 0, ES_ENOMEM, ES_ELIMIT. */
int es_fears_sketch(const struct es_fears *f, const char *text, size_t len,
                    struct es_fears_sketch *out);

/* ---- templates -------------------------------------------------------------------------- */

/*
 * Reply templates are starting points for an agent, several variants per
 * (category, scenario, language). Categories: delivery, food_quality, service,
 * refund_billing, product_defect, delay_cancellation, luggage, connectivity,
 * app_website, general. Scenarios: first_reply (the first public reply),
 * dm_invite (the second public reply: invites a DM), dm_followup (the first
 * DM). Languages: zh, en. Placeholders: {name}, {order}, {brand}, {issue}.
 */
struct es_fears_template {
    const char *id;       /* "delivery/first_reply/zh/2" */
    const char *category; /* "delivery" */
    const char *scenario; /* "first_reply" */
    const char *lang;     /* "zh" */
    const char *text;     /* with placeholders */
    long line;            /* in templates.txt */
};

/*
 * es_fears_templates stores up to max pointers to the variants of (category, scenario,
 * lang) into out, in file order, and returns how many exist (which may be more than max).
 * Unknown names give 0 (ask for "general" then). Pointers live as long as f.
 */
size_t es_fears_templates(const struct es_fears *f, const char *category, const char *scenario,
                          const char *lang, const struct es_fears_template **out, size_t max);
/* es_fears_template_count: how many templates were loaded in all. */
size_t es_fears_template_count(const struct es_fears *f);
/* es_fears_template_at: the i-th loaded template, or NULL past the end. */
const struct es_fears_template *es_fears_template_at(const struct es_fears *f, size_t i);

/* Values for es_fears_fill; a NULL field leaves its placeholder in place (and the reply
 * path will refuse the text as fears_template_unfilled). */
struct es_fears_vars {
    const char *name;
    const char *order;
    const char *brand;
    const char *issue;
};
/*
 * es_fears_fill replaces {name}, {order}, {brand} and {issue} in tmpl with the values
 * (inserted as they are; a value is never itself expanded). Other {...} stay. *out is
 * es_malloc'ed, NUL-terminated; the caller frees it. 0, ES_ENOMEM, ES_ELIMIT (result over
 * ES_FEARS_MAX_BYTES).
 */
int es_fears_fill(const char *tmpl, const struct es_fears_vars *v, char **out);

#endif
