/*
 * test_geo_fences: distances, circle and polygon containment (edges,
 * vertices, concave rings, poles, the antimeridian), place bounding boxes,
 * the grid against a plain scan, and every parse error with its key path.
 */
#include <math.h>
#include <stdlib.h>

#include "earshot/geo.h"
#include "harness.h"

static struct es_fences *load(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!j) {
        printf("  bad test JSON: %s\n", err.text);
        return NULL;
    }
    struct es_fences *f = NULL;
    struct es_diag d = {0};
    int rc = es_fences_parse(j, &f, &d);
    json_decref(j);
    if (rc)
        printf("  parse: %s\n", d.msg);
    return f;
}

/* The first error's message, or "" when the text parses. */
static int parse_error(const char *text, char *msg, size_t n)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!j) {
        snprintf(msg, n, "bad test JSON: %s", err.text);
        return 1;
    }
    struct es_fences *f = NULL;
    struct es_diag d = {0};
    int rc = es_fences_parse(j, &f, &d);
    json_decref(j);
    es_fences_free(f);
    snprintf(msg, n, "%s", rc ? d.msg : "");
    return rc;
}

static const char SAMPLE[] =
    "[{\"id\":\"xidan_store\",\"brand\":\"starbucks\",\"name\":\"西单大悦城店\","
    "\"team\":\"bj-stores\",\"circle\":{\"lat\":39.9087,\"lon\":116.3747,\"radius_m\":300}},"
    " {\"id\":\"jfk_t4\",\"brand\":\"delta\",\"name\":\"JFK Terminal 4\",\"team\":\"nyc-airports\","
    "\"polygon\":[[-73.79,40.64],[-73.78,40.64],[-73.78,40.65],[-73.79,40.65]]}]";

ES_TEST(beijing_shanghai_is_about_1067_km)
{
    double d = es_geo_distance_m(39.9042, 116.4074, 31.2304, 121.4737);
    ES_ASSERT_NEAR(d / 1000, 1067.0, 1.0);
    ES_ASSERT_NEAR(es_geo_distance_m(10, 20, 10, 20), 0, 1e-9);
    /* One degree of latitude: pi * R / 180. */
    ES_ASSERT_NEAR(es_geo_distance_m(0, 0, 1, 0), 111195.08, 0.01);
    /* Across the antimeridian the short way, and over the pole. */
    ES_ASSERT_NEAR(es_geo_distance_m(0, 179.5, 0, -179.5), 111195.08, 0.01);
    ES_ASSERT_NEAR(es_geo_distance_m(89.5, 0, 89.5, 180), 111195.08, 0.01);
    /* Antipodes: half the circumference. */
    ES_ASSERT_NEAR(es_geo_distance_m(0, 0, 0, 180), 3.14159265358979 * 6371008.8, 0.01);
}

ES_TEST(sample_config_parses)
{
    struct es_fences *f = load(SAMPLE);
    ES_ASSERT(f != NULL);
    ES_ASSERT_EQ(es_fences_count(f), 2);
    const struct es_fence *x = es_fences_find(f, "xidan_store");
    const struct es_fence *j = es_fences_find(f, "jfk_t4");
    int ok = x && j && es_fences_find(f, "nope") == NULL && es_fences_at(f, 2) == NULL;
    ok = ok && x->kind == ES_FENCE_CIRCLE && strcmp(x->name, "西单大悦城店") == 0 &&
         strcmp(x->team, "bj-stores") == 0 && strcmp(x->brand, "starbucks") == 0;
    ok = ok && j->kind == ES_FENCE_POLYGON && j->n_points == 4 && es_fences_at(f, 1) == j;
    es_fences_free(f);
    ES_ASSERT(ok);
}

