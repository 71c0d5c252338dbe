/*
 * geo: geo fences and SLA clocks. Pure code: no loop, no I/O; the config
 * loader hands it already-parsed jansson values.
 *
 * Fences find complaints that name no brand ("the queue at the Xidan store is
 * a disaster"): about 15% of posts carry a point or a place, and a geo-tagged
 * post inside a fence with a complaint signal becomes a mention for the
 * fence's brand, routed to the fence's team (the pipeline does that; this
 * module only answers "which fences hold this point").
 *
 *   config "fences": [...] --es_fences_parse()--> struct es_fences (immutable,
 *                                                  shareable between threads)
 *   post point (lat, lon)  --es_geo_match()------> fences holding the point
 *   post place bbox        --es_geo_match_bbox()-> fences holding its center,
 *                                                  if the bbox is not larger
 *
 * SLA clocks turn a policy (per channel, customer tier and severity) into a
 * deadline that starts at the post's own created_at: the customer has been
 * waiting since they posted, not since we fetched it.
 *
 *   config "sla": {...} --es_sla_parse()--> struct es_sla_policy (plain value)
 *   es_sla_deadline_ms(policy, "wechat", "vip", 2, created_at, ingest_ms)
 *
 * Parse errors name the key path in es_diag.msg ("fences[2].circle.radius_m:
 * must be a number > 0"); file, line and col are left 0 for the caller (who
 * knows the config file) to fill. Unknown keys are errors, so a typo never
 * passes silently. The full reference, with every default, is docs/geo.md.
 */
#ifndef ES_GEO_H
#define ES_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "earshot/err.h"

/* ---- distances ---- */

/* The mean Earth radius (IUGG R1) used for every distance, in meters. */
#define ES_GEO_EARTH_RADIUS_M 6371008.8

/*
 * es_geo_distance_m: the great-circle distance in meters between two WGS84
 * points on a sphere of ES_GEO_EARTH_RADIUS_M (haversine). Exact on the
 * sphere, within 0.5% of the ellipsoid; correct across the antimeridian and
 * at the poles.
 */
double es_geo_distance_m(double lat1, double lon1, double lat2, double lon2);

/* ---- fences ---- */

/* Caps on hostile or mistaken config: beyond them parsing fails with ES_ELIMIT. */
#define ES_GEO_MAX_FENCES 100000
#define ES_GEO_MAX_RING 10000         /* points in one polygon ring */
#define ES_GEO_MAX_RADIUS_M 1000000.0 /* 1,000 km; use a polygon for larger areas */

enum es_fence_kind { ES_FENCE_CIRCLE = 1, ES_FENCE_POLYGON = 2 };

/*
 * One fence. Everything is owned by the struct es_fences it came from and
 * lives as long as it does.
 *
 * Containment (both kinds are closed sets: the boundary is inside):
 *   circle   distance(center, point) <= radius_m (haversine, see above).
 *   polygon  even-odd ray casting in the plain lon/lat plane, so edges are
 *            straight lines in degrees (not great circles; the difference is
 *            centimeters for store- or airport-sized fences). A point on an
 *            edge or a vertex, within 1e-9 degrees (about 0.1 mm), is inside.
 *            A polygon must not cross the antimeridian: a ring with an edge
 *            spanning more than 180 degrees of longitude is rejected; split
 *            such an area into two fences, one each side of 180.
 *            Self-intersecting rings are accepted and follow the even-odd
 *            rule; holes are not supported.
 * Circles may cross the antimeridian or hold a pole; distance handles both.
 */
struct es_fence {
    const char *id;    /* unique in the set, [A-Za-z0-9_.:-]{1,128} */
    const char *brand; /* the brand id a post inside becomes a mention for */
    const char *name;  /* location name for people: "西单大悦城店" */
    const char *team;  /* the team the mention is routed to */
    enum es_fence_kind kind;
    double lat, lon, radius_m; /* circle: center and radius; polygon: the bbox center, 0 */
    const double *ring;        /* polygon: n_points pairs (lon, lat), closing point dropped */
    size_t n_points;           /* polygon: >= 3 distinct points; circle: 0 */
    /* Bounding box in degrees, a polygon's widened by the 1e-9 boundary tolerance; a circle
     * over the antimeridian or a pole spans -180..180. */
    double min_lat, min_lon, max_lat, max_lon;
};

/* An immutable, indexed set of fences. */
struct es_fences;

