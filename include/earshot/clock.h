/*
 * clock: time stamps as int64 seconds since the Unix epoch, UTC, and the
 * parsers for the date formats the platforms send.
 */
#ifndef ES_CLOCK_H
#define ES_CLOCK_H

#include <stdint.h>
#include <stddef.h>

/* es_clock_now: the wall clock in seconds. */
int64_t es_clock_now(void);
/* es_clock_now_ms: wall-clock milliseconds since the epoch (UTC). */
int64_t es_clock_now_ms(void);
/* es_clock_mono_ms: a monotonic clock in milliseconds, for durations. */
int64_t es_clock_mono_ms(void);
/* es_time_from_civil: seconds for a UTC calendar time (proleptic Gregorian). */
int64_t es_time_from_civil(int y, int mon, int d, int h, int mi, int s);
/* es_time_to_civil: the reverse. */
void es_time_to_civil(int64_t t, int *y, int *mon, int *d, int *h, int *mi, int *s);
/* es_time_parse_iso8601: "2024-01-01T11:04:37+08:00", "...Z", "...+0800",
 * fractions ignored, "2024-01-01 11:04:37" taken as UTC. 0 or ES_EPARSE. */
int es_time_parse_iso8601(const char *s, size_t n, int64_t *out);
/* es_time_parse_rfc2822ish: Twitter v1.1 / Weibo "Wed Oct 10 20:19:24 +0000 2018". */
int es_time_parse_twitter(const char *s, size_t n, int64_t *out);
/* es_time_format_iso8601: "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes). */
void es_time_format_iso8601(int64_t t, char *out);

#endif
