/*
 * fears_text: the detectors that are code rather than phrase lists (phone
 * numbers, form-like URLs, placeholders, platform lengths) and the
 * near-duplicate primitives (masking, shingles, Jaccard, MinHash, LSH).
 *
 * Phone numbers are found by a scanner, not a regex, because what makes a
 * digit string a phone number is its digit count and prefix, which a regex
 * can only say with a long and slow alternation:
 *
 *   candidate  [(][+] digits { 1..3 of " -.()" digits }     (at most 8 groups)
 *              not glued to a letter, digit, '#', '/', '.', '=', '@' before it
 *              or to an ASCII letter after it
 *   phone      when the digits of some run of its groups are one of:
 *     +...             8..15 digits (E.164), "+1 (800) 555-0199", "+44 20 7946 0958"
 *     00 CC ...        10..17 digits, "0086 138 1234 5678"
 *     1[3-9]x{9}       a Chinese mobile, any grouping, "138-1234-5678"
 *     86 1[3-9]x{9}    the same with the country code and no '+', grouped
 *     400 / 800 x{7}   Chinese service numbers, "400-820-8820", "4008208820"
 *     0 x{9..11}       a trunk-prefixed landline: grouped "010-12345678",
 *                      "(021)12345678", "020 7946 0958"; unseparated only with a
 *                      Chinese area code shape (010/02x + 8, 0xxx + 7..8)
 *     NANP grouped     3-3-4 or 1-3-3-4, "(800) 555-0199", "1-800-555-0199"
 *   and the text just before it does not name an id ("订单号", "order #",
 *   "flight"; [not_phone_before] in deflection.txt).
 *
 * So 2024112212345678 (16 digits), 2024-11-22, ¥1299.00, UA123 and an
 * unseparated 10-digit id are not phones; an 11-digit id that starts 13..19
 * is one unless an id word stands before it.
 */
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/norm.h"
#include "earshot/utf8.h"
#include "respond/fears_int.h"

/* ---- built-in regexes ------------------------------------------------------------------- */

/* printable ASCII but space, quotes and angle brackets (a positive class: with PCRE2_CASELESS a
 * negated non-ASCII range would also drop 's' and 'k', whose other cases are U+017F and U+212A) */
#define URL_CHARS "[\\x21\\x23-\\x26\\x28-\\x3b\\x3d\\x3f-\\x7e]"
#define TLDS "(?:com|cn|net|org|io|gle|ly|co|info|biz|hk|tw|jp|uk|top|xyz|site|online|so|app|me)"
#define URL_RE                                                                                     \
    "(?:(?:https?://|www\\.)" URL_CHARS "+"                                                        \
    "|(?<![a-z0-9@._%+-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+" TLDS "(?![a-z0-9-])"        \
    "(?::[0-9]{1,5})?(?:/" URL_CHARS "*)?)"

const char *const es__fears_builtin_src[ES__RE_N] = {
    [ES__RE_URL] = "(?<![a-z0-9@._%+/-])" URL_RE,
    /* groups: 1 url, 2 e-mail, 3 handle, 4 number, 5 punctuation and symbols */
    [ES__RE_MASK] = "(" URL_RE ")"
                    "|((?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9-]+(?:\\.[a-z0-9-]+)+)"
                    "|(@[\\p{L}\\p{N}_.-]+)"
                    "|(\\p{N}+(?:[.,:/-]\\p{N}+)*)"
                    "|([\\p{P}\\p{S}]+)",
    /* groups 1..3: the name of a leading salutation */
    [ES__RE_SALUTE] =
        "^(?:@\\S+\\s*)*(?:"
        "(?:hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening))[ ,]+"
        "(?!(?:there|team|all|everyone|folks|again|friend)\\b)"
        "((?:(?:mr|mrs|ms|miss|dr)\\.? ?)?[^\\s,!.:;?]{1,24}(?: [^\\s,!.:;?]{1,24})?)\\s*[,!.:;-]"
        "|(?:亲爱的|尊敬的)?([^\\s,!.:;?、。@]{1,6}?(?:先生|女士|小姐|同学|老师|朋友|亲)?)"
        "[,!:\\s]*(?:您好|你好)"
        "|(?:亲爱的|尊敬的)([^\\s,!.:;?、。@]{1,12}?)[,!:\\s])",
    [ES__RE_VANITY] = "(?<![A-Za-z0-9])(?:\\+?1[-. ]?)?\\(?8(?:00|33|44|55|66|77|88)\\)?[-. ]"
                      "(?=[0-9]*[-. ]?[0-9]*[A-Z])"
                      "(?:[A-Z0-9]{7}|[A-Z0-9]{3}[-. ][A-Z0-9]{4}|[A-Z0-9]{4}[-. ][A-Z0-9]{3})"
                      "(?![A-Za-z0-9])",
    [ES__RE_CONTENT] = "[\\p{L}\\p{N}]",
};

