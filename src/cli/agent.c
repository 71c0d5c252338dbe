/*
 * The agent CLI: triage and answer from a terminal or a script.
 *   earshot mentions list|show, claim, release, reply, dm, resolve, ignore, suggest,
 *   customers load, outbox dead
 * Every command prints JSON with --json; a FEARS refusal prints its reason and
 * exits 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "earshot/clock.h"
#include "earshot/fears.h"
#include "earshot/respond.h"
#include "earshot/store.h"

struct common {
    const char *redis_url;
    const char *data_dir;
    const char *agent;
    bool json;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *default_agent(void)
{
    const char *a = getenv("EARSHOT_AGENT");
    if (!a || !*a)
        a = getenv("USER");
    return a && *a ? a : "agent";
}

static int open_store(const struct common *c, struct es_store **s)
{
    struct es_store_opts o = {c->redis_url, c->data_dir, 0};
    struct es_diag d = {0};
    int rc = es_store_open(&o, s, &d);
    if (rc) {
        char line[1024];
        es_diag_format(&d, line, sizeof line);
        fprintf(stderr, "earshot: %s\n", d.msg[0] ? line : es_strerror(rc));
    }
    return rc;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
}

/* result_json: the store's answer as an object. */
static json_t *result_json(const char *mid, const struct es_store_result *r, const char *reason,
                           const char *message)
{
    json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:I,s:i}", "id", mid, "ok", r->ok, "state", r->state,
                          "holder", r->holder, "lease_until_ms", (json_int_t)r->lease_until_ms,
                          "public_replies", r->public_replies);
    if (!o)
        return NULL;
    if (!r->ok) {
        json_object_set_new(o, "reason", json_string(reason));
        json_object_set_new(o, "message", json_string(message));
    }
    if (r->outbox_id[0])
        json_object_set_new(o, "outbox_id", json_string(r->outbox_id));
    if (r->duplicate)
        json_object_set_new(o, "duplicate", json_true());
    return o;
}

static const char *reason_message(const char *reason)
{
    const char *m = es_fears_reason_message(reason);
    if (m)
        return m;
    if (strcmp(reason, "not_found") == 0)
        return "There is no such mention.";
    return reason;
}

static int report(const struct common *c, const char *verb, const char *mid,
                  const struct es_store_result *r)
{
    const char *msg = r->ok ? "" : reason_message(r->reason);
    if (c->json) {
        json_t *o = result_json(mid, r, r->reason, msg);
        print_json(o);
        json_decref(o);
    } else if (r->ok) {
        printf("%s %s: state %s", verb, mid, r->state);
        if (r->holder[0] && r->lease_until_ms) {
            time_t t = (time_t)(r->lease_until_ms / 1000);
            char ts[32];
            strftime(ts, sizeof ts, "%H:%M:%S", localtime(&t));
            printf(", held by %s until %s", r->holder, ts);
        }
        printf("\n");
    } else {
        fprintf(stderr, "%s %s refused: %s: %s", verb, mid, r->reason, msg);
        if (strcmp(r->reason, "claimed_by_other") == 0) {
            time_t t = (time_t)(r->lease_until_ms / 1000);
            char ts[32];
            strftime(ts, sizeof ts, "%H:%M:%S", localtime(&t));
            fprintf(stderr, " (held by %s until %s)", r->holder, ts);
        }
        fprintf(stderr, "\n");
    }
    return r->ok ? ES_EXIT_OK : ES_EXIT_FOUND;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage:\n"
            "  earshot mentions list [--brand B] [--state S] [--category C] [--platform P]\n"
            "                        [--assignee A] [--fence F] [--min-severity N] [--limit N]\n"
            "                        [--cursor C]\n"
            "  earshot mentions show ID\n"
            "  earshot claim ID [--lease SECONDS]     take or renew the lease (default 300 s)\n"
            "  earshot release ID\n"
            "  earshot reply ID --text TEXT [--idem KEY]   public reply (FEARS-checked)\n"
            "  earshot dm ID --text TEXT [--idem KEY]      direct message (after the DM opened)\n"
            "  earshot resolve ID\n"
            "  earshot ignore ID [--why TEXT]         spam or not a complaint\n"
            "  earshot suggest ID [--scenario first_reply|dm_invite|dm_followup]\n"
            "  earshot customers load FILE            CSV of platform,handle,tier\n"
            "  earshot outbox dead [--limit N]        dead-lettered replies\n"
            "\n"
            "common options:\n"
            "  --agent NAME     who acts (default $EARSHOT_AGENT, else $USER)\n"
            "  --redis URL      redis://host:port or unix:///path (default $EARSHOT_REDIS_URL,\n"
            "                   else the embedded server in --data-dir)\n"
            "  --data-dir DIR   embedded server's directory (default $EARSHOT_DATA_DIR, else\n"
            "                   ~/.local/share/earshot)\n"
            "  --json           print JSON\n"
            "\n"
            "Exit status: 0 done, 1 refused (the reason is printed: fears_reply_limit,\n"
            "fears_dm_required, fears_channel_deflection, fears_canned, claimed_by_other, ...)\n"
            "or failed, 2 usage.\n");
}

