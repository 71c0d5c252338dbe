/*
 * earshot demo [--port 8088] [--rate N]: the whole loop on one machine, with
 * nothing to configure.
 *
 *   demo ──spawn──> es-mock-platform (loopback, a live stream of posts)
 *     │  ──start──> redis-server (embedded, in the demo's data directory)
 *     │  writes <dir>/demo.json: one source per platform shape, geo fences
 *     │  around the mock's places, the HTTP listen address
 *     │  creates an admin token, prints the console URL and the token
 *     └──> es_cli_serve("serve --config <dir>/demo.json") in this process
 *
 * SIGINT/SIGTERM: serve drains and returns; then the mock is stopped (SIGTERM,
 * waited for) and redis-server too. Nothing is left running. Each run starts
 * from an empty data set (the mock's post ids start again at 1, so the seen
 * set and cursors of an earlier run would hide its posts).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "earshot/api.h"
#include "earshot/store.h"

struct demo {
    char dir[512];       /* the demo's data directory (ours, mode 0700) */
    char redis_dir[600]; /* dir/redis: wiped at start */
    char config[600];    /* dir/demo.json */
    char mock_out[600];  /* the mock's stdout: its "listening" line */
    char mock_log[600];  /* the mock's stderr */
    char mock_path[PATH_MAX];
    char sock[1024];
    char redis_url[1100];
    int port, rate, mock_port;
    pid_t mock;
    struct es_redis_child *redis;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: earshot demo [--port 8088] [--rate N] [--data-dir DIR]\n"
            "\n"
            "Runs the whole loop on this machine: the mock platform publishing a live stream\n"
            "of posts (Chinese and English complaints, indirect ones, praise, geo-tagged),\n"
            "an embedded redis-server, and earshot serve with the API and the web console on\n"
            "127.0.0.1:PORT. Prints the console's URL and an admin token. Ctrl-C stops\n"
            "everything. Each run starts from an empty data set.\n"
            "\n"
            "options:\n"
            "  --port N         console and API port (default 8088)\n"
            "  --rate N         posts the mock publishes per second (default 4, 0-1000)\n"
            "  --data-dir DIR   where the demo keeps its files (default\n"
            "                   $XDG_RUNTIME_DIR/earshot-demo, else /tmp/earshot-demo-<uid>)\n"
            "\n"
            "The mock platform is es-mock-platform next to this binary, or $ES_MOCK_PLATFORM.\n");
}

static int sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    return nanosleep(&ts, NULL);
}

/* own_dir makes dir (mode 0700) or accepts it when it is a directory of ours, not a
 * symlink: under /tmp another user could have made it first. */
static int own_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "earshot demo: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid()) {
        fprintf(stderr, "earshot demo: %s is not a directory owned by you; use --data-dir\n", dir);
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* socket_answers: something listens on the unix socket (another demo's redis). */
static bool socket_answers(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path)
        return false;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int find_mock(struct demo *dm)
{
    const char *env = getenv("ES_MOCK_PLATFORM");
    if (env && *env) {
        snprintf(dm->mock_path, sizeof dm->mock_path, "%s", env);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "earshot demo: /proc/self/exe: %s\n", strerror(errno));
            return -1;
        }
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        if (snprintf(dm->mock_path, sizeof dm->mock_path, "%s/es-mock-platform", self) >=
            (int)sizeof dm->mock_path)
            return -1;
    }
    if (access(dm->mock_path, X_OK) != 0) {
        fprintf(stderr,
                "earshot demo: no mock platform at %s (build the es-mock-platform target, or "
                "set ES_MOCK_PLATFORM)\n",
                dm->mock_path);
        return -1;
    }
    return 0;
}

/* mock_start spawns the mock in its own process group (a terminal's Ctrl-C reaches the
 * demo, which stops the mock after serve has drained) and reads its port. */
