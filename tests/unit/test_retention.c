/*
 * tests/unit/test_retention.c - retention policies (arca forget) and
 * snapshot grouping.
 *
 * The expected survivors of the two-year data set below were produced by
 * restic 0.14.0 itself (`forget --dry-run --json` on a repository holding
 * snapshots with exactly these times), with TZ=UTC and with
 * TZ=America/New_York: the reasons and counters are restic's too.
 */
#include "arca/snapshot.h"
#include "util/timefmt.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define NS ARCA_NS_PER_SEC

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static int64_t T(const char *rfc3339)
{
	int64_t t = 0;
	assert_int_equal(arca_time_parse(&t, rfc3339), 0);
	return t;
}

/* ---- snapshot sets ---- */

typedef struct snapset {
	arca_snapshot **v;
	size_t n, cap;
} snapset;

static arca_snapshot *add(snapset *s, int64_t time_ns, const char *host, const char *paths, const char *tags)
{
	arca_snapshot *x = calloc(1, sizeof(*x));
	char *copy, *tok, *save = NULL;
	assert_non_null(x);
	x->time_ns = time_ns;
	/* distinct ids that do not follow time order */
	x->id.b[0] = (uint8_t)(s->n * 37);
	x->id.b[1] = (uint8_t)(s->n >> 8);
	x->id.b[2] = (uint8_t)s->n;
	x->host = strdup(host);
	x->paths = calloc(8, sizeof(char *));
	x->tags = calloc(8, sizeof(char *));
	copy = strdup(paths);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		x->paths[x->npaths++] = strdup(tok);
	free(copy);
	copy = strdup(tags);
	save = NULL;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		x->tags[x->ntags++] = strdup(tok);
	free(copy);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		assert_non_null(s->v);
	}
	s->v[s->n++] = x;
	return x;
}

static void snapset_free(snapset *s)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		arca_snapshot_free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/*
 * Two years of "daily" snapshots, 2022-01-01 .. 2023-12-31 (day d from 0):
 * every ninth day missing, a 16-day gap (d 300..315, whole ISO weeks), all of
 * September 2023 missing, three snapshots on every seventh day, and times of
 * day wandering over all 24 hours.  786 snapshots.
 */
static void two_years(snapset *s)
{
	int d, k;
	for (d = 0; d < 730; d++) {
		if (d % 9 == 4 || (d >= 300 && d < 316) || (d >= 608 && d <= 637))
			continue;
		for (k = 0; k < (d % 7 == 2 ? 3 : 1); k++) {
			struct tm tm;
			memset(&tm, 0, sizeof(tm));
			tm.tm_year = 122;
			tm.tm_mday = 1 + d; /* timegm normalises */
			tm.tm_hour = (5 + 7 * d + 9 * k) % 24;
			tm.tm_min = (17 * d + 31 * k) % 60;
			tm.tm_sec = (d + k) % 60;
			add(s, (int64_t)timegm(&tm) * NS, "h", "/data", "");
		}
	}
	assert_int_equal(s->n, 786);
}

/* Shuffle, so the functions cannot rely on the input order. */
static void shuffle(snapset *s)
{
	size_t i;
	uint32_t x = 12345;
	for (i = s->n; i > 1; i--) {
		size_t j;
		arca_snapshot *t;
		x = x * 1103515245u + 12345u;
		j = (x >> 8) % i;
		t = s->v[i - 1];
		s->v[i - 1] = s->v[j];
		s->v[j] = t;
	}
}

typedef struct expect {
	const char *time;
	const char *reasons; /* '|'-separated */
	int counters[ARCA_CNT_N];
} expect;

static void collect(const char *reason, void *payload)
{
	char *b = payload;
	size_t l = strlen(b);
	snprintf(b + l, 1024 - l, "%s%s", l ? "|" : "", reason);
}

/* Apply p and compare the survivors (newest first), their reasons and
 * counters with e[0..ne). */
