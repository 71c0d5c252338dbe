/*
 * sla.c: the "sla" config section and deadlines. The rule (smallest
 * applicable limit, else the default) and the defaults are in earshot/geo.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/geo.h"
#include "geo/internal.h"

#define MIN_MS (60 * 1000)

static const char *const channel_names[ES_SLA_N_CHANNELS + 1] = {"twitter", "weibo", "wechat",
                                                                 "generic", "dm",    NULL};
static const char *const tier_names[ES_SLA_N_TIERS + 1] = {"none", "gold", "vip", NULL};
static const char *const severity_names[] = {"1", "2", "3", "4", NULL};

void es_sla_policy_default(struct es_sla_policy *p)
{
    memset(p, 0, sizeof *p);
    p->default_ms = 60 * (int64_t)MIN_MS;
    p->channel_ms[ES_SLA_WECHAT] = 10 * (int64_t)MIN_MS;
    p->channel_ms[ES_SLA_DM] = 10 * (int64_t)MIN_MS;
    p->tier_ms[ES_SLA_TIER_VIP] = 10 * (int64_t)MIN_MS;
    p->severity_ms[4] = 15 * (int64_t)MIN_MS;
}

static int name_index(const char *const *names, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int es_sla_channel_from_name(const char *name)
{
    return name_index(channel_names, name);
}

enum es_sla_tier es_sla_tier_from_name(const char *name)
{
    int i = name_index(tier_names, name);
    return i < 0 ? ES_SLA_TIER_NONE : (enum es_sla_tier)i;
}

/* Minutes -> ms into *out; null gives 0 when allow_null. */
static int minutes(const json_t *v, bool allow_null, const char *path, int64_t *out,
                   struct es_diag *d)
{
    if (allow_null && json_is_null(v)) {
        *out = 0;
        return 0;
    }
    double m = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(m > 0 && m <= ES_SLA_MAX_MINUTES))
        return es_diag_set(d, NULL, 0, 0, "%s: must be a number of minutes > 0 and <= %.0f%s", path,
                           ES_SLA_MAX_MINUTES, allow_null ? " (or null: no limit)" : "");
    *out = (int64_t)llround(m * MIN_MS);
    if (*out < 1)
        *out = 1; /* 0 would mean "no limit" */
    return 0;
}

/* One of the maps channels / tiers / severity: {name: minutes | null}. */
static int parse_map(const json_t *sla, const char *key, const char *const *names, int64_t *dst,
                     struct es_diag *d)
{
    const json_t *o = json_object_get(sla, key);
    if (!o)
        return 0;
    char path[ES__GEO_PATH_MAX];
    snprintf(path, sizeof path, "sla.%s", key);
    if (!json_is_object(o))
        return es_diag_set(d, NULL, 0, 0, "%s: must be an object {name: minutes}", path);
    int rc = es__geo_unknown_key(o, names, path, d);
    if (rc)
        return rc;
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)o, name, v)
    {
        snprintf(path, sizeof path, "sla.%s.%s", key, name);
        rc = minutes(v, true, path, &dst[name_index(names, name)], d);
        if (rc)
            return rc;
    }
    return 0;
}

int es_sla_parse(const json_t *sla, struct es_sla_policy *p, struct es_diag *d)
{
    static const char *const keys[] = {"default_minutes", "channels", "tiers", "severity", NULL};
    if (!p)
        return ES_EINVAL;
    struct es_sla_policy n;
    es_sla_policy_default(&n);
    if (!sla) {
        *p = n;
        return 0;
    }
    if (!json_is_object(sla))
        return es_diag_set(d, NULL, 0, 0, "sla: must be an object");
    int rc = es__geo_unknown_key(sla, keys, "sla", d);
    if (rc)
        return rc;
    const json_t *dm = json_object_get(sla, "default_minutes");
    if (dm) {
        rc = minutes(dm, false, "sla.default_minutes", &n.default_ms, d);
        if (rc)
            return rc;
    }
    rc = parse_map(sla, "channels", channel_names, n.channel_ms, d);
    if (rc == 0)
        rc = parse_map(sla, "tiers", tier_names, n.tier_ms, d);
    if (rc == 0)
        rc = parse_map(sla, "severity", severity_names, n.severity_ms + 1, d);
    if (rc)
        return rc;
    *p = n;
    return 0;
}

static int64_t smaller(int64_t best, int64_t limit)
{
    if (limit <= 0)
        return best;
    return best == 0 || limit < best ? limit : best;
}

int64_t es_sla_limit_ms(const struct es_sla_policy *p, const char *channel, const char *tier,
                        int severity)
{
    int64_t best = 0;
    int c = es_sla_channel_from_name(channel);
    if (c >= 0)
        best = smaller(best, p->channel_ms[c]);
    best = smaller(best, p->tier_ms[es_sla_tier_from_name(tier)]);
    if (severity >= 1 && severity <= 4)
        best = smaller(best, p->severity_ms[severity]);
    return best ? best : p->default_ms;
}

int64_t es_sla_deadline_ms(const struct es_sla_policy *p, const char *channel, const char *tier,
                           int severity, int64_t created_at_s, int64_t ingest_ms)
{
    int64_t start = ingest_ms;
    /* Compared in seconds first, so a huge created_at cannot overflow the multiplication. */
    if (created_at_s > 0 && created_at_s <= ingest_ms / 1000)
        start = created_at_s * 1000;
    return start + es_sla_limit_ms(p, channel, tier, severity);
}

int64_t es_sla_remaining_ms(int64_t deadline_ms, int64_t now_ms)
{
    return deadline_ms - now_ms;
}

bool es_sla_breached(int64_t deadline_ms, int64_t now_ms)
{
    return now_ms >= deadline_ms;
}
