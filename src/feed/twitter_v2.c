/*
 * twitter_v2: Twitter API v2 pages.
 *
 *   {"data": [tweet...] | tweet, "includes": {"users","places","tweets"}, "meta", "errors"}
 *
 * Search/timeline pages carry an array, a single-tweet lookup and each
 * filtered-stream line (which may add "matching_rules") carry one object.
 * author_id is joined to includes.users and geo.place_id to includes.places.
 * Elements of "data" without text (users, lists, counts buckets, DM ids)
 * are not tweets and are skipped quietly; DM events (they carry
 * "event_type") are private messages, not posts, and are skipped too.
 * "errors" beside data are partial failures (suspended authors...) and
 * become warnings; "errors" without data are errors; both give zero posts
 * for what they name, never a failed call.
 */
#include <string.h>

#include "earshot/clock.h"
#include "feed/feed_int.h"

static const json_t *find_by_id(const json_t *arr, const char *id)
{
    size_t i;
    const json_t *v;
    if (!id)
        return NULL;
    json_array_foreach (arr, i, v) {
        const char *vid = es__jstr(v, "id");
        if (vid && strcmp(vid, id) == 0)
            return v;
    }
    return NULL;
}

static void report_errors(struct es__feed_ctx *c, const json_t *errors, enum es_severity sev)
{
    size_t i;
    const json_t *e;
    size_t n = json_array_size(errors);
    json_array_foreach (errors, i, e) {
        if (i >= 8) {
            es__feed_diag(c, sev, "errors: %zu more not shown", n - i);
            break;
        }
        const char *title = es__jstr(e, "title");
        const char *detail = es__jstr(e, "detail");
        const char *msg = es__jstr(e, "message");
        es__feed_diag(c, sev, "errors[%zu]: %.100s%s%.300s", i,
                      title ? title : (msg ? msg : "error"), detail ? ": " : "",
                      detail ? detail : "");
    }
}