/* ---- phones ----------------------------------------------------------------------------- */

#define MAX_GROUPS 8

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

static bool is_sep(unsigned char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

/* classify: are the digits of groups [a, b) a phone number? */
static bool classify(const char *t, const size_t *gs, const size_t *ge, int a, int b, bool plus)
{
    char d[40];
    size_t n = 0, lens[MAX_GROUPS];
    int ng = b - a;
    for (int k = a; k < b; k++) {
        size_t l = ge[k] - gs[k];
        if (n + l > 32)
            return false;
        memcpy(d + n, t + gs[k], l);
        n += l;
        lens[k - a] = l;
    }
    if (n < 8)
        return false;
    if (plus)
        return n <= 15 && d[0] != '0';
    if (d[0] == '0' && d[1] == '0')
        return d[2] != '0' && n >= 10 && n <= 17;
    if (n == 11 && d[0] == '1' && d[1] >= '3')
        return true;
    if (n == 13 && ng >= 2 && lens[0] == 2 && d[0] == '8' && d[1] == '6' && d[2] == '1' &&
        d[3] >= '3')
        return true;
    if (n == 10 && (memcmp(d, "400", 3) == 0 || memcmp(d, "800", 3) == 0))
        return true;
    if (d[0] == '0' && n >= 10 && n <= 12) {
        if (ng >= 2)
            return true;
        if (d[1] == '1')
            return d[2] == '0' && n == 11;
        if (d[1] == '2')
            return n == 11;
        return n == 11 || n == 12;
    }
    if (ng == 3 && lens[0] == 3 && lens[1] == 3 && lens[2] == 4 && d[0] >= '2')
        return true;
    if (ng == 4 && lens[0] == 1 && lens[1] == 3 && lens[2] == 3 && lens[3] == 4 && d[0] == '1' &&
        d[1] >= '2')
        return true;
    return false;
}

/* id_before: does a [not_phone_before] word end the text just before st ("订单号: ")? */
static bool id_before(const struct es__fears_run *r, size_t st)
{
    const char *t = r->t;
    size_t e = st;
    for (;;) {
        if (e > 0 && (t[e - 1] == ' ' || t[e - 1] == ':' || t[e - 1] == '#' || t[e - 1] == '=' ||
                      t[e - 1] == '-' || t[e - 1] == '.'))
            e--;
        else if (e >= 3 && (memcmp(t + e - 3, "为", 3) == 0 || memcmp(t + e - 3, "是", 3) == 0))
            e -= 3;
        else
            break;
    }
    const struct es_fears *f = r->f;
    for (size_t i = 0; i < f->n_pats; i++) {
        const struct es__fears_pat *p = &f->pats[i];
        if (p->sec != ES__SEC_NOT_PHONE || p->lit_len > e)
            continue;
        size_t b = e - p->lit_len;
        if (memcmp(t + b, p->lit, p->lit_len) != 0)
            continue;
        if (is_alpha((unsigned char)p->lit[0]) && b > 0 && is_alpha((unsigned char)t[b - 1]))
            continue;
        return true;
    }
    return false;
}

static bool glued_before(const char *t, size_t i)
{
    if (i == 0)
        return false;
    unsigned char p = (unsigned char)t[i - 1];
    if (is_alnum(p) || strchr("#./@_=&%\\", p))
        return p != 0;
    return p == '-' && i > 1 && is_alnum((unsigned char)t[i - 2]);
}

int es__fears_next_phone(struct es__fears_run *r, size_t off, size_t *s, size_t *e)
{
    const char *t = r->t;
    size_t n = r->len, i = off;
    size_t gs[MAX_GROUPS], ge[MAX_GROUPS];
    while (i < n) {
        unsigned char c = (unsigned char)t[i];
        if (!(is_digit(c) || c == '+' || c == '(') || glued_before(t, i)) {
            i++;
            continue;
        }
        size_t j = i;
        bool plus = false;
        if (t[j] == '(')
            j++;
        if (j < n && t[j] == '+') {
            plus = true;
            j++;
        }
        if (j >= n || !is_digit((unsigned char)t[j])) {
            i = j > i ? j : i + 1;
            continue;
        }
        int ng = 0;
        bool bad = false;
        for (;;) {
            size_t a = j;
            while (j < n && is_digit((unsigned char)t[j]))
                j++;
            if (j - a > 15) {
                bad = true;
                break;
            }
            gs[ng] = a;
            ge[ng] = j;
            ng++;
            if (ng == MAX_GROUPS)
                break;
            size_t k = j;
            int nsep = 0;
            while (k < n && nsep < 3 && is_sep((unsigned char)t[k])) {
                k++;
                nsep++;
            }
            if (nsep == 0 || k >= n || !is_digit((unsigned char)t[k]))
                break;
            j = k;
        }
        if (bad) {
            i = j;
            continue;
        }
        bool glued_after = j < n && is_alpha((unsigned char)t[j]);
        for (int a = 0; a < ng; a++) {
            for (int b = ng; b > a; b--) {
                if (b == ng && glued_after)
                    continue;
                bool pl = plus && a == 0;
                if (!classify(t, gs, ge, a, b, pl))
                    continue;
                size_t st = a == 0 ? i : gs[a];
                if (!pl && id_before(r, st))
                    break;
                *s = st;
                *e = ge[b - 1];
                return 1;
            }
        }
        i = ge[ng - 1] > i ? ge[ng - 1] : i + 1;
    }
    return 0;
}

/* ---- form-like URLs --------------------------------------------------------------------- */

static bool is_form_word(const struct es_fears *f, const char *w, size_t n)
{
    for (size_t i = 0; i < f->n_pats; i++) {
        const struct es__fears_pat *p = &f->pats[i];
        if (p->sec == ES__SEC_FORM_WORD && p->lit_len == n && memcmp(p->lit, w, n) == 0)
            return true;
    }
    return false;
}

/* form_like: does URL u (normalised, n bytes) lead to a form, a survey or a help desk? */
static bool form_like(const struct es_fears *f, const char *u, size_t n)
{
    const char *p = u, *end = u + n;
    if (n >= 8 && memcmp(p, "https://", 8) == 0)
        p += 8;
    else if (n >= 7 && memcmp(p, "http://", 7) == 0)
        p += 7;
    const char *host = p;
    while (p < end && *p != '/' && *p != '?' && *p != '#' && *p != ':')
        p++;
    size_t hl = (size_t)(p - host);
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++; /* a port */
    const char *path = p;
    size_t pl = (size_t)(end - path);
    for (size_t i = 0; i < f->n_pats; i++) {
        const struct es__fears_pat *fp = &f->pats[i];
        if (fp->sec != ES__SEC_FORM_HOST)
            continue;
        const char *slash = memchr(fp->lit, '/', fp->lit_len);
        size_t h = slash ? (size_t)(slash - fp->lit) : fp->lit_len;
        bool host_ok =
            hl == h ? memcmp(host, fp->lit, h) == 0
                    : hl > h && host[hl - h - 1] == '.' && memcmp(host + hl - h, fp->lit, h) == 0;
        if (!host_ok)
            continue;
        size_t rest = fp->lit_len - h;
        if (rest == 0 || (pl >= rest && memcmp(path, fp->lit + h, rest) == 0))
            return true;
    }
    /* Host labels except the last (the TLD) and "www", split at '.' and '-'. */
    const char *last_dot = NULL;
    for (const char *q = host; q < host + hl; q++)
        if (*q == '.')
            last_dot = q;
    const char *hend = last_dot ? last_dot : host;
    for (const char *q = host; q < hend;) {
        const char *w = q;
        while (q < hend && *q != '.' && *q != '-')
            q++;
        if (!(q - w == 3 && memcmp(w, "www", 3) == 0) && is_form_word(f, w, (size_t)(q - w)))
            return true;
        q++;
    }
    /* Path and query tokens: runs of letters and digits. */
    for (const char *q = path; q < end;) {
        while (q < end && !is_alnum((unsigned char)*q))
            q++;
        const char *w = q;
        while (q < end && is_alnum((unsigned char)*q))
            q++;
        if (q > w && is_form_word(f, w, (size_t)(q - w)))
            return true;
    }
    return false;
}

int es__fears_next_form_url(struct es__fears_run *r, size_t off, size_t *s, size_t *e)
{
    size_t a, b;
    while (off < r->len && es__fears_find(r, r->f->builtin[ES__RE_URL], off, r->len, &a, &b)) {
        off = b > a ? b : a + 1;
        while (b > a && strchr(".,;:!?)'\"]", r->t[b - 1]) && r->t[b - 1] != '\0')
            b--;
        if (b > a && form_like(r->f, r->t + a, b - a)) {
            *s = a;
            *e = b;
            return 1;
        }
    }
    return 0;
}

/* ---- placeholders ----------------------------------------------------------------------- */

static const char *const known_names[] = {
    "name",    "first_name", "firstname", "customer", "customer_name", "username", "user",
    "handle",  "order",      "order_id",  "order_no", "order_number",  "brand",    "issue",
    "problem", "agent",      "姓名",      "名字",     "用户名",        "昵称",     "客户",
    "订单号",  "订单",       "品牌",      "问题",     "客服",
};

static bool known_name(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof known_names / sizeof known_names[0]; i++) {
        const char *k = known_names[i];
        if (strlen(k) != n)
            continue;
        size_t j = 0;
        while (j < n && (w[j] == k[j] || (w[j] >= 'A' && w[j] <= 'Z' && w[j] + 32 == k[j])))
            j++;
        if (j == n)
            return true;
    }
    return false;
}

