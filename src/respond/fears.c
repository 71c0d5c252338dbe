/*
 * fears: loading rules/fears/ and the one text check.
 *
 * Load: each phrase file is read line by line into one array of patterns
 * (struct es__fears_pat), each tagged with its section. A literal is
 * normalised the way posts are (so 請撥打 in a reply meets 请拨打 in the
 * file); a "re:" line is compiled once with PCRE2 (UTF, UCP, invalid UTF
 * allowed, caseless, JIT). The templates come last, because the loader
 * checks every one of them with the detectors it has just built.
 *
 * Check (es_fears_check_text_opts), on the normalised text:
 *
 *   empty?  length?  placeholder?            (cheap, on the original bytes)
 *   phones (scanner) + vanity numbers (regex on the original)
 *   [call_phrase] [call_ask]* [form_phrase]   (* unless the sentence invites a DM)
 *   form-like URLs (URL regex + host/path words)
 *   [dm_invite]  stock phrases
 *
 * Spans found on the normalised text go back to the original through the
 * norm maps, so the console can underline what the agent typed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/norm.h"
#include "earshot/utf8.h"
#include "respond/fears_int.h"

#define MATCH_LIMIT 200000u /* per regex per text; replies are at most 64 KiB */
#define LINE_MAX_BYTES 4096
#define FILE_MAX_BYTES ((size_t)4 << 20)

/* ---- reasons ---------------------------------------------------------------------------- */

static const struct es_fears_reason reasons[] = {
    {"fears_channel_deflection", 'S', true, 422,
     "Replies must not send the customer to a phone line or a web form; answer here, or invite "
     "them to a direct message."},
    {"fears_template_unfilled", 'E', true, 422,
     "The reply still holds a template placeholder such as {name}; fill it in or take it out "
     "before sending."},
    {"fears_empty", 'A', true, 422, "The reply is empty; write something to the customer."},
    {"fears_too_long", 'A', true, 422,
     "The reply is longer than the platform allows; shorten it, or continue in a direct "
     "message."},
    {"fears_reply_limit", 'R', true, 409,
     "This conversation already has its two public replies; continue in the direct message."},
    {"fears_dm_required", 'S', true, 422,
     "The second public reply must invite the customer to a direct message."},
    {"fears_dm_not_open", 'S', true, 409,
     "Answer the customer publicly first; a direct message comes after the public reply that "
     "invites it."},
    {"fears_canned", 'E', true, 422,
     "This reply is the same as, or nearly the same as, one the brand sent recently; write it "
     "for this customer."},
    {"fears_stock_phrase", 'E', false, 200,
     "The reply leans on a stock phrase customers have read many times; say it in your own "
     "words."},
    {"claimed_by_other", 0, true, 409, "Another agent has claimed this conversation."},
    {"not_claimed", 0, true, 409, "Claim the conversation before replying to it."},
    {"bad_state", 0, true, 409,
     "The conversation is not in a state that allows this action (it may be resolved or "
     "ignored)."},
};

const struct es_fears_reason *es_fears_reasons(size_t *n)
{
    if (n)
        *n = sizeof reasons / sizeof reasons[0];
    return reasons;
}

const struct es_fears_reason *es_fears_reason(const char *code)
{
    if (!code)
        return NULL;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strcmp(reasons[i].code, code) == 0)
            return &reasons[i];
    return NULL;
}

const char *es_fears_reason_message(const char *code)
{
    const struct es_fears_reason *r = es_fears_reason(code);
    return r ? r->message : NULL;
}

const char *es_fears_kind_name(enum es_fears_kind k)
{
    switch (k) {
    case ES_FEARS_PHONE:
        return "phone";
    case ES_FEARS_CALL_PHRASE:
        return "call_phrase";
    case ES_FEARS_FORM_PHRASE:
        return "form_phrase";
    case ES_FEARS_FORM_URL:
        return "form_url";
    default:
        return "none";
    }
}

/* ---- PCRE2 with es_malloc --------------------------------------------------------------- */

static void *pc_malloc(PCRE2_SIZE n, void *ud)
{
    (void)ud;
    return es_malloc(n);
}

static void pc_free(void *p, void *ud)
{
    (void)ud;
    es_free(p);
}