static void check_policy(snapset *s, const arca_retention *p, int64_t now, const expect *e, size_t ne)
{
	arca_retention_verdict *v = calloc(s->n, sizeof(*v));
	const arca_snapshot **kept = calloc(s->n, sizeof(*kept));
	const arca_retention_verdict **kv = calloc(s->n, sizeof(*kv));
	size_t i, j, nk = 0;
	assert_int_equal(arca_retention_apply(p, (const arca_snapshot *const *)s->v, s->n, now, v), 0);
	for (i = 0; i < s->n; i++) {
		assert_false(v[i].expired);
		if (!v[i].keep) {
			assert_int_equal(v[i].reasons, 0);
			continue;
		}
		/* insert newest first */
		for (j = nk; j > 0 && kept[j - 1]->time_ns < s->v[i]->time_ns; j--) {
			kept[j] = kept[j - 1];
			kv[j] = kv[j - 1];
		}
		kept[j] = s->v[i];
		kv[j] = &v[i];
		nk++;
	}
	for (i = 0; i < nk && i < ne; i++) {
		char t[48], reasons[1024] = "";
		arca_time_format(t, sizeof(t), kept[i]->time_ns);
		assert_string_equal(t, e[i].time);
		assert_int_equal(arca_retention_reasons(p, kv[i], collect, reasons), 0);
		assert_string_equal(reasons, e[i].reasons);
		assert_memory_equal(kv[i]->counters, e[i].counters, sizeof(e[i].counters));
	}
	assert_int_equal(nk, ne);
	free(v);
	free(kept);
	free(kv);
}

static const expect gfs_utc[] = {
	{ "2023-12-31T20:33:09Z", "daily snapshot|weekly snapshot|monthly snapshot|yearly snapshot", { 0, 0, 6, 3, 11, 2 } },
	{ "2023-12-30T13:16:08Z", "daily snapshot", { 0, 0, 5, 3, 11, 2 } },
	{ "2023-12-29T06:59:07Z", "daily snapshot", { 0, 0, 4, 3, 11, 2 } },
	{ "2023-12-28T23:42:06Z", "daily snapshot", { 0, 0, 3, 3, 11, 2 } },
	{ "2023-12-27T16:25:05Z", "daily snapshot", { 0, 0, 2, 3, 11, 2 } },
	{ "2023-12-25T20:53:05Z", "daily snapshot", { 0, 0, 1, 3, 11, 2 } },
	{ "2023-12-24T19:34:02Z", "daily snapshot|weekly snapshot", { 0, 0, 0, 2, 11, 2 } },
	{ "2023-12-16T11:18:54Z", "weekly snapshot", { 0, 0, 0, 1, 11, 2 } },
	{ "2023-12-10T17:36:48Z", "weekly snapshot", { 0, 0, 0, 0, 11, 2 } },
	{ "2023-11-30T19:46:38Z", "monthly snapshot", { 0, 0, 0, 0, 10, 2 } },
	{ "2023-10-31T01:16:08Z", "monthly snapshot", { 0, 0, 0, 0, 9, 2 } },
	/* no September 2023: the month uses no count */
	{ "2023-08-30T23:42:06Z", "monthly snapshot", { 0, 0, 0, 0, 8, 2 } },
	{ "2023-07-31T23:14:38Z", "monthly snapshot", { 0, 0, 0, 0, 7, 2 } },
	{ "2023-06-30T04:25:05Z", "monthly snapshot", { 0, 0, 0, 0, 6, 2 } },
	{ "2023-05-31T10:55:35Z", "monthly snapshot", { 0, 0, 0, 0, 5, 2 } },
	{ "2023-04-30T09:08:04Z", "monthly snapshot", { 0, 0, 0, 0, 4, 2 } },
	{ "2023-03-30T08:21:33Z", "monthly snapshot", { 0, 0, 0, 0, 3, 2 } },
	{ "2023-02-28T14:51:03Z", "monthly snapshot", { 0, 0, 0, 0, 2, 2 } },
	{ "2023-01-31T10:55:35Z", "monthly snapshot", { 0, 0, 0, 0, 1, 2 } },
	/* only two years exist: one yearly count is left over */
	{ "2022-12-30T02:51:03Z", "monthly snapshot|yearly snapshot", { 0, 0, 0, 0, 0, 1 } },
};

/* The same data in New York: snapshots late in the UTC evening belong to the
 * day before, early ones in the UTC morning to the day before too. */
