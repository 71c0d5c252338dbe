/*
 * alert: tells brand managers about mentions, spikes and customers at risk,
 * on the channels they read (a signed generic webhook, Slack, DingTalk,
 * WeCom, Feishu/Lark robots, email over SMTP).
 *
 * Everything goes through Redis so that a crash loses nothing (docs/alerts.md):
 *
 *   es:events ──XREADGROUP "alerts"──> matcher thread ──XADD──> es:alert:out
 *   (one entry       subscriptions, spike detector,  (one entry per
 *    per mention)    churn check, digests            alert × channel,
 *                    XACK only after the XADDs        idempotency key)
 *                                                          │
 *                      XREADGROUP "senders" (own pending   │
 *                      first, XAUTOCLAIM of the idle)      v
 *                                         sender thread: libcurl multi on its own uv loop
 *                                           2xx / SMTP 250 ─> XACK
 *                                           failure ─> backoff, retry; after max_attempts
 *                                                      ─> es:alert:dead, XACK
 *
 * An entry is acknowledged only once the receiver accepted it, so a killed
 * earshot resends what was not acknowledged; the receiver drops duplicates by
 * the idempotency key (header X-Earshot-Idempotency-Key, body field
 * idempotency_key).
 *
 * Webhook URLs are checked against an SSRF policy (http/https only; no
 * loopback, private, link-local, metadata, multicast or unspecified address
 * unless allow-listed) when a subscription is stored and again at connect
 * time, so a name that later resolves elsewhere (DNS rebinding) is refused.
 */
#ifndef ES_ALERT_H
#define ES_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "earshot/err.h"

struct es_store;

/* ---- subscriptions (stored in Redis; docs/alerts.md has the schema) ---- */

/*
 * es_alert_sub_put validates a subscription object and stores it (a new one
 * when it has no "id", else replaces that id). The webhook URLs are checked
 * against the SSRF policy with the allow-list of $EARSHOT_ALERT_ALLOW
 * (comma-separated addresses or CIDRs; empty: none). id gets the id.
 * Returns 0; ES_EPARSE with d->msg naming the key path ("channels[1].url: ...");
 * ES_EIO; ES_ENOMEM. sub is borrowed.
 */
int es_alert_sub_put(struct es_store *s, json_t *sub, char *id, size_t n, struct es_diag *d);
/* es_alert_sub_put_allow: the same with an explicit allow-list (NULL or "": none). */
int es_alert_sub_put_allow(struct es_store *s, json_t *sub, const char *allow, char *id,
                           size_t n, struct es_diag *d);
/* es_alert_sub_list: every subscription as a JSON array (new reference, the caller
 * decrefs); secrets are masked ("abcd…"). 0 or ES_EIO. */
int es_alert_sub_list(struct es_store *s, json_t **out);
/* es_alert_sub_get: one subscription, secrets included (new reference). 0, ES_ENOTFOUND,
 * ES_EIO. */
int es_alert_sub_get(struct es_store *s, const char *id, json_t **out);
/* es_alert_sub_del: 0, ES_ENOTFOUND or ES_EIO. */
int es_alert_sub_del(struct es_store *s, const char *id);
/* es_alert_dead_list: the newest dead letters first (at most limit; 0 = 100), JSON array
 * of {key, sub, channel, target, type, attempts, reason, ms, alert} (new reference). */
int es_alert_dead_list(struct es_store *s, size_t limit, json_t **out);

/*
 * es_alert_sub_validate checks a subscription without storing it and returns
 * its normalised form (new reference; defaults filled in) in *out.
 * allow: as for es_alert_sub_put_allow. resolve: also resolve the webhook
 * host names (false only for tests and offline checks). 0 or ES_EPARSE.
 */
int es_alert_sub_validate(json_t *sub, const char *allow, bool resolve, json_t **out,
                          struct es_diag *d);

/* ---- the SSRF guard ---- */