/*
 * es_fences_parse reads the config's "fences" section: a JSON array of
 *
 *   {"id": "xidan_store", "brand": "starbucks", "name": "西单大悦城店",
 *    "team": "bj-stores", "circle": {"lat": 39.9087, "lon": 116.3747, "radius_m": 300}}
 *   {"id": "jfk_t4", "brand": "delta", "name": "JFK Terminal 4", "team": "nyc-airports",
 *    "polygon": [[-73.79, 40.64], [-73.78, 40.64], [-73.78, 40.65], [-73.79, 40.65]]}
 *
 * id, brand, name and team are required non-empty strings (at most 128
 * bytes for id/brand/team, 512 for name); exactly one of circle or polygon.
 * A polygon is one GeoJSON-style ring of [lon, lat] pairs, closed or not,
 * with at least 3 distinct points and a non-zero area. Latitudes lie in
 * -90..90, longitudes in -180..180. Ids are unique.
 *
 * fences may be NULL (no section): *out is then an empty set. On success
 * *out is a new set the caller frees with es_fences_free. Returns 0;
 * ES_EPARSE with d->msg naming the key path of the first error; ES_ELIMIT
 * (also with d->msg) over ES_GEO_MAX_FENCES or ES_GEO_MAX_RING; ES_ENOMEM.
 * On error *out is unchanged. d may be NULL.
 */
int es_fences_parse(const json_t *fences, struct es_fences **out, struct es_diag *d);

/* es_fences_free frees a set and its fences. Accepts NULL. */
void es_fences_free(struct es_fences *f);

/* The number of fences, and the i-th in config order (NULL when out of range). */
size_t es_fences_count(const struct es_fences *f);
const struct es_fence *es_fences_at(const struct es_fences *f, size_t i);
/* es_fences_find: the fence with this id, or NULL. */
const struct es_fence *es_fences_find(const struct es_fences *f, const char *id);

/* es_fence_contains: whether one fence holds the point (rules above). */
bool es_fence_contains(const struct es_fence *fence, double lat, double lon);

/*
 * es_geo_match finds the fences that hold the point (lat, lon). It writes
 * the first min(n, max) of them, in config order, to out (which may be NULL
 * when max is 0) and returns n, the number of fences holding the point, as
 * snprintf does. A point outside -90..90 / -180..180, or NaN, holds none.
 *
 * Fast for many fences: a hashed grid in three levels (cells about twice the
 * median fence size, 16x and 256x that) keeps each fence in the level where
 * it covers at most 16 cells; a lookup probes one cell per level plus the
 * few fences too large for any level, and tests only those exactly.
 * Thread-safe on a shared set.
 */
size_t es_geo_match(const struct es_fences *f, double lat, double lon, const struct es_fence **out,
                    size_t max);

/*
 * es_geo_match_bbox matches a place given as a bounding box instead of a
 * point (a Twitter place: a city, a neighbourhood, sometimes a venue).
 * The rule: a fence matches when it holds the bbox's center AND the bbox is
 * no larger than the fence's own bounding box (width <= the fence's width
 * and height <= its height, in degrees). So a venue-sized place inside a
 * store or airport fence matches, while "Beijing" never matches a 300 m
 * store fence: a bbox larger than the fence says too little about where the
 * author was. A degenerate bbox (a point) behaves as es_geo_match. A bbox
 * with west > east (across the antimeridian), south > north, or out of
 * range matches nothing. Returns and writes as es_geo_match.
 */
size_t es_geo_match_bbox(const struct es_fences *f, double west, double south, double east,
                         double north, const struct es_fence **out, size_t max);

/*
 * es_geo_bbox_from_json reads a place's bounding box in any of the shapes
 * platforms send, into bbox = {west, south, east, north}:
 *   [w, s, e, n]                              Twitter v2 place.geo.bbox
 *   [[[lon, lat], [lon, lat], ...]]           Twitter v1.1 place.bounding_box.coordinates
 *   [[lon, lat], [lon, lat], ...]             a bare ring
 * Returns 0, or ES_EPARSE for any other shape or out-of-range values. The
 * value is borrowed; nothing is kept.
 */
int es_geo_bbox_from_json(const json_t *v, double bbox[4]);

/* ---- SLA clocks ---- */

/*
 * Channels: the platform names of es_platform_name ("twitter", "weibo",
 * "wechat", "generic") plus "dm", a direct/private message on any platform.
 * WeChat and DMs are chat-like: people expect an answer as in a chat.
 */
