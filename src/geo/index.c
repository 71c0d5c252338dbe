/*
 * index.c: the grid behind es_geo_match.
 *
 * Three levels of square cells in degrees, c, 16c and 256c, where c is
 * twice the median fence size (clamped to 0.0001..1 degree). Each fence
 * lives in the finest level where its bounding box covers at most 16 cells,
 * listed in every cell it touches; a fence too large even for the top level
 * goes to the "wide" list. Occupied cells sit in one open-addressing hash
 * table keyed by (level, column, row), each pointing at a slice of one
 * entries array; slices are ascending fence indices.
 *
 *   point ──> level 0 cell ─┐
 *         ──> level 1 cell ─┼─ merge (ascending index) ─> bbox check ─> exact test
 *         ──> level 2 cell ─┤
 *         ──> wide list ────┘
 *
 * A fence is in one level only and a point in one cell per level, so the
 * merge sees each candidate once, and the results come out in config order.
 * Longitude columns do not wrap: fences that would cross 180 (circles only;
 * polygons may not) have a -180..180 box and end up wide.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "earshot/alloc.h"
#include "earshot/geo.h"
#include "geo/internal.h"

#define CELLS_PER_FENCE 16
#define LEVEL_STEP 16.0

static uint64_t cell_key(int level, double cell, double lat, double lon)
{
    uint64_t ix = (uint64_t)floor((lon + 180) / cell), iy = (uint64_t)floor((lat + 90) / cell);
    return ((uint64_t)level << 62 | ix << 31 | iy) + 1;
}

static size_t slot_of(uint64_t key, size_t mask)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & mask;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct pair {
    uint64_t key;
    uint32_t idx;
};

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *p = a, *q = b;
    if (p->key != q->key)
        return p->key < q->key ? -1 : 1;
    return (p->idx > q->idx) - (p->idx < q->idx);
}

/* The level a fence fits in (its cell ranges in *ix0.. *iy1), or -1 for wide. */
static int level_of(const struct es_fences *f, const struct es_fence *fc, long *ix0, long *ix1,
                    long *iy0, long *iy1)
{
    for (int l = 0; l < ES__GEO_LEVELS; l++) {
        double c = f->cell_deg[l];
        *ix0 = (long)floor((fc->min_lon + 180) / c);
        *ix1 = (long)floor((fc->max_lon + 180) / c);
        *iy0 = (long)floor((fc->min_lat + 90) / c);
        *iy1 = (long)floor((fc->max_lat + 90) / c);
        if ((double)(*ix1 - *ix0 + 1) * (double)(*iy1 - *iy0 + 1) <= CELLS_PER_FENCE)
            return l;
    }
    return -1;
}

int es__geo_index_build(struct es_fences *f)
{
    if (f->n == 0)
        return 0;
    int rc = ES_ENOMEM;
    struct pair *pairs = NULL;
    double *ext = es_malloc(f->n * sizeof *ext);
    if (!ext)
        goto fail;
    for (size_t i = 0; i < f->n; i++)
        ext[i] = fmax(f->v[i].max_lat - f->v[i].min_lat, f->v[i].max_lon - f->v[i].min_lon);
    qsort(ext, f->n, sizeof *ext, cmp_double);
    double c = fmin(fmax(2 * ext[f->n / 2], 1e-4), 1.0);
    es_free(ext);
    for (int l = 0; l < ES__GEO_LEVELS; l++, c *= LEVEL_STEP)
        f->cell_deg[l] = c;

    size_t n_pairs = 0, n_wide = 0;
    long ix0, ix1, iy0, iy1;
    for (size_t i = 0; i < f->n; i++) {
        if (level_of(f, &f->v[i], &ix0, &ix1, &iy0, &iy1) < 0)
            n_wide++;
        else
            n_pairs += (size_t)((ix1 - ix0 + 1) * (iy1 - iy0 + 1));
    }
    pairs = es_malloc((n_pairs ? n_pairs : 1) * sizeof *pairs);
    f->entries = es_malloc((n_pairs ? n_pairs : 1) * sizeof *f->entries);
    f->wide = es_malloc((n_wide ? n_wide : 1) * sizeof *f->wide);
    if (!pairs || !f->entries || !f->wide)
        goto fail;
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        int l = level_of(f, &f->v[i], &ix0, &ix1, &iy0, &iy1);
        if (l < 0) {
            f->wide[f->n_wide++] = (uint32_t)i;
            continue;
        }
        for (long x = ix0; x <= ix1; x++)
            for (long y = iy0; y <= iy1; y++)
                pairs[k++] = (struct pair){
                    ((uint64_t)l << 62 | (uint64_t)x << 31 | (uint64_t)y) + 1, (uint32_t)i};
    }
    qsort(pairs, n_pairs, sizeof *pairs, cmp_pair);
    size_t n_cells = 0;
    for (size_t i = 0; i < n_pairs; i++)
        n_cells += i == 0 || pairs[i].key != pairs[i - 1].key;
    size_t slots = 16;
    while (slots < 2 * n_cells)
        slots *= 2;
    f->cells = es_calloc(slots, sizeof *f->cells);
    if (!f->cells)
        goto fail;
    f->cells_mask = slots - 1;
    for (size_t i = 0; i < n_pairs; i++) {
        f->entries[i] = pairs[i].idx;
        if (i > 0 && pairs[i].key == pairs[i - 1].key)
            continue;
        size_t s = slot_of(pairs[i].key, f->cells_mask);
        while (f->cells[s].key)
            s = (s + 1) & f->cells_mask;
        size_t end = i;
        while (end < n_pairs && pairs[end].key == pairs[i].key)
            end++;
        f->cells[s] = (struct es__geo_cell){pairs[i].key, (uint32_t)i, (uint32_t)(end - i)};
    }
    es_free(pairs);
    return 0;
