/*
 * The matcher: judges one post's text against a compiled ruleset.
 *
 *   text ─norm─> normalised ─Hyperscan─> literal hits (exact spans)
 *                                   └──> regex candidates ─PCRE2─> hits
 *   hits, sorted by set ─> rules whose `match` sets were hit ─> score, verdict
 *
 * Everything per post lives in the matcher and is reused; nothing here
 * allocates once the buffers have grown to the largest post seen.
 */
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/utf8.h"
#include "match/internal.h"

#define MAX_HITS 4096          /* per post; beyond it hits are dropped and counted */
#define MAX_RE_OCCURRENCES 32  /* per regex per post */
#define NORM_CAP (256u << 10)  /* longest text judged; longer is cut and counted */

struct hit {
    uint32_t set;
    uint32_t start, end; /* normalised byte offsets */
};

struct es_matcher {
    const struct es_ruleset *rs;
    hs_scratch_t *scratch;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    struct es_norm_out norm;
    struct hit *hits;
    uint32_t n_hits;
    bool hits_overflow;
    uint32_t *cand;      /* regex atoms to confirm */
    uint32_t n_cand;
    uint32_t *atom_gen;  /* dedup of candidates */
    uint32_t *set_first, *set_count, *set_gen;
    uint32_t *touched;   /* sets hit in this post */
    uint32_t n_touched;
    uint32_t *rule_gen;
    uint32_t *rules_todo;
    uint32_t gen;
    uint64_t *rule_hits;
    struct es_match_stats stats;
    struct es_match out;
};

