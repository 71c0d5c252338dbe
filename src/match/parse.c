/*
 * The parsers of keyword files (*.kw) and rule files (*.rules); the
 * language is documented in docs/rules.md. Both are line based: a line in
 * column 1 opens a section, indented lines belong to it. Every problem is
 * reported with file:line:col and parsing goes on, so one run shows all.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/utf8.h"
#include "match/internal.h"

#define MAX_RULE_FILE (16u << 20)

struct ctx {
    struct es_rules *r;
    const char *file;
    long line;
    const char *lstart; /* start of the current line, for columns */
    es_diag_cb *on_diag;
    void *ud;
    int errors;
};

static long col_of(const struct ctx *c, const char *p)
{
    return (long)es_utf8_count(c->lstart, (size_t)(p - c->lstart)) + 1;
}

static void report(struct ctx *c, enum es_severity sev, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(struct ctx *c, enum es_severity sev, const char *at, const char *fmt, ...)
{
    struct es_diag d;
    d.file = c->file;
    d.line = c->line;
    d.col = at ? col_of(c, at) : 0;
    d.severity = sev;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d.msg, sizeof d.msg, fmt, ap);
    va_end(ap);
    if (sev == ES_DIAG_ERROR)
        c->errors++;
    if (c->on_diag)
        c->on_diag(c->ud, &d);
}

static int grow(void **p, size_t *alloc, size_t n, size_t size)
{
    if (n < *alloc)
        return 0;
    size_t na = *alloc ? *alloc * 2 : 8;
    void *q = es_realloc(*p, na * size);
    if (!q)
        return ES_ENOMEM;
    *p = q;
    *alloc = na;
    return 0;
}

const char *es__rules_keep_name(struct es_rules *r, const char *name)
{
    for (size_t i = 0; i < r->n_files; i++)
        if (strcmp(r->files[i], name) == 0)
            return r->files[i];
    if (grow((void **)&r->files, &r->alloc_files, r->n_files, sizeof *r->files))
        return NULL;
    char *s = es_strdup(name);
    if (!s)
        return NULL;
    r->files[r->n_files++] = s;
    return s;
}

struct es_rules *es_rules_new(void)
{
    struct es_rules *r = es_calloc(1, sizeof *r);
    if (r)
        r->threshold = 1.0;
    return r;
}

static void termset_free(struct es__termset *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        es_free(ts->t[i].text);
    es_free(ts->t);
    ts->t = NULL;
    ts->n = 0;
}

static void rule_free(struct es__rule *ru)
{
    es_free(ru->id);
    termset_free(&ru->match);
    for (size_t i = 0; i < ru->n_near; i++)
        termset_free(&ru->near[i].ts);
    for (size_t i = 0; i < ru->n_neg; i++)
        termset_free(&ru->neg[i].ts);
    for (size_t i = 0; i < ru->n_unless; i++)
        termset_free(&ru->unless[i]);
    es_free(ru->near);
    es_free(ru->neg);
    es_free(ru->unless);
    for (size_t i = 0; i < ru->n_brands; i++)
        es_free(ru->brands[i]);
    es_free(ru->brands);
    es_free(ru->category);
}

void es_rules_free(struct es_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_lists; i++) {
        struct es__kw_list *l = &r->lists[i];
        for (size_t k = 0; k < l->n; k++)
            es_free(l->e[k].text);
        es_free(l->e);
        es_free(l->name);
        es_free(l->display);
    }
    es_free(r->lists);
    for (size_t i = 0; i < r->n_rules; i++)
        rule_free(&r->rules[i]);
    es_free(r->rules);
    for (size_t i = 0; i < r->n_files; i++)
        es_free(r->files[i]);
    es_free(r->files);
    es_free(r);
}

