# spanprof — plain GNU make build.
#
#   make            build the CLI, libspanprof.so and the static core library
#   make demo       profile a bundled workload; writes a pprof file and a flame graph
#   make test       unit tests (normal and ASan/UBSan builds) and integration tests
#   make bench      benchmarks, side by side with the reference tools
#   make install    PREFIX=/usr/local DESTDIR=
#
# Objects go to $(BUILD) (default build/); `make BUILD=build-x` keeps trees apart.
# Sources are discovered by directory, so a new module needs no Makefile edit:
#   profiler/cli/*.c     the `spanprof` command only
#   profiler/preload/*.c libspanprof.so only (constructors, interposed symbols)
#   profiler/*/*.c, symbolizer/*.c   the core (layers: README, Layout), linked into both
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

# libcurl: headers only; profiler/sinks/curl_dl.c dlopens it when a Pyroscope
# server is configured, so a preloaded process that never uploads does not
# map libcurl and its ~28 dependencies (OpenSSL, Kerberos, LDAP...).
LINK_PKGS  = $(filter-out libcurl,$(PKGS))
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -lm
# libspanprof.so is the thin capture layer: it links libc only. Unwinding,
# symbolization, compression and export run in the consumer (the spanprof
# executable), so none of libdw, libelf, zlib, protobuf-c, libunwind or
# libcurl is ever mapped into a profiled process.

WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
# `override`: a variable set on the command line (`make CFLAGS=-O0`) would
# otherwise replace these appends too. Without -fvisibility=hidden every
# internal sp_* function is exported from libspanprof.so and can be bound by
# (or bind to) the host's own symbols of the same name; without -fPIC the
# library does not link. CFLAGS from the user choose optimisation and
# debug info only.
CFLAGS   ?= -O2 -g
override CPPFLAGS += -D_GNU_SOURCE -Iinclude -Iprofiler -I. -I$(BUILD)/pprof-proto
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

