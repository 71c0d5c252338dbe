/*
 * fence.c: the "fences" config section, distances and containment.
 *
 * Parsing is strict because a fence that silently means something else (a
 * typo'd key ignored, lat and lon swapped out of range, a ring of two points)
 * would route complaints to the wrong team or to nobody. The first error
 * stops the parse and names its key path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/geo.h"
#include "geo/internal.h"

#define DEG (3.14159265358979323846 / 180.0)
/* Points this close to a polygon's boundary, in degrees (about 0.1 mm), are on it. */
#define EDGE_EPS 1e-9
/* A ring whose doubled area is below this, in square degrees (~0.01 m^2), encloses nothing. */
#define AREA_EPS 1e-12
/* Slack on a circle's bounding box, in degrees, so rounding never drops a point at the rim. */
#define BBOX_SLACK 1e-7

#define MAX_ID 128
#define MAX_NAME 512

double es_geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * DEG, p2 = lat2 * DEG;
    double sp = sin((lat2 - lat1) * DEG / 2), sl = sin((lon2 - lon1) * DEG / 2);
    double a = sp * sp + cos(p1) * cos(p2) * sl * sl;
    if (a > 1)
        a = 1;
    return 2 * ES_GEO_EARTH_RADIUS_M * asin(sqrt(a));
}

static bool on_segment(double x, double y, double x1, double y1, double x2, double y2)
{
    if (x < fmin(x1, x2) - EDGE_EPS || x > fmax(x1, x2) + EDGE_EPS || y < fmin(y1, y2) - EDGE_EPS ||
        y > fmax(y1, y2) + EDGE_EPS)
        return false;
    double dx = x2 - x1, dy = y2 - y1, len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((x - x1) * dx + (y - y1) * dy) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = x1 + t * dx - x, ey = y1 + t * dy - y;
    return ex * ex + ey * ey <= EDGE_EPS * EDGE_EPS;
}

/* Even-odd ray casting towards +lon; the half-open test (yi > y) != (yj > y)
 * counts a vertex on the ray once. Boundary points are caught first. */
static bool ring_contains(const double *r, size_t n, double lat, double lon)
{
    bool in = false;
    for (size_t i = 0, j = n - 1; i < n; j = i++) {
        double xi = r[2 * i], yi = r[2 * i + 1], xj = r[2 * j], yj = r[2 * j + 1];
        if (on_segment(lon, lat, xj, yj, xi, yi))
            return true;
        if ((yi > lat) != (yj > lat)) {
            double x = xj + (lat - yj) * (xi - xj) / (yi - yj);
            if (lon < x)
                in = !in;
        }
    }
    return in;
}

bool es_fence_contains(const struct es_fence *fc, double lat, double lon)
{
    if (!fc || !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180))
        return false;
    if (fc->kind == ES_FENCE_CIRCLE)
        return es_geo_distance_m(fc->lat, fc->lon, lat, lon) <= fc->radius_m;
    if (lat < fc->min_lat || lat > fc->max_lat || lon < fc->min_lon || lon > fc->max_lon)
        return false;
    return ring_contains(fc->ring, fc->n_points, lat, lon);
}

/* ---- parsing helpers ---- */

int es__geo_unknown_key(const json_t *obj, const char *const *allowed, const char *path,
                        struct es_diag *d)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i])
            continue;
        char list[256] = "";
        size_t used = 0;
        for (i = 0; allowed[i] && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     allowed[i]);
        return es_diag_set(d, NULL, 0, 0, "%s%s%.64s: unknown key (expected %s)", path,
                           *path ? "." : "", key, list);
    }
    return 0;
}

/* A required non-empty string without NUL bytes, at most max bytes; copied into *out. */
static int get_string(const json_t *o, const char *key, size_t max, const char *path, char **out,
                      struct es_diag *d)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return es_diag_set(d, NULL, 0, 0, "%s.%s: required (a non-empty string)", path, key);
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) != json_string_length(v))
        return es_diag_set(d, NULL, 0, 0, "%s.%s: must be a non-empty string", path, key);
    if (strlen(s) > max)
        return es_diag_set(d, NULL, 0, 0, "%s.%s: longer than %zu bytes", path, key, max);
    *out = es_strdup(s);
    return *out ? 0 : ES_ENOMEM;
}