static const expect gfs_ny[] = {
	{ "2023-12-31T20:33:09Z", "daily snapshot|weekly snapshot|monthly snapshot|yearly snapshot", { 0, 0, 6, 3, 11, 2 } },
	{ "2023-12-30T13:16:08Z", "daily snapshot", { 0, 0, 5, 3, 11, 2 } },
	{ "2023-12-29T06:59:07Z", "daily snapshot", { 0, 0, 4, 3, 11, 2 } },
	{ "2023-12-28T23:42:06Z", "daily snapshot", { 0, 0, 3, 3, 11, 2 } },
	{ "2023-12-27T16:25:05Z", "daily snapshot", { 0, 0, 2, 3, 11, 2 } },
	{ "2023-12-25T20:53:05Z", "daily snapshot", { 0, 0, 1, 3, 11, 2 } },
	{ "2023-12-25T02:51:03Z", "daily snapshot|weekly snapshot", { 0, 0, 0, 2, 11, 2 } },
	{ "2023-12-18T01:52:56Z", "weekly snapshot", { 0, 0, 0, 1, 11, 2 } },
	{ "2023-12-11T00:53:49Z", "weekly snapshot", { 0, 0, 0, 0, 11, 2 } },
	{ "2023-12-01T02:03:39Z", "monthly snapshot", { 0, 0, 0, 0, 10, 2 } },
	{ "2023-10-31T01:16:08Z", "monthly snapshot", { 0, 0, 0, 0, 9, 2 } },
	{ "2023-08-30T23:42:06Z", "monthly snapshot", { 0, 0, 0, 0, 8, 2 } },
	{ "2023-07-31T23:14:38Z", "monthly snapshot", { 0, 0, 0, 0, 7, 2 } },
	{ "2023-06-30T04:25:05Z", "monthly snapshot", { 0, 0, 0, 0, 6, 2 } },
	{ "2023-05-31T10:55:35Z", "monthly snapshot", { 0, 0, 0, 0, 5, 2 } },
	{ "2023-05-01T01:56:06Z", "monthly snapshot", { 0, 0, 0, 0, 4, 2 } },
	{ "2023-03-30T08:21:33Z", "monthly snapshot", { 0, 0, 0, 0, 3, 2 } },
	{ "2023-02-28T14:51:03Z", "monthly snapshot", { 0, 0, 0, 0, 2, 2 } },
	{ "2023-01-31T10:55:35Z", "monthly snapshot", { 0, 0, 0, 0, 1, 2 } },
	{ "2022-12-30T02:51:03Z", "monthly snapshot|yearly snapshot", { 0, 0, 0, 0, 0, 1 } },
};

static const int64_t later = 1735689600LL * NS; /* 2025-01-01: nothing is in the future */

static void test_gfs_two_years(void **state)
{
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	(void)state;
	two_years(&s);
	shuffle(&s);
	p.daily = 7;
	p.weekly = 4;
	p.monthly = 12;
	p.yearly = 3;
	set_tz("UTC");
	check_policy(&s, &p, later, gfs_utc, sizeof(gfs_utc) / sizeof(gfs_utc[0]));
	set_tz("America/New_York");
	check_policy(&s, &p, later, gfs_ny, sizeof(gfs_ny) / sizeof(gfs_ny[0]));
	set_tz("UTC");
	snapset_free(&s);
}

static void test_last_hourly(void **state)
{
	static const expect e[] = {
		{ "2023-12-31T20:33:09Z", "last snapshot|hourly snapshot", { 2, 4, 0, 0, 0, 0 } },
		{ "2023-12-30T13:16:08Z", "last snapshot|hourly snapshot", { 1, 3, 0, 0, 0, 0 } },
		{ "2023-12-29T06:59:07Z", "last snapshot|hourly snapshot", { 0, 2, 0, 0, 0, 0 } },
		{ "2023-12-28T23:42:06Z", "hourly snapshot", { 0, 1, 0, 0, 0, 0 } },
		{ "2023-12-27T16:25:05Z", "hourly snapshot", { 0, 0, 0, 0, 0, 0 } },
	};
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	(void)state;
	set_tz("UTC");
	two_years(&s);
	shuffle(&s);
	p.last = 3;
	p.hourly = 5;
	check_policy(&s, &p, later, e, sizeof(e) / sizeof(e[0]));
	snapset_free(&s);
}

