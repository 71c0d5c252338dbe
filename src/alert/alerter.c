/* The worker's start and stop, its counters, and the synchronous test send. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "alert/internal.h"
#include "earshot/alloc.h"
#include "earshot/log.h"

static uv_once_t curl_once = UV_ONCE_INIT;
static int curl_ok;

static void curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static void defaults(struct es_alert_opts *o)
{
    if (o->max_attempts <= 0)
        o->max_attempts = 6;
    if (o->retry_base_ms <= 0)
        o->retry_base_ms = 1000;
    if (o->retry_max_ms <= 0)
        o->retry_max_ms = 300000;
    if (o->reclaim_ms <= 0)
        o->reclaim_ms = 60000;
    if (o->timeout_ms <= 0)
        o->timeout_ms = 10000;
    if (o->max_inflight <= 0)
        o->max_inflight = 256;
    if (o->digest_interval_s <= 0)
        o->digest_interval_s = 3600;
    if (o->spike_check_s <= 0)
        o->spike_check_s = 60;
    if (o->churn_window_ms <= 0)
        o->churn_window_ms = 30LL * 86400 * 1000;
}

int es_alerter_start(const struct es_alert_opts *o, struct es_alerter **out, struct es_diag *d)
{
    uv_once(&curl_once, curl_init_once);
    if (!curl_ok)
        return ES_EIO;
    struct es_alerter *a = es_calloc(1, sizeof *a);
    if (!a)
        return ES_ENOMEM;
    if (o)
        a->o = *o;
    defaults(&a->o);
    int rc = es_net_allow_parse(a->o.allow, &a->allow, d);
    if (rc) {
        es_free(a);
        return ES_EINVAL;
    }
    a->o.allow = NULL; /* parsed; the string is not kept */
    es__alert_adb_url(&a->o, a->url, sizeof a->url);
    a->o.redis_url = a->o.data_dir = NULL;
    if (o && o->consumer && *o->consumer) {
        snprintf(a->consumer, sizeof a->consumer, "%s", o->consumer);
    } else {
        char host[64] = "earshot";
        gethostname(host, sizeof host - 1);
        snprintf(a->consumer, sizeof a->consumer, "%s", host);
    }
    a->o.consumer = NULL;
    rc = es__alert_sender_start(a, d);
    if (!rc) {
        rc = es__alert_matcher_start(a, d);
        if (rc) {
            atomic_store(&a->stop, 1);
            es__alert_sender_stop(a);
        }
    }
    if (rc) {
        es_free(a);
        return rc;
    }
    es_log(ES_LOG_INFO, "alert", "event=start consumer=%s max_inflight=%d max_attempts=%d",
           a->consumer, a->o.max_inflight, a->o.max_attempts);
    *out = a;
    return 0;
}

void es_alerter_stats(struct es_alerter *a, struct es_alerter_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!a)
        return;
    st->events = atomic_load(&a->n_events);
    st->alerts = atomic_load(&a->n_alerts);
    st->delivered = atomic_load(&a->n_delivered);
    st->failed_attempts = atomic_load(&a->n_failed);
    st->dead = atomic_load(&a->n_dead);
    st->refused_ssrf = atomic_load(&a->n_refused);
}

void es_alerter_stop(struct es_alerter *a)
{
    if (!a)
        return;
    atomic_store(&a->stop, 1);
    es__alert_matcher_stop(a);
    es__alert_sender_stop(a);
    es_log(ES_LOG_INFO, "alert", "event=stop delivered=%llu dead=%llu",
           (unsigned long long)atomic_load(&a->n_delivered),
           (unsigned long long)atomic_load(&a->n_dead));
    es_free(a);
}

/* ---- alerts test ---- */


static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct es_buf *b = ud;
    es_buf_append(b, p, size * n);
    return size * n;
}

struct src {
    const char *p;
    size_t len, off;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct src *s = ud;
    size_t k = size * n < s->len - s->off ? size * n : s->len - s->off;
    memcpy(buf, s->p + s->off, k);
    s->off += k;
    return k;
}