static int check_id(const char *id, const char *path, struct es_diag *d)
{
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return es_diag_set(d, NULL, 0, 0, "%s.id: may hold only A-Z a-z 0-9 _ . : -", path);
    }
    return 0;
}

static bool num(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return isfinite(*out);
}

static int parse_circle(const json_t *c, struct es_fence *fc, const char *path, struct es_diag *d)
{
    static const char *const keys[] = {"lat", "lon", "radius_m", NULL};
    if (!json_is_object(c))
        return es_diag_set(d, NULL, 0, 0,
                           "%s.circle: must be an object {\"lat\", \"lon\", \"radius_m\"}", path);
    char cp[ES__GEO_PATH_MAX + 8];
    snprintf(cp, sizeof cp, "%s.circle", path);
    int rc = es__geo_unknown_key(c, keys, cp, d);
    if (rc)
        return rc;
    double lat, lon, r;
    if (!num(json_object_get(c, "lat"), &lat) || lat < -90 || lat > 90)
        return es_diag_set(d, NULL, 0, 0, "%s.lat: must be a number within -90..90", cp);
    if (!num(json_object_get(c, "lon"), &lon) || lon < -180 || lon > 180)
        return es_diag_set(d, NULL, 0, 0, "%s.lon: must be a number within -180..180", cp);
    if (!num(json_object_get(c, "radius_m"), &r) || !(r > 0))
        return es_diag_set(d, NULL, 0, 0, "%s.radius_m: must be a number > 0", cp);
    if (r > ES_GEO_MAX_RADIUS_M)
        return es_diag_set(d, NULL, 0, 0,
                           "%s.radius_m: must be at most %.0f (use a polygon for larger areas)", cp,
                           ES_GEO_MAX_RADIUS_M);
    fc->kind = ES_FENCE_CIRCLE;
    fc->lat = lat;
    fc->lon = lon;
    fc->radius_m = r;
    /* Bounding box on the sphere: dlat = r/R; dlon = asin(sin(r/R) / cos(lat)). */
    double ang = r / ES_GEO_EARTH_RADIUS_M, dlat = ang / DEG;
    fc->min_lat = fmax(lat - dlat - BBOX_SLACK, -90);
    fc->max_lat = fmin(lat + dlat + BBOX_SLACK, 90);
    double s = sin(ang) / cos(lat * DEG);
    if (lat + dlat >= 90 || lat - dlat <= -90 || !(s < 1)) {
        fc->min_lon = -180; /* holds a pole: every longitude */
        fc->max_lon = 180;
        return 0;
    }
    double dlon = asin(s) / DEG + BBOX_SLACK;
    if (lon - dlon < -180 || lon + dlon > 180) {
        fc->min_lon = -180; /* crosses the antimeridian: kept whole, distance decides */
        fc->max_lon = 180;
    } else {
        fc->min_lon = lon - dlon;
        fc->max_lon = lon + dlon;
    }
    return 0;
}

static int cmp_point(const void *a, const void *b)
{
    const double *p = a, *q = b;
    if (p[0] != q[0])
        return p[0] < q[0] ? -1 : 1;
    if (p[1] != q[1])
        return p[1] < q[1] ? -1 : 1;
    return 0;
}

