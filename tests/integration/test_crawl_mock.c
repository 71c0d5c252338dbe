/*
 * The crawler against the mock platform (ES_MOCK_PLATFORM): every post the
 * mock published reaches the consumer on each platform shape (Twitter v2,
 * v1.1, Weibo getIndex, WeChat getmsglist); a restart with the same cursor
 * store neither skips nor re-reads beyond one page; each injected fault is
 * logged (health) and survived with no post lost; 304s are counted; a stop
 * leaves the loop with nothing open (uv_loop_close() == 0).
 *
 * The consumer runs on its own thread (pages are parsed there with
 * es_feed_parse_page and done is called from there), as the pipeline does.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "earshot/buf.h"
#include "earshot/crawl.h"
#include "earshot/feed.h"
#include "earshot/log.h"
#include "harness.h"

/* ---- a thread-safe set of "source:id" strings ---- */

#define SET_SLOTS (1u << 17)

struct set {
    uv_mutex_t lock;
    char **slot;
    size_t n;
};

static void set_init(struct set *s)
{
    uv_mutex_init(&s->lock);
    s->slot = calloc(SET_SLOTS, sizeof *s->slot);
    s->n = 0;
}

static void set_free(struct set *s)
{
    for (size_t i = 0; i < SET_SLOTS; i++)
        free(s->slot[i]);
    free(s->slot);
    uv_mutex_destroy(&s->lock);
}

static size_t hash(const char *k)
{
    size_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

/* 1 when added, 0 when it was there */
static int set_add(struct set *s, const char *k)
{
    uv_mutex_lock(&s->lock);
    size_t i = hash(k) & (SET_SLOTS - 1);
    int added = 0;
    while (s->slot[i] && strcmp(s->slot[i], k) != 0)
        i = (i + 1) & (SET_SLOTS - 1);
    if (!s->slot[i] && s->n < SET_SLOTS / 2) {
        s->slot[i] = strdup(k);
        s->n++;
        added = 1;
    }
    uv_mutex_unlock(&s->lock);
    return added;
}

static int set_has(struct set *s, const char *k)
{
    uv_mutex_lock(&s->lock);
    size_t i = hash(k) & (SET_SLOTS - 1);
    while (s->slot[i] && strcmp(s->slot[i], k) != 0)
        i = (i + 1) & (SET_SLOTS - 1);
    int has = s->slot[i] != NULL;
    uv_mutex_unlock(&s->lock);
    return has;
}

/* ---- the consumer: a worker thread ---- */

struct job {
    const struct es_source *src;
    const char *body;
    size_t len;
    es_page_done_fn *done;
    void *done_ud;
    struct job *next;
};

struct consumer {
    uv_thread_t thread;
    uv_mutex_t lock;
    uv_cond_t cond;
    struct job *head, *tail;
    int quit;
    struct set *ids;        /* "source:id", every delivery */
    long deliveries[8];     /* per source index (by id suffix), repeats included */
    long repeats;           /* a post delivered twice to the same source */
    long pages, bad_pages, diags;
    const char *src_names[8];
    size_t n_src;
};

static int src_index(struct consumer *c, const char *id)
{
    for (size_t i = 0; i < c->n_src; i++)
        if (strcmp(c->src_names[i], id) == 0)
            return (int)i;
    return -1;
}

struct parse_ctx {
    struct consumer *c;
    const struct es_source *src;
    int idx;
};

static void on_post(void *ud, const struct es_post *p)
{
    struct parse_ctx *x = ud;
    char key[200];
    snprintf(key, sizeof key, "%s:%s", x->src->id, p->id);
    if (!set_add(x->c->ids, key)) {
        uv_mutex_lock(&x->c->lock);
        x->c->repeats++;
        uv_mutex_unlock(&x->c->lock);
    }
    if (x->idx >= 0) {
        uv_mutex_lock(&x->c->lock);
        x->c->deliveries[x->idx]++;
        uv_mutex_unlock(&x->c->lock);
    }
}

static void on_diag(void *ud, const struct es_diag *d)
{
    struct parse_ctx *x = ud;
    (void)d;
    uv_mutex_lock(&x->c->lock);
    x->c->diags++;
    uv_mutex_unlock(&x->c->lock);
}

static void worker(void *arg)
{
    struct consumer *c = arg;
    for (;;) {
        uv_mutex_lock(&c->lock);
        while (!c->head && !c->quit)
            uv_cond_wait(&c->cond, &c->lock);
        struct job *j = c->head;
        if (!j) {
            uv_mutex_unlock(&c->lock);
            return;
        }
        c->head = j->next;
        if (!c->head)
            c->tail = NULL;
        uv_mutex_unlock(&c->lock);

        struct parse_ctx x = {c, j->src, src_index(c, j->src->id)};
        struct es_feed_opts fo = {.format = j->src->format, .source = j->src->id,
                                  .tz_offset_s = 28800};
        struct es_page_meta meta;
        int rc = es_feed_parse_page(j->body, j->len, &fo, on_post, on_diag, &x, &meta);
        uv_mutex_lock(&c->lock);
        c->pages++;
        if (rc < 0)
            c->bad_pages++;
        uv_mutex_unlock(&c->lock);
        j->done(j->done_ud, rc < 0 ? rc : 0, &meta);
        free(j);
    }
}

static void on_page(void *ud, const struct es_source *src, const char *body, size_t len,
                    int64_t fetched_ms, es_page_done_fn *done, void *done_ud)
{
    struct consumer *c = ud;
    (void)fetched_ms;
    struct job *j = calloc(1, sizeof *j);
    *j = (struct job){src, body, len, done, done_ud, NULL};
    uv_mutex_lock(&c->lock);
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    uv_cond_signal(&c->cond);
    uv_mutex_unlock(&c->lock);
}

static void consumer_start(struct consumer *c, struct set *ids)
{
    memset(c, 0, sizeof *c);
    c->ids = ids;
    uv_mutex_init(&c->lock);
    uv_cond_init(&c->cond);
    uv_thread_create(&c->thread, worker, c);
}

static void consumer_stop(struct consumer *c)
{
    uv_mutex_lock(&c->lock);
    c->quit = 1;
    uv_cond_signal(&c->cond);
    uv_mutex_unlock(&c->lock);
    uv_thread_join(&c->thread);
    uv_cond_destroy(&c->cond);
    uv_mutex_destroy(&c->lock);
}

/* ---- an in-memory cursor store ---- */

struct mem_store {
    uv_mutex_t lock;
    char keys[8][64], vals[8][256];
    int n;
    long saves;
};

static char *mem_load(void *ud, const char *id)
{
    struct mem_store *m = ud;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], id) == 0)
            return strdup(m->vals[i]);
    return NULL;
}

