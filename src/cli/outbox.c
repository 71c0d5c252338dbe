/* earshot outbox run: the worker that posts accepted replies and DMs. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "earshot/respond.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: earshot outbox run [options]\n"
            "\n"
            "Posts the replies and DMs that the responder accepted, through each platform's\n"
            "API, with an idempotency key per entry; retries 429, 5xx and network errors\n"
            "with exponential backoff; dead-letters the rest ('earshot outbox dead').\n"
            "Several workers may run at once; a crashed worker's entries are taken over.\n"
            "\n"
            "  --twitter-url URL   Twitter API base (default $EARSHOT_TWITTER_API_URL)\n"
            "  --weibo-url URL     Weibo API base (default $EARSHOT_WEIBO_API_URL)\n"
            "  --wechat-url URL    WeChat API base (default $EARSHOT_WECHAT_API_URL)\n"
            "  --consumer NAME     this worker's name (default: host-pid)\n"
            "  --reclaim-ms N      idle time before a pending entry is retried or taken over\n"
            "                      (default 30000; also the first backoff step)\n"
            "  --max-attempts N    then dead-lettered (default 8)\n"
            "  --once              stop when nothing is left to do\n"
            "  --duration-s N      stop after N seconds\n"
            "  --redis URL, --data-dir DIR   where the outbox is (see 'earshot mentions --help')\n"
            "\n"
            "Credentials come from EARSHOT_TWITTER_TOKEN, EARSHOT_WEIBO_TOKEN and\n"
            "EARSHOT_WECHAT_TOKEN; they are never logged. SIGTERM or Ctrl-C stops the worker\n"
            "after the requests in flight.\n");
}

int es_cli_outbox(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"twitter-url", required_argument, NULL, 't'},  {"weibo-url", required_argument, NULL, 'w'},
        {"wechat-url", required_argument, NULL, 'c'},   {"consumer", required_argument, NULL, 'n'},
        {"reclaim-ms", required_argument, NULL, 'r'},   {"max-attempts", required_argument, NULL, 'm'},
        {"once", no_argument, NULL, 'o'},               {"duration-s", required_argument, NULL, 'd'},
        {"redis", required_argument, NULL, 'R'},        {"data-dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0}};
    struct es_outbox_opts o = {0};
    o.twitter_url = getenv("EARSHOT_TWITTER_API_URL");
    o.weibo_url = getenv("EARSHOT_WEIBO_API_URL");
    o.wechat_url = getenv("EARSHOT_WECHAT_API_URL");
    o.stop = &stop_flag;
    const char *redis = NULL, *data = NULL;
    char consumer[128];
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(consumer, sizeof consumer, "%s-%ld", host, (long)getpid());
    o.consumer = consumer;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 't': o.twitter_url = optarg; break;
        case 'w': o.weibo_url = optarg; break;
        case 'c': o.wechat_url = optarg; break;
        case 'n': o.consumer = optarg; break;
        case 'r': o.reclaim_ms = strtoll(optarg, NULL, 10); break;
        case 'm': o.max_attempts = atoi(optarg); break;
        case 'o': o.once = true; break;
        case 'd': o.run_ms = strtoll(optarg, NULL, 10) * 1000; break;
        case 'R': redis = optarg; break;
        case 'D': data = optarg; break;
        case 'h': usage(stdout); return ES_EXIT_OK;
        default: usage(stderr); return ES_EXIT_USAGE;
        }
    }
    if (optind != argc || o.reclaim_ms < 0 || o.max_attempts < 0 || o.run_ms < 0) {
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct es_store_opts so = {redis, data, 0};
    struct es_store *s = NULL;
    struct es_diag d = {0};
    int rc = es_store_open(&so, &s, &d);
    if (rc) {
        char line[1024];
        es_diag_format(&d, line, sizeof line);
        fprintf(stderr, "earshot outbox: %s\n", line);
        curl_global_cleanup();
        return ES_EXIT_FOUND;
    }
    struct es_outbox_stats st;
    rc = es_outbox_run(s, &o, &st);
    fprintf(stderr,
            "{\"outbox\":\"stopped\",\"posted\":%llu,\"retried\":%llu,\"dead\":%llu,"
            "\"waiting\":%llu}\n",
            (unsigned long long)st.posted, (unsigned long long)st.retried,
            (unsigned long long)st.dead, (unsigned long long)st.skipped);
    es_store_close(s);
    curl_global_cleanup();
    return rc ? ES_EXIT_FOUND : ES_EXIT_OK;
}
