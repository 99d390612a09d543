/*
 * pack/pack_int.h - what pack.c shares with pack_index.c (module-private):
 * the encoding of one blob entry, used by pack trailers and index files
 * alike, and the codec check both run first.
 */
#ifndef ARCA_PACK_INT_H
#define ARCA_PACK_INT_H

#include "pack/pack.h"
#include "util/enc.h"

/* smallest encoded entry: type, flags, key_id, id, offset, stored, raw */
#define ENTRY_MIN_LEN (1 + 1 + 1 + ARCA_ID_LEN + 1 + 1 + 1)

int arca_pack_entry_encode(arca_buf *b, const arca_blob_entry *e);
/* what and idx name the entry in error messages */
int arca_pack_entry_decode(arca_dec *d, const arca_cipher *cipher, arca_blob_entry *e,
			   const char *what, size_t idx);
int arca_pack_codec_check(const arca_blob_codec *c);

#endif