static void tweet(struct es__feed_ctx *c, const json_t *t, const json_t *includes,
                  const char *where)
{
    struct es_post p;
    int bad = 0;

    if (!json_is_object(t)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s: not an object", where);
        return;
    }
    if (json_object_get(t, "event_type"))
        return; /* a DM event */
    const json_t *note = json_object_get(t, "note_tweet");
    const json_t *jtext = json_object_get(note, "text");
    if (!json_is_string(jtext))
        jtext = json_object_get(t, "text");
    if (!jtext) {
        /* users, lists, counts: not tweets; say so only if it pretends to be one */
        if (json_object_get(t, "author_id") || json_object_get(t, "edit_history_tweet_ids") ||
            json_object_get(t, "conversation_id"))
            es__feed_diag(c, ES_DIAG_ERROR, "%s.text: missing, record skipped", where);
        return;
    }
    if (!json_is_string(jtext)) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.text: not a string, record skipped", where);
        return;
    }

    es__post_init(&p, ES_PLATFORM_TWITTER);
    p.id = es__jid(c, json_object_get(t, "id"), &bad);
    if (bad || !p.id) {
        es__feed_diag(c, ES_DIAG_ERROR, "%s.id: %s, record skipped", where,
                      bad ? "not a string" : "missing");
        es__arena_reset(&c->arena);
        return;
    }
    p.text_len = json_string_length(jtext);
    p.text = es__decode_entities(c, json_string_value(jtext), &p.text_len);

    bad = 0;
    p.author.id = es__jid(c, json_object_get(t, "author_id"), &bad);
    if (bad)
        es__feed_diag(c, ES_DIAG_WARNING, "%s.author_id: not a string", where);
    const json_t *user = find_by_id(json_object_get(includes, "users"), p.author.id);
    if (user) {
        int64_t n;
        p.author.name = es__jstr(user, "name");
        p.author.handle = es__jstr(user, "username");
        if (es__jint(json_object_get(json_object_get(user, "public_metrics"), "followers_count"),
                     &n) == 0)
            p.author.followers = n;
        p.author.verified = json_is_true(json_object_get(user, "verified"));
    }

    const json_t *jcreated = json_object_get(t, "created_at");
    if (jcreated) {
        const char *s = json_string_value(jcreated);
        if (!s || es_time_parse_iso8601(s, strlen(s), &p.created_at) != 0) {
            p.created_at = 0;
            es__feed_diag(c, ES_DIAG_WARNING, "%s.created_at: not a date (id %s)", where, p.id);
        }
    }
    es__set_lang(&p, es__jstr(t, "lang"));

    const json_t *geo = json_object_get(t, "geo");
    if (geo) {
        const json_t *pt = json_object_get(json_object_get(geo, "coordinates"), "coordinates");
        double lon, lat;
        if (pt && (json_array_size(pt) != 2 || es__jdouble(json_array_get(pt, 0), &lon) ||
                   es__jdouble(json_array_get(pt, 1), &lat) || es__set_point(&p, lat, lon)))
            es__feed_diag(c, ES_DIAG_WARNING, "%s.geo.coordinates: not a [lon, lat] point (id %s)",
                          where, p.id);
        p.place_id = es__jstr(geo, "place_id");
        const json_t *place = find_by_id(json_object_get(includes, "places"), p.place_id);
        if (place) {
            p.place_name = es__jstr(place, "full_name");
            if (!p.place_name)
                p.place_name = es__jstr(place, "name");
            p.country_code = es__jstr(place, "country_code");
        }
    }

    size_t i;
    const json_t *ref;
    json_array_foreach (json_object_get(t, "referenced_tweets"), i, ref) {
        const char *type = es__jstr(ref, "type");
        if (type && strcmp(type, "replied_to") == 0)
            p.reply_to = es__jid(c, json_object_get(ref, "id"), NULL);
    }
    p.thread_root = es__jid(c, json_object_get(t, "conversation_id"), NULL);
    if (!p.thread_root && !p.reply_to)
        p.thread_root = p.id;

    const json_t *m;
    json_array_foreach (json_object_get(json_object_get(t, "entities"), "mentions"), i, m) {
        const char *u = es__jstr(m, "username");
        if (u && p.n_mentions < ES_POST_MAX_MENTIONS)
            p.mentions[p.n_mentions++] = u;
    }

    es__twitter_url(c, &p);
    es__feed_emit(c, &p, where);
}

void es__twitter_v2_parse(struct es__feed_ctx *c, const json_t *root)
{
    if (!json_is_object(root)) {
        es__feed_diag(c, ES_DIAG_ERROR, "twitter v2: document is not an object");
        return;
    }
    const json_t *data = json_object_get(root, "data");
    const json_t *includes = json_object_get(root, "includes");
    const json_t *errors = json_object_get(root, "errors");
    if (json_is_array(errors))
        report_errors(c, errors, data ? ES_DIAG_WARNING : ES_DIAG_ERROR);
    else if (!data && es__jstr(root, "title"))
        es__feed_diag(c, ES_DIAG_ERROR, "error: %.100s: %.300s", es__jstr(root, "title"),
                      es__jstr(root, "detail") ? es__jstr(root, "detail") : "");
    if (json_is_array(data)) {
        size_t i;
        const json_t *t;
        json_array_foreach (data, i, t) {
            char where[32];
            snprintf(where, sizeof where, "data[%zu]", i);
            tweet(c, t, includes, where);
        }
    } else if (json_is_object(data)) {
        tweet(c, data, includes, "data");
    } else if (data && !json_is_null(data)) {
        es__feed_diag(c, ES_DIAG_ERROR, "data: not an array or object");
    }
}

void es__twitter_url(struct es__feed_ctx *c, struct es_post *p)
{
    if (p->author.handle)
        p->url = es__arena_printf(&c->arena, "https://twitter.com/%s/status/%s", p->author.handle,
                                  p->id);
    else
        p->url = es__arena_printf(&c->arena, "https://twitter.com/i/web/status/%s", p->id);
    if (!p->url)
        c->nomem = 1;
}
