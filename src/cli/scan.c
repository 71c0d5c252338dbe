/*
 * earshot scan: the backfill driver. The same feed adapters and matcher as
 * the live pipeline, over files.
 *
 *   reader (main thread)          workers (-j N)              writer (main thread)
 *   file ──chunks of whole lines──> parse, normalise, match ──> output in input order
 *          (CSV: batches of posts)   one es_matcher each
 *
 * Jobs sit in a ring of slots: EMPTY -> READY (filled by the reader) ->
 * DONE (worker) -> written and EMPTY again. Output order equals input order
 * whatever the thread count.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "earshot/alloc.h"
#include "earshot/buf.h"
#include "earshot/clock.h"
#include "earshot/feed.h"
#include "earshot/match.h"
#include "earshot/store.h"

#define CHUNK (1u << 20)           /* bytes of whole lines per job */
#define MAX_LINE (16u << 20)       /* a longer line is reported and skipped */
#define CSV_BATCH 2048             /* posts per CSV job */
#define OUT_CAP ((size_t)1 << 30)  /* per-job output cap */
#define MAX_ERRORS_SHOWN 100

enum { SLOT_EMPTY, SLOT_READY, SLOT_DONE };

struct job {
    int state;
    const char *source;
    long first_line;
    char *data;
    size_t len, alloc;
    struct es_post **posts; /* CSV batches */
    size_t n_posts, alloc_posts;
    struct es_buf out, err;
    uint64_t bytes;
};

struct opts {
    int format; /* enum es_format, or -1 for CSV */
    bool force_csv;
    const char *csv_text, *csv_id;
    bool all, count, stats, progress, quiet;
    int threads;
    int64_t ref_time;
    bool multi_source;
    bool ingest;            /* earshot ingest: complaints become mentions in Redis */
    const char *redis_url, *data_dir;
};

struct worker {
    struct scan *s;
    pthread_t tid;
    struct es_matcher *m;
    uint64_t posts, complaints, bad;
    uint64_t *brand_hits; /* n_brands + 1 (the last: no brand) */
    const char *cat_names[64];
    uint64_t cat_hits[64];
    size_t n_cats;
    /* the job being processed, for the callbacks */
    struct job *job;
    struct es_store *store; /* ingest: this worker's connection */
    uint64_t ingested, duplicates;
};

struct scan {
    struct opts o;
    const struct es_ruleset *rs;
    struct job *slots;
    size_t n_slots;
    size_t next_fill, next_take, next_write;
    bool input_done;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    struct worker *workers;
    atomic_ullong posts_seen;
    uint64_t bytes_read, bytes_total;
    long errors_shown;
    uint64_t errors_total;
    bool io_error;
};

/* ---- output ---- */

static void emit(struct worker *w, const struct es_post *p, const struct es_match *res)
{
    struct es_buf *b = &w->job->out;
    const struct es_ruleset *rs = w->s->rs;
    size_t mark = b->len;
    int rc = es_buf_puts(b, "{\"id\":");
    rc |= es_buf_json_str(b, p->id, strlen(p->id));
    rc |= es_buf_printf(b, ",\"platform\":\"%s\",\"complaint\":%s,\"score\":%.3g",
                        es_platform_name(p->platform), res->complaint ? "true" : "false",
                        res->score);
    rc |= es_buf_puts(b, ",\"brand\":");
    if (res->brand >= 0) {
        const char *bid = es_ruleset_brand_id(rs, (size_t)res->brand);
        rc |= es_buf_json_str(b, bid, strlen(bid));
    } else {
        rc |= es_buf_puts(b, "null");
    }
    rc |= es_buf_puts(b, ",\"category\":");
    if (res->category)
        rc |= es_buf_json_str(b, res->category, strlen(res->category));
    else
        rc |= es_buf_puts(b, "null");
    rc |= es_buf_printf(b, ",\"severity\":%d,\"rules\":[", res->severity);
    for (size_t i = 0; i < res->n_rules; i++) {
        const char *id = es_ruleset_rule_id(rs, (size_t)res->rules[i]);
        if (i)
            rc |= es_buf_putc(b, ',');
        rc |= es_buf_json_str(b, id, strlen(id));
    }
    rc |= es_buf_puts(b, "],\"spans\":[");
    for (size_t i = 0; i < res->n_spans; i++) {
        const struct es_span *sp = &res->spans[i];
        if (i)
            rc |= es_buf_putc(b, ',');
        rc |= es_buf_printf(b, "{\"start\":%zu,\"end\":%zu,\"text\":", sp->start, sp->end);
        rc |= es_buf_json_str(b, p->text + sp->start, sp->end - sp->start);
        if (sp->rule >= 0) {
            const char *id = es_ruleset_rule_id(rs, (size_t)sp->rule);
            rc |= es_buf_puts(b, ",\"rule\":");
            rc |= es_buf_json_str(b, id, strlen(id));
        } else {
            const char *bid = es_ruleset_brand_id(rs, (size_t)sp->brand);
            rc |= es_buf_puts(b, ",\"brand\":");
            rc |= es_buf_json_str(b, bid, strlen(bid));
        }
        rc |= es_buf_putc(b, '}');
    }
    rc |= es_buf_putc(b, ']');
    if (p->created_at) {
        char ts[24];
        es_time_format_iso8601(p->created_at, ts);
        rc |= es_buf_printf(b, ",\"created_at\":\"%s\"", ts);
    }
    if (w->s->o.multi_source) {
        rc |= es_buf_puts(b, ",\"source\":");
        rc |= es_buf_json_str(b, w->job->source, strlen(w->job->source));
    }
    rc |= es_buf_puts(b, "}\n");
    if (rc) {
        /* Output cap or memory: drop this record whole, keep the lines before it. */
        b->len = mark;
        if (b->data)
            b->data[mark] = '\0';
    }
}

