/*
 * es-mock-platform: a stand-in for Twitter, Weibo and WeChat on loopback.
 *
 *   generator (gen.c) --publish--> ring of slots (seq 1, 2, ...)
 *        timer, --rate/s              |  one slot per published post:
 *        or --replay lines            |  time, platform, author, geo, reply
 *                                     v
 *   TCP/HTTP (server.c) --> routes (routes.c) --> feeds (feeds.c) render the
 *        libuv, http-parser     |                  ring in each platform's
 *        faults on the wire     |                  real response shape
 *                               +--> replies, DMs: recorded with idempotency,
 *                                    bookkeeping under /_mock/
 *
 * A post's content is a pure function of (seed, seq, slot): only the small
 * slot is stored, text is regenerated when a page is rendered, so a ring of
 * a million posts costs 32 MB. Ids are per-platform bases plus seq, so they
 * grow with publish order and every cursor is a seq in disguise.
 */
#ifndef ES_MOCK_H
#define ES_MOCK_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "earshot/buf.h"

enum mock_platform { MOCK_TWITTER = 0, MOCK_WEIBO = 1, MOCK_WECHAT = 2, MOCK_NPLATFORMS = 3 };

/* Id bases: a post's platform id is base + seq (Twitter ids look like
 * snowflakes, Weibo ids have 16 digits like the real ones). */
#define MOCK_TWITTER_ID_BASE 1800000000000000000ull
#define MOCK_WEIBO_ID_BASE 4900000000000000ull
#define MOCK_WECHAT_ID_BASE 7000000000000000ull

/* Generated authors: even indexes write Chinese, odd ones English. */
#define MOCK_NAUTH 4000u

enum mock_kind { MOCK_K_COMPLAINT = 0, MOCK_K_INDIRECT, MOCK_K_PRAISE, MOCK_K_NEUTRAL };

#define MOCK_F_ZH 0x01      /* Chinese text */
#define MOCK_F_TRAD 0x02    /* traditional characters */
#define MOCK_F_RELTIME 0x04 /* Weibo shows a relative created_at ("5分钟前") */

/* One published post. Generated posts keep only this; replayed posts point
 * at their line with `src`. */
struct mock_slot {
    int64_t published_ms; /* = created_at */
    uint32_t author;      /* author index (generated) */
    uint32_t parent;      /* seq distance to the replied-to post; 0: not a reply */
    uint32_t src;         /* replay line index + 1; 0: generated */
    uint32_t prev_author; /* seq distance to the author's previous post; 0: none */
    uint8_t platform;
    uint8_t place; /* fixed place index + 1; 0: no geo (replay geo: 255) */
    uint8_t kind;
    uint8_t flags;
};

struct mock_place {
    const char *zh, *en;   /* how a post names it */
    const char *name;      /* Twitter place "name" */
    const char *full_name; /* Twitter "full_name" / Weibo region_name */
    const char *label;     /* WeChat location Label */
    const char *country_code;
    const char *place_id; /* 16 hex digits, like Twitter's */
    double lat, lon;
};
extern const struct mock_place mock_places[];
extern const size_t mock_nplaces;

struct mock_author {
    char id[32]; /* platform user id (Twitter/Weibo digits, WeChat openid) */
    char name[96];
    char screen_name[96];
    long followers;
    int verified;
};

#define MOCK_MAX_MENTIONS 4
struct mock_mention {
    size_t start, end; /* code points, as Twitter counts */
    char username[96];
    char id[32];
};

/* A post ready to render. Strings point into the post itself or into the
 * scratch buffer given to mock_post_load; they live until the next load. */
struct mock_post {
    uint64_t seq;
    enum mock_platform platform;
    char id[24];
    int64_t created_ms;
    const char *text;
    size_t text_len;
    char lang[8];
    int has_geo;
    double lat, lon;
    const struct mock_place *place; /* NULL for a bare replayed point */
    uint64_t reply_to_seq;          /* 0: not a reply */
    char reply_to_id[24];
    char reply_to_author_id[32];
    char conversation_id[24];
    struct mock_author author;
    size_t nmentions;
    struct mock_mention mentions[MOCK_MAX_MENTIONS];
    int rel_time; /* Weibo relative created_at wanted */
};

/* A line of a --replay file, kept for the whole run. */
struct mock_replay_post {
    char *text;
    char *lang;
    struct mock_author author;
    int has_geo;
    double lat, lon;
    int platform; /* -1: assign by seq */
};