static void test_within_buckets_ny(void **state)
{
	static const expect e[] = {
		{ "2023-12-31T20:33:09Z", "daily within 10d|weekly within 2m|monthly within 1y", { 0 } },
		{ "2023-12-30T13:16:08Z", "daily within 10d", { 0 } },
		{ "2023-12-29T06:59:07Z", "daily within 10d", { 0 } },
		{ "2023-12-28T23:42:06Z", "daily within 10d", { 0 } },
		{ "2023-12-27T16:25:05Z", "daily within 10d", { 0 } },
		{ "2023-12-25T20:53:05Z", "daily within 10d", { 0 } },
		{ "2023-12-25T02:51:03Z", "daily within 10d|weekly within 2m", { 0 } },
		{ "2023-12-23T12:17:01Z", "daily within 10d", { 0 } },
		{ "2023-12-22T05:00:00Z", "daily within 10d", { 0 } },
		{ "2023-12-21T22:43:59Z", "daily within 10d", { 0 } },
		{ "2023-12-18T01:52:56Z", "weekly within 2m", { 0 } },
		{ "2023-12-11T00:53:49Z", "weekly within 2m", { 0 } },
		{ "2023-12-03T16:37:41Z", "weekly within 2m", { 0 } },
		{ "2023-12-01T02:03:39Z", "monthly within 1y", { 0 } },
		{ "2023-11-26T15:38:34Z", "weekly within 2m", { 0 } },
		{ "2023-11-19T14:39:27Z", "weekly within 2m", { 0 } },
		{ "2023-11-12T13:40:20Z", "weekly within 2m", { 0 } },
		{ "2023-11-06T04:29:15Z", "weekly within 2m", { 0 } },
		{ "2023-10-31T01:16:08Z", "monthly within 1y", { 0 } },
		{ "2023-08-30T23:42:06Z", "monthly within 1y", { 0 } },
		{ "2023-07-31T23:14:38Z", "monthly within 1y", { 0 } },
		{ "2023-06-30T04:25:05Z", "monthly within 1y", { 0 } },
		{ "2023-05-31T10:55:35Z", "monthly within 1y", { 0 } },
		{ "2023-05-01T01:56:06Z", "monthly within 1y", { 0 } },
		{ "2023-03-30T08:21:33Z", "monthly within 1y", { 0 } },
		{ "2023-02-28T14:51:03Z", "monthly within 1y", { 0 } },
		{ "2023-01-31T10:55:35Z", "monthly within 1y", { 0 } },
	};
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	(void)state;
	two_years(&s);
	p.within_daily = (arca_span){ 0, 0, 10, 0 };
	p.within_weekly = (arca_span){ 0, 2, 0, 0 };
	p.within_monthly = (arca_span){ 1, 0, 0, 0 };
	set_tz("America/New_York");
	check_policy(&s, &p, later, e, sizeof(e) / sizeof(e[0]));
	set_tz("UTC");
	snapset_free(&s);
}

/* keep-within 1y5m7d2h over the two years: the newest is 2023-12-31T20:33:09Z,
 * so the cut-off is 2022-07-24 at 20:33:09 local time, minus 2 hours. */
static void test_within_calendar(void **state)
{
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	arca_retention_verdict *v;
	size_t i, nk;
	int64_t oldest;
	(void)state;
	two_years(&s);
	v = calloc(s.n, sizeof(*v));
	assert_int_equal(arca_span_parse(&p.within, "1y5m7d2h"), 0);
	set_tz("UTC"); /* cut-off 2022-07-24T18:33:09Z */
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), 0);
	for (nk = 0, oldest = INT64_MAX, i = 0; i < s.n; i++)
		if (v[i].keep) {
			nk++;
			assert_int_equal(v[i].reasons, ARCA_KEEP_WITHIN);
			oldest = s.v[i]->time_ns < oldest ? s.v[i]->time_ns : oldest;
		}
	assert_int_equal(nk, 552); /* restic 0.14: 552 */
	assert_int_equal(oldest, T("2022-07-25T00:05:25Z"));
	set_tz("America/New_York"); /* 15:33:09 EST -> 2022-07-24 13:33:09 EDT = 17:33:09Z */
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), 0);
	for (nk = 0, oldest = INT64_MAX, i = 0; i < s.n; i++)
		if (v[i].keep) {
			nk++;
			oldest = s.v[i]->time_ns < oldest ? s.v[i]->time_ns : oldest;
		}
	assert_int_equal(nk, 553); /* restic 0.14: 553 */
	assert_int_equal(oldest, T("2022-07-24T17:48:24Z"));
	set_tz("UTC");
	free(v);
	snapset_free(&s);
}

static bool kept(const arca_retention *p, snapset *s, int64_t now, size_t idx)
{
	arca_retention_verdict *v = calloc(s->n, sizeof(*v));
	bool k;
	assert_int_equal(arca_retention_apply(p, (const arca_snapshot *const *)s->v, s->n, now, v), 0);
	k = v[idx].keep;
	free(v);
	return k;
}

/* Calendar edges: month ends, the strict "after", DST (a day is 25 hours
 * when the clocks go back), hours as elapsed time, future snapshots. */
