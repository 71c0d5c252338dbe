/* The statistics endpoints: complaint volume over time (the es:stats minute hashes) and
 * the FEARS scorecard (the KPI hashes the scripts bump). Worker-thread functions. */
#include <stdio.h>
#include <string.h>

#include "earshot/clock.h"
#include "http/api_int.h"

void es__api_volume(struct es__api_call *c)
{
    struct es__api_volume_q vq;
    if (es__api_parse_volume_q(c, &vq))
        return;
    bool hour = vq.hour;
    const char *step = vq.step, *by = vq.by;
    int64_t w = vq.width_ms, from = vq.from, to = vq.to, nb = vq.buckets;
    size_t per = hour ? 60 : 1;
    json_t *mins = NULL;
    int rc = es_store_stats_minutes(c->store, from, (size_t)nb * per, &mins);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
    const char *prefix = !by ? NULL : strcmp(by, "brand") == 0 ? "brand:" : "cat:";
    size_t plen = prefix ? strlen(prefix) : 0;
    json_t *buckets = json_array();
    for (int64_t b = 0; buckets && b < nb; b++) {
        json_int_t posts = 0, complaints = 0;
        json_t *groups = prefix ? json_object() : NULL;
        for (size_t m = 0; m < per; m++) {
            json_t *h = json_array_get(mins, (size_t)b * per + m);
            posts += json_integer_value(json_object_get(h, "posts"));
            complaints += json_integer_value(json_object_get(h, "complaints"));
            const char *k;
            json_t *v;
            json_object_foreach(h, k, v)
            {
                if (!groups || strncmp(k, prefix, plen) != 0)
                    continue;
                json_int_t cur = json_integer_value(json_object_get(groups, k + plen));
                json_object_set_new(groups, k + plen, json_integer(cur + json_integer_value(v)));
            }
        }
        json_t *o = json_pack("{s:I, s:I, s:I}", "t", (json_int_t)(from + b * w), "posts", posts,
                              "complaints", complaints);
        if (o && groups)
            json_object_set_new(o, "groups", groups);
        else
            json_decref(groups);
        json_array_append_new(buckets, o);
    }
    json_decref(mins);
    c->status = 200;
    c->out = json_pack("{s:s, s:I, s:I, s:s?, s:o}", "step", step, "from", (json_int_t)from, "to",
                       (json_int_t)to, "by", by, "buckets", buckets);
    if (!c->out)
        es__api_error(c, 500, "internal", "Out of memory.");
}

static json_t *ratio(json_int_t a, json_int_t b, double scale)
{
    return b > 0 ? json_real((double)a / (double)b * scale) : json_null();
}

/* percentile from the first-response histogram, linear within a bucket; the open last
 * bucket gives its lower bound. */
static json_t *percentile(json_t *sum, json_int_t n, double p)
{
    if (n <= 0)
        return json_null();
    size_t nb;
    const int64_t *bounds = es_store_frt_bounds(&nb);
    double want = p * (double)n, seen = 0;
    for (size_t i = 0; i < nb; i++) {
        char f[32];
        snprintf(f, sizeof f, "frt_b%zu", i);
        double k = (double)json_integer_value(json_object_get(sum, f));
        double lo = i ? (double)bounds[i - 1] : 0;
        if (k > 0 && seen + k >= want) {
            if (i + 1 == nb)
                return json_real(lo);
            return json_real(lo + ((double)bounds[i] - lo) * (want - seen) / k);
        }
        seen += k;
    }
    return json_null();
}

void es__api_fears(struct es__api_call *c)
{
    int days;
    if (es__api_parse_days(c, &days))
        return;
    json_t *sum = NULL;
    int rc = es_store_kpi_sum(c->store, c->now_ms, days, &sum);
    if (rc) {
        es__api_store_failed(c, rc);
        return;
    }
#define F(k) json_integer_value(json_object_get(sum, k))
    json_int_t complaints = F("complaints"), answered = F("answered"), pub = F("public_replies"),
               sw = F("dm_switch"), met = F("sla_met"), missed = F("sla_missed"), n = F("frt_n");
    json_t *refusals = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(sum, k, v)
    {
        if (strncmp(k, "refused:", 8) == 0)
            json_object_set(refusals, k + 8, v);
    }
    char from_day[16], to_day[16];
    int y, mo, d, h, mi, s;
    es_time_to_civil(c->now_ms / 1000 - (int64_t)(days - 1) * 86400, &y, &mo, &d, &h, &mi, &s);
    snprintf(from_day, sizeof from_day, "%04d-%02d-%02d", y, mo, d);
    es_time_to_civil(c->now_ms / 1000, &y, &mo, &d, &h, &mi, &s);
    snprintf(to_day, sizeof to_day, "%04d-%02d-%02d", y, mo, d);
    c->status = 200;
    c->out = json_pack(
        "{s:i, s:s, s:s, s:I, s:I, s:o, s:I, s:o, s:I, s:o, s:I, s:I, s:I, s:o,"
        " s:{s:I, s:o, s:o, s:o}, s:{s:I, s:I, s:o}}",
        "days", days, "from_day", from_day, "to_day", to_day, "complaints", complaints,
        "answered_public", answered, "answered_public_pct", ratio(answered, complaints, 100.0),
        "public_replies", pub, "replies_per_conversation", ratio(pub, answered, 1.0),
        "dm_switches", sw, "dm_switch_rate", ratio(sw, answered, 1.0), "dms", F("dms"),
        "resolved", F("resolved"), "ignored", F("ignored"), "refusals", refusals,
        "first_response_s", "count", n, "p50", percentile(sum, n, 0.5), "p90",
        percentile(sum, n, 0.9), "mean", ratio(F("frt_sum_s"), n, 1.0), "sla", "met", met,
        "missed", missed, "met_pct", ratio(met, met + missed, 100.0));
#undef F
    json_decref(sum);
    if (!c->out)
        es__api_error(c, 500, "internal", "Out of memory.");
}
