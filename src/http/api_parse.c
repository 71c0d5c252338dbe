/* The triage API's request parsing: bodies, query parameters and the filling of reply
 * templates. Pure functions of the call's copied inputs (no Redis, no loop), so the route
 * functions stay short and tests/fuzz/fuzz_http_api.c reaches every byte a client controls. */
#include <stdio.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/utf8.h"
#include "http/api_int.h"

#define TEXT_MAX ES_FEARS_MAX_BYTES

static const char *q_str(const struct es__api_call *c, enum es__api_q q)
{
    return c->q[q] && *c->q[q] ? c->q[q] : NULL;
}

/* text_body: {text (required), <other> (a string of at most other_max bytes)}. */
static int text_body(struct es__api_call *c, const char *other, size_t other_max,
                     struct es__api_text_body *b, const char **other_out)
{
    const char *allowed[] = {"text", other, NULL};
    memset(b, 0, sizeof *b);
    *other_out = NULL;
    b->root = es__api_body_object(c, allowed);
    if (!b->root)
        return ES_EINVAL;
    bool bad = false;
    b->text = es__api_field_str(c, b->root, "text", TEXT_MAX, &bad);
    if (!bad)
        *other_out = es__api_field_str(c, b->root, other, other_max, &bad);
    if (!bad && !b->text) {
        es__api_error(c, 400, "bad_field", "body field \"text\": required");
        bad = true;
    }
    if (bad) {
        json_decref(b->root);
        memset(b, 0, sizeof *b);
        return ES_EINVAL;
    }
    return 0;
}

int es__api_parse_reply(struct es__api_call *c, struct es__api_text_body *b)
{
    const char *idem = NULL;
    int rc = text_body(c, "idempotency_key", 128, b, &idem);
    b->idem = idem;
    b->dm = c->route == ES__R_DM;
    return rc;
}

int es__api_parse_check(struct es__api_call *c, struct es__api_text_body *b)
{
    const char *kind = NULL;
    int rc = text_body(c, "kind", 8, b, &kind);
    if (rc)
        return rc;
    if (kind && strcmp(kind, "reply") != 0 && strcmp(kind, "dm") != 0) {
        es__api_error(c, 400, "bad_field", "body field \"kind\": \"reply\" or \"dm\"");
        json_decref(b->root);
        memset(b, 0, sizeof *b);
        return ES_EINVAL;
    }
    b->dm = kind && strcmp(kind, "dm") == 0;
    return 0;
}

int es__api_parse_claim(struct es__api_call *c, int64_t *lease_ms)
{
    static const char *const allowed[] = {"lease_s", NULL};
    *lease_ms = 300 * 1000;
    json_t *b = es__api_body_object(c, allowed);
    if (!b)
        return ES_EINVAL;
    json_t *v = json_object_get(b, "lease_s");
    int rc = 0;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 10 || json_integer_value(v) > 3600) {
            es__api_error(c, 400, "bad_field",
                          "body field \"lease_s\": expected an integer from 10 to 3600");
            rc = ES_EINVAL;
        } else {
            *lease_ms = (int64_t)json_integer_value(v) * 1000;
        }
    }
    json_decref(b);
    return rc;
}

int es__api_parse_ignore(struct es__api_call *c, json_t **root, const char **why)
{
    static const char *const allowed[] = {"reason", NULL};
    *why = "";
    *root = es__api_body_object(c, allowed);
    if (!*root)
        return ES_EINVAL;
    bool bad = false;
    const char *w = es__api_field_str(c, *root, "reason", 500, &bad);
    if (bad) {
        json_decref(*root);
        *root = NULL;
        return ES_EINVAL;
    }
    *why = w ? w : "";
    return 0;
}

int es__api_parse_empty(struct es__api_call *c)
{
    static const char *const none[] = {NULL};
    json_t *b = es__api_body_object(c, none);
    json_decref(b);
    return b ? 0 : ES_EINVAL;
}

int es__api_parse_token(struct es__api_call *c, struct es__api_token_body *b)
{
    static const char *const allowed[] = {"role", "name", NULL};
    memset(b, 0, sizeof *b);
    b->root = es__api_body_object(c, allowed);
    if (!b->root)
        return ES_EINVAL;
    bool bad = false;
    b->role = es__api_field_str(c, b->root, "role", 16, &bad);
    b->name = bad ? NULL : es__api_field_str(c, b->root, "name", 64, &bad);
    if (!bad && (!b->role || es_api_role_parse(b->role) == ES_ROLE_NONE)) {
        es__api_error(c, 400, "bad_field", "body field \"role\": agent, manager or admin");
        bad = true;
    }
    if (!bad && !b->name) {
        es__api_error(c, 400, "bad_field", "body field \"name\": required");
        bad = true;
    }
    if (!bad && !es__api_name_ok(b->name)) {
        es__api_error(c, 400, "bad_field",
                      "body field \"name\": 1 to 64 of the characters A-Z a-z 0-9 . _ @ -");
        bad = true;
    }
    if (bad) {
        json_decref(b->root);
        memset(b, 0, sizeof *b);
        return ES_EINVAL;
    }
    return 0;
}

