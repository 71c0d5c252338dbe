/* The mention endpoints: the queue, one mention, the state changes, the live reply check
 * and template suggestions. Every function runs on a worker thread (api_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/fears.h"
#include "earshot/respond.h"
#include "http/api_int.h"

#define SIG_HEX (ES_FEARS_MINHASH_N * 8)

void es__api_mentions(struct es__api_call *c)
{
    struct es_mention_filter f;
    if (es__api_parse_mentions_q(c, &f))
        return;
    json_t *arr = NULL;
    char *next = NULL;
    int rc = es_store_mentions_list(c->store, &f, &arr, &next);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:o, s:o}", "mentions", arr, "next_cursor",
                       next ? json_string(next) : json_null());
    es_free(next);
}

/* fears_state: where the conversation stands under FEARS, for the agent. */
static json_t *fears_state(const char *state, int pr, bool dm_open)
{
    const char *next, *msg;
    if (strcmp(state, "resolved") == 0 || strcmp(state, "ignored") == 0) {
        next = "closed";
        msg = "The conversation is closed.";
    } else if (pr >= 2 || dm_open) {
        next = "dm_only";
        msg = "Both public replies are used: continue by direct message.";
    } else if (pr == 1) {
        next = "dm_invite";
        msg = "The next public reply is the last one and must invite the customer to a "
              "direct message.";
    } else {
        next = "first_reply";
        msg = "Answer publicly first, on the same thread.";
    }
    return json_pack("{s:i, s:i, s:b, s:s, s:s}", "public_replies", pr, "public_replies_left",
                     pr >= 2 ? 0 : 2 - pr, "dm_open", dm_open, "next", next, "message", msg);
}

void es__api_mention(struct es__api_call *c)
{
    json_t *m = NULL;
    int rc = es_store_mention_get(c->store, c->mid, &m);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    json_t *conv = json_object_get(m, "conversation");
    const char *st = json_string_value(json_object_get(conv ? conv : m, "state"));
    int pr = (int)json_integer_value(json_object_get(conv, "public_replies"));
    bool dm = json_integer_value(json_object_get(conv, "dm_open")) != 0;
    json_object_set_new(m, "fears", fears_state(st ? st : "new", pr, dm));
    c->status = 200;
    c->out = m;
}

/* ---- decisions ---- */

static int status_of(const char *reason)
{
    if (!reason || !*reason)
        return 200;
    if (strcmp(reason, "not_found") == 0)
        return 404;
    if (strcmp(reason, "store_error") == 0)
        return 500;
    const struct es_fears_reason *fr = es_fears_reason(reason);
    return fr && fr->http_status >= 400 ? fr->http_status : 409;
}

static json_t *decision(const struct es_store_result *r, bool ok, const char *reason,
                        const char *message)
{
    return json_pack("{s:b, s:s, s:s, s:I, s:i, s:s, s:b, s:s, s:s, s:[]}", "ok", ok, "state",
                     r->state, "holder", r->holder, "lease_until_ms",
                     (json_int_t)r->lease_until_ms, "public_replies", r->public_replies,
                     "outbox_id", r->outbox_id, "duplicate", r->duplicate, "reason",
                     reason ? reason : "", "message", message ? message : "", "warnings");
}

static void answer(struct es__api_call *c, json_t *d, const char *reason)
{
    c->status = status_of(reason);
    c->out = d;
    if (reason && *reason) {
        c->refused = true;
        snprintf(c->reason, sizeof c->reason, "%s", reason);
    }
    if (!d)
        es__api_error(c, 500, "internal", "Out of memory.");
}

static json_t *hits_json(const struct es_fears_report *t)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->n_deflections; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I}", "kind",
                                           es_fears_kind_name(t->deflections[i].kind), "match",
                                           t->deflections[i].match, "start",
                                           (json_int_t)t->deflections[i].start, "end",
                                           (json_int_t)t->deflections[i].end));
    return a;
}

static json_t *stock_json(const struct es_fears_report *t)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->n_stock; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I}", "id", t->stock[i].id, "match",
                                           t->stock[i].phrase, "start",
                                           (json_int_t)t->stock[i].start, "end",
                                           (json_int_t)t->stock[i].end));
    return a;
}