static void test_within_edges(void **state)
{
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	(void)state;
	set_tz("UTC");
	add(&s, T("2024-03-31T12:00:00Z"), "h", "/x", "");
	add(&s, T("2024-03-02T12:00:00Z"), "h", "/x", ""); /* Mar 31 - 1m = "Feb 31" = Mar 2 */
	add(&s, T("2024-03-02T12:00:01Z"), "h", "/x", "");
	p.within.months = 1;
	assert_true(kept(&p, &s, later, 0));
	assert_false(kept(&p, &s, later, 1)); /* exactly at the cut-off: not after it */
	assert_true(kept(&p, &s, later, 2));
	snapset_free(&s);

	set_tz("America/New_York");
	add(&s, T("2022-11-06T17:00:00Z"), "h", "/x", ""); /* 12:00 EST, the day clocks went back */
	add(&s, T("2022-11-05T16:00:00Z"), "h", "/x", ""); /* 12:00 EDT the day before */
	add(&s, T("2022-11-05T16:30:00Z"), "h", "/x", "");
	p.within = (arca_span){ 0, 0, 1, 0 };
	assert_false(kept(&p, &s, later, 1));
	assert_true(kept(&p, &s, later, 2));
	p.within = (arca_span){ 0, 0, 0, 24 }; /* 24 elapsed hours: cut-off 17:00Z */
	assert_false(kept(&p, &s, later, 2));
	snapset_free(&s);

	/* The cut-off's wall time does not exist (02:30 on the day clocks
	 * jump from 02:00 to 03:00): Go, so restic 0.14, lands on 06:30Z
	 * (01:30 EST), where mktime would give 07:30Z.  Checked with restic. */
	p.within = (arca_span){ 0, 0, 1, 0 };
	add(&s, T("2023-03-13T06:30:00Z"), "h", "/x", ""); /* 02:30 EDT */
	add(&s, T("2023-03-12T06:20:00Z"), "h", "/x", "");
	add(&s, T("2023-03-12T06:45:00Z"), "h", "/x", "");
	add(&s, T("2023-03-12T07:10:00Z"), "h", "/x", "");
	assert_false(kept(&p, &s, later, 1));
	assert_true(kept(&p, &s, later, 2));
	assert_true(kept(&p, &s, later, 3));
	snapset_free(&s);
	/* ... and twice (01:30 on the day clocks go back): the first, EDT */
	add(&s, T("2022-11-07T06:30:00Z"), "h", "/x", ""); /* 01:30 EST */
	add(&s, T("2022-11-06T05:20:00Z"), "h", "/x", "");
	add(&s, T("2022-11-06T05:40:00Z"), "h", "/x", "");
	assert_false(kept(&p, &s, later, 1));
	assert_true(kept(&p, &s, later, 2));
	snapset_free(&s);
	set_tz("UTC");

	/* a snapshot from the future is not "the newest" (restic) */
	add(&s, T("2030-01-01T00:00:00Z"), "h", "/x", "");
	add(&s, T("2024-06-01T10:00:00Z"), "h", "/x", "");
	add(&s, T("2024-05-31T11:00:00Z"), "h", "/x", "");
	add(&s, T("2024-05-31T09:00:00Z"), "h", "/x", "");
	p.within = (arca_span){ 0, 0, 1, 0 };
	assert_true(kept(&p, &s, T("2024-06-02T00:00:00Z"), 0));
	assert_true(kept(&p, &s, T("2024-06-02T00:00:00Z"), 2));
	assert_false(kept(&p, &s, T("2024-06-02T00:00:00Z"), 3));
	/* everything in the future: like restic, the within rule keeps all */
	assert_true(kept(&p, &s, T("2020-01-01T00:00:00Z"), 3));
	snapset_free(&s);
}

/* ISO weeks across New Year, and local days across midnight. */
static void test_calendar_buckets(void **state)
{
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	arca_retention_verdict v[8];
	(void)state;
	set_tz("UTC");
	add(&s, T("2020-12-28T10:00:00Z"), "h", "/x", ""); /* Mon, 2020-W53 */
	add(&s, T("2021-01-03T10:00:00Z"), "h", "/x", ""); /* Sun, 2020-W53 */
	add(&s, T("2021-01-04T10:00:00Z"), "h", "/x", ""); /* Mon, 2021-W01 */
	add(&s, T("2024-12-29T10:00:00Z"), "h", "/x", ""); /* Sun, 2024-W52 */
	add(&s, T("2024-12-30T10:00:00Z"), "h", "/x", ""); /* Mon, 2025-W01 */
	p.weekly = 10;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), 0);
	assert_false(v[0].keep);
	assert_true(v[1].keep && v[2].keep && v[3].keep && v[4].keep);
	assert_int_equal(v[1].counters[ARCA_CNT_WEEKLY], 6);
	snapset_free(&s);

	/* 23:30 UTC and 00:30 UTC are one day in New York, two days in UTC */
	add(&s, T("2023-03-01T23:30:00Z"), "h", "/x", "");
	add(&s, T("2023-03-02T00:30:00Z"), "h", "/x", "");
	p = (arca_retention)ARCA_RETENTION_INIT;
	p.daily = 5;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), 0);
	assert_true(v[0].keep && v[1].keep);
	set_tz("America/New_York");
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), 0);
	assert_false(v[0].keep);
	assert_true(v[1].keep);
	set_tz("UTC");
	snapset_free(&s);
}

