#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "earshot/log.h"

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

void es_cli_default_dir(const char *what, char *out, size_t n)
{
    const char *homes[] = {getenv("EARSHOT_HOME"), ES_SOURCE_DIR, ES_SHARE_DIR};
    for (size_t i = 0; i < sizeof homes / sizeof homes[0]; i++) {
        if (!homes[i] || !*homes[i])
            continue;
        snprintf(out, n, "%s/%s", homes[i], what);
        if (is_dir(out))
            return;
    }
    snprintf(out, n, "%s/%s", ES_SHARE_DIR, what);
}

struct diag_sink {
    bool show_warnings;
    struct es_cli_load_report *rep;
};

static void print_diag(void *ud, const struct es_diag *d)
{
    struct diag_sink *s = ud;
    if (d->severity == ES_DIAG_WARNING) {
        s->rep->warnings++;
        if (!s->show_warnings)
            return;
    } else {
        s->rep->errors++;
    }
    char line[1024];
    es_diag_format(d, line, sizeof line);
    fprintf(stderr, "%s\n", line);
}

int es_cli_load_ruleset(const char *kw_dir, const char *rules_dir, bool show_warnings,
                        struct es_norm **norm_out, struct es_ruleset **rs_out,
                        struct es_cli_load_report *rep)
{
    struct es_cli_load_report local = {0, 0};
    if (!rep)
        rep = &local;
    struct diag_sink sink = {show_warnings, rep};
    const char *warn = NULL;
    struct es_norm *norm = es_norm_new(NULL, &warn);
    if (!norm)
        return ES_ENOMEM;
    if (warn)
        es_log(ES_LOG_WARN, "norm", "%s", warn);
    struct es_rules *r = es_rules_new();
    if (!r) {
        es_norm_free(norm);
        return ES_ENOMEM;
    }
    int rc = es_rules_load_dirs(r, kw_dir, rules_dir, print_diag, &sink);
    struct es_ruleset *rs = NULL;
    if (rc != ES_ENOMEM) {
        /* Compile even after parse errors, so one run reports every problem. */
        struct es_compile_opts o = {norm, 0};
        int crc = es_ruleset_compile(r, &o, &rs, print_diag, &sink);
        if (!rc)
            rc = crc;
    }
    es_rules_free(r);
    if (rc) {
        es_ruleset_free(rs);
        es_norm_free(norm);
        return rc;
    }
    *norm_out = norm;
    *rs_out = rs;
    return 0;
}