static void mem_save(void *ud, const char *id, const char *cursor)
{
    struct mem_store *m = ud;
    m->saves++;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], id) == 0) {
            snprintf(m->vals[i], sizeof m->vals[i], "%s", cursor);
            return;
        }
    if (m->n < 8) {
        snprintf(m->keys[m->n], sizeof m->keys[0], "%s", id);
        snprintf(m->vals[m->n++], sizeof m->vals[0], "%s", cursor);
    }
}

static const char *mem_get(struct mem_store *m, const char *id)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], id) == 0)
            return m->vals[i];
    return "";
}

/* ---- the mock ---- */

struct mock {
    pid_t pid;
    int port;
    char base[64];
};

/* every mock started, so one that a failed assertion left running is still killed */
static pid_t started[8];
static int n_started;

static void kill_leftovers(void)
{
    for (int i = 0; i < n_started; i++)
        if (started[i] > 0 && kill(started[i], SIGTERM) == 0)
            waitpid(started[i], NULL, 0);
}

static int mock_start(struct mock *m, const char *const *extra)
{
    const char *bin = getenv("ES_MOCK_PLATFORM");
    int fds[2];
    if (!bin || pipe(fds) != 0)
        return -1;
    const char *argv[32] = {bin, "--port", "0"};
    int n = 3;
    for (; extra && *extra && n < 30; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    m->pid = fork();
    if (m->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (!getenv("ES_TEST_VERBOSE")) {
            FILE *devnull = freopen("/dev/null", "w", stderr);
            (void)devnull;
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    if (m->pid > 0 && n_started < 8)
        started[n_started++] = m->pid;
    char line[256];
    size_t len = 0;
    while (len < sizeof line - 1) {
        ssize_t r = read(fds[0], line + len, 1);
        if (r <= 0)
            break;
        if (line[len++] == '\n')
            break;
    }
    line[len] = '\0';
    close(fds[0]);
    const char *p = strstr(line, "\"port\":");
    if (!p)
        return -1;
    m->port = atoi(p + 7);
    snprintf(m->base, sizeof m->base, "http://127.0.0.1:%d", m->port);
    return m->port > 0 ? 0 : -1;
}

static void mock_stop(struct mock *m)
{
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        int st;
        waitpid(m->pid, &st, 0);
        for (int i = 0; i < n_started; i++)
            if (started[i] == m->pid)
                started[i] = 0;
        m->pid = 0;
    }
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    return es_buf_append(ud, p, sz * n) == 0 ? sz * n : 0;
}

/* A blocking control call (between loop turns, never inside a callback). */
static json_t *mock_call(struct mock *m, const char *method, const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", m->base, path);
    struct es_buf b;
    es_buf_init(&b, 64 << 20);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    json_t *j = rc == CURLE_OK && b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    es_buf_cleanup(&b);
    return j;
}

static long stat_get(struct mock *m, const char *k1, const char *k2)
{
    json_t *j = mock_call(m, "GET", "/_mock/stats", NULL);
    json_t *v = json_object_get(j, k1);
    if (k2)
        v = json_object_get(v, k2);
    long r = json_is_integer(v) ? (long)json_integer_value(v) : -1;
    json_decref(j);
    return r;
}

/* ---- running the loop ---- */

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop for ms milliseconds (a tick timer keeps UV_RUN_ONCE returning). */
static void run_for(uv_loop_t *loop, uv_timer_t *tick, int64_t ms)
{
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + (uint64_t)ms;
    uv_timer_start(tick, on_tick, 20, 20);
    while (uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(tick);
}

/* Stop the crawler, close our tick, run the loop dry; uv_loop_close's result. */
static int shutdown_loop(uv_loop_t *loop, uv_timer_t *tick, struct es_crawler *cr)
{
    es_crawler_stop(cr, 2000);
    uv_close((uv_handle_t *)tick, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop);
}

/* ---- what the mock published ---- */

struct published {
    char ids[3][20000][24]; /* twitter, weibo, wechat */
    long n[3];
    long last_wechat_seq;
};

static struct published pub;

static void load_published(struct mock *m)
{
    memset(&pub, 0, sizeof pub);
    json_t *j = mock_call(m, "GET", "/_mock/published?limit=100000", NULL);
    size_t i;
    json_t *e;
    json_array_foreach (j, i, e) {
        const char *pf = json_string_value(json_object_get(e, "platform"));
        const json_t *id = json_object_get(e, "id");
        int k = pf && !strcmp(pf, "twitter") ? 0 : pf && !strcmp(pf, "weibo") ? 1 : 2;
        if (pub.n[k] >= 20000)
            continue;
        if (json_is_string(id))
            snprintf(pub.ids[k][pub.n[k]], 24, "%s", json_string_value(id));
        else
            snprintf(pub.ids[k][pub.n[k]], 24, "%lld", (long long)json_integer_value(id));
        pub.n[k]++;
        if (k == 2)
            pub.last_wechat_seq = (long)json_integer_value(json_object_get(e, "seq"));
    }
    json_decref(j);
}

/* posts of platform k the source never saw */
static int quiet_missing;

static long missing(struct set *ids, const char *src, int k)
{
    long miss = 0;
    char key[200];
    for (long i = 0; i < pub.n[k]; i++) {
        snprintf(key, sizeof key, "%s:%s", src, pub.ids[k][i]);
        if (!set_has(ids, key)) {
            if (miss < 3 && !quiet_missing)
                printf("  %s missed %s\n", src, pub.ids[k][i]);
            miss++;
        }
    }
    return miss;
}

static void sources(struct es_source *s, const char *base, int64_t interval_ms)
{
    memset(s, 0, 4 * sizeof *s);
    s[0] = (struct es_source){.id = "tw2", .format = ES_FORMAT_TWITTER_V2, .query = "-qqq",
                              .auth_env = "ES_TEST_TW_TOKEN"};
    s[1] = (struct es_source){.id = "tw1", .format = ES_FORMAT_TWITTER_V1, .query = "-qqq",
                              .auth_env = "ES_TEST_TW_TOKEN"};
    s[2] = (struct es_source){.id = "wb", .format = ES_FORMAT_WEIBO, .query = "-qqq",
                              .auth_env = "ES_TEST_WB_TOKEN"};
    s[3] = (struct es_source){.id = "wx", .format = ES_FORMAT_WECHAT_JSON,
                              .auth_env = "ES_TEST_WX_TOKEN"};
    for (int i = 0; i < 4; i++) {
        s[i].base_url = (char *)base;
        s[i].interval_ms = interval_ms;
        s[i].jitter_ms = interval_ms / 4;
    }
}

static void consumer_names(struct consumer *c, struct es_source *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c->src_names[i] = s[i].id;
    c->n_src = n;
}

/* wait (running the loop) until every source saw every published post; 1 when so */
static int wait_complete(uv_loop_t *loop, uv_timer_t *tick, struct mock *m, struct set *ids,
                         int64_t max_ms)
{
    for (int64_t waited = 0; waited < max_ms; waited += 500) {
        run_for(loop, tick, 500);
        load_published(m);
        quiet_missing = 1;
        int done = !missing(ids, "tw2", 0) && !missing(ids, "tw1", 0) && !missing(ids, "wb", 1);
        quiet_missing = 0;
        if (done)
            return 1;
    }
    return 0;
}

static void print_health(struct es_crawler *cr, struct es_source *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct es_source_health *h = es_crawler_health(cr, i);
        printf("  %-4s pages=%llu posts=%llu not_modified=%llu errors=%llu rate_limited=%llu "
               "lag_ms=%lld last_error=\"%s\"\n",
               s[i].id, (unsigned long long)h->pages, (unsigned long long)h->posts,
               (unsigned long long)h->not_modified, (unsigned long long)h->errors,
               (unsigned long long)h->rate_limited, (long long)h->lag_ms, h->last_error);
    }
}

/* ---- tests ---- */

ES_TEST(every_shape_delivers_every_published_post_and_counts_304s)
{
    struct mock m = {0};
    const char *args[] = {"--rate", "100", "--prefill", "300", "--max-posts", "600", "--seed",
                          "3", NULL};
    ES_ASSERT(mock_start(&m, args) == 0);
    uv_loop_t loop;
    uv_timer_t tick;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    struct set ids;
    set_init(&ids);
    struct consumer cons;
    consumer_start(&cons, &ids);
    struct mem_store ms = {0};
    struct es_cursor_store store = {mem_load, mem_save, &ms};
    struct es_source src[4];
    sources(src, m.base, 200);
    consumer_names(&cons, src, 4);
    struct es_crawl_opts o = {.backoff_base_ms = 200, .backoff_max_ms = 2000};
    struct es_crawler *cr = NULL;
    struct es_diag d = {0};
    int rc = es_crawler_start(&loop, src, 4, &o, &store, on_page, &cons, &cr, &d);
    if (rc)
        printf("  start: %s %s\n", es_strerror(rc), d.msg);
    ES_ASSERT_EQ(rc, 0);

    /* compare once the mock has published all 600 posts (see the fault test) */
    for (int waited = 0; waited < 30000 && stat_get(&m, "posts_generated", NULL) < 600;
         waited += 250)
        run_for(&loop, &tick, 250);
    int complete = wait_complete(&loop, &tick, &m, &ids, 20000);
    run_for(&loop, &tick, 1500); /* nothing new: polls now get 304 */
    load_published(&m);
    print_health(cr, src, 4);
    long miss_tw2 = missing(&ids, "tw2", 0), miss_tw1 = missing(&ids, "tw1", 0),
         miss_wb = missing(&ids, "wb", 1);
    uint64_t wx_errors = es_crawler_health(cr, 3)->errors;
    uint64_t nm = 0;
    for (int i = 0; i < 4; i++)
        nm += es_crawler_health(cr, (size_t)i)->not_modified;
    long mock_nm = stat_get(&m, "not_modified", NULL);
    char wx_cursor[64];
    snprintf(wx_cursor, sizeof wx_cursor, "%s", mem_get(&ms, "wx"));
    long wx_delivered = cons.deliveries[3];
    int closed = shutdown_loop(&loop, &tick, cr);
    consumer_stop(&cons);
    mock_stop(&m);
    printf("  published twitter=%ld weibo=%ld wechat=%ld; wechat delivered=%ld cursor=%s "
           "repeats=%ld 304s=%llu\n",
           pub.n[0], pub.n[1], pub.n[2], wx_delivered, wx_cursor, cons.repeats,
           (unsigned long long)nm);
    set_free(&ids);
    ES_ASSERT(complete);
    ES_ASSERT_EQ(miss_tw2, 0);
    ES_ASSERT_EQ(miss_tw1, 0);
    ES_ASSERT_EQ(miss_wb, 0);
    /* WeChat records carry no post id: count them, and the cursor is past the last one */
    ES_ASSERT_EQ(wx_delivered, pub.n[2]);
    ES_ASSERT_EQ(atol(wx_cursor), pub.last_wechat_seq + 1);
    ES_ASSERT_EQ(wx_errors, 0);
    ES_ASSERT(nm > 0);
    ES_ASSERT(mock_nm > 0);
    ES_ASSERT_EQ(closed, 0);
}

ES_TEST(cursor_survives_a_restart_without_skips_or_refetching_old_pages)
{
    struct mock m = {0};
    const char *args[] = {"--rate", "100", "--prefill", "200", "--max-posts", "900", "--seed",
                          "5", NULL};
    ES_ASSERT(mock_start(&m, args) == 0);
    struct set ids_a, ids_b;
    set_init(&ids_a);
    set_init(&ids_b);
    struct mem_store ms = {0};
    struct es_cursor_store store = {mem_load, mem_save, &ms};
    struct es_source src[4];
    sources(src, m.base, 200);
    struct es_crawl_opts o = {.backoff_base_ms = 200, .backoff_max_ms = 2000};
    struct es_diag d = {0};
    int closed[2];
    long wx_delivered = 0;

    /* run A: 2 s, then stop (graceful) */
    for (int run = 0; run < 2; run++) {
        uv_loop_t loop;
        uv_timer_t tick;
        uv_loop_init(&loop);
        uv_timer_init(&loop, &tick);
        struct consumer cons;
        consumer_start(&cons, run == 0 ? &ids_a : &ids_b);
        consumer_names(&cons, src, 4);
        struct es_crawler *cr = NULL;
        int rc = es_crawler_start(&loop, src, 4, &o, &store, on_page, &cons, &cr, &d);
        ES_ASSERT_EQ(rc, 0);
        if (run == 0) {
            run_for(&loop, &tick, 2000);
        } else {
            for (int waited = 0; waited < 20000; waited += 500) {
                run_for(&loop, &tick, 500);
                load_published(&m);
                long miss = 0;
                for (int k = 0; k < 2; k++)
                    for (long i = 0; i < pub.n[k]; i++) {
                        const char *names[2][2] = {{"tw2", "tw1"}, {"wb", "wb"}};
                        for (int q = 0; q < 2; q++) {
                            char key[200];
                            snprintf(key, sizeof key, "%s:%s", names[k][q], pub.ids[k][i]);
                            if (!set_has(&ids_a, key) && !set_has(&ids_b, key))
                                miss++;
                        }
                    }
                if (miss == 0 && stat_get(&m, "posts_generated", NULL) >= 900)
                    break;
            }
            run_for(&loop, &tick, 500);
            print_health(cr, src, 4);
        }
        closed[run] = shutdown_loop(&loop, &tick, cr);
        consumer_stop(&cons);
        wx_delivered += cons.deliveries[3];
        printf("  run %c: cursors tw2=%s tw1=%s wb=%s wx=%s\n", 'A' + run, mem_get(&ms, "tw2"),
               mem_get(&ms, "tw1"), mem_get(&ms, "wb"), mem_get(&ms, "wx"));
    }
    load_published(&m);
    mock_stop(&m);
    /* nothing skipped: every post reached A or B */
    long miss = 0, overlap[3] = {0};
    const char *names[3] = {"tw2", "tw1", "wb"};
    for (int q = 0; q < 3; q++) {
        int k = q == 2 ? 1 : 0;
        for (long i = 0; i < pub.n[k]; i++) {
            char key[200];
            snprintf(key, sizeof key, "%s:%s", names[q], pub.ids[k][i]);
            int a = set_has(&ids_a, key), b = set_has(&ids_b, key);
            miss += !a && !b;
            overlap[q] += a && b;
        }
    }
    printf("  refetched after restart: tw2=%ld tw1=%ld wb=%ld; wechat %ld of %ld\n", overlap[0],
           overlap[1], overlap[2], wx_delivered, pub.n[2]);
    set_free(&ids_a);
    set_free(&ids_b);
    ES_ASSERT_EQ(miss, 0);
    ES_ASSERT_EQ(wx_delivered, pub.n[2]);
    /* the dedup window: at most one page per source is read again */
    ES_ASSERT(overlap[0] <= 100);
    ES_ASSERT(overlap[1] <= 100);
    ES_ASSERT(overlap[2] <= 10);
    ES_ASSERT_EQ(closed[0], 0);
    ES_ASSERT_EQ(closed[1], 0);
}

ES_TEST(every_fault_kind_is_logged_and_survived_with_no_post_lost)
{
    struct mock m = {0};
    const char *args[] = {"--rate", "40", "--prefill", "100", "--max-posts", "500", "--seed",
                          "9", NULL};
    ES_ASSERT(mock_start(&m, args) == 0);
    uv_loop_t loop;
    uv_timer_t tick;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    struct set ids;
    set_init(&ids);
    struct consumer cons;
    consumer_start(&cons, &ids);
    struct mem_store ms = {0};
    struct es_cursor_store store = {mem_load, mem_save, &ms};
    struct es_source src[4];
    sources(src, m.base, 150);
    consumer_names(&cons, src, 4);
    struct es_crawl_opts o = {.backoff_base_ms = 100, .backoff_max_ms = 1000,
                              .total_timeout_ms = 4000, .low_speed_bytes = 1000,
                              .low_speed_s = 1};
    struct es_crawler *cr = NULL;
    struct es_diag d = {0};
    ES_ASSERT_EQ(es_crawler_start(&loop, src, 4, &o, &store, on_page, &cons, &cr, &d), 0);
    run_for(&loop, &tick, 600);
    json_t *q = mock_call(
        &m, "POST", "/_mock/faults",
        "[{\"path_prefix\":\"/2/tweets/search\",\"kind\":\"5xx\",\"count\":2},"
        "{\"path_prefix\":\"/2/tweets/search\",\"kind\":\"truncated\"},"
        "{\"path_prefix\":\"/2/tweets/search\",\"kind\":\"huge\"},"
        "{\"path_prefix\":\"/1.1/search\",\"kind\":\"429\",\"retry_after_s\":1},"
        "{\"path_prefix\":\"/1.1/search\",\"kind\":\"invalid_json\"},"
        "{\"path_prefix\":\"/1.1/search\",\"kind\":\"reset\"},"
        "{\"path_prefix\":\"/api/container\",\"kind\":\"stall\"},"
        "{\"path_prefix\":\"/api/container\",\"kind\":\"invalid_utf8\"},"
        "{\"path_prefix\":\"/api/container\",\"kind\":\"wrong_content_type\"},"
        "{\"path_prefix\":\"/cgi-bin/customservice\",\"kind\":\"slow\",\"chunk_bytes\":16},"
        "{\"path_prefix\":\"/cgi-bin/customservice\",\"kind\":\"5xx\"}]");
    json_decref(q);
    /* until the queue is used up, then until everything is delivered */
    int drained = 0;
    for (int waited = 0; waited < 20000 && !drained; waited += 250) {
        run_for(&loop, &tick, 250);
        json_t *f = mock_call(&m, "GET", "/_mock/faults", NULL);
        drained = json_array_size(json_object_get(f, "faults")) == 0;
        json_decref(f);
    }
    /* The mock publishes its 500 posts over about ten seconds: compare only once it has
     * published them all, or the newest posts would count as missed before their poll. */
    for (int waited = 0; waited < 30000 && stat_get(&m, "posts_generated", NULL) < 500;
         waited += 250)
        run_for(&loop, &tick, 250);
    int complete = wait_complete(&loop, &tick, &m, &ids, 20000);
    for (int waited = 0; waited < 10000 && cons.deliveries[3] < pub.n[2]; waited += 250)
        run_for(&loop, &tick, 250);
    print_health(cr, src, 4);
    load_published(&m);
    long miss = missing(&ids, "tw2", 0) + missing(&ids, "tw1", 0) + missing(&ids, "wb", 1);
    uint64_t err[4], rl[4];
    for (size_t i = 0; i < 4; i++) {
        err[i] = es_crawler_health(cr, i)->errors;
        rl[i] = es_crawler_health(cr, i)->rate_limited;
    }
    /* WeChat may still be on its last page: give it a moment */
    run_for(&loop, &tick, 800);
    long wx_delivered = cons.deliveries[3];
    const char *kinds[] = {"5xx", "429", "stall", "slow", "truncated", "invalid_json",
                           "invalid_utf8", "huge", "wrong_content_type", "reset"};
    json_t *st = mock_call(&m, "GET", "/_mock/stats", NULL);
    long injected[10];
    for (int i = 0; i < 10; i++) {
        json_t *v = json_object_get(json_object_get(st, "faults"), kinds[i]);
        injected[i] = json_is_integer(v) ? (long)json_integer_value(v) : 0;
        printf("  fault %-18s injected %ld\n", kinds[i], injected[i]);
    }
    json_decref(st);
    int closed = shutdown_loop(&loop, &tick, cr);
    consumer_stop(&cons);
    load_published(&m);
    mock_stop(&m);
    set_free(&ids);
    ES_ASSERT(drained);
    ES_ASSERT(complete);
    ES_ASSERT_EQ(miss, 0);
    ES_ASSERT_EQ(wx_delivered, pub.n[2]);
    for (int i = 0; i < 10; i++)
        ES_ASSERT(injected[i] >= 1);
    /* logged: 5xx x2 + truncated on tw2; invalid_json (+ reset) on tw1; stall and
     * wrong_content_type on wb; 5xx on wx (slow may finish on a small page); 429 apart */
    ES_ASSERT(err[0] >= 3);
    ES_ASSERT(err[1] >= 1);
    ES_ASSERT(rl[1] >= 1);
    ES_ASSERT(err[2] >= 2);
    ES_ASSERT(err[3] >= 1);
    ES_ASSERT_EQ(closed, 0);
}

ES_TEST(bad_sources_are_refused_with_the_source_named)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct es_source s[4];
    sources(s, "http://127.0.0.1:1", 100);
    struct es_crawler *cr = NULL;
    struct es_diag d = {0};
    s[0].base_url = "ftp://127.0.0.1/";
    ES_ASSERT_EQ(es_crawler_start(&loop, s, 1, NULL, NULL, on_page, NULL, &cr, &d), ES_EINVAL);
    ES_ASSERT_STR(d.file, "tw2");
    s[0].base_url = "http://127.0.0.1:1";
    s[1].id = "tw2";
    ES_ASSERT_EQ(es_crawler_start(&loop, s, 2, NULL, NULL, on_page, NULL, &cr, &d), ES_EINVAL);
    s[1].id = "tw1";
    s[1].auth_env = "ES_TEST_NOT_SET_ANYWHERE";
    ES_ASSERT_EQ(es_crawler_start(&loop, s, 2, NULL, NULL, on_page, NULL, &cr, &d), ES_EINVAL);
    ES_ASSERT(strstr(d.msg, "ES_TEST_NOT_SET_ANYWHERE") != NULL);
    ES_ASSERT(cr == NULL);
    ES_ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    if (!getenv("ES_MOCK_PLATFORM")) {
        printf("ES_MOCK_PLATFORM is not set: skipped\n");
        return 0;
    }
    setenv("ES_TEST_TW_TOKEN", "test-bearer-token", 1);
    setenv("ES_TEST_WB_TOKEN", "test-weibo-token", 1);
    setenv("ES_TEST_WX_TOKEN", "test-wechat-token", 1);
    if (!getenv("ES_TEST_VERBOSE"))
        es_log_set_level(ES_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ES_RUN(bad_sources_are_refused_with_the_source_named);
    ES_RUN(every_shape_delivers_every_published_post_and_counts_304s);
    ES_RUN(cursor_survives_a_restart_without_skips_or_refetching_old_pages);
    ES_RUN(every_fault_kind_is_logged_and_survived_with_no_post_lost);
    kill_leftovers();
    curl_global_cleanup();
    return ES_DONE();
}
