/* earshot token create|list|revoke: API tokens (docs/api.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "earshot/api.h"
#include "earshot/store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: earshot token create --role agent|manager|admin --name NAME\n"
            "       earshot token list\n"
            "       earshot token revoke ID\n"
            "\n"
            "API tokens for the HTTP API and the web console. create prints the token once\n"
            "(es_<id>_<secret>): only its SHA-256 is stored. list prints id, role, name and\n"
            "creation time (JSON lines with --json); revoke makes a token useless at once.\n"
            "\n"
            "options:\n"
            "  --redis URL      redis://host:port or unix:///path (default $EARSHOT_REDIS_URL,\n"
            "                   else the embedded server in --data-dir)\n"
            "  --data-dir DIR   embedded server's directory (default $EARSHOT_DATA_DIR, else\n"
            "                   ~/.local/share/earshot)\n"
            "  --json           print JSON\n");
}

enum { O_ROLE = 256, O_NAME, O_REDIS, O_DATA, O_JSON };

int es_cli_token(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"role", required_argument, NULL, O_ROLE}, {"name", required_argument, NULL, O_NAME},
        {"redis", required_argument, NULL, O_REDIS}, {"data-dir", required_argument, NULL, O_DATA},
        {"json", no_argument, NULL, O_JSON},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *role = NULL, *name = NULL, *redis = getenv("EARSHOT_REDIS_URL"), *data = NULL;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_ROLE: role = optarg; break;
        case O_NAME: name = optarg; break;
        case O_REDIS: redis = optarg; break;
        case O_DATA: data = optarg; break;
        case O_JSON: json = true; break;
        case 'h': usage(stdout); return ES_EXIT_OK;
        default: usage(stderr); return ES_EXIT_USAGE;
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    bool create = sub && strcmp(sub, "create") == 0, list = sub && strcmp(sub, "list") == 0,
         revoke = sub && strcmp(sub, "revoke") == 0;
    if (!create && !list && !revoke) {
        usage(stderr);
        return ES_EXIT_USAGE;
    }
    if (create && (!role || !name || es_api_role_parse(role) == ES_ROLE_NONE)) {
        fprintf(stderr, "earshot token create: --role agent|manager|admin and --name NAME are "
                        "required\n");
        return ES_EXIT_USAGE;
    }
    if (revoke && optind + 1 >= argc) {
        fprintf(stderr, "earshot token revoke: which ID?\n");
        return ES_EXIT_USAGE;
    }
    struct es_store_opts so = {redis, data, 0};
    struct es_diag d = {0};
    struct es_store *s = NULL;
    int rc = es_store_open(&so, &s, &d);
    if (rc) {
        fprintf(stderr, "earshot: %s\n", d.msg[0] ? d.msg : es_strerror(rc));
        return ES_EXIT_FOUND;
    }
    int exit = ES_EXIT_OK;
    if (create) {
        char token[128], id[32];
        rc = es_api_token_create(s, role, name, token, sizeof token, id, sizeof id);
        if (rc == ES_EINVAL) {
            fprintf(stderr, "earshot token create: --name: 1 to 64 of A-Z a-z 0-9 . _ @ -\n");
            exit = ES_EXIT_USAGE;
        } else if (rc) {
            fprintf(stderr, "earshot token create: %s\n", es_strerror(rc));
            exit = ES_EXIT_FOUND;
        } else if (json) {
            printf("{\"id\":\"%s\",\"role\":\"%s\",\"name\":\"%s\",\"token\":\"%s\"}\n", id, role,
                   name, token);
        } else {
            printf("%s\n", token);
            fprintf(stderr, "token %s for %s (%s): shown once, keep it secret\n", id, name, role);
        }
        memset(token, 0, sizeof token);
    } else if (list) {
        json_t *arr = NULL;
        rc = es_api_token_list(s, &arr);
        if (rc) {
            fprintf(stderr, "earshot token list: %s\n", es_strerror(rc));
            exit = ES_EXIT_FOUND;
        }
        size_t i;
        json_t *t;
        json_array_foreach(arr, i, t)
        {
            if (json) {
                char *line = json_dumps(t, JSON_COMPACT);
                if (line)
                    puts(line);
                free(line);
            } else {
                printf("%s  %-7s  %s\n", json_string_value(json_object_get(t, "id")),
                       json_string_value(json_object_get(t, "role")),
                       json_string_value(json_object_get(t, "name")));
            }
        }
        json_decref(arr);
    } else {
        rc = es_api_token_revoke(s, argv[optind + 1]);
        if (rc == ES_ENOTFOUND) {
            fprintf(stderr, "earshot token revoke: no token %s\n", argv[optind + 1]);
            exit = ES_EXIT_FOUND;
        } else if (rc) {
            fprintf(stderr, "earshot token revoke: %s\n", es_strerror(rc));
            exit = ES_EXIT_FOUND;
        }
    }
    es_store_close(s);
    return exit;
}