ES_TEST(points_just_inside_and_outside_a_300m_circle)
{
    struct es_fences *f = load(SAMPLE);
    ES_ASSERT(f != NULL);
    const struct es_fence *x = es_fences_find(f, "xidan_store");
    const struct es_fence *out[4];
    /* Due north: 1 m of latitude is 1 / 111195.08 degrees on this sphere. */
    double m = 1 / 111195.08;
    size_t in299 = es_geo_match(f, 39.9087 + 299 * m, 116.3747, out, 4);
    const struct es_fence *got = in299 ? out[0] : NULL;
    size_t out301 = es_geo_match(f, 39.9087 + 301 * m, 116.3747, out, 4);
    /* Due east: a degree of longitude is shorter by cos(lat). */
    double e = m / cos(39.9087 * 3.14159265358979 / 180);
    size_t east299 = es_geo_match(f, 39.9087, 116.3747 + 299 * e, NULL, 0);
    size_t east301 = es_geo_match(f, 39.9087, 116.3747 + 301 * e, NULL, 0);
    size_t center = es_geo_match(f, 39.9087, 116.3747, NULL, 0);
    bool rim = es_fence_contains(x, 39.9087 + 299.999 * m, 116.3747);
    es_fences_free(f);
    ES_ASSERT_EQ(in299, 1);
    ES_ASSERT(got == x);
    ES_ASSERT_EQ(out301, 0);
    ES_ASSERT_EQ(east299, 1);
    ES_ASSERT_EQ(east301, 0);
    ES_ASSERT_EQ(center, 1);
    ES_ASSERT(rim);
}

ES_TEST(square_polygon_edges_and_vertices_are_inside)
{
    struct es_fences *f = load(SAMPLE);
    ES_ASSERT(f != NULL);
    const struct es_fence *j = es_fences_find(f, "jfk_t4");
    int r[10];
    r[0] = es_fence_contains(j, 40.645, -73.785);     /* middle */
    r[1] = es_fence_contains(j, 40.64, -73.785);      /* south edge */
    r[2] = es_fence_contains(j, 40.65, -73.785);      /* north edge */
    r[3] = es_fence_contains(j, 40.645, -73.78);      /* east edge */
    r[4] = es_fence_contains(j, 40.645, -73.79);      /* west edge */
    r[5] = es_fence_contains(j, 40.64, -73.79);       /* vertex */
    r[6] = es_fence_contains(j, 40.65, -73.78);       /* vertex */
    r[7] = es_fence_contains(j, 40.6399999, -73.785); /* 1 cm south */
    r[8] = es_fence_contains(j, 40.645, -73.7799999); /* 1 cm east */
    r[9] = (int)es_geo_match(f, 40.65, -73.78, NULL, 0);
    /* Within the 1e-9 degree tolerance outside the north-east corner: still on the boundary. */
    int tol = (int)es_geo_match(f, 40.65 + 5e-10, -73.78 + 5e-10, NULL, 0);
    es_fences_free(f);
    for (int i = 0; i <= 6; i++)
        ES_ASSERT_EQ(r[i], 1);
    ES_ASSERT_EQ(r[7], 0);
    ES_ASSERT_EQ(r[8], 0);
    ES_ASSERT_EQ(r[9], 1);
    ES_ASSERT_EQ(tol, 1);
}

