/*
 * twitter_v1: Twitter API v1.1 statuses.
 *
 *   a status {...}, an array of statuses [...], or search/tweets {"statuses": [...]}
 *
 * Ids come from id_str (the numeric id is only used when id_str is absent,
 * and jansson keeps it exact as a 64-bit integer). Text is
 * extended_tweet.full_text, then full_text (extended mode), then text; the
 * HTML escapes Twitter puts in text (&amp; &lt; &gt;) are decoded. A retweet
 * is delivered as itself ("RT @x: ..." as sent); its retweeted_status is not
 * delivered separately. coordinates.coordinates is GeoJSON [lon, lat]; the
 * older geo.coordinates is [lat, lon] and used only when coordinates is
 * absent. A v1.1 status has no conversation id: thread_root is the post's own
 * id when it is not a reply, NULL for a reply. Objects that are not statuses
 * (users, places, DM events) give zero posts and no error.
 */
#include <string.h>

#include "earshot/clock.h"
#include "feed/feed_int.h"

static int point_from(const json_t *arr, int lat_first, double *lat, double *lon)
{
    double a, b;
    if (json_array_size(arr) != 2 || es__jdouble(json_array_get(arr, 0), &a) ||
        es__jdouble(json_array_get(arr, 1), &b))
        return -1;
    *lat = lat_first ? a : b;
    *lon = lat_first ? b : a;
    return 0;
}

static int is_status(const json_t *s)
{
    return json_is_object(s) && (json_object_get(s, "text") || json_object_get(s, "full_text") ||
                                 json_object_get(s, "extended_tweet"));
}

static void status(struct es__feed_ctx *c, const json_t *s, const char *where)
{
    struct es_post p;
    int bad = 0;

    if (!json_is_object(s)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s: not an object, record skipped", where);
        return;
    }
    es__post_init(&p, ES_PLATFORM_TWITTER);
    p.id = es__jid(c, json_object_get(s, "id_str"), &bad);
    if (!p.id && !bad)
        p.id = es__jid(c, json_object_get(s, "id"), &bad);
    if (!p.id) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.id_str: %s, record skipped", where,
                      bad ? "not a string" : "missing");
        es__arena_reset(&c->arena);
        return;
    }

    const json_t *ext = json_object_get(s, "extended_tweet");
    const json_t *jtext = json_object_get(ext, "full_text");
    if (!json_is_string(jtext))
        jtext = json_object_get(s, "full_text");
    if (!json_is_string(jtext))
        jtext = json_object_get(s, "text");
    if (!json_is_string(jtext)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.text: %s, record skipped (id %s)", where,
                      jtext ? "not a string" : "missing", p.id);
        es__arena_reset(&c->arena);
        return;
    }
    p.text_len = json_string_length(jtext);
    p.text = es__decode_entities(c, json_string_value(jtext), &p.text_len);

    const json_t *user = json_object_get(s, "user");
    if (json_is_object(user)) {
        int64_t n;
        p.author.id = es__jid(c, json_object_get(user, "id_str"), NULL);
        if (!p.author.id)
            p.author.id = es__jid(c, json_object_get(user, "id"), NULL);
        p.author.name = es__jstr(user, "name");
        p.author.handle = es__jstr(user, "screen_name");
        if (es__jint(json_object_get(user, "followers_count"), &n) == 0)
            p.author.followers = n;
        p.author.verified = json_is_true(json_object_get(user, "verified"));
    } else if (user && !json_is_null(user)) {
        es__feed_diag(c, ES_DIAG_WARNING, "%s.user: not an object (id %s)", where, p.id);
    }

    const json_t *jcreated = json_object_get(s, "created_at");
    if (jcreated) {
        const char *t = json_string_value(jcreated);
        if (!t || (es_time_parse_twitter(t, strlen(t), &p.created_at) != 0 &&
                   es_time_parse_iso8601(t, strlen(t), &p.created_at) != 0)) {
            p.created_at = 0;
            es__feed_diag(c, ES_DIAG_WARNING, "%s.created_at: not a date (id %s)", where, p.id);
        }
    }
    es__set_lang(&p, es__jstr(s, "lang"));

    double lat, lon;
    const json_t *coords = json_object_get(s, "coordinates");
    const json_t *geo = json_object_get(s, "geo");
    if (json_is_object(coords)) {
        if (point_from(json_object_get(coords, "coordinates"), 0, &lat, &lon) ||
            es__set_point(&p, lat, lon))
            es__feed_diag(c, ES_DIAG_WARNING,
                          "%s.coordinates.coordinates: not a [lon, lat] point (id %s)", where,
                          p.id);
    } else if (json_is_object(geo)) {
        if (point_from(json_object_get(geo, "coordinates"), 1, &lat, &lon) ||
            es__set_point(&p, lat, lon))
            es__feed_diag(c, ES_DIAG_WARNING, "%s.geo.coordinates: not a [lat, lon] point (id %s)",
                          where, p.id);
    }
    const json_t *place = json_object_get(s, "place");
    if (json_is_object(place)) {
        p.place_id = es__jstr(place, "id");
        p.place_name = es__jstr(place, "full_name");
        if (!p.place_name)
            p.place_name = es__jstr(place, "name");
        p.country_code = es__jstr(place, "country_code");
    }

    p.reply_to = es__jid(c, json_object_get(s, "in_reply_to_status_id_str"), NULL);
    if (!p.reply_to)
        p.reply_to = es__jid(c, json_object_get(s, "in_reply_to_status_id"), NULL);
    p.thread_root = p.reply_to ? NULL : p.id;

    const json_t *ents = json_object_get(ext, "entities");
    if (!ents)
        ents = json_object_get(s, "entities");
    size_t i;
    const json_t *m;
    json_array_foreach (json_object_get(ents, "user_mentions"), i, m) {
        const char *u = es__jstr(m, "screen_name");
        if (u && p.n_mentions < ES_POST_MAX_MENTIONS)
            p.mentions[p.n_mentions++] = u;
    }

    es__twitter_url(c, &p);
    es__feed_emit(c, &p, where);
}

static void status_array(struct es__feed_ctx *c, const json_t *arr, const char *name)
{
    size_t i;
    const json_t *s;
    json_array_foreach (arr, i, s) {
        char where[48];
        snprintf(where, sizeof where, "%s[%zu]", name, i);
        status(c, s, where);
    }
}

void es__twitter_v1_parse(struct es__feed_ctx *c, const json_t *root)
{
    if (json_is_array(root)) {
        status_array(c, root, "");
        return;
    }
    if (!json_is_object(root)) {
        es__feed_diag(c, ES_DIAG_ERROR, "twitter v1.1: document is not an object or array");
        return;
    }
    const json_t *statuses = json_object_get(root, "statuses");
    if (statuses) {
        if (json_is_array(statuses))
            status_array(c, statuses, "statuses");
        else
            es__feed_diag(c, ES_DIAG_ERROR, "statuses: not an array");
        return;
    }
    const json_t *errors = json_object_get(root, "errors");
    if (json_is_array(errors)) {
        size_t i;
        const json_t *e;
        json_array_foreach (errors, i, e) {
            const char *msg = es__jstr(e, "message");
            es__feed_diag(c, ES_DIAG_ERROR, "errors[%zu]: %.300s", i, msg ? msg : "error");
        }
        return;
    }
    if (is_status(root))
        status(c, root, "status");
}
