/*
 * The triage API end to end: a real redis-server in a temp dir, es_api on a
 * libuv loop in its own thread (ephemeral port), driven with libcurl. Tokens
 * and roles, the FEARS flow through the API (claim, refusals with their
 * status and reason, two public replies, the DM, resolve), the KPI counters
 * behind /api/stats/fears with real numbers, the audit log, the volume chart,
 * the live stream (a state change arrives; Last-Event-ID resumes), /metrics,
 * /healthz, security headers, and a stop that leaves the loop empty. Also: a
 * refusal made with the CLI (`earshot reply`, run as a child process) counted in
 * the scorecard once; the audit filters read from their indexes past a full log;
 * suggestions filled with the customer's cleaned name and the brand; the async
 * client taking commands before its connection is up.
 */
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "earshot/api.h"
#include "earshot/clock.h"
#include "earshot/fears.h"
#include "earshot/norm.h"
#include "earshot/store.h"
#include "harness.h"
#include "store/internal.h"

static struct {
    struct es_redis_child *child;
    char dir[64], sock[256], url[300];
    struct es_norm *norm;
    struct es_fears *fears;
    struct es_store *s;
    uv_loop_t loop;
    uv_async_t wake;
    uv_sem_t ready;
    pthread_t thread;
    struct es_api *api;
    int port, loop_close;
    char admin[128], manager[128], alice[128], bob[128];
    char mid[64];
} g;

/* ---- the server thread ---- */

static void on_wake(uv_async_t *a)
{
    es_api_stop(g.api);
    uv_close((uv_handle_t *)a, NULL);
}

static void *server_main(void *arg)
{
    (void)arg;
    uv_loop_init(&g.loop);
    uv_async_init(&g.loop, &g.wake, on_wake);
    struct es_api_opts o = {0};
    o.redis_url = g.url;
    o.fears = g.fears;
    o.sse_heartbeat_ms = 200;
    struct es_diag d = {0};
    if (es_api_start(&g.loop, &o, &g.api, &d) != 0) {
        fprintf(stderr, "es_api_start: %s\n", d.msg);
        g.port = -1;
        uv_close((uv_handle_t *)&g.wake, NULL);
    } else {
        g.port = es_api_port(g.api);
    }
    uv_sem_post(&g.ready);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    g.loop_close = uv_loop_close(&g.loop);
    return NULL;
}

/* ---- HTTP client ---- */

struct resp {
    long status;
    char body[65536];
    size_t len;
    char headers[8192];
    size_t hlen;
    json_t *json;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = sz * n;
    size_t room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = sz * n;
    size_t room = sizeof r->headers - 1 - r->hlen;
    memcpy(r->headers + r->hlen, p, k < room ? k : room);
    r->hlen += k < room ? k : room;
    r->headers[r->hlen] = '\0';
    return k;
}

/* req: one request; body NULL for none. timeout_ms bounds streams. */
static void req_full(struct resp *r, const char *method, const char *path, const char *token,
                     const char *body, const char *extra_header, long timeout_ms)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    char url[1024], auth[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g.port, path);
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (extra_header)
        h = curl_slist_append(h, extra_header);
    if (body)
        h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    r->json = json_loadb(r->body, r->len, 0, NULL);
}