/* ingest records one complaint as a mention (deduplicated by platform and post id). */
static void ingest(struct worker *w, const struct es_post *p, const struct es_match *res)
{
    const struct es_ruleset *rs = w->s->rs;
    struct es_buf rules, spans;
    es_buf_init(&rules, 1 << 16);
    es_buf_init(&spans, 1 << 20);
    es_match_json(rs, res, &rules, &spans);
    struct es_mention_in in = {0};
    in.brand = res->brand >= 0 ? es_ruleset_brand_id(rs, (size_t)res->brand) : NULL;
    in.category = res->category;
    in.severity = res->severity;
    in.score = res->score;
    in.complaint = true;
    in.rules_json = rules.data;
    in.spans_json = spans.data;
    char mid[64];
    bool created = false;
    int rc = es_store_mention_add(w->store, p, &in, es_clock_now_ms(), mid, sizeof mid,
                                  &created);
    if (rc) {
        w->bad++;
        es_buf_printf(&w->job->err, "%s: post %s: not recorded: %s\n", w->job->source, p->id,
                      es_strerror(rc));
    } else if (created) {
        w->ingested++;
        /* the charts' per-minute counts of the post's time; no event (a backfill must
         * not set off alerts for history) */
        struct es_store_event ev = {0};
        ev.platform = es_platform_name(p->platform);
        ev.brand = in.brand;
        ev.category = in.category;
        ev.complaint = true;
        ev.severity = in.severity;
        ev.created_ms = p->created_at * 1000;
        ev.now_ms = es_clock_now_ms();
        if (es_store_events_batch(w->store, &ev, 1) != 0)
            es_buf_printf(&w->job->err, "%s: post %s: not counted for the charts\n",
                          w->job->source, p->id);
    } else {
        w->duplicates++;
    }
    es_buf_cleanup(&rules);
    es_buf_cleanup(&spans);
}

static void count_category(struct worker *w, const char *cat)
{
    for (size_t i = 0; i < w->n_cats; i++) {
        if (strcmp(w->cat_names[i], cat) == 0) {
            w->cat_hits[i]++;
            return;
        }
    }
    if (w->n_cats < 64) {
        w->cat_names[w->n_cats] = cat;
        w->cat_hits[w->n_cats++] = 1;
    }
}

static void judge(struct worker *w, const struct es_post *p)
{
    const struct es_match *res;
    w->posts++;
    int rc = es_match_text(w->m, p->text, p->text_len, p->lang, &res);
    if (rc && rc != ES_ELIMIT) {
        w->bad++;
        es_buf_printf(&w->job->err, "%s: post %s: cannot judge: %s\n", w->job->source, p->id,
                      es_strerror(rc));
        return;
    }
    if (res->complaint) {
        w->complaints++;
        w->brand_hits[res->brand >= 0 ? (size_t)res->brand : es_ruleset_brand_count(w->s->rs)]++;
        if (res->category)
            count_category(w, res->category);
    }
    if (w->store && res->complaint)
        ingest(w, p, res);
    if (w->s->o.count)
        return;
    if (res->complaint || w->s->o.all)
        emit(w, p, res);
}