/* match_seq: does s (n bytes left) start with seq? */
static size_t match_seq(const char *s, size_t n, const char *seq)
{
    size_t l = strlen(seq);
    return n >= l && memcmp(s, seq, l) == 0 ? l : 0;
}

bool es_fears_has_placeholder(const char *text, size_t len, size_t *start, size_t *end)
{
    static const struct {
        const char *open, *close;
        bool any; /* any identifier, not only the known names */
    } br[] = {
        {"{", "}", true},    {"｛", "｝", true},  {"[", "]", false},   {"<", ">", false},
        {"【", "】", false}, {"［", "］", false}, {"〔", "〕", false}, {"＜", "＞", false},
    };
    if (!text)
        return false;
    for (size_t i = 0; i < len; i++) {
        for (size_t b = 0; b < sizeof br / sizeof br[0]; b++) {
            size_t ol = match_seq(text + i, len - i, br[b].open);
            if (!ol)
                continue;
            size_t j = i + ol;
            while (j < len && text[j] == ' ')
                j++;
            size_t w = j;
            while (j < len && j - w <= 48) {
                unsigned char c = (unsigned char)text[j];
                if (c >= 0x80 && !match_seq(text + j, len - j, br[b].close))
                    j++;
                else if (is_alnum(c) || c == '_')
                    j++;
                else
                    break;
            }
            size_t we = j;
            while (j < len && text[j] == ' ')
                j++;
            size_t cl = match_seq(text + j, len - j, br[b].close);
            if (!cl || we == w || we - w > 48 || !es_utf8_valid(text + w, we - w))
                continue;
            if (!br[b].any && !known_name(text + w, we - w))
                continue;
            if (start)
                *start = i;
            if (end)
                *end = j + cl;
            return true;
        }
        /* XXX, Ｘｘｘ: three or more, not inside a word */
        size_t j = i, nx = 0, l;
        while (j < len) {
            if (text[j] == 'X' || text[j] == 'x')
                l = 1;
            else if ((l = match_seq(text + j, len - j, "Ｘ")) == 0 &&
                     (l = match_seq(text + j, len - j, "ｘ")) == 0)
                break;
            j += l;
            nx++;
        }
        if (nx >= 3 && !(i > 0 && is_alpha((unsigned char)text[i - 1])) &&
            !(j < len && is_alpha((unsigned char)text[j]))) {
            if (start)
                *start = i;
            if (end)
                *end = j;
            return true;
        }
        if (nx > 0)
            i = j - 1;
    }
    return false;
}