static void req(struct resp *r, const char *method, const char *path, const char *token,
                const char *body)
{
    req_full(r, method, path, token, body, NULL, 10000);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static long long jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void done(struct resp *r)
{
    json_decref(r->json);
    r->json = NULL;
}

/* ---- tests ---- */

ES_TEST(healthz_and_security_headers)
{
    struct resp r;
    req(&r, "GET", "/healthz", NULL, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_STR(jstr(r.json, "redis"), "up");
    ES_ASSERT(strstr(r.headers, "Content-Security-Policy: default-src 'self'") != NULL);
    ES_ASSERT(strstr(r.headers, "X-Content-Type-Options: nosniff") != NULL);
    ES_ASSERT(strstr(r.headers, "X-Frame-Options: DENY") != NULL);
    done(&r);
    req(&r, "GET", "/api/nope", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 404);
    done(&r);
    req(&r, "DELETE", "/api/mentions", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 405);
    done(&r);
}

ES_TEST(tokens_and_roles)
{
    struct resp r;
    req(&r, "GET", "/api/me", NULL, NULL);
    ES_ASSERT_EQ(r.status, 401);
    ES_ASSERT_STR(jstr(r.json, "reason"), "missing_token");
    ES_ASSERT(strstr(r.headers, "WWW-Authenticate: Bearer") != NULL);
    done(&r);
    char forged[128];
    snprintf(forged, sizeof forged, "%s", g.alice);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'a' ? 'b' : 'a';
    req(&r, "GET", "/api/me", forged, NULL);
    ES_ASSERT_EQ(r.status, 401);
    ES_ASSERT_STR(jstr(r.json, "reason"), "bad_token");
    done(&r);
    req(&r, "GET", "/api/me", "es_zz", NULL);
    ES_ASSERT_EQ(r.status, 401);
    done(&r);
    req(&r, "GET", "/api/me", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_STR(jstr(r.json, "name"), "alice");
    ES_ASSERT_STR(jstr(r.json, "role"), "agent");
    done(&r);
    /* agent < manager < admin */
    req(&r, "GET", "/api/audit", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 403);
    ES_ASSERT_STR(jstr(r.json, "reason"), "forbidden");
    done(&r);
    req(&r, "GET", "/api/audit", g.manager, NULL);
    ES_ASSERT_EQ(r.status, 200);
    done(&r);
    req(&r, "GET", "/api/tokens", g.manager, NULL);
    ES_ASSERT_EQ(r.status, 403);
    done(&r);
    /* an admin makes a token over the API; it works, then is revoked */
    req(&r, "POST", "/api/tokens", g.admin, "{\"role\":\"agent\",\"name\":\"carol\"}");
    ES_ASSERT_EQ(r.status, 201);
    char carol[128], carol_id[32];
    snprintf(carol, sizeof carol, "%s", jstr(r.json, "token"));
    snprintf(carol_id, sizeof carol_id, "%s", jstr(r.json, "id"));
    done(&r);
    req(&r, "GET", "/api/me", carol, NULL);
    ES_ASSERT_STR(jstr(r.json, "name"), "carol");
    done(&r);
    req(&r, "GET", "/api/tokens", g.admin, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(strstr(r.body, carol_id) != NULL);
    ES_ASSERT(strstr(r.body, carol + 20) == NULL); /* no secret in the list */
    done(&r);
    req(&r, "POST", "/api/tokens", g.admin, "{\"role\":\"root\",\"name\":\"x\"}");
    ES_ASSERT_EQ(r.status, 400);
    done(&r);
    char path[128];
    snprintf(path, sizeof path, "/api/tokens/%s", carol_id);
    req(&r, "DELETE", path, g.admin, NULL);
    ES_ASSERT_EQ(r.status, 200);
    done(&r);
    req(&r, "GET", "/api/me", carol, NULL);
    ES_ASSERT_EQ(r.status, 401);
    done(&r);
    req(&r, "DELETE", path, g.admin, NULL);
    ES_ASSERT_EQ(r.status, 404);
    done(&r);
}

static void post_mid(struct resp *r, const char *action, const char *token, const char *body)
{
    char path[160];
    snprintf(path, sizeof path, "/api/mentions/%s/%s", g.mid, action);
    req(r, "POST", path, token, body);
}

ES_TEST(fears_flow_through_the_api)
{
    struct resp r;
    req(&r, "GET", "/api/mentions?brand=acme&limit=10", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(strstr(r.body, g.mid) != NULL);
    done(&r);
    req(&r, "GET", "/api/mentions?limit=abc", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 400);
    ES_ASSERT_STR(jstr(r.json, "reason"), "bad_param");
    done(&r);
    char path[160];
    snprintf(path, sizeof path, "/api/mentions/%s", g.mid);
    req(&r, "GET", path, g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_STR(jstr(json_object_get(r.json, "fears"), "next"), "first_reply");
    ES_ASSERT(json_object_get(r.json, "customer") != NULL);
    done(&r);
    req(&r, "GET", "/api/mentions/m3-99999/suggestions", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 404);
    done(&r);

    /* replying before claiming: 409 not_claimed */
    post_mid(&r, "reply", g.alice, "{\"text\":\"Sorry about the parcel, we are on it.\"}");
    ES_ASSERT_EQ(r.status, 409);
    ES_ASSERT_STR(jstr(r.json, "reason"), "not_claimed");
    done(&r);
    post_mid(&r, "claim", g.alice, "{\"lease_s\":300}");
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(json_is_true(json_object_get(r.json, "ok")));
    ES_ASSERT_STR(jstr(r.json, "holder"), "alice");
    done(&r);
    post_mid(&r, "claim", g.bob, NULL);
    ES_ASSERT_EQ(r.status, 409);
    ES_ASSERT_STR(jstr(r.json, "reason"), "claimed_by_other");
    ES_ASSERT_STR(jstr(r.json, "holder"), "alice");
    done(&r);
    /* bad bodies say where */
    post_mid(&r, "reply", g.alice, "{\"text\": }");
    ES_ASSERT_EQ(r.status, 400);
    ES_ASSERT_STR(jstr(r.json, "reason"), "bad_json");
    ES_ASSERT(strstr(jstr(r.json, "message"), "line 1 column") != NULL);
    done(&r);
    post_mid(&r, "reply", g.alice, "{\"text\": 5}");
    ES_ASSERT_EQ(r.status, 400);
    ES_ASSERT(strstr(jstr(r.json, "message"), "\"text\"") != NULL);
    done(&r);
    post_mid(&r, "claim", g.alice, "{\"lease\":300}");
    ES_ASSERT_EQ(r.status, 400);
    ES_ASSERT(strstr(jstr(r.json, "message"), "unknown field \"lease\"") != NULL);
    done(&r);

    /* the live check: first reply, no refusal; a phone number is a deflection */
    post_mid(&r, "check", g.alice, "{\"text\":\"Hi Ann, sorry the parcel is late, checking now.\"}");
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(json_is_true(json_object_get(r.json, "ok")));
    ES_ASSERT_EQ(jint(json_object_get(r.json, "state"), "reply_number"), 1);
    done(&r);
    post_mid(&r, "check", g.alice, "{\"text\":\"Please call us at 400-820-8820.\"}");
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(!json_is_true(json_object_get(r.json, "ok")));
    ES_ASSERT(strstr(r.body, "fears_channel_deflection") != NULL);
    done(&r);
    /* refusals: 422 for the text */
    post_mid(&r, "reply", g.alice, "{\"text\":\"Please call us at 400-820-8820.\"}");
    ES_ASSERT_EQ(r.status, 422);
    ES_ASSERT_STR(jstr(r.json, "reason"), "fears_channel_deflection");
    done(&r);
    post_mid(&r, "reply", g.alice,
             "{\"text\":\"Hi Ann, so sorry the parcel is late; checking with the courier now.\","
             "\"idempotency_key\":\"k1\"}");
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_EQ(jint(r.json, "public_replies"), 1);
    ES_ASSERT(jstr(r.json, "outbox_id")[0] != '\0');
    done(&r);
    /* the same key again: the first decision */
    post_mid(&r, "reply", g.alice,
             "{\"text\":\"Hi Ann, so sorry the parcel is late; checking with the courier now.\","
             "\"idempotency_key\":\"k1\"}");
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(json_is_true(json_object_get(r.json, "duplicate")));
    done(&r);
    post_mid(&r, "check", g.alice, "{\"text\":\"The courier says tomorrow morning.\"}");
    ES_ASSERT_STR(jstr(json_object_get(r.json, "state"), "verdict"), "fears_dm_required");
    ES_ASSERT_EQ(jint(json_object_get(r.json, "state"), "reply_number"), 2);
    done(&r);
    post_mid(&r, "reply", g.alice, "{\"text\":\"The courier says tomorrow morning.\"}");
    ES_ASSERT_EQ(r.status, 422);
    ES_ASSERT_STR(jstr(r.json, "reason"), "fears_dm_required");
    done(&r);
    post_mid(&r, "dm", g.alice, "{\"text\":\"Here is your tracking link.\"}");
    ES_ASSERT_EQ(r.status, 409);
    ES_ASSERT_STR(jstr(r.json, "reason"), "fears_dm_not_open");
    done(&r);
    post_mid(&r, "reply", g.alice,
             "{\"text\":\"Ann, please DM us your order number and we will sort it out today.\"}");
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_EQ(jint(r.json, "public_replies"), 2);
    done(&r);
    post_mid(&r, "reply", g.alice, "{\"text\":\"One more thing in public, DM us please.\"}");
    ES_ASSERT_EQ(r.status, 409);
    ES_ASSERT_STR(jstr(r.json, "reason"), "fears_reply_limit");
    done(&r);
    post_mid(&r, "dm", g.alice, "{\"text\":\"Thanks Ann, the new parcel leaves today.\"}");
    ES_ASSERT_EQ(r.status, 200);
    done(&r);
    req(&r, "GET", path, g.alice, NULL);
    ES_ASSERT_STR(jstr(json_object_get(r.json, "fears"), "next"), "dm_only");
    done(&r);
    post_mid(&r, "resolve", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_STR(jstr(r.json, "state"), "resolved");
    done(&r);
    post_mid(&r, "claim", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 409);
    ES_ASSERT_STR(jstr(r.json, "reason"), "bad_state");
    done(&r);
}

ES_TEST(scorecard_counts_the_facts)
{
    struct resp r;
    req(&r, "GET", "/api/stats/fears?days=1", g.bob, NULL);
    ES_ASSERT_EQ(r.status, 200);
    json_t *j = r.json;
    ES_ASSERT_EQ(jint(j, "complaints"), 2); /* the two seeded conversations */
    ES_ASSERT_EQ(jint(j, "answered_public"), 1);
    ES_ASSERT_NEAR(json_real_value(json_object_get(j, "answered_public_pct")), 50.0, 1e-9);
    ES_ASSERT_EQ(jint(j, "public_replies"), 2);
    ES_ASSERT_NEAR(json_real_value(json_object_get(j, "replies_per_conversation")), 2.0, 1e-9);
    ES_ASSERT_EQ(jint(j, "dm_switches"), 1);
    ES_ASSERT_EQ(jint(j, "dms"), 1);
    ES_ASSERT_EQ(jint(j, "resolved"), 1);
    json_t *ref = json_object_get(j, "refusals");
    ES_ASSERT_EQ(jint(ref, "fears_channel_deflection"), 1);
    ES_ASSERT_EQ(jint(ref, "fears_dm_required"), 1);
    ES_ASSERT_EQ(jint(ref, "fears_reply_limit"), 1);
    ES_ASSERT_EQ(jint(ref, "fears_dm_not_open"), 1);
    ES_ASSERT_EQ(jint(ref, "not_claimed"), 1);
    json_t *frt = json_object_get(j, "first_response_s");
    ES_ASSERT_EQ(jint(frt, "count"), 1);
    /* the post was made 25 minutes before the reply: bucket 1200..1800 s */
    double p50 = json_real_value(json_object_get(frt, "p50"));
    ES_ASSERT(p50 >= 1200 && p50 <= 1800);
    json_t *sla = json_object_get(j, "sla");
    ES_ASSERT_EQ(jint(sla, "met"), 0);
    ES_ASSERT_EQ(jint(sla, "missed"), 1); /* deadline 20 minutes after the post */
    done(&r);
    req(&r, "GET", "/api/stats/fears?days=0", g.bob, NULL);
    ES_ASSERT_EQ(r.status, 400);
    done(&r);
}

ES_TEST(audit_log_records_who_did_what)
{
    struct resp r;
    char path[160];
    snprintf(path, sizeof path, "/api/audit?mid=%s&limit=100", g.mid);
    req(&r, "GET", path, g.manager, NULL);
    ES_ASSERT_EQ(r.status, 200);
    json_t *es = json_object_get(r.json, "entries");
    ES_ASSERT(json_array_size(es) >= 10);
    int claims_ok = 0, refused = 0, bob_refused = 0;
    size_t i;
    json_t *e;
    json_array_foreach(es, i, e)
    {
        ES_ASSERT_STR(jstr(e, "mid"), g.mid);
        ES_ASSERT(strncmp(jstr(e, "peer"), "127.0.0.1:", 10) == 0);
        if (strcmp(jstr(e, "action"), "claim") == 0 && strcmp(jstr(e, "result"), "ok") == 0)
            claims_ok++;
        if (strcmp(jstr(e, "result"), "refused") == 0)
            refused++;
        if (strcmp(jstr(e, "actor"), "bob") == 0 &&
            strcmp(jstr(e, "reason"), "claimed_by_other") == 0)
            bob_refused++;
    }
    ES_ASSERT_EQ(claims_ok, 1);
    ES_ASSERT_EQ(bob_refused, 1);
    ES_ASSERT(refused >= 6);
    done(&r);
    req(&r, "GET", "/api/audit?actor=bob", g.manager, NULL);
    ES_ASSERT_EQ(json_array_size(json_object_get(r.json, "entries")), 1);
    done(&r);
}

ES_TEST(volume_by_brand)
{
    /* two complaints and a post in the current minute */
    int64_t now = es_clock_now() * 1000;
    struct es_store_event ev[3] = {
        {"twitter", "acme", "delivery", NULL, NULL, true, 2, now, now},
        {"twitter", "acme", "refund_billing", NULL, NULL, true, 2, now, now},
        {"weibo", NULL, NULL, NULL, NULL, false, 0, now, now},
    };
    ES_ASSERT_EQ(es_store_events_batch(g.s, ev, 3), 0);
    struct resp r;
    char path[160];
    snprintf(path, sizeof path, "/api/stats/volume?step=minute&by=brand&to=%lld",
             (long long)now);
    req(&r, "GET", path, g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    json_t *b = json_object_get(r.json, "buckets");
    ES_ASSERT_EQ(json_array_size(b), 60);
    json_t *last = json_array_get(b, 59);
    ES_ASSERT(jint(last, "complaints") >= 2);
    ES_ASSERT(jint(json_object_get(last, "groups"), "acme") >= 2);
    done(&r);
    snprintf(path, sizeof path, "/api/stats/volume?step=hour&to=%lld", (long long)now);
    req(&r, "GET", path, g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    b = json_object_get(r.json, "buckets");
    ES_ASSERT(jint(json_array_get(b, json_array_size(b) - 1), "posts") >= 3);
    done(&r);
    req(&r, "GET", "/api/stats/volume?step=minute&from=0", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 400);
    done(&r);
}

/* ---- the live stream ---- */

struct streamer {
    char token[128];
    char last_id[80];
    struct resp r;
};

static void *stream_main(void *arg)
{
    struct streamer *st = arg;
    char hdr[128] = "";
    if (st->last_id[0])
        snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", st->last_id);
    req_full(&st->r, "GET", "/api/stream", st->token, NULL, hdr[0] ? hdr : NULL, 2000);
    return NULL;
}

ES_TEST(stream_delivers_state_changes_and_resumes)
{
    struct streamer st;
    memset(&st, 0, sizeof st);
    snprintf(st.token, sizeof st.token, "%s", g.bob);
    pthread_t t;
    pthread_create(&t, NULL, stream_main, &st);
    /* wait (bounded) until the server counts the client */
    struct resp r;
    for (int i = 0; i < 100; i++) {
        req(&r, "GET", "/metrics", NULL, NULL);
        bool on = strstr(r.body, "es_api_sse_clients 1") != NULL;
        done(&r);
        if (on)
            break;
        usleep(20 * 1000);
    }
    /* bob claims the second conversation: every client sees it */
    json_t *list = NULL;
    char *next = NULL;
    struct es_mention_filter f = {0};
    f.brand = "acme";
    ES_ASSERT_EQ(es_store_mentions_list(g.s, &f, &list, &next), 0);
    const char *other = jstr(json_array_get(list, 0), "id");
    char path[160];
    snprintf(path, sizeof path, "/api/mentions/%s/claim", other);
    req(&r, "POST", path, g.bob, NULL);
    ES_ASSERT_EQ(r.status, 200);
    done(&r);
    pthread_join(t, NULL);
    if (!strstr(st.r.body, "event: state"))
        printf("stream got: %s\n", st.r.body);
    ES_ASSERT(strstr(st.r.headers, "text/event-stream") != NULL);
    ES_ASSERT(strstr(st.r.body, "event: state") != NULL);
    ES_ASSERT(strstr(st.r.body, other) != NULL);
    ES_ASSERT(strstr(st.r.body, "\"action\":\"claim\"") != NULL);
    ES_ASSERT(strstr(st.r.body, ": hb") != NULL);
    free(next);
    json_decref(list);

    /* resume from the beginning: the backlog holds alice's changes, in order */
    struct streamer st2;
    memset(&st2, 0, sizeof st2);
    snprintf(st2.token, sizeof st2.token, "%s", g.bob);
    snprintf(st2.last_id, sizeof st2.last_id, "0-0");
    stream_main(&st2);
    const char *claim = strstr(st2.r.body, "\"action\":\"claim\"");
    const char *resolve = strstr(st2.r.body, "\"action\":\"resolve\"");
    ES_ASSERT(claim && resolve && claim < resolve);
    /* each event once */
    const char *p = st2.r.body;
    int resolves = 0;
    while ((p = strstr(p, "\"action\":\"resolve\"")) != NULL) {
        resolves++;
        p++;
    }
    ES_ASSERT_EQ(resolves, 1);
    done(&st.r);
    done(&st2.r);

    /* no token, no stream */
    req_full(&r, "GET", "/api/stream", NULL, NULL, NULL, 1500);
    ES_ASSERT_EQ(r.status, 401);
    done(&r);
}

ES_TEST(metrics_in_prometheus_text)
{
    struct resp r;
    req(&r, "GET", "/metrics", NULL, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT(strstr(r.headers, "text/plain; version=0.0.4") != NULL);
    ES_ASSERT(strstr(r.body, "es_api_requests_total{route=\"claim\",status=\"200\"}") != NULL);
    ES_ASSERT(strstr(r.body, "es_api_requests_total{route=\"reply\",status=\"422\"} 2") != NULL);
    ES_ASSERT(strstr(r.body, "es_redis_up 1") != NULL);
    ES_ASSERT(strstr(r.body, "es_http_requests_total ") != NULL);
    ES_ASSERT(strstr(r.body, "es_triage_open ") != NULL);
    done(&r);
}

/* ---- the CLI shares the reply path, and its refusals are counted ---- */

/* earshot_path: the earshot binary beside the mock platform's (ES_MOCK_PLATFORM) or,
 * without it, one directory above this test's executable. */
static void earshot_path(char *out, size_t n)
{
    char buf[PATH_MAX] = "";
    const char *mock = getenv("ES_MOCK_PLATFORM");
    if (mock && *mock) {
        snprintf(buf, sizeof buf, "%s", mock);
    } else {
        ssize_t k = readlink("/proc/self/exe", buf, sizeof buf - 1);
        buf[k > 0 ? k : 0] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash)
            *slash = '\0';
    }
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, n, "%s/earshot", buf);
}

/* run_cli: the earshot CLI against the test's Redis; its stdout into out. Exit status. */
static int run_cli(char *const argv[], char *out, size_t n)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("EARSHOT_REDIS_URL", g.url, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t k;
    while ((k = read(fds[0], out + len, n - 1 - len)) > 0 && len + (size_t)k < n - 1)
        len += (size_t)k;
    if (k > 0)
        len += (size_t)k;
    out[len] = '\0';
    close(fds[0]);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long long refusals_of(const char *reason)
{
    struct resp r;
    req(&r, "GET", "/api/stats/fears?days=1", g.bob, NULL);
    long long n = r.status == 200 ? jint(json_object_get(r.json, "refusals"), reason) : -1;
    done(&r);
    return n;
}

/* other_mid: the second seeded mention (bob holds it after the stream test). */
static void other_mid(char *out, size_t n)
{
    json_t *list = NULL;
    char *next = NULL;
    struct es_mention_filter f = {0};
    f.brand = "acme";
    out[0] = '\0';
    if (es_store_mentions_list(g.s, &f, &list, &next) == 0)
        snprintf(out, n, "%s", jstr(json_array_get(list, 0), "id"));
    free(next);
    json_decref(list);
}

ES_TEST(cli_refusal_counts_in_the_scorecard_once)
{
    char other[64], bin[PATH_MAX + 16], out[8192];
    other_mid(other, sizeof other);
    ES_ASSERT(other[0] != '\0');
    earshot_path(bin, sizeof bin);
    ES_ASSERT(access(bin, X_OK) == 0);
    long long before = refusals_of("fears_channel_deflection");
    ES_ASSERT_EQ(before, 1); /* the one refusal made through the API, counted once */
    char *argv[] = {bin,  "reply",  other, "--agent", "bob", "--text",
                    "Please call us at 400-820-8820 and we will sort it out.", "--json", NULL};
    ES_ASSERT_EQ(run_cli(argv, out, sizeof out), 1);
    json_t *j = json_loads(out, 0, NULL);
    if (!j)
        printf("earshot reply printed: %s\n", out);
    ES_ASSERT_STR(jstr(j, "reason"), "fears_channel_deflection");
    json_decref(j);
    ES_ASSERT_EQ(refusals_of("fears_channel_deflection"), before + 1);
    /* a refusal through the API is counted once too */
    char path[160];
    snprintf(path, sizeof path, "/api/mentions/%s/reply", other);
    struct resp r;
    req(&r, "POST", path, g.bob, "{\"text\":\"Please call us at 400-820-8820.\"}");
    ES_ASSERT_EQ(r.status, 422);
    done(&r);
    ES_ASSERT_EQ(refusals_of("fears_channel_deflection"), before + 2);
}

/* ---- audit indexes ---- */

ES_TEST(audit_filters_read_their_index_past_a_full_log)
{
    /* what the flow wrote: the mention's index holds exactly its entries */
    char key[160];
    snprintf(key, sizeof key, "es:audit:mid:%s", g.mid);
    const char *llen[] = {"LLEN", key};
    redisReply *rep = es__cmd(g.s, 2, llen, NULL);
    ES_ASSERT(rep && rep->type == REDIS_REPLY_INTEGER);
    long long in_index = rep->integer;
    freeReplyObject(rep);
    const char *ttl[] = {"TTL", key};
    rep = es__cmd(g.s, 2, ttl, NULL);
    ES_ASSERT(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0);
    freeReplyObject(rep);
    struct resp r;
    char path[200];
    snprintf(path, sizeof path, "/api/audit?mid=%s&limit=1000", g.mid);
    req(&r, "GET", path, g.manager, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_EQ((long long)json_array_size(json_object_get(r.json, "entries")), in_index);
    ES_ASSERT(in_index >= 10);
    done(&r);

    /* a full log of other entries above bob's: a scan of the log would not reach them */
    const char *fill[] = {"EVAL",
                          "for i = 1, tonumber(ARGV[1]) do redis.call('LPUSH', KEYS[1], "
                          "'{\"actor\":\"noise\",\"mid\":\"m0-1\",\"action\":\"claim\"}') end "
                          "return redis.call('LLEN', KEYS[1])",
                          "1", "es:audit", "100000"};
    rep = es__cmd(g.s, 5, fill, NULL);
    ES_ASSERT(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 100000);
    freeReplyObject(rep);
    req(&r, "GET", "/api/audit?actor=bob", g.manager, NULL);
    ES_ASSERT_EQ(r.status, 200);
    json_t *es = json_object_get(r.json, "entries");
    ES_ASSERT(json_array_size(es) >= 2); /* the claim refused, the claim (stream test), ... */
    size_t i;
    json_t *e;
    json_array_foreach(es, i, e) ES_ASSERT_STR(jstr(e, "actor"), "bob");
    done(&r);
    snprintf(path, sizeof path, "/api/audit?mid=%s&actor=bob", g.mid);
    req(&r, "GET", path, g.manager, NULL);
    ES_ASSERT_EQ(json_array_size(json_object_get(r.json, "entries")), 1);
    ES_ASSERT_STR(jstr(json_array_get(json_object_get(r.json, "entries"), 0), "reason"),
                  "claimed_by_other");
    done(&r);
    /* unfiltered: the newest of the log */
    req(&r, "GET", "/api/audit?limit=3", g.manager, NULL);
    ES_ASSERT_EQ(json_array_size(json_object_get(r.json, "entries")), 3);
    ES_ASSERT_STR(jstr(json_array_get(json_object_get(r.json, "entries"), 0), "actor"), "noise");
    done(&r);
    req(&r, "GET", "/api/audit?actor=nobody", g.manager, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_EQ(json_array_size(json_object_get(r.json, "entries")), 0);
    done(&r);
    req(&r, "GET", "/api/audit?mid=a%20b", g.manager, NULL);
    ES_ASSERT_EQ(r.status, 400);
    ES_ASSERT_STR(jstr(r.json, "reason"), "bad_param");
    done(&r);
    const char *trim[] = {"LTRIM", "es:audit", "100000", "-1"};
    rep = es__cmd(g.s, 4, trim, NULL);
    freeReplyObject(rep);
}

/* ---- suggestions ---- */

ES_TEST(suggestions_fill_the_name_and_brand)
{
    char other[64];
    other_mid(other, sizeof other);
    struct resp r;
    char path[200];
    snprintf(path, sizeof path, "/api/mentions/%s/suggestions?lang=en", other);
    req(&r, "GET", path, g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_STR(jstr(r.json, "scenario"), "first_reply");
    ES_ASSERT_STR(jstr(json_object_get(r.json, "filled"), "name"), "@cust1");
    ES_ASSERT_STR(jstr(json_object_get(r.json, "filled"), "brand"), "acme");
    json_t *ts = json_object_get(r.json, "templates");
    ES_ASSERT(json_array_size(ts) >= 3);
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t)
    {
        ES_ASSERT_STR(jstr(t, "lang"), "en");
        ES_ASSERT(strstr(jstr(t, "text"), "{name}") == NULL);
        ES_ASSERT(strstr(jstr(t, "text"), "{brand}") == NULL);
        ES_ASSERT(strstr(jstr(t, "template"), "{name}") != NULL);
        ES_ASSERT(strstr(jstr(t, "text"), "@cust1") != NULL);
        /* the delivery templates ask for the order: the agent's to fill */
        json_t *left = json_object_get(t, "placeholders");
        ES_ASSERT(json_array_size(left) >= 1);
        ES_ASSERT_STR(json_string_value(json_array_get(left, 0)), "order");
        ES_ASSERT(strstr(jstr(t, "text"), "{order}") != NULL);
    }
    done(&r);
    req(&r, "GET", "/api/mentions/m1-1/suggestions?lang=fr", g.alice, NULL);
    ES_ASSERT_EQ(r.status, 400);
    done(&r);

    /* a hostile display name: controls, a bidi override and braces never reach the text */
    int64_t now = es_clock_now() * 1000;
    struct es_post p;
    memset(&p, 0, sizeof p);
    p.id = "post-hostile";
    p.platform = ES_PLATFORM_TWITTER;
    p.author.id = "666";
    p.author.handle = "eve";
    p.author.name = "  Eve\xe2\x80\xae {order}\x01 Li  ";
    p.text = "my parcel never arrived";
    p.text_len = strlen(p.text);
    p.created_at = now / 1000 - 60;
    struct es_mention_in in = {"acme", "delivery", 2, 1.0, true, NULL, NULL, NULL, now, NULL};
    bool created = false;
    char mid[64];
    ES_ASSERT_EQ(es_store_mention_add(g.s, &p, &in, now, mid, sizeof mid, &created), 0);
    snprintf(path, sizeof path, "/api/mentions/%s/suggestions?lang=zh", mid);
    req(&r, "GET", path, g.alice, NULL);
    ES_ASSERT_EQ(r.status, 200);
    ES_ASSERT_STR(jstr(json_object_get(r.json, "filled"), "name"), "Eve order Li");
    t = json_array_get(json_object_get(r.json, "templates"), 0);
    ES_ASSERT(strncmp(jstr(t, "text"), "Eve order Li", 12) == 0);
    done(&r);
}

/* ---- the async client before it is connected ---- */

struct early {
    int ok, failed;
};

static void on_early(void *ud, redisReply *r, int status)
{
    struct early *e = ud;
    if (status == 0 && r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0)
        e->ok++;
    else
        e->failed++;
}

static void on_early_stop(uv_timer_t *t)
{
    es_store_async_stop(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

ES_TEST(async_store_takes_commands_before_it_is_connected)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct es_store_async *a = NULL;
    ES_ASSERT_EQ(es_store_async_start(&loop, g.url, &a), 0);
    ES_ASSERT_EQ(es_store_async_connected(a), 0);
    struct early e = {0, 0};
    const char *ping[] = {"PING"};
    int accepted = 0, refused = 0;
    for (int i = 0; i < 70; i++) {
        int rc = es_store_async_cmd(a, 1, ping, NULL, on_early, &e);
        accepted += rc == 0;
        refused += rc == ES_EIO;
    }
    ES_ASSERT_EQ(accepted, 64); /* queued while connecting, up to the bound */
    ES_ASSERT_EQ(refused, 6);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = a;
    uv_timer_start(&t, on_early_stop, 300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ES_ASSERT_EQ(e.ok, 64);
    ES_ASSERT_EQ(e.failed, 0);
    ES_ASSERT_EQ(uv_loop_close(&loop), 0);

    /* a server that is not there: the queued command ends with ES_EIO, once */
    uv_loop_init(&loop);
    char url[400];
    snprintf(url, sizeof url, "redis://127.0.0.1:1");
    ES_ASSERT_EQ(es_store_async_start(&loop, url, &a), 0);
    e.ok = e.failed = 0;
    int rc = es_store_async_cmd(a, 1, ping, NULL, on_early, &e);
    uv_timer_init(&loop, &t);
    t.data = a;
    uv_timer_start(&t, on_early_stop, 300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ES_ASSERT_EQ(e.ok, 0);
    ES_ASSERT_EQ(e.failed, rc == 0 ? 1 : 0);
    ES_ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* ---- setup ---- */

static void seed(void)
{
    int64_t now = es_clock_now() * 1000;
    for (int i = 0; i < 2; i++) {
        char id[32], author[32];
        snprintf(id, sizeof id, "post%d", i);
        snprintf(author, sizeof author, "cust%d", i);
        struct es_post p;
        memset(&p, 0, sizeof p);
        p.id = id;
        p.platform = ES_PLATFORM_TWITTER;
        p.author.id = author;
        p.author.handle = author;
        p.author.followers = 10 + i;
        p.text = "my parcel never arrived";
        p.text_len = strlen(p.text);
        p.created_at = now / 1000 - 25 * 60;
        struct es_mention_in in = {"acme", "delivery", 2 + i, 1.5, true, NULL, NULL, NULL,
                                   now - 5 * 60 * 1000, NULL};
        bool created = false;
        char mid[64];
        if (es_store_mention_add(g.s, &p, &in, now, mid, sizeof mid, &created) == 0 && i == 0)
            snprintf(g.mid, sizeof g.mid, "%s", mid);
    }
}

static int setup(void)
{
    snprintf(g.dir, sizeof g.dir, "/tmp/es-api-test-XXXXXX");
    if (!mkdtemp(g.dir))
        return -1;
    struct es_diag d = {0};
    if (es_redis_child_start(g.dir, &g.child, g.sock, sizeof g.sock, &d) != 0) {
        fprintf(stderr, "redis: %s\n", d.msg);
        return -1;
    }
    snprintf(g.url, sizeof g.url, "unix://%s", g.sock);
    struct es_store_opts so = {g.url, NULL, 5000};
    if (es_store_open(&so, &g.s, &d) != 0)
        return -1;
    const char *warn = NULL;
    g.norm = es_norm_new(NULL, &warn);
    g.fears = g.norm ? es_fears_new(g.norm, ES_SOURCE_DIR "/rules/fears", &d) : NULL;
    if (!g.fears) {
        fprintf(stderr, "fears: %s\n", d.msg);
        return -1;
    }
    char id[32];
    if (es_api_token_create(g.s, "admin", "root", g.admin, sizeof g.admin, id, sizeof id) ||
        es_api_token_create(g.s, "manager", "mary", g.manager, sizeof g.manager, id, sizeof id) ||
        es_api_token_create(g.s, "agent", "alice", g.alice, sizeof g.alice, id, sizeof id) ||
        es_api_token_create(g.s, "agent", "bob", g.bob, sizeof g.bob, id, sizeof id))
        return -1;
    seed();
    if (!g.mid[0])
        return -1;
    uv_sem_init(&g.ready, 0);
    pthread_create(&g.thread, NULL, server_main, NULL);
    uv_sem_wait(&g.ready);
    return g.port > 0 ? 0 : -1;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup() != 0) {
        fprintf(stderr, "setup failed\n");
        es_redis_child_stop(g.child);
        return 1;
    }
    ES_RUN(healthz_and_security_headers);
    ES_RUN(tokens_and_roles);
    ES_RUN(fears_flow_through_the_api);
    ES_RUN(scorecard_counts_the_facts);
    ES_RUN(audit_log_records_who_did_what);
    ES_RUN(volume_by_brand);
    ES_RUN(stream_delivers_state_changes_and_resumes);
    ES_RUN(metrics_in_prometheus_text);
    ES_RUN(cli_refusal_counts_in_the_scorecard_once);
    ES_RUN(audit_filters_read_their_index_past_a_full_log);
    ES_RUN(suggestions_fill_the_name_and_brand);
    ES_RUN(async_store_takes_commands_before_it_is_connected);

    uv_async_send(&g.wake);
    pthread_join(g.thread, NULL);
    if (g.loop_close != 0) {
        printf("FAIL uv_loop_close: %d (a handle was left open)\n", g.loop_close);
        es_t_failed++;
    }
    uv_sem_destroy(&g.ready);
    es_store_close(g.s);
    es_fears_free(g.fears);
    es_norm_free(g.norm);
    es_redis_child_stop(g.child);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g.dir);
    curl_global_cleanup();
    return ES_DONE();
}