ES_TEST(concave_polygon)
{
    /* A "U": the notch between the arms (x 1..2, y 1..3) is outside. */
    struct es_fences *f =
        load("[{\"id\":\"u\",\"brand\":\"b\",\"name\":\"U\",\"team\":\"t\","
             "\"polygon\":[[0,0],[3,0],[3,3],[2,3],[2,1],[1,1],[1,3],[0,3],[0,0]]}]");
    ES_ASSERT(f != NULL);
    const struct es_fence *u = es_fences_at(f, 0);
    int r[8];
    r[0] = es_fence_contains(u, 0.5, 1.5); /* base */
    r[1] = es_fence_contains(u, 2, 0.5);   /* left arm */
    r[2] = es_fence_contains(u, 2, 2.5);   /* right arm */
    r[3] = es_fence_contains(u, 2, 1.5);   /* the notch */
    r[4] = es_fence_contains(u, 1, 1.5);   /* the notch's floor: an edge */
    r[5] = es_fence_contains(u, 3, 1.5);   /* the notch's open top: no edge there */
    r[6] = es_fence_contains(u, 1, 0.5);   /* ray through the reflex vertices (1,1), (2,1) */
    r[7] = es_fence_contains(u, 1, 3.5);   /* right of everything */
    size_t closing = u->n_points;
    es_fences_free(f);
    ES_ASSERT_EQ(r[0], 1);
    ES_ASSERT_EQ(r[1], 1);
    ES_ASSERT_EQ(r[2], 1);
    ES_ASSERT_EQ(r[3], 0);
    ES_ASSERT_EQ(r[4], 1);
    ES_ASSERT_EQ(r[5], 0);
    ES_ASSERT_EQ(r[6], 1);
    ES_ASSERT_EQ(r[7], 0);
    ES_ASSERT_EQ(closing, 8); /* the repeated closing point is dropped */
}

ES_TEST(pole_and_antimeridian_circles_are_handled)
{
    struct es_fences *f = load("[{\"id\":\"fiji\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
                               "\"circle\":{\"lat\":-17,\"lon\":179.999,\"radius_m\":1000}},"
                               " {\"id\":\"pole\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
                               "\"circle\":{\"lat\":89.999,\"lon\":0,\"radius_m\":5000}},"
                               " {\"id\":\"edge\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
                               "\"polygon\":[[179,0],[180,0],[180,1],[179,1]]}]");
    ES_ASSERT(f != NULL);
    const struct es_fence *out[3];
    size_t a = es_geo_match(f, -17, -179.998, out, 3); /* 300 m east, over the line */
    const struct es_fence *a0 = a ? out[0] : NULL;
    size_t b = es_geo_match(f, 89.99, 120, out, 3); /* 1.1 km from the center, lon far off */
    const struct es_fence *b0 = b ? out[0] : NULL;
    size_t c = es_geo_match(f, 90, -180, NULL, 0); /* the pole itself */
    size_t e = es_geo_match(f, 0.5, 180, NULL, 0); /* on the polygon's edge at 180 */
    size_t bad = es_geo_match(f, 91, 0, NULL, 0) + es_geo_match(f, 0, 180.5, NULL, 0) +
                 es_geo_match(f, NAN, 0, NULL, 0);
    const struct es_fence *fiji = es_fences_find(f, "fiji"), *pole = es_fences_find(f, "pole");
    es_fences_free(f);
    ES_ASSERT_EQ(a, 1);
    ES_ASSERT(a0 == fiji);
    ES_ASSERT_EQ(b, 1);
    ES_ASSERT(b0 == pole);
    ES_ASSERT_EQ(c, 1);
    ES_ASSERT_EQ(e, 1);
    ES_ASSERT_EQ(bad, 0);
}

ES_TEST(overlapping_fences_come_in_config_order_and_count_past_max)
{
    /* A large polygon (wide level), a medium circle and a small one, all over one point. */
    struct es_fences *f =
        load("[{\"id\":\"city\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
             "\"polygon\":[[116,39.5],[117,39.5],[117,40.5],[116,40.5]]},"
             " {\"id\":\"small\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
             "\"circle\":{\"lat\":39.9087,\"lon\":116.3747,\"radius_m\":50}},"
             " {\"id\":\"district\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
             "\"circle\":{\"lat\":39.91,\"lon\":116.37,\"radius_m\":5000}},"
             " {\"id\":\"tiny\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
             "\"circle\":{\"lat\":39.9087,\"lon\":116.3747,\"radius_m\":10}}]");
    ES_ASSERT(f != NULL);
    const struct es_fence *out[4];
    size_t n = es_geo_match(f, 39.9087, 116.3747, out, 4);
    int order = n == 4 && out[0] == es_fences_at(f, 0) && out[1] == es_fences_at(f, 1) &&
                out[2] == es_fences_at(f, 2) && out[3] == es_fences_at(f, 3);
    size_t two = es_geo_match(f, 39.9087, 116.3747, out, 2);
    int firsts = out[0] == es_fences_at(f, 0) && out[1] == es_fences_at(f, 1);
    es_fences_free(f);
    ES_ASSERT_EQ(n, 4);
    ES_ASSERT(order);
    ES_ASSERT_EQ(two, 4);
    ES_ASSERT(firsts);
}

