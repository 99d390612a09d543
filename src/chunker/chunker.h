/*
 * chunker/chunker.h - content-defined chunking (FastCDC with a gear hash).
 *
 * The gear table (256 x 64-bit) is supplied by the caller, derived from a
 * per-repository secret so that chunk boundaries do not fingerprint
 * content.  The chunker is stateless between calls: the caller holds a
 * buffer, asks where the next chunk ends, consumes it and refills.
 * Normalised chunking (FastCDC level 2): a stricter mask before avg, a
 * looser one after, no cut before min, a forced cut at max.
 */
#ifndef ARCA_CHUNKER_H
#define ARCA_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arca_chunker_params {
	uint32_t min;
	uint32_t avg; /* a power of two */
	uint32_t max;
} arca_chunker_params;

#define ARCA_CHUNKER_DEFAULT_MIN (256u * 1024)
#define ARCA_CHUNKER_DEFAULT_AVG (512u * 1024)
#define ARCA_CHUNKER_DEFAULT_MAX (2u * 1024 * 1024)

/* 64 <= min < avg < max <= 64 MiB, avg a power of two; ARCA_INVAL otherwise
 * (with a message naming the bad value). */
int arca_chunker_params_check(const arca_chunker_params *p);

typedef struct arca_chunker arca_chunker;

/* gear is copied. */
int arca_chunker_new(arca_chunker **out, const arca_chunker_params *p, const uint64_t gear[256]);
void arca_chunker_free(arca_chunker *c);

/*
 * Length of the next chunk starting at data[0]: a value in (0, len].
 * If no boundary is found within len bytes and len < max and !eof, returns
 * 0: supply more data (at least max bytes unless at end of input).  With
 * eof, the rest (<= max) is one chunk.  len == 0 returns 0.
 */
size_t arca_chunker_next(const arca_chunker *c, const uint8_t *data, size_t len, bool eof);

/* Fill gear[] deterministically from a 32-byte seed (expansion by
 * SplitMix64 over the seed words; the seed itself must be secret). */
void arca_chunker_gear_from_seed(uint64_t gear[256], const uint8_t seed[32]);

#endif