struct es_matcher *es_matcher_new(const struct es_ruleset *rs)
{
    struct es_matcher *m = es_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->rs = rs;
    es_norm_out_init(&m->norm, NORM_CAP);
    uint32_t ns = rs->n_sets ? rs->n_sets : 1, na = rs->n_atoms ? rs->n_atoms : 1,
             nr = rs->n_rules ? rs->n_rules : 1;
    m->hits = es_malloc(MAX_HITS * sizeof *m->hits);
    m->cand = es_malloc(na * sizeof *m->cand);
    m->atom_gen = es_calloc(na, sizeof *m->atom_gen);
    m->set_first = es_calloc(ns, sizeof *m->set_first);
    m->set_count = es_calloc(ns, sizeof *m->set_count);
    m->set_gen = es_calloc(ns, sizeof *m->set_gen);
    m->touched = es_malloc(ns * sizeof *m->touched);
    m->rule_gen = es_calloc(nr, sizeof *m->rule_gen);
    m->rules_todo = es_malloc(nr * sizeof *m->rules_todo);
    m->rule_hits = es_calloc(nr, sizeof *m->rule_hits);
    m->md = pcre2_match_data_create(1, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    m->jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (!m->hits || !m->cand || !m->atom_gen || !m->set_first || !m->set_count || !m->set_gen ||
        !m->touched || !m->rule_gen || !m->rules_todo || !m->rule_hits || !m->md || !m->mctx ||
        !m->jit_stack)
        goto fail;
    pcre2_set_match_limit(m->mctx, rs->match_limit);
    pcre2_set_depth_limit(m->mctx, rs->match_limit);
    pcre2_jit_stack_assign(m->mctx, NULL, m->jit_stack);
    if (rs->scratch_proto && hs_clone_scratch(rs->scratch_proto, &m->scratch) != HS_SUCCESS)
        goto fail;
    return m;
fail:
    es_matcher_free(m);
    return NULL;
}

void es_matcher_free(struct es_matcher *m)
{
    if (!m)
        return;
    if (m->scratch)
        hs_free_scratch(m->scratch);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_jit_stack_free(m->jit_stack);
    es_norm_out_cleanup(&m->norm);
    es_free(m->hits);
    es_free(m->cand);
    es_free(m->atom_gen);
    es_free(m->set_first);
    es_free(m->set_count);
    es_free(m->set_gen);
    es_free(m->touched);
    es_free(m->rule_gen);
    es_free(m->rules_todo);
    es_free(m->rule_hits);
    es_free(m);
}

const struct es_match_stats *es_matcher_stats(const struct es_matcher *m)
{
    return &m->stats;
}

const uint64_t *es_matcher_rule_hits(const struct es_matcher *m)
{
    return m->rule_hits;
}

static bool word_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static void push_hits(struct es_matcher *m, const struct es__atom *a, uint32_t start,
                      uint32_t end)
{
    for (uint32_t i = 0; i < a->n_sets; i++) {
        if (m->n_hits == MAX_HITS) {
            m->hits_overflow = true;
            return;
        }
        m->hits[m->n_hits++] = (struct hit){a->sets[i], start, end};
    }
}

static int on_hs_match(unsigned int id, unsigned long long from, unsigned long long to,
                       unsigned int flags, void *ctx)
{
    (void)from;
    (void)flags;
    struct es_matcher *m = ctx;
    const struct es__atom *a = &m->rs->atoms[id];
    if (a->kind == ES__ATOM_RE) {
        if (m->atom_gen[id] != m->gen) {
            m->atom_gen[id] = m->gen;
            m->cand[m->n_cand++] = id;
        }
        return 0;
    }
    uint32_t end = (uint32_t)to, start = end - a->len;
    const unsigned char *t = (const unsigned char *)m->norm.text;
    if (a->wb_start && start > 0 && word_char(t[start - 1]))
        return 0;
    if (a->wb_end && end < m->norm.len && word_char(t[end]))
        return 0;
    push_hits(m, a, start, end);
    return 0;
}

static void confirm_regex(struct es_matcher *m, uint32_t id, struct es_match *out)
{
    const struct es__atom *a = &m->rs->atoms[id];
    PCRE2_SIZE off = 0, len = m->norm.len;
    m->stats.regex_runs++;
    for (int k = 0; k < MAX_RE_OCCURRENCES && off <= len; k++) {
        int rc = pcre2_match(a->re, (PCRE2_SPTR)m->norm.text, len, off, 0, m->md, m->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            return;
        if (rc < 0 && rc != 0) {
            if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
                rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
                m->stats.limit_hits++;
                out->limit_hit = true;
            }
            return;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        push_hits(m, a, (uint32_t)ov[0], (uint32_t)ov[1]);
        if (ov[1] > ov[0]) {
            off = ov[1];
        } else {
            /* An empty match cannot come from a compiled atom, but step on anyway. */
            size_t l = 1;
            if (ov[1] < len)
                es_utf8_decode((const unsigned char *)m->norm.text + ov[1], len - ov[1], &l);
            off = ov[1] + l;
        }
    }
}

static int hit_cmp(const void *x, const void *y)
{
    const struct hit *a = x, *b = y;
    if (a->set != b->set)
        return a->set < b->set ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return a->end < b->end ? -1 : a->end > b->end;
}

static int u32_cmp(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

static bool set_hit(const struct es_matcher *m, uint32_t set)
{
    return m->set_gen[set] == m->gen && m->set_count[set] > 0;
}

/* chars_between: code points in normalised text [a, b), stopping once over limit. */
static uint32_t chars_between(const struct es_matcher *m, uint32_t a, uint32_t b, uint32_t limit)
{
    if (b <= a)
        return 0;
    if (limit < (1u << 28) && b - a > 4 * (limit + 1))
        return limit + 1;
    uint32_t n = 0;
    const unsigned char *t = (const unsigned char *)m->norm.text;
    for (uint32_t i = a; i < b && n <= limit; i++)
        if ((t[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* distance between two spans in characters (0 when they touch or overlap). */
static uint32_t span_dist(const struct es_matcher *m, uint32_t s1, uint32_t e1, uint32_t s2,
                          uint32_t e2, uint32_t limit)
{
    if (e1 <= s2)
        return chars_between(m, e1, s2, limit);
    if (e2 <= s1)
        return chars_between(m, e2, s1, limit);
    return 0;
}

static bool any_near(const struct es_matcher *m, const struct es__ids *sets, uint32_t s,
                     uint32_t e, uint32_t dist)
{
    for (uint32_t k = 0; k < sets->n; k++) {
        uint32_t set = sets->v[k];
        if (!set_hit(m, set))
            continue;
        const struct hit *h = &m->hits[m->set_first[set]];
        for (uint32_t i = 0; i < m->set_count[set]; i++)
            if (!(h[i].start == s && h[i].end == e) &&
                span_dist(m, h[i].start, h[i].end, s, e, dist) <= dist)
                return true;
    }
    return false;
}

static bool negated(const struct es_matcher *m, const struct es__cclause *cl, uint32_t s,
                    uint32_t e)
{
    for (uint32_t k = 0; k < cl->sets.n; k++) {
        uint32_t set = cl->sets.v[k];
        if (!set_hit(m, set))
            continue;
        const struct hit *h = &m->hits[m->set_first[set]];
        for (uint32_t i = 0; i < m->set_count[set]; i++) {
            uint32_t d = (uint32_t)cl->dist;
            bool before = h[i].start < s && (h[i].end >= s || chars_between(m, h[i].end, s, d) <= d);
            bool after = h[i].end > e && (h[i].start <= e || chars_between(m, e, h[i].start, d) <= d);
            if ((cl->dir != ES__DIR_AFTER && before) || (cl->dir != ES__DIR_BEFORE && after))
                return true;
        }
    }
    return false;
}

struct occ {
    uint32_t start, end;
};

/*
 * eval_rule counts the valid candidates of rule r (up to its cap) and
 * stores the first few in occ. Returns the count.
 */
static int eval_rule(const struct es_matcher *m, const struct es__crule *r, int lang,
                     struct occ *occ, int max_occ)
{
    if (r->lang != ES__LANG_ANY && r->lang != lang)
        return 0;
    for (uint32_t k = 0; k < r->unless.n; k++)
        if (set_hit(m, r->unless.v[k]))
            return 0;
    if (r->brand_mode == 1 && !set_hit(m, m->rs->brand_all_set))
        return 0;
    if (r->brand_mode == 2) {
        bool any = false;
        for (uint32_t k = 0; k < r->brands.n && !any; k++)
            any = set_hit(m, m->rs->brand_base + r->brands.v[k]);
        if (!any)
            return 0;
    }
    int count = 0;
    for (uint32_t k = 0; k < r->match.n && count < r->cap; k++) {
        uint32_t set = r->match.v[k];
        if (!set_hit(m, set))
            continue;
        const struct hit *h = &m->hits[m->set_first[set]];
        for (uint32_t i = 0; i < m->set_count[set] && count < r->cap; i++) {
            uint32_t s = h[i].start, e = h[i].end;
            bool dup = false;
            for (int j = 0; j < count && j < max_occ && !dup; j++)
                dup = occ[j].start == s && occ[j].end == e;
            if (dup)
                continue;
            bool ok = true;
            for (uint32_t c = 0; c < r->n_neg && ok; c++)
                ok = !negated(m, &r->neg[c], s, e);
            for (uint32_t c = 0; c < r->n_near && ok; c++)
                ok = any_near(m, &r->near[c].sets, s, e, (uint32_t)r->near[c].dist);
            if (!ok)
                continue;
            if (count < max_occ)
                occ[count] = (struct occ){s, e};
            count++;
        }
    }
    return count;
}

static int guess_lang(const char *lang, const char *text, size_t len)
{
    if (lang && (lang[0] == 'z' || lang[0] == 'Z') && (lang[1] == 'h' || lang[1] == 'H'))
        return ES__LANG_ZH;
    if (lang && (lang[0] == 'e' || lang[0] == 'E') && (lang[1] == 'n' || lang[1] == 'N'))
        return ES__LANG_EN;
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0xE3)
            continue;
        size_t l;
        uint32_t cp = es_utf8_decode(p + i, len - i, &l);
        if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))
            return ES__LANG_ZH;
        i += l - 1;
    }
    return ES__LANG_EN;
}

static void add_span(struct es_matcher *m, struct es_match *out, uint32_t s, uint32_t e, int rule,
                     int brand)
{
    if (out->n_spans == ES_MATCH_MAX_SPANS)
        return;
    size_t os, oe;
    es_norm_span(&m->norm, s, e, &os, &oe);
    for (size_t i = 0; i < out->n_spans; i++)
        if (out->spans[i].start == os && out->spans[i].end == oe)
            return;
    out->spans[out->n_spans++] = (struct es_span){os, oe, rule, brand};
}

int es_match_text(struct es_matcher *m, const char *text, size_t len, const char *lang,
                  const struct es_match **result)
{
    const struct es_ruleset *rs = m->rs;
    struct es_match *out = &m->out;
    memset(out, 0, offsetof(struct es_match, spans));
    out->n_spans = 0;
    out->brand = -1;
    *result = out;
    m->stats.posts++;
    int status = 0;
    size_t judged = len;
    if (len > NORM_CAP) {
        /* Judge the first part of an oversized post; cut at a character start. */
        judged = NORM_CAP;
        while (judged > 0 && ((unsigned char)text[judged] & 0xC0) == 0x80)
            judged--;
        m->stats.truncated++;
        status = ES_ELIMIT;
    }
    int rc = es_norm_text(rs->norm, text, judged, &m->norm);
    if (rc)
        return rc;
    if (++m->gen == 0) {
        /* Generation counter wrapped: clear the stamps once. */
        memset(m->atom_gen, 0, rs->n_atoms * sizeof *m->atom_gen);
        memset(m->set_gen, 0, rs->n_sets * sizeof *m->set_gen);
        memset(m->rule_gen, 0, rs->n_rules * sizeof *m->rule_gen);
        m->gen = 1;
    }
    m->n_hits = 0;
    m->n_cand = 0;
    m->hits_overflow = false;
    if (rs->db && m->norm.len > 0 &&
        hs_scan(rs->db, m->norm.text, (unsigned)m->norm.len, 0, m->scratch, on_hs_match, m) !=
            HS_SUCCESS)
        return ES_ENOMEM;
    for (uint32_t i = 0; i < m->n_cand; i++)
        confirm_regex(m, m->cand[i], out);
    for (uint32_t i = 0; i < rs->n_always; i++)
        confirm_regex(m, rs->always[i], out);
    if (m->n_hits == 0)
        return status;

    /* Group hits by set. */
    qsort(m->hits, m->n_hits, sizeof *m->hits, hit_cmp);
    m->n_touched = 0;
    for (uint32_t i = 0; i < m->n_hits; i++) {
        uint32_t set = m->hits[i].set;
        if (m->set_gen[set] != m->gen) {
            m->set_gen[set] = m->gen;
            m->set_first[set] = i;
            m->set_count[set] = 0;
            m->touched[m->n_touched++] = set;
        }
        m->set_count[set]++;
    }

    /* Rules whose match sets were hit, in rule order. */
    uint32_t n_todo = 0;
    for (uint32_t t = 0; t < m->n_touched; t++) {
        const struct es__ids *rl = &rs->set_rules[m->touched[t]];
        for (uint32_t k = 0; k < rl->n; k++) {
            uint32_t r = rl->v[k];
            if (m->rule_gen[r] != m->gen) {
                m->rule_gen[r] = m->gen;
                m->rules_todo[n_todo++] = r;
            }
        }
    }
    qsort(m->rules_todo, n_todo, sizeof *m->rules_todo, u32_cmp);

    int plang = guess_lang(lang, text, judged);
    double best = 0;
    int best_rule = -1;
    struct occ best_occ = {0, 0};
    bool positive = false;
    for (uint32_t t = 0; t < n_todo; t++) {
        uint32_t r = m->rules_todo[t];
        const struct es__crule *cr = &rs->rules[r];
        struct occ occ[4];
        int count = eval_rule(m, cr, plang, occ, 4);
        if (count == 0)
            continue;
        double contrib = cr->weight * (count < cr->cap ? count : cr->cap);
        out->score += contrib;
        m->rule_hits[r]++;
        if (out->n_rules < ES_MATCH_MAX_RULES)
            out->rules[out->n_rules++] = (int)r;
        if (cr->weight > 0) {
            positive = true;
            if (cr->severity > out->severity)
                out->severity = cr->severity;
            if (contrib > best) {
                best = contrib;
                best_rule = (int)r;
                best_occ = occ[0];
            }
            for (int i = 0; i < count && i < 4; i++)
                add_span(m, out, occ[i].start, occ[i].end, (int)r, -1);
        }
    }
    out->complaint = positive && out->score >= rs->threshold;
    if (best_rule >= 0)
        out->category = rs->rules[best_rule].category;

    /* Brand: the alias nearest the strongest rule's candidate, else the first alias. */
    uint32_t best_dist = UINT32_MAX, first_pos = UINT32_MAX;
    for (uint32_t b = 0; b < rs->n_brands; b++) {
        uint32_t set = rs->brand_base + b;
        if (!set_hit(m, set))
            continue;
        const struct hit *h = &m->hits[m->set_first[set]];
        for (uint32_t i = 0; i < m->set_count[set]; i++) {
            add_span(m, out, h[i].start, h[i].end, -1, (int)b);
            if (best_rule >= 0) {
                uint32_t d = span_dist(m, h[i].start, h[i].end, best_occ.start, best_occ.end,
                                       UINT32_MAX - 1);
                if (d < best_dist) {
                    best_dist = d;
                    out->brand = (int)b;
                }
            } else if (h[i].start < first_pos) {
                first_pos = h[i].start;
                out->brand = (int)b;
            }
        }
    }
    if (out->complaint)
        m->stats.complaints++;
    return status;
}

/* first: keep the first failure of a sequence of buffer appends */
static void first(int *rc, int r)
{
    if (!*rc)
        *rc = r;
}

int es_match_json(const struct es_ruleset *rs, const struct es_match *res, struct es_buf *rules,
                  struct es_buf *spans)
{
    int rc = 0;
    first(&rc, es_buf_putc(rules, '['));
    for (size_t i = 0; i < res->n_rules; i++) {
        const char *id = es_ruleset_rule_id(rs, (size_t)res->rules[i]);
        if (i)
            first(&rc, es_buf_putc(rules, ','));
        first(&rc, es_buf_json_str(rules, id, strlen(id)));
    }
    first(&rc, es_buf_putc(rules, ']'));
    first(&rc, es_buf_putc(spans, '['));
    for (size_t i = 0; i < res->n_spans; i++) {
        const struct es_span *sp = &res->spans[i];
        const char *name = sp->rule >= 0 ? es_ruleset_rule_id(rs, (size_t)sp->rule)
                                         : es_ruleset_brand_id(rs, (size_t)sp->brand);
        first(&rc, es_buf_printf(spans, "%s{\"start\":%zu,\"end\":%zu,\"%s\":", i ? "," : "",
                                 sp->start, sp->end, sp->rule >= 0 ? "rule" : "brand"));
        first(&rc, es_buf_json_str(spans, name, strlen(name)));
        first(&rc, es_buf_putc(spans, '}'));
    }
    first(&rc, es_buf_putc(spans, ']'));
    return rc;
}
