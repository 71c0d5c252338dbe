/*
 * feed_int: what the adapters share inside the feed module.
 *
 *   es_feed_parse --json_loadb--> root --es__feed_detect--> es__<shape>_parse(ctx, root)
 *                                                               |
 *                     es__feed_emit(ctx, &post) <---------------+  one per post
 *                     es__feed_diag(ctx, ...)   <---------------+  one per problem
 *
 * A post's strings are borrowed from the jansson tree when they are used as
 * sent, and allocated from ctx->arena when they are derived (numeric ids,
 * decoded text, permalinks). es__feed_emit hands the post to the caller and
 * then resets the arena, so derived strings live exactly as long as the
 * callback.
 */
#ifndef ES_FEED_INT_H
#define ES_FEED_INT_H

#include <jansson.h>
#include <stdarg.h>

#include "earshot/feed.h"

/* Cap on one post's text; longer text is cut at a character boundary. */
#define ES_FEED_TEXT_MAX (64u << 10)

/* A bump allocator: the first block lives inside the struct (no malloc on
 * the hot path), further blocks come from es_malloc and go on reset. */
struct es__arena_blk {
    struct es__arena_blk *next;
    size_t used, size;
    char data[];
};
struct es__arena {
    struct es__arena_blk *extra;
    size_t used;
    char first[8192];
};
void es__arena_init(struct es__arena *a);
void es__arena_reset(struct es__arena *a);
void *es__arena_alloc(struct es__arena *a, size_t n);
char *es__arena_strndup(struct es__arena *a, const char *s, size_t n);
char *es__arena_printf(struct es__arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct es__feed_ctx {
    const struct es_feed_opts *opts;
    es_post_cb *on_post;
    es_diag_cb *on_diag;
    void *ud;
    int n_posts;
    int nomem; /* an allocation failed: the call returns ES_ENOMEM */
    struct es__arena arena;
};

/* es__feed_diag reports a problem at opts->source:opts->line; msg is printf-style. */
void es__feed_diag(struct es__feed_ctx *c, enum es_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* es__post_init: a zeroed post with the "unknown" values the contract asks for. */
void es__post_init(struct es_post *p, enum es_platform platform);
/* es__twitter_url sets p->url to the tweet's permalink (in the arena). */
void es__twitter_url(struct es__feed_ctx *c, struct es_post *p);

/* es__feed_emit checks id/text, applies the text cap, calls on_post and resets the
 * arena. `where` names the record for diagnostics ("data[3]"). */
void es__feed_emit(struct es__feed_ctx *c, struct es_post *p, const char *where);

/* Borrowed string of obj[key], or NULL when absent or not a string. */
const char *es__jstr(const json_t *obj, const char *key);
/* An id: a string as is (borrowed), an integer (or an integral real) printed into the
 * arena. NULL when absent/null; sets *bad when present with another type. */
const char *es__jid(struct es__feed_ctx *c, const json_t *v, int *bad);
/* es__jint: integer or integral real or digit string into *out; 0 or -1. */
int es__jint(const json_t *v, int64_t *out);
/* es__jdouble: number into *out; 0 or -1. */
int es__jdouble(const json_t *v, double *out);
/* es__set_lang copies a language tag into p->lang ("" when too long). */
void es__set_lang(struct es_post *p, const char *lang);
/* es__set_point validates and sets the point; -1 when out of range. */
int es__set_point(struct es_post *p, double lat, double lon);
/* es__decode_entities returns s with HTML character references decoded (Twitter
 * escapes & < >), in the arena, or s itself when it has none. */
const char *es__decode_entities(struct es__feed_ctx *c, const char *s, size_t *len);
/* es__has_cjk: whether the text holds a CJK character (for the "zh" language guess). */
int es__has_cjk(const char *s, size_t n);
/* FNV-1a, for ids synthesised from content. */
uint32_t es__fnv1a(const char *s, size_t n, uint32_t h);

/* The adapters: each walks an already parsed tree. */
void es__twitter_v2_parse(struct es__feed_ctx *c, const json_t *root);
void es__twitter_v1_parse(struct es__feed_ctx *c, const json_t *root);
void es__weibo_parse(struct es__feed_ctx *c, const json_t *root);
void es__wechat_json_parse(struct es__feed_ctx *c, const json_t *root);
void es__generic_parse(struct es__feed_ctx *c, const json_t *root);
int es__wechat_xml_parse(struct es__feed_ctx *c, const char *buf, size_t len);
enum es_format es__feed_detect_json(const json_t *root);

/* Page meta (page.c): es__page_meta_post folds one delivered post into the meta (count,
 * newest/oldest id, newest created_at); es__page_meta_doc reads the platform's paging
 * fields from the document once the adapter is done. */
void es__page_meta_post(struct es_page_meta *m, const struct es_post *p);
void es__page_meta_doc(struct es_page_meta *m, enum es_format f, const json_t *root);

/* WeChat message fields, shared by the XML push and its JSON twin. NULL = absent. */
struct es__wx_msg {
    const char *to, *from, *create_time, *msg_type, *content, *msg_id;
    const char *loc_x, *loc_y, *label, *title, *description, *url, *recognition;
};
void es__wechat_msg_emit(struct es__feed_ctx *c, const struct es__wx_msg *m, const char *where);

#endif