enum {
    O_AGENT = 256, O_REDIS, O_DATA, O_JSON, O_BRAND, O_STATE, O_CATEGORY, O_PLATFORM, O_ASSIGNEE,
    O_FENCE, O_MINSEV, O_LIMIT, O_CURSOR, O_LEASE, O_TEXT, O_IDEM, O_WHY, O_SCENARIO
};

static const struct option longopts[] = {
    {"agent", required_argument, NULL, O_AGENT},   {"redis", required_argument, NULL, O_REDIS},
    {"data-dir", required_argument, NULL, O_DATA}, {"json", no_argument, NULL, O_JSON},
    {"brand", required_argument, NULL, O_BRAND},   {"state", required_argument, NULL, O_STATE},
    {"category", required_argument, NULL, O_CATEGORY},
    {"platform", required_argument, NULL, O_PLATFORM},
    {"assignee", required_argument, NULL, O_ASSIGNEE},
    {"fence", required_argument, NULL, O_FENCE},
    {"min-severity", required_argument, NULL, O_MINSEV},
    {"limit", required_argument, NULL, O_LIMIT},   {"cursor", required_argument, NULL, O_CURSOR},
    {"lease", required_argument, NULL, O_LEASE},   {"text", required_argument, NULL, O_TEXT},
    {"idem", required_argument, NULL, O_IDEM},     {"why", required_argument, NULL, O_WHY},
    {"scenario", required_argument, NULL, O_SCENARIO},
    {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0}};

struct args {
    struct common c;
    struct es_mention_filter f;
    long lease_s;
    const char *text, *idem, *why, *scenario;
    const char *pos[4];
    int npos;
};

static int parse(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->c.agent = default_agent();
    a->lease_s = 300;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_AGENT: a->c.agent = optarg; break;
        case O_REDIS: a->c.redis_url = optarg; break;
        case O_DATA: a->c.data_dir = optarg; break;
        case O_JSON: a->c.json = true; break;
        case O_BRAND: a->f.brand = optarg; break;
        case O_STATE: a->f.state = optarg; break;
        case O_CATEGORY: a->f.category = optarg; break;
        case O_PLATFORM: a->f.platform = optarg; break;
        case O_ASSIGNEE: a->f.assignee = optarg; break;
        case O_FENCE: a->f.fence = optarg; break;
        case O_MINSEV: a->f.min_severity = atoi(optarg); break;
        case O_LIMIT: a->f.limit = (size_t)strtoul(optarg, NULL, 10); break;
        case O_CURSOR: a->f.cursor = optarg; break;
        case O_LEASE: a->lease_s = strtol(optarg, NULL, 10); break;
        case O_TEXT: a->text = optarg; break;
        case O_IDEM: a->idem = optarg; break;
        case O_WHY: a->why = optarg; break;
        case O_SCENARIO: a->scenario = optarg; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (a->npos == 4) {
            usage(stderr);
            return -1;
        }
        a->pos[a->npos++] = argv[i];
    }
    if (a->lease_s <= 0 || a->lease_s > 86400) {
        fprintf(stderr, "earshot: --lease wants 1..86400 seconds\n");
        return -1;
    }
    return 0;
}

