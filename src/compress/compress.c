/*
 * compress/compress.c - per-blob compression with zstd.
 *
 * Owns the compression algorithm ids (0 none, 1 zstd; never reused) and
 * the zstd contexts.  An arca_zctx keeps one ZSTD_CCtx (zstd only) and one
 * ZSTD_DCtx (always: a repository may hold zstd blobs whatever it
 * compresses new data with) and is used by one thread at a time.
 * Invariants: a failed call leaves the output buffer's length unchanged;
 * compressed output is kept only when strictly smaller than the input;
 * decompression yields exactly the expected number of bytes or
 * ARCA_CORRUPT.  zstd errors are converted here, with ZSTD_getErrorName.
 */
#include "compress/compress.h"
#include "arca/error.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_LEVEL_MIN 1
#define ZSTD_LEVEL_MAX 19
#define ZSTD_LEVEL_DEFAULT 3

struct arca_zctx {
	int algo;
	int level;
	ZSTD_CCtx *cctx; /* NULL unless algo is zstd */
	ZSTD_DCtx *dctx;
};

void arca_zctx_free(arca_zctx *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

int arca_zctx_new(arca_zctx **out, int algo, int level)
{
	arca_zctx *z;
	size_t r;

	*out = NULL;
	if (algo != ARCA_COMPRESS_NONE && algo != ARCA_COMPRESS_ZSTD)
		return arca_error_set(ARCA_INVAL, "unknown compression algorithm id %d", algo);
	if (algo == ARCA_COMPRESS_ZSTD && (level < ZSTD_LEVEL_MIN || level > ZSTD_LEVEL_MAX))
		return arca_error_set(ARCA_INVAL, "zstd level %d is out of range %d..%d",
				      level, ZSTD_LEVEL_MIN, ZSTD_LEVEL_MAX);
	if (!(z = calloc(1, sizeof(*z))))
		return arca_error_set(ARCA_NOMEM, "out of memory allocating a compression context");
	z->algo = algo;
	z->level = algo == ARCA_COMPRESS_ZSTD ? level : 0;
	if (!(z->dctx = ZSTD_createDCtx()))
		goto nomem;
	if (algo == ARCA_COMPRESS_ZSTD) {
		if (!(z->cctx = ZSTD_createCCtx()))
			goto nomem;
		/* The blob id and the pack's MAC/checksum already cover the
		 * data; a zstd checksum would only cost time. */
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 0);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_contentSizeFlag, 1);
		if (ZSTD_isError(r)) {
			arca_zctx_free(z);
			return arca_error_set(ARCA_ERROR, "cannot configure zstd level %d: %s",
					      level, ZSTD_getErrorName(r));
		}
	}
	*out = z;
	return 0;
nomem:
	arca_zctx_free(z);
	return arca_error_set(ARCA_NOMEM, "out of memory allocating zstd contexts");
}

int arca_compress(arca_zctx *z, arca_buf *out, const void *src, size_t n, bool *shrunk)
{
	size_t r;
	int rc;

	*shrunk = false;
	if (z->algo == ARCA_COMPRESS_NONE || n < 2)
		return 0;
	/* Give zstd room for n-1 bytes only: output that would not be strictly
	 * smaller fails with dstSize_tooSmall, which means "store raw", and
	 * we never reserve more than the input size. */
	if ((rc = arca_buf_reserve(out, n - 1)))
		return rc;
	r = ZSTD_compress2(z->cctx, out->data + out->len, n - 1, src, n);
	if (ZSTD_isError(r)) {
		ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
		/* compress2 leaves the context mid-frame on failure. */
		ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only);
		if (e == ZSTD_error_dstSize_tooSmall)
			return 0;
		if (e == ZSTD_error_memory_allocation)
			return arca_error_set(ARCA_NOMEM, "out of memory compressing %zu bytes with zstd", n);
		return arca_error_set(ARCA_ERROR, "zstd compression of %zu bytes failed: %s",
				      n, ZSTD_getErrorName(r));
	}
	out->len += r;
	*shrunk = true;
	return 0;
}

