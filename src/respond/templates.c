/*
 * templates: reply templates from rules/fears/templates.txt.
 *
 *   # a comment
 *   [delivery/first_reply/zh]       category/scenario/lang
 *   {name}您好，订单{order}还在路上...  one variant per line
 *   ...
 *
 * A variant's id is "category/scenario/lang/N", N counting the variants of
 * that triple from 1 in file order, so ids stay put when other sections
 * change. The loader refuses unknown names, placeholders other than
 * {name} {order} {brand} {issue}, and stray braces, each with file:line:col;
 * fears.c then checks the texts themselves (no deflection, DM invitations).
 */
#include <stdio.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/utf8.h"
#include "respond/fears_int.h"

static const char *const categories[] = {
    "delivery",           "food_quality", "service",      "refund_billing", "product_defect",
    "delay_cancellation", "luggage",      "connectivity", "app_website",    "general",
};
static const char *const scenarios[] = {"first_reply", "dm_invite", "dm_followup"};
static const char *const langs[] = {"zh", "en"};
static const char *const vars[] = {"name", "order", "brand", "issue"};

#define TEMPLATE_MAX_BYTES 2000

/* find_name: the static spelling of s[0..n) in list, or NULL. */
static const char *find_name(const char *const *list, size_t count, const char *s, size_t n)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
            return list[i];
    return NULL;
}

#define FIND(list, s, n) find_name(list, sizeof list / sizeof list[0], s, n)

static int add_template(struct es_fears *f, struct es_fears_template **t)
{
    if (f->n_tpl == f->cap_tpl) {
        size_t nc = f->cap_tpl ? f->cap_tpl * 2 : 128;
        struct es_fears_template *nt = es_realloc(f->tpl, nc * sizeof *nt);
        if (!nt)
            return ES_ENOMEM;
        f->tpl = nt;
        f->cap_tpl = nc;
    }
    *t = &f->tpl[f->n_tpl];
    memset(*t, 0, sizeof **t);
    return 0;
}

/* check_braces: every '{' opens a known {placeholder}; 0 or the 1-based column of the fault. */
static long check_braces(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '}')
            return 1 + (long)es_utf8_count(s, i);
        if (s[i] != '{')
            continue;
        const char *c = memchr(s + i, '}', n - i);
        if (!c || !FIND(vars, s + i + 1, (size_t)(c - s - i - 1)))
            return 1 + (long)es_utf8_count(s, i);
        i = (size_t)(c - s);
    }
    return 0;
}

int es__fears_load_templates(struct es_fears *f, const char *path, struct es_diag *d)
{
    static const char name[] = "templates.txt";
    char *buf = NULL;
    size_t len = 0;
    int rc = es__fears_read_file(path, &buf, &len, d);
    if (rc != 0) {
        if (d)
            d->file = name;
        return rc;
    }
    const char *cat = NULL, *scen = NULL, *lang = NULL;
    long lineno = 0;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *s = p, *le = nl ? nl : end;
        p = nl ? nl + 1 : end;
        lineno++;
        while (le > s && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
            le--;
        char *ls = s;
        while (s < le && (*s == ' ' || *s == '\t'))
            s++;
        if (s == le || *s == '#')
            continue;
        long col = 1 + (long)(s - ls);
        size_t n = (size_t)(le - s);
        if (!es_utf8_valid(s, n)) {
            rc = es_diag_set(d, name, lineno, col, "invalid UTF-8");
            goto out;
        }
        if (*s == '[') {
            const char *a = s + 1, *z = le - 1;
            const char *s1 = n > 2 ? memchr(a, '/', (size_t)(z - a)) : NULL;
            const char *s2 = s1 ? memchr(s1 + 1, '/', (size_t)(z - s1 - 1)) : NULL;
            if (*z != ']' || !s1 || !s2) {
                rc = es_diag_set(
                    d, name, lineno, col,
                    "expected [category/scenario/lang], e.g. [delivery/first_reply/zh]");
                goto out;
            }
            cat = FIND(categories, a, (size_t)(s1 - a));
            scen = FIND(scenarios, s1 + 1, (size_t)(s2 - s1 - 1));
            lang = FIND(langs, s2 + 1, (size_t)(z - s2 - 1));
            if (!cat) {
                rc = es_diag_set(d, name, lineno, col + 1, "unknown category \"%.*s\"",
                                 (int)(s1 - a), a);
                goto out;
            }
            if (!scen) {
                rc = es_diag_set(d, name, lineno, col + 1 + (long)(s1 + 1 - a),
                                 "unknown scenario \"%.*s\" (first_reply, dm_invite, dm_followup)",
                                 (int)(s2 - s1 - 1), s1 + 1);
                goto out;
            }
            if (!lang) {
                rc = es_diag_set(d, name, lineno, col + 1 + (long)(s2 + 1 - a),
                                 "unknown language \"%.*s\" (zh, en)", (int)(z - s2 - 1), s2 + 1);
                goto out;
            }
            continue;
        }
        if (!cat) {
            rc = es_diag_set(d, name, lineno, col, "template before any [category/scenario/lang]");
            goto out;
        }
        if (n > TEMPLATE_MAX_BYTES) {
            rc = es_diag_set(d, name, lineno, col, "template longer than %d bytes",
                             TEMPLATE_MAX_BYTES);
            goto out;
        }
        long bad = check_braces(s, n);
        if (bad) {
            rc = es_diag_set(d, name, lineno, col + bad - 1,
                             "unknown placeholder or stray brace (known: {name} {order} {brand} "
                             "{issue})");
            goto out;
        }
        size_t nth = 1;
        for (size_t i = 0; i < f->n_tpl; i++)
            if (f->tpl[i].category == cat && f->tpl[i].scenario == scen && f->tpl[i].lang == lang)
                nth++;
        struct es_fears_template *t;
        rc = add_template(f, &t);
        if (rc != 0)
            goto out;
        char id[96];
        snprintf(id, sizeof id, "%s/%s/%s/%zu", cat, scen, lang, nth);
        t->id = es_strdup(id);
        t->text = es_strndup(s, n);
        t->category = cat;
        t->scenario = scen;
        t->lang = lang;
        t->line = lineno;
        f->n_tpl++;
        if (!t->id || !t->text) {
            rc = ES_ENOMEM;
            goto out;
        }
    }
out:
    es_free(buf);
    return rc;
}

