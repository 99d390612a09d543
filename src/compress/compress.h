/*
 * compress/compress.h - per-blob compression (zstd).
 *
 * Algorithm ids are stored on disk and never reused: 0 none, 1 zstd.
 * An arca_zctx holds reusable zstd contexts; one per thread.  This is the
 * only module that includes zstd.h.
 */
#ifndef ARCA_COMPRESS_H
#define ARCA_COMPRESS_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>

enum arca_compress_algo { ARCA_COMPRESS_NONE = 0, ARCA_COMPRESS_ZSTD = 1 };

typedef struct arca_zctx arca_zctx;

/* level: zstd level 1..19 (ignored for NONE). */
int arca_zctx_new(arca_zctx **out, int algo, int level);
void arca_zctx_free(arca_zctx *z);

/*
 * Compress src and append to out when that makes it smaller: *shrunk=true.
 * Otherwise append nothing, *shrunk=false (store raw).  algo NONE never
 * shrinks.
 */
int arca_compress(arca_zctx *z, arca_buf *out, const void *src, size_t n, bool *shrunk);

/* Decompress zstd data, appending exactly raw_len bytes to out;
 * ARCA_CORRUPT if the frame is bad or its size is not raw_len. */
int arca_decompress(arca_zctx *z, arca_buf *out, const void *src, size_t n, size_t raw_len);

/* Parse "zstd:N", "zstd" (level 3) or "none". */
int arca_compress_parse(const char *spec, int *algo, int *level);
const char *arca_compress_name(int algo);

#endif
