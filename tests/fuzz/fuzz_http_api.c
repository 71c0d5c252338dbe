/*
 * fuzz_http_api: arbitrary bytes through the triage API's request parsing, with no
 * Redis and no loop (src/http/api_parse.c). The input is
 *
 *   <query string>\n<body>
 *
 * The query string ("k=v&k=v", %XX decoded as the server does) fills the call's query
 * parameters; the body goes to every body parser (reply, dm, check, claim, ignore,
 * release/resolve, token creation) and every query parser runs on the parameters.
 * The query line is also a customer name for the template filling, and the body a
 * template. Each parser must either accept, or answer exactly one 400 with a reason;
 * a cleaned name must be valid UTF-8 without braces or controls; a filled template
 * must keep no {name} once a name is given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/utf8.h"
#include "http/api_int.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_http_api: %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* decode: %XX and '+' of n bytes into a new NUL-terminated string (cut at a decoded NUL,
 * as a C string the server hands on would be). */
static char *decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        o[k++] = ch;
    }
    o[k] = '\0';
    return o;
}

static void fill_query(struct es__api_call *c, const char *q, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && q[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && q[eq] != '=')
            eq++;
        char *k = decode(q + i, eq - i);
        for (int p = 0; p < ES__Q_COUNT; p++)
            if (strcmp(k, es__api_q_names[p]) == 0 && !c->q[p]) {
                c->q[p] = eq < end ? decode(q + eq + 1, end - eq - 1) : decode("", 0);
                break;
            }
        free(k);
        i = end + 1;
    }
}

/* after: the parser's verdict is consistent; the call is reset for the next one. */
static void after(struct es__api_call *c, int rc)
{
    if (rc) {
        CHECK(rc == ES_EINVAL);
        CHECK(c->status == 400);
        CHECK(c->out != NULL);
        CHECK(c->reason[0] != '\0');
        CHECK(json_string_value(json_object_get(c->out, "message")) != NULL);
    } else {
        CHECK(c->status == 0);
        CHECK(c->out == NULL);
    }
    json_decref(c->out);
    c->out = NULL;
    c->status = 0;
    c->reason[0] = '\0';
}

static void bodies(struct es__api_call *c)
{
    static const enum es__api_route text_routes[] = {ES__R_REPLY, ES__R_DM};
    for (size_t i = 0; i < 2; i++) {
        c->route = text_routes[i];
        struct es__api_text_body b;
        int rc = es__api_parse_reply(c, &b);
        if (rc == 0) {
            CHECK(b.text != NULL && strlen(b.text) <= ES_FEARS_MAX_BYTES);
            CHECK(!b.idem || strlen(b.idem) <= 128);
            CHECK(b.dm == (c->route == ES__R_DM));
            json_decref(b.root);
        }
        after(c, rc);
    }
    c->route = ES__R_CHECK;
    struct es__api_text_body b;
    int rc = es__api_parse_check(c, &b);
    if (rc == 0)
        json_decref(b.root);
    after(c, rc);

    c->route = ES__R_CLAIM;
    int64_t lease = 0;
    rc = es__api_parse_claim(c, &lease);
    CHECK(rc || (lease >= 10000 && lease <= 3600000));
    after(c, rc);

    c->route = ES__R_IGNORE;
    json_t *root = NULL;
    const char *why = NULL;
    rc = es__api_parse_ignore(c, &root, &why);
    if (rc == 0) {
        CHECK(why && strlen(why) <= 500);
        json_decref(root);
    }
    after(c, rc);

    c->route = ES__R_RESOLVE;
    after(c, es__api_parse_empty(c));

    c->route = ES__R_TOKENS_POST;
    struct es__api_token_body t;
    rc = es__api_parse_token(c, &t);
    if (rc == 0) {
        CHECK(es_api_role_parse(t.role) != ES_ROLE_NONE);
        CHECK(es__api_name_ok(t.name));
        json_decref(t.root);
    }
    after(c, rc);
}