/*
 * es__fears_compile: `\b` outside a character class becomes an ASCII word
 * boundary. With PCRE2_UCP a CJK character is a word character, so a plain
 * \b would not see the edge in "请call us" or "请DM我们"; PCRE2 10.43's
 * PCRE2_EXTRA_ASCII_BSW would do this, but 10.42 is what we build against.
 */
#define ASCII_B "(?:(?<![a-z0-9_])(?=[a-z0-9_])|(?<=[a-z0-9_])(?![a-z0-9_]))"

pcre2_code *es__fears_compile(struct es_fears *f, const char *pat, size_t len, int *err,
                              size_t *erroff)
{
    size_t nb = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (pat[i] == '\\' && pat[i + 1] == 'b')
            nb++;
    char *buf = es_malloc(len + nb * sizeof ASCII_B + 1);
    if (!buf) {
        *err = PCRE2_ERROR_NOMEMORY;
        *erroff = 0;
        return NULL;
    }
    size_t k = 0;
    bool cls = false;
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < len) {
            if (!cls && pat[i + 1] == 'b') {
                memcpy(buf + k, ASCII_B, sizeof ASCII_B - 1);
                k += sizeof ASCII_B - 1;
            } else {
                buf[k++] = c;
                buf[k++] = pat[i + 1];
            }
            i++;
            continue;
        }
        if (!cls && c == '[') {
            cls = true;
            buf[k++] = c;
            /* "[]" and "[^]" take the ']' as a member */
            if (i + 1 < len && pat[i + 1] == '^')
                buf[k++] = pat[++i];
            if (i + 1 < len && pat[i + 1] == ']')
                buf[k++] = pat[++i];
            continue;
        }
        if (cls && c == ']')
            cls = false;
        buf[k++] = c;
    }
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)buf, k,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS,
                                   err, &off, f->cctx);
    es_free(buf);
    if (!re) {
        /* The offset is into the rewritten pattern; past a rewritten \b it is approximate. */
        *erroff = off < len ? off : len;
        return NULL;
    }
    if (pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) != 0) {
        /* The interpreter still works, under the same match limit. */
    }
    return re;
}

int es__fears_find(struct es__fears_run *r, const pcre2_code *re, size_t off, size_t end, size_t *s,
                   size_t *e)
{
    if (off > end)
        return 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)r->t, end, off, 0, r->md, r->f->mctx);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        r->limit_hit = true;
        return 0;
    }
    if (rc < 0)
        return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    *s = ov[0];
    *e = ov[1];
    return 1;
}

/* ---- loading ---------------------------------------------------------------------------- */