static void reply(struct es__api_call *c)
{
    struct es__api_text_body b;
    if (es__api_parse_reply(c, &b))
        return;
    const char *text = b.text, *idem = b.idem;
    enum es_reply_kind kind = b.dm ? ES_REPLY_DM : ES_REPLY_PUBLIC;
    struct es_reply_req q = {c->mid, c->who.name, kind, text, idem, c->api->o.canned_days};
    struct es_reply_out out;
    int rc = es_respond_reply(c->store, c->api->o.fears, &q, c->now_ms, &out);
    json_decref(b.root);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    const char *reason = out.ok ? "" : out.reason;
    json_t *d = decision(&out.store, out.ok, reason, out.message);
    json_t *w = json_object_get(d, "warnings");
    for (size_t i = 0; w && i < out.text.n_stock; i++)
        json_array_append_new(
            w, json_pack("{s:s, s:s?, s:s}", "reason", "fears_stock_phrase", "message",
                         es_fears_reason_message("fears_stock_phrase"), "phrase",
                         out.text.stock[i].phrase));
    if (d && out.text.n_deflections)
        json_object_set_new(d, "deflections", hits_json(&out.text));
    if (d && strcmp(reason, "fears_canned") == 0) {
        json_object_set_new(d, "similarity", json_real(out.similarity));
        json_object_set_new(d, "similar_to", json_string(out.similar_to));
    }
    /* refusals are counted for the scorecard by es_respond_reply, for the CLI too */
    answer(c, d, reason);
}

void es__api_action(struct es__api_call *c)
{
    if (c->route == ES__R_REPLY || c->route == ES__R_DM) {
        reply(c);
        return;
    }
    struct es_store_result r;
    memset(&r, 0, sizeof r);
    const char *agent = c->who.name;
    int rc;
    switch (c->route) {
    case ES__R_CLAIM: {
        int64_t lease_ms;
        if (es__api_parse_claim(c, &lease_ms))
            return;
        rc = es_store_claim(c->store, c->mid, agent, lease_ms, c->now_ms, &r);
        break;
    }
    case ES__R_RELEASE:
    case ES__R_RESOLVE:
        if (es__api_parse_empty(c))
            return;
        rc = c->route == ES__R_RELEASE ? es_store_release(c->store, c->mid, agent, c->now_ms, &r)
                                       : es_store_resolve(c->store, c->mid, agent, c->now_ms, &r);
        break;
    case ES__R_IGNORE: {
        json_t *root;
        const char *why;
        if (es__api_parse_ignore(c, &root, &why))
            return;
        rc = es_store_ignore(c->store, c->mid, agent, why, c->now_ms, &r);
        json_decref(root);
        break;
    }
    default:
        rc = ES_EINVAL;
    }
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    const char *reason = r.ok ? "" : r.reason;
    if (strcmp(reason, "not_found") == 0) {
        es__api_error(c, 404, "not_found", "There is no such mention.");
        c->refused = true;
        return;
    }
    answer(c, decision(&r, r.ok, reason, r.ok ? "" : es_fears_reason_message(reason)), reason);
}

/* ---- the live check ---- */

static enum es_fears_platform platform_of(const char *p, bool dm)
{
    if (dm)
        return ES_FEARS_PLATFORM_DM;
    if (strcmp(p, "twitter") == 0)
        return ES_FEARS_PLATFORM_TWITTER;
    if (strcmp(p, "weibo") == 0)
        return ES_FEARS_PLATFORM_WEIBO;
    if (strcmp(p, "wechat") == 0)
        return ES_FEARS_PLATFORM_WECHAT;
    return ES_FEARS_PLATFORM_GENERIC;
}

/* masked_of: the masked text of a stored canned candidate ("<signature hex>\n<masked>", as
 * the reply path records it), or NULL. */
static const char *masked_of(const char *t)
{
    return t && strlen(t) > SIG_HEX && t[SIG_HEX] == '\n' ? t + SIG_HEX + 1 : NULL;
}

/* canned: the best similarity to the brand's recent replies among the LSH candidates
 * (no reservation is made: the send does that). NULL when nothing is close. */
