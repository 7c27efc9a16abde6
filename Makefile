# SPDX-License-Identifier: GPL-2.0-or-later
# pcram: userfaultfd postcopy RAM. 'make help' lists the targets.

# The one version of the project, read from the library's header.
VERSION := $(shell sed -n 's/^\#define PCRAM_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' \
	lib/include/pcram.h | paste -sd.)
SOVERSION := 0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
B := build

# Every userspace object: warnings are errors; the UAPI header is a system
# header so that tools and library see exactly what the module sees.
PCRAM_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-isystem kmod/include/uapi -Ilib/include $(CFLAGS)

NL_CFLAGS = $(shell pkg-config --cflags libnl-genl-3.0)
NL_LIBS = $(shell pkg-config --libs libnl-genl-3.0)
LIBKMOD_CFLAGS = $(shell pkg-config --cflags libkmod)
LIBKMOD_LIBS = $(shell pkg-config --libs libkmod)

ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-9s %s\n'
endif

LIB_SRCS := $(wildcard lib/*.c)
LIB_PIC_OBJS := $(LIB_SRCS:%.c=$(B)/%.pic.o)
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
LIB_SO := $(B)/lib/libpcram.so.$(SOVERSION)
LIB_A := $(B)/lib/libpcram.a
LIB_PC := $(B)/lib/libpcram.pc

TOOL_SRCS := $(wildcard tools/*.c)
# The benchmarks of 'pcram bench', in bench/ (one file each, the way perf
# keeps tools/perf/bench/), are part of the tool.
BENCH_SRCS := $(wildcard bench/*.c)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(B)/%.o) $(BENCH_SRCS:%.c=$(B)/%.o)
TOOL := $(B)/pcram

TEST_SRCS := $(wildcard selftests/*/*_test.c)
TESTS := $(TEST_SRCS:%.c=$(B)/%)
# Programs the tests run, not tests: built next to them (under
# build/selftests, which the VM runner copies whole) and found there by
# the tests themselves.
TEST_HELPERS := $(B)/selftests/tools/wire_proxy $(B)/selftests/tools/wire_peer
# The guest qemu_postcopy_test boots in QEMU (and the VM runner carries).
TEST_GUEST := $(B)/selftests/kmod/guest_touch.elf
# The kernel's own userfaultfd stress test, built from the linux-source
# tarball (never committed), for uffd_stress_test to run with pcram.ko
# watching it.
UFFD_STRESS := $(B)/selftests/kmod/uffd_stress
UFFD_STRESS_SRC := $(B)/linux-src/tools/testing/selftests/vm
# Tests that only make sense on the build host (they need kernel headers).
HOST_TESTS := $(patsubst %.sh,$(B)/%,$(wildcard selftests/*/*_test.sh))
HARNESS := $(B)/linux-src/tools/testing/selftests/kselftest_harness.h

EXAMPLES := $(patsubst Documentation/examples/%.c,$(B)/examples/%, \
	$(wildcard Documentation/examples/*.c))

PCRAM_KO := kmod/pcram.ko

all: userspace kmod

userspace: $(LIB_SO) $(LIB_A) $(LIB_PC) $(TOOL) $(TESTS) $(TEST_HELPERS) $(TEST_GUEST) $(UFFD_STRESS) \
	$(HOST_TESTS) $(EXAMPLES)

help:
	@echo 'pcram targets:'
	@echo '  all         library, tool, tests and pcram.ko'
	@echo '  deps        install the Debian packages the build, VM and tests need'
	@echo '  demo        build and run the loopback migration demo'
	@echo '  check       check-host + vmcheck, one summary line'
	@echo '  check-host  library and tool tests on this kernel'
	@echo '  abi-check   libpcram against the last release ABI (lib/abi/)'
	@echo '  abi-baseline  at a release: make the built library the new baseline'
	@echo '  vmcheck     every test inside a VM with pcram.ko loaded'
	@echo '  vmrun       run CMD=... inside that VM'
	@echo '  install     PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)'
	@echo '  clean       remove build outputs (distclean: also the caches)'
	@echo 'V=1 shows full commands; VM=vng runs the VM tests under virtme-ng.'

deps:
	$(Q)scripts/deps

# ---- library ---------------------------------------------------------------

$(B)/lib/%.pic.o: lib/%.c $(wildcard lib/*.h) lib/include/pcram.h
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PCRAM_CFLAGS) $(NL_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/lib/%.o: lib/%.c $(wildcard lib/*.h) lib/include/pcram.h
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PCRAM_CFLAGS) $(NL_CFLAGS) -fvisibility=hidden -c $< -o $@

$(LIB_SO): $(LIB_PIC_OBJS) lib/libpcram.map
	$(quiet) LD $@
	$(Q)$(CC) -shared -Wl,-soname,libpcram.so.$(SOVERSION) \
		-Wl,--version-script=lib/libpcram.map -Wl,-z,defs \
		$(LIB_PIC_OBJS) -o $@ $(LDFLAGS) $(NL_LIBS) -lpthread
	$(Q)ln -sf libpcram.so.$(SOVERSION) $(B)/lib/libpcram.so

$(LIB_A): $(LIB_OBJS)
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The .pc names install paths, so it is made again by 'install' with the
# PREFIX given there; this copy is for pkg-config checks of the build.
pc_subst = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' lib/libpcram.pc.in

$(LIB_PC): lib/libpcram.pc.in Makefile
	$(quiet) GEN $@
	$(Q)mkdir -p $(@D)
	$(Q)$(pc_subst) > $@

# ---- the pcram tool (libpcram linked in statically) -------------------------

$(B)/tools/%.o: tools/%.c $(wildcard tools/*.h) lib/include/pcram.h kmod/include/uapi/linux/pcram.h
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PCRAM_CFLAGS) -Ibench $(NL_CFLAGS) $(LIBKMOD_CFLAGS) \
		-DPCRAM_TOOL_VERSION='"$(VERSION)"' -c $< -o $@

$(B)/bench/%.o: bench/%.c bench/bench.h $(wildcard tools/*.h) lib/include/pcram.h kmod/include/uapi/linux/pcram.h
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PCRAM_CFLAGS) -Itools $(NL_CFLAGS) -c $< -o $@

$(TOOL): $(TOOL_OBJS) $(LIB_A)
	$(quiet) LD $@
	$(Q)$(CC) $(TOOL_OBJS) $(LIB_A) -o $@ $(LDFLAGS) $(NL_LIBS) $(LIBKMOD_LIBS)

# ---- tests (kselftest harness, linked to the shared library) ----------------

linux-src: $(HARNESS)
$(HARNESS) $(UFFD_STRESS_SRC)/userfaultfd.c &:
	$(Q)scripts/linux-src $(B)/linux-src

$(B)/selftests/%: selftests/%.c $(wildcard selftests/*.h selftests/*/*.h) $(HARNESS) $(LIB_SO) kmod/include/uapi/linux/pcram.h
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PCRAM_CFLAGS) -Wno-unused-parameter -Wno-sign-compare -Iselftests \
		-I$(B)/linux-src/tools/testing/selftests $(NL_CFLAGS) $< -o $@ \
		-L$(B)/lib -Wl,-rpath,$(abspath $(B)/lib) -Wl,--as-needed \
		-lpcram $(NL_LIBS) -lpthread -lm $(LDFLAGS)