static void queries(struct es__api_call *c)
{
    struct es_mention_filter f;
    int rc = es__api_parse_mentions_q(c, &f);
    CHECK(rc || (f.limit >= 1 && f.limit <= 200));
    after(c, rc);

    struct es__api_volume_q v;
    rc = es__api_parse_volume_q(c, &v);
    if (rc == 0) {
        CHECK(v.buckets >= 1 && v.buckets <= (v.hour ? ES__API_MAX_HOURS : ES__API_MAX_MINUTES));
        CHECK(v.from >= 0 && v.from <= v.to && v.to <= ES__API_MAX_MS);
        CHECK(v.from % v.width_ms == 0);
    }
    after(c, rc);

    size_t limit = 0;
    const char *mid = NULL, *actor = NULL;
    rc = es__api_parse_audit_q(c, &limit, &mid, &actor);
    CHECK(rc || (limit >= 1 && limit <= 1000 && (!mid || strlen(mid) < 64) &&
                 (!actor || strlen(actor) <= 64)));
    after(c, rc);

    int days = 0;
    rc = es__api_parse_days(c, &days);
    CHECK(rc || (days >= 1 && days <= 90));
    after(c, rc);

    const char *lang = NULL;
    after(c, es__api_parse_lang(c, &lang));
}

static void templates(const uint8_t *name, size_t name_len, const uint8_t *tmpl, size_t tmpl_len)
{
    char clean[256];
    CHECK(es__api_clean_name((const char *)name, name_len, clean, sizeof clean) == 0);
    size_t cl = strlen(clean);
    CHECK(es_utf8_valid(clean, cl));
    CHECK(es_utf8_count(clean, cl) <= ES__API_NAME_MAX_CP);
    CHECK(!strchr(clean, '{') && !strchr(clean, '}'));
    CHECK(cl == 0 || (clean[0] != ' ' && clean[cl - 1] != ' '));
    for (size_t i = 0; i < cl; i++)
        CHECK((unsigned char)clean[i] >= 0x20 && clean[i] != 0x7f);
    char tiny[3];
    CHECK(es__api_clean_name((const char *)name, name_len, tiny, sizeof tiny) == 0);
    CHECK(strlen(tiny) < sizeof tiny && es_utf8_valid(tiny, strlen(tiny)));

    const char *fixed[] = {"{name}您好，订单{order}到现在还没送到。",
                           "Hi {name}, it's the {brand} team about {order} and {issue}.",
                           "{name}{name}{brand}{{order}} { name } {", NULL};
    char *own = NULL;
    if (tmpl_len <= 4096 && !memchr(tmpl, 0, tmpl_len)) {
        own = malloc(tmpl_len + 1);
        memcpy(own, tmpl, tmpl_len);
        own[tmpl_len] = '\0';
    }
    for (int i = 0; i < 4; i++) {
        const char *t = i < 3 ? fixed[i] : own;
        if (!t)
            continue;
        char *out = NULL;
        json_t *left = NULL;
        int rc = es__api_fill(t, clean, "acme", &out, &left);
        if (rc) {
            CHECK(rc == ES_ELIMIT || rc == ES_ENOMEM);
            CHECK(!out && !left);
            continue;
        }
        if (clean[0])
            CHECK(strstr(out, "{name}") == NULL);
        CHECK(strstr(out, "{brand}") == NULL);
        size_t k;
        json_t *e;
        json_array_foreach(left, k, e)
        {
            const char *id = json_string_value(e);
            CHECK(id && *id);
            CHECK(strcmp(id, "brand") != 0);
            CHECK(!clean[0] || strcmp(id, "name") != 0);
        }
        if (i == 0)
            CHECK(json_array_size(left) == (clean[0] ? 1u : 2u));
        es_free(out);
        json_decref(left);
    }
    free(own);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t qlen = nl ? (size_t)(nl - data) : size;
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = size - qlen - (nl ? 1 : 0);

    struct es__api_call c;
    memset(&c, 0, sizeof c);
    c.now_ms = INT64_C(1732280000000);
    snprintf(c.mid, sizeof c.mid, "m3-17");
    c.body = malloc(blen + 1);
    memcpy(c.body, body, blen);
    c.body[blen] = '\0';
    c.body_len = blen;
    fill_query(&c, (const char *)data, qlen);

    bodies(&c);
    queries(&c);
    templates(data, qlen, body, blen);

    free(c.body);
    for (int i = 0; i < ES__Q_COUNT; i++)
        free(c.q[i]);
    return 0;
}