ES_TEST(place_bbox_matches_only_when_smaller_than_the_fence)
{
    struct es_fences *f = load(SAMPLE);
    ES_ASSERT(f != NULL);
    const struct es_fence *out[2];
    /* A venue inside the terminal. */
    size_t venue = es_geo_match_bbox(f, -73.786, 40.644, -73.784, 40.646, out, 2);
    const struct es_fence *v0 = venue ? out[0] : NULL;
    /* A point place (Twitter "poi" bboxes are often degenerate). */
    size_t point = es_geo_match_bbox(f, -73.785, 40.645, -73.785, 40.645, NULL, 0);
    /* New York City: its center is elsewhere, and it is far larger. */
    size_t city = es_geo_match_bbox(f, -74.26, 40.48, -73.70, 40.92, NULL, 0);
    /* Centered on the terminal but wider than it. */
    size_t wide = es_geo_match_bbox(f, -73.80, 40.644, -73.77, 40.646, NULL, 0);
    /* Beijing around the Xidan store: centered near it, far larger than 300 m. */
    size_t beijing = es_geo_match_bbox(f, 116.0, 39.6, 116.75, 40.2, NULL, 0);
    /* Bad boxes: west > east (antimeridian), out of range. */
    size_t bad = es_geo_match_bbox(f, 179, -18, -179, -16, NULL, 0) +
                 es_geo_match_bbox(f, -73.786, 40.644, -73.784, 91, NULL, 0);
    const struct es_fence *jfk = es_fences_find(f, "jfk_t4");
    es_fences_free(f);
    ES_ASSERT_EQ(venue, 1);
    ES_ASSERT(v0 == jfk);
    ES_ASSERT_EQ(point, 1);
    ES_ASSERT_EQ(city, 0);
    ES_ASSERT_EQ(wide, 0);
    ES_ASSERT_EQ(beijing, 0);
    ES_ASSERT_EQ(bad, 0);
}

