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

# The dashboard (issue 13, docs/dashboard.md): ui/'s static files compiled
# into the verifier by ui/embed.sh, served at /ui/ (verifier/routes_ui.c).
UI_FILES := $(sort $(wildcard ui/*.html ui/*.js ui/*.css ui/*.svg))
$(BUILD)/gen/ui_files.c: ui/embed.sh $(UI_FILES)
	@mkdir -p $(BUILD)/gen
	$(Q)sh ui/embed.sh $(UI_FILES) > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/ui_files.o: $(BUILD)/gen/ui_files.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<
$(LIBVERIFIER): $(BUILD)/obj/gen/ui_files.o

# The dashboard's screenshots in docs/dashboard/, taken by its browser test
# (tests/e2e/dashboard.sh) from a real cluster, so they show the page as
# it is. `make check` takes them into $(BUILD)/test-logs/ instead.
.PHONY: screenshots
screenshots: all
	@BUILD=$(BUILD) VIGIL_SCREENSHOTS=$(CURDIR)/docs/dashboard tests/run.sh --e2e --only dashboard
# docs/openapi.json is compiled into the verifier (docs/embed-openapi.sh),
# so GET /v1/openapi.json answers without any file installed; [server]
# openapi overrides it (issue 13).
$(BUILD)/gen/openapi.c: docs/embed-openapi.sh docs/openapi.json
	@mkdir -p $(BUILD)/gen
	$(Q)sh docs/embed-openapi.sh docs/openapi.json > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/openapi.o: $(BUILD)/gen/openapi.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<
$(LIBVERIFIER): $(BUILD)/obj/gen/openapi.o

# Installing (issue 13): `make install PREFIX=/usr DESTDIR=DIR` puts the
# programs, the systemd units (ExecStart pointed at SBINDIR), the commented
# example configs (/etc/vigil), the man pages (built from docs/*.md and the
# example configs by docs/man/*.sh) and the OpenAPI document in place.
# `make deb` builds the Debian packages from such an install
# (deploy/debian/build-debs.sh). Test: tests/e2e/packages.sh.
PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR    := $(PREFIX)/sbin
BINDIR     := $(PREFIX)/bin
MANDIR     := $(PREFIX)/share/man
DATADIR    := $(PREFIX)/share/vigil
UNITDIR    := $(PREFIX)/lib/systemd/system
SYSUSERSDIR := $(PREFIX)/lib/sysusers.d
SYSCONFDIR ?= /etc
MANPAGES   := $(addprefix $(BUILD)/man/,vigil-verifier.8 vigil-agent.8 \
              vigil-smmd.8 vigil-psed.8 vigil.1 vigil-smm.1 \
              vigil-verifier.conf.5 vigil-agent.conf.5 vigil-smmd.conf.5 \
              vigil-cli.conf.5)
UNITS      := $(wildcard deploy/systemd/*.service)

.PHONY: man install deb
man: $(MANPAGES)
$(MANPAGES): docs/man/md2man.sh docs/man/conf2man.sh
$(BUILD)/man/vigil-verifier.8: docs/verifier.md
	@mkdir -p $(dir $@)
	$(Q)sh docs/man/md2man.sh vigil-verifier 8 "the attestation verifier" $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/vigil-agent.8: docs/agent.md
	@mkdir -p $(dir $@)
	$(Q)sh docs/man/md2man.sh vigil-agent 8 "the node's attestation agent" $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/vigil.1: docs/cli.md
	@mkdir -p $(dir $@)
	$(Q)sh docs/man/md2man.sh vigil 1 "the command line of Vigil" $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/vigil-psed.8: docs/pse.md
	@mkdir -p $(dir $@)
	$(Q)sh docs/man/md2man.sh vigil-psed 8 "PSE and MigE of one node (emulated)" $< > $@.tmp && mv $@.tmp $@
$(BUILD)/man/vigil-smmd.8: docs/smm.md
	@mkdir -p $(dir $@)
	$(Q)sh docs/man/md2man.sh vigil-smmd 8 "the SMM measurement and key service (emulated)" $< "## vigil-smmd(8)" > $@.tmp && mv $@.tmp $@
$(BUILD)/man/vigil-smm.1: docs/smm.md
	@mkdir -p $(dir $@)
	$(Q)sh docs/man/md2man.sh vigil-smm 1 "talk to the SMM service: measure, log, keys" $< "## vigil-smm(1)" > $@.tmp && mv $@.tmp $@
$(BUILD)/man/vigil-%.conf.5: deploy/examples/%.conf
	@mkdir -p $(dir $@)
	$(Q)sh docs/man/conf2man.sh vigil-$*.conf "configuration of vigil-$*" $< \
	    $(if $(filter cli,$*),"~/.config/vigil/cli.conf","$(SYSCONFDIR)/vigil/$*.conf") \
	    $(if $(filter cli,$*),"vigil(1)","vigil-$*(8)") > $@.tmp && mv $@.tmp $@

INSTALL_SBIN := vigil-verifier vigil-agent vigil-smmd vigil-psed
INSTALL_BIN  := vigil vigil-smm
install: all $(MANPAGES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/vigil \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(PREFIX)/share/doc/vigil/examples
	install -m 0755 $(addprefix $(BUILD)/bin/,$(INSTALL_SBIN)) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(addprefix $(BUILD)/bin/,$(INSTALL_BIN)) $(DESTDIR)$(BINDIR)/
	for u in $(UNITS); do \
	    sed 's|/usr/local/bin/|$(SBINDIR)/|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done
	install -m 0644 deploy/sysusers/vigil-agent.conf $(DESTDIR)$(SYSUSERSDIR)/
	install -m 0644 deploy/examples/verifier.conf deploy/examples/agent.conf \
	    deploy/examples/smmd.conf $(DESTDIR)$(SYSCONFDIR)/vigil/
	install -m 0644 deploy/examples/cli.conf $(DESTDIR)$(PREFIX)/share/doc/vigil/examples/
	install -m 0644 docs/openapi.json $(DESTDIR)$(DATADIR)/openapi.json
	for m in $(MANPAGES); do \
	    s=$${m##*.}; gzip -9n < $$m > $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m).gz && \
	    chmod 0644 $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m).gz || exit 1; \
	done

deb: all $(MANPAGES)
	@rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb
	@$(MAKE) --no-print-directory install PREFIX=/usr SYSCONFDIR=/etc DESTDIR=$(abspath $(BUILD))/deb/root >/dev/null
	$(Q)deploy/debian/build-debs.sh $(BUILD)/deb/root $(BUILD)/deb

# The API document's checks (issue 13): swagger-parser and ajv from the
# npm registry, pinned by tests/openapi/package-lock.json, installed into
# tests/openapi/node_modules by `make deps` (so by `make check`). Used by
# tests/e2e/openapi_document.sh and lib.sh's api_checked.
deps: tests/openapi/node_modules/.package-lock.json
tests/openapi/node_modules/.package-lock.json: tests/openapi/package.json tests/openapi/package-lock.json
	@cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error