int es__fears_read_file(const char *path, char **out, size_t *len, struct es_diag *d)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (d) {
            es_diag_set(d, NULL, 0, 0, "cannot open %s", path);
            d->file = NULL;
        }
        return ES_EIO;
    }
    size_t cap = 8192, n = 0;
    char *buf = es_malloc(cap);
    int rc = 0;
    if (!buf) {
        rc = ES_ENOMEM;
        goto fail;
    }
    for (;;) {
        if (cap - n < 4096) {
            if (cap >= FILE_MAX_BYTES) {
                rc = ES_ELIMIT;
                es_diag_set(d, NULL, 0, 0, "%s is larger than %zu bytes", path, FILE_MAX_BYTES);
                goto fail;
            }
            char *nb = es_realloc(buf, cap * 2);
            if (!nb) {
                rc = ES_ENOMEM;
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(fp)) {
        rc = ES_EIO;
        es_diag_set(d, NULL, 0, 0, "cannot read %s", path);
        goto fail;
    }
    fclose(fp);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
fail:
    fclose(fp);
    es_free(buf);
    return rc;
}

static int add_pat(struct es_fears *f, struct es__fears_pat **p)
{
    if (f->n_pats == f->cap_pats) {
        size_t nc = f->cap_pats ? f->cap_pats * 2 : 64;
        struct es__fears_pat *np = es_realloc(f->pats, nc * sizeof *np);
        if (!np)
            return ES_ENOMEM;
        f->pats = np;
        f->cap_pats = nc;
    }
    *p = &f->pats[f->n_pats];
    memset(*p, 0, sizeof **p);
    return 0;
}

static const struct {
    const char *name;
    enum es__fears_sec sec;
} sections[] = {
    {"call_phrase", ES__SEC_CALL},    {"call_ask", ES__SEC_CALL_ASK},
    {"form_phrase", ES__SEC_FORM},    {"form_host", ES__SEC_FORM_HOST},
    {"form_word", ES__SEC_FORM_WORD}, {"not_phone_before", ES__SEC_NOT_PHONE},
    {"dm_invite", ES__SEC_DM},
};

static bool is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * load_list reads one phrase file. `def` is the section before any header
 * (ES__SEC_N: a header is required); `stock` makes each line "id phrase".
 * d->file is set to `name` (a static string): errors read
 * "deflection.txt:12:4: error: ...".
 */
static int load_list(struct es_fears *f, const char *dir, const char *name, enum es__fears_sec def,
                     bool stock, struct es_diag *d)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return es_diag_set(d, name, 0, 0, "directory name too long");
    char *buf = NULL;
    size_t len = 0;
    int rc = es__fears_read_file(path, &buf, &len, d);
    if (rc != 0) {
        if (d)
            d->file = name;
        return rc;
    }
    enum es__fears_sec sec = def;
    long lineno = 0;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        char *s = p, *ls = p;
        p = nl ? nl + 1 : end;
        if (le - s > LINE_MAX_BYTES) {
            rc = es_diag_set(d, name, lineno, 1, "line longer than %d bytes", LINE_MAX_BYTES);
            goto out;
        }
        while (le > s && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
            le--;
        while (s < le && (*s == ' ' || *s == '\t'))
            s++;
        if (s == le || *s == '#')
            continue;
        long col = 1 + (long)es_utf8_count(ls, (size_t)(s - ls));
        if (!es_utf8_valid(s, (size_t)(le - s))) {
            rc = es_diag_set(d, name, lineno, col, "invalid UTF-8");
            goto out;
        }
        if (*s == '[') {
            if (le[-1] != ']') {
                rc = es_diag_set(d, name, lineno, col, "section header without ']'");
                goto out;
            }
            size_t n = (size_t)(le - s - 2);
            bool found = false;
            for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
                if (strlen(sections[i].name) == n && memcmp(sections[i].name, s + 1, n) == 0) {
                    sec = sections[i].sec;
                    found = true;
                }
            }
            if (!found || stock || (def == ES__SEC_DM) != (sec == ES__SEC_DM)) {
                rc = es_diag_set(d, name, lineno, col, "unknown section [%.*s]", (int)n, s + 1);
                goto out;
            }
            continue;
        }
        if (sec == ES__SEC_N) {
            rc = es_diag_set(d, name, lineno, col, "entry before any [section]");
            goto out;
        }
        struct es__fears_pat *pat;
        rc = add_pat(f, &pat);
        if (rc != 0)
            goto out;
        pat->sec = sec;
        pat->line = lineno;
        f->n_pats++; /* counted now so es_fears_free frees what the entry owns */
        char *body = s;
        if (stock) {
            char *q = s;
            while (q < le && is_id_char(*q))
                q++;
            if (q == s || q == le || (*q != ' ' && *q != '\t')) {
                rc = es_diag_set(d, name, lineno, col, "expected \"id phrase\" (id: a-z, 0-9, _)");
                goto out;
            }
            pat->id = es_strndup(s, (size_t)(q - s));
            if (!pat->id) {
                rc = ES_ENOMEM;
                goto out;
            }
            while (q < le && (*q == ' ' || *q == '\t'))
                q++;
            body = q;
            for (size_t i = 0; i + 1 < f->n_pats; i++) {
                if (f->pats[i].id && strcmp(f->pats[i].id, pat->id) == 0) {
                    rc = es_diag_set(d, name, lineno, col, "duplicate id %s (line %ld)", pat->id,
                                     f->pats[i].line);
                    goto out;
                }
            }
        }
        long bcol = col + (long)es_utf8_count(s, (size_t)(body - s));
        pat->source = es_strndup(body, (size_t)(le - body));
        if (!pat->source) {
            rc = ES_ENOMEM;
            goto out;
        }
        bool literal_only =
            sec == ES__SEC_FORM_HOST || sec == ES__SEC_FORM_WORD || sec == ES__SEC_NOT_PHONE;
        bool is_re = le - body > 3 && memcmp(body, "re:", 3) == 0;
        if (literal_only && is_re) {
            rc =
                es_diag_set(d, name, lineno, bcol, "this section takes literal words, not regexes");
            goto out;
        }
        if (is_re) {
            int err;
            size_t off;
            pat->re = es__fears_compile(f, body + 3, (size_t)(le - body - 3), &err, &off);
            if (!pat->re) {
                if (err == PCRE2_ERROR_NOMEMORY || err == PCRE2_ERROR_HEAP_FAILED) {
                    rc = ES_ENOMEM;
                    goto out;
                }
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(err, msg, sizeof msg);
                rc = es_diag_set(d, name, lineno, bcol + 3 + (long)es_utf8_count(body + 3, off),
                                 "bad regex: %s", (const char *)msg);
                goto out;
            }
            pcre2_match_data *md = pcre2_match_data_create(1, f->gctx);
            if (!md) {
                rc = ES_ENOMEM;
                goto out;
            }
            int m = pcre2_match(pat->re, (PCRE2_SPTR) "", 0, 0, 0, md, f->mctx);
            pcre2_match_data_free(md);
            if (m >= 0) {
                rc = es_diag_set(d, name, lineno, bcol, "regex matches the empty string");
                goto out;
            }
        } else {
            char *tmp = es_strndup(body, (size_t)(le - body));
            if (!tmp) {
                rc = ES_ENOMEM;
                goto out;
            }
            pat->lit = es_norm_string(f->norm, tmp);
            es_free(tmp);
            if (!pat->lit) {
                rc = ES_ENOMEM;
                goto out;
            }
            pat->lit_len = strlen(pat->lit);
            if (pat->lit_len == 0) {
                rc = es_diag_set(d, name, lineno, bcol, "phrase is empty once normalised");
                goto out;
            }
        }
    }