ES_TEST(bbox_from_json_shapes)
{
    static const char *const good[] = {
        "[-73.786, 40.644, -73.784, 40.646]",
        "[[[-73.786,40.644],[-73.784,40.644],[-73.784,40.646],[-73.786,40.646]]]",
        "[[-73.786,40.644],[-73.784,40.646]]",
    };
    static const char *const bad[] = {
        "[]",        "[1,2,3]", "[1,2,3,\"4\"]", "[-73, 41, -72, 40]", "[[[1,2]],[[3,4]]]", "[[1]]",
        "[[200,0]]", "{}",      "[[[]]]",        "[0, 0, 190, 1]",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        json_t *j = json_loads(good[i], 0, NULL);
        double b[4] = {0};
        int rc = es_geo_bbox_from_json(j, b);
        json_decref(j);
        if (rc || b[0] != -73.786 || b[1] != 40.644 || b[2] != -73.784 || b[3] != 40.646)
            ES_FAILF("good[%zu] %s: rc %d, %f %f %f %f", i, good[i], rc, b[0], b[1], b[2], b[3]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        double b[4];
        int rc = es_geo_bbox_from_json(j, b);
        json_decref(j);
        if (rc != ES_EPARSE)
            ES_FAILF("bad[%zu] %s: rc %d", i, bad[i], rc);
    }
    ES_ASSERT_EQ(es_geo_bbox_from_json(NULL, (double[4]){0}), ES_EPARSE);
}

ES_TEST(grid_agrees_with_a_plain_scan)
{
    /* Random circles and triangles of very different sizes; random probes near them. */
    srand(7);
    json_t *a = json_array();
    for (int i = 0; i < 600; i++) {
        double lat = 30 + (rand() % 10000) / 1000.0, lon = 110 + (rand() % 10000) / 1000.0;
        double size = (i % 10 == 0) ? 2.0 : (i % 3 == 0) ? 0.05 : 0.003;
        char id[32];
        snprintf(id, sizeof id, "f%d", i);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s}", "id", id, "brand", "b", "name", "n", "team", "t");
        if (i % 2) {
            json_object_set_new(
                o, "circle",
                json_pack("{s:f, s:f, s:f}", "lat", lat, "lon", lon, "radius_m", size * 111000));
        } else {
            json_object_set_new(o, "polygon",
                                json_pack("[[f,f],[f,f],[f,f]]", lon, lat, lon + size, lat,
                                          lon + size / 2, lat + size));
        }
        json_array_append_new(a, o);
    }
    struct es_fences *f = NULL;
    struct es_diag d = {0};
    int rc = es_fences_parse(a, &f, &d);
    json_decref(a);
    if (rc)
        ES_FAILF("parse: %s", d.msg);
    static const struct es_fence *out[600];
    size_t mismatches = 0, hits = 0;
    for (int k = 0; k < 20000; k++) {
        double lat = 29.9 + (rand() % 102000) / 10000.0, lon = 109.9 + (rand() % 102000) / 10000.0;
        size_t n = es_geo_match(f, lat, lon, out, 600), want = 0, j = 0;
        for (size_t i = 0; i < es_fences_count(f); i++) {
            if (!es_fence_contains(es_fences_at(f, i), lat, lon))
                continue;
            want++;
            if (j >= n || out[j++] != es_fences_at(f, i))
                mismatches++;
        }
        mismatches += n != want;
        hits += n;
    }
    es_fences_free(f);
    ES_ASSERT_EQ(mismatches, 0);
    ES_ASSERT(hits > 1000);
}

ES_TEST(empty_or_missing_section_is_an_empty_set)
{
    struct es_fences *f = NULL;
    ES_ASSERT_EQ(es_fences_parse(NULL, &f, NULL), 0);
    ES_ASSERT(f != NULL);
    size_t n = es_fences_count(f) + es_geo_match(f, 0, 0, NULL, 0) +
               es_geo_match_bbox(f, 0, 0, 1, 1, NULL, 0);
    ES_ASSERT(es_fences_find(f, "x") == NULL);
    es_fences_free(f);
    ES_ASSERT_EQ(n, 0);
    f = load("[]");
    ES_ASSERT(f != NULL);
    ES_ASSERT_EQ(es_fences_count(f), 0);
    es_fences_free(f);
    es_fences_free(NULL);
    ES_ASSERT_EQ(es_fences_count(NULL), 0);
    ES_ASSERT_EQ(es_geo_match(NULL, 0, 0, NULL, 0), 0);
}

#define C(body) "{\"id\":\"a\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," body "}"
#define CIRCLE "\"circle\":{\"lat\":1,\"lon\":2,\"radius_m\":3}"

