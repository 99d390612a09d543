/*
 * pack/pack.h - blobs, packs and index files: the container formats.
 *
 * A blob is one chunk of file data or one tree node.  Sealing a blob
 * compresses it (kept raw when that does not shrink it) and encrypts it
 * with the repository's data key, the blob id as associated data, so a
 * blob cannot be swapped for another without detection.
 *
 * A pack is a sequence of sealed blobs followed by a sealed trailer that
 * lists them (type, flags, id, offset, lengths) and a fixed 16-byte
 * footer; a pack's name is the SHA-256 of its bytes.  An index file lists
 * the blobs of many packs so that the local index can be rebuilt without
 * reading packs.  The exact layouts are in docs/FORMAT.md.  This module
 * does no I/O: callers move bytes through a backend.
 */
#ifndef ARCA_PACK_H
#define ARCA_PACK_H

#include "compress/compress.h"
#include "crypto/crypto.h"
#include "hash/hash.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>

enum arca_blob_type { ARCA_BLOB_DATA = 0, ARCA_BLOB_TREE = 1 };
#define ARCA_BLOB_F_ZSTD 0x01u /* stored bytes are a zstd frame */

#define ARCA_PACK_FOOTER_LEN 16
#define ARCA_PACK_VERSION 1
#define ARCA_PACK_MAX_BLOB (64u * 1024 * 1024) /* raw or stored */

typedef struct arca_blob_entry {
	arca_id id;
	uint8_t type;
	uint8_t flags;
	uint32_t key_id;     /* which data key sealed it; 0 = the master data key */
	uint64_t offset;     /* within the pack */
	uint32_t stored_len; /* bytes in the pack (nonce+ct+tag) */
	uint32_t raw_len;    /* bytes after opening */
} arca_blob_entry;

/* How blobs are sealed: borrowed pointers, must outlive the codec's use. */
typedef struct arca_blob_codec {
	const arca_cipher *cipher;
	const uint8_t *key; /* ARCA_KEY_LEN bytes; unused for cipher none */
	int compress_algo;
	int compress_level;
} arca_blob_codec;

/*
 * Seal raw into out (appended). zctx is the caller's per-thread context.
 * *flags gets ARCA_BLOB_F_ZSTD when compressed.
 */
int arca_blob_seal(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		   const arca_id *id, const void *raw, size_t n, uint8_t *flags);
/* Open a sealed blob, appending raw_len bytes to out. ARCA_CORRUPT with a
 * message naming the blob id on any failure. Does not re-hash. */
int arca_blob_open(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		   const arca_id *id, uint8_t flags, const void *stored, size_t n,
		   size_t raw_len);

/* Pack writer: accumulates sealed blobs in memory. */
typedef struct arca_pack_writer arca_pack_writer;
int arca_pack_writer_new(arca_pack_writer **out, const arca_blob_codec *c);
void arca_pack_writer_free(arca_pack_writer *w);
/* Seal and append one blob. The entry (with offset) is recorded. */
int arca_pack_writer_add(arca_pack_writer *w, arca_zctx *z, uint8_t type,
			 const arca_id *id, const void *raw, size_t n);
/* Append a blob that is already sealed (repack/copy). */
int arca_pack_writer_add_sealed(arca_pack_writer *w, const arca_blob_entry *e,
				const void *stored);
/*
 * Streaming: from now on the writer keeps at most about 1 MiB and hands
 * the pack's bytes, in order, to fn (a non-zero return fails the add or
 * finish that spilled).  finish() then spills the rest, trailer and footer
 * included, and returns an empty *bytes.  Set it while the writer is
 * empty; it stays set across resets.
 */
typedef int (*arca_pack_sink_fn)(const void *p, size_t n, void *payload);
int arca_pack_writer_set_sink(arca_pack_writer *w, arca_pack_sink_fn fn, void *payload);
size_t arca_pack_writer_size(const arca_pack_writer *w);  /* bytes so far */
size_t arca_pack_writer_count(const arca_pack_writer *w); /* blobs so far */
/* Bytes of the pack so far, spilled or not; after finish, the whole pack. */
uint64_t arca_pack_writer_total(const arca_pack_writer *w);
/*
 * Finish: append trailer and footer, compute the pack id.  *bytes is the
 * whole pack (owned by the writer until the next call or free); *entries
 * (count *n) likewise.  The writer is reset and may be reused afterwards
 * via arca_pack_writer_reset().
 */
int arca_pack_writer_finish(arca_pack_writer *w, arca_zctx *z, arca_id *pack_id,
			    const arca_buf **bytes, const arca_blob_entry **entries, size_t *n);
void arca_pack_writer_reset(arca_pack_writer *w);

/*
 * Read a pack footer (the last ARCA_PACK_FOOTER_LEN bytes of a pack of
 * pack_size bytes) and report how many bytes the sealed trailer occupies
 * just before it.  ARCA_CORRUPT on bad magic, version or a length that does
 * not fit.
 */
int arca_pack_footer_parse(const uint8_t *footer, uint64_t pack_size, uint32_t *trailer_len);
/*
 * Open and parse a sealed trailer.  *entries is malloc'd (caller frees);
 * every entry is checked to lie inside [0, pack_size - trailer - footer)
 * without overlap.
 */
int arca_pack_trailer_parse(const arca_blob_codec *c, arca_zctx *z, const uint8_t *trailer,
			    size_t len, uint64_t pack_size, arca_blob_entry **entries, size_t *n);

/* Index files: the blobs of many packs. */
typedef struct arca_idx_pack {
	arca_id pack_id;
	arca_blob_entry *entries; /* owned by the arca_idx_file */
	size_t n;
} arca_idx_pack;

typedef struct arca_idx_file {
	arca_idx_pack *packs;
	size_t npacks;
	arca_id *supersedes; /* index files this one replaces (prune) */
	size_t nsupersedes;
} arca_idx_file;

/* Encode and seal (AD "arca-index-v1"); out gets the object's bytes. */
int arca_idx_file_encode(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
			 const arca_idx_file *f);
/* Open and decode; *out is heap-allocated, free with arca_idx_file_free. */
int arca_idx_file_decode(const arca_blob_codec *c, arca_zctx *z, arca_idx_file **out,
			 const void *data, size_t n);
void arca_idx_file_free(arca_idx_file *f);

/* Seal/open small metadata objects (snapshots, locks...) under an AD label:
 * compressed with zstd when it shrinks, then AEAD.  Layout in FORMAT.md. */
int arca_object_seal(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		     const char *label, const void *raw, size_t n);
int arca_object_open(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		     const char *label, const void *data, size_t n);

#endif