static int mock_start(struct demo *dm)
{
    char rate[16];
    snprintf(rate, sizeof rate, "%d", dm->rate);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "earshot demo: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int in = open("/dev/null", O_RDONLY);
        int out = open(dm->mock_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(dm->mock_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(127);
        execl(dm->mock_path, "es-mock-platform", "--host", "127.0.0.1", "--port", "0", "--rate",
              rate, "--prefill", "40", "--seed", "7", (char *)NULL);
        _exit(127);
    }
    dm->mock = pid;
    /* the first stdout line: {"event":"listening","port":N} (10 s at most) */
    for (int i = 0; i < 200 && !g_stop; i++) {
        FILE *f = fopen(dm->mock_out, "r");
        char line[256] = "";
        if (f) {
            if (!fgets(line, sizeof line, f))
                line[0] = '\0';
            fclose(f);
        }
        const char *p = strstr(line, "\"port\":");
        if (p && strstr(line, "listening")) {
            dm->mock_port = atoi(p + 7);
            if (dm->mock_port > 0)
                return 0;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            dm->mock = 0;
            fprintf(stderr, "earshot demo: the mock platform exited at start (see %s)\n",
                    dm->mock_log);
            return -1;
        }
        sleep_ms(50);
    }
    fprintf(stderr, "earshot demo: the mock platform did not start listening\n");
    return -1;
}

/* mock_stop: SIGTERM, wait up to 5 s, then SIGKILL. */
static void mock_stop(struct demo *dm)
{
    if (dm->mock <= 0)
        return;
    kill(dm->mock, SIGTERM);
    int status;
    for (int i = 0; i < 100; i++) {
        pid_t r = waitpid(dm->mock, &status, WNOHANG);
        if (r == dm->mock || (r < 0 && errno == ECHILD)) {
            dm->mock = 0;
            return;
        }
        sleep_ms(50);
    }
    kill(dm->mock, SIGKILL);
    waitpid(dm->mock, &status, 0);
    dm->mock = 0;
}

static json_t *fence(const char *id, const char *brand, const char *name, const char *team,
                     double lat, double lon)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:{s:f,s:f,s:i}}", "id", id, "brand", brand, "name", name,
                     "team", team, "circle", "lat", lat, "lon", lon, "radius_m", 1500);
}

/* write_config: serve's config for the demo. Sources for every platform shape the
 * mock speaks; fences around the mock's six places (tests/mock/gen.c). */
static int write_config(const struct demo *dm)
{
    char base[64], listen[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", dm->mock_port);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", dm->port);
    json_t *sources =
        json_pack("[{s:s,s:s,s:s,s:s,s:f},"
                  " {s:s,s:s,s:s,s:s,s:f,s:{s:f,s:f,s:f}},"
                  " {s:s,s:s,s:s,s:f},"
                  " {s:s,s:s,s:s,s:s,s:f}]",
                  "id", "demo-twitter", "platform", "twitter-v2", "base_url", base, "query",
                  "-zzzz", "interval_s", 1.0, "id", "demo-twitter-jfk", "platform", "twitter-v1",
                  "base_url", base, "query", "-zzzz", "interval_s", 3.0, "geo", "lat", 40.6413,
                  "lon", -73.7781, "radius_km", 5.0, "id", "demo-weibo", "platform", "weibo",
                  "base_url", base, "interval_s", 1.0, "id", "demo-wechat", "platform", "wechat",
                  "base_url", base, "auth_env", "EARSHOT_DEMO_WECHAT_TOKEN", "interval_s", 2.0);
    json_t *fences = json_array();
    if (fences) {
        static const struct {
            const char *id, *brand, *name, *team;
            double lat, lon;
        } places[] = {
            {"xidan", "starbucks", "西单大悦城店", "bj-stores", 39.9087, 116.3747},
            {"peoples-square", "kfc", "人民广场店", "sh-stores", 31.2323, 121.4692},
            {"pek-t3", "didi", "首都机场T3 网约车上车点", "bj-airport", 40.0799, 116.6031},
            {"jfk", "delta", "JFK Terminal 4", "nyc-airports", 40.6413, -73.7781},
            {"times-square", "mcdonalds", "Times Square", "nyc-stores", 40.7580, -73.9855},
            {"ohare", "united", "O'Hare Terminal 1", "chi-airports", 41.9742, -87.9073},
        };
        for (size_t i = 0; i < sizeof places / sizeof *places; i++)
            json_array_append_new(fences, fence(places[i].id, places[i].brand, places[i].name,
                                                places[i].team, places[i].lat, places[i].lon));
    }
    json_t *root = json_pack("{s:s,s:s,s:o,s:o,s:{s:s},s:{s:i}}", "redis_url", dm->redis_url,
                             "log_level", "warn", "sources", sources, "fences", fences, "http",
                             "listen", listen, "crawl", "backoff_max_ms", 5000);
    if (!root) {
        fprintf(stderr, "earshot demo: out of memory\n");
        return -1;
    }
    int rc = json_dump_file(root, dm->config, JSON_INDENT(2));
    json_decref(root);
    if (rc != 0) {
        fprintf(stderr, "earshot demo: cannot write %s\n", dm->config);
        return -1;
    }
    return 0;
}