/* ---- query parameters ---- */

bool es__api_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

/* cursor_ok: "<score>:<mid>" as es_store_mentions_list writes it (a whole number, at most
 * 20 digits, then a mention id); anything else would reach Redis as a score it refuses. */
static bool cursor_ok(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return false;
    const char *p = s;
    if (*p == '-')
        p++;
    size_t digits = (size_t)(colon - p);
    if (digits == 0 || digits > 20)
        return false;
    for (; p < colon; p++)
        if (*p < '0' || *p > '9')
            return false;
    return es__api_id_ok(colon + 1, strlen(colon + 1));
}

static const char *const states[] = {"new",      "claimed", "replied_1", "replied_2",
                                     "resolved", "ignored", NULL};

int es__api_parse_mentions_q(struct es__api_call *c, struct es_mention_filter *f)
{
    bool bad = false;
    memset(f, 0, sizeof *f);
    f->brand = q_str(c, ES__Q_BRAND);
    f->state = q_str(c, ES__Q_STATE);
    f->category = q_str(c, ES__Q_CATEGORY);
    f->fence = q_str(c, ES__Q_FENCE);
    f->assignee = q_str(c, ES__Q_ASSIGNEE);
    f->platform = q_str(c, ES__Q_PLATFORM);
    f->cursor = q_str(c, ES__Q_CURSOR);
    f->brief = true; /* the queue view: rules and spans come with the detail */
    f->min_severity = (int)es__api_q_int(c, ES__Q_SEVERITY, 0, 1, 4, &bad);
    if (!bad)
        f->limit = (size_t)es__api_q_int(c, ES__Q_LIMIT, 50, 1, 200, &bad);
    if (bad)
        return ES_EINVAL;
    if (f->state) {
        size_t i = 0;
        while (states[i] && strcmp(states[i], f->state) != 0)
            i++;
        if (!states[i]) {
            es__api_error(c, 400, "bad_param",
                          "query parameter \"state\": one of new, claimed, replied_1, "
                          "replied_2, resolved, ignored");
            return ES_EINVAL;
        }
    }
    const char *too_long[] = {f->brand, f->category, f->fence, f->assignee, f->platform};
    for (size_t i = 0; i < sizeof too_long / sizeof *too_long; i++)
        if (too_long[i] && strlen(too_long[i]) > 200) {
            es__api_error(c, 400, "bad_param", "a query parameter is longer than 200 bytes");
            return ES_EINVAL;
        }
    if (f->cursor && !cursor_ok(f->cursor)) {
        es__api_error(c, 400, "bad_param",
                      "query parameter \"cursor\": the next_cursor of a previous page");
        return ES_EINVAL;
    }
    return 0;
}

int es__api_parse_volume_q(struct es__api_call *c, struct es__api_volume_q *v)
{
    memset(v, 0, sizeof *v);
    v->step = q_str(c, ES__Q_STEP) ? q_str(c, ES__Q_STEP) : "minute";
    v->by = q_str(c, ES__Q_BY);
    v->hour = strcmp(v->step, "hour") == 0;
    if (!v->hour && strcmp(v->step, "minute") != 0) {
        es__api_error(c, 400, "bad_param", "query parameter \"step\": minute or hour");
        return ES_EINVAL;
    }
    if (v->by && strcmp(v->by, "brand") != 0 && strcmp(v->by, "category") != 0) {
        es__api_error(c, 400, "bad_param", "query parameter \"by\": brand or category");
        return ES_EINVAL;
    }
    v->width_ms = v->hour ? 3600000 : 60000;
    bool bad = false;
    int64_t to = es__api_q_int(c, ES__Q_TO, c->now_ms, 0, ES__API_MAX_MS, &bad);
    int64_t def_from = to - 59 * v->width_ms;
    int64_t from =
        bad ? 0
            : es__api_q_int(c, ES__Q_FROM, def_from > 0 ? def_from : 0, 0, ES__API_MAX_MS, &bad);
    if (bad)
        return ES_EINVAL;
    v->from = from / v->width_ms * v->width_ms;
    v->to = to / v->width_ms * v->width_ms;
    if (v->to < v->from) {
        es__api_error(c, 400, "bad_param", "query parameters: \"from\" is after \"to\"");
        return ES_EINVAL;
    }
    v->buckets = (v->to - v->from) / v->width_ms + 1;
    int64_t max = v->hour ? ES__API_MAX_HOURS : ES__API_MAX_MINUTES;
    if (v->buckets > max) {
        es__api_error(c, 400, "bad_param", "at most %lld %s buckets per call", (long long)max,
                      v->step);
        return ES_EINVAL;
    }
    return 0;
}