static void on_post(void *ud, const struct es_post *p)
{
    judge(ud, p);
}

static void on_diag(void *ud, const struct es_diag *d)
{
    struct worker *w = ud;
    if (d->severity == ES_DIAG_ERROR)
        w->bad++;
    char line[1024];
    es_diag_format(d, line, sizeof line);
    es_buf_printf(&w->job->err, "%s\n", line);
}

static void process(struct worker *w, struct job *j)
{
    w->job = j;
    if (j->n_posts) {
        for (size_t i = 0; i < j->n_posts; i++) {
            judge(w, j->posts[i]);
            es_post_free(j->posts[i]);
            j->posts[i] = NULL;
        }
        atomic_fetch_add(&w->s->posts_seen, j->n_posts);
        j->n_posts = 0;
        return;
    }
    struct es_feed_opts fo = {(enum es_format)w->s->o.format, j->source, j->first_line,
                              w->s->o.ref_time, 0};
    const char *p = j->data, *end = j->data + j->len;
    uint64_t before = w->posts;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *e = le;
        if (e > p && e[-1] == '\r')
            e--;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t'))
            q++;
        if (q < e) {
            int rc = es_feed_parse(p, (size_t)(e - p), &fo, on_post, on_diag, w);
            if (rc == ES_ENOMEM) {
                w->bad++;
                es_buf_printf(&j->err, "%s:%ld: error: out of memory\n", j->source, fo.line);
            }
        }
        fo.line++;
        p = nl ? nl + 1 : end;
    }
    atomic_fetch_add(&w->s->posts_seen, w->posts - before);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct scan *s = w->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->next_take == s->next_fill && !s->input_done)
            pthread_cond_wait(&s->work_cv, &s->mu);
        if (s->next_take == s->next_fill && s->input_done)
            break;
        struct job *j = &s->slots[s->next_take % s->n_slots];
        s->next_take++;
        pthread_mutex_unlock(&s->mu);
        process(w, j);
        pthread_mutex_lock(&s->mu);
        j->state = SLOT_DONE;
        pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- input ---- */

struct input {
    const char *name;
    int fd;
    bool csv;
    long line;        /* next line number */
    char *carry;      /* a partial line from the last read */
    size_t carry_len, carry_alloc;
    bool eof;
    bool skipping;    /* inside an over-long line */
    struct es_csv *csvp;
    struct job *csv_job; /* the job CSV posts go into while filling */
};

static int ensure(char **buf, size_t *alloc, size_t need)
{
    if (need <= *alloc)
        return 0;
    size_t n = *alloc ? *alloc : CHUNK;
    while (n < need)
        n *= 2;
    char *p = es_realloc(*buf, n);
    if (!p)
        return ES_ENOMEM;
    *buf = p;
    *alloc = n;
    return 0;
}

static void report_io(struct scan *s, struct job *j, const char *fmt, const char *name, long line)
{
    s->io_error = true;
    es_buf_printf(&j->err, fmt, name, line, strerror(errno));
}

/*
 * fill_lines reads whole lines into j: the carried partial line, then about
 * CHUNK more bytes, cut after the last newline. Returns true when j has data.
 */
