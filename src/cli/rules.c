/* earshot rules check: load keyword lists and rules and report every problem. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: earshot rules check [--keywords DIR] [--rules DIR] [--quiet]\n"
               "\n"
               "Loads every *.kw file of the keywords directory and every *.rules file of the\n"
               "rules directory (default: the shipped ones), compiles them as 'earshot scan'\n"
               "would, and prints each error and warning as file:line:col: message.\n"
               "\n"
               "  --keywords DIR   keyword lists directory\n"
               "  --rules DIR      rules directory\n"
               "  -q, --quiet      print errors only, not warnings\n"
               "\n"
               "Exit status: 0 no error (warnings allowed), 1 errors found, 2 usage.\n"
               "See docs/rules.md for the language.\n");
}

int es_cli_rules(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            usage(stdout);
            return ES_EXIT_OK;
        }
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    argc--;
    argv++;
    static const struct option longopts[] = {{"keywords", required_argument, NULL, 'k'},
                                             {"rules", required_argument, NULL, 'r'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    char kw[4096], rules[4096];
    es_cli_default_dir("keywords", kw, sizeof kw);
    es_cli_default_dir("rules", rules, sizeof rules);
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:r:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': snprintf(kw, sizeof kw, "%s", optarg); break;
        case 'r': snprintf(rules, sizeof rules, "%s", optarg); break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return ES_EXIT_OK;
        default: usage(stderr); return ES_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    struct es_norm *norm = NULL;
    struct es_ruleset *rs = NULL;
    struct es_cli_load_report rep = {0, 0};
    int rc = es_cli_load_ruleset(kw, rules, !quiet, &norm, &rs, &rep);
    if (rc == 0) {
        printf("%s, %s: %zu rules, %zu brands, %zu patterns; %d errors, %d warnings\n", kw, rules,
               es_ruleset_rule_count(rs), es_ruleset_brand_count(rs), es_ruleset_atom_count(rs),
               rep.errors, rep.warnings);
    } else {
        printf("%d errors, %d warnings\n", rep.errors, rep.warnings);
    }
    es_ruleset_free(rs);
    es_norm_free(norm);
    return rc ? ES_EXIT_FOUND : ES_EXIT_OK;
}
