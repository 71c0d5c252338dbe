/*
 * The outbox worker: posts accepted replies and DMs through the platforms'
 * APIs, up to 32 at a time (one libcurl multi handle), with the entry's
 * idempotency key on every request so a retry after a crash never posts
 * twice on a platform that honours it.
 *
 *   XAUTOCLAIM (crashed peers' entries) + XREADGROUP ──> request per entry
 *     2xx                 -> outbox_done: platform id on the conversation, XACK
 *     429, 5xx, network   -> left pending with a backoff deadline (reclaim_ms
 *                            doubling per attempt, at most 10 min); taken again by
 *                            XAUTOCLAIM once idle and due
 *     other 4xx, no API   -> dead letter with the reason, XACK
 *     attempts exhausted  -> dead letter
 *
 * Request shapes (the platforms' documented APIs):
 *   twitter public  POST {twitter}/2/tweets  {"text", "reply":{"in_reply_to_tweet_id"}}
 *   twitter dm      POST {twitter}/2/dm_conversations/with/{user id}/messages {"text"}
 *   weibo public    POST {weibo}/2/comments/create.json  id=&comment= (form)
 *   weibo dm        POST {weibo}/2/direct_messages/new.json  uid=&text= (form)
 *   wechat          POST {wechat}/cgi-bin/message/custom/send?access_token=
 *                   {"touser","msgtype":"text","text":{"content"}}  (official accounts
 *                   have no public thread: both kinds are customer-service messages)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/clock.h"
#include "earshot/log.h"
#include "earshot/respond.h"

#define BATCH 32 /* entries in flight at once */
#define BODY_CAP (1u << 20)

struct req {
    struct es_outbox_entry e;
    CURL *h;
    struct curl_slist *hdr;
    char *body;
    struct es_buf resp;
    char err[CURL_ERROR_SIZE];
};

static const char *field(const struct es_outbox_entry *e, const char *k)
{
    const char *v = json_string_value(json_object_get(e->fields, k));
    return v ? v : "";
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct es_buf *b = ud;
    return es_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

static char *form_escape(CURL *h, const char *s)
{
    char *e = curl_easy_escape(h, s, 0);
    char *out = e ? es_strdup(e) : NULL;
    curl_free(e);
    return out;
}

/*
 * build fills the request for one entry; returns a reason string when the entry
 * cannot be posted at all (it goes to the dead letters), NULL when ready.
 */
static const char *build(struct req *r, const struct es_outbox_opts *o)
{
    const char *platform = field(&r->e, "platform"), *kind = field(&r->e, "kind");
    const char *text = field(&r->e, "text");
    bool dm = strcmp(kind, "dm") == 0;
    char url[2048], auth[600];
    const char *token = NULL;
    json_t *j = NULL;
    if (strcmp(platform, "twitter") == 0) {
        if (!o->twitter_url)
            return "no twitter API URL configured";
        token = getenv("EARSHOT_TWITTER_TOKEN");
        if (dm) {
            snprintf(url, sizeof url, "%s/2/dm_conversations/with/%s/messages", o->twitter_url,
                     field(&r->e, "to"));
            j = json_pack("{s:s}", "text", text);
        } else {
            snprintf(url, sizeof url, "%s/2/tweets", o->twitter_url);
            j = json_pack("{s:s,s:{s:s}}", "text", text, "reply", "in_reply_to_tweet_id",
                          field(&r->e, "in_reply_to"));
        }
    } else if (strcmp(platform, "weibo") == 0) {
        if (!o->weibo_url)
            return "no weibo API URL configured";
        token = getenv("EARSHOT_WEIBO_TOKEN");
        char *t = form_escape(r->h, text);
        char *id = form_escape(r->h, field(&r->e, dm ? "to" : "in_reply_to"));
        if (!t || !id) {
            es_free(t);
            es_free(id);
            return "out of memory";
        }
        snprintf(url, sizeof url, "%s/2/%s", o->weibo_url,
                 dm ? "direct_messages/new.json" : "comments/create.json");
        size_t n = strlen(t) + strlen(id) + 32;
        r->body = es_malloc(n);
        if (r->body)
            snprintf(r->body, n, dm ? "uid=%s&text=%s" : "id=%s&comment=%s", id, t);
        es_free(t);
        es_free(id);
        if (!r->body)
            return "out of memory";
        r->hdr = curl_slist_append(r->hdr, "Content-Type: application/x-www-form-urlencoded");
    } else if (strcmp(platform, "wechat") == 0) {
        if (!o->wechat_url)
            return "no wechat API URL configured";
        const char *wt = getenv("EARSHOT_WECHAT_TOKEN");
        snprintf(url, sizeof url, "%s/cgi-bin/message/custom/send?access_token=%s",
                 o->wechat_url, wt ? wt : "");
        j = json_pack("{s:s,s:s,s:{s:s}}", "touser", field(&r->e, "to"), "msgtype", "text",
                      "text", "content", text);
    } else {
        return "the platform has no reply API";
    }
    if (j) {
        r->body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!r->body)
            return "out of memory";
        r->hdr = curl_slist_append(r->hdr, "Content-Type: application/json");
    }
    if (token && *token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        r->hdr = curl_slist_append(r->hdr, auth);
    }
    char idem[300];
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", field(&r->e, "idem"));
    r->hdr = curl_slist_append(r->hdr, idem);
    curl_easy_setopt(r->h, CURLOPT_URL, url);
    curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdr);
    curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->h, CURLOPT_WRITEDATA, &r->resp);
    curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms ? o->timeout_ms : 10000));
    curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->h, CURLOPT_USERAGENT, "earshot/" ES_VERSION);
    return NULL;
}