static json_t *canned(struct es__api_call *c, const char *brand, const char *text, size_t len)
{
    const struct es_fears *f = c->api->o.fears;
    struct es_fears_sketch sk;
    char *masked = NULL;
    size_t mlen = 0;
    json_t *cands = NULL, *res = NULL;
    if (es_fears_sketch(f, text, len, &sk) || es_fears_shingle_text(f, text, len, &masked, &mlen))
        goto done;
    if (es_store_canned_candidates(c->store, brand, sk.bands, ES_FEARS_LSH_BANDS, &cands))
        goto done;
    double best = 0;
    const char *best_id = "";
    size_t i;
    json_t *e;
    json_array_foreach(cands, i, e)
    {
        const char *body = masked_of(json_string_value(json_object_get(e, "text")));
        if (!body)
            continue;
        double sim = es_fears_similarity(masked, mlen, body, strlen(body));
        if (sim > best) {
            best = sim;
            const char *id = json_string_value(json_object_get(e, "id"));
            best_id = id ? id : "";
        }
    }
    if (best > 0)
        res = json_pack("{s:f, s:s, s:b}", "similarity", best, "similar_to", best_id, "refused",
                        best >= ES_FEARS_CANNED_THRESHOLD);
done:
    json_decref(cands);
    es_free(masked);
    return res;
}

void es__api_check(struct es__api_call *c)
{
    struct es__api_text_body b;
    if (es__api_parse_check(c, &b))
        return;
    const char *text = b.text;
    bool dm = b.dm;
    struct es_conv_brief cb;
    int rc = es_store_conv_brief(c->store, c->mid, c->now_ms, &cb);
    if (rc) {
        json_decref(b.root);
        es__api_store_failed(c, rc);
        return;
    }
    struct es_fears_report t;
    struct es_fears_opts fo = {platform_of(cb.platform, dm), 0};
    size_t len = strlen(text);
    rc = es_fears_check_text_opts(c->api->o.fears, text, len, &fo, &t);
    if (rc) {
        json_decref(b.root);
        es__api_store_failed(c, rc);
        return;
    }
    json_t *refusals = json_array(), *warnings = json_array();
    for (size_t i = 0; i < t.n_refusals; i++)
        json_array_append_new(refusals, json_pack("{s:s, s:s?}", "reason", t.refusals[i],
                                                  "message",
                                                  es_fears_reason_message(t.refusals[i])));
    for (size_t i = 0; i < t.n_warnings; i++)
        json_array_append_new(warnings, json_pack("{s:s, s:s?}", "reason", t.warnings[i],
                                                  "message",
                                                  es_fears_reason_message(t.warnings[i])));

    /* what the state machine would say (the script decides again when it is sent) */
    const char *verdict = "ok";
    int n = 0;
    bool closed = strcmp(cb.state, "resolved") == 0 || strcmp(cb.state, "ignored") == 0;
    bool mine = cb.holder[0] && strcmp(cb.holder, c->who.name) == 0;
    if (closed)
        verdict = "bad_state";
    else if (cb.holder[0] && !mine)
        verdict = "claimed_by_other";
    else if (!mine)
        verdict = "not_claimed";
    else if (dm && !cb.dm_open)
        verdict = "fears_dm_not_open";
    else if (!dm && cb.public_replies >= 2)
        verdict = "fears_reply_limit";
    else if (!dm && cb.public_replies == 1 && !t.dm_invite)
        verdict = "fears_dm_required";
    if (!dm)
        n = cb.public_replies + 1;
    char msg[256];
    if (strcmp(verdict, "ok") != 0)
        snprintf(msg, sizeof msg, "%s", es_fears_reason_message(verdict)
                                            ? es_fears_reason_message(verdict)
                                            : "The conversation is closed.");
    else if (dm)
        snprintf(msg, sizeof msg, "A direct message in the open DM.");
    else if (n == 1)
        snprintf(msg, sizeof msg,
                 "This would be public reply 1 of 2; the second must invite a direct message.");
    else
        snprintf(msg, sizeof msg,
                 "This would be public reply 2 of 2, the last: it must invite a direct message "
                 "(%s).",
                 t.dm_invite ? "it does" : "it does not yet");
    if (strncmp(verdict, "fears_", 6) == 0 && t.n_refusals == 0)
        json_array_append_new(refusals, json_pack("{s:s, s:s}", "reason", verdict, "message",
                                                  msg));
    json_t *cn = NULL;
    if (t.n_refusals == 0 && len > 0)
        cn = canned(c, cb.brand[0] ? cb.brand : "_", text, len);
    if (cn && json_is_true(json_object_get(cn, "refused")))
        json_array_append_new(refusals,
                              json_pack("{s:s, s:s?}", "reason", "fears_canned", "message",
                                        es_fears_reason_message("fears_canned")));
    json_decref(b.root);
    bool ok = json_array_size(refusals) == 0 && strcmp(verdict, "ok") == 0;
    c->status = 200;
    c->out = json_pack(
        "{s:b, s:o, s:o, s:I, s:I, s:b, s:o, s:o, s:o, s:o, "
        "s:{s:s, s:i, s:i, s:b, s:s, s:b, s:s, s:s}}",
        "ok", ok, "refusals", refusals, "warnings", warnings, "chars", (json_int_t)t.chars,
        "max_chars", (json_int_t)t.max_chars, "dm_invite", t.dm_invite, "deflections",
        hits_json(&t), "stock_phrases", stock_json(&t), "placeholder",
        t.unfilled ? json_pack("{s:I, s:I}", "start", (json_int_t)t.placeholder_start, "end",
                               (json_int_t)t.placeholder_end)
                   : json_null(),
        "canned", cn ? cn : json_null(), "state", "kind", dm ? "dm" : "reply", "reply_number", n,
        "public_replies", cb.public_replies, "dm_open", cb.dm_open, "holder", cb.holder,
        "claimed_by_you", mine, "verdict", verdict, "message", msg);
    if (!c->out)
        es__api_error(c, 500, "internal", "Out of memory.");
}

