/*
 * feed: the normalised post and the adapters that turn platform payloads
 * into posts.
 *
 *   payload bytes --es_feed_parse()--> adapter (by shape) --> struct es_post
 *                                          |                    (callback,
 *                                          +--> struct es_diag   one per post)
 *                                               (callback, one per bad record)
 *
 * One page can carry many posts (a Twitter v2 search page, a Weibo
 * getIndex response), so adapters report posts through a callback. A bad
 * record inside a page is reported through the diag callback and the
 * adapter goes on with the next record: nothing good is dropped because a
 * neighbour was malformed.
 *
 * Memory: a post handed to the callback is borrowed. Its strings live in the
 * parser's arena and die when the callback returns; use es_post_copy() to
 * keep one.
 *
 * What counts as a post (details at the top of each src/feed/<shape>.c):
 *   twitter-v2   every element of "data" with text (note_tweet.text preferred);
 *                users, lists, counts buckets and DM events give no post
 *   twitter-v1   statuses; a retweet is delivered as itself, its
 *                retweeted_status is not delivered separately
 *   weibo        every mblog/status (cards, card_group, data.list, statuses);
 *                retweeted_status is not delivered separately; profile
 *                (userInfo) responses give no post and no error
 *   wechat-xml   text, location, link, and voice with Recognition; events,
 *                images, videos give no post and no error
 *   wechat-json  customer-service records with opercode 2001/2003 (the
 *                customer's; 2002 is the agent's), JSON push messages, and
 *                {"touser","msgtype":"text"} message objects
 *   generic      {"id","text",...} objects, one per document or an array
 * A document "not understood" (ES_EPARSE) is one that is not JSON/XML, or,
 * with ES_FORMAT_AUTO, whose shape is unknown. Well-formed responses that
 * simply hold no posts return 0.
 *
 * Bad input: a record that cannot become a post (no id, no text, wrong type)
 * is skipped with an ES_DIAG_ERROR naming opts->source, opts->line and the
 * field ("data[3].text: not a string"); a bad optional field (date, point,
 * follower count) gives an ES_DIAG_WARNING and the post is delivered without
 * it. Invalid UTF-8 in a document is replaced by U+FFFD (one warning per
 * document) before parsing, so one bad byte does not lose a page. Text
 * longer than 64 KiB is cut at a character boundary, with a warning.
 */
#ifndef ES_FEED_H
#define ES_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot/err.h"

enum es_platform {
    ES_PLATFORM_UNKNOWN = 0,
    ES_PLATFORM_TWITTER,
    ES_PLATFORM_WEIBO,
    ES_PLATFORM_WECHAT,
    ES_PLATFORM_GENERIC
};
const char *es_platform_name(enum es_platform p);   /* "twitter", "weibo", ... */
enum es_platform es_platform_from_name(const char *s);

/* Payload shapes. ES_FORMAT_AUTO detects per document. */
enum es_format {
    ES_FORMAT_AUTO = 0,
    ES_FORMAT_TWITTER_V2,   /* {"data":[...]|{...}, "includes":{users,places,tweets}} */
    ES_FORMAT_TWITTER_V1,   /* a status, an array of statuses, {"statuses":[...]} */
    ES_FORMAT_WEIBO,        /* m.weibo.cn getIndex cards/mblog; weibo.com ajax statuses */
    ES_FORMAT_WECHAT_XML,   /* official-account push message <xml>...</xml> */
    ES_FORMAT_WECHAT_JSON,  /* customer-service records, message JSON shapes */
    ES_FORMAT_GENERIC       /* {"id","text", optional fields} (also our own export) */
};
const char *es_format_name(enum es_format f);       /* "twitter-v2", "weibo", ... */
/* es_format_from_name: "auto", "twitter-v2", "twitter-v1", "weibo", "wechat-xml",
 * "wechat-json", "generic"; -1 when unknown. */
int es_format_from_name(const char *s);

#define ES_POST_MAX_MENTIONS 32

struct es_post {
    const char *id;                 /* never NULL in a delivered post */
    enum es_platform platform;
    struct {
        const char *id;             /* NULL when unknown */
        const char *name;           /* display name */
        const char *handle;         /* screen name / username, without '@' */
        int64_t followers;          /* -1 when unknown */
        bool verified;
    } author;
    const char *text;               /* never NULL; UTF-8, HTML stripped for Weibo */
    size_t text_len;
    int64_t created_at;             /* seconds since epoch, UTC; 0 when unknown */
    char lang[16];                  /* "zh", "zh-Hant", "en", "" when unknown */
    bool has_point;
    double lat, lon;                /* WGS84, when has_point */
    const char *place_id;           /* NULL when none */
    const char *place_name;         /* "Xidan, Beijing"; NULL when none */
    const char *country_code;       /* NULL when none */
    const char *reply_to;           /* id of the post this answers, or NULL */
    const char *thread_root;        /* conversation root id; the post's own id when it starts one;
                                       NULL when the payload does not say (a v1.1 reply) */
    const char *mentions[ES_POST_MAX_MENTIONS]; /* handles without '@' */
    size_t n_mentions;
    const char *url;                /* permalink, or NULL */
};

/* Options for one parse call. */
struct es_feed_opts {
    enum es_format format;          /* ES_FORMAT_AUTO to detect */
    const char *source;             /* file or source name for diagnostics */
    long line;                      /* line number of this document in `source`, or 0 */
    int64_t ref_time;               /* "now" for relative times ("6小时前"); 0 = wall clock */
    int tz_offset_s;                /* offset for zone-less local times (Weibo: +8h = 28800) */
};