# The unit test of the library's pcram.ko client compiles its sources in.
$(B)/selftests/lib/kmod_parse_test: lib/kmod_genl.c lib/kmod_genl.h lib/kmod_parse.c lib/kmod_parse.h lib/error.c

# The fault-injecting proxy and the fake peer: libc alone (they speak the
# protocol from its document, apart from lib/wire.c).
$(TEST_HELPERS): $(B)/selftests/%: selftests/%.c
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PCRAM_CFLAGS) $< -o $@ $(LDFLAGS)

$(B)/selftests/tools/migrate_faults_test $(B)/selftests/tools/migrate_peer_test: | $(TEST_HELPERS)

# The guest of qemu_postcopy_test: 32-bit code QEMU boots as multiboot.
$(TEST_GUEST): selftests/kmod/guest_touch.S
	$(quiet) AS $@
	$(Q)mkdir -p $(@D)
	$(Q)as --32 $< -o $@.o && ld -m elf_i386 -Ttext=0x100000 -e _start $@.o -o $@
	$(Q)rm -f $@.o

$(B)/selftests/kmod/qemu_postcopy_test: | $(TEST_GUEST)

$(UFFD_STRESS): $(UFFD_STRESS_SRC)/userfaultfd.c
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -w $(UFFD_STRESS_SRC)/userfaultfd.c $(UFFD_STRESS_SRC)/vm_util.c \
		-o $@ -lpthread

