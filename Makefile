# spanprof — plain GNU make build.
#
#   make            build the CLI, libspanprof.so and the static core library
#   make demo       profile a bundled workload; writes a pprof file and a flame graph
#   make test       unit tests (normal and ASan/UBSan builds) and integration tests
#   make bench      benchmarks, side by side with the reference tools
#   make install    PREFIX=/usr/local DESTDIR=
#
# Objects go to $(BUILD) (default build/); `make BUILD=build-x` keeps trees apart.
# Sources are discovered by name, so a new module needs no Makefile edit:
#   profiler/cli*.c      the `spanprof` command only
#   profiler/preload*.c  libspanprof.so only (constructors, interposed symbols)
#   profiler/*.c, symbolizer/*.c   the core, linked into both
#   tests/unit/test_*.c  one cmocka binary each, linked with the core

.DEFAULT_GOAL := all
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
SANITIZE ?=
VERSION  := 0.1.0

PKGS := libunwind-generic libdw libelf libprotobuf-c libcurl zlib

# Install missing Debian packages before anything needs them (quiet when present).
DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP): scripts/install-deps.sh
	@scripts/install-deps.sh build
	@mkdir -p $(@D) && touch $@

# libcurl: headers only; profiler/curl_dl.c dlopens it when a Pyroscope
# server is configured, so a preloaded process that never uploads does not
# map libcurl and its ~28 dependencies (OpenSSL, Kerberos, LDAP...).
LINK_PKGS  = $(filter-out libcurl,$(PKGS))
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null)
# libspanprof.so does not link libunwind: profiler/unwind.c dlopens
# libunwind-x86_64.so.8 RTLD_LOCAL, because the shared libunwind.so.8 exports
# the 36 _Unwind_* symbols of the C++ exception ABI, and preloading it could
# bind a host's C++ code to that copy instead of libgcc_s.
SO_LIBS    = $(shell pkg-config --libs $(filter-out libunwind-generic,$(LINK_PKGS)) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
# `override`: a variable set on the command line (`make CFLAGS=-O0`) would
# otherwise replace these appends too. Without -fvisibility=hidden every
# internal sp_* function is exported from libspanprof.so and can be bound by
# (or bind to) the host's own symbols of the same name; without -fPIC the
# library does not link. CFLAGS from the user choose optimisation and
# debug info only.
CFLAGS   ?= -O2 -g
override CPPFLAGS += -D_GNU_SOURCE -Iinclude -Iprofiler -Isymbolizer -I$(BUILD)/pprof-proto
override CFLAGS   += -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -pthread
ifneq ($(SANITIZE),)
override CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
override LDFLAGS  += -fsanitize=$(SANITIZE)
endif
# glibc 2.34+ has dlopen and timer_create in libc itself; -ldl is kept for
# older toolchains. No -lstdc++: symbolizer/sym_demangle.c looks the C++
# runtime up at run time.
override LDLIBS   += -ldl -pthread

PROTO_SRC := pprof-proto/profile.proto
PROTO_C   := $(BUILD)/pprof-proto/profile.pb-c.c
PROTO_H   := $(BUILD)/pprof-proto/profile.pb-c.h

CLI_SRCS     := $(sort $(wildcard profiler/cli*.c))
PRELOAD_SRCS := $(sort $(wildcard profiler/preload*.c))
CORE_SRCS    := $(sort $(filter-out $(CLI_SRCS) $(PRELOAD_SRCS),$(wildcard profiler/*.c)) \
                       $(wildcard symbolizer/*.c))
UNIT_SRCS    := $(sort $(wildcard tests/unit/test_*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJS    := $(call obj,$(CORE_SRCS)) $(BUILD)/obj/pprof-proto/profile.pb-c.o
CLI_OBJS     := $(call obj,$(CLI_SRCS))
PRELOAD_OBJS := $(call obj,$(PRELOAD_SRCS))
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

CORE_LIB   := $(BUILD)/libspanprof_core.a
SHARED_LIB := $(BUILD)/libspanprof.so
CLI        := $(BUILD)/spanprof

.PHONY: all demo test unit-tests bench install uninstall clean fuzz deps
all: $(CLI) $(SHARED_LIB) $(CORE_LIB)

deps: $(DEPS_STAMP)

$(PROTO_C) $(PROTO_H) &: $(PROTO_SRC) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/pprof-proto
	protoc-c --proto_path=pprof-proto --c_out=$(BUILD)/pprof-proto $(PROTO_SRC)

$(BUILD)/obj/pprof-proto/profile.pb-c.o: $(PROTO_C)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(filter-out -Werror,$(CFLAGS)) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c $(PROTO_H) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The preload library: core + constructors. -Bsymbolic keeps our own internal
# calls from being interposed by the host; exported symbols are the public API
# and the interposed libc entry points only (-fvisibility=hidden elsewhere).
$(SHARED_LIB): $(PRELOAD_OBJS) $(CORE_OBJS)
	$(CC) -shared -Wl,-Bsymbolic -Wl,-z,defs -Wl,-soname,libspanprof.so $(LDFLAGS) \
	    -o $@ $^ $(SO_LIBS) $(LDLIBS)

$(CLI): $(CLI_OBJS) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(CORE_LIB) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_LIB) tests/unit/test_util.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(CORE_LIB) \
	    $(LDFLAGS) $(PKG_LIBS) -lcmocka $(LDLIBS)

unit-tests: $(UNIT_BINS)

# `make test`: install what is missing, build, run everything, print
# "N passed, N failed" last. The ASan/UBSan tree lives in build-asan.
test: | $(DEPS_STAMP)
	@scripts/install-deps.sh test
	@$(MAKE) --no-print-directory all unit-tests
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=address,undefined all unit-tests
	@BUILD=$(BUILD) ASAN_BUILD=build-asan tests/run.sh

demo: all
	@scripts/demo.sh $(BUILD)

bench: all
	@scripts/install-deps.sh bench
	@BUILD=$(BUILD) scripts/bench.sh

fuzz: | $(DEPS_STAMP)
	@scripts/install-deps.sh test
	@BUILD=$(BUILD) scripts/fuzz.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/spanprof
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/libspanprof.so
	install -m 644 include/spanprof.h $(DESTDIR)$(PREFIX)/include/spanprof.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' spanprof.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/spanprof.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/spanprof $(DESTDIR)$(PREFIX)/lib/libspanprof.so \
	    $(DESTDIR)$(PREFIX)/include/spanprof.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/spanprof.pc

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