typedef void es_post_cb(void *ud, const struct es_post *post);
typedef void es_diag_cb(void *ud, const struct es_diag *d);

/*
 * es_feed_parse parses one document (one JSON value, or one <xml> message)
 * of `len` bytes (not necessarily NUL-terminated) and calls `on_post` for
 * each post in it and `on_diag` for each record it had to skip.
 * Returns the number of posts delivered (>= 0), or ES_EPARSE when the
 * document as a whole is not understood (on_diag is called with where), or
 * ES_ENOMEM. on_diag may be NULL.
 */
int es_feed_parse(const char *buf, size_t len, const struct es_feed_opts *opts,
                  es_post_cb *on_post, es_diag_cb *on_diag, void *ud);

/*
 * What a page says about paging, for the crawler's cursors. Ids are the
 * platform's ids as strings; "" when absent.
 */
struct es_page_meta {
    char newest_id[64];   /* newest post id on the page (Twitter meta.newest_id, or computed) */
    char oldest_id[64];
    char next_token[256]; /* the next (older) page: Twitter v2 meta.next_token, v1.1 max_id of
                             search_metadata.next_results, Weibo cardlistInfo.since_id,
                             WeChat msgid; "" when there is no next page */
    int count;            /* posts delivered from the page */
    int records;          /* records the page held as the platform counts them (WeChat
                             "number", which includes the agent's own records); else count */
    int64_t newest_created_at; /* seconds; the newest created_at among the posts, 0 if none */
};

/* es_post_id_cmp orders platform ids (-1, 0, 1): decimal ids by value, others bytewise. */
int es_post_id_cmp(const char *a, const char *b);

/* es_feed_parse_page: es_feed_parse that also fills *meta (zeroed first). */
int es_feed_parse_page(const char *buf, size_t len, const struct es_feed_opts *opts,
                       es_post_cb *on_post, es_diag_cb *on_diag, void *ud,
                       struct es_page_meta *meta);

/* es_feed_detect returns the shape of the document, or ES_FORMAT_AUTO when unknown. */
enum es_format es_feed_detect(const char *buf, size_t len);

/*
 * es_post_copy deep-copies a borrowed post into one heap block; free it
 * with es_post_free (accepts NULL). NULL on ES_ENOMEM.
 */
struct es_post *es_post_copy(const struct es_post *p);
void es_post_free(struct es_post *p);

/*
 * es_weibo_parse_time parses Weibo's created_at: "刚刚", "5分钟前",
 * "6小时前", "昨天 12:00", "今天 08:01", "05-20" (this year), "2019-05-20",
 * "Tue May 19 10:00:00 +0800 2020", against ref (seconds, UTC) with the
 * given local offset. 0 or ES_EPARSE.
 */
int es_weibo_parse_time(const char *s, int64_t ref, int tz_offset_s, int64_t *out);

/*
 * es_html_strip writes the text content of an HTML fragment (Weibo's mblog
 * text): tags dropped, <br> as newline, <img alt="[emoji]"> as its alt
 * text, entities decoded. Returns the length written into out (out has room
 * for len + 1 bytes; the result is never longer than the input).
 */
size_t es_html_strip(const char *in, size_t len, char *out);

/*
 * CSV: a file of posts with a header row. es_csv_reader reads records with
 * RFC 4180 quoting (CR, LF or CRLF record ends) and hands each as a post
 * with the columns mapped by header name: id (or tweet_id), text (or the
 * column named by text_column), created_at, author / author_id, lang,
 * platform, lat/lon (or tweet_coord "[lat, lon]"), reply_to /
 * in_response_to_tweet_id. A record without text is reported and skipped.
 * Lines count records from 1 at the header.
 *
 * Additions: a tweet_id in scientific notation (Excel-damaged, "5.70306E+17")
 * is not an id; "_unit_id" (CrowdFlower exports) is used instead when the
 * file has it, else the record number. A record-number id is the record's
 * line as counted above (the first data record is "2"). The header's line
 * end picks the record ends: LF/CRLF headers make LF the only record end
 * (a raw CR inside a field is data), a lone-CR header makes CR and LF both
 * end records. Bytes that are not valid UTF-8 are decoded as Windows-1252.
 * Columns also read: author_id, name, handle/screen_name/username,
 * followers(_count), tweet_created (also "2/24/15 11:35" as UTC),
 * thread_root, url.
 */
struct es_csv_opts {
    const char *source;
    const char *text_column;        /* NULL: "text", then "review", then "content" */
    const char *id_column;          /* NULL: "id", then "tweet_id"; the record number when absent */
    size_t max_record;              /* cap on one record's bytes (hostile input); 0 = 1 MiB */
};
/*
 * A push parser: feed it bytes in chunks of any size, then finish. Posts are
 * delivered from inside es_csv_feed / es_csv_finish. Returns 0 or ES_ENOMEM;
 * bad records go to on_diag and are skipped.
 */
struct es_csv;
struct es_csv *es_csv_new(const struct es_csv_opts *opts, es_post_cb *on_post,
                          es_diag_cb *on_diag, void *ud);
int es_csv_feed(struct es_csv *c, const char *buf, size_t len);
int es_csv_finish(struct es_csv *c);
void es_csv_free(struct es_csv *c);

#endif
