/*
 * The rule compiler: resolves names, turns every list entry and inline term
 * into an atom (deduplicated), compiles regexes with PCRE2 (+JIT) and all
 * atoms into one Hyperscan database, and checks the rule set for the
 * problems `earshot rules check` reports.
 *
 * Sets: every brand, every list and every inline term is a "set" of atoms;
 * rules refer to sets. Set 0 is @brand (all aliases), sets 1..n_brands are
 * the brands, then the lists, then inline terms.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/utf8.h"
#include "match/internal.h"

#define ES_MATCH_LIMIT_DEFAULT 100000

struct amap_entry {
    char *key; /* kind byte, wb byte, then the pattern */
    size_t klen;
    uint32_t atom;
};

struct cc {
    const struct es_rules *r;
    const struct es_compile_opts *o;
    struct es_ruleset *rs;
    es_diag_cb *on_diag;
    void *ud;
    int errors;
    struct amap_entry *map;
    size_t map_cap, map_n;
    uint32_t atoms_alloc;
    uint32_t *list_set; /* r->lists[i] -> set id */
    bool *list_used;
};

static void diag(struct cc *c, enum es_severity sev, const char *file, long line, long col,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void diag(struct cc *c, enum es_severity sev, const char *file, long line, long col,
                 const char *fmt, ...)
{
    struct es_diag d;
    d.file = file;
    d.line = line;
    d.col = col;
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

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int map_grow(struct cc *c)
{
    size_t ncap = c->map_cap ? c->map_cap * 2 : 1024;
    struct amap_entry *nm = es_calloc(ncap, sizeof *nm);
    if (!nm)
        return ES_ENOMEM;
    for (size_t i = 0; i < c->map_cap; i++) {
        if (!c->map[i].key)
            continue;
        size_t j = hash(c->map[i].key, c->map[i].klen) & (ncap - 1);
        while (nm[j].key)
            j = (j + 1) & (ncap - 1);
        nm[j] = c->map[i];
    }
    es_free(c->map);
    c->map = nm;
    c->map_cap = ncap;
    return 0;
}

/* atom_add_set: 0 when added, 1 when the atom was in the set already, or ES_ENOMEM. */
static int atom_add_set(struct es__atom *a, uint32_t set)
{
    for (uint32_t i = 0; i < a->n_sets; i++)
        if (a->sets[i] == set)
            return 1;
    uint32_t *ns = es_realloc(a->sets, (a->n_sets + 1) * sizeof *ns);
    if (!ns)
        return ES_ENOMEM;
    a->sets = ns;
    ns[a->n_sets++] = set;
    return 0;
}

/* intern returns the atom for (kind, wb, pat), creating it; *created tells which. */
static int intern(struct cc *c, uint8_t kind, uint8_t wb, const char *pat, size_t len,
                  uint32_t *out, bool *created)
{
    if ((c->map_n + 1) * 2 > c->map_cap && map_grow(c))
        return ES_ENOMEM;
    size_t klen = len + 2;
    char *key = es_malloc(klen + 1);
    if (!key)
        return ES_ENOMEM;
    key[0] = (char)('0' + kind);
    key[1] = (char)('0' + wb);
    memcpy(key + 2, pat, len);
    key[klen] = '\0';
    size_t j = hash(key, klen) & (c->map_cap - 1);
    while (c->map[j].key) {
        if (c->map[j].klen == klen && memcmp(c->map[j].key, key, klen) == 0) {
            es_free(key);
            *out = c->map[j].atom;
            *created = false;
            return 0;
        }
        j = (j + 1) & (c->map_cap - 1);
    }
    struct es_ruleset *rs = c->rs;
    if (rs->n_atoms == c->atoms_alloc) {
        uint32_t na = c->atoms_alloc ? c->atoms_alloc * 2 : 256;
        struct es__atom *nat = es_realloc(rs->atoms, na * sizeof *nat);
        if (!nat) {
            es_free(key);
            return ES_ENOMEM;
        }
        rs->atoms = nat;
        c->atoms_alloc = na;
    }
    struct es__atom *a = &rs->atoms[rs->n_atoms];
    memset(a, 0, sizeof *a);
    a->pat = es_strndup(pat, len);
    if (!a->pat) {
        es_free(key);
        return ES_ENOMEM;
    }
    a->len = (uint32_t)len;
    a->kind = kind;
    a->wb_start = wb & 1;
    a->wb_end = (wb >> 1) & 1;
    c->map[j].key = key;
    c->map[j].klen = klen;
    c->map[j].atom = rs->n_atoms;
    c->map_n++;
    *out = rs->n_atoms++;
    *created = true;
    return 0;
}

static bool ascii_alnum(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/*
 * fold_regex rewrites the non-ASCII characters of a pattern the way the
 * normaliser rewrites text (traditional to simplified, full-width to
 * half-width, case), so a pattern written in any script matches the
 * normalised post. ASCII, and so every regex operator, is left alone; a
 * character that folds to ASCII punctuation is escaped to stay a literal.
 */
static char *fold_regex(const struct es_norm *norm, const char *pat)
{
    struct es_buf b;
    es_buf_init(&b, 1 << 20);
    const unsigned char *p = (const unsigned char *)pat;
    size_t n = strlen(pat), i = 0;
    int rc = 0;
    while (i < n && !rc) {
        if (p[i] < 0x80) {
            rc = es_buf_putc(&b, (char)p[i++]);
            continue;
        }
        size_t len;
        es_utf8_decode(p + i, n - i, &len);
        char one[8];
        memcpy(one, p + i, len);
        one[len] = '\0';
        i += len;
        char *f = es_norm_string(norm, one);
        if (!f) {
            rc = ES_ENOMEM;
            break;
        }
        size_t fl = strlen(f);
        if (fl == 1 && !ascii_alnum((unsigned char)f[0]) && f[0] != ' ')
            rc = es_buf_putc(&b, '\\');
        if (!rc)
            rc = es_buf_append(&b, f, fl);
        es_free(f);
    }
    if (!rc && !b.data)
        rc = es_buf_append(&b, "", 0);
    if (rc) {
        es_buf_cleanup(&b);
        return NULL;
    }
    return b.data;
}

int es__regex_risky(const char *pat, size_t *off)
{
    struct grp {
        size_t start;
        bool unb;
    } st[64];
    int depth = 0;
    size_t n = strlen(pat);
    bool top_unb = false;
    for (size_t i = 0; i < n; i++) {
        char ch = pat[i];
        if (ch == '\\') {
            i++;
            continue;
        }
        if (ch == '[') {
            size_t j = i + 1;
            if (j < n && pat[j] == '^')
                j++;
            if (j < n && pat[j] == ']')
                j++;
            while (j < n && pat[j] != ']') {
                if (pat[j] == '\\')
                    j++;
                j++;
            }
            i = j;
            continue;
        }
        if (ch == '(') {
            if (depth < 64)
                st[depth] = (struct grp){i, false};
            depth++;
            continue;
        }
        /* Is there an unbounded quantifier at i? */
        bool unb = ch == '*' || ch == '+';
        if (ch == '{') {
            const char *close = strchr(pat + i, '}');
            const char *comma = memchr(pat + i, ',', close ? (size_t)(close - pat - i) : 0);
            unb = close && comma && comma + 1 == close;
        }
        if (ch == ')') {
            if (depth == 0)
                continue;
            depth--;
            if (depth >= 64)
                continue;
            struct grp g = st[depth];
            size_t q = i + 1;
            bool qunb = q < n && (pat[q] == '*' || pat[q] == '+');
            if (q < n && pat[q] == '{') {
                const char *close = strchr(pat + q, '}');
                const char *comma = memchr(pat + q, ',', close ? (size_t)(close - pat - q) : 0);
                qunb = close && comma && comma + 1 == close;
            }
            if (qunb && g.unb) {
                *off = g.start;
                return 1;
            }
            if (depth > 0 && depth <= 64)
                st[depth - 1].unb |= g.unb || qunb;
            else
                top_unb |= g.unb || qunb;
            continue;
        }
        if (unb) {
            if (depth > 0 && depth <= 64)
                st[depth - 1].unb = true;
            else
                top_unb = true;
        }
    }
    (void)top_unb;
    return 0;
}

/* compile_re compiles atom a's regex; errors are reported at file:line:col(+offset). */
static int compile_re(struct cc *c, struct es__atom *a, const char *file, long line, long col)
{
    int err;
    PCRE2_SIZE off;
    a->re = pcre2_compile((PCRE2_SPTR)a->pat, a->len,
                          PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS, &err, &off, NULL);
    if (!a->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        if (off > a->len)
            off = a->len;
        diag(c, ES_DIAG_ERROR, file, line, col + (long)es_utf8_count(a->pat, off),
             "bad regex: %s (at offset %zu)", (const char *)msg, (size_t)off);
        return ES_EPARSE;
    }
    if (pcre2_jit_compile(a->re, PCRE2_JIT_COMPLETE) != 0) {
        /* The interpreter still works; JIT is a speed-up, not a requirement. */
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return ES_ENOMEM;
    int rc = pcre2_match(a->re, (PCRE2_SPTR) "", 0, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc >= 0) {
        diag(c, ES_DIAG_ERROR, file, line, col, "regex matches the empty string");
        return ES_EPARSE;
    }
    size_t roff;
    if (es__regex_risky(a->pat, &roff))
        diag(c, ES_DIAG_WARNING, file, line, col + (long)es_utf8_count(a->pat, roff),
             "regex can backtrack catastrophically: a repeated group holds an unbounded "
             "quantifier (the match limit will cut it off)");
    return 0;
}

/*
 * add_term_atom makes (or finds) the atom for one literal or regex and adds
 * it to `set`. Literal text is normalised first. Returns 0, 1 when the atom
 * was in the set already, ES_EPARSE (reported) or ES_ENOMEM.
 */
static int add_term_atom(struct cc *c, bool regex, const char *text, uint32_t set,
                         const char *file, long line, long col, uint32_t *atom_out)
{
    char *pat = regex ? fold_regex(c->o->norm, text) : es_norm_string(c->o->norm, text);
    if (!pat)
        return ES_ENOMEM;
    size_t len = strlen(pat);
    if (len == 0) {
        diag(c, ES_DIAG_WARNING, file, line, col, "entry is empty after normalisation; ignored");
        es_free(pat);
        return ES_EPARSE;
    }
    uint8_t wb = 0;
    if (!regex) {
        wb = (uint8_t)((ascii_alnum((unsigned char)pat[0]) ? 1 : 0) |
                       (ascii_alnum((unsigned char)pat[len - 1]) ? 2 : 0));
    }
    uint32_t id;
    bool created;
    int rc = intern(c, regex ? ES__ATOM_RE : ES__ATOM_LIT, wb, pat, len, &id, &created);
    es_free(pat);
    if (rc)
        return rc;
    struct es__atom *a = &c->rs->atoms[id];
    if (created && regex) {
        rc = compile_re(c, a, file, line, col);
        if (rc)
            return rc;
    } else if (regex && !a->re) {
        return ES_EPARSE; /* the same bad regex, already reported */
    }
    if (atom_out)
        *atom_out = id;
    return atom_add_set(a, set);
}

static int ids_push(struct es__ids *ids, uint32_t v)
{
    for (uint32_t i = 0; i < ids->n; i++)
        if (ids->v[i] == v)
            return 0;
    uint32_t *nv = es_realloc(ids->v, (ids->n + 1) * sizeof *nv);
    if (!nv)
        return ES_ENOMEM;
    ids->v = nv;
    nv[ids->n++] = v;
    return 0;
}

static long find_brand(const struct cc *c, const char *id)
{
    for (uint32_t i = 0; i < c->rs->n_brands; i++)
        if (strcmp(c->rs->brand_ids[i], id) == 0)
            return i;
    return -1;
}

/* resolve_terms turns a parsed termset into set ids, making inline sets as needed. */
static int resolve_terms(struct cc *c, const struct es__rule *ru, const struct es__termset *ts,
                         struct es__ids *out)
{
    const struct es_rules *r = c->r;
    for (size_t i = 0; i < ts->n; i++) {
        const struct es__term *t = &ts->t[i];
        int rc = 0;
        switch (t->kind) {
        case ES__T_BRAND_ALL:
            rc = ids_push(out, c->rs->brand_all_set);
            break;
        case ES__T_BRAND_ONE: {
            long b = find_brand(c, t->text);
            if (b < 0) {
                diag(c, ES_DIAG_ERROR, ru->file, t->line, t->col, "unknown brand '%s'", t->text);
                continue;
            }
            rc = ids_push(out, c->rs->brand_base + (uint32_t)b);
            break;
        }
        case ES__T_LIST: {
            size_t k;
            for (k = 0; k < r->n_lists; k++)
                if (!r->lists[k].brand && strcmp(r->lists[k].name, t->text) == 0)
                    break;
            if (k == r->n_lists) {
                diag(c, ES_DIAG_ERROR, ru->file, t->line, t->col, "unknown list '@%s'", t->text);
                continue;
            }
            c->list_used[k] = true;
            rc = ids_push(out, c->list_set[k]);
            break;
        }
        case ES__T_REGEX:
        case ES__T_LITERAL: {
            uint32_t set = c->rs->n_sets++;
            rc = add_term_atom(c, t->kind == ES__T_REGEX, t->text, set, ru->file, t->line, t->col,
                               NULL);
            if (rc == ES_EPARSE)
                continue;
            if (rc >= 0)
                rc = ids_push(out, set);
            break;
        }
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int compile_lists(struct cc *c)
{
    const struct es_rules *r = c->r;
    struct es_ruleset *rs = c->rs;
    /* Brands first: their sets are 1..n_brands. */
    for (size_t i = 0; i < r->n_lists; i++) {
        if (!r->lists[i].brand)
            continue;
        uint32_t b = rs->n_brands++;
        rs->brand_ids[b] = es_strdup(r->lists[i].name);
        rs->brand_names[b] = es_strdup(r->lists[i].display ? r->lists[i].display
                                                           : r->lists[i].name);
        if (!rs->brand_ids[b] || !rs->brand_names[b])
            return ES_ENOMEM;
        c->list_set[i] = rs->brand_base + b;
    }
    rs->n_sets = rs->brand_base + rs->n_brands;
    for (size_t i = 0; i < r->n_lists; i++)
        if (!r->lists[i].brand)
            c->list_set[i] = rs->n_sets++;
    /* alias -> first brand that listed it, to report duplicates */
    for (size_t i = 0; i < r->n_lists; i++) {
        const struct es__kw_list *l = &r->lists[i];
        if (l->n == 0)
            diag(c, ES_DIAG_WARNING, l->file, l->line, l->col, "%s '%s' has no entries",
                 l->brand ? "brand" : "list", l->name);
        for (size_t k = 0; k < l->n; k++) {
            const struct es__kw_entry *e = &l->e[k];
            uint32_t atom;
            int rc = add_term_atom(c, e->regex, e->text, c->list_set[i], l->file, e->line,
                                   e->col, &atom);
            if (rc == ES_EPARSE)
                continue;
            if (rc < 0)
                return rc;
            if (!l->brand)
                continue;
            struct es__atom *a = &rs->atoms[atom];
            if (rc == 1) {
                diag(c, ES_DIAG_WARNING, l->file, e->line, e->col,
                     "alias '%s' is listed twice under brand '%s'", e->text, l->name);
                continue;
            }
            for (uint32_t s = 0; s < a->n_sets; s++) {
                uint32_t set = a->sets[s];
                if (set >= rs->brand_base && set < rs->brand_base + rs->n_brands &&
                    set != c->list_set[i]) {
                    diag(c, ES_DIAG_WARNING, l->file, e->line, e->col,
                         "alias '%s' is also listed under brand '%s'", e->text,
                         rs->brand_ids[set - rs->brand_base]);
                    break;
                }
            }
            if (atom_add_set(a, rs->brand_all_set) < 0)
                return ES_ENOMEM;
        }
    }
    return 0;
}

static int compile_rules(struct cc *c)
{
    const struct es_rules *r = c->r;
    struct es_ruleset *rs = c->rs;
    rs->rules = es_calloc(r->n_rules ? r->n_rules : 1, sizeof *rs->rules);
    if (!rs->rules)
        return ES_ENOMEM;
    for (size_t i = 0; i < r->n_rules; i++) {
        const struct es__rule *ru = &r->rules[i];
        struct es__crule *cr = &rs->rules[rs->n_rules++];
        cr->id = es_strdup(ru->id);
        cr->category = es_strdup(ru->category ? ru->category : "complaint");
        if (!cr->id || !cr->category)
            return ES_ENOMEM;
        cr->lang = ru->lang;
        cr->brand_mode = ru->brand_mode;
        cr->severity = ru->severity;
        cr->weight = ru->weight;
        cr->cap = ru->cap;
        int rc = resolve_terms(c, ru, &ru->match, &cr->match);
        if (rc)
            return rc;
        if (ru->n_near) {
            cr->near = es_calloc(ru->n_near, sizeof *cr->near);
            if (!cr->near)
                return ES_ENOMEM;
        }
        for (size_t k = 0; k < ru->n_near; k++) {
            cr->near[k].dist = ru->near[k].dist;
            rc = resolve_terms(c, ru, &ru->near[k].ts, &cr->near[k].sets);
            if (rc)
                return rc;
            cr->n_near++;
        }
        if (ru->n_neg) {
            cr->neg = es_calloc(ru->n_neg, sizeof *cr->neg);
            if (!cr->neg)
                return ES_ENOMEM;
        }
        for (size_t k = 0; k < ru->n_neg; k++) {
            cr->neg[k].dist = ru->neg[k].dist;
            cr->neg[k].dir = ru->neg[k].dir;
            rc = resolve_terms(c, ru, &ru->neg[k].ts, &cr->neg[k].sets);
            if (rc)
                return rc;
            cr->n_neg++;
        }
        for (size_t k = 0; k < ru->n_unless; k++) {
            rc = resolve_terms(c, ru, &ru->unless[k], &cr->unless);
            if (rc)
                return rc;
        }
        for (size_t k = 0; k < ru->n_brands; k++) {
            long b = find_brand(c, ru->brands[k]);
            if (b < 0) {
                diag(c, ES_DIAG_ERROR, ru->file, ru->brand_line, ru->brand_col,
                     "unknown brand '%s'", ru->brands[k]);
                continue;
            }
            rc = ids_push(&cr->brands, (uint32_t)b);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < r->n_lists; i++)
        if (!r->lists[i].brand && !c->list_used[i])
            diag(c, ES_DIAG_WARNING, r->lists[i].file, r->lists[i].line, r->lists[i].col,
                 "list '%s' is not used by any rule", r->lists[i].name);
    return 0;
}

static int index_rules(struct es_ruleset *rs)
{
    rs->set_rules = es_calloc(rs->n_sets ? rs->n_sets : 1, sizeof *rs->set_rules);
    if (!rs->set_rules)
        return ES_ENOMEM;
    for (uint32_t i = 0; i < rs->n_rules; i++)
        for (uint32_t k = 0; k < rs->rules[i].match.n; k++)
            if (ids_push(&rs->set_rules[rs->rules[i].match.v[k]], i))
                return ES_ENOMEM;
    return 0;
}

/* hs_escape writes a literal as a Hyperscan expression that matches exactly those bytes. */
static char *hs_escape(const char *s, size_t n)
{
    char *o = es_malloc(n * 4 + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ascii_alnum(ch))
            *p++ = (char)ch;
        else
            p += sprintf(p, "\\x%02x", ch);
    }
    *p = '\0';
    return o;
}


/*
 * The Hyperscan database cache. Compiling 1,000 patterns takes about a
 * second; loading the serialised database takes milliseconds. The cache key
 * hashes the Hyperscan version and every expression with its flags and id,
 * so any change to the rules, or a new library, misses and recompiles.
 * Files live in $EARSHOT_CACHE_DIR, else $XDG_CACHE_HOME/earshot, else
 * ~/.cache/earshot; EARSHOT_CACHE_DIR=off disables the cache. A cache that
 * cannot be read or written only costs the compile.
 */
static bool cache_path(char *out, size_t n, uint64_t h1, uint64_t h2)
{
    const char *dir = getenv("EARSHOT_CACHE_DIR");
    char base[3072];
    if (dir && strcmp(dir, "off") == 0)
        return false;
    if (dir && *dir) {
        snprintf(base, sizeof base, "%s", dir);
    } else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME")) {
        snprintf(base, sizeof base, "%s/earshot", getenv("XDG_CACHE_HOME"));
    } else if (getenv("HOME") && *getenv("HOME")) {
        snprintf(base, sizeof base, "%s/.cache/earshot", getenv("HOME"));
    } else {
        return false;
    }
    if (mkdir(base, 0700) != 0 && errno != EEXIST) {
        /* maybe the parent is missing: ~/.cache on a fresh account */
        char parent[3072];
        snprintf(parent, sizeof parent, "%s", base);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = '\0';
            mkdir(parent, 0700);
        }
        if (mkdir(base, 0700) != 0 && errno != EEXIST)
            return false;
    }
    snprintf(out, n, "%s/hs-%016llx%016llx.db", base, (unsigned long long)h1,
             (unsigned long long)h2);
    return true;
}

static void cache_key(const char **ex, const unsigned *flags, const unsigned *ids, uint32_t k,
                      uint64_t *h1, uint64_t *h2)
{
    uint64_t a = hash(hs_version(), strlen(hs_version())), b = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < k; i++) {
        size_t l = strlen(ex[i]);
        unsigned meta[2] = {flags[i], ids[i]};
        a = (a ^ hash(ex[i], l)) * 0x100000001b3ull ^ hash((const char *)meta, sizeof meta);
        b = (b + hash(ex[i], l + 1) + (uint64_t)i * 0xff51afd7ed558ccdull) * 31 + meta[0] * 7 +
            meta[1];
    }
    *h1 = a;
    *h2 = b ^ k;
}

static hs_database_t *cache_load(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    hs_database_t *db = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (1 << 30)) {
        char *buf = es_malloc((size_t)st.st_size);
        if (buf && read(fd, buf, (size_t)st.st_size) == st.st_size &&
            hs_deserialize_database(buf, (size_t)st.st_size, &db) != HS_SUCCESS)
            db = NULL;
        es_free(buf);
    }
    close(fd);
    return db;
}

static void cache_store(const char *path, const hs_database_t *db)
{
    char *bytes = NULL;
    size_t len = 0;
    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        bool ok = write(fd, bytes, len) == (ssize_t)len;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0)
            unlink(tmp);
    }
    free(bytes); /* allocated by Hyperscan's default allocator */
}

static int build_hs(struct cc *c)
{
    struct es_ruleset *rs = c->rs;
    uint32_t n = rs->n_atoms;
    char **expr = es_calloc(n ? n : 1, sizeof *expr);
    unsigned *flags = es_calloc(n ? n : 1, sizeof *flags);
    unsigned *ids = es_calloc(n ? n : 1, sizeof *ids);
    int rc = (!expr || !flags || !ids) ? ES_ENOMEM : 0;
    for (;;) {
        if (rc)
            break;
        uint32_t k = 0;
        for (uint32_t i = 0; i < n && !rc; i++) {
            struct es__atom *a = &rs->atoms[i];
            if (a->always || (a->kind == ES__ATOM_RE && !a->re) || a->n_sets == 0)
                continue;
            if (a->kind == ES__ATOM_LIT) {
                if (!expr[i])
                    expr[i] = hs_escape(a->pat, a->len);
                if (!expr[i]) {
                    rc = ES_ENOMEM;
                    break;
                }
                flags[k] = 0;
            } else {
                flags[k] = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | HS_FLAG_UTF8 |
                           HS_FLAG_CASELESS;
            }
            ids[k] = i;
            k++;
        }
        if (rc || k == 0)
            break;
        const char **ex = es_calloc(k, sizeof *ex);
        if (!ex) {
            rc = ES_ENOMEM;
            break;
        }
        for (uint32_t j = 0; j < k; j++) {
            struct es__atom *a = &rs->atoms[ids[j]];
            ex[j] = a->kind == ES__ATOM_LIT ? expr[ids[j]] : a->pat;
        }
        char path[4096];
        uint64_t h1, h2;
        cache_key(ex, flags, ids, k, &h1, &h2);
        bool cached = cache_path(path, sizeof path, h1, h2);
        if (cached) {
            rs->db = cache_load(path);
            if (rs->db) {
                es_free(ex);
                break;
            }
        }
        hs_compile_error_t *err = NULL;
        hs_error_t hr = hs_compile_multi(ex, flags, ids, k, HS_MODE_BLOCK, NULL, &rs->db, &err);
        es_free(ex);
        if (hr == HS_SUCCESS) {
            if (cached)
                cache_store(path, rs->db);
            break;
        }
        if (err && err->expression >= 0 && (uint32_t)err->expression < k &&
            rs->atoms[ids[err->expression]].kind == ES__ATOM_RE) {
            /* Hyperscan cannot take this regex even as a prefilter: PCRE2 runs it on
             * every post instead. Correct, only slower; say so. */
            struct es__atom *a = &rs->atoms[ids[err->expression]];
            a->always = true;
            diag(c, ES_DIAG_WARNING, NULL, 0, 0,
                 "regex /%s/ cannot be prefiltered (%s); it runs on every post", a->pat,
                 err->message);
            hs_free_compile_error(err);
            continue;
        }
        diag(c, ES_DIAG_ERROR, NULL, 0, 0, "Hyperscan: %s", err ? err->message : "compile failed");
        if (err)
            hs_free_compile_error(err);
        rc = ES_EPARSE;
        break;
    }
    if (expr)
        for (uint32_t i = 0; i < n; i++)
            es_free(expr[i]);
    es_free(expr);
    es_free(flags);
    es_free(ids);
    if (rc)
        return rc;
    if (rs->db && hs_alloc_scratch(rs->db, &rs->scratch_proto) != HS_SUCCESS)
        return ES_ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        if (rs->atoms[i].always && rs->atoms[i].n_sets)
            rs->n_always++;
    if (rs->n_always) {
        rs->always = es_calloc(rs->n_always, sizeof *rs->always);
        if (!rs->always)
            return ES_ENOMEM;
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++)
            if (rs->atoms[i].always && rs->atoms[i].n_sets)
                rs->always[k++] = i;
    }
    return 0;
}

