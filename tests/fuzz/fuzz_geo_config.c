/*
 * Fuzz the geo config parsers: the input is a JSON document; an object gives
 * its "fences" and "sla" sections, an array is a fences section by itself.
 * Whatever parses is then queried: each fence's own center and bounding box
 * corners, a place bbox built from the input, and an SLA deadline.
 */
#include <stdint.h>
#include <string.h>

#include "earshot/geo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!root)
        return 0;
    const json_t *fences = json_is_array(root) ? root : json_object_get(root, "fences");
    const json_t *sla = json_object_get(root, "sla");
    struct es_diag d;
    struct es_fences *f = NULL;
    if (es_fences_parse(fences, &f, &d) == 0) {
        const struct es_fence *out[8];
        for (size_t i = 0; i < es_fences_count(f) && i < 64; i++) {
            const struct es_fence *fc = es_fences_at(f, i);
            es_geo_match(f, fc->lat, fc->lon, out, 8);
            es_geo_match(f, fc->min_lat, fc->min_lon, out, 8);
            es_geo_match(f, fc->max_lat, fc->max_lon, out, 8);
            es_geo_match_bbox(f, fc->min_lon, fc->min_lat, fc->max_lon, fc->max_lat, out, 8);
            if (es_fences_find(f, fc->id) == NULL)
                __builtin_trap();
        }
        double bbox[4];
        const json_t *place = json_object_get(root, "bbox");
        if (place && es_geo_bbox_from_json(place, bbox) == 0)
            es_geo_match_bbox(f, bbox[0], bbox[1], bbox[2], bbox[3], out, 8);
        es_fences_free(f);
    }
    struct es_sla_policy p;
    if (es_sla_parse(sla, &p, &d) == 0) {
        int64_t dl = es_sla_deadline_ms(&p, "wechat", "vip", 4, 1700000000, 1700000060000);
        if (dl <= 1700000000000 || es_sla_breached(dl, 1700000000000))
            __builtin_trap();
    }
    json_decref(root);
    return 0;
}