static bool fill_lines(struct scan *s, struct input *in, struct job *j)
{
    j->len = 0;
    j->source = in->name;
    j->first_line = in->line;
    if (ensure(&j->data, &j->alloc, CHUNK + in->carry_len + 1))
        return false;
    if (in->carry_len)
        memcpy(j->data, in->carry, in->carry_len);
    j->len = in->carry_len;
    in->carry_len = 0;
    for (;;) {
        while (!in->eof && j->len < CHUNK) {
            ssize_t got = read(in->fd, j->data + j->len, j->alloc - j->len);
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                report_io(s, j, "%s:%ld: error: read failed: %s\n", in->name, in->line);
                in->eof = true;
                break;
            }
            if (got == 0)
                in->eof = true;
            j->len += (size_t)got;
            s->bytes_read += (uint64_t)got;
        }
        char *last = j->len ? memrchr(j->data, '\n', j->len) : NULL;
        if (in->skipping) {
            /* Drop the rest of an over-long line. */
            if (!last) {
                j->len = 0;
                if (in->eof)
                    return false;
                continue;
            }
            size_t rest = j->len - (size_t)(last + 1 - j->data);
            memmove(j->data, last + 1, rest);
            j->len = rest;
            in->skipping = false;
            in->line++;
            j->first_line = in->line;
            continue;
        }
        if (last || in->eof)  {
            size_t keep = last && !in->eof ? (size_t)(last + 1 - j->data) : j->len;
            if (last && in->eof && (size_t)(last + 1 - j->data) < j->len)
                keep = j->len; /* final line without a newline */
            size_t rest = j->len - keep;
            if (rest) {
                if (ensure(&in->carry, &in->carry_alloc, rest))
                    return false;
                memcpy(in->carry, j->data + keep, rest);
                in->carry_len = rest;
            }
            j->len = keep;
            for (const char *p = j->data; (p = memchr(p, '\n', (size_t)(j->data + keep - p)));
                 p++)
                in->line++;
            return j->len > 0;
        }
        /* No newline yet: one line bigger than the chunk. */
        if (j->len >= MAX_LINE) {
            es_buf_printf(&j->err, "%s:%ld: error: line longer than %u MiB, skipped\n", in->name,
                          in->line, MAX_LINE >> 20);
            j->len = 0;
            in->skipping = true;
            continue;
        }
        if (ensure(&j->data, &j->alloc, j->len + CHUNK + 1))
            return false;
        while (!in->eof && j->len < j->alloc - 1) {
            ssize_t got = read(in->fd, j->data + j->len, j->alloc - 1 - j->len);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (got < 0)
                    report_io(s, j, "%s:%ld: error: read failed: %s\n", in->name, in->line);
                in->eof = true;
                break;
            }
            j->len += (size_t)got;
            s->bytes_read += (uint64_t)got;
            if (memchr(j->data + j->len - (size_t)got, '\n', (size_t)got))
                break;
        }
    }
}

static void csv_post(void *ud, const struct es_post *p)
{
    struct input *in = ud;
    struct job *j = in->csv_job;
    struct es_post *copy = NULL;
    if (j->n_posts == j->alloc_posts) {
        size_t na = j->alloc_posts ? j->alloc_posts * 2 : CSV_BATCH;
        struct es_post **np = es_realloc(j->posts, na * sizeof *np);
        if (np) {
            j->posts = np;
            j->alloc_posts = na;
        }
    }
    if (j->n_posts < j->alloc_posts)
        copy = es_post_copy(p);
    if (!copy) {
        es_buf_printf(&j->err, "%s: post %s: out of memory, skipped\n", in->name, p->id);
        return;
    }
    j->posts[j->n_posts++] = copy;
}

static void csv_diag(void *ud, const struct es_diag *d)
{
    struct input *in = ud;
    char line[1024];
    es_diag_format(d, line, sizeof line);
    es_buf_printf(&in->csv_job->err, "%s\n", line);
}