out:
    es_free(buf);
    return rc;
}

static int compile_builtins(struct es_fears *f, struct es_diag *d)
{
    for (int i = 0; i < ES__RE_N; i++) {
        int err;
        PCRE2_SIZE off;
        const char *src = es__fears_builtin_src[i];
        uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
        if (i != ES__RE_VANITY) /* vanity numbers are written in capitals: "1-800-FLOWERS" */
            opts |= PCRE2_CASELESS;
        f->builtin[i] =
            pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts, &err, &off, f->cctx);
        if (!f->builtin[i]) {
            if (err == PCRE2_ERROR_NOMEMORY || err == PCRE2_ERROR_HEAP_FAILED)
                return ES_ENOMEM;
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            return es_diag_set(d, "(built-in)", i + 1, (long)off + 1, "bad regex: %s",
                               (const char *)msg);
        }
        (void)pcre2_jit_compile(f->builtin[i], PCRE2_JIT_COMPLETE);
    }
    return 0;
}

/* check_templates: what es_fears_load promises about each template. */
static int check_templates(struct es_fears *f, struct es_diag *d)
{
    static const struct es_fears_vars sample = {"Alexandra", "20241122-88817", "Brandname",
                                                "cold coffee"};
    struct es_fears_report *r = es_malloc(sizeof *r);
    if (!r)
        return ES_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < f->n_tpl && rc == 0; i++) {
        const struct es_fears_template *t = &f->tpl[i];
        char *filled = NULL;
        rc = es_fears_fill(t->text, &sample, &filled);
        if (rc != 0)
            break;
        bool dm = strcmp(t->scenario, "dm_followup") == 0;
        struct es_fears_opts o = {dm ? ES_FEARS_PLATFORM_DM : ES_FEARS_PLATFORM_TWITTER, 0};
        rc = es_fears_check_text_opts(f, filled, strlen(filled), &o, r);
        es_free(filled);
        if (rc != 0)
            break;
        if (r->deflection)
            rc = es_diag_set(d, "templates.txt", t->line, 1,
                             "template %s sends the customer off-channel (%s \"%s\")", t->id,
                             es_fears_kind_name(r->deflections[0].kind), r->deflections[0].match);
        else if (strcmp(t->scenario, "dm_invite") == 0 && !r->dm_invite)
            rc = es_diag_set(d, "templates.txt", t->line, 1,
                             "template %s does not invite a direct message", t->id);
        else if (r->n_stock > 0)
            rc = es_diag_set(d, "templates.txt", t->line, 1,
                             "template %s uses the stock phrase \"%s\" (%s)", t->id,
                             r->stock[0].phrase, r->stock[0].id);
        else if (r->too_long)
            rc = es_diag_set(d, "templates.txt", t->line, 1,
                             "template %s is %zu characters once filled; the limit is %zu", t->id,
                             r->chars, r->max_chars);
        else if (r->unfilled)
            rc = es_diag_set(d, "templates.txt", t->line, 1,
                             "template %s has a placeholder es_fears_fill does not know", t->id);
    }
    es_free(r);
    return rc;
}

