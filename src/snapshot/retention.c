/*
 * snapshot/retention.c - which snapshots a retention policy keeps
 * (`arca forget`), and grouping snapshots by host, paths and tags.
 *
 * The rules are restic 0.14's (internal/restic/snapshot_policy.go), so that
 * a policy written for restic keeps the same snapshots here:
 *   - a group is walked newest first (equal times: by id);
 *   - keep-last N keeps the N newest snapshots;
 *   - keep-hourly/daily/weekly/monthly/yearly N: each rule remembers the
 *     calendar bucket (local hour, day, ISO week, month, year) of the last
 *     snapshot it kept; a snapshot in a different bucket is kept and uses
 *     one of the N counts.  So each of the N newest buckets keeps its
 *     newest snapshot.  Buckets without snapshots use no count; when the
 *     counts are used up the rule keeps nothing more (restic 0.14 does not
 *     keep the oldest snapshot to fill remaining counts, later versions do);
 *   - keep-within SPAN keeps every snapshot strictly newer than
 *     newest - SPAN, where "newest" is the newest snapshot of the group that
 *     is not in the future, and years/months/days are subtracted on the
 *     local calendar (Go's time.AddDate: Mar 31 - 1m is Mar 3), then hours
 *     as elapsed time;
 *   - keep-within-hourly/daily/... SPAN keep the newest snapshot of every
 *     bucket newer than that cut-off, without a count;
 *   - keep-tag "a,b" keeps snapshots having both a and b; "" keeps
 *     untagged snapshots; tags are not counted.
 * A snapshot matched by several rules lists every reason.
 *
 * arca's own rule: a snapshot whose expiry time has passed is removed
 * whatever the rules say, and takes no part in them: it fills no bucket and
 * cannot be the "newest" snapshot that keep-within counts from.  Otherwise
 * an expired snapshot could use the one daily count of a day and leave that
 * day empty after it is deleted.
 *
 * Everything here is pure: no I/O, no allocation beyond scratch arrays.
 */
#include "arca/snapshot.h"
#include "util/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TAG_LISTS 64

/* ---- spans ---- */

int arca_span_parse(arca_span *out, const char *s)
{
	arca_span d = { 0, 0, 0, 0 };
	const char *p = s, *end;
	memset(out, 0, sizeof(*out));
	while (isspace((unsigned char)*p))
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	while (p < end) {
		long v = 0;
		const char *digits = p;
		while (p < end && isdigit((unsigned char)*p)) {
			if (v <= ARCA_SPAN_MAX)
				v = v * 10 + (*p - '0');
			p++;
		}
		if (p == digits)
			return arca_error_set(ARCA_INVAL, "cannot parse duration '%s': expected a number at '%.*s'%s", s,
					      (int)(end - p), p,
					      *p == '-' ? " (durations cannot be negative)" : "");
		if (v > ARCA_SPAN_MAX)
			return arca_error_set(ARCA_INVAL, "cannot parse duration '%s': %.*s is too large", s,
					      (int)(p - digits), digits);
		if (p == end)
			return arca_error_hint(arca_error_set(ARCA_INVAL, "cannot parse duration '%s': no unit after %ld",
							      s, v),
					       "units are y (years), m (months), d (days), h (hours): e.g. 1y5m7d2h");
		switch (*p) {
		case 'y': d.years = (int)v; break;
		case 'm': d.months = (int)v; break;
		case 'd': d.days = (int)v; break;
		case 'h': d.hours = (int)v; break;
		default:
			return arca_error_hint(arca_error_set(ARCA_INVAL, "cannot parse duration '%s': unknown unit '%c'",
							      s, *p),
					       "units are y (years), m (months), d (days), h (hours): e.g. 1y5m7d2h");
		}
		p++;
	}
	*out = d;
	return 0;
}

bool arca_span_is_zero(const arca_span *d)
{
	return !d->years && !d->months && !d->days && !d->hours;
}