static int make_token(const struct demo *dm, char *token, size_t n)
{
    struct es_store_opts so = {dm->redis_url, NULL, 0};
    struct es_diag d = {0};
    struct es_store *s = NULL;
    int rc = es_store_open(&so, &s, &d);
    if (rc) {
        fprintf(stderr, "earshot demo: redis: %s\n", d.msg[0] ? d.msg : es_strerror(rc));
        return -1;
    }
    char id[32];
    rc = es_api_token_create(s, "admin", "demo", token, n, id, sizeof id);
    es_store_close(s);
    if (rc) {
        fprintf(stderr, "earshot demo: token: %s\n", es_strerror(rc));
        return -1;
    }
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int es_cli_demo(int argc, char **argv)
{
    static const struct option lo[] = {{"port", required_argument, NULL, 'p'},
                                       {"rate", required_argument, NULL, 'r'},
                                       {"data-dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    struct demo dm;
    memset(&dm, 0, sizeof dm);
    dm.port = 8088;
    dm.rate = 4;
    const char *dir = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (parse_int(optarg, 1, 65535, &dm.port)) {
                fprintf(stderr, "earshot demo: --port: 1 to 65535\n");
                return ES_EXIT_USAGE;
            }
            break;
        case 'r':
            if (parse_int(optarg, 0, 1000, &dm.rate)) {
                fprintf(stderr, "earshot demo: --rate: 0 to 1000 posts per second\n");
                return ES_EXIT_USAGE;
            }
            break;
        case 'd':
            dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return ES_EXIT_OK;
        default:
            usage(stderr);
            return ES_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (dir)
        snprintf(dm.dir, sizeof dm.dir, "%s", dir);
    else if (xdg && *xdg)
        snprintf(dm.dir, sizeof dm.dir, "%s/earshot-demo", xdg);
    else
        snprintf(dm.dir, sizeof dm.dir, "/tmp/earshot-demo-%u", (unsigned)getuid());
    snprintf(dm.redis_dir, sizeof dm.redis_dir, "%s/redis", dm.dir);
    snprintf(dm.config, sizeof dm.config, "%s/demo.json", dm.dir);
    snprintf(dm.mock_out, sizeof dm.mock_out, "%s/mock.out", dm.dir);
    snprintf(dm.mock_log, sizeof dm.mock_log, "%s/mock.log", dm.dir);
    snprintf(dm.sock, sizeof dm.sock, "%s/redis.sock", dm.redis_dir);
    if (own_dir(dm.dir) || find_mock(&dm))
        return ES_EXIT_FOUND;
    if (socket_answers(dm.sock)) {
        fprintf(stderr, "earshot demo: another demo is running in %s (or use --data-dir)\n",
                dm.dir);
        return ES_EXIT_FOUND;
    }

    /* Until serve installs its own handlers, a signal only sets a flag. */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    int code = ES_EXIT_FOUND;
    bool served = false;
    char token[160] = "";
    struct es_diag d = {0};
    if (nftw(dm.redis_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
        fprintf(stderr, "earshot demo: cannot clear %s: %s\n", dm.redis_dir, strerror(errno));
        goto out;
    }
    if (mock_start(&dm) || g_stop)
        goto out;
    if (es_redis_child_start(dm.redis_dir, &dm.redis, dm.sock, sizeof dm.sock, &d) != 0) {
        fprintf(stderr, "earshot demo: %s\n", d.msg);
        goto out;
    }
    snprintf(dm.redis_url, sizeof dm.redis_url, "unix://%s", dm.sock);
    if (g_stop || write_config(&dm) || make_token(&dm, token, sizeof token) || g_stop)
        goto out;
    setenv("EARSHOT_DEMO_WECHAT_TOKEN", "demo", 1);

    printf("earshot demo\n"
           "  console  http://127.0.0.1:%d/\n"
           "  token    %s\n"
           "  sign in  http://127.0.0.1:%d/#token=%s\n"
           "  mock     http://127.0.0.1:%d (%d posts/s; pid %d)\n"
           "  redis    %s (pid %d)\n"
           "  data     %s (config demo.json)\n"
           "Ctrl-C stops everything.\n",
           dm.port, token, dm.port, token, dm.mock_port, dm.rate, (int)dm.mock, dm.redis_url,
           es_redis_child_pid(dm.redis), dm.dir);
    fflush(stdout);

    char a0[] = "serve", a1[] = "--config";
    char *sargv[] = {a0, a1, dm.config, NULL};
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    served = !g_stop;
    code = served ? es_cli_serve(3, sargv) : ES_EXIT_OK;

out:
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    memset(token, 0, sizeof token);
    mock_stop(&dm);
    es_redis_child_stop(dm.redis);
    if (g_stop && !served)
        code = ES_EXIT_OK; /* interrupted while starting: not a failure */
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return code;
}