int es_ruleset_compile(const struct es_rules *r, const struct es_compile_opts *opts,
                       struct es_ruleset **out, es_diag_cb *on_diag, void *ud)
{
    if (!r || !opts || !opts->norm || !out)
        return ES_EINVAL;
    struct cc c = {0};
    c.r = r;
    c.o = opts;
    c.on_diag = on_diag;
    c.ud = ud;
    int rc = ES_ENOMEM;
    struct es_ruleset *rs = es_calloc(1, sizeof *rs);
    c.rs = rs;
    c.list_set = es_calloc(r->n_lists + 1, sizeof *c.list_set);
    c.list_used = es_calloc(r->n_lists + 1, sizeof *c.list_used);
    if (!rs || !c.list_set || !c.list_used)
        goto fail;
    rs->norm = opts->norm;
    rs->threshold = r->threshold;
    rs->match_limit = opts->match_limit ? opts->match_limit : ES_MATCH_LIMIT_DEFAULT;
    rs->brand_all_set = 0;
    rs->brand_base = 1;
    rs->brand_ids = es_calloc(r->n_lists + 1, sizeof *rs->brand_ids);
    rs->brand_names = es_calloc(r->n_lists + 1, sizeof *rs->brand_names);
    if (!rs->brand_ids || !rs->brand_names)
        goto fail;
    rc = compile_lists(&c);
    if (!rc)
        rc = compile_rules(&c);
    if (!rc && c.errors)
        rc = ES_EPARSE;
    if (!rc)
        rc = index_rules(rs);
    if (!rc)
        rc = build_hs(&c);
    if (!rc && c.errors)
        rc = ES_EPARSE;
    if (rc)
        goto fail;
    for (size_t i = 0; i < c.map_cap; i++)
        es_free(c.map[i].key);
    es_free(c.map);
    es_free(c.list_set);
    es_free(c.list_used);
    *out = rs;
    return 0;
fail:
    for (size_t i = 0; i < c.map_cap; i++)
        es_free(c.map[i].key);
    es_free(c.map);
    es_free(c.list_set);
    es_free(c.list_used);
    es_ruleset_free(rs);
    return rc;
}