void arca_span_format(char *out, size_t n, const arca_span *d)
{
	size_t l = 0;
	if (!n)
		return;
	out[0] = '\0';
#define SPAN_PART(v, u)                                                                  \
	if ((v) && l < n)                                                                \
		l += (size_t)snprintf(out + l, n - l, "%d%c", (v), (u));
	SPAN_PART(d->years, 'y')
	SPAN_PART(d->months, 'm')
	SPAN_PART(d->days, 'd')
	SPAN_PART(d->hours, 'h')
#undef SPAN_PART
}

static bool span_bad(const arca_span *d)
{
	return d->years < 0 || d->months < 0 || d->days < 0 || d->hours < 0 || d->years > ARCA_SPAN_MAX ||
	       d->months > ARCA_SPAN_MAX || d->days > ARCA_SPAN_MAX || d->hours > ARCA_SPAN_MAX;
}

/* ---- calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;
	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool local_tm(int64_t sec, struct tm *tm)
{
	time_t t = (time_t)sec;
	return localtime_r(&t, tm) != NULL;
}

/* UTC offset in seconds of the local zone at instant sec. */
static long local_offset(int64_t sec)
{
	struct tm tm;
	return local_tm(sec, &tm) ? tm.tm_gmtoff : 0;
}

/*
 * Go's t.AddDate(-years, -months, -days) in the local zone, on seconds:
 * the wall-clock fields are moved and normalised (Mar 31 - 1 month = "Feb
 * 31" = Mar 3), then turned back into an instant the way Go's time.Date
 * does (which differs from mktime only for wall times that a DST change
 * skips or repeats).
 */
static int64_t sub_date(int64_t sec, const arca_span *d)
{
	struct tm tm;
	int64_t year, mon0, days, wall, utc;
	long off;
	if (!local_tm(sec, &tm))
		return sec;
	year = (int64_t)tm.tm_year + 1900 - d->years;
	mon0 = (int64_t)tm.tm_mon - d->months;
	year += floor_div(mon0, 12);
	mon0 -= floor_div(mon0, 12) * 12;
	days = days_from_civil(year, mon0 + 1, 1) + tm.tm_mday - 1 - d->days;
	wall = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	/* Go: take the offset in force at the wall time read as UTC, and if
	 * the instant that gives is in another zone period, that period's
	 * offset: the offset in force at (wall - first guess) either way. */
	off = local_offset(wall);
	utc = wall - off;
	return wall - local_offset(utc);
}

