#!/usr/bin/env bash
# Regenerate the seed corpora fuzz/corpus/<target>/ (see fuzz/README.md).
#
#   fuzz/gen-corpus.sh [--clean]
#
# Builds $BUILD/arca and $BUILD/libarca.a (BUILD defaults to build), makes
# three throw-away repositories with `arca init` (xchacha20-poly1305,
# aes-256-gcm, none) for real config and key files, compiles
# fuzz/gen_corpus.c against the library and runs it.  Seeds are written by
# name, so files the fuzzer added stay; --clean removes each target's
# corpus directory first.  Encrypted seeds get new nonces on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CC=${CC:-cc}
out=fuzz/corpus
targets="pack_trailer index_file tree snapshot policy object config keyfile lock util_enc"

make --no-print-directory BUILD="$BUILD" "$BUILD/arca" "$BUILD/libarca.a" >/dev/null

tmp=$(mktemp -d /tmp/arca-gen-corpus.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export ARCA_CACHE_DIR="$tmp/cache" ARCA_PASSWORD=fuzz-corpus
"$BUILD/arca" -q -r "$tmp/r-xchacha" init --kdf-memory 8M --kdf-time 1 >/dev/null
"$BUILD/arca" -q -r "$tmp/r-aes" init --encryption aes-256-gcm --compression zstd:19 \
	--chunker 64K,256K,1M --kdf-memory 8M --kdf-time 2 >/dev/null
"$BUILD/arca" -q -r "$tmp/r-none" init --encryption none --compression none >/dev/null

libs=$(pkg-config --libs libzstd libsodium openssl lmdb libpq libcurl expat jansson 2>/dev/null ||
	echo -lzstd -lsodium -lssl -lcrypto -llmdb -lpq -lcurl -lexpat -ljansson)
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror -Wshadow -g -Iinclude -Isrc -D_GNU_SOURCE \
	-o "$tmp/gen_corpus" fuzz/gen_corpus.c "$BUILD/libarca.a" $libs -lpthread
if [ "${1:-}" = --clean ]; then
	for t in $targets; do rm -rf "${out:?}/$t"; done
fi
mkdir -p "$out"
"$tmp/gen_corpus" "$out" "$tmp/r-xchacha" "$tmp/r-aes" "$tmp/r-none"
