/*
 * cli: the earshot command and its subcommands. Each subcommand is one file
 * with an entry point of this shape; main.c dispatches on argv[1].
 *
 * Exit codes for every subcommand: 0 ok (for scan: no complaint found),
 * 1 findings (complaints found, rule errors found) or failure, 2 usage.
 */
#ifndef ES_CLI_H
#define ES_CLI_H

#include "earshot/match.h"
#include "earshot/norm.h"

#define ES_EXIT_OK 0
#define ES_EXIT_FOUND 1
#define ES_EXIT_USAGE 2
#define ES_EXIT_IO 3

int es_cli_scan(int argc, char **argv);
int es_cli_ingest(int argc, char **argv);
/* serve --config FILE: the live listener */
int es_cli_serve(int argc, char **argv);
/* demo [--port N] [--rate N]: mock platform, embedded Redis and serve with the console */
int es_cli_demo(int argc, char **argv);
/* outbox run: the worker that posts accepted replies */
int es_cli_outbox(int argc, char **argv);
int es_cli_rules(int argc, char **argv);
/* mentions, claim, release, reply, dm, resolve, ignore, suggest, customers, outbox dead */
int es_cli_agent(const char *cmd, int argc, char **argv);
/* token create|list|revoke: API tokens */
int es_cli_token(int argc, char **argv);
/* alerts add|list|rm|dead|test|run: subscriptions and the alert worker */
int es_cli_alerts(int argc, char **argv);

/* es_cli_default_dir: "<home>/keywords" or "<home>/rules" for the shipped files,
 * home being $EARSHOT_HOME, else the source tree, else the installed data dir.
 * Writes into out (n bytes). */
void es_cli_default_dir(const char *what, char *out, size_t n);

/*
 * es_cli_load_ruleset loads and compiles keywords and rules, printing every
 * diagnostic to stderr (warnings only when show_warnings). *norm and *rs are
 * set on success. Returns 0, ES_EPARSE (errors were printed), ES_EIO or ES_ENOMEM.
 */
struct es_cli_load_report {
    int errors, warnings;
};
int es_cli_load_ruleset(const char *kw_dir, const char *rules_dir, bool show_warnings,
                        struct es_norm **norm, struct es_ruleset **rs,
                        struct es_cli_load_report *rep);

#endif