/* The cut-off of a within rule: snapshots strictly after it match. */
static int64_t within_cutoff(bool has_latest, int64_t latest_ns, const arca_span *d)
{
	int64_t sec, frac, c;
	if (!has_latest)
		return INT64_MIN; /* restic: the zero time, so everything matches */
	sec = floor_div(latest_ns, ARCA_NS_PER_SEC);
	frac = latest_ns - sec * ARCA_NS_PER_SEC;
	c = sub_date(sec, d) - (int64_t)d->hours * 3600;
	if (c <= INT64_MIN / ARCA_NS_PER_SEC + 1)
		return INT64_MIN;
	return c * ARCA_NS_PER_SEC + frac;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Bucket keys, as restic computes them: YYYYMMDDHH, YYYYMMDD, ISO YYYYWW,
 * YYYYMM, YYYY. */
static void bucket_keys(const struct tm *tm, int64_t key[ARCA_CNT_N], int64_t nr)
{
	int64_t y = (int64_t)tm->tm_year + 1900, wy = y;
	int64_t thu = tm->tm_yday - (tm->tm_wday + 6) % 7 + 3; /* yday of this ISO week's Thursday */
	if (thu < 0) {
		wy--;
		thu += leap(wy) ? 366 : 365;
	} else if (thu >= (leap(y) ? 366 : 365)) {
		thu -= leap(y) ? 366 : 365;
		wy++;
	}
	key[ARCA_CNT_LAST] = nr;
	key[ARCA_CNT_HOURLY] = y * 1000000 + (tm->tm_mon + 1) * 10000 + tm->tm_mday * 100 + tm->tm_hour;
	key[ARCA_CNT_DAILY] = y * 10000 + (tm->tm_mon + 1) * 100 + tm->tm_mday;
	key[ARCA_CNT_WEEKLY] = wy * 100 + thu / 7 + 1;
	key[ARCA_CNT_MONTHLY] = y * 100 + tm->tm_mon + 1;
	key[ARCA_CNT_YEARLY] = y;
}

/* ---- tags ---- */

static bool has_tagn(const arca_snapshot *s, const char *t, size_t n)
{
	size_t i;
	for (i = 0; i < s->ntags; i++)
		if (strlen(s->tags[i]) == n && !memcmp(s->tags[i], t, n))
			return true;
	return false;
}

/* Calls fn for each tag of a list "a, b" (trimmed, empty ones included);
 * stops when fn returns non-zero and returns that. */
static int tag_list_each(const char *list, int (*fn)(const char *t, size_t n, void *payload), void *payload)
{
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ','), *a = p, *b = comma ? comma : p + strlen(p);
		int rc;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if ((rc = fn(a, (size_t)(b - a), payload)))
			return rc;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* 1: matched (an empty tag and an untagged snapshot), -1: a tag is
 * missing, 0: continue. */
static int tag_check(const char *t, size_t n, void *payload)
{
	const arca_snapshot *s = payload;
	if (n == 0 && s->ntags == 0)
		return 1;
	return has_tagn(s, t, n) ? 0 : -1;
}

bool arca_snapshot_has_tags(const arca_snapshot *s, const char *list)
{
	return tag_list_each(list, tag_check, (void *)s) >= 0;
}

typedef struct tag_fmt {
	arca_buf *b;
	bool first;
} tag_fmt;

static int tag_append(const char *t, size_t n, void *payload)
{
	tag_fmt *f = payload;
	int rc = f->first ? 0 : arca_buf_puts(f->b, ", ");
	f->first = false;
	return rc ? rc : arca_buf_put(f->b, t, n);
}

/* "[a, b]" as restic prints a TagList. */
static int tag_list_format(arca_buf *b, const char *list)
{
	tag_fmt f = { b, true };
	int rc = arca_buf_puts(b, "[");
	if (!rc)
		rc = tag_list_each(list, tag_append, &f);
	return rc ? rc : arca_buf_puts(b, "]");
}

/* ---- the policy ---- */

static const arca_span *within_span(const arca_retention *p, int i)
{
	const arca_span *w[ARCA_CNT_N] = { NULL, &p->within_hourly, &p->within_daily, &p->within_weekly,
					   &p->within_monthly, &p->within_yearly };
	return w[i];
}

static int count_of(const arca_retention *p, int i)
{
	const int c[ARCA_CNT_N] = { p->last, p->hourly, p->daily, p->weekly, p->monthly, p->yearly };
	return c[i];
}

bool arca_retention_is_empty(const arca_retention *p)
{
	int i;
	if (p->nkeep_tags || !arca_span_is_zero(&p->within))
		return false;
	for (i = 0; i < ARCA_CNT_N; i++)
		if (count_of(p, i) || (i && !arca_span_is_zero(within_span(p, i))))
			return false;
	return true;
}

static int policy_check(const arca_retention *p)
{
	int i;
	if (p->version != 1)
		return arca_error_set(ARCA_INVAL, "retention policy: unknown version %u", p->version);
	for (i = 0; i < ARCA_CNT_N; i++)
		if (count_of(p, i) < 0)
			return arca_error_set(ARCA_INVAL, "retention policy: counts cannot be negative (%d)", count_of(p, i));
	if (span_bad(&p->within))
		return arca_error_set(ARCA_INVAL, "retention policy: bad keep-within span");
	for (i = 1; i < ARCA_CNT_N; i++)
		if (span_bad(within_span(p, i)))
			return arca_error_set(ARCA_INVAL, "retention policy: bad keep-within-* span");
	if (p->nkeep_tags > MAX_TAG_LISTS)
		return arca_error_set(ARCA_INVAL, "retention policy: at most %d tag lists (got %zu)", MAX_TAG_LISTS,
				      p->nkeep_tags);
	if (p->nkeep_tags && !p->keep_tags)
		return arca_error_set(ARCA_INVAL, "retention policy: keep_tags is NULL");
	return 0;
}

typedef struct ord_item {
	const arca_snapshot *s;
	size_t i; /* index into the caller's group */
} ord_item;

static int cmp_newest_first(const void *a, const void *b)
{
	const ord_item *x = a, *y = b;
	if (x->s->time_ns != y->s->time_ns)
		return x->s->time_ns > y->s->time_ns ? -1 : 1;
	return arca_id_cmp(&x->s->id, &y->s->id);
}

int arca_retention_apply(const arca_retention *p, const arca_snapshot *const *group, size_t n, int64_t now_ns,
			 arca_retention_verdict *out)
{
	ord_item *ord = NULL;
	size_t m = 0, i, nr;
	int64_t latest = 0, cut_within = 0, cut[ARCA_CNT_N] = { 0 };
	int64_t last_key[ARCA_CNT_N], wlast_key[ARCA_CNT_N];
	int count[ARCA_CNT_N];
	bool has_latest = false, empty;
	int rc, b;
	if ((rc = policy_check(p)))
		return rc;
	if (n == 0)
		return 0;
	memset(out, 0, n * sizeof(*out));
	if (!(ord = malloc(n * sizeof(*ord))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const arca_snapshot *s = group[i];
		if (s->expires_ns && s->expires_ns <= now_ns) {
			out[i].expired = true;
			continue;
		}
		ord[m].s = s;
		ord[m++].i = i;
		/* restic: the newest snapshot that is not in the future */
		if (s->time_ns < now_ns && (!has_latest || s->time_ns > latest)) {
			latest = s->time_ns;
			has_latest = true;
		}
	}
	qsort(ord, m, sizeof(*ord), cmp_newest_first);
	empty = arca_retention_is_empty(p);
	if (!arca_span_is_zero(&p->within))
		cut_within = within_cutoff(has_latest, latest, &p->within);
	for (b = 0; b < ARCA_CNT_N; b++) {
		count[b] = count_of(p, b);
		last_key[b] = wlast_key[b] = INT64_MIN;
		if (b && !arca_span_is_zero(within_span(p, b)))
			cut[b] = within_cutoff(has_latest, latest, within_span(p, b));
	}
	for (nr = 0; nr < m; nr++) {
		const arca_snapshot *s = ord[nr].s;
		arca_retention_verdict *v = &out[ord[nr].i];
		int64_t key[ARCA_CNT_N];
		struct tm tm;
		size_t t;
		if (empty) {
			v->keep = true;
			v->reasons = ARCA_KEEP_NO_POLICY;
			continue;
		}
		memset(&tm, 0, sizeof(tm));
		local_tm(floor_div(s->time_ns, ARCA_NS_PER_SEC), &tm);
		bucket_keys(&tm, key, (int64_t)nr);
		for (t = 0; t < p->nkeep_tags; t++)
			if (arca_snapshot_has_tags(s, p->keep_tags[t])) {
				v->tag_lists |= 1ull << t;
				v->reasons |= ARCA_KEEP_TAGS;
			}
		if (!arca_span_is_zero(&p->within) && s->time_ns > cut_within)
			v->reasons |= ARCA_KEEP_WITHIN;
		for (b = 0; b < ARCA_CNT_N; b++) {
			if (count[b] > 0 && key[b] != last_key[b]) {
				last_key[b] = key[b];
				count[b]--;
				v->reasons |= ARCA_KEEP_LAST << b;
			}
		}
		for (b = 1; b < ARCA_CNT_N; b++) {
			if (!arca_span_is_zero(within_span(p, b)) && s->time_ns > cut[b] && key[b] != wlast_key[b]) {
				wlast_key[b] = key[b];
				v->reasons |= ARCA_KEEP_WITHIN_HOURLY << (b - 1);
			}
		}
		v->keep = v->reasons != 0;
		if (v->keep)
			memcpy(v->counters, count, sizeof(count));
	}
	free(ord);
	return 0;
}

int arca_retention_reasons(const arca_retention *p, const arca_retention_verdict *v,
			   void (*cb)(const char *reason, void *payload), void *payload)
{
	static const char *const bucket_reason[ARCA_CNT_N] = {
		"last snapshot", "hourly snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot",
	};
	static const char *const within_reason[ARCA_CNT_N] = {
		NULL, "hourly within", "daily within", "weekly within", "monthly within", "yearly within",
	};
	char span[64], line[96];
	size_t t;
	int b, rc;
	if (!v->keep)
		return 0;
	if (v->reasons & ARCA_KEEP_NO_POLICY)
		cb("policy is empty", payload);
	if (v->reasons & ARCA_KEEP_TAGS) {
		for (t = 0; t < p->nkeep_tags && t < MAX_TAG_LISTS; t++) {
			arca_buf bb = ARCA_BUF_INIT;
			if (!(v->tag_lists & (1ull << t)))
				continue;
			rc = arca_buf_puts(&bb, "has tags ");
			if (!rc)
				rc = tag_list_format(&bb, p->keep_tags[t]);
			if (!rc)
				rc = arca_buf_cstr(&bb);
			if (rc) {
				arca_buf_free(&bb);
				return rc;
			}
			cb((const char *)bb.data, payload);
			arca_buf_free(&bb);
		}
	}
	if (v->reasons & ARCA_KEEP_WITHIN) {
		arca_span_format(span, sizeof(span), &p->within);
		snprintf(line, sizeof(line), "within %s", span);
		cb(line, payload);
	}
	for (b = 0; b < ARCA_CNT_N; b++)
		if (v->reasons & (ARCA_KEEP_LAST << b))
			cb(bucket_reason[b], payload);
	for (b = 1; b < ARCA_CNT_N; b++)
		if (v->reasons & (ARCA_KEEP_WITHIN_HOURLY << (b - 1))) {
			arca_span_format(span, sizeof(span), within_span(p, b));
			snprintf(line, sizeof(line), "%s %s", within_reason[b], span);
			cb(line, payload);
		}
	return 0;
}

int arca_retention_describe(const arca_retention *p, arca_buf *out)
{
	static const char *const name[ARCA_CNT_N] = { "latest", "hourly", "daily", "weekly", "monthly", "yearly" };
	char span[64];
	bool any = false, anyw = false;
	size_t t;
	int b, rc = arca_buf_puts(out, "keep ");
	for (b = 0; !rc && b < ARCA_CNT_N; b++)
		if (count_of(p, b) > 0) {
			rc = arca_buf_printf(out, "%s%d %s", any ? ", " : "", count_of(p, b), name[b]);
			any = true;
		}
	if (!rc && any)
		rc = arca_buf_puts(out, " snapshots");
	for (b = 1; !rc && b < ARCA_CNT_N; b++)
		if (!arca_span_is_zero(within_span(p, b))) {
			arca_span_format(span, sizeof(span), within_span(p, b));
			rc = arca_buf_printf(out, "%s%s snapshots within %s", any || anyw ? ", " : "", name[b], span);
			anyw = true;
		}
	any = any || anyw;
	if (!rc && p->nkeep_tags) {
		rc = arca_buf_puts(out, any ? " and all snapshots with tags [" : "all snapshots with tags [");
		for (t = 0; !rc && t < p->nkeep_tags; t++) {
			if (t)
				rc = arca_buf_puts(out, " ");
			if (!rc)
				rc = tag_list_format(out, p->keep_tags[t]);
		}
		if (!rc)
			rc = arca_buf_puts(out, "]");
		any = true;
	}
	if (!rc && !arca_span_is_zero(&p->within)) {
		arca_span_format(span, sizeof(span), &p->within);
		rc = arca_buf_printf(out, "%sall snapshots within %s of the newest", any ? " and " : "", span);
	}
	return rc;
}

/* ---- grouping ---- */

int arca_group_by_parse(unsigned *out, const char *s)
{
	const char *p = s;
	unsigned by = 0;
	*out = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
#define IS(w) (n == strlen(w) && !strncmp(p, (w), n))
		if (IS("host") || IS("hosts"))
			by |= ARCA_GROUP_HOST;
		else if (IS("path") || IS("paths"))
			by |= ARCA_GROUP_PATHS;
		else if (IS("tag") || IS("tags"))
			by |= ARCA_GROUP_TAGS;
		else if (n)
			return arca_error_hint(arca_error_set(ARCA_INVAL, "unknown grouping option '%.*s'", (int)n, p),
					       "--group-by takes a comma-separated list of host, paths, tags (or '')");
#undef IS
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = by;
	return 0;
}

typedef struct group_entry {
	const arca_snapshot *s;
	const char *host;
	const char **paths, **tags;
	size_t npaths, ntags;
} group_entry;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_strv(const char **a, size_t na, const char **b, size_t nb)
{
	size_t i;
	for (i = 0; i < na && i < nb; i++) {
		int c = strcmp(a[i], b[i]);
		if (c)
			return c;
	}
	return na < nb ? -1 : na > nb;
}

static int cmp_key(const group_entry *x, const group_entry *y)
{
	int c;
	if (x->host && y->host && (c = strcmp(x->host, y->host)))
		return c;
	if ((c = cmp_strv(x->paths, x->npaths, y->paths, y->npaths)))
		return c;
	return cmp_strv(x->tags, x->ntags, y->tags, y->ntags);
}

static int cmp_entry(const void *a, const void *b)
{
	const group_entry *x = a, *y = b;
	int c = cmp_key(x, y);
	if (c)
		return c;
	if (x->s->time_ns != y->s->time_ns)
		return x->s->time_ns > y->s->time_ns ? -1 : 1;
	return arca_id_cmp(&x->s->id, &y->s->id);
}

/* A sorted copy of a string vector (NULL when empty). */
static int sorted_copy(const char ***out, char *const *v, size_t n)
{
	*out = NULL;
	if (!n)
		return 0;
	if (!(*out = malloc(n * sizeof(**out))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	memcpy(*out, v, n * sizeof(**out));
	qsort(*out, n, sizeof(**out), cmp_str);
	return 0;
}

int arca_snapshot_groups_build(arca_snapshot_groups *out, const arca_snapshot *const *v, size_t n, unsigned by)
{
	group_entry *e = NULL;
	size_t i, j, ng = 0;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	if (!(e = calloc(n, sizeof(*e))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		e[i].s = v[i];
		if (by & ARCA_GROUP_HOST)
			e[i].host = v[i]->host ? v[i]->host : "";
		if ((by & ARCA_GROUP_PATHS) && (rc = sorted_copy(&e[i].paths, v[i]->paths, v[i]->npaths)))
			goto out;
		e[i].npaths = e[i].paths ? v[i]->npaths : 0;
		if ((by & ARCA_GROUP_TAGS) && (rc = sorted_copy(&e[i].tags, v[i]->tags, v[i]->ntags)))
			goto out;
		e[i].ntags = e[i].tags ? v[i]->ntags : 0;
	}
	qsort(e, n, sizeof(*e), cmp_entry);
	for (i = 0; i < n; i++)
		if (i == 0 || cmp_key(&e[i - 1], &e[i]))
			ng++;
	if (!(out->v = calloc(ng, sizeof(*out->v)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i = j) {
		arca_snapshot_group *g = &out->v[out->n++];
		for (j = i + 1; j < n && !cmp_key(&e[i], &e[j]); j++)
			;
		if (!(g->v = malloc((j - i) * sizeof(*g->v)))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		for (g->n = 0; g->n < j - i; g->n++)
			g->v[g->n] = e[i + g->n].s;
		/* the group takes the first member's key arrays */
		g->host = e[i].host;
		g->paths = e[i].paths;
		g->npaths = e[i].npaths;
		g->tags = e[i].tags;
		g->ntags = e[i].ntags;
		e[i].paths = e[i].tags = NULL;
	}
out:
	for (i = 0; i < n; i++) {
		free(e[i].paths);
		free(e[i].tags);
	}
	free(e);
	if (rc)
		arca_snapshot_groups_free(out);
	return rc;
}

void arca_snapshot_groups_free(arca_snapshot_groups *g)
{
	size_t i;
	if (!g)
		return;
	for (i = 0; i < g->n; i++) {
		free(g->v[i].v);
		free(g->v[i].paths);
		free(g->v[i].tags);
	}
	free(g->v);
	memset(g, 0, sizeof(*g));
}
