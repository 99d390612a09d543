/*
 * chunker/chunker.c - FastCDC content-defined chunking with a secret gear.
 *
 * Owns where chunks end.  A chunker is immutable after arca_chunker_new()
 * and holds no per-stream state, so one may be shared by threads.  Pure C,
 * no library.  Boundaries are a pure function of (gear, params, bytes from
 * the chunk start), which is what makes streaming with any refill size
 * give the same chunks as one big buffer.
 *
 * The cut rule, exactly (bits = log2(avg); "top k bits" of a 64-bit value
 * means mask ~0 << (64 - k)):
 *   mask_s = top (bits + 2) bits, mask_l = top (bits - 2) bits
 *   h = 0
 *   for i = min, min+1, ... (i is a 0-based offset from the chunk start):
 *       h = (h << 1) + gear[data[i]]          (mod 2^64)
 *       if i <  avg and (h & mask_s) == 0: chunk length is i + 1
 *       if i >= avg and (h & mask_l) == 0: chunk length is i + 1
 *       if i + 1 == max:                     chunk length is max
 * so a chunk that is not the last one of a stream is min+1..max bytes long.
 * The mask uses the top bits because with a left-shifting gear hash bit k
 * of h depends on the last k+1 bytes only: the top bits see a 64-byte
 * window, the low bits almost nothing.
 *
 * The gear table is expanded from the 32-byte seed by SplitMix64:
 *   w[j] = little-endian uint64 of seed[8j .. 8j+7], j = 0..3
 *   for i = 0..255, with j = i mod 4 and k = i div 4 (all mod 2^64):
 *       z = w[j] + (k + 1) * 0x9E3779B97F4A7C15
 *       z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
 *       z = (z ^ (z >> 27)) * 0x94D049BB133111EB
 *       gear[i] = z ^ (z >> 31)
 * i.e. gear[4k + j] is output number k+1 of a SplitMix64 generator whose
 * state starts at w[j]; an all-zero seed gives gear[0] = 0xE220A8397B1DCDAF.
 */
#include "chunker/chunker.h"
#include "arca/error.h"
#include "util/enc.h"

#include <stdlib.h>
#include <string.h>

#define CHUNKER_MIN_FLOOR 64u
#define CHUNKER_MAX_CEIL (64u * 1024 * 1024)

struct arca_chunker {
	uint64_t gear[256];
	uint64_t mask_s; /* before avg: harder to match */
	uint64_t mask_l; /* after avg: easier to match */
	uint32_t min, avg, max;
};

int arca_chunker_params_check(const arca_chunker_params *p)
{
	if (!p)
		return arca_error_set(ARCA_INVAL, "chunker parameters missing");
	if (p->min < CHUNKER_MIN_FLOOR)
		return arca_error_set(ARCA_INVAL, "chunker min size %u is below %u bytes",
				      p->min, CHUNKER_MIN_FLOOR);
	if (p->avg == 0 || (p->avg & (p->avg - 1)) != 0)
		return arca_error_set(ARCA_INVAL, "chunker average size %u is not a power of two", p->avg);
	if (p->min >= p->avg)
		return arca_error_set(ARCA_INVAL, "chunker min size %u must be below the average size %u",
				      p->min, p->avg);
	if (p->avg >= p->max)
		return arca_error_set(ARCA_INVAL, "chunker max size %u must be above the average size %u",
				      p->max, p->avg);
	if (p->max > CHUNKER_MAX_CEIL)
		return arca_error_set(ARCA_INVAL, "chunker max size %u is above %u bytes (64 MiB)",
				      p->max, CHUNKER_MAX_CEIL);
	return 0;
}

static unsigned log2_u32(uint32_t v)
{
	unsigned b = 0;
	while (v >>= 1)
		b++;
	return b;
}

int arca_chunker_new(arca_chunker **out, const arca_chunker_params *p, const uint64_t gear[256])
{
	arca_chunker *c;
	unsigned bits;
	int rc;

	*out = NULL;
	if ((rc = arca_chunker_params_check(p)))
		return rc;
	if (!gear)
		return arca_error_set(ARCA_INVAL, "chunker gear table missing");
	if (!(c = calloc(1, sizeof(*c))))
		return arca_error_set(ARCA_NOMEM, "out of memory allocating a chunker");
	memcpy(c->gear, gear, sizeof(c->gear));
	/* avg > min >= 64 gives bits >= 7; max <= 64 MiB gives bits <= 25. */
	bits = log2_u32(p->avg);
	c->mask_s = ~UINT64_C(0) << (64 - (bits + 2));
	c->mask_l = ~UINT64_C(0) << (64 - (bits - 2));
	c->min = p->min;
	c->avg = p->avg;
	c->max = p->max;
	*out = c;
	return 0;
}

void arca_chunker_free(arca_chunker *c) { free(c); }

size_t arca_chunker_next(const arca_chunker *c, const uint8_t *data, size_t len, bool eof)
{
	const uint64_t *gear = c->gear;
	const uint64_t mask_s = c->mask_s, mask_l = c->mask_l;
	size_t limit, normal, i;
	uint64_t h = 0;

	if (len == 0)
		return 0;
	if (len <= c->min)
		return eof ? len : 0;
	limit = len < c->max ? len : c->max;
	normal = c->avg < limit ? c->avg : limit;

	/* The hot loops: one shift, one add, one load, one test per byte. */
	for (i = c->min; i < normal; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & mask_s))
			return i + 1;
	}
	for (; i < limit; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & mask_l))
			return i + 1;
	}
	if (limit == c->max)
		return limit;
	return eof ? len : 0;
}

void arca_chunker_gear_from_seed(uint64_t gear[256], const uint8_t seed[32])
{
	uint64_t w[4];
	for (unsigned j = 0; j < 4; j++)
		w[j] = arca_get_le64(seed + 8 * j);
	for (unsigned i = 0; i < 256; i++) {
		uint64_t z = w[i % 4] + (uint64_t)(i / 4 + 1) * UINT64_C(0x9E3779B97F4A7C15);
		z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
		gear[i] = z ^ (z >> 31);
	}
}