/* ---- platform lengths ------------------------------------------------------------------- */

/* count_cp counts code points as es_utf8_decode sees them, an invalid byte as one (the shingle
 * arrays are sized by this count; es_utf8_count skips stray continuation bytes). */
static size_t count_cp(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0, l; i < len; i += l, n++)
        es_utf8_decode((const unsigned char *)s + i, len - i, &l);
    return n;
}

static bool twitter_light(uint32_t cp)
{
    return cp <= 0x10FF || (cp >= 0x2000 && cp <= 0x200D) || (cp >= 0x2010 && cp <= 0x201F) ||
           (cp >= 0x2032 && cp <= 0x2037);
}

size_t es_fears_count_chars(const struct es_fears *f, enum es_fears_platform p, const char *text,
                            size_t len)
{
    if (!text)
        return 0;
    const unsigned char *s = (const unsigned char *)text;
    if (p == ES_FEARS_PLATFORM_WEIBO) {
        size_t units = 0;
        for (size_t i = 0, l; i < len; i += l) {
            uint32_t cp = es_utf8_decode(s + i, len - i, &l);
            units += cp < 0x80 ? 1 : 2;
        }
        return (units + 1) / 2;
    }
    if (p != ES_FEARS_PLATFORM_TWITTER)
        return count_cp(text, len);
    /* twitter-text: a URL counts 23 whatever its length */
    size_t n = 0, i = 0, us = len, ue = len;
    struct es__fears_run r = {.f = f, .t = text, .len = len};
    r.md = f ? pcre2_match_data_create(1, f->gctx) : NULL;
    if (r.md && !es__fears_find(&r, f->builtin[ES__RE_URL], 0, len, &us, &ue))
        us = ue = len;
    while (i < len) {
        if (i == us) {
            n += 23;
            i = ue > us ? ue : us + 1;
            if (r.md && !es__fears_find(&r, f->builtin[ES__RE_URL], i, len, &us, &ue))
                us = ue = len;
            continue;
        }
        size_t l;
        uint32_t cp = es_utf8_decode(s + i, len - i, &l);
        n += twitter_light(cp) ? 1 : 2;
        i += l;
    }
    pcre2_match_data_free(r.md);
    return n;
}