ES_TEST(every_parse_error_names_its_key_path)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{}", "fences: must be an array"},
        {"[" C(CIRCLE) ", 5]", "fences[1]: must be an object"},
        {"[" C(CIRCLE ",\"radius_m\":3") "]",
         "fences[0].radius_m: unknown key (expected id, brand, name, team, circle, polygon)"},
        {"[{\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "}]",
         "fences[0].id: required (a non-empty string)"},
        {"[{\"id\":\"\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "}]",
         "fences[0].id: must be a non-empty string"},
        {"[{\"id\":7,\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "}]",
         "fences[0].id: must be a non-empty string"},
        {"[{\"id\":\"a b\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "}]",
         "fences[0].id: may hold only A-Z a-z 0-9 _ . : -"},
        {"[{\"id\":\"a\\u0000b\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "}]",
         "fences[0].id: must be a non-empty string"},
        {"[{\"id\":\"a\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "}]",
         "fences[0].brand: required (a non-empty string)"},
        {"[{\"id\":\"a\",\"brand\":\"b\",\"name\":null,\"team\":\"t\"," CIRCLE "}]",
         "fences[0].name: must be a non-empty string"},
        {"[{\"id\":\"a\",\"brand\":\"b\",\"name\":\"n\"," CIRCLE "}]",
         "fences[0].team: required (a non-empty string)"},
        {"[" C(CIRCLE) "," C(CIRCLE) "]", "fences[1].id: duplicate id \"a\" (first at fences[0])"},
        {"[" C("\"x\":1") "]",
         "fences[0].x: unknown key (expected id, brand, name, team, circle, polygon)"},
        {"[" C("\"team2\":1," CIRCLE) "]",
         "fences[0].team2: unknown key (expected id, brand, name, team, circle, polygon)"},
        {"[" C("\"center\":{}") "]",
         "fences[0].center: unknown key (expected id, brand, name, team, circle, polygon)"},
        {"[{\"id\":\"a\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"}]",
         "fences[0]: needs a circle or a polygon"},
        {"[" C(CIRCLE ",\"polygon\":[[0,0],[1,0],[0,1]]") "]",
         "fences[0]: has both circle and polygon; give one"},
        {"[" C("\"circle\":[1,2,3]") "]",
         "fences[0].circle: must be an object {\"lat\", \"lon\", \"radius_m\"}"},
        {"[" C("\"circle\":{\"lat\":1,\"lon\":2,\"radius\":3}") "]",
         "fences[0].circle.radius: unknown key (expected lat, lon, radius_m)"},
        {"[" C("\"circle\":{\"lon\":2,\"radius_m\":3}") "]",
         "fences[0].circle.lat: must be a number within -90..90"},
        {"[" C("\"circle\":{\"lat\":90.5,\"lon\":2,\"radius_m\":3}") "]",
         "fences[0].circle.lat: must be a number within -90..90"},
        {"[" C("\"circle\":{\"lat\":\"1\",\"lon\":2,\"radius_m\":3}") "]",
         "fences[0].circle.lat: must be a number within -90..90"},
        {"[" C("\"circle\":{\"lat\":1,\"lon\":-180.01,\"radius_m\":3}") "]",
         "fences[0].circle.lon: must be a number within -180..180"},
        {"[" C(CIRCLE) ",{\"id\":\"b\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
                       "\"circle\":{\"lat\":1,\"lon\":2}},"
                       "{\"id\":\"c\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
                       "\"circle\":{\"lat\":1,\"lon\":2,\"radius_m\":-5}}]",
         "fences[1].circle.radius_m: must be a number > 0"},
        {"[" C(CIRCLE) "," C(CIRCLE) "]", "fences[1].id: duplicate id \"a\" (first at fences[0])"},
        {"[{\"id\":\"x\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "},"
         "{\"id\":\"y\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\"," CIRCLE "},"
         "{\"id\":\"z\",\"brand\":\"b\",\"name\":\"n\",\"team\":\"t\","
         "\"circle\":{\"lat\":1,\"lon\":2,\"radius_m\":0}}]",
         "fences[2].circle.radius_m: must be a number > 0"},
        {"[" C("\"circle\":{\"lat\":1,\"lon\":2,\"radius_m\":2000000}") "]",
         "fences[0].circle.radius_m: must be at most 1000000 (use a polygon for larger areas)"},
        {"[" C("\"polygon\":{}") "]", "fences[0].polygon: must be an array of [lon, lat] points"},
        {"[" C("\"polygon\":[[[0,0],[1,0],[0,1]]]") "]",
         "fences[0].polygon: must be one ring [[lon, lat], ...], not GeoJSON polygon coordinates "
         "(holes are not supported)"},
        {"[" C("\"polygon\":[[0,0],[1,0],[0]]") "]",
         "fences[0].polygon[2]: must be a [lon, lat] pair of numbers"},
        {"[" C("\"polygon\":[[0,0],[1,0],[0,1,5]]") "]",
         "fences[0].polygon[2]: must be a [lon, lat] pair of numbers"},
        {"[" C("\"polygon\":[[0,0],[1,\"0\"],[0,1]]") "]",
         "fences[0].polygon[1]: must be a [lon, lat] pair of numbers"},
        {"[" C("\"polygon\":[[0,0],[181,0],[0,1]]") "]",
         "fences[0].polygon[1][0]: longitude must be within -180..180"},
        {"[" C("\"polygon\":[[0,0],[1,0],[0,-91]]") "]",
         "fences[0].polygon[2][1]: latitude must be within -90..90"},
        /* Lat/lon swapped (a classic): 116 is no latitude. */
        {"[" C("\"polygon\":[[39.9,116.3],[39.91,116.3],[39.91,116.31]]") "]",
         "fences[0].polygon[0][1]: latitude must be within -90..90"},
        {"[" C("\"polygon\":[]") "]",
         "fences[0].polygon: needs at least 3 distinct points (has 0)"},
        {"[" C("\"polygon\":[[0,0],[1,1],[0,0]]") "]",
         "fences[0].polygon: needs at least 3 distinct points (has 2)"},
        {"[" C("\"polygon\":[[0,0],[1,1],[0,0],[1,1]]") "]",
         "fences[0].polygon: needs at least 3 distinct points (has 2)"},
        {"[" C("\"polygon\":[[0,0],[1,1],[2,2],[0,0]]") "]",
         "fences[0].polygon: encloses no area (the points are collinear)"},
        {"[" C("\"polygon\":[[179,0],[-179,0],[-179,1],[179,1]]") "]",
         "fences[0].polygon[1]: the edge from the previous point spans more than 180 degrees of "
         "longitude (crosses the antimeridian); split the area into two fences"},
        {"[" C("\"polygon\":[[-179,1],[-179,0],[179,0]]") "]",
         "fences[0].polygon[2]: the edge from the previous point spans more than 180 degrees of "
         "longitude (crosses the antimeridian); split the area into two fences"},
        {"[" C("\"polygon\":[[179,0],[179.5,0],[-179.5,1]]") "]",
         "fences[0].polygon[2]: the edge from the previous point spans more than 180 degrees of "
         "longitude (crosses the antimeridian); split the area into two fences"},
        {"[" C("\"polygon\":[[-179.5,1],[179,0],[179.5,0]]") "]",
         "fences[0].polygon[1]: the edge from the previous point spans more than 180 degrees of "
         "longitude (crosses the antimeridian); split the area into two fences"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char msg[512];
        int rc = parse_error(cases[i].json, msg, sizeof msg);
        if (rc != ES_EPARSE || strcmp(msg, cases[i].msg) != 0)
            ES_FAILF("case %zu: rc %d\n    got  \"%s\"\n    want \"%s\"", i, rc, msg, cases[i].msg);
    }
}