static int parse_polygon(const json_t *a, struct es_fence *fc, const char *path, struct es_diag *d)
{
    if (!json_is_array(a))
        return es_diag_set(d, NULL, 0, 0, "%s.polygon: must be an array of [lon, lat] points",
                           path);
    size_t n = json_array_size(a);
    if (n > ES_GEO_MAX_RING + 1) {
        es_diag_set(d, NULL, 0, 0, "%s.polygon: more than %d points", path, ES_GEO_MAX_RING);
        return ES_ELIMIT;
    }
    if (n > 0 && json_is_array(json_array_get(json_array_get(a, 0), 0)))
        return es_diag_set(d, NULL, 0, 0,
                           "%s.polygon: must be one ring [[lon, lat], ...], not GeoJSON polygon "
                           "coordinates (holes are not supported)",
                           path);
    double *ring = es_malloc((n ? n : 1) * 2 * sizeof *ring);
    if (!ring)
        return ES_ENOMEM;
    size_t m = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *pt = json_array_get(a, i);
        double lon, lat;
        if (!json_is_array(pt) || json_array_size(pt) != 2 || !num(json_array_get(pt, 0), &lon) ||
            !num(json_array_get(pt, 1), &lat)) {
            rc = es_diag_set(d, NULL, 0, 0, "%s.polygon[%zu]: must be a [lon, lat] pair of numbers",
                             path, i);
            goto fail;
        }
        if (lon < -180 || lon > 180) {
            rc = es_diag_set(d, NULL, 0, 0,
                             "%s.polygon[%zu][0]: longitude must be within -180..180", path, i);
            goto fail;
        }
        if (lat < -90 || lat > 90) {
            rc = es_diag_set(d, NULL, 0, 0, "%s.polygon[%zu][1]: latitude must be within -90..90",
                             path, i);
            goto fail;
        }
        if (m > 0 && ring[2 * (m - 1)] == lon && ring[2 * (m - 1) + 1] == lat)
            continue; /* a repeated point adds nothing */
        if (m > 0 && fabs(lon - ring[2 * (m - 1)]) > 180) {
            rc = es_diag_set(d, NULL, 0, 0,
                             "%s.polygon[%zu]: the edge from the previous point spans more than "
                             "180 degrees of longitude (crosses the antimeridian); split the "
                             "area into two fences",
                             path, i);
            goto fail;
        }
        ring[2 * m] = lon;
        ring[2 * m + 1] = lat;
        m++;
    }
    /* GeoJSON closes rings by repeating the first point; we close them implicitly. */
    if (m > 1 && ring[0] == ring[2 * (m - 1)] && ring[1] == ring[2 * (m - 1) + 1])
        m--;
    if (m > 1 && fabs(ring[0] - ring[2 * (m - 1)]) > 180) {
        rc = es_diag_set(d, NULL, 0, 0,
                         "%s.polygon: the closing edge spans more than 180 degrees of longitude "
                         "(crosses the antimeridian); split the area into two fences",
                         path);
        goto fail;
    }
    size_t distinct = 0;
    if (m > 0) {
        double *sorted = es_malloc(m * 2 * sizeof *sorted);
        if (!sorted) {
            rc = ES_ENOMEM;
            goto fail;
        }
        memcpy(sorted, ring, m * 2 * sizeof *sorted);
        qsort(sorted, m, 2 * sizeof *sorted, cmp_point);
        distinct = 1;
        for (size_t i = 1; i < m; i++)
            distinct += cmp_point(sorted + 2 * i, sorted + 2 * (i - 1)) != 0;
        es_free(sorted);
    }
    if (distinct < 3) {
        rc = es_diag_set(d, NULL, 0, 0, "%s.polygon: needs at least 3 distinct points (has %zu)",
                         path, distinct);
        goto fail;
    }
    double area2 = 0;
    fc->min_lon = fc->max_lon = ring[0];
    fc->min_lat = fc->max_lat = ring[1];
    for (size_t i = 0, j = m - 1; i < m; j = i++) {
        area2 += ring[2 * j] * ring[2 * i + 1] - ring[2 * i] * ring[2 * j + 1];
        fc->min_lon = fmin(fc->min_lon, ring[2 * i]);
        fc->max_lon = fmax(fc->max_lon, ring[2 * i]);
        fc->min_lat = fmin(fc->min_lat, ring[2 * i + 1]);
        fc->max_lat = fmax(fc->max_lat, ring[2 * i + 1]);
    }
    if (fabs(area2) < AREA_EPS) {
        rc = es_diag_set(d, NULL, 0, 0, "%s.polygon: encloses no area (the points are collinear)",
                         path);
        goto fail;
    }
    /* Widened by the boundary tolerance, so the prefilters keep points "on" an edge. */
    fc->min_lon = fmax(fc->min_lon - EDGE_EPS, -180);
    fc->max_lon = fmin(fc->max_lon + EDGE_EPS, 180);
    fc->min_lat = fmax(fc->min_lat - EDGE_EPS, -90);
    fc->max_lat = fmin(fc->max_lat + EDGE_EPS, 90);
    fc->kind = ES_FENCE_POLYGON;
    fc->ring = ring;
    fc->n_points = m;
    fc->lat = (fc->min_lat + fc->max_lat) / 2;
    fc->lon = (fc->min_lon + fc->max_lon) / 2;
    fc->radius_m = 0;
    return 0;