/* Why an address is refused (ES_NET_OK: allowed). */
enum es_net_class {
    ES_NET_OK = 0,
    ES_NET_LOOPBACK,
    ES_NET_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, 100.64/10 (shared, Alibaba's metadata),
                           fc00::/7 */
    ES_NET_LINK_LOCAL,  /* 169.254/16 (cloud metadata 169.254.169.254), fe80::/10 */
    ES_NET_UNSPECIFIED, /* 0.0.0.0/8, :: */
    ES_NET_MULTICAST,   /* 224/4, ff00::/8 */
    ES_NET_RESERVED,    /* 240/4, broadcast, documentation and benchmarking ranges, fec0::/10 */
};
/* es_net_class_name: "loopback", "private", ... (static). */
const char *es_net_class_name(enum es_net_class c);

/* An allow-list of addresses and CIDR blocks ("127.0.0.1,::1,10.1.0.0/16"). */
#define ES_NET_ALLOW_MAX 32
struct es_net_allow {
    size_t n;
    struct {
        int family; /* AF_INET or AF_INET6 */
        unsigned char addr[16];
        int bits;
    } e[ES_NET_ALLOW_MAX];
};
/* es_net_allow_parse: 0 or ES_EPARSE (d says which item). NULL or "" gives an empty list. */
int es_net_allow_parse(const char *list, struct es_net_allow *a, struct es_diag *d);

/*
 * es_net_classify: what a socket address is (sa is a struct sockaddr_in or
 * sockaddr_in6). IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible, NAT64
 * (64:ff9b::/96) and 6to4 (2002::/16) addresses are judged by the IPv4
 * address they carry. An address on the allow-list is ES_NET_OK.
 */
enum es_net_class es_net_classify(const void *sa, const struct es_net_allow *allow);

/*
 * es_net_check_url checks a delivery URL: scheme (http/https; smtp/smtps when
 * email is true), a host, and every address the host resolves to (when
 * resolve is true; an IP literal is always checked). 0 or ES_EINVAL with
 * d->msg saying which address and why.
 */
int es_net_check_url(const char *url, bool email, const struct es_net_allow *allow, bool resolve,
                     struct es_diag *d);

/* ---- spike detection (pure: fed with counts per minute) ---- */

struct es_spike_opts {
    int window_min;       /* recent window (default 60) */
    int baseline_min;     /* baseline window before it (default 720 = 12 h) */
    double sensitivity;   /* 1.0 default; higher fires on smaller spikes: the ratio threshold
                             is 1 + 1 / sensitivity, the excess threshold the larger of
                             20 / sensitivity and 4 sqrt(expected) / sensitivity */
    double ewma_alpha;    /* per minute (default 0.005, a ~3 h memory) */
    double rearm_ratio;   /* re-arm when the rate falls below expected × this (default:
                             halfway between 1 and the firing ratio) */
    double min_excess;    /* explicit absolute excess threshold per window (0: from sensitivity) */
};

struct es_spike {
    struct es_spike_opts o;
    double *ring;         /* the last window_min + baseline_min minutes */
    size_t ring_n, pos, filled;
    double win_sum, base_sum;
    double ewma;          /* per-minute EWMA of counts */
    bool ewma_init;
    bool fired;           /* true from a spike until the rate falls back (hysteresis) */
    int64_t last_minute;  /* the minute index last fed */
};

/* What one fed minute says. */
struct es_spike_verdict {
    bool fire;            /* a new spike starts at this minute (once per spike) */
    double rate;          /* mentions in the recent window */
    double baseline;      /* expected mentions per window (max of the baseline mean and EWMA) */
    double ratio;
};

/* es_spike_init: opts may be NULL (defaults). 0 or ES_ENOMEM. es_spike_cleanup frees. */
int es_spike_init(struct es_spike *sp, const struct es_spike_opts *o);
void es_spike_cleanup(struct es_spike *sp);
/* es_spike_feed: the count of minute `minute` (minutes since the epoch, increasing; a gap
 * counts as zeros). */
void es_spike_feed(struct es_spike *sp, int64_t minute, double count, struct es_spike_verdict *v);

/* ---- the worker ---- */

typedef int64_t es_alert_now_fn(void *ud); /* wall clock in ms */

struct es_alert_opts {
    const char *redis_url;     /* as in es_store_opts; NULL = $EARSHOT_REDIS_URL, else the
                                  embedded server's socket in data_dir */
    const char *data_dir;      /* NULL = es_store_default_dir */
    const char *allow;         /* SSRF allow-list (addresses, CIDRs), NULL = none */
    const char *consumer;      /* consumer name in both groups; NULL = "<host>" (stable, so a
                                  restarted worker takes its own pending entries at once) */
    int max_attempts;          /* then dead-lettered (default 6) */
    int64_t retry_base_ms;     /* first backoff (default 1000), doubled per attempt */
    int64_t retry_max_ms;      /* backoff cap (default 300000) */
    int64_t reclaim_ms;        /* pending idle time before a peer's entry is taken (60000) */
    int64_t timeout_ms;        /* per request (default 10000) */
    int max_inflight;          /* concurrent deliveries (default 256) */
    int digest_interval_s;     /* default interval of digest subscriptions (3600) */
    struct es_spike_opts spike;/* spike detector settings */
    int spike_check_s;         /* how often the per-minute counts are read (default 60) */
    int64_t churn_window_ms;   /* default 30 days */
    es_alert_now_fn *now;      /* NULL: the wall clock (tests move time) */
    void *now_ud;
};

struct es_alerter;

/* Counters, for /metrics and the benchmark (read with es_alerter_stats). */
struct es_alerter_stats {
    uint64_t events, alerts, delivered, failed_attempts, dead, refused_ssrf;
};

/*
 * es_alerter_start starts the matcher and sender threads (the sender runs its
 * own uv loop). Returns 0 (the threads run until es_alerter_stop), ES_EINVAL
 * (bad options, d says which), ES_EIO, ES_ENOMEM.
 */
int es_alerter_start(const struct es_alert_opts *o, struct es_alerter **out, struct es_diag *d);
void es_alerter_stats(struct es_alerter *a, struct es_alerter_stats *st);
/* es_alerter_stop: stops reading, lets requests in flight finish (up to 5 s), joins the
 * threads and frees a. Unacknowledged entries stay pending for the next start. NULL ok. */
void es_alerter_stop(struct es_alerter *a);

/*
 * es_alert_send_test sends a test message to every channel of subscription
 * sub (as stored, secrets included), now and synchronously, with the same
 * formats, signatures and SSRF checks as the worker. report gets one line
 * per channel ("channels[0] webhook: 200"). 0 when every channel accepted it,
 * else ES_EIO.
 */
int es_alert_send_test(const struct es_alert_opts *o, json_t *sub, char *report, size_t n);

#endif