enum es_sla_channel {
    ES_SLA_TWITTER = 0,
    ES_SLA_WEIBO,
    ES_SLA_WECHAT,
    ES_SLA_GENERIC,
    ES_SLA_DM,
    ES_SLA_N_CHANNELS
};
/* Customer tiers, by the names the store uses ("vip", "gold"; anything else is none). */
enum es_sla_tier { ES_SLA_TIER_NONE = 0, ES_SLA_TIER_GOLD, ES_SLA_TIER_VIP, ES_SLA_N_TIERS };

#define ES_SLA_MAX_MINUTES 43200.0 /* 30 days: larger values are config mistakes */

/*
 * A policy is a plain value: copy it, embed it, no cleanup. Each limit is in
 * milliseconds; 0 means "no limit of this kind".
 *
 * The limit for a post is the SMALLEST of the limits that apply to it:
 * its channel's, its tier's and its severity's. When none applies, the
 * default applies. (So an override can also lengthen: "channels":
 * {"generic": 240} gives generic posts 4 hours although the default is 1.)
 *
 * Defaults (es_sla_policy_default, and the starting point of es_sla_parse):
 *   default                60 minutes
 *   channels  wechat, dm   10 minutes (chat-like)
 *   tiers     vip          10 minutes
 *   severity  4            15 minutes (safety, fraud)
 * So a VIP on WeChat with a severity-4 post gets 10 minutes, an ordinary
 * Weibo post 60, an ordinary severity-4 tweet 15.
 */
struct es_sla_policy {
    int64_t default_ms;
    int64_t channel_ms[ES_SLA_N_CHANNELS];
    int64_t tier_ms[ES_SLA_N_TIERS];
    int64_t severity_ms[5]; /* index 1..4; [0] unused */
};

/* es_sla_policy_default fills p with the documented defaults above. */
void es_sla_policy_default(struct es_sla_policy *p);

/*
 * es_sla_parse reads the config's "sla" section over the defaults:
 *
 *   {"default_minutes": 60, "channels": {"wechat": 10}, "tiers": {"vip": 10, "gold": 30},
 *    "severity": {"4": 15}}
 *
 * Every key is optional and overrides only itself; null removes a limit
 * ("channels": {"dm": null}); default_minutes cannot be null. Minutes are
 * numbers > 0 and <= ES_SLA_MAX_MINUTES, fractions allowed (0.5 = 30 s).
 * Channel names as above, tiers "vip", "gold", "none", severities "1".."4".
 * sla may be NULL (no section): p gets the defaults. Returns 0, or
 * ES_EPARSE with the key path in d->msg; on error *p is unchanged.
 */
int es_sla_parse(const json_t *sla, struct es_sla_policy *p, struct es_diag *d);

/* Names to enums: -1 / ES_SLA_TIER_NONE for NULL or unknown names. */
int es_sla_channel_from_name(const char *name);
enum es_sla_tier es_sla_tier_from_name(const char *name);

/*
 * es_sla_limit_ms: the time a post may wait, by the rule above. channel is a
 * channel name (unknown or NULL: no channel limit), tier a tier name (NULL:
 * none), severity 1..4 (anything else: no severity limit).
 */
int64_t es_sla_limit_ms(const struct es_sla_policy *p, const char *channel, const char *tier,
                        int severity);

/*
 * es_sla_deadline_ms: when the answer is due, in ms since the epoch:
 * start + es_sla_limit_ms(...), where start is
 *   created_at_s * 1000   the post's own time: the customer has been waiting
 *                         since then, so a post found late is due sooner,
 *                         and one found after its deadline is already late;
 *   ingest_ms             when created_at_s is unknown (0, or negative);
 *   ingest_ms             when created_at_s is after ingest_ms (clock skew
 *                         or a bad timestamp: the clock never starts in the
 *                         future).
 */
int64_t es_sla_deadline_ms(const struct es_sla_policy *p, const char *channel, const char *tier,
                           int severity, int64_t created_at_s, int64_t ingest_ms);

/* es_sla_remaining_ms: deadline_ms - now_ms; negative once late. */
int64_t es_sla_remaining_ms(int64_t deadline_ms, int64_t now_ms);

/* es_sla_breached: true once now_ms has reached the deadline (remaining <= 0). */
bool es_sla_breached(int64_t deadline_ms, int64_t now_ms);

#endif