/* ---- masking ---------------------------------------------------------------------------- */

struct emit {
    char *o;
    size_t k;
    bool space;
};

static void put(struct emit *m, const char *p, size_t n)
{
    if (m->space && m->k > 0)
        m->o[m->k++] = ' ';
    m->space = false;
    memcpy(m->o + m->k, p, n);
    m->k += n;
}

static void copy_text(struct emit *m, const char *t, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= ' ' || c == 0x7f) /* control characters (NUL too) separate like spaces */
            m->space = true;
        else
            put(m, t + i, 1);
    }
}

int es_fears_shingle_text(const struct es_fears *f, const char *text, size_t len, char **out,
                          size_t *out_len)
{
    if (!f || !out || (!text && len > 0))
        return ES_EINVAL;
    *out = NULL;
    if (len > ES_FEARS_MAX_BYTES)
        return ES_ELIMIT;
    if (!text)
        text = "";
    int rc = 0;
    struct es_norm_out no;
    es_norm_out_init(&no, ES_FEARS_MAX_BYTES);
    pcre2_match_data *md = pcre2_match_data_create(8, f->gctx);
    struct emit m = {0};
    if (!md) {
        rc = ES_ENOMEM;
        goto fail;
    }
    rc = es_norm_text(f->norm, text, len, &no);
    if (rc != 0)
        goto fail;
    m.o = es_malloc(no.len + 2);
    if (!m.o) {
        rc = ES_ENOMEM;
        goto fail;
    }
    const char *t = no.text;
    size_t n = no.len;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t ns = n, ne = n; /* the salutation's name */
    if (pcre2_match(f->builtin[ES__RE_SALUTE], (PCRE2_SPTR)t, n, 0, 0, md, f->mctx) > 0) {
        for (int g = 1; g <= 3; g++) {
            if (ov[2 * g] != PCRE2_UNSET) {
                ns = ov[2 * g];
                ne = ov[2 * g + 1];
                break;
            }
        }
    }
    size_t pos = 0;
    while (pos < n) {
        if (ns < pos)
            ns = ne = n; /* a mask already covered the start of the name */
        size_t ms = n, me = n;
        int which = 0;
        int mrc = pcre2_match(f->builtin[ES__RE_MASK], (PCRE2_SPTR)t, n, pos, 0, md, f->mctx);
        if (mrc > 0) {
            ms = ov[0];
            me = ov[1];
            for (int g = 1; g <= 5 && g < mrc; g++) {
                if (ov[2 * g] != PCRE2_UNSET) {
                    which = g;
                    break;
                }
            }
        }
        if (ns < ms) {
            /* the salutation's name comes first: it becomes '@', masks inside it are skipped */
            copy_text(&m, t, pos, ns);
            put(&m, "@", 1);
            pos = ne;
            ns = ne = n;
            continue;
        }
        copy_text(&m, t, pos, ms);
        if (mrc <= 0)
            break;
        switch (which) {
        case 1:
            put(&m, "~", 1);
            break;
        case 2:
        case 3:
            put(&m, "@", 1);
            break;
        case 4:
            put(&m, "#", 1);
            break;
        default:
            m.space = true;
            break;
        }
        if (me > ms) {
            pos = me;
        } else {
            size_t l;
            es_utf8_decode((const unsigned char *)t + ms, n - ms, &l);
            pos = ms + l;
        }
    }
    m.o[m.k] = '\0';
    *out = m.o;
    m.o = NULL;
    if (out_len)
        *out_len = m.k;
fail:
    es_free(m.o);
    pcre2_match_data_free(md);
    es_norm_out_cleanup(&no);
    return rc;
}