int es_alert_send_test(const struct es_alert_opts *o, json_t *sub, char *report, size_t n)
{
    uv_once(&curl_once, curl_init_once);
    struct es_alert_opts oo = o ? *o : (struct es_alert_opts){0};
    defaults(&oo);
    struct es_net_allow allow;
    struct es_diag d = {0};
    size_t used = 0;
    if (report && n)
        report[0] = '\0';
    if (!curl_ok || es_net_allow_parse(oo.allow, &allow, &d) != 0)
        return ES_EIO;
    const char *sid = json_string_value(json_object_get(sub, "id"));
    const char *lang = json_string_value(json_object_get(sub, "lang"));
    json_t *alert = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", "test", "type", "test", "sub",
                              sid ? sid : "", "sub_name",
                              json_string_value(json_object_get(sub, "name"))
                                  ? json_string_value(json_object_get(sub, "name"))
                                  : "",
                              "event_ms", (json_int_t)es__alert_now_ms(&oo));
    if (!alert)
        return ES_ENOMEM;
    int rc = 0;
    size_t i;
    json_t *ch;
    json_array_foreach(json_object_get(sub, "channels"), i, ch) {
        char key[33], idx[24], nonce[32];
        snprintf(idx, sizeof idx, "%zu", i);
        snprintf(nonce, sizeof nonce, "test:%lld", (long long)es__alert_now_ms(&oo));
        es__alert_idem_key(key, sid ? sid : "", nonce, idx);
        struct es__alert_msg m;
        const char *type = json_string_value(json_object_get(ch, "type"));
        bool email = es__alert_ch_parse(type) == ES__ALERT_CH_EMAIL;
        char line[600];
        int r = es__alert_render(ch, alert, lang ? lang : "zh", key, es__alert_now_ms(&oo), &m);
        if (r) {
            snprintf(line, sizeof line, "channels[%zu] %s: cannot render: %s\n", i,
                     type ? type : "?", es_strerror(r));
            rc = ES_EIO;
        } else {
            CURL *e = curl_easy_init();
            struct es__alert_guard g = {.allow = &allow};
            struct es_buf resp;
            struct src src = {m.body.data, m.body.len, 0};
            char err[CURL_ERROR_SIZE] = "";
            es_buf_init(&resp, 64 << 10);
            CURLcode res = CURLE_OUT_OF_MEMORY;
            long code = 0;
            if (e && es__alert_tls_setup(e, ch, email) != 0) {
                curl_easy_cleanup(e);
                e = NULL;
            }
            if (e) {
                es__alert_guard_setup(e, &g, email);
                curl_easy_setopt(e, CURLOPT_URL, m.url);
                curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
                curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)oo.timeout_ms);
                curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
                curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
                if (email) {
                    curl_easy_setopt(e, CURLOPT_MAIL_FROM, m.from);
                    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, m.rcpt);
                    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
                    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
                    curl_easy_setopt(e, CURLOPT_READDATA, &src);
                    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m.body.len);
                } else {
                    curl_easy_setopt(e, CURLOPT_POSTFIELDS, m.body.data);
                    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m.body.len);
                    curl_easy_setopt(e, CURLOPT_HTTPHEADER, m.hdr);
                }
                res = curl_easy_perform(e);
                curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
                curl_easy_cleanup(e);
            }
            bool ok = res == CURLE_OK && (email || (code >= 200 && code < 300));
            if (!ok)
                rc = ES_EIO;
            if (g.why[0])
                snprintf(line, sizeof line, "channels[%zu] %s: %s\n", i, type, g.why);
            else if (res != CURLE_OK)
                snprintf(line, sizeof line, "channels[%zu] %s: %s %s\n", i, type,
                         curl_easy_strerror(res), err);
            else
                snprintf(line, sizeof line, "channels[%zu] %s: %ld %.200s\n", i, type, code,
                         resp.data ? resp.data : "");
            es_buf_cleanup(&resp);
            es__alert_msg_cleanup(&m);
        }
        if (report && used < n) {
            snprintf(report + used, n - used, "%s", line);
            used += strlen(report + used);
        }
    }
    json_decref(alert);
    return rc;
}