CLI_SRCS     := $(sort $(wildcard profiler/cli/*.c))
PRELOAD_SRCS := $(sort $(wildcard profiler/preload/*.c))
# What runs inside the profiled process, besides the preload entry points.
CAPTURE_SRCS := profiler/capture/capture_link.c profiler/capture/capture_perf.c profiler/capture/capture_timer.c \
                profiler/base/config.c profiler/base/env.c profiler/base/error.c profiler/base/log.c profiler/capture/profiler.c \
                profiler/abi/link_proto.c profiler/abi/ring.c profiler/abi/shm.c \
                profiler/capture/sighandler.c profiler/abi/span.c profiler/capture/threads.c \
                profiler/capture/heap.c
CORE_SRCS    := $(sort $(filter-out $(CLI_SRCS) $(PRELOAD_SRCS),$(wildcard profiler/*/*.c)) \
                       $(wildcard symbolizer/*.c))
UNIT_SRCS    := $(sort $(wildcard tests/unit/test_*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJS    := $(call obj,$(CORE_SRCS)) $(BUILD)/obj/pprof-proto/profile.pb-c.o
CLI_OBJS     := $(call obj,$(CLI_SRCS))
PRELOAD_OBJS := $(call obj,$(PRELOAD_SRCS))
CAPTURE_OBJS := $(call obj,$(CAPTURE_SRCS))
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

CORE_LIB   := $(BUILD)/libspanprof_core.a
SHARED_LIB := $(BUILD)/libspanprof.so
CLI        := $(BUILD)/spanprof

.PHONY: all demo test unit-tests test-progs bench install uninstall clean fuzz deps
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

# The allocation hooks read the caller's frame pointer from their own frame.
$(BUILD)/obj/profiler/preload/preload_malloc.o: override CFLAGS += -fno-omit-frame-pointer

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The preload library: core + constructors. -Bsymbolic keeps our own internal
# calls from being interposed by the host; exported symbols are the public API
# and the interposed libc entry points only (-fvisibility=hidden elsewhere).
$(SHARED_LIB): $(PRELOAD_OBJS) $(CAPTURE_OBJS)
	$(CC) -shared -Wl,-Bsymbolic -Wl,-z,defs -Wl,-soname,libspanprof.so $(LDFLAGS) \
	    -o $@ $^ $(LDLIBS)

$(CLI): $(CLI_OBJS) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(CORE_LIB) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_LIB) tests/unit/test_util.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(CORE_LIB) \
	    $(LDFLAGS) $(PKG_LIBS) -lcmocka $(LDLIBS)

# ---- test programs ------------------------------------------------------
# What the integration scripts run (they compile nothing themselves), built
# in each tree: $(BUILD)/tests/{workloads,tools,fuzz}/NAME from
# tests/{workloads,tools,fuzz}/NAME.c. Workloads stand for the programs users
# profile, so they get their own flags (not CFLAGS, and no sanitizer in the
# ASan tree); tools link the core and get the tree's sanitizer. Sources by
# absolute path, so that debug info names them as the tests expect.
WL       := $(BUILD)/tests/workloads
TOOLS    := $(BUILD)/tests/tools
WL_HDRS  := $(wildcard tests/workloads/*.h)
# Optimised and with no frame pointers anywhere, like the binaries they
# stand for.
WL_CFLAGS := -O2 -g -fomit-frame-pointer
WL_PLAIN := cpu_split cpu_threads deep_stack drop_priv exec_forms fd_clash host_signals \
            jit_frames kernel_split lifecycle no_perf stress lossless dlclose_burn \
            checksum_service uid_burn app_signals alloc_bench
$(WL)/cpu_split $(WL)/stress $(WL)/dlclose_burn: WL_LIBS := -ldl
$(WL)/cpu_threads $(WL)/fd_clash $(WL)/host_signals $(WL)/lifecycle $(WL)/stress $(WL)/app_signals \
    $(WL)/alloc_bench: \
    WL_LIBS += -pthread
$(addprefix $(WL)/,$(WL_PLAIN)): $(WL)/%: tests/workloads/%.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -o $@ $(abspath $<) $(WL_LIBS)
# libhot.so: dlopened by cpu_split and stress.
$(WL)/libhot.so: tests/workloads/hot_lib.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -shared -fPIC -o $@ $(abspath $<)
# libdlburn.so: dlopened, burned in and dlclosed by dlclose_burn.
$(WL)/libdlburn.so: tests/workloads/dlclose_lib.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -shared -fPIC -o $@ $(abspath $<)
# An application shipping its own libz.so.1 (no symbol versions, found by
# RPATH $ORIGIN/lib), as bundled products do.
$(WL)/bundled/lib/libz.so.1: tests/workloads/zlib_stub.c
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -shared -fPIC -Wl,-soname,libz.so.1 -o $@ $(abspath $<)
$(WL)/bundled/bundled_zlib: tests/workloads/bundled_zlib.c $(WL)/bundled/lib/libz.so.1
	$(CC) $(WL_CFLAGS) -o $@ $(abspath $<) $(WL)/bundled/lib/libz.so.1 \
	    -Wl,--disable-new-dtags -Wl,-rpath,'$$ORIGIN/lib'
# Linked with -lspanprof (no LD_PRELOAD); finds the library by rpath.
$(WL)/api_start: tests/workloads/api_start.c $(SHARED_LIB) include/spanprof.h
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -Iinclude -o $@ $(abspath $<) -L$(BUILD) -Wl,--no-as-needed -lspanprof \
	    -Wl,--as-needed -Wl,-rpath,$(abspath $(BUILD))
# Span workloads: frame pointers or not as the compiler likes.
$(WL)/pyro_spans: tests/workloads/pyro_spans.c include/spanprof.h $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -Iinclude -o $@ $(abspath $<)
$(WL)/span_split $(WL)/span_torn $(WL)/heap_split $(WL)/heap_semantics: \
    $(WL)/%: tests/workloads/%.c include/spanprof.h $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g -Iinclude -pthread -o $@ $(abspath $<)
# The symbolizer's subjects (tests/integration/symbolizer.sh): a PIE calling
# through a shared library found beside it, with and without -rdynamic, and
# C++ for demangling.
$(WL)/libchain.so: tests/workloads/inline_chain_lib.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g -fPIC -shared -o $@ $(abspath $<)
$(WL)/chain: WL_DYN := -rdynamic
$(WL)/chain $(WL)/chain_nodyn: tests/workloads/inline_chain.c $(WL)/libchain.so $(WL_HDRS)
	$(CC) -O2 -g -fPIE -pie $(WL_DYN) -o $@ $(abspath $<) -L$(WL) -lchain -Wl,-rpath,'$$ORIGIN'
$(WL)/cxx: tests/workloads/demangle.cpp
	@mkdir -p $(@D)
	$(CXX) -O2 -g -o $@ $(abspath $<)
$(WL)/heap_cxx: tests/workloads/heap_cxx.cpp
	@mkdir -p $(@D)
	$(CXX) -O2 -g -pthread -o $@ $(abspath $<)
# Its own malloc family, exported (-rdynamic) so it is the one every object binds.
$(WL)/own_malloc: tests/workloads/own_malloc.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -rdynamic -o $@ $(abspath $<)
# PLT stubs (tests/integration/plt_names.sh): lazy binding, and IBT's .plt.sec.
$(WL)/app_lazy: WL_PLT := -Wl,-z,lazy
$(WL)/app_ibt:  WL_PLT := -fcf-protection=full -Wl,-z,lazy -Wl,-z,ibtplt
$(WL)/app_lazy $(WL)/app_ibt: tests/workloads/cpu_split.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g $(WL_PLT) -o $@ $(abspath $<) -ldl

# Programs linked with the core library (its internal API).
TOOL_SAN := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all)
TOOL_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Iprofiler -I. -Itests/unit -I$(BUILD)/pprof-proto
TOOL_LINK = $(CORE_LIB) $(TOOL_SAN) $(PKG_LIBS) -ldl -pthread
$(TOOLS)/bench_unwind: TOOL_OPT := -O2 -g
$(TOOLS)/render_profile: TOOL_OPT := -O1
$(TOOLS)/pprof_tool $(TOOLS)/pyroscope_push $(WL)/span_profile_gen $(WL)/symtool: TOOL_OPT := -O1 -g
define BUILD_TOOL
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(TOOL_OPT) $(TOOL_SAN) $(TOOL_CPPFLAGS) $(PKG_CFLAGS) -o $@ $(abspath $<) $(TOOL_LINK)
endef
$(TOOLS)/%: tests/tools/%.c $(CORE_LIB)
	$(BUILD_TOOL)
$(WL)/span_profile_gen $(WL)/symtool: $(WL)/%: tests/workloads/%.c $(CORE_LIB)
	$(BUILD_TOOL)
# The fuzz target's corpus replay (tests/integration/fuzz_corpus.sh runs the
# ASan tree's).
$(BUILD)/tests/fuzz/replay: tests/fuzz/replay.c tests/fuzz/fuzz_pprof_decode.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -g -O1 $(TOOL_SAN) $(TOOL_CPPFLAGS) $(PKG_CFLAGS) -o $@ \
	    $(abspath tests/fuzz/fuzz_pprof_decode.c tests/fuzz/replay.c) $(TOOL_LINK)

TEST_PROGS := $(addprefix $(WL)/,$(WL_PLAIN) libhot.so libdlburn.so bundled/bundled_zlib \
                api_start pyro_spans span_split heap_split heap_semantics \
                span_torn libchain.so chain chain_nodyn cxx heap_cxx own_malloc app_lazy app_ibt span_profile_gen symtool) \
              $(patsubst tests/tools/%.c,$(TOOLS)/%,$(wildcard tests/tools/*.c)) \
              $(BUILD)/tests/fuzz/replay
test-progs: $(TEST_PROGS)

# The programs come with the unit tests: `make all unit-tests` is what the
# integration scripts need.
unit-tests: $(UNIT_BINS) $(TEST_PROGS)

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