int es_fears_load(const struct es_norm *norm, const char *dir, struct es_fears **out,
                  struct es_diag *d)
{
    if (!norm || !dir || !out)
        return ES_EINVAL;
    *out = NULL;
    int rc = 0;
    struct es_fears *f = es_calloc(1, sizeof *f);
    if (!f)
        return ES_ENOMEM;
    f->norm = norm;
    f->gctx = pcre2_general_context_create(pc_malloc, pc_free, NULL);
    if (!f->gctx) {
        rc = ES_ENOMEM;
        goto fail;
    }
    f->cctx = pcre2_compile_context_create(f->gctx);
    f->mctx = pcre2_match_context_create(f->gctx);
    if (!f->cctx || !f->mctx) {
        rc = ES_ENOMEM;
        goto fail;
    }
    pcre2_set_match_limit(f->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(f->mctx, MATCH_LIMIT);
    rc = compile_builtins(f, d);
    if (rc != 0)
        goto fail;
    rc = load_list(f, dir, "deflection.txt", ES__SEC_N, false, d);
    if (rc == 0)
        rc = load_list(f, dir, "dm_invite.txt", ES__SEC_DM, false, d);
    if (rc == 0)
        rc = load_list(f, dir, "stock_phrases.txt", ES__SEC_STOCK, true, d);
    if (rc != 0)
        goto fail;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/templates.txt", dir) >= sizeof path) {
        rc = es_diag_set(d, "templates.txt", 0, 0, "directory name too long");
        goto fail;
    }
    rc = es__fears_load_templates(f, path, d);
    if (rc == 0)
        rc = check_templates(f, d);
    if (rc != 0)
        goto fail;
    *out = f;
    return 0;
fail:
    if (rc == ES_ENOMEM && d)
        es_diag_set(d, NULL, 0, 0, "out of memory");
    es_fears_free(f);
    return rc;
}

struct es_fears *es_fears_new(const struct es_norm *norm, const char *dir, struct es_diag *d)
{
    struct es_fears *f = NULL;
    if (es_fears_load(norm, dir, &f, d) != 0)
        return NULL;
    return f;
}

void es_fears_free(struct es_fears *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_pats; i++) {
        pcre2_code_free(f->pats[i].re);
        es_free(f->pats[i].lit);
        es_free(f->pats[i].id);
        es_free(f->pats[i].source);
    }
    es_free(f->pats);
    for (int i = 0; i < ES__RE_N; i++)
        pcre2_code_free(f->builtin[i]);
    es__fears_free_templates(f);
    pcre2_match_context_free(f->mctx);
    pcre2_compile_context_free(f->cctx);
    pcre2_general_context_free(f->gctx);
    es_free(f);
}

/* ---- the check -------------------------------------------------------------------------- */

size_t es_fears_platform_limit(enum es_fears_platform p)
{
    switch (p) {
    case ES_FEARS_PLATFORM_TWITTER:
        return 280;
    case ES_FEARS_PLATFORM_WEIBO:
        return 140;
    case ES_FEARS_PLATFORM_WECHAT:
        return 600;
    case ES_FEARS_PLATFORM_DM:
        return 10000;
    default:
        return 2000;
    }
}

/* find_pat: the next match of pattern p in r's text within [off, end). */
static int find_pat(struct es__fears_run *r, const struct es__fears_pat *p, size_t off, size_t end,
                    size_t *s, size_t *e)
{
    if (p->re)
        return es__fears_find(r, p->re, off, end, s, e);
    if (off >= end || end - off < p->lit_len)
        return 0;
    const char *hit = memmem(r->t + off, end - off, p->lit, p->lit_len);
    if (!hit)
        return 0;
    *s = (size_t)(hit - r->t);
    *e = *s + p->lit_len;
    return 1;
}