int es__api_parse_audit_q(struct es__api_call *c, size_t *limit, const char **mid,
                          const char **actor)
{
    bool bad = false;
    *limit = (size_t)es__api_q_int(c, ES__Q_LIMIT, 100, 1, 1000, &bad);
    *mid = q_str(c, ES__Q_MID);
    *actor = q_str(c, ES__Q_ACTOR);
    if (bad)
        return ES_EINVAL;
    /* what the audit records: a path id (63 bytes at most) and a token's name */
    if (*mid && !es__api_id_ok(*mid, strlen(*mid))) {
        es__api_error(c, 400, "bad_param",
                      "query parameter \"mid\": 1 to 63 of the characters A-Z a-z 0-9 . _ -");
        return ES_EINVAL;
    }
    if (*actor && !es__api_name_ok(*actor)) {
        es__api_error(c, 400, "bad_param",
                      "query parameter \"actor\": 1 to 64 of the characters A-Z a-z 0-9 . _ @ -");
        return ES_EINVAL;
    }
    return 0;
}

int es__api_parse_days(struct es__api_call *c, int *days)
{
    bool bad = false;
    *days = (int)es__api_q_int(c, ES__Q_DAYS, 7, 1, 90, &bad);
    return bad ? ES_EINVAL : 0;
}

int es__api_parse_lang(struct es__api_call *c, const char **lang)
{
    *lang = q_str(c, ES__Q_LANG);
    if (*lang && strcmp(*lang, "zh") != 0 && strcmp(*lang, "en") != 0) {
        es__api_error(c, 400, "bad_param", "query parameter \"lang\": zh or en");
        return ES_EINVAL;
    }
    return 0;
}

/* ---- templates ---- */

/* keep_cp: whether a code point of a customer's name goes into a reply. Dropped: invalid
 * bytes, controls, line and paragraph separators, bidirectional overrides and isolates
 * (they reorder the text around them), zero-width characters, and braces (a name must
 * never read as a placeholder). */
static bool keep_cp(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == ES_UTF8_REPLACEMENT)
        return false;
    if (cp == '{' || cp == '}' || cp == 0xff5b || cp == 0xff5d)
        return false;
    if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff)
        return false;
    return true;
}

int es__api_clean_name(const char *in, size_t len, char *out, size_t n)
{
    if (n == 0)
        return ES_EINVAL;
    size_t o = 0, cps = 0;
    bool space = true; /* drops leading spaces and collapses runs */
    for (size_t i = 0; in && i < len && cps < ES__API_NAME_MAX_CP;) {
        size_t l = 1;
        uint32_t cp = es_utf8_decode((const unsigned char *)in + i, len - i, &l);
        bool real = !(cp == ES_UTF8_REPLACEMENT && l == 1);
        i += l;
        if (!real || !keep_cp(cp))
            continue;
        bool is_space = cp == ' ' || cp == 0xa0 || cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200a);
        if (is_space) {
            if (space)
                continue;
            cp = ' ';
        }
        char enc[4];
        size_t el = es_utf8_encode(cp, enc);
        if (o + el + 1 > n)
            break;
        memcpy(out + o, enc, el);
        o += el;
        cps++;
        space = is_space;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return 0;
}

int es__api_fill(const char *tmpl, const char *name, const char *brand, char **out, json_t **left)
{
    *out = NULL;
    *left = json_array();
    if (!*left)
        return ES_ENOMEM;
    struct es_fears_vars v = {name && *name ? name : NULL, NULL, brand && *brand ? brand : NULL,
                              NULL};
    int rc = es_fears_fill(tmpl, &v, out);
    if (rc)
        goto fail;
    /* what the agent still has to fill: the template's {identifier}s the server had no
     * value for, each once, in order of first appearance */
    for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{')) {
        size_t k = 1;
        while ((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= 'A' && p[k] <= 'Z') ||
               (p[k] >= '0' && p[k] <= '9') || p[k] == '_')
            k++;
        if (k == 1 || p[k] != '}' || k - 1 > 32)
            continue;
        char id[40];
        memcpy(id, p + 1, k - 1);
        id[k - 1] = '\0';
        if ((v.name && strcmp(id, "name") == 0) || (v.brand && strcmp(id, "brand") == 0))
            continue;
        bool seen = false;
        size_t i;
        json_t *e;
        json_array_foreach(*left, i, e)
        {
            if (strcmp(json_string_value(e), id) == 0)
                seen = true;
        }
        if (!seen && json_array_append_new(*left, json_string(id))) {
            rc = ES_ENOMEM;
            goto fail;
        }
    }
    return 0;
fail:
    es_free(*out);
    *out = NULL;
    json_decref(*left);
    *left = NULL;
    return rc;
}