int arca_decompress(arca_zctx *z, arca_buf *out, const void *src, size_t n, size_t raw_len)
{
	unsigned long long declared;
	size_t r;
	int rc;

	/* Check the declared size before allocating, so a damaged header
	 * cannot make us reserve memory for it. */
	declared = ZSTD_getFrameContentSize(src, n);
	if (declared == ZSTD_CONTENTSIZE_ERROR)
		return arca_error_set(ARCA_CORRUPT, "zstd data of %zu bytes is not a valid frame", n);
	/* arca always writes the content size: a frame without it is not ours,
	 * and trusting raw_len alone would let a tiny object claim a huge
	 * buffer */
	if (declared == ZSTD_CONTENTSIZE_UNKNOWN)
		return arca_error_set(ARCA_CORRUPT, "zstd frame of %zu bytes does not declare its size", n);
	if (declared != (unsigned long long)raw_len)
		return arca_error_set(ARCA_CORRUPT,
				      "zstd frame declares %llu bytes but %zu were expected", declared, raw_len);
	if ((rc = arca_buf_reserve(out, raw_len)))
		return rc;
	r = ZSTD_decompressDCtx(z->dctx, out->data + out->len, raw_len, src, n);
	if (ZSTD_isError(r)) {
		if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
			return arca_error_set(ARCA_NOMEM, "out of memory decompressing zstd data");
		return arca_error_set(ARCA_CORRUPT, "zstd data of %zu bytes does not decode: %s",
				      n, ZSTD_getErrorName(r));
	}
	if (r != raw_len)
		return arca_error_set(ARCA_CORRUPT, "zstd data decoded to %zu bytes but %zu were expected",
				      r, raw_len);
	out->len += r;
	return 0;
}

int arca_compress_parse(const char *spec, int *algo, int *level)
{
	const char *num;
	char *end;
	long v;

	if (!spec)
		return arca_error_set(ARCA_INVAL, "compression not given");
	if (!strcmp(spec, "none")) {
		*algo = ARCA_COMPRESS_NONE;
		*level = 0;
		return 0;
	}
	if (!strcmp(spec, "zstd") || !strcmp(spec, "auto")) {
		*algo = ARCA_COMPRESS_ZSTD;
		*level = ZSTD_LEVEL_DEFAULT;
		return 0;
	}
	if (strncmp(spec, "zstd:", 5) != 0)
		goto bad;
	num = spec + 5;
	/* Digits only: strtol alone would accept " 3", "+3" and "-3". */
	if (*num < '0' || *num > '9')
		goto bad;
	errno = 0;
	v = strtol(num, &end, 10);
	if (*end != '\0' || errno)
		goto bad;
	if (v < ZSTD_LEVEL_MIN || v > ZSTD_LEVEL_MAX) {
		arca_error_set(ARCA_INVAL, "compression \"%.64s\": zstd level %ld is out of range %d..%d",
			       spec, v, ZSTD_LEVEL_MIN, ZSTD_LEVEL_MAX);
		return arca_error_hint(ARCA_INVAL, "use zstd:N with N from %d (fastest) to %d (smallest)",
				       ZSTD_LEVEL_MIN, ZSTD_LEVEL_MAX);
	}
	*algo = ARCA_COMPRESS_ZSTD;
	*level = (int)v;
	return 0;
bad:
	arca_error_set(ARCA_INVAL, "unknown compression \"%.64s\"", spec);
	return arca_error_hint(ARCA_INVAL, "use none, auto, zstd (level %d) or zstd:N with N from %d to %d",
			       ZSTD_LEVEL_DEFAULT, ZSTD_LEVEL_MIN, ZSTD_LEVEL_MAX);
}

const char *arca_compress_name(int algo)
{
	switch (algo) {
	case ARCA_COMPRESS_NONE: return "none";
	case ARCA_COMPRESS_ZSTD: return "zstd";
	default: return "unknown";
	}
}