static void test_keep_tags(void **state)
{
	static const char *const lists[] = { "a,b", " c ", "" };
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	arca_retention_verdict v[8];
	char reasons[1024] = "";
	(void)state;
	set_tz("UTC");
	add(&s, T("2023-01-01T10:00:00Z"), "h", "/x", "a");     /* only a: not a,b */
	add(&s, T("2023-01-02T10:00:00Z"), "h", "/x", "b,x,a"); /* a and b */
	add(&s, T("2023-01-03T10:00:00Z"), "h", "/x", "c");
	add(&s, T("2023-01-04T10:00:00Z"), "h", "/x", "");      /* untagged: the "" list */
	add(&s, T("2023-01-05T10:00:00Z"), "h", "/x", "a,b,c");
	add(&s, T("2023-01-06T10:00:00Z"), "h", "/x", "cc");
	p.keep_tags = lists;
	p.nkeep_tags = 3;
	p.last = 1;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), 0);
	assert_false(v[0].keep);
	assert_true(v[1].keep);
	assert_int_equal(v[1].tag_lists, 1);
	assert_true(v[2].keep);
	assert_int_equal(v[2].tag_lists, 2);
	assert_true(v[3].keep);
	assert_int_equal(v[3].tag_lists, 4);
	assert_true(v[4].keep);
	assert_int_equal(v[4].tag_lists, 3);
	assert_true(v[5].keep); /* keep-last only */
	assert_int_equal(v[5].reasons, ARCA_KEEP_LAST);
	assert_int_equal(arca_retention_reasons(&p, &v[4], collect, reasons), 0);
	assert_string_equal(reasons, "has tags [a, b]|has tags [c]");
	reasons[0] = '\0';
	assert_int_equal(arca_retention_reasons(&p, &v[3], collect, reasons), 0);
	assert_string_equal(reasons, "has tags []");
	snapset_free(&s);
}

/* arca's expiry: expired snapshots go whatever the rules say, and take no
 * part in them. */
static void test_expiry(void **state)
{
	static const char *const lists[] = { "keep" };
	snapset s = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	arca_retention_verdict v[8];
	char reasons[1024] = "";
	int64_t now = T("2023-06-10T00:00:00Z");
	(void)state;
	set_tz("UTC");
	add(&s, T("2023-06-01T10:00:00Z"), "h", "/x", "");
	add(&s, T("2023-06-02T10:00:00Z"), "h", "/x", "");
	add(&s, T("2023-06-03T10:00:00Z"), "h", "/x", "keep")->expires_ns = now - NS;
	add(&s, T("2023-06-03T08:00:00Z"), "h", "/x", "")->expires_ns = now + NS; /* not yet */
	add(&s, T("2023-06-09T10:00:00Z"), "h", "/x", "")->expires_ns = now;      /* at now: expired */

	/* empty policy: only the expired go */
	assert_true(arca_retention_is_empty(&p));
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, now, v), 0);
	assert_true(v[0].keep && v[1].keep && v[3].keep);
	assert_int_equal(v[0].reasons, ARCA_KEEP_NO_POLICY);
	assert_false(v[2].keep);
	assert_true(v[2].expired);
	assert_false(v[4].keep);
	assert_true(v[4].expired);
	assert_int_equal(arca_retention_reasons(&p, &v[0], collect, reasons), 0);
	assert_string_equal(reasons, "policy is empty");

	/* the expired newest fills neither keep-last nor a daily bucket, the
	 * expired tagged one is not saved by keep-tag, and keep-within counts
	 * from the newest snapshot that has not expired (Jun 3 08:00) */
	p.last = 1;
	p.daily = 2;
	p.keep_tags = lists;
	p.nkeep_tags = 1;
	p.within.days = 1;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, now, v), 0);
	assert_false(v[4].keep);
	assert_true(v[4].expired);
	assert_false(v[2].keep);
	assert_true(v[2].expired);
	assert_int_equal(v[2].reasons, 0);
	assert_true(v[3].keep);
	assert_int_equal(v[3].reasons, ARCA_KEEP_WITHIN | ARCA_KEEP_LAST | ARCA_KEEP_DAILY);
	assert_true(v[1].keep);
	assert_int_equal(v[1].reasons, ARCA_KEEP_WITHIN | ARCA_KEEP_DAILY);
	assert_false(v[0].keep);
	snapset_free(&s);
}

