# arca - build, test, demo.  `make help` lists the targets.
#
# Layout: src/<module>/*.c -> build/libarca.a; src/cli -> build/arca;
# tests/unit/test_<module>.c -> build/tests/test_<module> (cmocka);
# fuzz/fuzz_<format>.c -> build/fuzz/replay_<format> (plain corpus replay)
# and, with clang, libFuzzer binaries (make fuzz).
# SAN=1 builds everything with ASan+UBSan into build-san/.

CC      ?= cc
SAN     ?= 0
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      = -O1
else
BUILD   ?= build
SANFLAGS =
OPT      = -O2
endif

# libcurl and libpq are loaded at run time, when first used (src/util/dynlib.h)
PKGS     = libzstd libsodium openssl lmdb expat jansson
CPPFLAGS = -Iinclude -Isrc -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(shell pkg-config --cflags-only-I libpq 2>/dev/null || echo -I/usr/include/postgresql)
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation -pthread $(SANFLAGS)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lzstd -lsodium -lssl -lcrypto -llmdb -lexpat -ljansson) -ldl -lpthread
LDFLAGS += $(SANFLAGS) -pthread

LIB_SRC  = $(sort $(wildcard src/util/*.c src/hash/*.c src/chunker/*.c src/compress/*.c \
             src/crypto/*.c src/pack/*.c src/http/*.c src/pgsql/*.c src/index/*.c \
             src/backend/*.c src/repo/*.c src/snapshot/*.c src/pg/*.c src/replica/*.c))
CLI_SRC  = $(sort $(wildcard src/cli/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(sort $(wildcard fuzz/fuzz_*.c))
REPLAY_BIN = $(FUZZ_SRC:fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)
FUZZ_BIN = $(FUZZ_SRC:fuzz/fuzz_%.c=build-fuzz/fuzz_%)

.PHONY: all deps servers test test-fast unit e2e fuzz-replay sanitize demo fuzz lint bench clean help

all: $(BUILD)/arca

help:
	@echo "make deps       install build and test dependencies (Debian 12, needs root)"
	@echo "make servers    install the npm test servers (S3, GCS) from tests/servers/package-lock.json"
	@echo "make            build build/arca"
	@echo "make demo       deps + build + back up a sample tree, restore, verify"
	@echo "make test       deps + every test: unit, fuzz corpus replay, end-to-end,"
	@echo "                then the same suite under ASan+UBSan"
	@echo "make test-fast  the normal-build suite only (no deps step, no sanitizers)"
	@echo "make fuzz       libFuzzer binaries in build-fuzz/ (clang)"
	@echo "make lint       check #include lines against the module layering"
	@echo "make bench      compare arca with restic and borg (slow; see docs/BENCHMARKS.md)"

deps:
	@scripts/install-deps.sh

servers:
	@scripts/install-test-servers.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libarca.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/arca: $(CLI_OBJ) $(BUILD)/libarca.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libarca.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libarca.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libarca.a $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay_main.c $(BUILD)/libarca.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< fuzz/replay_main.c $(BUILD)/libarca.a $(LDFLAGS) $(LDLIBS)

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(LIB_SRC)
	@mkdir -p build-fuzz
	clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
	  -o $@ $< $(LIB_SRC) $(LDLIBS)

fuzz: $(FUZZ_BIN)

unit: $(UNIT_BIN)
fuzz-replay: $(REPLAY_BIN)

# The whole suite: the normal build, then ASan+UBSan.
test: deps
	@scripts/install-test-servers.sh
	@tests/run-all.sh

test-fast: all unit fuzz-replay servers
	@BUILD=$(BUILD) tests/run.sh

demo: deps all
	@scripts/demo.sh $(BUILD)/arca

lint:
	@scripts/lint-includes.sh

bench: all $(BUILD)/bench/index_scale
	@bench/run.sh

$(BUILD)/bench/%: bench/%.c $(BUILD)/libarca.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libarca.a $(LDFLAGS) $(LDLIBS)

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
