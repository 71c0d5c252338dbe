/* The reply path: text checks, canned check, then the atomic store decision. */
#include <stdio.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/respond.h"

/* Below this MinHash estimate a candidate cannot reach the 0.80 threshold: the estimate's
 * standard error is about 0.05 there, so 0.55 is five errors away. */
#define PREFILTER_SIM 0.55
#define SIG_HEX (ES_FEARS_MINHASH_N * 8)

/* sig_format: "<64 x 8 hex digits>\n<masked text>" (es_malloc'ed). */
static char *sig_format(const uint32_t sig[ES_FEARS_MINHASH_N], const char *masked, size_t mlen)
{
    char *r = es_malloc(SIG_HEX + 1 + mlen + 1);
    if (!r)
        return NULL;
    for (int i = 0; i < ES_FEARS_MINHASH_N; i++)
        snprintf(r + i * 8, 9, "%08x", sig[i]);
    r[SIG_HEX] = '\n';
    memcpy(r + SIG_HEX + 1, masked, mlen);
    r[SIG_HEX + 1 + mlen] = '\0';
    return r;
}

/* sig_parse reads what sig_format wrote; returns the masked text, or NULL when malformed. */
static const char *sig_parse(const char *t, uint32_t sig[ES_FEARS_MINHASH_N])
{
    if (strlen(t) < SIG_HEX + 1 || t[SIG_HEX] != '\n')
        return NULL;
    for (int i = 0; i < ES_FEARS_MINHASH_N; i++) {
        uint32_t v = 0;
        for (int k = 0; k < 8; k++) {
            char ch = t[i * 8 + k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0)
                return NULL;
            v = v << 4 | (uint32_t)d;
        }
        sig[i] = v;
    }
    return t + SIG_HEX + 1;
}

static enum es_fears_platform fears_platform(const char *platform, enum es_reply_kind kind)
{
    if (kind == ES_REPLY_DM)
        return ES_FEARS_PLATFORM_DM;
    if (strcmp(platform, "twitter") == 0)
        return ES_FEARS_PLATFORM_TWITTER;
    if (strcmp(platform, "weibo") == 0)
        return ES_FEARS_PLATFORM_WEIBO;
    if (strcmp(platform, "wechat") == 0)
        return ES_FEARS_PLATFORM_WECHAT;
    return ES_FEARS_PLATFORM_GENERIC;
}

/* refuse sets a static reason code and its sentence (codes outside the FEARS table too). */
static void refuse(struct es_reply_out *out, const char *reason)
{
    const struct es_fears_reason *fr = es_fears_reason(reason);
    out->ok = false;
    if (fr) {
        out->reason = fr->code;
        out->message = fr->message;
    } else if (strcmp(reason, "not_found") == 0) {
        out->reason = "not_found";
        out->message = "There is no such mention.";
    } else {
        out->reason = "store_error";
        out->message = "The store answered with something unexpected; nothing was sent.";
    }
}

