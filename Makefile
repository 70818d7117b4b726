# Vigil build. `make` builds build/bin/*; `make check` runs every test and
# ends with one line "N passed, N failed"; `make demo` runs a local cluster.
# BUILD=dir builds elsewhere (sanitizer builds, parallel work).

BUILD   ?= build
CC      ?= cc
PKGS    := libcrypto libssl tss2-esys tss2-mu tss2-rc tss2-tctildr \
           libmicrohttpd libcurl sqlite3 libprotobuf-c jansson jose inih \
           libseccomp gnutls
OPT     ?= -O2
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror \
           -Wno-unused-parameter -Wshadow -Wformat=2 -Wvla \
           -fstack-protector-strong -I. -Icommon -I$(BUILD)/gen \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TESTLIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

GEN      := $(BUILD)/gen/vigil.pb-c.c
COMMON   := $(wildcard common/*.c)
AGENT    := $(filter-out agent/main.c,$(wildcard agent/*.c))
VERIFIER := $(filter-out verifier/main.c,$(wildcard verifier/*.c))
CLI      := $(filter-out cli/main.c,$(wildcard cli/*.c))
UNIT     := $(wildcard tests/unit/test_*.c)
TESTHELP := $(wildcard tests/unit/helpers/*.c)
FUZZ     := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIBCOMMON   := $(BUILD)/lib/libcommon.a
LIBAGENT    := $(BUILD)/lib/libagent.a
LIBVERIFIER := $(BUILD)/lib/libverifier.a
LIBCLI      := $(BUILD)/lib/libcli.a
ALLLIBS     := $(LIBVERIFIER) $(LIBAGENT) $(LIBCLI) $(LIBCOMMON)
# smm-bridge/ (issue 3): the bridge library, linked like the others.
SMM         := $(filter-out smm-bridge/smmd.c smm-bridge/smmctl.c,$(wildcard smm-bridge/*.c))
LIBSMM      := $(BUILD)/lib/libsmm.a
ALLLIBS     += $(LIBSMM)

BINS := $(BUILD)/bin/vigil-agent $(BUILD)/bin/vigil-verifier \
        $(BUILD)/bin/vigil $(BUILD)/bin/vigil-loadgen \
        $(BUILD)/bin/vigil-ckptbench
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT))

.PHONY: all deps check unit e2e demo bench asan lint clean
all: $(BINS)

$(GEN): proto/vigil.proto
	@mkdir -p $(BUILD)/gen
	$(Q)protoc-c --c_out=$(BUILD)/gen --proto_path=proto proto/vigil.proto

$(BUILD)/gen/vigil.pb-c.h: $(GEN)

# The SQL migrations are compiled into the verifier (db/embed.sh).
$(BUILD)/gen/migrations.c: db/embed.sh $(sort $(wildcard db/migrations/*.sql))
	@mkdir -p $(BUILD)/gen
	$(Q)sh db/embed.sh $(sort $(wildcard db/migrations/*.sql)) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# V=1 shows the full compiler command lines.
Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c $(GEN)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/gen/vigil.pb-c.o: $(GEN)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Wno-error -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON)) $(BUILD)/obj/gen/vigil.pb-c.o
$(LIBAGENT): $(call obj,$(AGENT))
$(LIBVERIFIER): $(call obj,$(VERIFIER)) $(BUILD)/obj/gen/migrations.o
$(LIBCLI): $(call obj,$(CLI))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/vigil-agent: $(call obj,agent/main.c) $(ALLLIBS)
$(BUILD)/bin/vigil-verifier: $(call obj,verifier/main.c) $(ALLLIBS)
$(BUILD)/bin/vigil: $(call obj,cli/main.c) $(ALLLIBS)
$(BUILD)/bin/vigil-loadgen: $(call obj,bench/loadgen.c) $(ALLLIBS)
$(BUILD)/bin/vigil-ckptbench: $(call obj,bench/ckptbench.c) $(ALLLIBS)
$(BUILD)/bin/%:
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--start-group $(ALLLIBS) -Wl,--end-group $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(call obj,$(TESTHELP)) $(ALLLIBS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call obj,$(TESTHELP)) -Wl,--start-group $(ALLLIBS) -Wl,--end-group $(LDLIBS) $(TESTLIBS)

# Installs missing Debian packages (asks nothing when all are present).
deps:
	@deploy/install-deps.sh --if-missing

check: deps
	@$(MAKE) --no-print-directory all $(TESTS)
	@BUILD=$(BUILD) tests/run.sh

unit: all $(TESTS)
	@BUILD=$(BUILD) tests/run.sh --unit

e2e: all
	@BUILD=$(BUILD) tests/run.sh --e2e

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) ONCE=$(ONCE) deploy/demo.sh run

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bench/run.sh

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan \
	    OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    all \
	    $(patsubst $(BUILD)/%,build-asan/%,$(TESTS))
	@BUILD=build-asan ASAN_OPTIONS=detect_leaks=1 tests/run.sh --unit

# cppcheck gates; clang-format is advisory (the code follows STYLE.md,
# which .clang-format approximates) and only lists the files it would change.
lint:
	@for f in $(wildcard */*.c */*.h); do \
	    clang-format --dry-run --Werror $$f >/dev/null 2>&1 || echo "clang-format would change $$f"; \
	done | sort | uniq -c | awk '{n++} END {print "lint: clang-format would reformat " n+0 " files (advisory)"}'
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --suppress=missingIncludeSystem -I common $(COMMON) $(AGENT) \
	    $(VERIFIER) $(CLI)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
.SECONDARY:

# Fuzz targets, not part of `make check`: every tests/fuzz/fuzz_*.c is built
# with clang's libFuzzer, ASan and UBSan, linked with common/, into
# $(BUILD)/fuzz/. Seeds and how to run them: tests/fuzz/README.md.
FUZZCC    ?= clang
FUZZFLAGS := -O1 -g -fno-omit-frame-pointer \
             -fsanitize=fuzzer-no-link,address,undefined
FUZZBINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ))
fuzzobj    = $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(1))

# FUZZ_SECONDS=N also runs every target for N seconds, one at a time, on
# its seeds (tests/fuzz/run.sh: written to $(BUILD)/fuzz/seeds/); it prints
# each target's executions and coverage and fails when one crashed.
.PHONY: fuzz
fuzz: $(FUZZBINS)
ifneq ($(FUZZ_SECONDS),)
	@BUILD=$(BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS)
endif

$(BUILD)/fuzz/obj/%.o: %.c $(GEN)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(filter-out $(OPT),$(CFLAGS)) $(FUZZFLAGS) -c -o $@ $<

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o \
    $(call fuzzobj,$(COMMON))
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The parsers' own objects, per target (fuzz_mm and fuzz_pse_msg: below).
$(BUILD)/fuzz/fuzz_smmlog: $(call fuzzobj,smm-bridge/smmlog.c)
$(BUILD)/fuzz/fuzz_binding: $(call fuzzobj,enclave/binding.c enclave/pse_cert.c)
$(BUILD)/fuzz/fuzz_migblob: $(call fuzzobj,enclave/migblob.c)

# smm-bridge/ (issue 3): vigil-smmd, vigil-smm, and the test helpers
# tests/helpers/*.c -> $(BUILD)/bin/ (e.g. fakehv, the test hypervisor).
$(LIBSMM): $(call obj,$(SMM))
SMMBINS := $(BUILD)/bin/vigil-smmd $(BUILD)/bin/vigil-smm
HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/bin/%,$(wildcard tests/helpers/*.c))
all: $(SMMBINS) $(HELPERS)
$(BUILD)/bin/vigil-smmd: $(call obj,smm-bridge/smmd.c) $(ALLLIBS)
$(BUILD)/bin/vigil-smm: $(call obj,smm-bridge/smmctl.c) $(ALLLIBS)
$(HELPERS): $(BUILD)/bin/%: $(BUILD)/obj/tests/helpers/%.o $(ALLLIBS)
$(BUILD)/fuzz/fuzz_mm: $(call fuzzobj,smm-bridge/mm.c)

# vigil-psed and its libraries (issue 4): enclave/*.c except psed.c form
# libenclave, linked into every binary and test like the other libraries
# (the agent's vTPM manager and the verifier's VM appraisal use it).
ENCLAVE    := $(filter-out enclave/psed.c,$(wildcard enclave/*.c))
LIBENCLAVE := $(BUILD)/lib/libenclave.a
$(LIBENCLAVE): $(call obj,$(ENCLAVE))
ALLLIBS    += $(LIBENCLAVE)
all: $(BUILD)/bin/vigil-psed
$(BUILD)/bin/vigil-psed: $(call obj,enclave/psed.c) $(ALLLIBS)
$(BINS) $(TESTS): $(LIBENCLAVE)
$(BUILD)/fuzz/fuzz_pse_msg: $(call fuzzobj,enclave/pse_msg.c)

# smm-bridge/ (issue 3): the SMM binaries and test helpers link every
# library defined above (ALLLIBS as it stands at the end of this file).
$(SMMBINS) $(HELPERS): $(ALLLIBS)

# bench/readbench.c (issue 6): read-route latency with a large store
# (`make bench`, bench/run.sh section 5).
BINS += $(BUILD)/bin/vigil-readbench
all: $(BUILD)/bin/vigil-readbench
$(BUILD)/bin/vigil-readbench: $(call obj,bench/readbench.c) $(ALLLIBS)

# bench/smmbench.c (issue 3): SMM measurement throughput, scan pauses and
# key-request latency on a 64 MiB fakehv (`make bench`, bench/run.sh).
BINS += $(BUILD)/bin/vigil-smmbench
all: $(BUILD)/bin/vigil-smmbench
$(BUILD)/bin/vigil-smmbench: $(call obj,bench/smmbench.c) $(ALLLIBS)

# bench/vmbench.c (issue 4): VM-appraisal efficiency against OpenSSL's
# ECDSA verify rate (`make bench`, bench/run.sh; bench/vm.sh for latency).
BINS += $(BUILD)/bin/vigil-vmbench
all: $(BUILD)/bin/vigil-vmbench
$(BUILD)/bin/vigil-vmbench: $(call obj,bench/vmbench.c) $(ALLLIBS)