void es__fears_free_templates(struct es_fears *f)
{
    for (size_t i = 0; i < f->n_tpl; i++) {
        es_free((char *)f->tpl[i].id);
        es_free((char *)f->tpl[i].text);
    }
    es_free(f->tpl);
    f->tpl = NULL;
    f->n_tpl = f->cap_tpl = 0;
}

size_t es_fears_templates(const struct es_fears *f, const char *category, const char *scenario,
                          const char *lang, const struct es_fears_template **out, size_t max)
{
    if (!f || !category || !scenario || !lang)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < f->n_tpl; i++) {
        const struct es_fears_template *t = &f->tpl[i];
        if (strcmp(t->category, category) != 0 || strcmp(t->scenario, scenario) != 0 ||
            strcmp(t->lang, lang) != 0)
            continue;
        if (out && n < max)
            out[n] = t;
        n++;
    }
    return n;
}

size_t es_fears_template_count(const struct es_fears *f)
{
    return f ? f->n_tpl : 0;
}

const struct es_fears_template *es_fears_template_at(const struct es_fears *f, size_t i)
{
    return f && i < f->n_tpl ? &f->tpl[i] : NULL;
}

int es_fears_fill(const char *tmpl, const struct es_fears_vars *v, char **out)
{
    if (!tmpl || !out)
        return ES_EINVAL;
    *out = NULL;
    const char *val[4] = {v ? v->name : NULL, v ? v->order : NULL, v ? v->brand : NULL,
                          v ? v->issue : NULL};
    /* two passes: measure, then write */
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        for (const char *p = tmpl; *p;) {
            const char *rep = NULL;
            size_t skip = 1;
            if (*p == '{') {
                for (int i = 0; i < 4; i++) {
                    size_t l = strlen(vars[i]);
                    if (val[i] && strncmp(p + 1, vars[i], l) == 0 && p[1 + l] == '}') {
                        rep = val[i];
                        skip = l + 2;
                        break;
                    }
                }
            }
            size_t rl = rep ? strlen(rep) : 1;
            if (k + rl > ES_FEARS_MAX_BYTES) {
                es_free(*out);
                *out = NULL;
                return ES_ELIMIT;
            }
            if (pass == 1)
                memcpy(*out + k, rep ? rep : p, rl);
            k += rl;
            p += skip;
        }
        if (pass == 0) {
            *out = es_malloc(k + 1);
            if (!*out)
                return ES_ENOMEM;
        } else {
            (*out)[k] = '\0';
        }
    }
    return 0;
}