enum mock_fault {
    MOCK_FAULT_NONE = 0,
    MOCK_FAULT_5XX,
    MOCK_FAULT_429,
    MOCK_FAULT_STALL,
    MOCK_FAULT_SLOW,
    MOCK_FAULT_TRUNCATED,
    MOCK_FAULT_INVALID_JSON,
    MOCK_FAULT_INVALID_UTF8,
    MOCK_FAULT_HUGE,
    MOCK_FAULT_WRONG_CT,
    MOCK_FAULT_RESET,
    MOCK_NFAULTS
};
const char *mock_fault_name(int kind);
int mock_fault_from_name(const char *s); /* -1 when unknown */

struct mock_fault_rule {
    struct mock_fault_rule *next;
    char *path_prefix;
    int kind;
    long remaining;
    long retry_after_s;
    long chunk_bytes; /* slow: bytes per 100 ms tick */
};

/* A recorded reply or DM. */
struct mock_posted {
    uint64_t seq;
    const char *endpoint; /* static route name */
    char *key;            /* Idempotency-Key or NULL */
    char *in_reply_to;
    char *to;
    char *text;
    char *platform_id;
    int64_t received_ms;
    int status; /* the response, replayed for a repeated key */
    char *resp_body;
};

enum mock_route_kind { MOCK_R_HEALTH, MOCK_R_FEED, MOCK_R_WRITE, MOCK_R_CONTROL };

struct mock_stats {
    uint64_t requests;
    uint64_t not_found;
    uint64_t bad_requests; /* 400, 405, 413, 431 */
    uint64_t not_modified;
    uint64_t posts_generated;
    uint64_t faults[MOCK_NFAULTS];
    uint64_t faults_total;
    uint64_t conns_total;
    uint64_t duplicates_dropped;
    uint64_t posted_dropped; /* over --max-posted */
};

struct mock_conn;
struct mock_text_cache;

struct mock {
    uv_loop_t *loop;
    /* options */
    char host[64];
    int port;
    double rate;
    uint64_t seed;
    const char *replay_path;
    uint64_t max_posts; /* 0: unlimited */
    double duration_s;  /* 0: run until a signal */
    double fault_rate;
    unsigned fault_kinds_mask; /* kinds --fault-rate may pick */
    unsigned platforms_mask;
    uint64_t ring_cap;
    uint32_t nauth; /* generated authors in use (<= MOCK_NAUTH) */
    uint64_t prefill;
    size_t max_posted;
    int quiet;
    /* handles */
    uv_tcp_t listener;
    uv_timer_t gen_timer;
    uv_timer_t stop_timer;
    uv_signal_t sigterm, sigint;
    int stopping;
    /* published posts */
    struct mock_slot *ring;
    uint64_t head; /* newest seq; 0 before the first */
    uint64_t gen_start_ms;
    int64_t last_ms;
    double gen_carry;
    uint64_t roots[MOCK_NPLATFORMS][32]; /* recent non-reply seqs, for replies */
    unsigned nroots[MOCK_NPLATFORMS];
    uint64_t author_last[MOCK_NAUTH]; /* newest seq per generated author: the chain's head */
    struct mock_replay_post *replay;
    size_t nreplay;
    struct mock_text_cache *text_cache; /* gen.c */
    /* connections */
    struct mock_conn *conns;
    uint64_t nconns;
    /* faults */
    struct mock_fault_rule *faults;
    uint64_t fault_rng;
    /* posted replies and DMs */
    struct mock_posted *posted;
    size_t nposted, posted_alloc;
    uint64_t posted_seq;
    size_t *idem; /* open addressing: index + 1 into posted, 0 empty */
    size_t idem_cap;
    uint64_t next_write_id;
    /* weibo.com page snapshots: uid -> newest seq when page 1 was read */
    uint64_t snap_uid[256], snap_head[256];
    struct mock_stats stats;
    uint64_t *route_hits;
    char date_hdr[64];
    int64_t date_sec;
};

/* ---- requests and responses (server.c calls routes.c) ---- */

struct mock_req {
    int method;
    char *path;  /* NUL-terminated, no query */
    char *query; /* after '?', "" when none */
    const char *body;
    size_t body_len;
    const char *idem_key; /* NULL when absent */
    const char *if_none_match;
    const char *if_modified_since;
    const char *param; /* the '*' segment of the route, NUL-terminated */
    int64_t now_ms;
};

struct mock_resp {
    int status;
    const char *content_type;
    struct es_buf body;
    struct es_buf headers; /* extra "Name: value\r\n" lines */
    int64_t last_modified_ms;
    int etag;         /* send an ETag of the body, honour If-None-Match */
    int text_fault;   /* MOCK_FAULT_INVALID_UTF8 / _HUGE: put into the first text */
    int text_applied; /* set by mock_json_text when it did */
    int close;
};

/* server.c */
int mock_server_start(struct mock *m);
void mock_server_stop(struct mock *m);
int64_t mock_now_ms(void);
void mock_resp_init(struct mock_resp *rs);
void mock_resp_cleanup(struct mock_resp *rs);

