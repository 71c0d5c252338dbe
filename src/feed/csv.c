/*
 * csv: posts from CSV files with a header row (libcsv, push style).
 *
 *   es_csv_feed(bytes) --> [undecided: buffer until the header's line end]
 *                      --> csv_parse in 64 KiB slices --> field cb --> record cb --> post
 *
 * Record ends. The header's own line end decides the file's convention: a
 * header ending in LF or CRLF makes LF the only record end (a stray CR is
 * data, and CR is trimmed as white space at field edges, so CRLF works); a
 * header ending in a lone CR (old Mac files, the CrowdFlower airline export)
 * makes CR and LF both record ends. This is what keeps twcs.csv at 5,000
 * records: one of its tweets carries raw CRs inside an unquoted field.
 *
 * Quotes are checked strictly (CSV_STRICT): a record with a stray quote is
 * reported by number and skipped; parsing resumes at the next record end.
 *
 * Caps: a record longer than max_record is reported and skipped. libcsv
 * buffers a field in its own entry buffer, which would grow without bound on
 * an unterminated quote; after every slice the bytes it holds for a record
 * already over the cap are dropped (entry_pos/spaces are reset: both are
 * public members of struct csv_parser, committed by csv_parse on return).
 *
 * Columns (names match case-insensitively):
 *   id        id_column, else "id", else "tweet_id"; a tweet_id that Excel
 *             turned into scientific notation ("5.70306E+17", the airline
 *             export) is not an id: "_unit_id" is used when the file has it,
 *             else the record number
 *   text      text_column, else "text", "review", "content"
 *   created_at / tweet_created: ISO 8601, Twitter's "Tue Oct 31 22:10:47 +0000 2017",
 *             "2/24/15 11:35" (M/D/YY, taken as UTC), or Unix seconds
 *   author (name), author_id (id; also the handle when not all digits), name,
 *   handle / screen_name / username, followers / followers_count
 *   lang (else "zh" when the text has Chinese), platform (else "twitter" when
 *   the file has tweet_id, else "generic")
 *   lat / latitude, lon / lng / longitude, tweet_coord "[lat, lon]" ([0.0, 0.0] = none)
 *   reply_to / in_response_to_tweet_id (floats such as "3.0" become "3"), thread_root, url
 * Without an id column the id is the record number: the header is record 0,
 * so the first data record has id "1"; diagnostics name records the same way.
 *
 * Encoding: a field that is not valid UTF-8 has each invalid byte decoded as
 * Windows-1252 (latin-1 for 0xA0-0xFF; the five bytes cp1252 leaves
 * undefined become U+FFFD), so mojibake exports stay readable.
 */
#include <csv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/clock.h"
#include "earshot/utf8.h"
#include "feed/feed_int.h"

#define SLICE ((size_t)64 << 10)
#define MAX_FIELDS 1024

enum col {
    C_ID,
    C_TWEET_ID,
    C_UNIT_ID,
    C_TEXT,
    C_CREATED,
    C_AUTHOR,
    C_AUTHOR_ID,
    C_NAME,
    C_HANDLE,
    C_FOLLOWERS,
    C_LANG,
    C_PLATFORM,
    C_LAT,
    C_LON,
    C_COORD,
    C_REPLY,
    C_ROOT,
    C_URL,
    C_NCOL
};

struct es_csv {
    struct es_csv_opts opts;
    es_post_cb *on_post;
    es_diag_cb *on_diag;
    void *ud;
    struct csv_parser p;
    int p_live;
    int mode;   /* 0 undecided, 1 LF ends records, 2 CR or LF */
    int resync; /* after a quoting error: skip to the next record end */
    int nomem;
    int no_text_col;
    long rec;              /* number of the record being read; the header is 0 */
    struct es_buf pending; /* bytes seen before the mode is known */
    struct es_buf rbuf;    /* the current record's fields, NUL-separated */
    size_t offs[MAX_FIELDS];
    size_t n_fields;
    int oversize;
    char **names;
    size_t n_names;
    int col[C_NCOL];
    struct es__arena arena;
};