/* platform_id pulls the new post's id out of the platform's answer. */
static void platform_id(const struct req *r, char *out, size_t n)
{
    out[0] = '\0';
    json_t *j = r->resp.data ? json_loadb(r->resp.data, r->resp.len, 0, NULL) : NULL;
    const char *id = NULL;
    char num[32];
    if (j) {
        json_t *d = json_object_get(j, "data");
        id = json_string_value(json_object_get(d, "id"));
        if (!id)
            id = json_string_value(json_object_get(j, "dm_event_id"));
        if (!id)
            id = json_string_value(json_object_get(j, "idstr"));
        if (!id && json_is_integer(json_object_get(j, "id"))) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(json_object_get(j, "id")));
            id = num;
        }
        if (!id && json_is_integer(json_object_get(j, "msgid"))) {
            snprintf(num, sizeof num, "%lld",
                     (long long)json_integer_value(json_object_get(j, "msgid")));
            id = num;
        }
    }
    snprintf(out, n, "%s", id ? id : r->e.id);
    json_decref(j);
}

static void req_cleanup(struct req *r)
{
    if (r->h)
        curl_easy_cleanup(r->h);
    curl_slist_free_all(r->hdr);
    es_free(r->body);
    es_buf_cleanup(&r->resp);
    json_decref(r->e.fields);
    memset(r, 0, sizeof *r);
}

/* backoff_ms: the wait after failed attempt n (1-based): base * 2^(n-1), at most 10 min. */
static int64_t backoff_ms(int64_t base, int64_t n)
{
    int64_t d = base;
    for (int64_t i = 1; i < n && d < 600000; i++)
        d *= 2;
    return d < 600000 ? d : 600000;
}

int es_outbox_run(struct es_store *s, const struct es_outbox_opts *o, struct es_outbox_stats *st)
{
    int max_attempts = o->max_attempts > 0 ? o->max_attempts : 8;
    int64_t reclaim = o->reclaim_ms > 0 ? o->reclaim_ms : 30000;
    int64_t t0 = es_clock_mono_ms();
    CURLM *multi = curl_multi_init();
    if (!multi)
        return ES_ENOMEM;
    struct req reqs[BATCH];
    memset(reqs, 0, sizeof reqs);
    memset(st, 0, sizeof *st);
    int rc = 0;
    while (!(o->stop && *o->stop) && !(o->run_ms && es_clock_mono_ms() - t0 >= o->run_ms)) {
        struct es_outbox_entry entries[BATCH];
        size_t n = 0;
        rc = es_store_outbox_read(s, o->consumer, reclaim, entries, BATCH, &n);
        if (rc)
            break;
        if (n == 0) {
            if (o->once)
                break;
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        size_t active = 0;
        for (size_t i = 0; i < n; i++) {
            struct req *r = &reqs[i];
            r->e = entries[i];
            es_buf_init(&r->resp, BODY_CAP);
            if (r->e.attempts >= max_attempts) {
                es_store_outbox_dead(s, &r->e, "gave up after the maximum number of attempts");
                st->dead++;

                continue;
            }
            if (r->e.due_ms > es_clock_now_ms()) {
                /* still backing off: stays pending, comes back with the next reclaim */
                st->skipped++;

                continue;
            }
            if (es_store_outbox_attempt(s, &r->e) != 0) {

                continue;
            }
            r->h = curl_easy_init();
            const char *why = r->h ? build(r, o) : "out of memory";
            if (why) {
                es_log(ES_LOG_WARN, "outbox", "entry %s: %s", r->e.id, why);
                es_store_outbox_dead(s, &r->e, why);
                st->dead++;

                continue;
            }
            curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
            curl_multi_add_handle(multi, r->h);
            active++;
        }
        int running = (int)active;
        while (running > 0) {
            curl_multi_perform(multi, &running);
            if (running)
                curl_multi_poll(multi, NULL, 0, 200, NULL);
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct req *r;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            long status = 0;
            curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
            bool transient = msg->data.result != CURLE_OK || status == 429 || status >= 500;
            if (!transient && status >= 200 && status < 300) {
                char pid[128];
                platform_id(r, pid, sizeof pid);
                if (es_store_outbox_done(s, &r->e, pid) == 0)
                    st->posted++;
            } else if (transient) {
                es_log(ES_LOG_WARN, "outbox", "entry %s: attempt %lld failed: %s", r->e.id,
                       (long long)r->e.attempts,
                       msg->data.result != CURLE_OK ? r->err : status == 429 ? "429" : "5xx");
                es_store_outbox_retry_later(s, &r->e,
                                            es_clock_now_ms() +
                                                backoff_ms(reclaim, r->e.attempts));
                st->retried++;
            } else {
                char why[256];
                snprintf(why, sizeof why, "platform answered HTTP %ld: %.150s", status,
                         r->resp.data ? r->resp.data : "");
                es_store_outbox_dead(s, &r->e, why);
                st->dead++;
            }
            curl_multi_remove_handle(multi, r->h);
        }
        for (size_t i = 0; i < n; i++)
            req_cleanup(&reqs[i]);
    }
    curl_multi_cleanup(multi);
    return rc;
}
