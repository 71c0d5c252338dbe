/* Private to the alert module: Redis access, rendering, the two worker threads. */
#ifndef ES_ALERT_INTERNAL_H
#define ES_ALERT_INTERNAL_H

#include <stdatomic.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>

#include "earshot/alert.h"
#include "earshot/buf.h"

/* Redis keys (docs/redis.md). */
#define ES__ALERT_K_SUB "es:alert:sub:"  /* + id: the subscription (JSON string) */
#define ES__ALERT_K_SUBS "es:alert:subs" /* set of ids */
#define ES__ALERT_K_SUBS_VER "es:alert:subs:ver"
#define ES__ALERT_K_OUT "es:alert:out"      /* delivery stream, group "senders" */
#define ES__ALERT_K_TRIES "es:alert:tries"  /* hash: delivery entry id -> failed attempts */
#define ES__ALERT_K_DEAD "es:alert:dead"    /* list of JSON, capped */
#define ES__ALERT_K_DIG "es:alert:dig:"     /* + sub id: digest counts; + ":top" the top posts */
#define ES__ALERT_K_CHURN "es:alert:churn:" /* + platform:author: one churn alert per window */
#define ES__ALERT_K_SPIKE "es:alert:spike:" /* + series:start minute: one alert per spike */
#define ES__ALERT_EVENTS "es:events"
#define ES__ALERT_G_EVENTS "alerts"
#define ES__ALERT_G_OUT "senders"
#define ES__ALERT_DEAD_CAP "9999"
#define ES__ALERT_OUT_MAXLEN "1000000"

/* ---- a synchronous hiredis connection from a URL (the worker threads own theirs) ---- */

struct es__alert_adb {
    redisContext *c;
    char sock[1024];
    char host[256];
    int port;
    int timeout_ms;
};
/* es__alert_adb_url: the URL of opts (redis_url, $EARSHOT_REDIS_URL, embedded socket). */
void es__alert_adb_url(const struct es_alert_opts *o, char *out, size_t n);
int es__alert_adb_open(struct es__alert_adb *db, const char *url, int timeout_ms,
                       struct es_diag *d);
void es__alert_adb_close(struct es__alert_adb *db);
/* es__alert_adb_cmd: a command, reconnecting once; NULL when Redis cannot be reached. */
redisReply *es__alert_adb_cmd(struct es__alert_adb *db, int argc, const char **argv,
                              const size_t *lens);
/* es__alert_adb_pipe: n commands in one round trip; 0 or ES_EIO (every reply NULL). */
int es__alert_adb_pipe(struct es__alert_adb *db, int n, const int *argc, const char ***argv,
                       const size_t **lens, redisReply **rep);

/* ---- crypto helpers (OpenSSL libcrypto) ---- */

/* es__alert_hmac_sha256: 32 bytes into out. */
int es__alert_hmac_sha256(const void *key, size_t kn, const void *msg, size_t mn,
                          unsigned char *out);
void es__alert_hex(const unsigned char *p, size_t n, char *out); /* out: 2n + 1 */
/* es__alert_b64: base64 of p into out (4 * ceil(n / 3) + 1 bytes). */
void es__alert_b64(const unsigned char *p, size_t n, char *out);
/* es__alert_urlenc appends the percent-encoding of s (RFC 3986 unreserved kept). */
int es__alert_urlenc(struct es_buf *b, const char *s);
/* es__alert_idem_key: hex of SHA-256 over the parts (NUL-separated), 32 hex chars + NUL. */
void es__alert_idem_key(char out[33], const char *a, const char *b, const char *c);

/* ---- rendering: one delivery into an HTTP request or an email ---- */

enum es__alert_ch {
    ES__ALERT_CH_WEBHOOK,
    ES__ALERT_CH_SLACK,
    ES__ALERT_CH_DINGTALK,
    ES__ALERT_CH_WECOM,
    ES__ALERT_CH_FEISHU,
    ES__ALERT_CH_EMAIL,
    ES__ALERT_CH_N
};
/* es__alert_ch_parse: the channel type by name, or -1. */
int es__alert_ch_parse(const char *name);
const char *es__alert_ch_name(int ch);

struct es__alert_msg {
    char *url;                /* es_malloc'ed; DingTalk gets &timestamp=&sign= appended */
    struct curl_slist *hdr;   /* curl_slist_free_all */
    struct es_buf body;       /* JSON for HTTP channels, the RFC 5322 message for email */
    struct curl_slist *rcpt;  /* email recipients */
    char *from;               /* email envelope sender */
};
/*
 * es__alert_render builds the request of one delivery: channel (type, url, secret, to, from),
 * alert (the alert object), lang ("zh"/"en"), idempotency key and the signing time
 * (ms since the epoch). 0, ES_EINVAL (channel unusable), ES_ENOMEM, ES_ELIMIT.
 * es__alert_msg_cleanup frees m (zeroed or filled).
 */
int es__alert_render(json_t *channel, json_t *alert, const char *lang, const char *key,
                     int64_t now_ms, struct es__alert_msg *m);
void es__alert_msg_cleanup(struct es__alert_msg *m);
/* es__alert_text: the human text of an alert (title, then lines) in lang, for the bots. */
int es__alert_text(json_t *alert, const char *lang, bool markdown, struct es_buf *title,
                   struct es_buf *body);

/* ---- the SSRF check at connect time: CURLOPT_OPENSOCKETFUNCTION ---- */

struct es__alert_guard {
    const struct es_net_allow *allow;
    char why[256];            /* set when a connection was refused */
    atomic_uint_fast64_t *refused;
};
/* es__alert_guard_setup sets CURLOPT_OPENSOCKETFUNCTION/DATA, protocols, no proxy, no redirects. */
void es__alert_guard_setup(CURL *e, struct es__alert_guard *g, bool email);

/*
 * es__alert_tls_setup sets how a channel's connection is secured. Certificates are always
 * verified (peer and host name). Without "tls_ca" they are checked against the system's CAs
 * and email uses STARTTLS when the server offers it (else plain text, as MTAs do); with
 * "tls_ca" (PEM text in the channel) only that CA is trusted and email requires TLS, so a
 * server that does not offer STARTTLS (or a downgrade) gets nothing. Email and channels with
 * "tls_ca" never reuse a connection another channel opened. 0 or ES_ENOMEM.
 */
int es__alert_tls_setup(CURL *e, json_t *channel, bool email);
/* es__alert_pem_certs: how many PEM certificates s holds (0: none, or malformed). */
int es__alert_pem_certs(const char *s, size_t n);

/* ---- the worker ---- */

struct es_alerter {
    struct es_alert_opts o;
    char url[1200];
    char consumer[128];
    struct es_net_allow allow;
    atomic_int stop;
    atomic_uint_fast64_t n_events, n_alerts, n_delivered, n_failed, n_dead, n_refused;
    struct es__alert_matcher *m;
    struct es__alert_sender *s;
};

int64_t es__alert_now_ms(const struct es_alert_opts *o);
int es__alert_matcher_start(struct es_alerter *a, struct es_diag *d);
void es__alert_matcher_stop(struct es_alerter *a);
int es__alert_sender_start(struct es_alerter *a, struct es_diag *d);
void es__alert_sender_stop(struct es_alerter *a);

#endif