/* fill_csv parses CSV until the job holds a batch of posts. */
static bool fill_csv(struct scan *s, struct input *in, struct job *j)
{
    j->source = in->name;
    j->first_line = 0;
    j->n_posts = 0;
    j->len = 0;
    in->csv_job = j;
    char buf[CHUNK / 4];
    while (j->n_posts < CSV_BATCH && !in->eof) {
        ssize_t got = read(in->fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            report_io(s, j, "%s:%ld: error: read failed: %s\n", in->name, 0);
        if (got <= 0) {
            in->eof = true;
            es_csv_finish(in->csvp);
            break;
        }
        s->bytes_read += (uint64_t)got;
        if (es_csv_feed(in->csvp, buf, (size_t)got) == ES_ENOMEM) {
            es_buf_printf(&j->err, "%s: error: out of memory\n", in->name);
            in->eof = true;
        }
    }
    return j->n_posts > 0 || j->err.len > 0;
}

/* ---- progress and stats ---- */

static void progress(struct scan *s, int64_t t0, bool final)
{
    double el = (double)(es_clock_mono_ms() - t0) / 1000.0;
    unsigned long long posts = atomic_load(&s->posts_seen);
    double rate = el > 0 ? (double)posts / el : 0;
    double mb = (double)s->bytes_read / 1e6;
    char eta[32] = "";
    if (s->bytes_total && s->bytes_read && !final) {
        double left = el * ((double)s->bytes_total / (double)s->bytes_read - 1);
        snprintf(eta, sizeof eta, "  ETA %.0fs", left);
    }
    if (s->bytes_total) {
        int pct = (int)(100.0 * (double)s->bytes_read / (double)s->bytes_total);
        fprintf(stderr, "\r%3d%% %.1f/%.1f MB  %llu posts  %.0f posts/s%s   ", pct, mb,
                (double)s->bytes_total / 1e6, posts, rate, eta);
    } else {
        fprintf(stderr, "\r%.1f MB  %llu posts  %.0f posts/s   ", mb, posts, rate);
    }
    if (final)
        fputc('\n', stderr);
}

static void json_key_count(struct es_buf *b, bool *first, const char *k, uint64_t v)
{
    es_buf_puts(b, *first ? "" : ",");
    *first = false;
    es_buf_json_str(b, k, strlen(k));
    es_buf_printf(b, ":%llu", (unsigned long long)v);
}

static void print_stats(struct scan *s, double seconds)
{
    const struct es_ruleset *rs = s->rs;
    size_t nr = es_ruleset_rule_count(rs), nb = es_ruleset_brand_count(rs);
    uint64_t posts = 0, complaints = 0, bad = 0, limit = 0, trunc = 0;
    struct es_buf b;
    es_buf_init(&b, 64 << 20);
    for (int i = 0; i < s->o.threads; i++) {
        struct worker *w = &s->workers[i];
        const struct es_match_stats *ms = es_matcher_stats(w->m);
        posts += w->posts;
        complaints += w->complaints;
        bad += w->bad;
        limit += ms->limit_hits;
        trunc += ms->truncated;
    }
    es_buf_printf(&b,
                  "{\"posts\":%llu,\"complaints\":%llu,\"bad_records\":%llu,"
                  "\"regex_limit_hits\":%llu,\"truncated_posts\":%llu,\"seconds\":%.3f,"
                  "\"posts_per_s\":%.0f,\"mb_per_s\":%.1f,\"rules\":{",
                  (unsigned long long)posts, (unsigned long long)complaints,
                  (unsigned long long)bad, (unsigned long long)limit, (unsigned long long)trunc,
                  seconds, seconds > 0 ? (double)posts / seconds : 0,
                  seconds > 0 ? (double)s->bytes_read / 1e6 / seconds : 0);
    bool first = true;
    for (size_t r = 0; r < nr; r++) {
        uint64_t n = 0;
        for (int i = 0; i < s->o.threads; i++)
            n += es_matcher_rule_hits(s->workers[i].m)[r];
        if (n)
            json_key_count(&b, &first, es_ruleset_rule_id(rs, r), n);
    }
    es_buf_puts(&b, "},\"brands\":{");
    first = true;
    for (size_t k = 0; k <= nb; k++) {
        uint64_t n = 0;
        for (int i = 0; i < s->o.threads; i++)
            n += s->workers[i].brand_hits[k];
        if (n)
            json_key_count(&b, &first, k < nb ? es_ruleset_brand_id(rs, k) : "(none)", n);
    }
    es_buf_puts(&b, "},\"categories\":{");
    /* merge the per-worker category tables */
    const char *names[64];
    uint64_t counts[64];
    size_t nc = 0;
    for (int i = 0; i < s->o.threads; i++) {
        struct worker *w = &s->workers[i];
        for (size_t c = 0; c < w->n_cats; c++) {
            size_t k;
            for (k = 0; k < nc && strcmp(names[k], w->cat_names[c]) != 0; k++)
                ;
            if (k == nc && nc < 64) {
                names[nc] = w->cat_names[c];
                counts[nc++] = 0;
            }
            if (k < nc)
                counts[k] += w->cat_hits[c];
        }
    }
    first = true;
    for (size_t k = 0; k < nc; k++)
        json_key_count(&b, &first, names[k], counts[k]);
    es_buf_puts(&b, "}}\n");
    if (b.data)
        fputs(b.data, stderr);
    es_buf_cleanup(&b);
}

/* ---- the driver ---- */

static void write_job(struct scan *s, struct job *j)
{
    if (j->out.len)
        fwrite(j->out.data, 1, j->out.len, stdout);
    if (j->err.len) {
        s->errors_total++;
        if (!s->o.quiet && s->errors_shown < MAX_ERRORS_SHOWN) {
            fwrite(j->err.data, 1, j->err.len, stderr);
            s->errors_shown++;
        }
    }
    es_buf_reset(&j->out);
    es_buf_reset(&j->err);
}

static bool is_csv_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".csv") == 0;
}