ES_TEST(closing_edge_over_the_antimeridian_is_rejected)
{
    char msg[512];
    /* Every explicit edge spans less than 180 degrees; the implicit closing edge does not. */
    int rc = parse_error("[" C("\"polygon\":[[-179.9,0],[0,1],[179.9,0]]") "]", msg, sizeof msg);
    ES_ASSERT_EQ(rc, ES_EPARSE);
    ES_ASSERT_STR(msg, "fences[0].polygon: the closing edge spans more than 180 degrees of "
                       "longitude (crosses the antimeridian); split the area into two fences");
    /* Explicitly closed, the same ring fails at its last explicit edge instead. */
    rc = parse_error("[" C("\"polygon\":[[-179.9,0],[0,1],[179.9,0],[-179.9,0]]") "]", msg,
                     sizeof msg);
    ES_ASSERT_EQ(rc, ES_EPARSE);
    ES_ASSERT_STR(msg, "fences[0].polygon[3]: the edge from the previous point spans more than "
                       "180 degrees of longitude (crosses the antimeridian); split the area into "
                       "two fences");
    /* Touching 180 from one side is fine. */
    rc = parse_error("[" C("\"polygon\":[[179,0],[180,0],[180,1]]") "]", msg, sizeof msg);
    ES_ASSERT_EQ(rc, 0);
}

