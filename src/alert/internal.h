/* Private to the alert module: Redis access, rendering, the two worker threads. */
#ifndef ES_ALERT_INTERNAL_H
#define ES_ALERT_INTERNAL_H

#include <stdatomic.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>

#include "earshot/alert.h"
#include "earshot/buf.h"

/* Redis keys (docs/redis.md). */
#define ES__AK_SUB "es:alert:sub:"        /* + id: the subscription (JSON string) */
#define ES__AK_SUBS "es:alert:subs"       /* set of ids */
#define ES__AK_SUBS_VER "es:alert:subs:ver"
#define ES__AK_OUT "es:alert:out"         /* delivery stream, group "senders" */
#define ES__AK_TRIES "es:alert:tries"     /* hash: delivery entry id -> failed attempts */
#define ES__AK_DEAD "es:alert:dead"       /* list of JSON, capped */
#define ES__AK_DIG "es:alert:dig:"        /* + sub id: digest counts; + ":top" the top posts */
#define ES__AK_CHURN "es:alert:churn:"    /* + platform:author: one churn alert per window */
#define ES__AK_SPIKE "es:alert:spike:"    /* + series:start minute: one alert per spike */
#define ES__EVENTS "es:events"
#define ES__G_EVENTS "alerts"
#define ES__G_OUT "senders"
#define ES__DEAD_CAP "9999"
#define ES__OUT_MAXLEN "1000000"

/* ---- a synchronous hiredis connection from a URL (the worker threads own theirs) ---- */

struct es__adb {
    redisContext *c;
    char sock[1024];
    char host[256];
    int port;
    int timeout_ms;
};
/* es__adb_url: the URL of opts (redis_url, $EARSHOT_REDIS_URL, embedded socket). */
void es__adb_url(const struct es_alert_opts *o, char *out, size_t n);
int es__adb_open(struct es__adb *db, const char *url, int timeout_ms, struct es_diag *d);
void es__adb_close(struct es__adb *db);
/* es__adb_cmd: a command, reconnecting once; NULL when Redis cannot be reached. */
redisReply *es__adb_cmd(struct es__adb *db, int argc, const char **argv, const size_t *lens);
/* es__adb_pipe: n commands in one round trip; 0 or ES_EIO (every reply NULL). */
int es__adb_pipe(struct es__adb *db, int n, const int *argc, const char ***argv,
                 const size_t **lens, redisReply **rep);


/* ---- crypto helpers (OpenSSL libcrypto) ---- */

/* es__hmac_sha256: 32 bytes into out. */
int es__hmac_sha256(const void *key, size_t kn, const void *msg, size_t mn, unsigned char *out);
void es__hex(const unsigned char *p, size_t n, char *out); /* out: 2n + 1 */
/* es__b64: base64 of p into out (4 * ceil(n / 3) + 1 bytes). */
void es__b64(const unsigned char *p, size_t n, char *out);
/* es__urlenc appends the percent-encoding of s (RFC 3986 unreserved kept). */
int es__urlenc(struct es_buf *b, const char *s);
/* es__idem_key: hex of SHA-256 over the parts (NUL-separated), 32 hex chars + NUL. */
void es__idem_key(char out[33], const char *a, const char *b, const char *c);

/* ---- rendering: one delivery into an HTTP request or an email ---- */

enum es__ch { ES__CH_WEBHOOK, ES__CH_SLACK, ES__CH_DINGTALK, ES__CH_WECOM, ES__CH_FEISHU,
              ES__CH_EMAIL, ES__CH_N };
/* es__ch_parse: the channel type by name, or -1. */
int es__ch_parse(const char *name);
const char *es__ch_name(int ch);

struct es__msg {
    char *url;                /* es_malloc'ed; DingTalk gets &timestamp=&sign= appended */
    struct curl_slist *hdr;   /* curl_slist_free_all */
    struct es_buf body;       /* JSON for HTTP channels, the RFC 5322 message for email */
    struct curl_slist *rcpt;  /* email recipients */
    char *from;               /* email envelope sender */
};
/*
 * es__render builds the request of one delivery: channel (type, url, secret, to, from),
 * alert (the alert object), lang ("zh"/"en"), idempotency key and the signing time
 * (ms since the epoch). 0, ES_EINVAL (channel unusable), ES_ENOMEM, ES_ELIMIT.
 * es__msg_cleanup frees m (zeroed or filled).
 */
int es__render(json_t *channel, json_t *alert, const char *lang, const char *key, int64_t now_ms,
               struct es__msg *m);
void es__msg_cleanup(struct es__msg *m);
/* es__alert_text: the human text of an alert (title, then lines) in lang, for the bots. */
int es__alert_text(json_t *alert, const char *lang, bool markdown, struct es_buf *title,
                   struct es_buf *body);

/* ---- the SSRF check at connect time: CURLOPT_OPENSOCKETFUNCTION ---- */

struct es__guard {
    const struct es_net_allow *allow;
    char why[256];            /* set when a connection was refused */
    atomic_uint_fast64_t *refused;
};
/* es__guard_setup sets CURLOPT_OPENSOCKETFUNCTION/DATA, protocols, no proxy, no redirects. */
void es__guard_setup(CURL *e, struct es__guard *g, bool email);

/* ---- the worker ---- */

struct es_alerter {
    struct es_alert_opts o;
    char url[1200];
    char consumer[128];
    struct es_net_allow allow;
    atomic_int stop;
    atomic_uint_fast64_t n_events, n_alerts, n_delivered, n_failed, n_dead, n_refused;
    struct es__matcher *m;
    struct es__sender *s;
};

int64_t es__now_ms(const struct es_alert_opts *o);
int es__matcher_start(struct es_alerter *a, struct es_diag *d);
void es__matcher_stop(struct es_alerter *a);
int es__sender_start(struct es_alerter *a, struct es_diag *d);
void es__sender_stop(struct es_alerter *a);

#endif