fail:
    es_free(ring);
    return rc;
}

static int parse_fence(const json_t *o, struct es_fence *fc, const char *path, struct es_diag *d)
{
    static const char *const keys[] = {"id", "brand", "name", "team", "circle", "polygon", NULL};
    if (!json_is_object(o))
        return es_diag_set(d, NULL, 0, 0, "%s: must be an object", path);
    int rc = es__geo_unknown_key(o, keys, path, d);
    if (rc)
        return rc;
    char *id = NULL, *brand = NULL, *name = NULL, *team = NULL;
    rc = get_string(o, "id", MAX_ID, path, &id, d);
    fc->id = id;
    if (rc == 0)
        rc = check_id(id, path, d);
    if (rc == 0)
        rc = get_string(o, "brand", MAX_ID, path, &brand, d);
    fc->brand = brand;
    if (rc == 0)
        rc = get_string(o, "name", MAX_NAME, path, &name, d);
    fc->name = name;
    if (rc == 0)
        rc = get_string(o, "team", MAX_ID, path, &team, d);
    fc->team = team;
    if (rc)
        return rc;
    const json_t *circle = json_object_get(o, "circle"), *poly = json_object_get(o, "polygon");
    if (circle && poly)
        return es_diag_set(d, NULL, 0, 0, "%s: has both circle and polygon; give one", path);
    if (circle)
        return parse_circle(circle, fc, path, d);
    if (poly)
        return parse_polygon(poly, fc, path, d);
    return es_diag_set(d, NULL, 0, 0, "%s: needs a circle or a polygon", path);
}

struct id_ref {
    const char *id;
    uint32_t idx;
};

static int cmp_id_ref(const void *a, const void *b)
{
    const struct id_ref *p = a, *q = b;
    int c = strcmp(p->id, q->id);
    return c ? c : (p->idx > q->idx) - (p->idx < q->idx);
}

/* Sorts the ids into f->by_id and reports the first duplicate in config order. */
static int index_ids(struct es_fences *f, struct es_diag *d)
{
    if (f->n == 0)
        return 0;
    struct id_ref *refs = es_malloc(f->n * sizeof *refs);
    f->by_id = es_malloc(f->n * sizeof *f->by_id);
    if (!refs || !f->by_id) {
        es_free(refs);
        return ES_ENOMEM;
    }
    for (size_t i = 0; i < f->n; i++)
        refs[i] = (struct id_ref){f->v[i].id, (uint32_t)i};
    qsort(refs, f->n, sizeof *refs, cmp_id_ref);
    size_t dup = SIZE_MAX, first = 0;
    for (size_t i = 0; i < f->n; i++) {
        f->by_id[i] = refs[i].idx;
        if (i > 0 && strcmp(refs[i].id, refs[i - 1].id) == 0 && refs[i].idx < dup) {
            dup = refs[i].idx;
            first = refs[i - 1].idx;
        }
    }
    es_free(refs);
    if (dup != SIZE_MAX)
        return es_diag_set(d, NULL, 0, 0,
                           "fences[%zu].id: duplicate id \"%s\" (first at fences[%zu])", dup,
                           f->v[dup].id, first);
    return 0;
}

