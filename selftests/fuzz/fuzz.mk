# SPDX-License-Identifier: GPL-2.0-or-later
# The wire parser's libFuzzer harness (included by the Makefile).
#
#   make fuzz [FUZZ_SECONDS=300]   a campaign; the corpus it grows stays in
#                                  build/fuzz/corpus, crashes in build/fuzz
#
# The harness, its seed corpus and a mutant are part of 'userspace' when
# $(FUZZ_CC) can link -fsanitize=fuzzer; selftests/fuzz/wire_fuzz_test.sh
# runs them in check-host, and skips only when it cannot.

FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -O1 -g
FUZZ_SECONDS ?= 300
FUZZ_MAX_LEN ?= 16384
FUZZ_B := $(B)/fuzz

# Why the fuzzer cannot be built here; empty when it can.
FUZZ_MISSING := $(shell sh selftests/fuzz/have-libfuzzer '$(FUZZ_CC)')

FUZZ_FLAGS := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Ilib \
	-fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all $(FUZZ_CFLAGS)
FUZZ_DEPS := selftests/fuzz/wire_fuzz.c lib/wire.c lib/wire.h selftests/fuzz/fuzz.mk

# Outside build/selftests: the VM runner copies every executable there.
FUZZ_BIN := $(FUZZ_B)/wire_fuzz
FUZZ_GEN := $(FUZZ_B)/wire_fuzz_gen
FUZZ_MUTANT := $(FUZZ_B)/wire_fuzz_mutant
FUZZ_SEEDS := $(FUZZ_B)/seeds/.stamp

$(FUZZ_BIN): $(FUZZ_DEPS)
	$(quiet) FUZZ $@
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< -o $@

$(FUZZ_GEN): $(FUZZ_DEPS)
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -DWIRE_FUZZ_GEN $< -o $@

# Generated, never committed: the encoders write them, and the generator
# checks each parses as meant before writing it.
$(FUZZ_SEEDS): $(FUZZ_GEN)
	$(quiet) GEN $(@D)
	$(Q)rm -rf $(@D) && mkdir -p $(@D)
	$(Q)$(FUZZ_GEN) $(@D)
	$(Q)touch $@

# The test of the test: a parser whose range check forgets the end of
# the block. The harness must catch what it lets through.
FUZZ_MUTATE := s/off >= b->length || len > b->length - off/off >= b->length/
$(FUZZ_B)/wire_mutant.c: lib/wire.c selftests/fuzz/fuzz.mk
	$(quiet) GEN $@
	$(Q)mkdir -p $(@D)
	$(Q)sed '$(FUZZ_MUTATE)' $< >$@.tmp
	$(Q)if cmp -s $< $@.tmp; then \
		echo "fuzz.mk: FUZZ_MUTATE no longer matches lib/wire.c's range_ok()" >&2; \
		rm -f $@.tmp; exit 1; fi
	$(Q)mv $@.tmp $@

$(FUZZ_MUTANT): $(FUZZ_DEPS) $(FUZZ_B)/wire_mutant.c
	$(quiet) FUZZ $@
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer \
		-DWIRE_C='"$(abspath $(FUZZ_B))/wire_mutant.c"' $< -o $@

# wire_fuzz_test.sh finds them here, and judges by the same compiler.
run-host: export PCRAM_FUZZ_DIR := $(abspath $(FUZZ_B))
run-host: export PCRAM_FUZZ_CC := $(FUZZ_CC)

ifeq ($(FUZZ_MISSING),)
userspace: $(FUZZ_BIN) $(FUZZ_SEEDS) $(FUZZ_MUTANT)

fuzz: $(FUZZ_BIN) $(FUZZ_SEEDS)
	$(Q)mkdir -p $(FUZZ_B)/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
		-timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/ \
		$(FUZZ_ARGS) $(FUZZ_B)/corpus $(FUZZ_B)/seeds
else
fuzz:
	@echo "fuzz: $(FUZZ_MISSING)" >&2; exit 1
endif

# The corpus a campaign grew is kept; distclean removes it.
fuzz-clean:
	rm -rf $(FUZZ_BIN) $(FUZZ_GEN) $(FUZZ_MUTANT) $(FUZZ_B)/wire_mutant.c \
		$(FUZZ_B)/seeds
clean: fuzz-clean

.PHONY: fuzz fuzz-clean