$(B)/selftests/kmod/uffd_stress_test: | $(UFFD_STRESS)

$(B)/selftests/%: selftests/%.sh
	$(quiet) INSTALL $@
	$(Q)install -D -m 0755 $< $@

include selftests/fuzz/fuzz.mk

# ---- Documentation/examples: programs linked to the shared library --------

$(B)/examples/%: Documentation/examples/%.c $(LIB_SO)
	$(quiet) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(PCRAM_CFLAGS) $< -o $@ -L$(B)/lib -Wl,-rpath,$(abspath $(B)/lib) \
		-lpcram -lpthread $(LDFLAGS)

# ---- pcram.ko ---------------------------------------------------------------

kmod:
	$(Q)$(MAKE) -C kmod $(if $(filter 1,$(V)),,-s)

# ---- running ----------------------------------------------------------------

demo: deps $(TOOL)
	$(Q)$(TOOL) demo

RESULTS := $(B)/results

# The run-* targets leave KTAP in $(RESULTS); the public targets add the
# one summary line, so 'make check' prints exactly one.
run-host: userspace kmod
	$(Q)mkdir -p $(RESULTS)
	$(Q)PATH="$(abspath $(B)):$$PATH" PCRAM_KO=$(abspath $(PCRAM_KO)) \
		PCRAM_MANPAGE=$(abspath Documentation/pcram.8) PCRAM_SRCDIR=$(CURDIR) \
		selftests/run-tests -t 180 -o $(RESULTS)/host.ktap -C $(B)/selftests \
		$(TESTS:$(B)/selftests/%=%) $(HOST_TESTS:$(B)/selftests/%=%)

run-vm: userspace kmod
	$(Q)mkdir -p $(RESULTS)
	$(Q)selftests/vm/run -o $(RESULTS)/vm.ktap -- $(TESTS:$(B)/selftests/%=%)

check-host:
	$(Q)rm -f $(RESULTS)/host.ktap
	-$(Q)$(MAKE) --no-print-directory run-host
	$(Q)selftests/ktap-summary $(RESULTS)/host.ktap

vmcheck:
	$(Q)rm -f $(RESULTS)/vm.ktap
	-$(Q)$(MAKE) --no-print-directory run-vm
	$(Q)selftests/ktap-summary $(RESULTS)/vm.ktap

check: deps
	$(Q)rm -f $(RESULTS)/host.ktap $(RESULTS)/vm.ktap
	-$(Q)$(MAKE) --no-print-directory run-host
	-$(Q)$(MAKE) --no-print-directory run-vm
	$(Q)selftests/ktap-summary $(RESULTS)/host.ktap $(RESULTS)/vm.ktap

# $(value CMD) is the text as given, unexpanded by make; single-quoted with
# its own quotes escaped, it reaches the VM's shell untouched.
vmrun: userspace kmod
	$(Q)selftests/vm/run -c '$(subst ','\'',$(value CMD))'

# ---- ABI: abidiff against the last release's (scripts/abi; also in check) ----

abi-check: $(LIB_SO)
	$(Q)scripts/abi check $(LIB_SO)

abi-baseline: $(LIB_SO)
	$(Q)scripts/abi baseline $(LIB_SO)

# ---- install ----------------------------------------------------------------

install: $(LIB_SO) $(LIB_A) $(TOOL)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(TOOL) $(DESTDIR)$(BINDIR)/pcram
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libpcram.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libpcram.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	$(pc_subst) > $(DESTDIR)$(LIBDIR)/pkgconfig/libpcram.pc
	install -m 0644 lib/include/pcram.h $(DESTDIR)$(INCLUDEDIR)/
	install -D -m 0644 kmod/include/uapi/linux/pcram.h \
		$(DESTDIR)$(INCLUDEDIR)/linux/pcram.h
	install -m 0644 Documentation/pcram.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 tools/pcram.bash-completion \
		$(DESTDIR)$(BASHCOMPDIR)/pcram
	install -m 0644 Documentation/man3/*.3 $(DESTDIR)$(MANDIR)/man3/

clean:
	rm -rf $(B)/lib $(B)/tools $(B)/selftests $(B)/examples $(B)/pcram $(B)/vm $(RESULTS)
	-$(MAKE) -C kmod clean >/dev/null 2>&1

distclean: clean
	rm -rf $(B)

.PHONY: all userspace help deps linux-src kmod demo run-host run-vm \
	check-host vmcheck check vmrun abi-check abi-baseline install clean distclean