static int load_fears(struct es_norm **norm, struct es_fears **f)
{
    const char *warn = NULL;
    *norm = es_norm_new(NULL, &warn);
    if (!*norm)
        return ES_ENOMEM;
    char rules[4096], dir[4200];
    es_cli_default_dir("rules", rules, sizeof rules);
    snprintf(dir, sizeof dir, "%s/fears", rules);
    struct es_diag d = {0};
    int rc = es_fears_load(*norm, dir, f, &d);
    if (rc) {
        char line[1024];
        es_diag_format(&d, line, sizeof line);
        fprintf(stderr, "earshot: %s\n", line);
        es_norm_free(*norm);
    }
    return rc;
}

static int cmd_reply(struct args *a, struct es_store *s, enum es_reply_kind kind)
{
    if (a->npos != 1 || !a->text) {
        fprintf(stderr, "earshot: %s wants ID --text TEXT\n", kind == ES_REPLY_DM ? "dm" : "reply");
        return ES_EXIT_USAGE;
    }
    struct es_norm *norm;
    struct es_fears *f;
    if (load_fears(&norm, &f))
        return ES_EXIT_FOUND;
    struct es_reply_req q = {a->pos[0], a->c.agent, kind, a->text, a->idem, 0};
    struct es_reply_out out;
    int rc = es_respond_reply(s, f, &q, now_ms(), &out);
    int code = ES_EXIT_FOUND;
    if (rc) {
        fprintf(stderr, "earshot: %s\n", es_strerror(rc));
    } else if (a->c.json) {
        json_t *o = result_json(a->pos[0], &out.store, out.reason, out.message);
        json_object_set_new(o, "ok", json_boolean(out.ok));
        if (!out.ok) {
            json_object_set_new(o, "reason", json_string(out.reason));
            json_object_set_new(o, "message", json_string(out.message));
        }
        json_object_set_new(o, "dm_invite", json_boolean(out.text.dm_invite));
        json_t *w = json_array();
        for (size_t i = 0; i < out.text.n_stock; i++)
            json_array_append_new(w, json_pack("{s:s,s:s}", "warning", "fears_stock_phrase",
                                               "phrase", out.text.stock[i].phrase));
        json_object_set_new(o, "warnings", w);
        if (out.text.n_deflections)
            json_object_set_new(o, "deflection",
                                json_pack("{s:s,s:s}", "kind",
                                          es_fears_kind_name(out.text.deflections[0].kind),
                                          "text", out.text.deflections[0].match));
        if (out.similar_to[0] || out.similarity > 0)
            json_object_set_new(o, "similar_to",
                                json_pack("{s:s,s:f}", "id", out.similar_to, "similarity",
                                          out.similarity));
        print_json(o);
        json_decref(o);
        code = out.ok ? ES_EXIT_OK : ES_EXIT_FOUND;
    } else if (out.ok) {
        printf("%s %s accepted: state %s, public replies %d, outbox %s\n",
               kind == ES_REPLY_DM ? "dm" : "reply", a->pos[0], out.store.state,
               out.store.public_replies, out.store.outbox_id);
        for (size_t i = 0; i < out.text.n_stock; i++)
            fprintf(stderr, "warning: fears_stock_phrase: \"%s\" is a stock phrase; say it in "
                            "your own words\n", out.text.stock[i].phrase);
        code = ES_EXIT_OK;
    } else {
        fprintf(stderr, "%s %s refused: %s: %s\n", kind == ES_REPLY_DM ? "dm" : "reply",
                a->pos[0], out.reason, out.message);
        if (out.text.n_deflections)
            fprintf(stderr, "  found %s: \"%s\"\n", es_fears_kind_name(out.text.deflections[0].kind),
                    out.text.deflections[0].match);
        if (out.similarity > 0)
            fprintf(stderr, "  %.0f%% like an earlier reply %s\n", out.similarity * 100,
                    out.similar_to);
    }
    es_fears_free(f);
    es_norm_free(norm);
    return code;
}

