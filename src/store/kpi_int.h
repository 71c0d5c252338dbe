/* Private to the store module: the KPI key and histogram shared by kpi.c and state.c. */
#ifndef ES_STORE_KPI_INT_H
#define ES_STORE_KPI_INT_H

#include <stddef.h>
#include <stdint.h>

#define ES__KPI_TTL_S "8640000" /* 100 days */

/* es__kpi_key: "es:{s<shard>}:kpi:<yyyymmdd>" of the UTC day of ms. */
void es__kpi_key(int shard, int64_t ms, char *out, size_t n);
/* es__kpi_frt_bucket: the first-response-time bucket of a duration in seconds. */
int es__kpi_frt_bucket(int64_t seconds);

#endif