/* The sentence around [s, e): bounded by 。！？!?;\n or a '.' before a space. */
static void sentence(const char *t, size_t len, size_t s, size_t e, size_t *bs, size_t *be)
{
    size_t a = s;
    while (a > 0) {
        unsigned char c = (unsigned char)t[a - 1];
        if (c == '!' || c == '?' || c == ';' || c == '\n' || (c == '.' && t[a] == ' '))
            break;
        if (a >= 3 && (unsigned char)t[a - 3] == 0xE3 && (unsigned char)t[a - 2] == 0x80 &&
            (unsigned char)t[a - 1] == 0x82) /* 。 */
            break;
        a--;
    }
    size_t b = e;
    while (b < len) {
        unsigned char c = (unsigned char)t[b];
        if (c == '!' || c == '?' || c == ';' || c == '\n' ||
            (c == '.' && (b + 1 == len || t[b + 1] == ' ')))
            break;
        if (b + 3 <= len && c == 0xE3 && (unsigned char)t[b + 1] == 0x80 &&
            (unsigned char)t[b + 2] == 0x82)
            break;
        b++;
    }
    *bs = a;
    *be = b;
}

static bool has_dm(struct es__fears_run *r, size_t off, size_t end)
{
    const struct es_fears *f = r->f;
    size_t s, e;
    for (size_t i = 0; i < f->n_pats; i++)
        if (f->pats[i].sec == ES__SEC_DM && find_pat(r, &f->pats[i], off, end, &s, &e))
            return true;
    return false;
}

