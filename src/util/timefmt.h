/*
 * util/timefmt.h - times and durations as arca shows and parses them.
 *
 * Times are int64 nanoseconds since the Unix epoch (UTC).  Output is RFC
 * 3339 in UTC ("2026-11-01T02:00:00Z", with fractional seconds when
 * non-zero).  Input accepts RFC 3339 with Z or +hh:mm offsets, with or
 * without seconds, and restic's local form "2026-11-01 02:00:00" (local
 * time).  Durations: "30d", "12h", "90m", "45s", "2w", "1y" (365 d),
 * combinations like "1d12h".
 */
#ifndef ARCA_UTIL_TIMEFMT_H
#define ARCA_UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define ARCA_NS_PER_SEC 1000000000LL

int64_t arca_time_now_ns(void);
/* out holds at least 40 bytes. */
void arca_time_format(char *out, size_t n, int64_t ns);
/* Local time, "2026-11-01 02:00:00" (for tables). */
void arca_time_format_local(char *out, size_t n, int64_t ns);
int arca_time_parse(int64_t *out_ns, const char *s);
int arca_duration_parse(int64_t *out_ns, const char *s);
/* Monotonic seconds, for durations and progress. */
double arca_monotonic(void);

#endif