static bool open_input(struct scan *s, struct input *in, const char *name)
{
    memset(in, 0, sizeof *in);
    in->name = strcmp(name, "-") == 0 ? "<stdin>" : name;
    in->line = 1;
    in->fd = strcmp(name, "-") == 0 ? 0 : open(name, O_RDONLY);
    if (in->fd < 0) {
        fprintf(stderr, "earshot scan: %s: %s\n", name, strerror(errno));
        s->io_error = true;
        return false;
    }
    in->csv = s->o.force_csv || (s->o.format == ES_FORMAT_AUTO && is_csv_name(name));
    if (in->csv) {
        struct es_csv_opts co = {in->name, s->o.csv_text, s->o.csv_id, 0};
        in->csvp = es_csv_new(&co, csv_post, csv_diag, in);
        if (!in->csvp) {
            fprintf(stderr, "earshot scan: out of memory\n");
            return false;
        }
    }
    return true;
}

static void close_input(struct input *in)
{
    if (in->fd > 0)
        close(in->fd);
    es_csv_free(in->csvp);
    es_free(in->carry);
    memset(in, 0, sizeof *in);
}

static int run(struct scan *s, char **files, int n_files)
{
    int64_t t0 = es_clock_mono_ms(), last_progress = t0;
    int fi = 0;
    struct input in;
    bool have_input = false;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* Write finished jobs in order. */
        while (s->next_write < s->next_fill &&
               s->slots[s->next_write % s->n_slots].state == SLOT_DONE) {
            struct job *j = &s->slots[s->next_write % s->n_slots];
            pthread_mutex_unlock(&s->mu);
            write_job(s, j);
            pthread_mutex_lock(&s->mu);
            j->state = SLOT_EMPTY;
            s->next_write++;
        }
        if (s->input_done && s->next_write == s->next_fill)
            break;
        struct job *j = &s->slots[s->next_fill % s->n_slots];
        if (!s->input_done && j->state == SLOT_EMPTY) {
            pthread_mutex_unlock(&s->mu);
            bool filled = false;
            while (!filled) {
                if (!have_input) {
                    if (fi >= n_files)
                        break;
                    have_input = open_input(s, &in, files[fi++]);
                    if (!have_input)
                        continue;
                }
                filled = in.csv ? fill_csv(s, &in, j) : fill_lines(s, &in, j);
                if (in.eof && (in.csv || in.carry_len == 0)) {
                    if (!filled && j->err.len)
                        write_job(s, j);
                    close_input(&in);
                    have_input = false;
                }
            }
            pthread_mutex_lock(&s->mu);
            if (filled) {
                j->state = SLOT_READY;
                s->next_fill++;
            } else {
                s->input_done = true;
            }
            pthread_cond_broadcast(&s->work_cv);
        } else {
            pthread_cond_wait(&s->done_cv, &s->mu);
        }
        if (s->o.progress && es_clock_mono_ms() - last_progress >= 250) {
            last_progress = es_clock_mono_ms();
            progress(s, t0, false);
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (s->o.progress)
        progress(s, t0, true);
    return 0;
}

static int scan_main(int argc, char **argv, bool ingest);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: earshot scan [options] [FILE...]\n"
            "       earshot ingest [options] [--redis URL] [--data-dir DIR] [FILE...]\n"
            "\n"
            "Judges every post in the files (standard input when none, or '-') and prints\n"
            "one JSON object per complaint: id, platform, complaint, score, brand, category,\n"
            "severity, rules, spans (byte offsets into the original text) and created_at.\n"
            "Input is JSON lines in any supported payload shape, detected per line (Twitter\n"
            "v2 and v1.1, Weibo, WeChat XML and JSON, generic {\"id\",\"text\"}), or CSV with a\n"
            "header row (files ending in .csv, or --csv).\n"
            "\n"
            "  --format FMT            force a shape: auto, twitter-v2, twitter-v1, weibo,\n"
            "                          wechat-xml, wechat-json, generic, csv\n"
            "  --csv                   read the input as CSV\n"
            "  --csv-text-column NAME  CSV column holding the text (default: text, review,\n"
            "                          content)\n"
            "  --csv-id-column NAME    CSV column holding the id (default: id, tweet_id,\n"
            "                          _unit_id; else the record number, 1 = first record)\n"
            "  --all                   print every post, complaint true or false\n"
            "  --count                 print only the number of complaints\n"
            "  --stats                 print counts per rule, brand and category, bad records\n"
            "                          and throughput as JSON on standard error\n"
            "  -j, --threads N         worker threads (default: all cores)\n"
            "  --keywords DIR          keyword lists (default: the shipped keywords/)\n"
            "  --rules DIR             rules (default: the shipped rules/)\n"
            "  --ref-time TIME         'now' for relative Weibo times (ISO 8601)\n"
            "  --no-progress           no progress line (it shows only on a terminal)\n"
            "  -q, --quiet             do not print bad-record errors (they are still counted)\n"
            "  --redis URL, --data-dir DIR   ingest: where the mentions go (default: the\n"
            "                          embedded server, see 'earshot mentions --help')\n"
            "  -h, --help\n"
            "\n"
            "'earshot ingest' judges the same way and records every complaint as a mention in\n"
            "the triage queue (deduplicated by platform and post id).\n"
            "\n"
            "Bad records are reported on standard error as file:line: error: ... and skipped;\n"
            "the scan goes on.\n"
            "\n"
            "Exit status: 0 no complaint found, 1 complaints found, 2 usage or rule errors,\n"
            "3 a file could not be read.\n");
}