/* copy_match copies original bytes [s, e) into out, cut at a code point boundary. */
static void copy_match(const char *text, size_t s, size_t e, char out[ES_FEARS_MATCH_MAX])
{
    size_t n = e - s;
    if (n >= ES_FEARS_MATCH_MAX) {
        n = ES_FEARS_MATCH_MAX - 1;
        while (n > 0 && ((unsigned char)text[s + n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, text + s, n);
    out[n] = '\0';
}

/* add_hit records a deflection at original span [s, e) unless one of the same kind overlaps. */
static void add_hit(struct es_fears_report *out, const char *text, enum es_fears_kind kind,
                    size_t s, size_t e)
{
    out->deflection = true;
    for (size_t i = 0; i < out->n_deflections; i++) {
        struct es_fears_hit *h = &out->deflections[i];
        if (s < h->end && h->start < e && (h->kind == kind || kind == ES_FEARS_PHONE))
            return;
    }
    if (out->n_deflections == ES_FEARS_MAX_HITS)
        return;
    /* keep them in text order */
    size_t at = out->n_deflections;
    while (at > 0 && out->deflections[at - 1].start > s) {
        out->deflections[at] = out->deflections[at - 1];
        at--;
    }
    struct es_fears_hit *h = &out->deflections[at];
    h->kind = kind;
    h->start = s;
    h->end = e;
    copy_match(text, s, e, h->match);
    out->n_deflections++;
}

static void add_reason(const char **list, size_t *n, const char *code)
{
    if (*n < ES_FEARS_MAX_REASONS)
        list[(*n)++] = code;
}

static void find_deflections(struct es__fears_run *r, const struct es_norm_out *no,
                             const char *text, size_t len, struct es_fears_report *out)
{
    const struct es_fears *f = r->f;
    size_t s, e, os, oe, off;

    /* Phrases first, so a phone inside "call us at 400..." is its own hit after them. */
    for (size_t i = 0; i < f->n_pats; i++) {
        const struct es__fears_pat *p = &f->pats[i];
        enum es_fears_kind kind;
        if (p->sec == ES__SEC_CALL || p->sec == ES__SEC_CALL_ASK)
            kind = ES_FEARS_CALL_PHRASE;
        else if (p->sec == ES__SEC_FORM)
            kind = ES_FEARS_FORM_PHRASE;
        else
            continue;
        off = 0;
        while (off < r->len && find_pat(r, p, off, r->len, &s, &e)) {
            off = e > s ? e : s + 1;
            if (p->sec == ES__SEC_CALL_ASK) {
                if (r->in_dm)
                    break;
                size_t bs, be;
                sentence(r->t, r->len, s, e, &bs, &be);
                if (has_dm(r, bs, be))
                    continue;
            }
            es_norm_span(no, s, e, &os, &oe);
            add_hit(out, text, kind, os, oe);
        }
    }
    off = 0;
    while (off < r->len && es__fears_next_form_url(r, off, &s, &e)) {
        off = e > s ? e : s + 1;
        es_norm_span(no, s, e, &os, &oe);
        add_hit(out, text, ES_FEARS_FORM_URL, os, oe);
    }
    off = 0;
    while (off < r->len && es__fears_next_phone(r, off, &s, &e)) {
        off = e > s ? e : s + 1;
        es_norm_span(no, s, e, &os, &oe);
        add_hit(out, text, ES_FEARS_PHONE, os, oe);
    }
    /* Vanity numbers need the capitals, so they are looked for in the original. */
    struct es__fears_run orig = *r;
    orig.t = text;
    orig.len = len;
    off = 0;
    while (off < len && es__fears_find(&orig, f->builtin[ES__RE_VANITY], off, len, &s, &e)) {
        off = e > s ? e : s + 1;
        add_hit(out, text, ES_FEARS_PHONE, s, e);
    }
    r->limit_hit = r->limit_hit || orig.limit_hit;
}

static void find_stock(struct es__fears_run *r, const struct es_norm_out *no,
                       struct es_fears_report *out)
{
    const struct es_fears *f = r->f;
    for (size_t i = 0; i < f->n_pats && out->n_stock < ES_FEARS_MAX_HITS; i++) {
        const struct es__fears_pat *p = &f->pats[i];
        size_t s, e;
        if (p->sec != ES__SEC_STOCK || !find_pat(r, p, 0, r->len, &s, &e))
            continue;
        struct es_fears_stock_hit *h = &out->stock[out->n_stock++];
        h->id = p->id;
        h->phrase = p->source;
        es_norm_span(no, s, e, &h->start, &h->end);
    }
}

int es_fears_check_text_opts(const struct es_fears *f, const char *text, size_t len,
                             const struct es_fears_opts *o, struct es_fears_report *out)
{
    if (!f || !out || (!text && len > 0))
        return ES_EINVAL;
    memset(out, 0, sizeof *out);
    if (!text)
        text = "";
    enum es_fears_platform plat = o ? o->platform : ES_FEARS_PLATFORM_GENERIC;
    out->max_chars = o && o->max_chars ? o->max_chars : es_fears_platform_limit(plat);
    if (len > ES_FEARS_MAX_BYTES) {
        out->too_long = true;
        out->chars = es_utf8_count(text, len);
        add_reason(out->refusals, &out->n_refusals, "fears_too_long");
        return 0;
    }
    int rc = 0;
    struct es_norm_out no;
    es_norm_out_init(&no, ES_FEARS_MAX_BYTES);
    struct es__fears_run r = {.f = f};
    r.md = pcre2_match_data_create(8, f->gctx);
    if (!r.md) {
        rc = ES_ENOMEM;
        goto fail;
    }
    rc = es_norm_text(f->norm, text, len, &no);
    if (rc != 0)
        goto fail;
    r.t = no.text;
    r.len = no.len;
    r.in_dm = plat == ES_FEARS_PLATFORM_DM;

    size_t s, e;
    out->empty = !es__fears_find(&r, f->builtin[ES__RE_CONTENT], 0, r.len, &s, &e);
    out->chars = es_fears_count_chars(f, plat, text, len);
    out->too_long = out->chars > out->max_chars;
    out->unfilled =
        es_fears_has_placeholder(text, len, &out->placeholder_start, &out->placeholder_end);
    if (!out->empty) {
        find_deflections(&r, &no, text, len, out);
        for (size_t i = 0; i < f->n_pats && !out->dm_invite; i++) {
            if (f->pats[i].sec == ES__SEC_DM && find_pat(&r, &f->pats[i], 0, r.len, &s, &e)) {
                out->dm_invite = true;
                es_norm_span(&no, s, e, &out->dm_start, &out->dm_end);
            }
        }
        find_stock(&r, &no, out);
    }
    out->limit_hit = r.limit_hit;
    if (out->empty)
        add_reason(out->refusals, &out->n_refusals, "fears_empty");
    if (out->too_long)
        add_reason(out->refusals, &out->n_refusals, "fears_too_long");
    if (out->unfilled)
        add_reason(out->refusals, &out->n_refusals, "fears_template_unfilled");
    if (out->deflection)
        add_reason(out->refusals, &out->n_refusals, "fears_channel_deflection");
    if (out->n_stock > 0)
        add_reason(out->warnings, &out->n_warnings, "fears_stock_phrase");
fail:
    pcre2_match_data_free(r.md);
    es_norm_out_cleanup(&no);
    return rc;
}

int es_fears_check_text(const struct es_fears *f, const char *text, size_t len,
                        struct es_fears_report *out)
{
    return es_fears_check_text_opts(f, text, len, NULL, out);
}