/* ---- small lexing helpers on one line [p, end) ---- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *word_end(const char *p, const char *end)
{
    while (p < end && *p != ' ' && *p != '\t')
        p++;
    return p;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool valid_name(const char *p, const char *end)
{
    if (p == end)
        return false;
    for (; p < end; p++)
        if (!is_name_char(*p))
            return false;
    return true;
}

static bool word_is(const char *p, const char *e, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(e - p) == n && memcmp(p, w, n) == 0;
}

static int parse_lang(const char *p, const char *e)
{
    if (word_is(p, e, "zh"))
        return ES__LANG_ZH;
    if (word_is(p, e, "en"))
        return ES__LANG_EN;
    if (word_is(p, e, "any"))
        return ES__LANG_ANY;
    return -1;
}

/* Iterate over the lines of text, stripping CR; calls fn for each. */
typedef int line_fn(struct ctx *c, const char *p, const char *end);

static int each_line(struct ctx *c, const char *text, size_t len, line_fn *fn)
{
    const char *p = text, *end = text + len;
    c->line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        c->line++;
        c->lstart = p;
        const char *e = le;
        if (e > p && e[-1] == '\r')
            e--;
        if (!es_utf8_valid(p, (size_t)(e - p))) {
            report(c, ES_DIAG_ERROR, p, "line is not valid UTF-8");
        } else {
            int rc = fn(c, p, e);
            if (rc == ES_ENOMEM)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* ---- keyword files ---- */

struct kw_state {
    struct ctx c;
    struct es__kw_list *cur; /* index-stable only until lists grow: use cur_idx */
    long cur_idx;
};

static struct es__kw_list *find_list(struct es_rules *r, const char *name, size_t n, bool brand)
{
    for (size_t i = 0; i < r->n_lists; i++)
        if (r->lists[i].brand == brand && strlen(r->lists[i].name) == n &&
            memcmp(r->lists[i].name, name, n) == 0)
            return &r->lists[i];
    return NULL;
}

static int kw_header(struct kw_state *s, const char *p, const char *end)
{
    struct ctx *c = &s->c;
    struct es_rules *r = c->r;
    const char *we = word_end(p, end);
    bool brand = word_is(p, we, "brand");
    s->cur_idx = -1;
    if (!brand && !word_is(p, we, "list")) {
        report(c, ES_DIAG_ERROR, p, "expected 'list NAME' or 'brand ID \"Name\"', found '%.*s'",
               (int)(we - p), p);
        return 0;
    }
    const char *np = skip_ws(we, end), *ne = word_end(np, end);
    if (!valid_name(np, ne)) {
        report(c, ES_DIAG_ERROR, np, "%s name must be [a-z0-9_]+", brand ? "brand" : "list");
        return 0;
    }
    struct es__kw_list *dup = find_list(r, np, (size_t)(ne - np), brand);
    if (dup) {
        report(c, ES_DIAG_ERROR, np, "%s '%.*s' already defined at %s:%ld", brand ? "brand" : "list",
               (int)(ne - np), np, dup->file, dup->line);
        return 0;
    }
    int lang = ES__LANG_ANY;
    char *display = NULL;
    const char *q = skip_ws(ne, end);
    while (q < end) {
        if (brand && *q == '"') {
            const char *close = memchr(q + 1, '"', (size_t)(end - q - 1));
            if (!close) {
                report(c, ES_DIAG_ERROR, q, "unterminated brand display name");
                return 0;
            }
            es_free(display);
            display = es_strndup(q + 1, (size_t)(close - q - 1));
            if (!display)
                return ES_ENOMEM;
            q = skip_ws(close + 1, end);
            continue;
        }
        const char *qe = word_end(q, end);
        if (qe - q > 5 && memcmp(q, "lang=", 5) == 0 && parse_lang(q + 5, qe) >= 0) {
            lang = parse_lang(q + 5, qe);
        } else {
            report(c, ES_DIAG_ERROR, q, "unexpected '%.*s' in section header", (int)(qe - q), q);
            es_free(display);
            return 0;
        }
        q = skip_ws(qe, end);
    }
    if (grow((void **)&r->lists, &r->alloc_lists, r->n_lists, sizeof *r->lists)) {
        es_free(display);
        return ES_ENOMEM;
    }
    struct es__kw_list *l = &r->lists[r->n_lists];
    memset(l, 0, sizeof *l);
    l->name = es_strndup(np, (size_t)(ne - np));
    if (!l->name) {
        es_free(display);
        return ES_ENOMEM;
    }
    l->brand = brand;
    l->display = display;
    l->lang = lang;
    l->file = c->file;
    l->line = c->line;
    l->col = 1;
    s->cur_idx = (long)r->n_lists++;
    return 0;
}

static int kw_line(struct ctx *c, const char *p, const char *end)
{
    struct kw_state *s = (struct kw_state *)c;
    if (p == end || *p == '#')
        return 0;
    if (*p != ' ' && *p != '\t')
        return kw_header(s, p, end);
    const char *t = skip_ws(p, end);
    const char *te = end;
    while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
        te--;
    if (t == te)
        return 0;
    if (s->cur_idx < 0) {
        report(c, ES_DIAG_ERROR, t, "entry outside a list or brand section");
        return 0;
    }
    struct es__kw_list *l = &c->r->lists[s->cur_idx];
    bool regex = te - t >= 3 && memcmp(t, "re:", 3) == 0;
    const char *body = regex ? t + 3 : t;
    if (body == te) {
        report(c, ES_DIAG_ERROR, t, "empty regex");
        return 0;
    }
    if (grow((void **)&l->e, &l->alloc, l->n, sizeof *l->e))
        return ES_ENOMEM;
    struct es__kw_entry *e = &l->e[l->n];
    e->text = es_strndup(body, (size_t)(te - body));
    if (!e->text)
        return ES_ENOMEM;
    e->regex = regex;
    e->line = c->line;
    e->col = col_of(c, body);
    l->n++;
    return 0;
}

int es_rules_add_keywords(struct es_rules *r, const char *name, const char *text, size_t len,
                          es_diag_cb *on_diag, void *ud)
{
    struct kw_state s = {{r, NULL, 0, NULL, on_diag, ud, 0}, NULL, -1};
    s.c.file = es__rules_keep_name(r, name);
    if (!s.c.file)
        return ES_ENOMEM;
    int rc = each_line(&s.c, text, len, kw_line);
    if (rc)
        return rc;
    return s.c.errors ? ES_EPARSE : 0;
}

/* ---- rule files ---- */

struct rule_state {
    struct ctx c;
    long cur_idx; /* current rule, or -1 */
};

/* parse_terms reads "term | term ..." from *pp up to a stop word or the end. */
static int parse_terms(struct ctx *c, const char **pp, const char *end, struct es__termset *ts)
{
    const char *p = skip_ws(*pp, end);
    size_t alloc = 0;
    for (;;) {
        if (p >= end) {
            report(c, ES_DIAG_ERROR, p, "expected a term (@list, @brand, /regex/ or \"text\")");
            return ES_EPARSE;
        }
        struct es__term t = {0, NULL, c->line, col_of(c, p)};
        const char *s, *e;
        if (*p == '@') {
            s = p + 1;
            e = s;
            while (e < end && (is_name_char(*e) || *e == ':'))
                e++;
            if (e - s == 5 && memcmp(s, "brand", 5) == 0) {
                t.kind = ES__T_BRAND_ALL;
            } else if (e - s > 6 && memcmp(s, "brand:", 6) == 0) {
                t.kind = ES__T_BRAND_ONE;
                s += 6;
            } else {
                t.kind = ES__T_LIST;
            }
            if (!valid_name(s, e)) {
                report(c, ES_DIAG_ERROR, p, "bad list reference '%.*s'", (int)(e - p), p);
                return ES_EPARSE;
            }
            p = e;
        } else if (*p == '/' || *p == '"') {
            char q = *p;
            s = p + 1;
            e = s;
            while (e < end && *e != q) {
                if (*e == '\\' && e + 1 < end)
                    e++;
                e++;
            }
            if (e >= end) {
                report(c, ES_DIAG_ERROR, p, "unterminated %s", q == '/' ? "regex" : "string");
                return ES_EPARSE;
            }
            if (e == s) {
                report(c, ES_DIAG_ERROR, p, "empty %s", q == '/' ? "regex" : "string");
                return ES_EPARSE;
            }
            t.kind = q == '/' ? ES__T_REGEX : ES__T_LITERAL;
            t.col = col_of(c, s);
            p = e + 1;
        } else {
            report(c, ES_DIAG_ERROR, p, "expected a term (@list, @brand, /regex/ or \"text\")");
            return ES_EPARSE;
        }
        /* A regex keeps "\/" as PCRE2 reads it: an escaped slash is a slash. */
        t.text = es_strndup(s, (size_t)(e - s));
        if (!t.text || grow((void **)&ts->t, &alloc, ts->n, sizeof *ts->t)) {
            es_free(t.text);
            return ES_ENOMEM;
        }
        ts->t[ts->n++] = t;
        p = skip_ws(p, end);
        if (p < end && *p == '|') {
            p = skip_ws(p + 1, end);
            continue;
        }
        break;
    }
    *pp = p;
    return 0;
}

static int parse_int(const char *p, const char *e, long lo, long hi, long *out)
{
    char buf[32];
    if (e - p <= 0 || e - p >= (long)sizeof buf)
        return -1;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int rule_header(struct rule_state *s, const char *p, const char *end)
{
    struct ctx *c = &s->c;
    struct es_rules *r = c->r;
    const char *we = word_end(p, end);
    s->cur_idx = -1;
    if (word_is(p, we, "set")) {
        const char *k = skip_ws(we, end), *ke = word_end(k, end);
        const char *v = skip_ws(ke, end), *ve = word_end(v, end);
        if (!word_is(k, ke, "threshold")) {
            report(c, ES_DIAG_ERROR, k, "unknown setting '%.*s' (known: threshold)", (int)(ke - k), k);
            return 0;
        }
        char buf[64];
        char *endp;
        if (ve - v <= 0 || ve - v >= (long)sizeof buf || skip_ws(ve, end) != end) {
            report(c, ES_DIAG_ERROR, v, "expected a number");
            return 0;
        }
        memcpy(buf, v, (size_t)(ve - v));
        buf[ve - v] = '\0';
        double d = strtod(buf, &endp);
        if (*endp || d <= 0 || d > 1000) {
            report(c, ES_DIAG_ERROR, v, "threshold must be a number in (0, 1000]");
            return 0;
        }
        if (r->threshold_set)
            report(c, ES_DIAG_ERROR, p, "threshold set twice");
        r->threshold = d;
        r->threshold_set = true;
        return 0;
    }
    if (!word_is(p, we, "rule")) {
        report(c, ES_DIAG_ERROR, p, "expected 'rule ID' or 'set threshold N', found '%.*s'",
               (int)(we - p), p);
        return 0;
    }
    const char *ip = skip_ws(we, end), *ie = word_end(ip, end);
    bool ok = ip < ie;
    for (const char *q = ip; q < ie; q++)
        if (!is_name_char(*q) && !(*q >= 'A' && *q <= 'Z') && *q != '.' && *q != '-')
            ok = false;
    if (!ok || skip_ws(ie, end) != end) {
        report(c, ES_DIAG_ERROR, ip, "rule id must be [A-Za-z0-9_.-]+ and alone on the line");
        return 0;
    }
    for (size_t i = 0; i < r->n_rules; i++) {
        if (strlen(r->rules[i].id) == (size_t)(ie - ip) &&
            memcmp(r->rules[i].id, ip, (size_t)(ie - ip)) == 0) {
            report(c, ES_DIAG_ERROR, ip, "rule '%.*s' already defined at %s:%ld", (int)(ie - ip),
                   ip, r->rules[i].file, r->rules[i].line);
            return 0;
        }
    }
    if (grow((void **)&r->rules, &r->alloc_rules, r->n_rules, sizeof *r->rules))
        return ES_ENOMEM;
    struct es__rule *ru = &r->rules[r->n_rules];
    memset(ru, 0, sizeof *ru);
    ru->id = es_strndup(ip, (size_t)(ie - ip));
    if (!ru->id)
        return ES_ENOMEM;
    ru->file = c->file;
    ru->line = c->line;
    ru->col = col_of(c, ip);
    ru->severity = 1;
    ru->weight = 1.0;
    ru->cap = 1;
    s->cur_idx = (long)r->n_rules++;
    return 0;
}

static int add_clause(struct ctx *c, struct es__clause **arr, size_t *n, const char *p,
                      const char *end, bool is_near)
{
    struct es__clause cl = {{NULL, 0}, 0, ES__DIR_BEFORE};
    const char *q = p;
    int rc = parse_terms(c, &q, end, &cl.ts);
    if (rc) {
        termset_free(&cl.ts);
        return rc == ES_ENOMEM ? rc : 0;
    }
    const char *we = word_end(q, end);
    bool ok;
    if (is_near) {
        ok = word_is(q, we, "within");
    } else {
        ok = true;
        if (word_is(q, we, "before"))
            cl.dir = ES__DIR_BEFORE;
        else if (word_is(q, we, "after"))
            cl.dir = ES__DIR_AFTER;
        else if (word_is(q, we, "around"))
            cl.dir = ES__DIR_AROUND;
        else
            ok = false;
    }
    const char *np = skip_ws(we, end), *ne = word_end(np, end);
    long dist;
    if (!ok || parse_int(np, ne, 0, 10000, &dist) || skip_ws(ne, end) != end) {
        report(c, ES_DIAG_ERROR, q, is_near ? "expected 'within N' (N characters, 0..10000)"
                                            : "expected 'before N', 'after N' or 'around N'");
        termset_free(&cl.ts);
        return 0;
    }
    cl.dist = (int)dist;
    struct es__clause *na = es_realloc(*arr, (*n + 1) * sizeof **arr);
    if (!na) {
        termset_free(&cl.ts);
        return ES_ENOMEM;
    }
    *arr = na;
    na[(*n)++] = cl;
    return 0;
}

static int rule_key(struct rule_state *s, const char *k, const char *ke, const char *v,
                    const char *end)
{
    struct ctx *c = &s->c;
    struct es__rule *ru = &c->r->rules[s->cur_idx];
    const char *ve = word_end(v, end);
    bool single = skip_ws(ve, end) == end && v < end;
    if (word_is(k, ke, "match")) {
        if (ru->has_match) {
            report(c, ES_DIAG_ERROR, k, "a rule has one 'match' line (use | for alternatives)");
            return 0;
        }
        const char *q = v;
        int rc = parse_terms(c, &q, end, &ru->match);
        if (rc == ES_ENOMEM)
            return rc;
        if (rc == 0 && q != end)
            report(c, ES_DIAG_ERROR, q, "unexpected text after the terms");
        ru->has_match = true;
        return 0;
    }
    if (word_is(k, ke, "near"))
        return add_clause(c, &ru->near, &ru->n_near, v, end, true);
    if (word_is(k, ke, "not"))
        return add_clause(c, &ru->neg, &ru->n_neg, v, end, false);
    if (word_is(k, ke, "unless")) {
        struct es__termset ts = {NULL, 0};
        const char *q = v;
        int rc = parse_terms(c, &q, end, &ts);
        if (rc == 0 && q != end) {
            report(c, ES_DIAG_ERROR, q, "unexpected text after the terms");
            rc = ES_EPARSE;
        }
        if (rc) {
            termset_free(&ts);
            return rc == ES_ENOMEM ? rc : 0;
        }
        struct es__termset *na = es_realloc(ru->unless, (ru->n_unless + 1) * sizeof *na);
        if (!na) {
            termset_free(&ts);
            return ES_ENOMEM;
        }
        ru->unless = na;
        na[ru->n_unless++] = ts;
        return 0;
    }
    if (word_is(k, ke, "lang")) {
        int l = single ? parse_lang(v, ve) : -1;
        if (l < 0)
            report(c, ES_DIAG_ERROR, v, "lang must be zh, en or any");
        else
            ru->lang = l;
        return 0;
    }
    if (word_is(k, ke, "brand")) {
        if (!single) {
            report(c, ES_DIAG_ERROR, v, "brand must be any, required or ID[,ID...]");
            return 0;
        }
        ru->brand_line = c->line;
        ru->brand_col = col_of(c, v);
        if (word_is(v, ve, "any")) {
            ru->brand_mode = 0;
        } else if (word_is(v, ve, "required")) {
            ru->brand_mode = 1;
        } else {
            ru->brand_mode = 2;
            const char *q = v;
            while (q < ve) {
                const char *comma = memchr(q, ',', (size_t)(ve - q));
                const char *qe = comma ? comma : ve;
                if (!valid_name(q, qe)) {
                    report(c, ES_DIAG_ERROR, q, "brand id must be [a-z0-9_]+");
                    return 0;
                }
                char **nb = es_realloc(ru->brands, (ru->n_brands + 1) * sizeof *nb);
                if (!nb)
                    return ES_ENOMEM;
                ru->brands = nb;
                nb[ru->n_brands] = es_strndup(q, (size_t)(qe - q));
                if (!nb[ru->n_brands])
                    return ES_ENOMEM;
                ru->n_brands++;
                q = comma ? comma + 1 : ve;
            }
        }
        return 0;
    }
    if (word_is(k, ke, "category")) {
        if (!single || !valid_name(v, ve)) {
            report(c, ES_DIAG_ERROR, v, "category must be one name [a-z0-9_]+");
            return 0;
        }
        es_free(ru->category);
        ru->category = es_strndup(v, (size_t)(ve - v));
        return ru->category ? 0 : ES_ENOMEM;
    }
    if (word_is(k, ke, "severity") || word_is(k, ke, "cap")) {
        bool sev = *k == 's';
        long n;
        if (!single || parse_int(v, ve, 1, sev ? 4 : 1000, &n)) {
            report(c, ES_DIAG_ERROR, v, sev ? "severity must be 1..4" : "cap must be 1..1000");
            return 0;
        }
        if (sev)
            ru->severity = (int)n;
        else
            ru->cap = (int)n;
        return 0;
    }
    if (word_is(k, ke, "weight")) {
        char buf[64], *endp;
        double d = 0;
        bool ok = single && ve - v < (long)sizeof buf;
        if (ok) {
            memcpy(buf, v, (size_t)(ve - v));
            buf[ve - v] = '\0';
            d = strtod(buf, &endp);
            ok = *endp == '\0' && d >= -100 && d <= 100 && d != 0;
        }
        if (!ok)
            report(c, ES_DIAG_ERROR, v, "weight must be a non-zero number in [-100, 100]");
        else
            ru->weight = d;
        return 0;
    }
    report(c, ES_DIAG_ERROR, k,
           "unknown key '%.*s' (known: match, near, not, unless, lang, brand, category, "
           "severity, weight, cap)",
           (int)(ke - k), k);
    return 0;
}

static int rule_line(struct ctx *c, const char *p, const char *end)
{
    struct rule_state *s = (struct rule_state *)c;
    if (p == end || *p == '#')
        return 0;
    if (*p != ' ' && *p != '\t')
        return rule_header(s, p, end);
    const char *k = skip_ws(p, end);
    if (k == end || *k == '#')
        return 0;
    if (s->cur_idx < 0) {
        report(c, ES_DIAG_ERROR, k, "indented line outside a rule");
        return 0;
    }
    const char *ke = word_end(k, end);
    const char *v = skip_ws(ke, end);
    if (v == end) {
        report(c, ES_DIAG_ERROR, k, "'%.*s' needs a value", (int)(ke - k), k);
        return 0;
    }
    return rule_key(s, k, ke, v, end);
}

int es_rules_add_rules(struct es_rules *r, const char *name, const char *text, size_t len,
                       es_diag_cb *on_diag, void *ud)
{
    struct rule_state s = {{r, NULL, 0, NULL, on_diag, ud, 0}, -1};
    s.c.file = es__rules_keep_name(r, name);
    if (!s.c.file)
        return ES_ENOMEM;
    size_t first_rule = r->n_rules;
    int rc = each_line(&s.c, text, len, rule_line);
    if (rc)
        return rc;
    for (size_t i = first_rule; i < r->n_rules; i++) {
        if (!r->rules[i].has_match) {
            struct es_diag d;
            es_diag_set(&d, r->rules[i].file, r->rules[i].line, r->rules[i].col,
                        "rule '%s' has no 'match' line", r->rules[i].id);
            s.c.errors++;
            if (on_diag)
                on_diag(ud, &d);
        }
    }
    return s.c.errors ? ES_EPARSE : 0;
}

/* ---- directories ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ES_EIO;
    struct es_buf_local {
        char *d;
        size_t n, a;
    } b = {NULL, 0, 0};
    char chunk[65536];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.n + got > MAX_RULE_FILE) {
            rc = ES_ELIMIT;
            break;
        }
        if (b.n + got + 1 > b.a) {
            size_t na = (b.n + got + 1) * 2;
            char *nd = es_realloc(b.d, na);
            if (!nd) {
                rc = ES_ENOMEM;
                break;
            }
            b.d = nd;
            b.a = na;
        }
        memcpy(b.d + b.n, chunk, got);
        b.n += got;
    }
    if (!rc && ferror(f))
        rc = ES_EIO;
    fclose(f);
    if (rc) {
        es_free(b.d);
        return rc;
    }
    *out = b.d;
    *len = b.n;
    return 0;
}

static int load_dir(struct es_rules *r, const char *dir, const char *suffix, bool keywords,
                    es_diag_cb *on_diag, void *ud)
{
    DIR *d = opendir(dir);
    struct es_diag diag;
    if (!d) {
        es_diag_set(&diag, dir, 0, 0, "cannot open directory: %s", strerror(errno));
        if (on_diag)
            on_diag(ud, &diag);
        return ES_EIO;
    }
    char **names = NULL;
    size_t n = 0, alloc = 0;
    int rc = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        if (grow((void **)&names, &alloc, n, sizeof *names)) {
            rc = ES_ENOMEM;
            break;
        }
        size_t pl = strlen(dir) + l + 2;
        names[n] = es_malloc(pl);
        if (!names[n]) {
            rc = ES_ENOMEM;
            break;
        }
        snprintf(names[n], pl, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, name_cmp);
    int worst = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *text;
        size_t len;
        int frc = read_file(names[i], &text, &len);
        if (frc) {
            es_diag_set(&diag, names[i], 0, 0, "cannot read: %s", frc == ES_ELIMIT ? "file over 16 MiB" : strerror(errno));
            if (on_diag)
                on_diag(ud, &diag);
            worst = ES_EIO;
            continue;
        }
        frc = keywords ? es_rules_add_keywords(r, names[i], text, len, on_diag, ud)
                       : es_rules_add_rules(r, names[i], text, len, on_diag, ud);
        es_free(text);
        if (frc == ES_ENOMEM)
            rc = frc;
        else if (frc && !worst)
            worst = frc;
    }
    for (size_t i = 0; i < n; i++)
        es_free(names[i]);
    es_free(names);
    return rc ? rc : worst;
}

int es_rules_load_dirs(struct es_rules *r, const char *keywords_dir, const char *rules_dir,
                       es_diag_cb *on_diag, void *ud)
{
    int rc1 = 0, rc2 = 0;
    if (keywords_dir)
        rc1 = load_dir(r, keywords_dir, ".kw", true, on_diag, ud);
    if (rc1 == ES_ENOMEM)
        return rc1;
    if (rules_dir)
        rc2 = load_dir(r, rules_dir, ".rules", false, on_diag, ud);
    if (rc2 == ES_ENOMEM)
        return rc2;
    return rc1 ? rc1 : rc2;
}