ES_TEST(limits_are_elimit)
{
    json_t *ring = json_array();
    for (int i = 0; i <= ES_GEO_MAX_RING + 1; i++)
        json_array_append_new(ring, json_pack("[f,f]", (double)(i % 7) / 10, (double)i / 1e5));
    json_t *a = json_pack("[{s:s, s:s, s:s, s:s, s:o}]", "id", "a", "brand", "b", "name", "n",
                          "team", "t", "polygon", ring);
    struct es_fences *f = NULL;
    struct es_diag d = {0};
    int rc = es_fences_parse(a, &f, &d);
    json_decref(a);
    ES_ASSERT_EQ(rc, ES_ELIMIT);
    ES_ASSERT(f == NULL);
    ES_ASSERT_STR(d.msg, "fences[0].polygon: more than 10000 points");
    /* Closed rings of exactly the cap (plus the closing point) are fine. */
    ring = json_array();
    for (int i = 0; i < ES_GEO_MAX_RING; i++) {
        double t = 2 * 3.14159265358979 * i / ES_GEO_MAX_RING;
        json_array_append_new(ring, json_pack("[f,f]", cos(t), sin(t)));
    }
    json_array_append_new(ring, json_pack("[f,f]", 1.0, 0.0));
    a = json_pack("[{s:s, s:s, s:s, s:s, s:o}]", "id", "a", "brand", "b", "name", "n", "team", "t",
                  "polygon", ring);
    rc = es_fences_parse(a, &f, &d);
    json_decref(a);
    if (rc)
        ES_FAILF("cap-sized ring: %s", d.msg);
    size_t pts = es_fences_at(f, 0)->n_points;
    int in = es_geo_match(f, 0.3, 0.2, NULL, 0) == 1 && es_geo_match(f, 0.8, 0.8, NULL, 0) == 0;
    es_fences_free(f);
    ES_ASSERT_EQ(pts, ES_GEO_MAX_RING);
    ES_ASSERT(in);
}

int main(void)
{
    ES_RUN(beijing_shanghai_is_about_1067_km);
    ES_RUN(sample_config_parses);
    ES_RUN(points_just_inside_and_outside_a_300m_circle);
    ES_RUN(square_polygon_edges_and_vertices_are_inside);
    ES_RUN(concave_polygon);
    ES_RUN(pole_and_antimeridian_circles_are_handled);
    ES_RUN(overlapping_fences_come_in_config_order_and_count_past_max);
    ES_RUN(place_bbox_matches_only_when_smaller_than_the_fence);
    ES_RUN(bbox_from_json_shapes);
    ES_RUN(grid_agrees_with_a_plain_scan);
    ES_RUN(empty_or_missing_section_is_an_empty_set);
    ES_RUN(every_parse_error_names_its_key_path);
    ES_RUN(closing_edge_over_the_antimeridian_is_rejected);
    ES_RUN(limits_are_elimit);
    return ES_DONE();
}