/* ---- shingles, Jaccard, MinHash, LSH ---------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef void shingle_fn(uint64_t id, void *ud);

/* shingles calls fn with the 64-bit id of every k-code-point window of s (repeats included). */
static size_t shingles(const char *s, size_t len, shingle_fn *fn, void *ud)
{
    size_t ncp = count_cp(s, len);
    if (ncp == 0)
        return 0;
    size_t k = ncp < ES_FEARS_SHORT_CP ? 2 : 3;
    if (ncp < k)
        k = ncp;
    uint64_t w[3] = {0, 0, 0};
    size_t have = 0, count = 0;
    for (size_t i = 0, l; i < len; i += l) {
        uint32_t cp = es_utf8_decode((const unsigned char *)s + i, len - i, &l);
        w[0] = w[1];
        w[1] = w[2];
        w[2] = cp;
        if (++have < k)
            continue;
        uint64_t x;
        if (k == 3)
            x = (w[0] << 42) | (w[1] << 21) | w[2];
        else if (k == 2)
            x = (1ull << 63) | (w[1] << 21) | w[2];
        else
            x = (3ull << 62) | w[2];
        fn(mix64(x), ud);
        count++;
    }
    return count;
}

struct idset {
    uint64_t *v;
    size_t n;
};

static void collect(uint64_t id, void *ud)
{
    struct idset *s = ud;
    s->v[s->n++] = id;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* build_set: the sorted distinct shingle ids of s; 0 or ES_ENOMEM. */
static int build_set(const char *s, size_t len, struct idset *out)
{
    size_t ncp = count_cp(s, len);
    out->n = 0;
    out->v = es_malloc((ncp ? ncp : 1) * sizeof *out->v);
    if (!out->v)
        return ES_ENOMEM;
    shingles(s, len, collect, out);
    qsort(out->v, out->n, sizeof *out->v, cmp_u64);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++)
        if (k == 0 || out->v[k - 1] != out->v[i])
            out->v[k++] = out->v[i];
    out->n = k;
    return 0;
}