static int is_space_lf(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int is_term_lf(unsigned char c)
{
    return c == '\n';
}

static void diag(struct es_csv *c, enum es_severity sev, long rec, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* diag reports about record `rec` (0 = the header) at line rec + 1: the file's line when
 * no record before it spans lines. */
static void diag(struct es_csv *c, enum es_severity sev, long rec, const char *fmt, ...)
{
    if (!c->on_diag)
        return;
    struct es_diag d;
    d.file = c->opts.source;
    d.line = rec + 1;
    d.col = 0;
    d.severity = sev;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d.msg, sizeof d.msg, fmt, ap);
    va_end(ap);
    c->on_diag(c->ud, &d);
}

static int parser_start(struct es_csv *c)
{
    if (csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return ES_ENOMEM;
    csv_set_realloc_func(&c->p, es_realloc);
    csv_set_free_func(&c->p, es_free);
    if (c->mode == 1) {
        csv_set_term_func(&c->p, is_term_lf);
        csv_set_space_func(&c->p, is_space_lf);
    }
    c->p_live = 1;
    return 0;
}

struct es_csv *es_csv_new(const struct es_csv_opts *opts, es_post_cb *on_post, es_diag_cb *on_diag,
                          void *ud)
{
    if (!on_post)
        return NULL;
    struct es_csv *c = es_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (opts)
        c->opts = *opts;
    if (!c->opts.max_record)
        c->opts.max_record = (size_t)1 << 20;
    c->on_post = on_post;
    c->on_diag = on_diag;
    c->ud = ud;
    c->rec = 0;
    es_buf_init(&c->pending, c->opts.max_record + 4);
    es_buf_init(&c->rbuf, c->opts.max_record + MAX_FIELDS + 16);
    es__arena_init(&c->arena);
    for (int i = 0; i < C_NCOL; i++)
        c->col[i] = -1;
    return c;
}

void es_csv_free(struct es_csv *c)
{
    if (!c)
        return;
    if (c->p_live)
        csv_free(&c->p);
    es_buf_cleanup(&c->pending);
    es_buf_cleanup(&c->rbuf);
    for (size_t i = 0; i < c->n_names; i++)
        es_free(c->names[i]);
    es_free(c->names);
    es__arena_reset(&c->arena);
    es_free(c);
}

/* ---- field values ---- */

static const uint16_t cp1252[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                    0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

/* fix_utf8: s itself when valid, else a copy in the arena with invalid bytes as cp1252 */
static const char *fix_utf8(struct es_csv *c, const char *s, size_t n, size_t *out_len)
{
    *out_len = n;
    if (es_utf8_valid(s, n))
        return s;
    char *out = es__arena_alloc(&c->arena, n * 3 + 1);
    if (!out) {
        c->nomem = 1;
        return NULL;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        uint32_t cp = u[i] < 0x80 ? u[i] : es_utf8_decode(u + i, n - i, &k);
        if (u[i] >= 0x80 && cp == ES_UTF8_REPLACEMENT && k == 1)
            cp = u[i] < 0xA0 ? cp1252[u[i] - 0x80] : u[i];
        if (k > 1) {
            memcpy(out + o, u + i, k);
            o += k;
        } else {
            o += es_utf8_encode(cp, out + o);
        }
        i += k;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static const char *field(struct es_csv *c, int col, size_t *len)
{
    size_t dummy;
    if (!len)
        len = &dummy;
    if (col < 0 || (size_t)col >= c->n_fields)
        return NULL;
    const char *s = c->rbuf.data + c->offs[col];
    size_t n = strlen(s);
    if (!n)
        return NULL;
    return fix_utf8(c, s, n, len);
}

static int sci_notation(const char *s)
{
    return s && (strchr(s, 'E') || strchr(s, 'e'));
}

/* "3.0" -> "3"; NULL for scientific notation or non-numbers with a dot */
static const char *int_id(struct es_csv *c, const char *s)
{
    if (!s || sci_notation(s))
        return NULL;
    const char *dot = strchr(s, '.');
    if (!dot)
        return s;
    for (const char *q = dot + 1; *q; q++)
        if (*q != '0')
            return NULL;
    for (const char *q = s; q < dot; q++)
        if (*q < '0' || *q > '9')
            return NULL;
    char *d = es__arena_strndup(&c->arena, s, (size_t)(dot - s));
    if (!d)
        c->nomem = 1;
    return d;
}

static int all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* "2/24/15 11:35" (M/D/YY or M/D/YYYY, H:MM[:SS]) as UTC */
static int us_date(const char *s, int64_t *out)
{
    int m, d, y, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%2d/%2d/%4d %2d:%2d%n", &m, &d, &y, &h, &mi, &n) < 5)
        return -1;
    if (s[n] == ':' && sscanf(s + n + 1, "%2d", &sec) != 1)
        return -1;
    if (y < 100)
        y += 2000;
    if (m < 1 || m > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y > 9999)
        return -1;
    *out = es_time_from_civil(y, m, d, h, mi, sec);
    return 0;
}

static int parse_date(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (es_time_parse_iso8601(s, n, out) == 0 || es_time_parse_twitter(s, n, out) == 0 ||
        us_date(s, out) == 0)
        return 0;
    if (all_digits(s) && n <= 12) {
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    return -1;
}

/* ---- records ---- */

static void header(struct es_csv *c)
{
    static const struct {
        enum col col;
        const char *name;
    } map[] = {
        {C_ID, "id"},
        {C_TWEET_ID, "tweet_id"},
        {C_UNIT_ID, "_unit_id"},
        {C_CREATED, "created_at"},
        {C_CREATED, "tweet_created"},
        {C_AUTHOR, "author"},
        {C_AUTHOR_ID, "author_id"},
        {C_NAME, "name"},
        {C_HANDLE, "handle"},
        {C_HANDLE, "screen_name"},
        {C_HANDLE, "username"},
        {C_FOLLOWERS, "followers"},
        {C_FOLLOWERS, "followers_count"},
        {C_LANG, "lang"},
        {C_PLATFORM, "platform"},
        {C_LAT, "lat"},
        {C_LAT, "latitude"},
        {C_LON, "lon"},
        {C_LON, "lng"},
        {C_LON, "longitude"},
        {C_COORD, "tweet_coord"},
        {C_REPLY, "reply_to"},
        {C_REPLY, "in_response_to_tweet_id"},
        {C_ROOT, "thread_root"},
        {C_URL, "url"},
    };
    c->names = es_calloc(c->n_fields ? c->n_fields : 1, sizeof *c->names);
    if (!c->names) {
        c->nomem = 1;
        return;
    }
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *name = c->rbuf.data + c->offs[i];
        c->names[i] = es_strdup(name);
        if (!c->names[i]) {
            c->nomem = 1;
            return;
        }
        c->n_names++;
        for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
            if (c->col[map[k].col] < 0 && strcasecmp(name, map[k].name) == 0)
                c->col[map[k].col] = (int)i;
    }
    const char *text_names[] = {"text", "review", "content"};
    for (size_t i = 0; i < c->n_names && c->col[C_TEXT] < 0; i++)
        if (c->opts.text_column && strcasecmp(c->names[i], c->opts.text_column) == 0)
            c->col[C_TEXT] = (int)i;
    for (size_t t = 0; t < 3 && c->col[C_TEXT] < 0 && !c->opts.text_column; t++)
        for (size_t i = 0; i < c->n_names; i++)
            if (strcasecmp(c->names[i], text_names[t]) == 0) {
                c->col[C_TEXT] = (int)i;
                break;
            }
    if (c->opts.id_column) {
        c->col[C_ID] = -1;
        c->col[C_TWEET_ID] = -1;
        for (size_t i = 0; i < c->n_names; i++)
            if (strcasecmp(c->names[i], c->opts.id_column) == 0)
                c->col[C_ID] = (int)i;
        if (c->col[C_ID] < 0)
            diag(c, ES_DIAG_WARNING, 0, "header: no id column \"%.100s\"; ids are record numbers",
                 c->opts.id_column);
    }
    if (c->col[C_TEXT] < 0) {
        c->no_text_col = 1;
        diag(c, ES_DIAG_ERROR, 0, "header: no text column (%s); every record is skipped",
             c->opts.text_column ? c->opts.text_column : "text, review or content");
    }
}

static void record(struct es_csv *c)
{
    long rec = c->rec;
    struct es_post p;
    size_t n;
    char where[40];
    snprintf(where, sizeof where, "record %ld", rec);

    es__post_init(&p, ES_PLATFORM_GENERIC);
    const char *text = field(c, c->col[C_TEXT], &n);
    if (!text) {
        diag(c, ES_DIAG_ERROR, rec, "record %ld: no text, skipped", rec);
        return;
    }
    p.text = text;
    p.text_len = n;

    const char *id = field(c, c->col[C_ID], NULL);
    if (!id) {
        const char *tid = field(c, c->col[C_TWEET_ID], NULL);
        id = int_id(c, tid);
        if (!id && tid && c->col[C_UNIT_ID] < 0)
            diag(c, ES_DIAG_WARNING, rec, "record %ld: tweet_id \"%.40s\" is not an id", rec, tid);
    }
    if (!id)
        id = field(c, c->col[C_UNIT_ID], NULL);
    if (!id) {
        id = es__arena_printf(&c->arena, "%ld", rec);
        if (!id)
            c->nomem = 1;
    }
    p.id = id;

    const char *plat = field(c, c->col[C_PLATFORM], NULL);
    if (plat && es_platform_from_name(plat) != ES_PLATFORM_UNKNOWN)
        p.platform = es_platform_from_name(plat);
    else if (c->col[C_TWEET_ID] >= 0)
        p.platform = ES_PLATFORM_TWITTER;

    p.author.id = field(c, c->col[C_AUTHOR_ID], NULL);
    p.author.name = field(c, c->col[C_AUTHOR], NULL);
    if (!p.author.name)
        p.author.name = field(c, c->col[C_NAME], NULL);
    p.author.handle = field(c, c->col[C_HANDLE], NULL);
    if (!p.author.handle && p.author.id && !all_digits(p.author.id))
        p.author.handle = p.author.id;
    if (!p.author.handle && p.platform == ES_PLATFORM_TWITTER && c->col[C_NAME] >= 0)
        p.author.handle = field(c, c->col[C_NAME], NULL);
    const char *fol = field(c, c->col[C_FOLLOWERS], NULL);
    if (fol && all_digits(fol) && strlen(fol) < 18)
        p.author.followers = strtoll(fol, NULL, 10);

    const char *created = field(c, c->col[C_CREATED], NULL);
    if (created && parse_date(created, &p.created_at) != 0) {
        p.created_at = 0;
        diag(c, ES_DIAG_WARNING, rec, "record %ld: created_at \"%.40s\" is not a date", rec,
             created);
    }
    const char *lang = field(c, c->col[C_LANG], NULL);
    if (lang)
        es__set_lang(&p, lang);
    else if (es__has_cjk(p.text, p.text_len))
        es__set_lang(&p, "zh");

    const char *lat = field(c, c->col[C_LAT], NULL), *lon = field(c, c->col[C_LON], NULL);
    const char *coord = field(c, c->col[C_COORD], NULL);
    double dlat, dlon;
    char *e1, *e2;
    if (lat && lon) {
        dlat = strtod(lat, &e1);
        dlon = strtod(lon, &e2);
        if (e1 == lat || e2 == lon || *e1 || *e2 || es__set_point(&p, dlat, dlon))
            diag(c, ES_DIAG_WARNING, rec, "record %ld: lat/lon is not a point", rec);
    } else if (coord) {
        const char *q = coord;
        while (*q == ' ' || *q == '[')
            q++;
        dlat = strtod(q, &e1);
        q = e1;
        while (*q == ' ' || *q == ',')
            q++;
        dlon = strtod(q, &e2);
        if (e1 == coord || e2 == q || !(*e2 == ']' || *e2 == '\0'))
            diag(c, ES_DIAG_WARNING, rec, "record %ld: tweet_coord \"%.40s\" is not a point", rec,
                 coord);
        else if ((dlat != 0.0 || dlon != 0.0) && es__set_point(&p, dlat, dlon))
            diag(c, ES_DIAG_WARNING, rec, "record %ld: tweet_coord out of range", rec);
    }
    p.reply_to = int_id(c, field(c, c->col[C_REPLY], NULL));
    p.thread_root = field(c, c->col[C_ROOT], NULL);
    if (!p.thread_root && !p.reply_to)
        p.thread_root = p.id;
    p.url = field(c, c->col[C_URL], NULL);

    if (c->nomem)
        goto done;
    if (p.text_len > ES_FEED_TEXT_MAX) {
        size_t k = ES_FEED_TEXT_MAX;
        while (k > 0 && ((unsigned char)p.text[k] & 0xC0) == 0x80)
            k--;
        diag(c, ES_DIAG_WARNING, rec, "record %ld: text of %zu bytes truncated to %zu", rec,
             p.text_len, k);
        char *t = es__arena_strndup(&c->arena, p.text, k);
        if (!t) {
            c->nomem = 1;
            goto done;
        }
        p.text = t;
        p.text_len = k;
    }
    c->on_post(c->ud, &p);
done:
    es__arena_reset(&c->arena);
}

static void on_field(void *s, size_t len, void *ud)
{
    struct es_csv *c = ud;
    if (c->oversize)
        return;
    if (c->n_fields >= MAX_FIELDS || c->rbuf.len + len + 1 > c->opts.max_record + MAX_FIELDS) {
        c->oversize = 1;
        return;
    }
    c->offs[c->n_fields++] = c->rbuf.len;
    if (es_buf_append(&c->rbuf, s, len) != 0 || es_buf_putc(&c->rbuf, '\0') != 0)
        c->oversize = 1;
}

static void on_record(int term, void *ud)
{
    struct es_csv *c = ud;
    (void)term;
    if (c->oversize) {
        diag(c, ES_DIAG_ERROR, c->rec,
             "record %ld: longer than %zu bytes (or over %d fields), "
             "skipped",
             c->rec, c->opts.max_record, MAX_FIELDS);
    } else if (c->rec == 0) {
        header(c);
    } else if (!c->no_text_col) {
        record(c);
    }
    c->rec++;
    c->n_fields = 0;
    c->oversize = 0;
    es_buf_reset(&c->rbuf);
}

static int is_term(struct es_csv *c, unsigned char ch)
{
    return ch == '\n' || (c->mode == 2 && ch == '\r');
}

/* run feeds decided-mode bytes through libcsv with caps and strict-error recovery */
static int run(struct es_csv *c, const char *buf, size_t len)
{
    while (len > 0) {
        if (c->resync) {
            size_t i = 0;
            while (i < len && !is_term(c, (unsigned char)buf[i]))
                i++;
            if (i == len)
                return 0;
            c->resync = 0;
            buf += i + 1;
            len -= i + 1;
            continue;
        }
        size_t n = len < SLICE ? len : SLICE;
        size_t done = csv_parse(&c->p, buf, n, on_field, on_record, c);
        if (c->nomem)
            return ES_ENOMEM;
        if (done < n) {
            int err = csv_error(&c->p);
            if (err == CSV_ENOMEM || err == CSV_ETOOBIG)
                return ES_ENOMEM;
            diag(c, ES_DIAG_ERROR, c->rec, "record %ld: malformed quoting, skipped", c->rec);
            csv_free(&c->p);
            c->p_live = 0;
            if (parser_start(c) != 0)
                return ES_ENOMEM;
            c->rec++;
            c->n_fields = 0;
            c->oversize = 0;
            es_buf_reset(&c->rbuf);
            c->resync = 1;
            /* the offending byte may itself end the record */
            buf += done;
            len -= done;
            continue;
        }
        buf += n;
        len -= n;
        /* the cap on libcsv's own buffer */
        if (c->oversize || c->rbuf.len + c->p.entry_pos > c->opts.max_record) {
            c->oversize = 1;
            c->p.entry_pos = 0;
            c->p.spaces = 0;
        }
    }
    return 0;
}

/* decide scans the buffered start for the header's record end: 1 LF, 2 CR, 0 unknown */
static int decide(const char *s, size_t n)
{
    int inq = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            inq = !inq;
        else if (!inq && s[i] == '\n')
            return 1;
        else if (!inq && s[i] == '\r')
            return i + 1 < n ? (s[i + 1] == '\n' ? 1 : 2) : 0;
    }
    return 0;
}

static int start(struct es_csv *c, int mode)
{
    c->mode = mode;
    if (parser_start(c) != 0)
        return ES_ENOMEM;
    int rc = run(c, c->pending.data ? c->pending.data : "", c->pending.len);
    es_buf_cleanup(&c->pending);
    return rc;
}

int es_csv_feed(struct es_csv *c, const char *buf, size_t len)
{
    if (!c || (!buf && len))
        return ES_EINVAL;
    if (c->mode)
        return run(c, buf, len);
    size_t room = c->opts.max_record + 4 - c->pending.len;
    size_t take = len < room ? len : room;
    if (es_buf_append(&c->pending, buf, take) != 0)
        return ES_ENOMEM;
    int mode = decide(c->pending.data, c->pending.len);
    if (!mode && c->pending.len >= c->opts.max_record + 4)
        mode = 2; /* a header over the cap: its record is skipped anyway */
    if (!mode)
        return 0;
    int rc = start(c, mode);
    if (rc == 0 && take < len)
        rc = run(c, buf + take, len - take);
    return rc;
}

int es_csv_finish(struct es_csv *c)
{
    if (!c)
        return ES_EINVAL;
    if (!c->mode) {
        int rc = start(c, 1);
        if (rc)
            return rc;
    }
    if (!c->p_live)
        return 0;
    if (csv_fini(&c->p, on_field, on_record, c) != 0) {
        if (csv_error(&c->p) == CSV_EPARSE)
            diag(c, ES_DIAG_ERROR, c->rec,
                 "record %ld: unterminated quote at end of input, "
                 "skipped",
                 c->rec);
        else
            return ES_ENOMEM;
    }
    return c->nomem ? ES_ENOMEM : 0;
}