static int decide(struct es_store *s, const struct es_fears *f, const struct es_reply_req *q,
                  int64_t now_ms, struct es_reply_out *out)
{
    memset(out, 0, sizeof *out);
    out->reason = out->message = "";
    if (!q->mid || !q->agent || !*q->agent || !q->text)
        return ES_EINVAL;
    struct es_mention_brief mb;
    int rc = es_store_mention_brief(s, q->mid, &mb);
    if (rc == ES_ENOTFOUND) {
        refuse(out, "not_found");
        return 0;
    }
    if (rc)
        return rc;
    const char *brand = mb.brand, *platform = mb.platform;

    /* 0. A retry (same idempotency key) gets the first decision, checked nothing anew. */
    if (q->idem_key && *q->idem_key) {
        bool found = false;
        rc = es_store_reply_lookup(s, q->mid, q->idem_key, &out->store, &found);
        if (rc)
            return rc;
        if (found) {
            out->ok = out->store.ok;
            return 0;
        }
    }

    /* A refusal the store would give anyway, found before any work or reservation (the
     * script checks again atomically: this only saves the losers of a race some work). */
    if (strcmp(mb.state, "resolved") == 0 || strcmp(mb.state, "ignored") == 0) {
        refuse(out, "bad_state");
        return 0;
    }
    if (mb.lease_until_ms <= now_ms || strcmp(mb.holder, q->agent) != 0) {
        refuse(out, mb.lease_until_ms > now_ms && mb.holder[0] ? "claimed_by_other"
                                                              : "not_claimed");
        snprintf(out->store.holder, sizeof out->store.holder, "%s",
                 mb.lease_until_ms > now_ms ? mb.holder : "");
        out->store.lease_until_ms = mb.lease_until_ms > now_ms ? mb.lease_until_ms : 0;
        snprintf(out->store.state, sizeof out->store.state, "%s", mb.state);
        return 0;
    }

    /* 1. The text itself. */
    struct es_fears_opts fo = {fears_platform(platform, q->kind), 0};
    size_t len = strlen(q->text);
    rc = es_fears_check_text_opts(f, q->text, len, &fo, &out->text);
    if (rc)
        return rc;
    if (out->text.n_refusals) {
        refuse(out, out->text.refusals[0]);
        return 0;
    }

    /* 2. Canned: the same text (names, numbers, links masked) or a near copy. */
    int days = q->canned_days > 0 ? q->canned_days : ES_CANNED_DAYS_DEFAULT;
    struct es_fears_sketch sk;
    char *masked = NULL;
    size_t mlen = 0;
    rc = es_fears_sketch(f, q->text, len, &sk);
    if (!rc)
        rc = es_fears_shingle_text(f, q->text, len, &masked, &mlen);
    if (rc) {
        es_free(masked);
        return rc;
    }
    char owner[160];
    snprintf(owner, sizeof owner, "%s:%lld", q->mid, (long long)now_ms);
    bool taken = false;
    rc = es_store_canned_reserve(s, brand, sk.fingerprint, owner, days, &taken);
    if (rc)
        goto done;
    if (taken) {
        out->similarity = 1.0;
        refuse(out, "fears_canned");
        goto done;
    }
    json_t *cands = NULL;
    rc = es_store_canned_candidates(s, brand, sk.bands, ES_FEARS_LSH_BANDS, &cands);
    if (rc) {
        es_store_canned_unreserve(s, brand, sk.fingerprint);
        goto done;
    }
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c)
    {
        /* A candidate is stored as its MinHash signature then its masked text: the
         * signature's estimate skips the clearly different ones before the exact measure. */
        const char *t = json_string_value(json_object_get(c, "text"));
        uint32_t sig[ES_FEARS_MINHASH_N];
        const char *body = t ? sig_parse(t, sig) : NULL;
        if (!body || es_fears_minhash_similarity(sk.sig, sig) < PREFILTER_SIM)
            continue;
        double sim = es_fears_similarity(masked, mlen, body, strlen(body));
        if (sim >= ES_FEARS_CANNED_THRESHOLD && sim > out->similarity) {
            out->similarity = sim;
            snprintf(out->similar_to, sizeof out->similar_to, "%s",
                     json_string_value(json_object_get(c, "id")));
        }
    }
    json_decref(cands);
    if (out->similarity >= ES_FEARS_CANNED_THRESHOLD) {
        es_store_canned_unreserve(s, brand, sk.fingerprint);
        refuse(out, "fears_canned");
        goto done;
    }

    /* 3. The atomic decision and the outbox entry. */
    rc = es_store_reply(s, q->mid, q->agent, q->kind, q->text, out->text.dm_invite, q->idem_key,
                        now_ms, &out->store);
    if (rc) {
        es_store_canned_unreserve(s, brand, sk.fingerprint);
        goto done;
    }
    if (!out->store.ok) {
        es_store_canned_unreserve(s, brand, sk.fingerprint);
        refuse(out, out->store.reason);
        goto done;
    }
    out->ok = true;
    if (!out->store.duplicate) {
        char *rec = sig_format(sk.sig, masked, mlen);
        rc = rec ? es_store_canned_record(s, brand, out->store.outbox_id, rec, sk.bands,
                                          ES_FEARS_LSH_BANDS, days)
                 : ES_ENOMEM;
        es_free(rec);
    }
done:
    es_free(masked);
    return rc;
}

/* es_respond_reply: decide, then count a refusal for the FEARS scorecard (once per
 * decision, whichever caller, the API or the CLI: a retry that gets the first decision
 * back, an unknown mention or a store failure is not counted). */
int es_respond_reply(struct es_store *s, const struct es_fears *f, const struct es_reply_req *q,
                     int64_t now_ms, struct es_reply_out *out)
{
    int rc = decide(s, f, q, now_ms, out);
    if (rc == 0 && !out->ok && !out->store.duplicate && out->reason[0] &&
        strcmp(out->reason, "not_found") != 0 && strcmp(out->reason, "store_error") != 0)
        es_store_kpi_refusal(s, q->mid, out->reason, now_ms); /* best effort */
    return rc;
}