double es_fears_similarity(const char *a, size_t alen, const char *b, size_t blen)
{
    if (!a)
        alen = 0, a = "";
    if (!b)
        blen = 0, b = "";
    struct idset x = {0}, y = {0};
    double sim = -1.0;
    if (build_set(a, alen, &x) != 0 || build_set(b, blen, &y) != 0)
        goto out;
    if (x.n == 0 || y.n == 0) {
        sim = x.n == y.n ? 1.0 : 0.0;
        goto out;
    }
    size_t i = 0, j = 0, both = 0;
    while (i < x.n && j < y.n) {
        if (x.v[i] == y.v[j]) {
            both++;
            i++;
            j++;
        } else if (x.v[i] < y.v[j]) {
            i++;
        } else {
            j++;
        }
    }
    sim = (double)both / (double)(x.n + y.n - both);
out:
    es_free(x.v);
    es_free(y.v);
    return sim;
}

/* The MinHash seeds: splitmix64 from "EARSHOT1" xor the sketch version. */
static void minhash_seeds(uint64_t seed[ES_FEARS_MINHASH_N])
{
    uint64_t st = 0x45415253484f5431ull ^ (uint64_t)ES_FEARS_SKETCH_VERSION;
    for (int i = 0; i < ES_FEARS_MINHASH_N; i++) {
        st += 0x9e3779b97f4a7c15ull;
        seed[i] = mix64(st);
    }
}

struct mh {
    uint64_t seed[ES_FEARS_MINHASH_N];
    uint32_t *sig;
};

static void mh_update(uint64_t id, void *ud)
{
    struct mh *m = ud;
    for (int i = 0; i < ES_FEARS_MINHASH_N; i++) {
        uint32_t v = (uint32_t)(mix64(id ^ m->seed[i]) >> 32);
        if (v < m->sig[i])
            m->sig[i] = v;
    }
}

void es_fears_minhash(const char *masked, size_t len, uint32_t sig[ES_FEARS_MINHASH_N])
{
    struct mh m;
    minhash_seeds(m.seed);
    m.sig = sig;
    for (int i = 0; i < ES_FEARS_MINHASH_N; i++)
        sig[i] = UINT32_MAX;
    if (masked)
        shingles(masked, len, mh_update, &m);
}

double es_fears_minhash_similarity(const uint32_t a[ES_FEARS_MINHASH_N],
                                   const uint32_t b[ES_FEARS_MINHASH_N])
{
    int eq = 0;
    for (int i = 0; i < ES_FEARS_MINHASH_N; i++)
        eq += a[i] == b[i];
    return (double)eq / ES_FEARS_MINHASH_N;
}

void es_fears_lsh_bands(const uint32_t sig[ES_FEARS_MINHASH_N], uint64_t bands[ES_FEARS_LSH_BANDS])
{
    for (int b = 0; b < ES_FEARS_LSH_BANDS; b++) {
        uint64_t h = mix64(0xa0761d6478bd642full * (uint64_t)(b + 1) ^ ES_FEARS_SKETCH_VERSION);
        for (int r = 0; r < ES_FEARS_LSH_ROWS; r++)
            h = mix64(h ^ sig[b * ES_FEARS_LSH_ROWS + r]);
        bands[b] = h;
    }
}

uint64_t es_fears_fingerprint(const char *masked, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; masked && i < len; i++) {
        h ^= (unsigned char)masked[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h ^ len);
}

int es_fears_sketch(const struct es_fears *f, const char *text, size_t len,
                    struct es_fears_sketch *out)
{
    if (!out)
        return ES_EINVAL;
    char *m = NULL;
    size_t ml = 0;
    int rc = es_fears_shingle_text(f, text, len, &m, &ml);
    if (rc != 0)
        return rc;
    out->fingerprint = es_fears_fingerprint(m, ml);
    es_fears_minhash(m, ml, out->sig);
    es_fears_lsh_bands(out->sig, out->bands);
    es_free(m);
    return 0;
}