fail:
    es_free(pairs);
    es__geo_index_free(f);
    return rc;
}

void es__geo_index_free(struct es_fences *f)
{
    es_free(f->cells);
    es_free(f->entries);
    es_free(f->wide);
    f->cells = NULL;
    f->entries = NULL;
    f->wide = NULL;
    f->n_wide = 0;
    f->cells_mask = 0;
}

struct list {
    const uint32_t *v;
    size_t n;
};

static struct list cell_list(const struct es_fences *f, uint64_t key)
{
    size_t s = slot_of(key, f->cells_mask);
    while (f->cells[s].key) {
        if (f->cells[s].key == key)
            return (struct list){f->entries + f->cells[s].start, f->cells[s].count};
        s = (s + 1) & f->cells_mask;
    }
    return (struct list){NULL, 0};
}

/* Fences holding the point whose bbox is at least min_w x min_h degrees. */
static size_t match(const struct es_fences *f, double lat, double lon, double min_w, double min_h,
                    const struct es_fence **out, size_t max)
{
    if (!f || !f->cells || !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180))
        return 0;
    struct list lists[ES__GEO_LEVELS + 1];
    for (int l = 0; l < ES__GEO_LEVELS; l++)
        lists[l] = cell_list(f, cell_key(l, f->cell_deg[l], lat, lon));
    lists[ES__GEO_LEVELS] = (struct list){f->wide, f->n_wide};
    size_t found = 0;
    for (;;) {
        int best = -1;
        for (int l = 0; l <= ES__GEO_LEVELS; l++)
            if (lists[l].n && (best < 0 || lists[l].v[0] < lists[best].v[0]))
                best = l;
        if (best < 0)
            break;
        const struct es_fence *fc = &f->v[lists[best].v[0]];
        lists[best].v++;
        lists[best].n--;
        if (lat < fc->min_lat || lat > fc->max_lat || lon < fc->min_lon || lon > fc->max_lon)
            continue;
        if (fc->max_lon - fc->min_lon < min_w || fc->max_lat - fc->min_lat < min_h)
            continue;
        if (!es_fence_contains(fc, lat, lon))
            continue;
        if (found < max && out)
            out[found] = fc;
        found++;
    }
    return found;
}

size_t es_geo_match(const struct es_fences *f, double lat, double lon, const struct es_fence **out,
                    size_t max)
{
    return match(f, lat, lon, 0, 0, out, max);
}

size_t es_geo_match_bbox(const struct es_fences *f, double west, double south, double east,
                         double north, const struct es_fence **out, size_t max)
{
    if (!(west >= -180 && east <= 180 && south >= -90 && north <= 90 && west <= east &&
          south <= north))
        return 0;
    return match(f, (south + north) / 2, (west + east) / 2, east - west, north - south, out, max);
}
