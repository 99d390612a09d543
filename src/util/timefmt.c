/* util/timefmt.c - time formatting and parsing (see timefmt.h). */
#include "util/timefmt.h"
#include "arca/error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t arca_time_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * ARCA_NS_PER_SEC + ts.tv_nsec;
}

double arca_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void split(int64_t ns, time_t *sec, long *frac)
{
	int64_t s = ns / ARCA_NS_PER_SEC, f = ns % ARCA_NS_PER_SEC;
	if (f < 0) {
		f += ARCA_NS_PER_SEC;
		s--;
	}
	*sec = (time_t)s;
	*frac = (long)f;
}

void arca_time_format(char *out, size_t n, int64_t ns)
{
	time_t sec;
	long frac;
	struct tm tm;
	size_t l;
	split(ns, &sec, &frac);
	gmtime_r(&sec, &tm);
	l = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac && l < n)
		l += (size_t)snprintf(out + l, n - l, ".%09ld", frac);
	if (l < n)
		snprintf(out + l, n - l, "Z");
}

void arca_time_format_local(char *out, size_t n, int64_t ns)
{
	time_t sec;
	long frac;
	struct tm tm;
	split(ns, &sec, &frac);
	localtime_r(&sec, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0, i;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int arca_time_parse(int64_t *out_ns, const char *s)
{
	const char *p = s;
	struct tm tm;
	int Y, M, D, h = 0, m = 0, sec = 0, local = 0;
	long frac = 0;
	int64_t off = 0, t;
	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
		goto bad;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		local = (*p == ' ');
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
			goto bad;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				goto bad;
			if (*p == '.') {
				long scale = 100000000;
				p++;
				if (!isdigit((unsigned char)*p))
					goto bad;
				while (isdigit((unsigned char)*p)) {
					frac += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
	} else if (*p == '\0') {
		local = 1; /* a bare date means local midnight */
	}
	if (*p == 'Z' || *p == 'z') {
		local = 0;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (digits(&p, 2, &oh))
			goto bad;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om) || oh > 23 || om > 59)
			goto bad;
		off = sign * ((int64_t)oh * 3600 + om * 60);
		local = 0;
	} else if (*p == '\0' && !local) {
		local = 1; /* "2026-11-01T02:00" without zone: local time */
	}
	if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		goto bad;
	{
		/* timegm/mktime would silently turn Feb 30 into Mar 2 */
		static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
		if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap))
			goto bad;
	}
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	if (local) {
		tm.tm_isdst = -1;
		t = (int64_t)mktime(&tm);
	} else {
		t = (int64_t)timegm(&tm) - off;
	}
	/* nanoseconds since 1970 in 64 bits reach from 1677 to 2262 */
	if (t > INT64_MAX / ARCA_NS_PER_SEC - 1 || t < INT64_MIN / ARCA_NS_PER_SEC + 1)
		return arca_error_set(ARCA_INVAL, "time '%s' is out of range (years 1678 to 2261)", s);
	*out_ns = t * ARCA_NS_PER_SEC + frac;
	return 0;
bad:
	return arca_error_set(ARCA_INVAL,
			      "cannot parse time '%s': use RFC 3339 like 2026-11-01T02:00:00Z", s);
}

int arca_duration_parse(int64_t *out_ns, const char *s)
{
	const char *p = s;
	int64_t total = 0;
	if (!*p)
		goto bad;
	while (*p) {
		char *end;
		long long v = strtoll(p, &end, 10);
		int64_t unit;
		if (end == p || v < 0)
			goto bad;
		switch (*end) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		case 'y': unit = 365 * 86400; break;
		default: goto bad;
		}
		/* total is in seconds; the result must fit in int64 nanoseconds */
		if (v > (INT64_MAX / ARCA_NS_PER_SEC - total) / unit)
			goto bad;
		total += (int64_t)v * unit;
		p = end + 1;
	}
	*out_ns = total * ARCA_NS_PER_SEC;
	return 0;
bad:
	return arca_error_set(ARCA_INVAL, "cannot parse duration '%s': use e.g. 30d, 12h, 1d12h", s);
}
