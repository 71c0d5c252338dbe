#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "earshot %s: find complaints about your brands in social posts, and answer them\n"
            "by the FEARS rules.\n"
            "\n"
            "usage: earshot COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  scan [FILE...]   judge posts from JSONL or CSV files (backfill) and print the\n"
            "                   complaints as JSON lines\n"
            "  rules check      check keyword lists and rules; print file:line:col diagnostics\n"
            "  serve --config F listen live: poll the sources, record complaints as mentions\n"
            "  demo             the whole loop on this machine: mock platform, Redis, serve,\n"
            "                   the web console (prints its URL and a token)\n"
            "  ingest [FILE...] scan posts and record the complaints as mentions in Redis\n"
            "  mentions list|show, claim, release, reply, dm, resolve, ignore, suggest\n"
            "                   triage and answer (FEARS-checked); 'earshot mentions --help'\n"
            "  customers load FILE   VIP tiers (CSV platform,handle,tier)\n"
            "  outbox run       post accepted replies and DMs through the platforms' APIs\n"
            "  outbox dead      list replies that could not be posted\n"
            "  alerts add|list|rm|dead|test|run   alert subscriptions and the alert worker\n"
            "  token create|list|revoke   API tokens (roles agent, manager, admin)\n"
            "  version          print the version\n"
            "\n"
            "Run 'earshot COMMAND --help' for a command's options.\n",
            ES_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return ES_EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("earshot %s\n", ES_VERSION);
        return ES_EXIT_OK;
    }
    if (strcmp(cmd, "scan") == 0)
        return es_cli_scan(argc - 1, argv + 1);
    if (strcmp(cmd, "ingest") == 0)
        return es_cli_ingest(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return es_cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "demo") == 0)
        return es_cli_demo(argc - 1, argv + 1);
    if (strcmp(cmd, "rules") == 0)
        return es_cli_rules(argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return es_cli_token(argc - 1, argv + 1);
    static const char *agent_cmds[] = {"mentions", "claim",   "release",   "reply",
                                       "dm",       "resolve", "ignore",    "suggest",
                                       "customers"};
    for (size_t i = 0; i < sizeof agent_cmds / sizeof *agent_cmds; i++)
        if (strcmp(cmd, agent_cmds[i]) == 0)
            return es_cli_agent(cmd, argc - 1, argv + 1);
    if (strcmp(cmd, "alerts") == 0)
        return es_cli_alerts(argc - 1, argv + 1);
    if (strcmp(cmd, "outbox") == 0) {
        if (argc >= 3 && strcmp(argv[2], "run") == 0)
            return es_cli_outbox(argc - 2, argv + 2);
        return es_cli_agent(cmd, argc - 1, argv + 1);
    }
    fprintf(stderr, "earshot: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return ES_EXIT_USAGE;
}