static void test_spans(void **state)
{
	arca_span d;
	char buf[64];
	(void)state;
	assert_int_equal(arca_span_parse(&d, "1y5m7d2h"), 0);
	assert_int_equal(d.years, 1);
	assert_int_equal(d.months, 5);
	assert_int_equal(d.days, 7);
	assert_int_equal(d.hours, 2);
	arca_span_format(buf, sizeof(buf), &d);
	assert_string_equal(buf, "1y5m7d2h");
	assert_int_equal(arca_span_parse(&d, " 2h3d "), 0); /* any order, trimmed */
	arca_span_format(buf, sizeof(buf), &d);
	assert_string_equal(buf, "3d2h");
	assert_int_equal(arca_span_parse(&d, "1y2y"), 0); /* restic: the last one wins */
	assert_int_equal(d.years, 2);
	assert_int_equal(arca_span_parse(&d, "0d"), 0);
	assert_true(arca_span_is_zero(&d));
	assert_int_equal(arca_span_parse(&d, "1y0m"), 0);
	arca_span_format(buf, sizeof(buf), &d);
	assert_string_equal(buf, "1y");
	assert_int_equal(arca_span_parse(&d, "5"), ARCA_INVAL);
	assert_int_equal(arca_span_parse(&d, "1w"), ARCA_INVAL);
	assert_int_equal(arca_span_parse(&d, "-1d"), ARCA_INVAL);
	assert_int_equal(arca_span_parse(&d, "d"), ARCA_INVAL);
	assert_int_equal(arca_span_parse(&d, "99999999999y"), ARCA_INVAL);
	assert_int_equal(arca_span_parse(&d, "1000000y"), 0); /* large but safe */
	assert_true(arca_span_is_zero(&(arca_span){ 0, 0, 0, 0 }));
}

static void test_describe_and_bad_policies(void **state)
{
	static const char *const lists[] = { "a,b", "c" };
	static const char *many[65];
	arca_retention p = ARCA_RETENTION_INIT;
	arca_retention_verdict v[2];
	snapset s = { 0 };
	arca_buf b = ARCA_BUF_INIT;
	size_t i;
	(void)state;
	p.last = 2;
	p.daily = 2;
	p.within_daily.years = 1;
	p.keep_tags = lists;
	p.nkeep_tags = 2;
	p.within = (arca_span){ 0, 1, 2, 0 };
	assert_false(arca_retention_is_empty(&p));
	assert_int_equal(arca_retention_describe(&p, &b), 0);
	assert_int_equal(arca_buf_cstr(&b), 0);
	/* restic 0.14 prints exactly this for the same flags */
	assert_string_equal((char *)b.data, "keep 2 latest, 2 daily snapshots, daily snapshots within 1y and all "
					    "snapshots with tags [[a, b] [c]] and all snapshots within 1m2d of the newest");
	arca_buf_free(&b);

	add(&s, T("2023-01-01T10:00:00Z"), "h", "/x", "");
	p = (arca_retention)ARCA_RETENTION_INIT;
	p.daily = -1;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), ARCA_INVAL);
	p.daily = 0;
	p.within.days = -1;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), ARCA_INVAL);
	p.within.days = 0;
	for (i = 0; i < 65; i++)
		many[i] = "t";
	p.keep_tags = many;
	p.nkeep_tags = 65;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), ARCA_INVAL);
	p.nkeep_tags = 64;
	assert_int_equal(arca_retention_apply(&p, (const arca_snapshot *const *)s.v, s.n, later, v), 0);
	assert_false(v[0].keep); /* untagged: no list matches */
	/* an empty group is fine */
	assert_int_equal(arca_retention_apply(&p, NULL, 0, later, NULL), 0);
	snapset_free(&s);
}

