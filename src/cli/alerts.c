/* earshot alerts: subscriptions, dead letters, the alert worker, test messages. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "earshot/alert.h"
#include "earshot/clock.h"
#include "earshot/store.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: earshot alerts COMMAND [options]\n"
            "\n"
            "Alerts for brand managers: subscriptions (brands, categories, severity, fences,\n"
            "keywords, immediate or digest) delivered to a signed webhook, Slack, DingTalk,\n"
            "WeCom, Feishu/Lark or email (docs/alerts.md).\n"
            "\n"
            "  add FILE.json|-    store a subscription (a new one, or replace its \"id\"); prints\n"
            "                     the id\n"
            "  list               the subscriptions as JSON (secrets masked)\n"
            "  rm ID              delete a subscription\n"
            "  dead [--limit N]   deliveries that failed for good, newest first (JSON lines)\n"
            "  test ID            send a test message to every channel of a subscription now\n"
            "  run                the alert worker (also runs inside 'earshot serve')\n"
            "      --allow LIST       addresses/CIDRs webhooks may reach despite the SSRF guard\n"
            "                         (default $EARSHOT_ALERT_ALLOW), e.g. 127.0.0.1,::1\n"
            "      --run-s N          stop after N seconds\n"
            "      --consumer NAME    consumer name (default: the host name)\n"
            "      --max-attempts N   then dead-lettered (default 6)\n"
            "      --retry-ms N       first retry delay, doubled per attempt (default 1000)\n"
            "      --reclaim-ms N     take over a crashed peer's deliveries after N ms idle\n"
            "                         (default 60000)\n"
            "      --spike-check-s N  how often the per-minute counts are read (default 60)\n"
            "      --sensitivity X    spike sensitivity (default 1.0; higher = more alerts)\n"
            "      --stats            print counters as JSON on stop\n"
            "\n"
            "  --redis URL, --data-dir DIR   where Redis is (default $EARSHOT_REDIS_URL, else the\n"
            "                     embedded server of the data directory)\n"
            "\n"
            "Exit: 0 ok, 1 failure (invalid subscription: the message names the key path), 2 usage.\n");
}

enum { O_REDIS = 256, O_DATA, O_ALLOW, O_RUN_S, O_CONSUMER, O_MAX_ATT, O_RETRY, O_RECLAIM,
       O_SPIKE_S, O_SENS, O_LIMIT, O_STATS };

static int open_store(const char *redis, const char *data, struct es_store **s)
{
    struct es_store_opts o = {redis, data, 0};
    struct es_diag d = {0};
    int rc = es_store_open(&o, s, &d);
    if (rc) {
        fprintf(stderr, "earshot alerts: %s\n", d.msg[0] ? d.msg : es_strerror(rc));
        return ES_EXIT_IO;
    }
    return 0;
}

static json_t *load_json(const char *path)
{
    json_error_t err;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &err)
                                       : json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        fprintf(stderr, "%s:%d:%d: error: %s\n", strcmp(path, "-") == 0 ? "<stdin>" : path,
                err.line, err.column, err.text);
    return j;
}

static void print_json(json_t *j, bool lines)
{
    if (lines && json_is_array(j)) {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) {
            char *s = json_dumps(e, JSON_COMPACT);
            if (s)
                printf("%s\n", s);
            free(s);
        }
        return;
    }
    char *s = json_dumps(j, JSON_INDENT(2));
    if (s)
        printf("%s\n", s);
    free(s);
}

int es_cli_alerts(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, O_REDIS},
        {"data-dir", required_argument, NULL, O_DATA},
        {"allow", required_argument, NULL, O_ALLOW},
        {"run-s", required_argument, NULL, O_RUN_S},
        {"consumer", required_argument, NULL, O_CONSUMER},
        {"max-attempts", required_argument, NULL, O_MAX_ATT},
        {"retry-ms", required_argument, NULL, O_RETRY},
        {"reclaim-ms", required_argument, NULL, O_RECLAIM},
        {"spike-check-s", required_argument, NULL, O_SPIKE_S},
        {"sensitivity", required_argument, NULL, O_SENS},
        {"limit", required_argument, NULL, O_LIMIT},
        {"stats", no_argument, NULL, O_STATS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ES_EXIT_USAGE : ES_EXIT_OK;
    }
    const char *sub = argv[1];
    const char *redis = NULL, *data = NULL, *allow = getenv("EARSHOT_ALERT_ALLOW");
    struct es_alert_opts ao = {0};
    long run_s = 0, limit = 100;
    bool stats = false;
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_REDIS: redis = optarg; break;
        case O_DATA: data = optarg; break;
        case O_ALLOW: allow = optarg; break;
        case O_RUN_S: run_s = strtol(optarg, NULL, 10); break;
        case O_CONSUMER: ao.consumer = optarg; break;
        case O_MAX_ATT: ao.max_attempts = atoi(optarg); break;
        case O_RETRY: ao.retry_base_ms = strtoll(optarg, NULL, 10); break;
        case O_RECLAIM: ao.reclaim_ms = strtoll(optarg, NULL, 10); break;
        case O_SPIKE_S: ao.spike_check_s = atoi(optarg); break;
        case O_SENS: ao.spike.sensitivity = strtod(optarg, NULL); break;
        case O_LIMIT: limit = strtol(optarg, NULL, 10); break;
        case O_STATS: stats = true; break;
        case 'h': usage(stdout); return ES_EXIT_OK;
        default: usage(stderr); return ES_EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    ao.redis_url = redis;
    ao.data_dir = data;
    ao.allow = allow;

    if (strcmp(sub, "run") == 0) {
        struct es_alerter *a = NULL;
        struct es_diag d = {0};
        /* an embedded server is started (or found) through the store first */
        struct es_store *s = NULL;
        if (open_store(redis, data, &s))
            return ES_EXIT_IO;
        int rc = es_alerter_start(&ao, &a, &d);
        if (rc) {
            fprintf(stderr, "earshot alerts run: %s\n", d.msg[0] ? d.msg : es_strerror(rc));
            es_store_close(s);
            return rc == ES_EINVAL ? ES_EXIT_USAGE : ES_EXIT_IO;
        }
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        int64_t end = run_s > 0 ? es_clock_mono_ms() + run_s * 1000 : 0;
        while (!stop_flag && (!end || es_clock_mono_ms() < end))
            usleep(50 * 1000);
        struct es_alerter_stats st;
        es_alerter_stats(a, &st);
        es_alerter_stop(a);
        if (stats)
            printf("{\"events\":%llu,\"alerts\":%llu,\"delivered\":%llu,\"failed_attempts\":%llu,"
                   "\"dead\":%llu,\"refused_ssrf\":%llu}\n",
                   (unsigned long long)st.events, (unsigned long long)st.alerts,
                   (unsigned long long)st.delivered, (unsigned long long)st.failed_attempts,
                   (unsigned long long)st.dead, (unsigned long long)st.refused_ssrf);
        es_store_close(s);
        return ES_EXIT_OK;
    }

    static const char *known[] = {"add", "list", "rm", "dead", "test"};
    size_t k = 0;
    while (k < sizeof known / sizeof *known && strcmp(sub, known[k]) != 0)
        k++;
    if (k == sizeof known / sizeof *known) {
        fprintf(stderr, "earshot alerts: unknown command '%s'\n", sub);
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    if ((strcmp(sub, "add") == 0 || strcmp(sub, "rm") == 0 || strcmp(sub, "test") == 0) &&
        nargs != 1) {
        fprintf(stderr, "earshot alerts %s: one argument expected\n", sub);
        return ES_EXIT_USAGE;
    }
    json_t *in = NULL;
    if (strcmp(sub, "add") == 0) {
        in = load_json(args[0]);
        if (!in)
            return ES_EXIT_FOUND;
    }
    struct es_store *s = NULL;
    if (open_store(redis, data, &s)) {
        json_decref(in);
        return ES_EXIT_IO;
    }
    int ret = ES_EXIT_OK, rc = 0;
    json_t *out = NULL;
    if (strcmp(sub, "add") == 0) {
        char id[80];
        struct es_diag d = {0};
        rc = es_alert_sub_put_allow(s, in, allow, id, sizeof id, &d);
        if (rc) {
            fprintf(stderr, "%s: error: %s\n", strcmp(args[0], "-") == 0 ? "<stdin>" : args[0],
                    d.msg[0] ? d.msg : es_strerror(rc));
            ret = rc == ES_EIO ? ES_EXIT_IO : ES_EXIT_FOUND;
            rc = 0;
        } else {
            printf("%s\n", id);
        }
    } else if (strcmp(sub, "list") == 0) {
        rc = es_alert_sub_list(s, &out);
        if (!rc)
            print_json(out, false);
    } else if (strcmp(sub, "rm") == 0) {
        rc = es_alert_sub_del(s, args[0]);
        if (rc == ES_ENOTFOUND) {
            fprintf(stderr, "earshot alerts rm: no subscription '%s'\n", args[0]);
            ret = ES_EXIT_FOUND;
            rc = 0;
        }
    } else if (strcmp(sub, "dead") == 0) {
        rc = es_alert_dead_list(s, limit > 0 ? (size_t)limit : 100, &out);
        if (!rc)
            print_json(out, true);
    } else {
        rc = es_alert_sub_get(s, args[0], &out);
        if (rc == ES_ENOTFOUND) {
            fprintf(stderr, "earshot alerts test: no subscription '%s'\n", args[0]);
            ret = ES_EXIT_FOUND;
            rc = 0;
        } else if (!rc) {
            char report[4096];
            int r = es_alert_send_test(&ao, out, report, sizeof report);
            fputs(report, stdout);
            if (r)
                ret = ES_EXIT_FOUND;
        }
    }
    if (rc) {
        fprintf(stderr, "earshot alerts %s: %s\n", sub, es_strerror(rc));
        ret = ES_EXIT_IO;
    }
    json_decref(out);
    json_decref(in);
    es_store_close(s);
    return ret;
}