static void ids_free(struct es__ids *ids)
{
    es_free(ids->v);
}

void es_ruleset_free(struct es_ruleset *rs)
{
    if (!rs)
        return;
    for (uint32_t i = 0; i < rs->n_atoms; i++) {
        es_free(rs->atoms[i].pat);
        es_free(rs->atoms[i].sets);
        pcre2_code_free(rs->atoms[i].re);
    }
    es_free(rs->atoms);
    es_free(rs->always);
    if (rs->set_rules)
        for (uint32_t i = 0; i < rs->n_sets; i++)
            ids_free(&rs->set_rules[i]);
    es_free(rs->set_rules);
    for (uint32_t i = 0; i < rs->n_brands; i++) {
        es_free(rs->brand_ids[i]);
        es_free(rs->brand_names[i]);
    }
    es_free(rs->brand_ids);
    es_free(rs->brand_names);
    for (uint32_t i = 0; i < rs->n_rules; i++) {
        struct es__crule *cr = &rs->rules[i];
        es_free(cr->id);
        es_free(cr->category);
        ids_free(&cr->match);
        for (uint32_t k = 0; k < cr->n_near; k++)
            ids_free(&cr->near[k].sets);
        for (uint32_t k = 0; k < cr->n_neg; k++)
            ids_free(&cr->neg[k].sets);
        es_free(cr->near);
        es_free(cr->neg);
        ids_free(&cr->unless);
        ids_free(&cr->brands);
    }
    es_free(rs->rules);
    if (rs->scratch_proto)
        hs_free_scratch(rs->scratch_proto);
    if (rs->db)
        hs_free_database(rs->db);
    es_free(rs);
}

size_t es_ruleset_rule_count(const struct es_ruleset *rs)
{
    return rs->n_rules;
}

size_t es_ruleset_atom_count(const struct es_ruleset *rs)
{
    return rs->n_atoms;
}

const char *es_ruleset_rule_id(const struct es_ruleset *rs, size_t i)
{
    return i < rs->n_rules ? rs->rules[i].id : NULL;
}

size_t es_ruleset_brand_count(const struct es_ruleset *rs)
{
    return rs->n_brands;
}

const char *es_ruleset_brand_id(const struct es_ruleset *rs, size_t i)
{
    return i < rs->n_brands ? rs->brand_ids[i] : NULL;
}

double es_ruleset_threshold(const struct es_ruleset *rs)
{
    return rs->threshold;
}