int es_fences_parse(const json_t *fences, struct es_fences **out, struct es_diag *d)
{
    if (!out)
        return ES_EINVAL;
    if (fences && !json_is_array(fences))
        return es_diag_set(d, NULL, 0, 0, "fences: must be an array");
    size_t n = fences ? json_array_size(fences) : 0;
    if (n > ES_GEO_MAX_FENCES) {
        es_diag_set(d, NULL, 0, 0, "fences: more than %d fences", ES_GEO_MAX_FENCES);
        return ES_ELIMIT;
    }
    struct es_fences *f = es_calloc(1, sizeof *f);
    if (!f)
        return ES_ENOMEM;
    int rc = 0;
    if (n > 0) {
        f->v = es_calloc(n, sizeof *f->v);
        if (!f->v) {
            rc = ES_ENOMEM;
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char path[ES__GEO_PATH_MAX];
        snprintf(path, sizeof path, "fences[%zu]", i);
        f->n = i + 1; /* so es_fences_free releases what this fence got */
        rc = parse_fence(json_array_get(fences, i), &f->v[i], path, d);
        if (rc)
            goto fail;
    }
    rc = index_ids(f, d);
    if (rc == 0)
        rc = es__geo_index_build(f);
    if (rc)
        goto fail;
    *out = f;
    return 0;
fail:
    es_fences_free(f);
    return rc;
}

void es_fences_free(struct es_fences *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        struct es_fence *fc = &f->v[i];
        es_free((char *)fc->id);
        es_free((char *)fc->brand);
        es_free((char *)fc->name);
        es_free((char *)fc->team);
        es_free((double *)fc->ring);
    }
    es_free(f->v);
    es_free(f->by_id);
    es__geo_index_free(f);
    es_free(f);
}

size_t es_fences_count(const struct es_fences *f)
{
    return f ? f->n : 0;
}

const struct es_fence *es_fences_at(const struct es_fences *f, size_t i)
{
    return f && i < f->n ? &f->v[i] : NULL;
}

const struct es_fence *es_fences_find(const struct es_fences *f, const char *id)
{
    if (!f || !id || !f->by_id)
        return NULL;
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->v[f->by_id[mid]].id, id);
        if (c == 0)
            return &f->v[f->by_id[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- place bounding boxes ---- */

static int widen(double bbox[4], const json_t *pt, bool first)
{
    double lon, lat;
    if (!json_is_array(pt) || json_array_size(pt) < 2 || !num(json_array_get(pt, 0), &lon) ||
        !num(json_array_get(pt, 1), &lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90)
        return ES_EPARSE;
    if (first) {
        bbox[0] = bbox[2] = lon;
        bbox[1] = bbox[3] = lat;
        return 0;
    }
    bbox[0] = fmin(bbox[0], lon);
    bbox[1] = fmin(bbox[1], lat);
    bbox[2] = fmax(bbox[2], lon);
    bbox[3] = fmax(bbox[3], lat);
    return 0;
}

int es_geo_bbox_from_json(const json_t *v, double bbox[4])
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0)
        return ES_EPARSE;
    if (json_is_number(json_array_get(v, 0))) {
        double b[4];
        for (size_t i = 0; i < 4; i++)
            if (n != 4 || !num(json_array_get(v, i), &b[i]))
                return ES_EPARSE;
        if (b[0] < -180 || b[0] > 180 || b[2] < -180 || b[2] > 180 || b[1] < -90 || b[1] > 90 ||
            b[3] < -90 || b[3] > 90 || b[1] > b[3])
            return ES_EPARSE;
        memcpy(bbox, b, sizeof b);
        return 0;
    }
    const json_t *ring = v;
    if (json_is_array(json_array_get(json_array_get(v, 0), 0))) {
        if (n != 1)
            return ES_EPARSE; /* a polygon with holes is no bounding box */
        ring = json_array_get(v, 0);
    }
    double b[4] = {0, 0, 0, 0};
    size_t m = json_array_size(ring);
    if (m == 0)
        return ES_EPARSE;
    for (size_t i = 0; i < m; i++)
        if (widen(b, json_array_get(ring, i), i == 0))
            return ES_EPARSE;
    memcpy(bbox, b, sizeof b);
    return 0;
}