static void test_group_by(void **state)
{
	snapset s = { 0 };
	arca_snapshot_groups g = { 0 };
	unsigned by;
	(void)state;
	assert_int_equal(arca_group_by_parse(&by, "host,paths"), 0);
	assert_int_equal(by, ARCA_GROUP_DEFAULT);
	assert_int_equal(arca_group_by_parse(&by, "tags,host,path,hosts"), 0);
	assert_int_equal(by, ARCA_GROUP_HOST | ARCA_GROUP_PATHS | ARCA_GROUP_TAGS);
	assert_int_equal(arca_group_by_parse(&by, ""), 0);
	assert_int_equal(by, 0);
	assert_int_equal(arca_group_by_parse(&by, "host,time"), ARCA_INVAL);

	add(&s, T("2023-01-01T10:00:00Z"), "h2", "/b /a", "x,y");
	add(&s, T("2023-01-02T10:00:00Z"), "h1", "/a /b", "y,x");
	add(&s, T("2023-01-03T10:00:00Z"), "h1", "/b /a", "");
	add(&s, T("2023-01-04T10:00:00Z"), "h1", "/a", "x,y");
	add(&s, T("2023-01-05T10:00:00Z"), "h2", "/a /b", "z");

	/* host,paths: path order does not matter */
	assert_int_equal(arca_snapshot_groups_build(&g, (const arca_snapshot *const *)s.v, s.n, ARCA_GROUP_DEFAULT), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.v[0].host, "h1");
	assert_int_equal(g.v[0].npaths, 1);
	assert_string_equal(g.v[0].paths[0], "/a");
	assert_null(g.v[0].tags);
	assert_int_equal(g.v[1].n, 2);
	assert_string_equal(g.v[1].host, "h1");
	assert_int_equal(g.v[1].npaths, 2);
	assert_string_equal(g.v[1].paths[0], "/a");
	assert_string_equal(g.v[1].paths[1], "/b");
	assert_ptr_equal(g.v[1].v[0], s.v[2]); /* newest first */
	assert_ptr_equal(g.v[1].v[1], s.v[1]);
	assert_string_equal(g.v[2].host, "h2");
	assert_int_equal(g.v[2].n, 2);
	arca_snapshot_groups_free(&g);

	/* tags: set equality */
	assert_int_equal(arca_snapshot_groups_build(&g, (const arca_snapshot *const *)s.v, s.n, ARCA_GROUP_TAGS), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.v[0].ntags, 0); /* untagged sorts first */
	assert_null(g.v[0].host);
	assert_int_equal(g.v[1].n, 3);
	assert_string_equal(g.v[1].tags[0], "x");
	assert_string_equal(g.v[1].tags[1], "y");
	assert_int_equal(g.v[2].n, 1);
	arca_snapshot_groups_free(&g);

	/* nothing: one group of everything, newest first */
	assert_int_equal(arca_snapshot_groups_build(&g, (const arca_snapshot *const *)s.v, s.n, 0), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.v[0].n, 5);
	assert_ptr_equal(g.v[0].v[0], s.v[4]);
	assert_ptr_equal(g.v[0].v[4], s.v[0]);
	arca_snapshot_groups_free(&g);

	assert_int_equal(arca_snapshot_groups_build(&g, NULL, 0, ARCA_GROUP_DEFAULT), 0);
	assert_int_equal(g.n, 0);
	arca_snapshot_groups_free(&g);
	arca_snapshot_groups_free(NULL);
	snapset_free(&s);
}

/* Policies per group, end to end through the two helpers: one group's
 * snapshots never count against another's. */
static void test_policy_per_group(void **state)
{
	snapset s = { 0 };
	arca_snapshot_groups g = { 0 };
	arca_retention p = ARCA_RETENTION_INIT;
	arca_retention_verdict v[8];
	size_t i, k, nkeep = 0;
	(void)state;
	set_tz("UTC");
	for (i = 0; i < 4; i++) {
		add(&s, T("2023-01-01T10:00:00Z") + (int64_t)i * 86400 * NS, "h1", "/a", "");
		add(&s, T("2023-01-01T11:00:00Z") + (int64_t)i * 86400 * NS, "h2", "/a", "");
	}
	p.last = 2;
	assert_int_equal(arca_snapshot_groups_build(&g, (const arca_snapshot *const *)s.v, s.n, ARCA_GROUP_HOST), 0);
	assert_int_equal(g.n, 2);
	for (i = 0; i < g.n; i++) {
		assert_int_equal(arca_retention_apply(&p, g.v[i].v, g.v[i].n, later, v), 0);
		for (k = 0; k < g.v[i].n; k++) {
			nkeep += v[k].keep;
			assert_true(v[k].keep == (k < 2)); /* members are newest first */
		}
	}
	assert_int_equal(nkeep, 4);
	arca_snapshot_groups_free(&g);
	snapset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gfs_two_years),
		cmocka_unit_test(test_last_hourly),
		cmocka_unit_test(test_within_buckets_ny),
		cmocka_unit_test(test_within_calendar),
		cmocka_unit_test(test_within_edges),
		cmocka_unit_test(test_calendar_buckets),
		cmocka_unit_test(test_keep_tags),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_describe_and_bad_policies),
		cmocka_unit_test(test_group_by),
		cmocka_unit_test(test_policy_per_group),
	};
	set_tz("UTC");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