static void print_mention_line(json_t *m)
{
    int64_t now = now_ms();
    json_int_t dl = json_integer_value(json_object_get(m, "sla_deadline_ms"));
    long left = (long)((dl - now) / 1000);
    char sla[32];
    if (left >= 0)
        snprintf(sla, sizeof sla, "%ldm%02lds", left / 60, left % 60);
    else
        snprintf(sla, sizeof sla, "-%ldm late", -left / 60);
    const char *text = json_string_value(json_object_get(m, "text"));
    printf("%-10s %-9s sev %lld %-10s %-12s %-12s %-10s %.60s\n",
           json_string_value(json_object_get(m, "id")),
           json_string_value(json_object_get(m, "state")),
           (long long)json_integer_value(json_object_get(m, "severity")), sla,
           json_string_value(json_object_get(m, "brand")),
           json_string_value(json_object_get(m, "category")),
           json_string_value(json_object_get(m, "platform")), text ? text : "");
}

static int cmd_mentions(struct args *a, struct es_store *s)
{
    if (a->npos >= 1 && strcmp(a->pos[0], "list") == 0) {
        json_t *arr = NULL;
        char *next = NULL;
        if (es_store_mentions_list(s, &a->f, &arr, &next)) {
            fprintf(stderr, "earshot: cannot list mentions\n");
            return ES_EXIT_FOUND;
        }
        if (a->c.json) {
            json_t *o = json_pack("{s:O,s:s?}", "mentions", arr, "next_cursor", next);
            print_json(o);
            json_decref(o);
        } else {
            size_t i;
            json_t *m;
            json_array_foreach(arr, i, m) print_mention_line(m);
            if (next)
                printf("more: --cursor %s\n", next);
        }
        free(next);
        json_decref(arr);
        return ES_EXIT_OK;
    }
    if (a->npos == 2 && strcmp(a->pos[0], "show") == 0) {
        json_t *m = NULL;
        int rc = es_store_mention_get(s, a->pos[1], &m);
        if (rc) {
            fprintf(stderr, "earshot: %s: %s\n", a->pos[1],
                    rc == ES_ENOTFOUND ? "no such mention" : es_strerror(rc));
            return ES_EXIT_FOUND;
        }
        char *txt = json_dumps(m, a->c.json ? JSON_COMPACT : JSON_INDENT(2));
        if (txt)
            puts(txt);
        free(txt);
        json_decref(m);
        return ES_EXIT_OK;
    }
    usage(stderr);
    return ES_EXIT_USAGE;
}

static int cmd_suggest(struct args *a, struct es_store *s)
{
    if (a->npos != 1)
        return ES_EXIT_USAGE;
    json_t *m = NULL;
    if (es_store_mention_get(s, a->pos[0], &m)) {
        fprintf(stderr, "earshot: %s: no such mention\n", a->pos[0]);
        return ES_EXIT_FOUND;
    }
    struct es_norm *norm;
    struct es_fears *f;
    if (load_fears(&norm, &f)) {
        json_decref(m);
        return ES_EXIT_FOUND;
    }
    json_t *conv = json_object_get(m, "conversation");
    json_int_t pr = json_integer_value(json_object_get(conv, "public_replies"));
    const char *scenario = a->scenario ? a->scenario
                           : pr == 0   ? "first_reply"
                           : pr == 1   ? "dm_invite"
                                       : "dm_followup";
    const char *lang = json_string_value(json_object_get(m, "lang"));
    lang = lang && strncmp(lang, "zh", 2) == 0 ? "zh" : "en";
    const char *cat = json_string_value(json_object_get(m, "category"));
    const struct es_fears_template *t[16];
    size_t n = es_fears_templates(f, cat ? cat : "general", scenario, lang, t, 16);
    if (n == 0)
        n = es_fears_templates(f, "general", scenario, lang, t, 16);
    const char *name = json_string_value(json_object_get(m, "author_name"));
    const char *brand = json_string_value(json_object_get(m, "brand"));
    struct es_fears_vars v = {name && *name ? name : NULL, NULL, brand && *brand ? brand : NULL,
                              NULL};
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < 16; i++) {
        char *filled = NULL;
        if (es_fears_fill(t[i]->text, &v, &filled) == 0) {
            json_array_append_new(arr, json_pack("{s:s,s:s}", "template", t[i]->id, "text",
                                                 filled));
            free(filled);
        }
    }
    if (a->c.json) {
        json_t *o = json_pack("{s:s,s:s,s:O}", "id", a->pos[0], "scenario", scenario,
                              "suggestions", arr);
        print_json(o);
        json_decref(o);
    } else {
        printf("scenario %s: edit one of these, never send it as is\n", scenario);
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) printf("  [%s] %s\n",
                                             json_string_value(json_object_get(e, "template")),
                                             json_string_value(json_object_get(e, "text")));
    }
    json_decref(arr);
    json_decref(m);
    es_fears_free(f);
    es_norm_free(norm);
    return ES_EXIT_OK;
}