/* ---- suggestions ---- */

/* str_of: a string field of o, "" when absent. */
static const char *str_of(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

void es__api_suggestions(struct es__api_call *c)
{
    const char *lang;
    if (es__api_parse_lang(c, &lang))
        return;
    json_t *m = NULL;
    int rc = es_store_mention_get(c->store, c->mid, &m);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    json_t *conv = json_object_get(m, "conversation");
    int pr = (int)json_integer_value(json_object_get(conv, "public_replies"));
    bool dm_open = json_integer_value(json_object_get(conv, "dm_open")) != 0 ||
                   strcmp(str_of(conv, "dm_open"), "1") == 0;
    if (json_is_string(json_object_get(conv, "public_replies")))
        pr = atoi(str_of(conv, "public_replies"));
    const char *scenario = dm_open || pr >= 2 ? "dm_followup"
                           : pr == 1          ? "dm_invite"
                                              : "first_reply";

    /* What the server knows: the customer (display name, else @handle) and the brand. The
     * name is the post author's own text: cleaned, never expanded (es_fears_fill). */
    char name[256], brand[160];
    const char *an = str_of(m, "author_name"), *ah = str_of(m, "author_handle");
    es__api_clean_name(an, strlen(an), name, sizeof name);
    if (!name[0] && *ah) {
        char handle[200];
        es__api_clean_name(ah, strlen(ah), handle, sizeof handle);
        if (handle[0])
            snprintf(name, sizeof name, "%s%s", handle[0] == '@' ? "" : "@", handle);
    }
    const char *b = str_of(m, "brand");
    es__api_clean_name(b, strlen(b), brand, sizeof brand);
    if (strcmp(brand, "_") == 0)
        brand[0] = '\0';

    const struct es_fears *f = c->api->o.fears;
    char cat[64];
    snprintf(cat, sizeof cat, "%s", str_of(m, "category"));
    const struct es_fears_template *t[32];
    const char *langs[] = {"zh", "en"};
    if (es_fears_templates(f, cat, scenario, "zh", t, 1) == 0 &&
        es_fears_templates(f, cat, scenario, "en", t, 1) == 0)
        snprintf(cat, sizeof cat, "general");
    json_t *arr = json_array();
    for (int l = 0; l < 2 && arr && !rc; l++) {
        if (lang && strcmp(lang, langs[l]) != 0)
            continue;
        size_t n = es_fears_templates(f, cat, scenario, langs[l], t, 32);
        for (size_t i = 0; i < n && i < 32 && !rc; i++) {
            char *text = NULL;
            json_t *left = NULL;
            rc = es__api_fill(t[i]->text, name, brand, &text, &left);
            if (rc)
                break;
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", t[i]->id,
                                                 "scenario", t[i]->scenario, "lang", t[i]->lang,
                                                 "text", text, "template", t[i]->text,
                                                 "placeholders", left));
            es_free(text);
        }
    }
    json_decref(m);
    if (rc) {
        json_decref(arr);
        es__api_error(c, 500, "internal", "%s", es_strerror(rc));
        return;
    }
    c->status = 200;
    c->out = json_pack("{s:s, s:s, s:{s:s?, s:s?}, s:o}", "category", cat, "scenario", scenario,
                       "filled", "name", name[0] ? name : NULL, "brand", brand[0] ? brand : NULL,
                       "templates", arr);
    if (!c->out)
        es__api_error(c, 500, "internal", "Out of memory.");
}
