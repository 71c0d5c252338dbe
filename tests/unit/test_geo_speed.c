/*
 * test_geo_speed: prints es_geo_match lookups per second over 10,000 fences
 * (store-sized circles and small polygons clustered in five cities, plus a
 * few district- and city-sized ones), next to a plain scan of every fence.
 * It only prints (timings depend on the machine); it fails only if the grid
 * and the scan disagree.
 */
#include <stdlib.h>
#include <time.h>

#include "earshot/geo.h"
#include "harness.h"

#define N_FENCES 10000
#define N_PROBES 200000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double frand(double lo, double hi)
{
    return lo + (hi - lo) * ((double)rand() / RAND_MAX);
}

static const double cities[][2] = {
    {39.90, 116.40}, {31.23, 121.47}, {40.71, -74.00}, {22.54, 114.06}, {51.50, -0.12}};

ES_TEST(lookups_per_second_over_10000_fences)
{
    srand(42);
    json_t *a = json_array();
    for (int i = 0; i < N_FENCES; i++) {
        const double *c = cities[i % 5];
        double lat = c[0] + frand(-0.3, 0.3), lon = c[1] + frand(-0.3, 0.3);
        char id[32];
        snprintf(id, sizeof id, "f%d", i);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s}", "id", id, "brand", "b", "name", "n", "team", "t");
        double r = i % 100 == 0 ? 5000 : i % 1000 == 1 ? 40000 : frand(50, 500);
        if (i % 4) {
            json_object_set_new(
                o, "circle", json_pack("{s:f, s:f, s:f}", "lat", lat, "lon", lon, "radius_m", r));
        } else {
            double s = r / 111000;
            json_object_set_new(o, "polygon",
                                json_pack("[[f,f],[f,f],[f,f],[f,f],[f,f]]", lon, lat, lon + s, lat,
                                          lon + s, lat + s, lon + s / 2, lat + s / 3, lon,
                                          lat + s));
        }
        json_array_append_new(a, o);
    }
    struct es_fences *f = NULL;
    struct es_diag d = {0};
    double t0 = now_s();
    int rc = es_fences_parse(a, &f, &d);
    double t_parse = now_s() - t0;
    json_decref(a);
    if (rc)
        ES_FAILF("parse: %s", d.msg);

    static double probes[N_PROBES][2];
    for (int i = 0; i < N_PROBES; i++) {
        const double *c = cities[i % 5];
        probes[i][0] = c[0] + frand(-0.35, 0.35);
        probes[i][1] = c[1] + frand(-0.35, 0.35);
    }
    const struct es_fence *out[64];
    size_t hits = 0;
    t0 = now_s();
    for (int i = 0; i < N_PROBES; i++)
        hits += es_geo_match(f, probes[i][0], probes[i][1], out, 64);
    double t_grid = now_s() - t0;

    size_t scan_hits = 0;
    int n_scan = N_PROBES / 20;
    t0 = now_s();
    for (int i = 0; i < n_scan; i++)
        for (size_t k = 0; k < es_fences_count(f); k++)
            scan_hits += es_fence_contains(es_fences_at(f, k), probes[i][0], probes[i][1]);
    double t_scan = now_s() - t0;
    size_t grid_hits = 0;
    for (int i = 0; i < n_scan; i++)
        grid_hits += es_geo_match(f, probes[i][0], probes[i][1], NULL, 0);
    es_fences_free(f);

    printf("  %d fences parsed and indexed in %.1f ms\n", N_FENCES, t_parse * 1e3);
    printf("  grid: %.0f lookups/s (%d lookups, %.2f fences per point)\n", N_PROBES / t_grid,
           N_PROBES, (double)hits / N_PROBES);
    printf("  scan: %.0f lookups/s (every fence tested)\n", n_scan / t_scan);
    ES_ASSERT_EQ(grid_hits, scan_hits);
}

int main(void)
{
    ES_RUN(lookups_per_second_over_10000_fences);
    return ES_DONE();
}