static int cmd_customers(struct args *a, struct es_store *s)
{
    if (a->npos != 2 || strcmp(a->pos[0], "load") != 0) {
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    FILE *fp = fopen(a->pos[1], "r");
    if (!fp) {
        perror(a->pos[1]);
        return ES_EXIT_IO;
    }
    char line[1024];
    long ln = 0, loaded = 0, bad = 0;
    while (fgets(line, sizeof line, fp)) {
        ln++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#' || (ln == 1 && strncmp(line, "platform,", 9) == 0))
            continue;
        char *p1 = strtok(line, ","), *p2 = strtok(NULL, ","), *p3 = strtok(NULL, ",");
        if (!p1 || !p2 || !p3 || es_platform_from_name(p1) == ES_PLATFORM_UNKNOWN) {
            fprintf(stderr, "%s:%ld: error: want platform,handle,tier\n", a->pos[1], ln);
            bad++;
            continue;
        }
        if (es_store_vip_set(s, p1, p2, p3) == 0)
            loaded++;
    }
    fclose(fp);
    printf("%ld customers loaded, %ld bad lines\n", loaded, bad);
    return bad ? ES_EXIT_FOUND : ES_EXIT_OK;
}

int es_cli_agent(const char *cmd, int argc, char **argv)
{
    struct args a;
    int p = parse(argc, argv, &a);
    if (p)
        return p > 0 ? ES_EXIT_OK : ES_EXIT_USAGE;
    struct es_store *s = NULL;
    if (open_store(&a.c, &s))
        return ES_EXIT_FOUND;
    int code = ES_EXIT_USAGE;
    struct es_store_result r;
    int64_t now = now_ms();
    bool one = a.npos == 1;
    if (strcmp(cmd, "mentions") == 0) {
        code = cmd_mentions(&a, s);
    } else if (strcmp(cmd, "claim") == 0 && one) {
        code = es_store_claim(s, a.pos[0], a.c.agent, a.lease_s * 1000, now, &r)
                   ? ES_EXIT_FOUND
                   : report(&a.c, "claim", a.pos[0], &r);
    } else if (strcmp(cmd, "release") == 0 && one) {
        code = es_store_release(s, a.pos[0], a.c.agent, now, &r)
                   ? ES_EXIT_FOUND
                   : report(&a.c, "release", a.pos[0], &r);
    } else if (strcmp(cmd, "resolve") == 0 && one) {
        code = es_store_resolve(s, a.pos[0], a.c.agent, now, &r)
                   ? ES_EXIT_FOUND
                   : report(&a.c, "resolve", a.pos[0], &r);
    } else if (strcmp(cmd, "ignore") == 0 && one) {
        code = es_store_ignore(s, a.pos[0], a.c.agent, a.why, now, &r)
                   ? ES_EXIT_FOUND
                   : report(&a.c, "ignore", a.pos[0], &r);
    } else if (strcmp(cmd, "reply") == 0) {
        code = cmd_reply(&a, s, ES_REPLY_PUBLIC);
    } else if (strcmp(cmd, "dm") == 0) {
        code = cmd_reply(&a, s, ES_REPLY_DM);
    } else if (strcmp(cmd, "suggest") == 0) {
        code = cmd_suggest(&a, s);
    } else if (strcmp(cmd, "customers") == 0) {
        code = cmd_customers(&a, s);
    } else if (strcmp(cmd, "outbox") == 0 && one && strcmp(a.pos[0], "dead") == 0) {
        json_t *arr = NULL;
        code = ES_EXIT_FOUND;
        if (es_store_outbox_dead_list(s, a.f.limit ? a.f.limit : 100, &arr) == 0) {
            print_json(arr);
            json_decref(arr);
            code = ES_EXIT_OK;
        }
    } else {
        usage(stderr);
    }
    es_store_close(s);
    return code;
}