int es_cli_ingest(int argc, char **argv)
{
    return scan_main(argc, argv, true);
}

int es_cli_scan(int argc, char **argv)
{
    return scan_main(argc, argv, false);
}

static int scan_main(int argc, char **argv, bool ingest)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},   {"csv", no_argument, NULL, 'C'},
        {"csv-text-column", required_argument, NULL, 'T'},
        {"csv-id-column", required_argument, NULL, 'I'},
        {"all", no_argument, NULL, 'a'},            {"count", no_argument, NULL, 'c'},
        {"stats", no_argument, NULL, 's'},          {"threads", required_argument, NULL, 'j'},
        {"keywords", required_argument, NULL, 'k'}, {"rules", required_argument, NULL, 'r'},
        {"ref-time", required_argument, NULL, 'R'}, {"no-progress", no_argument, NULL, 'P'},
        {"quiet", no_argument, NULL, 'q'},          {"help", no_argument, NULL, 'h'},
        {"redis", required_argument, NULL, 'D'},    {"data-dir", required_argument, NULL, 'E'},
        {NULL, 0, NULL, 0}};
    struct scan s;
    memset(&s, 0, sizeof s);
    s.o.ingest = ingest;
    s.o.format = ES_FORMAT_AUTO;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s.o.threads = ncpu > 0 ? (int)ncpu : 1;
    s.o.progress = isatty(2);
    char kw[4096], rules[4096];
    es_cli_default_dir("keywords", kw, sizeof kw);
    es_cli_default_dir("rules", rules, sizeof rules);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "csv") == 0) {
                s.o.force_csv = true;
            } else {
                s.o.format = es_format_from_name(optarg);
                if (s.o.format < 0) {
                    fprintf(stderr, "earshot scan: unknown format '%s'\n", optarg);
                    return ES_EXIT_USAGE;
                }
            }
            break;
        case 'C': s.o.force_csv = true; break;
        case 'T': s.o.csv_text = optarg; break;
        case 'I': s.o.csv_id = optarg; break;
        case 'a': s.o.all = true; break;
        case 'c': s.o.count = true; break;
        case 's': s.o.stats = true; break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "earshot scan: -j wants 1..256\n");
                return ES_EXIT_USAGE;
            }
            s.o.threads = (int)n;
            break;
        }
        case 'k': snprintf(kw, sizeof kw, "%s", optarg); break;
        case 'r': snprintf(rules, sizeof rules, "%s", optarg); break;
        case 'R':
            if (es_time_parse_iso8601(optarg, strlen(optarg), &s.o.ref_time)) {
                fprintf(stderr, "earshot scan: --ref-time wants ISO 8601, got '%s'\n", optarg);
                return ES_EXIT_USAGE;
            }
            break;
        case 'P': s.o.progress = false; break;
        case 'q': s.o.quiet = true; break;
        case 'D': s.o.redis_url = optarg; break;
        case 'E': s.o.data_dir = optarg; break;
        case 'h': usage(stdout); return ES_EXIT_OK;
        default: usage(stderr); return ES_EXIT_USAGE;
        }
    }
    char *stdin_only[] = {"-"};
    char **files = argc > optind ? argv + optind : stdin_only;
    int n_files = argc > optind ? argc - optind : 1;
    s.o.multi_source = n_files > 1;
    for (int i = 0; i < n_files; i++) {
        struct stat st;
        if (strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
            s.bytes_total += (uint64_t)st.st_size;
    }

    struct es_norm *norm = NULL;
    struct es_ruleset *rs = NULL;
    int rc = es_cli_load_ruleset(kw, rules, false, &norm, &rs, NULL);
    if (rc) {
        fprintf(stderr, "earshot scan: the rules did not load (see 'earshot rules check')\n");
        return ES_EXIT_USAGE;
    }
    s.rs = rs;
    s.n_slots = (size_t)s.o.threads * 2 + 2;
    s.slots = es_calloc(s.n_slots, sizeof *s.slots);
    s.workers = es_calloc((size_t)s.o.threads, sizeof *s.workers);
    int exit_code = ES_EXIT_USAGE;
    if (!s.slots || !s.workers)
        goto out;
    for (size_t i = 0; i < s.n_slots; i++) {
        es_buf_init(&s.slots[i].out, OUT_CAP);
        es_buf_init(&s.slots[i].err, 1 << 20);
    }
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.work_cv, NULL);
    pthread_cond_init(&s.done_cv, NULL);
    int started = 0;
    for (int i = 0; i < s.o.threads; i++) {
        struct worker *w = &s.workers[i];
        w->s = &s;
        w->m = es_matcher_new(rs);
        w->brand_hits = es_calloc(es_ruleset_brand_count(rs) + 1, sizeof *w->brand_hits);
        if (!w->m || !w->brand_hits)
            break;
        if (s.o.ingest) {
            /* The first worker may start the embedded server; the others share it. */
            struct es_store_opts so = {s.o.redis_url, s.o.data_dir, 0};
            struct es_diag d = {0};
            if (es_store_open(&so, &w->store, &d) != 0) {
                char line[1024];
                es_diag_format(&d, line, sizeof line);
                fprintf(stderr, "earshot ingest: %s\n", line);
                break;
            }
        }
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0)
            break;
        started++;
    }
    int64_t t0 = es_clock_mono_ms();
    if (started == s.o.threads) {
        run(&s, files, n_files);
    } else {
        fprintf(stderr, "earshot scan: cannot start %d workers\n", s.o.threads);
        pthread_mutex_lock(&s.mu);
        s.input_done = true;
        pthread_cond_broadcast(&s.work_cv);
        pthread_mutex_unlock(&s.mu);
    }
    for (int i = 0; i < started; i++)
        pthread_join(s.workers[i].tid, NULL);
    double seconds = (double)(es_clock_mono_ms() - t0) / 1000.0;
    if (started == s.o.threads) {
        uint64_t complaints = 0;
        for (int i = 0; i < s.o.threads; i++)
            complaints += s.workers[i].complaints;
        if (s.o.count)
            printf("%llu\n", (unsigned long long)complaints);
        if (s.o.ingest) {
            uint64_t added = 0, dups = 0;
            for (int i = 0; i < s.o.threads; i++) {
                added += s.workers[i].ingested;
                dups += s.workers[i].duplicates;
            }
            fprintf(stderr, "earshot ingest: %llu mentions recorded, %llu already known\n",
                    (unsigned long long)added, (unsigned long long)dups);
        }
        fflush(stdout);
        if (s.o.stats)
            print_stats(&s, seconds);
        if (s.errors_total > (uint64_t)s.errors_shown && !s.o.quiet)
            fprintf(stderr, "earshot scan: %llu more chunks with bad records not shown\n",
                    (unsigned long long)(s.errors_total - (uint64_t)s.errors_shown));
        exit_code = s.io_error ? ES_EXIT_IO : complaints ? ES_EXIT_FOUND : ES_EXIT_OK;
    }
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.work_cv);
    pthread_cond_destroy(&s.done_cv);
out:
    if (s.workers)
        for (int i = 0; i < s.o.threads; i++) {
            es_matcher_free(s.workers[i].m);
            es_free(s.workers[i].brand_hits);
            es_store_close(s.workers[i].store);
        }
    es_free(s.workers);
    if (s.slots)
        for (size_t i = 0; i < s.n_slots; i++) {
            struct job *j = &s.slots[i];
            es_free(j->data);
            if (j->posts)
                for (size_t k = 0; k < j->n_posts; k++)
                    es_post_free(j->posts[k]);
            es_free(j->posts);
            es_buf_cleanup(&j->out);
            es_buf_cleanup(&j->err);
        }
    es_free(s.slots);
    es_ruleset_free(rs);
    es_norm_free(norm);
    return exit_code;
}
