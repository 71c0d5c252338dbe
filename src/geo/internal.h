/*
 * geo/internal.h: what fence.c, index.c and sla.c share; never included
 * outside src/geo.
 */
#ifndef ES_GEO_INTERNAL_H
#define ES_GEO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "earshot/err.h"
#include "earshot/geo.h"

/* Key paths in messages are cut at this length (they are short in practice). */
#define ES__GEO_PATH_MAX 160

/* One occupied cell of the grid: its key and its slice of es_fences.entries. */
struct es__geo_cell {
    uint64_t key; /* level << 62 | ix << 31 | iy, plus 1 so 0 marks an empty slot */
    uint32_t start, count;
};

#define ES__GEO_LEVELS 3

struct es_fences {
    struct es_fence *v; /* n fences in config order; strings and rings owned */
    size_t n;
    uint32_t *by_id; /* indices sorted by id, for es_fences_find */
    /* The grid (index.c). */
    double cell_deg[ES__GEO_LEVELS];
    struct es__geo_cell *cells; /* open addressing, cells_mask + 1 slots */
    size_t cells_mask;
    uint32_t *entries; /* fence indices, ascending within each cell */
    uint32_t *wide;    /* fences too large for every level, ascending */
    size_t n_wide;
};

/*
 * es__geo_unknown_key checks that every key of obj is in the NULL-terminated
 * list allowed; on the first other key it fills d with "path.key: unknown key
 * (expected a, b, c)" and returns ES_EPARSE.
 */
int es__geo_unknown_key(const json_t *obj, const char *const *allowed, const char *path,
                        struct es_diag *d);

/* es__geo_index_build builds the grid over f->v; 0 or ES_ENOMEM (f then has no grid). */
int es__geo_index_build(struct es_fences *f);
void es__geo_index_free(struct es_fences *f);

#endif