/* routes.c: dispatch one parsed request; fills the response and tells the
 * server which wire-level fault (if any) to use when sending it. */
int mock_dispatch(struct mock *m, struct mock_req *rq, struct mock_resp *rs, long *retry_after_s,
                  long *chunk_bytes);
size_t mock_route_count(void);
void mock_routes_cleanup(struct mock *m);

/* feeds.c */
void mock_feed_twitter_search(struct mock *m, struct mock_req *rq, struct mock_resp *rs);
void mock_feed_twitter_user(struct mock *m, struct mock_req *rq, struct mock_resp *rs);
void mock_feed_twitter_v1_search(struct mock *m, struct mock_req *rq, struct mock_resp *rs);
void mock_feed_weibo_getindex(struct mock *m, struct mock_req *rq, struct mock_resp *rs);
void mock_feed_weibo_mymblog(struct mock *m, struct mock_req *rq, struct mock_resp *rs);
void mock_feed_wechat_msglist(struct mock *m, struct mock_req *rq, struct mock_resp *rs);
void mock_feed_wechat_push(struct mock *m, struct mock_req *rq, struct mock_resp *rs);

/* gen.c */
int mock_gen_start(struct mock *m);
void mock_gen_publish(struct mock *m, uint64_t n, int64_t now_ms);
int mock_replay_load(struct mock *m, const char *path);
void mock_gen_cleanup(struct mock *m);
uint64_t mock_oldest_seq(const struct mock *m);
const struct mock_slot *mock_slot_get(const struct mock *m, uint64_t seq);
/* mock_author_from_screen_name: the generated author with this screen name (any case)
 * on pf, or -1. */
long mock_author_from_screen_name(const struct mock *m, enum mock_platform pf, const char *name);
/* mock_post_load fills p for seq; 0, or -1 when seq is not in the ring. */
int mock_post_load(const struct mock *m, uint64_t seq, struct mock_post *p, struct es_buf *scratch);
void mock_author_get(const struct mock *m, uint32_t idx, enum mock_platform pf,
                     struct mock_author *a);
/* mock_post_text: only the text (cheaper than a load); -1 when seq is gone. */
int mock_post_text(const struct mock *m, uint64_t seq, const char **text, size_t *len,
                   struct es_buf *scratch);
/* mock_post_geo: the point of a geo-tagged slot. */
void mock_post_geo(const struct mock *m, uint64_t seq, const struct mock_slot *s, double *lat,
                   double *lon);
uint64_t mock_post_id_num(enum mock_platform pf, uint64_t seq);
/* mock_seq_from_id: the seq for a platform id (0 when below the base). */
uint64_t mock_seq_from_id(enum mock_platform pf, uint64_t id);
/* the author index behind a platform user id; -1 when it is none of ours */
long mock_author_from_id(enum mock_platform pf, const char *id);
/* huge fault: a 1 MiB text */
const char *mock_huge_text(size_t *len);

/* util.c */
uint64_t mock_hash64(uint64_t x);
uint64_t mock_rng_next(uint64_t *state);
double mock_rng_unit(uint64_t *state);
int mock_json_str(struct es_buf *b, const char *s, size_t n);
/* mock_json_esc: the escaped body of a JSON string, without quotes. */
int mock_json_esc(struct es_buf *b, const char *s, size_t n);
/* mock_json_text_esc: the same for a post text, where the text fault goes. */
int mock_json_text_esc(struct mock_resp *rs, const char *s, size_t n);
/* mock_json_text: a post text, where the response's text fault goes. */
int mock_json_text(struct mock_resp *rs, const char *s, size_t n);
/* mock_query_get: the URL-decoded value of `name` in a query or form body,
 * into out (NUL-terminated, cut at n - 1); 1 when present, 0 when not. */
int mock_query_get(const char *q, size_t qlen, const char *name, char *out, size_t n);
int mock_url_decode(const char *s, size_t n, char *out, size_t outn);
void mock_fmt_iso_ms(int64_t ms, char *out);               /* 2024-05-01T10:00:00.123Z, 32 bytes */
void mock_fmt_twitter(int64_t sec, int tz_min, char *out); /* Wed Oct 10 20:19:24 +0000 2018 */
void mock_fmt_http(int64_t sec, char *out);                /* Wed, 21 Oct 2015 07:28:00 GMT */
int mock_parse_http_date(const char *s, int64_t *out);
double mock_distance_km(double lat1, double lon1, double lat2, double lon2);
int mock_parse_u64(const char *s, uint64_t *out);
int mock_ci_find(const char *hay, size_t n, const char *needle, size_t nn);

#endif
