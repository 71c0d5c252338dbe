/*
 * generic: our own JSONL shape, also the benchmark corpus and `earshot`'s export.
 *
 *   {"id":"wb1"|123, "text":"...", "platform":"weibo", "author":{id,name,handle,followers,
 *    verified}|"name", "created_at":"2024-01-01T11:04:37+08:00"|1704078277, "lang":"zh",
 *    "geo":{"lat":..,"lon":..}|GeoJSON Point|null, "place":"name"|{id,name,country_code},
 *    "reply_to":..., "thread_root":..., "url":..., "mentions":["a","@b"]}
 *
 * This is the hot path of `earshot scan`: strings are borrowed from the
 * jansson tree; only numeric ids are printed into the arena. A document may
 * also be an array of such objects. Numbers as created_at are Unix seconds,
 * or milliseconds when above 1e11. Field-level problems (a bad date, a bad
 * point) are warnings and the post is still delivered; a missing id or text
 * skips the record.
 */
#include <string.h>

#include "earshot/clock.h"
#include "feed/feed_int.h"

static const char *opt_id(struct es__feed_ctx *c, const json_t *o, const char *key,
                          const char *where)
{
    int bad = 0;
    const char *v = es__jid(c, json_object_get(o, key), &bad);
    if (bad)
        es__feed_diag(c, ES_DIAG_WARNING, "%s.%s: not a string or integer", where, key);
    return v;
}

static void geo(struct es__feed_ctx *c, struct es_post *p, const json_t *g, const char *where)
{
    double lat, lon;
    if (!g || json_is_null(g))
        return;
    const json_t *jlat = json_object_get(g, "lat"), *jlon = json_object_get(g, "lon");
    if (!jlat)
        jlat = json_object_get(g, "latitude");
    if (!jlon)
        jlon = json_object_get(g, "lng");
    if (!jlon)
        jlon = json_object_get(g, "longitude");
    if (jlat && jlon) {
        if (es__jdouble(jlat, &lat) == 0 && es__jdouble(jlon, &lon) == 0 &&
            es__set_point(p, lat, lon) == 0)
            return;
    } else {
        const json_t *pt = json_object_get(g, "coordinates"); /* GeoJSON: [lon, lat] */
        if (json_array_size(pt) == 2 && es__jdouble(json_array_get(pt, 0), &lon) == 0 &&
            es__jdouble(json_array_get(pt, 1), &lat) == 0 && es__set_point(p, lat, lon) == 0)
            return;
    }
    es__feed_diag(c, ES_DIAG_WARNING, "%s.geo: not a point (id %s)", where, p->id);
}

static void one(struct es__feed_ctx *c, const json_t *o, const char *where)
{
    struct es_post p;
    int bad = 0;

    if (!json_is_object(o)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s: not an object, record skipped", where);
        return;
    }
    const char *pname = es__jstr(o, "platform");
    es__post_init(&p, ES_PLATFORM_GENERIC);
    if (pname) {
        p.platform = es_platform_from_name(pname);
        if (p.platform == ES_PLATFORM_UNKNOWN)
            p.platform = ES_PLATFORM_GENERIC;
    }
    p.id = es__jid(c, json_object_get(o, "id"), &bad);
    if (!p.id) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.id: %s, record skipped", where,
                      bad ? "not a string or integer" : "missing");
        es__arena_reset(&c->arena);
        return;
    }
    const json_t *jt = json_object_get(o, "text");
    if (!json_is_string(jt)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.text: %s, record skipped (id %s)", where,
                      jt ? "not a string" : "missing", p.id);
        es__arena_reset(&c->arena);
        return;
    }
    p.text = json_string_value(jt);
    p.text_len = json_string_length(jt);

    const json_t *a = json_object_get(o, "author");
    if (json_is_object(a)) {
        int64_t n;
        p.author.id = opt_id(c, a, "id", where);
        p.author.name = es__jstr(a, "name");
        p.author.handle = es__jstr(a, "handle");
        if (p.author.handle && p.author.handle[0] == '@')
            p.author.handle++;
        const json_t *f = json_object_get(a, "followers");
        if (f && es__jint(f, &n) == 0 && n >= 0)
            p.author.followers = n;
        else if (f && !json_is_null(f))
            es__feed_diag(c, ES_DIAG_WARNING, "%s.author.followers: not a count (id %s)", where,
                          p.id);
        p.author.verified = json_is_true(json_object_get(a, "verified"));
    } else if (json_is_string(a)) {
        p.author.name = json_string_value(a);
    } else if (a && !json_is_null(a)) {
        es__feed_diag(c, ES_DIAG_WARNING, "%s.author: not an object or string (id %s)", where,
                      p.id);
    }

    const json_t *jc = json_object_get(o, "created_at");
    if (json_is_string(jc)) {
        const char *s = json_string_value(jc);
        size_t n = json_string_length(jc);
        if (es_time_parse_iso8601(s, n, &p.created_at) != 0 &&
            es_time_parse_twitter(s, n, &p.created_at) != 0) {
            p.created_at = 0;
            es__feed_diag(c, ES_DIAG_WARNING, "%s.created_at: not a date (id %s)", where, p.id);
        }
    } else if (json_is_number(jc)) {
        double t = json_number_value(jc);
        if (t > 1e11)
            t /= 1000;
        if (t >= 0 && t < 253402300800.0)
            p.created_at = (int64_t)t;
        else
            es__feed_diag(c, ES_DIAG_WARNING, "%s.created_at: not a date (id %s)", where, p.id);
    } else if (jc && !json_is_null(jc)) {
        es__feed_diag(c, ES_DIAG_WARNING, "%s.created_at: not a date (id %s)", where, p.id);
    }

    const char *lang = es__jstr(o, "lang");
    if (lang && strlen(lang) >= sizeof p.lang)
        es__feed_diag(c, ES_DIAG_WARNING, "%s.lang: too long (id %s)", where, p.id);
    es__set_lang(&p, lang);

    geo(c, &p, json_object_get(o, "geo"), where);
    const json_t *place = json_object_get(o, "place");
    if (json_is_string(place)) {
        p.place_name = json_string_value(place);
    } else if (json_is_object(place)) {
        p.place_id = opt_id(c, place, "id", where);
        p.place_name = es__jstr(place, "name");
        if (!p.place_name)
            p.place_name = es__jstr(place, "full_name");
        p.country_code = es__jstr(place, "country_code");
    }
    p.reply_to = opt_id(c, o, "reply_to", where);
    p.thread_root = opt_id(c, o, "thread_root", where);
    if (!p.thread_root && !p.reply_to)
        p.thread_root = p.id;
    p.url = es__jstr(o, "url");

    size_t i;
    const json_t *m;
    json_array_foreach (json_object_get(o, "mentions"), i, m) {
        const char *s = json_string_value(m);
        if (!s)
            continue;
        if (*s == '@')
            s++;
        if (*s && p.n_mentions < ES_POST_MAX_MENTIONS)
            p.mentions[p.n_mentions++] = s;
    }
    es__feed_emit(c, &p, where);
}

void es__generic_parse(struct es__feed_ctx *c, const json_t *root)
{
    if (json_is_array(root)) {
        size_t i;
        const json_t *o;
        json_array_foreach (root, i, o) {
            char where[32];
            snprintf(where, sizeof where, "[%zu]", i);
            one(c, o, where);
        }
        return;
    }
    one(c, root, "post");
}
