/*
 * es-mock-platform: options, the loop, signals and shutdown.
 *
 * Shutdown (SIGTERM, SIGINT or --duration-s): every handle is closed (the
 * listener, connections, timers, signals), the loop runs dry and
 * uv_loop_close() must return 0; then the ring, the posted records and the
 * fault rules are freed. stdout carries two JSON lines for harnesses:
 *   {"event":"listening","port":N}        once the socket is bound
 *   {"event":"stopped","reason":"...",...} on the way out
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "earshot/alloc.h"
#include "earshot/log.h"
#include "mock.h"

static const char usage[] =
    "usage: es-mock-platform [options]\n"
    "  --host ADDR          loopback address to bind (127.0.0.1; ::1; others are refused)\n"
    "  --port N             TCP port, 0 = ephemeral (default 0)\n"
    "  --rate N             posts published per second (default 20; 0 = none)\n"
    "  --seed N             seed of the post stream (default 1)\n"
    "  --replay FILE.jsonl  publish these posts ({id,text,author,created_at,lang,geo}) instead\n"
    "  --max-posts N        stop publishing after N posts\n"
    "  --prefill N          publish N posts at start-up\n"
    "  --duration-s N       exit by itself after N seconds\n"
    "  --fault-rate P       inject a random fault into this fraction of platform requests\n"
    "  --fault-kinds LIST   kinds --fault-rate picks from (default: all but stall)\n"
    "  --platforms LIST     twitter,weibo,wechat (default: all three)\n"
    "  --ring N             published posts kept for paging (default 1000000)\n"
    "  --authors N          generated authors posting (default and at most 4000)\n"
    "  --max-posted N       replies/DMs recorded at most (default 1000000)\n"
    "  --help\n";

static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "es-mock-platform: %s needs a value\n", name);
        exit(2);
    }
    *val = argv[++*i];
    return 1;
}

static double num(const char *name, const char *v, double lo, double hi)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "es-mock-platform: %s: \"%s\" is not a number in [%g, %g]\n", name, v, lo,
                hi);
        exit(2);
    }
    return d;
}

static unsigned platform_list(const char *v)
{
    unsigned mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "twitter") == 0)
            mask |= 1u << MOCK_TWITTER;
        else if (strcmp(t, "weibo") == 0)
            mask |= 1u << MOCK_WEIBO;
        else if (strcmp(t, "wechat") == 0)
            mask |= 1u << MOCK_WECHAT;
        else {
            fprintf(stderr, "es-mock-platform: --platforms: unknown platform \"%s\"\n", t);
            exit(2);
        }
    }
    if (!mask) {
        fprintf(stderr, "es-mock-platform: --platforms: empty list\n");
        exit(2);
    }
    return mask;
}

static unsigned fault_list(const char *v)
{
    unsigned mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = strcmp(t, "all") == 0 ? 0 : mock_fault_from_name(t);
        if (k < 0) {
            fprintf(stderr, "es-mock-platform: --fault-kinds: unknown kind \"%s\"\n", t);
            exit(2);
        }
        mask |= k == 0 ? ~1u : 1u << k;
    }
    return mask;
}

static void parse_args(struct mock *m, int argc, char **argv)
{
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        } else if (opt_value(argc, argv, &i, "--host", &v)) {
            snprintf(m->host, sizeof m->host, "%s", v);
        } else if (opt_value(argc, argv, &i, "--port", &v)) {
            m->port = (int)num("--port", v, 0, 65535);
        } else if (opt_value(argc, argv, &i, "--rate", &v)) {
            m->rate = num("--rate", v, 0, 10e6);
        } else if (opt_value(argc, argv, &i, "--seed", &v)) {
            m->seed = (uint64_t)strtoull(v, NULL, 10);
        } else if (opt_value(argc, argv, &i, "--replay", &v)) {
            m->replay_path = v;
        } else if (opt_value(argc, argv, &i, "--max-posts", &v)) {
            m->max_posts = (uint64_t)num("--max-posts", v, 0, 1e15);
        } else if (opt_value(argc, argv, &i, "--prefill", &v)) {
            m->prefill = (uint64_t)num("--prefill", v, 0, 1e9);
        } else if (opt_value(argc, argv, &i, "--duration-s", &v)) {
            m->duration_s = num("--duration-s", v, 0, 1e7);
        } else if (opt_value(argc, argv, &i, "--fault-rate", &v)) {
            m->fault_rate = num("--fault-rate", v, 0, 1);
        } else if (opt_value(argc, argv, &i, "--fault-kinds", &v)) {
            m->fault_kinds_mask = fault_list(v);
        } else if (opt_value(argc, argv, &i, "--platforms", &v)) {
            m->platforms_mask = platform_list(v);
        } else if (opt_value(argc, argv, &i, "--authors", &v)) {
            m->nauth = (uint32_t)num("--authors", v, 2, MOCK_NAUTH);
        } else if (opt_value(argc, argv, &i, "--ring", &v)) {
            m->ring_cap = (uint64_t)num("--ring", v, 1, 1e8);
        } else if (opt_value(argc, argv, &i, "--max-posted", &v)) {
            m->max_posted = (size_t)num("--max-posted", v, 0, 1e8);
        } else {
            fprintf(stderr, "es-mock-platform: unknown option %s\n%s", argv[i], usage);
            exit(2);
        }
    }
}

static const char *stop_reason = "signal";

static void stop(struct mock *m)
{
    if (m->stopping)
        return;
    m->stopping = 1;
    uv_close((uv_handle_t *)&m->gen_timer, NULL);
    uv_close((uv_handle_t *)&m->stop_timer, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    mock_server_stop(m);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    stop_reason = "signal";
    stop(s->data);
}

static void on_duration(uv_timer_t *t)
{
    stop_reason = "duration";
    stop(t->data);
}

static void on_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    es_log(ES_LOG_ERROR, "mock", "handle left open at exit: %s", uv_handle_type_name(h->type));
}

int main(int argc, char **argv)
{
    static struct mock mock; /* large: keep it off the stack */
    struct mock *m = &mock;
    uv_loop_t loop;
    int rc = 0;

    snprintf(m->host, sizeof m->host, "127.0.0.1");
    m->rate = 20;
    m->seed = 1;
    m->ring_cap = 1000000;
    m->nauth = MOCK_NAUTH;
    m->max_posted = 1000000;
    m->platforms_mask = 7;
    m->fault_kinds_mask = ~1u & ~(1u << MOCK_FAULT_STALL);
    parse_args(m, argc, argv);
    m->fault_rng = m->seed ^ 0xfa017ull;

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    m->route_hits = es_calloc(mock_route_count(), sizeof *m->route_hits);
    if (!m->route_hits)
        return 1;
    if (m->replay_path && mock_replay_load(m, m->replay_path) != 0) {
        mock_gen_cleanup(m);
        es_free(m->route_hits);
        return 2;
    }
    if (uv_loop_init(&loop) != 0)
        return 1;
    m->loop = &loop;

    rc = mock_server_start(m);
    if (rc != 0 || mock_gen_start(m) != 0) {
        rc = rc == -2 ? 2 : 1;
        if (m->listener.loop)
            uv_close((uv_handle_t *)&m->listener, NULL);
        if (m->gen_timer.loop)
            uv_close((uv_handle_t *)&m->gen_timer, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        mock_gen_cleanup(m);
        es_free(m->route_hits);
        return rc;
    }
    uv_timer_init(&loop, &m->stop_timer);
    m->stop_timer.data = m;
    if (m->duration_s > 0)
        uv_timer_start(&m->stop_timer, on_duration, (uint64_t)(m->duration_s * 1000), 0);
    uv_signal_init(&loop, &m->sigterm);
    uv_signal_init(&loop, &m->sigint);
    m->sigterm.data = m->sigint.data = m;
    uv_signal_start(&m->sigterm, on_signal, SIGTERM);
    uv_signal_start(&m->sigint, on_signal, SIGINT);

    printf("{\"event\":\"listening\",\"port\":%d}\n", m->port);
    fflush(stdout);

    uv_run(&loop, UV_RUN_DEFAULT);
    printf("{\"event\":\"stopped\",\"reason\":\"%s\",\"posts_generated\":%llu,\"requests\":%llu}\n",
           stop_reason, (unsigned long long)m->stats.posts_generated,
           (unsigned long long)m->stats.requests);
    fflush(stdout);
    if (uv_loop_close(&loop) != 0) {
        uv_walk(&loop, on_walk, NULL);
        rc = 1;
    }
    mock_routes_cleanup(m);
    mock_gen_cleanup(m);
    es_free(m->route_hits);
    return rc;
}
