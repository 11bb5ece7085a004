# omcache-rs: builds libomcache.so.0 / libomcache.a (the OMcache 0.3 C API on
# a Rust core) and runs every test.
#
#   make                 build/lib/libomcache.so.0 (+ .so symlink, .a) and
#                        build/include/ (the public headers)
#   make install         PREFIX=/usr/local [DESTDIR=...]
#   make check           the portable tests: cargo test --locked --release,
#                        check-symbols, the C examples (c-examples/run.sh),
#                        the pinning regressions (tests-c/pinning.sh);
#                        needs memcached on PATH (servers on 127.0.0.1/::1
#                        only), downloads nothing, no fmt/clippy/valgrind
#   make test            fmt, clippy, check, and then header / install checks,
#                        key-mapping comparison, threads, fork, pinning under
#                        valgrind, the outside probes, failover report,
#                        memcheck (needs cbindgen, installs the pinned one)
#   make check-header    public headers vs the Rust FFI (cbindgen drift check)
#   make check-symbols   exported symbols and their versions (objdump -T)
#   make check-install   install into a temporary prefix, build and run a
#                        program through pkg-config
#   make check-threads   one handle shared by 8 threads, callbacks calling
#                        into their own handle (tests-c/threads.c)
#   make check-fork      a handle used across fork(): no socket or thread
#                        before the first I/O, the child gets its own
#                        connections (tests-c/fork.c)
#   make check-pinning   values stay valid through resets and big multi-gets,
#                        also under valgrind (tests-c/pinning.c)
#   make check-probes    ../shared/probes/run.sh when it is there
#   make check-lmc-header the libmemcached C face's headers vs Debian's
#   make memcheck        the C examples, keymap programs and threads test
#                        under valgrind memcheck: no errors, no leaks
#   make failover-report kill -9 one of 4 servers under load: time until its
#                        keys move, failed calls, time to recover after restart
#   make fuzz-smoke      every cargo-fuzz target for 10 s (needs cargo-fuzz;
#                        not part of test: installing and building it takes
#                        minutes; see fuzz/README.md for the long runs)
#   make python          the Python package: a venv in build/pyenv (Debian's
#                        python3 with its site packages, so python3-pylibmc
#                        is importable beside ours), maturin, pytest and
#                        pymemcache (python/bench/bench_tls.py compares with
#                        it) from PyPI, the abi3 wheel in build/wheels,
#                        installed
#   make check-python    pytest python/tests against real memcached servers
#   make demo | bench | clean
#
# Packaging: every cargo build and test runs with --locked (Cargo.lock is
# used as is, never updated); the link of libomcache.so.0 takes CFLAGS and
# LDFLAGS from the command line or environment (after our own flags, so
# e.g. dpkg-buildflags' hardening flags apply), and so do the C programs the
# test scripts build.  The shared object is installed with mode 0644.
#
# Timing: OMCACHE_TEST_SLACK (a factor, default 1.0) multiplies every upper
# time bound the tests assert (Rust and C), e.g. OMCACHE_TEST_SLACK=5 on a
# slow or heavily loaded machine; memcheck sets at least 10 for its runs.
#
# The shared object is linked by the C compiler from the Rust staticlib,
# because rustc's own version script for a cdylib would bind every export to
# the base version; omcache.map gives OMcache 0.3's OMCACHE_0.1 / OMCACHE_0.2
# nodes and keeps everything else local.

CARGO ?= cargo
CC ?= cc
CXX ?= c++
PKG_CONFIG ?= pkg-config
CBINDGEN ?= cbindgen
CBINDGEN_VERSION := 0.29.4
CFLAGS ?=
LDFLAGS ?=

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
# The libmemcached face installs into directories of its own, never over the
# system's libmemcached (README: "libmemcached programs" says how to make it
# the system's).
LMC_LIBDIR ?= $(LIBDIR)/omcache-libmemcached
LMC_INCLUDEDIR ?= $(INCLUDEDIR)/omcache-libmemcached
DESTDIR ?=

VERSION := 0.3.0
SONAME := libomcache.so.0

BUILD := build
CARGO_TARGET_DIR ?= target
STATICLIB := $(CARGO_TARGET_DIR)/release/libomcache.a
SHLIB := $(BUILD)/lib/$(SONAME)
LMC_SHLIB := $(BUILD)/libmemcached/libmemcached.so.11
HEADERS := include/omcache.h include/omcache_cdef.h

# What the Rust staticlib needs from the system (rustc --print
# native-static-libs: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc); with glibc
# >= 2.34 most of these are empty stubs, --as-needed drops them.
NATIVE_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
SHLIB_LDFLAGS := -shared -Wl,-soname,$(SONAME) -Wl,--version-script=omcache.map \
	-Wl,--no-undefined -Wl,--gc-sections -Wl,--as-needed

STEP = @printf '\n==> %s\n' 

# Every valgrind run of the tests takes the suite's suppressions (tests-c/valgrind.supp: a
# false report in glibc's loader).
export VALGRIND_OPTS := --suppressions=$(CURDIR)/tests-c/valgrind.supp $(VALGRIND_OPTS)

.PHONY: all cargo-build install uninstall check test check-memcached check-header check-symbols \
	check-install check-threads check-fork python check-python check-pinning check-probes check-lmc-header memcheck failover-report fuzz-smoke demo \
	bench clean \
	cbindgen FORCE

all: $(SHLIB) $(LMC_SHLIB) $(BUILD)/lib/libomcache.so $(BUILD)/lib/libomcache.a \
	$(BUILD)/include/omcache.h $(BUILD)/include/omcache_cdef.h

# cargo decides whether anything needs rebuilding; the archive's timestamp
# only moves when it did, so the link below reruns only then.
$(STATICLIB): FORCE
	$(CARGO) build --locked --release

$(SHLIB): $(STATICLIB) omcache.map
	@mkdir -p $(@D)
	$(CC) $(SHLIB_LDFLAGS) $(CFLAGS) $(LDFLAGS) -o $@.tmp \
		-Wl,--whole-archive $(STATICLIB) -Wl,--no-whole-archive $(NATIVE_LIBS)
	mv -f $@.tmp $@

# libmemcached.so.11 from the same archive, with libmemcached's (unversioned) exports only.
# Kept in a directory of its own so that it never shadows the system's libmemcached unless a
# program is pointed at it (LD_LIBRARY_PATH / LD_PRELOAD).
# Debian's libmemcached.so.11 needs libsasl2.so.2, and programs lean on that: python3-pylibmc's
# _pylibmc calls sasl_client_init/sasl_done without linking libsasl2 itself. Ours names it
# too (when the system has it), so such programs still load with ours substituted.
SASL2_SO := $(shell $(CC) -print-file-name=libsasl2.so.2)
ifneq ($(wildcard $(SASL2_SO)),)
LMC_COMPAT_LIBS := -Wl,--no-as-needed -l:libsasl2.so.2 -Wl,--as-needed
endif

$(LMC_SHLIB): $(STATICLIB) libmemcached.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libmemcached.so.11 -Wl,--version-script=libmemcached.map \
		-Wl,--no-undefined -Wl,--gc-sections -Wl,--as-needed $(CFLAGS) $(LDFLAGS) -o $@.tmp \
		-Wl,--whole-archive $(STATICLIB) -Wl,--no-whole-archive $(NATIVE_LIBS) $(LMC_COMPAT_LIBS)
	mv -f $@.tmp $@

$(BUILD)/lib/libomcache.so: $(SHLIB)
	ln -sf $(SONAME) $@

$(BUILD)/lib/libomcache.a: $(STATICLIB)
	@mkdir -p $(@D)
	cp -f $< $@

$(BUILD)/include/%.h: include/%.h
	@mkdir -p $(@D)
	cp -f $< $@

$(BUILD)/omcache.pc: omcache.pc.in Makefile FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		-e 's|@LIBS_PRIVATE@|$(filter-out -lc,$(NATIVE_LIBS))|g' $< >$@

LMC_PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LMC_LIBDIR@|$(LMC_LIBDIR)|g' \
	-e 's|@LMC_INCLUDEDIR@|$(LMC_INCLUDEDIR)|g'

$(BUILD)/omcache-libmemcached.pc: omcache-libmemcached.pc.in Makefile FORCE
	@mkdir -p $(@D)
	$(LMC_PC_SED) -e 's|@NAME@|omcache-libmemcached|' -e 's|@PC_VERSION@|$(VERSION)|' $< >$@

$(BUILD)/libmemcached.pc: omcache-libmemcached.pc.in Makefile FORCE
	@mkdir -p $(@D)
	$(LMC_PC_SED) -e 's|@NAME@|libmemcached|' -e 's|@PC_VERSION@|1.1.4|' $< >$@

LMC_HEADER_DIRS := libmemcached libmemcached-1.0 libmemcached-1.0/struct libmemcached-1.0/types \
	libmemcachedutil-1.0 libhashkit libhashkit-1.0

install: all $(BUILD)/omcache.pc $(BUILD)/omcache-libmemcached.pc $(BUILD)/libmemcached.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 0644 $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libomcache.so
	install -m 0644 $(BUILD)/lib/libomcache.a $(DESTDIR)$(LIBDIR)/libomcache.a
	install -m 0644 $(BUILD)/omcache.pc $(DESTDIR)$(LIBDIR)/pkgconfig/omcache.pc
	install -m 0644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	install -d $(DESTDIR)$(LMC_LIBDIR)/pkgconfig
	install -m 0644 $(LMC_SHLIB) $(DESTDIR)$(LMC_LIBDIR)/libmemcached.so.11
	ln -sf libmemcached.so.11 $(DESTDIR)$(LMC_LIBDIR)/libmemcached.so
	install -m 0644 $(BUILD)/libmemcached.pc $(DESTDIR)$(LMC_LIBDIR)/pkgconfig/libmemcached.pc
	install -m 0644 $(BUILD)/omcache-libmemcached.pc \
		$(DESTDIR)$(LIBDIR)/pkgconfig/omcache-libmemcached.pc
	for d in $(LMC_HEADER_DIRS); do \
		install -d $(DESTDIR)$(LMC_INCLUDEDIR)/$$d && \
		install -m 0644 include/$$d/*.h $(DESTDIR)$(LMC_INCLUDEDIR)/$$d/ || exit 1; \
	done
	install -m 0644 include/omcache_libmemcached.h include/omcache_libmemcachedutil.h \
		include/omcache_libhashkit.h $(DESTDIR)$(LMC_INCLUDEDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libomcache.so \
		$(DESTDIR)$(LIBDIR)/libomcache.a $(DESTDIR)$(LIBDIR)/pkgconfig/omcache.pc \
		$(DESTDIR)$(INCLUDEDIR)/omcache.h $(DESTDIR)$(INCLUDEDIR)/omcache_cdef.h \
		$(DESTDIR)$(LIBDIR)/pkgconfig/omcache-libmemcached.pc
	rm -rf $(DESTDIR)$(LMC_LIBDIR) $(DESTDIR)$(LMC_INCLUDEDIR)

# The pinned cbindgen used by the drift check; installed when missing or when
# another version is on PATH (its output format is what the check parses).
cbindgen:
	@if [ "$$($(CBINDGEN) --version 2>/dev/null)" != "cbindgen $(CBINDGEN_VERSION)" ]; then \
		echo "installing cbindgen $(CBINDGEN_VERSION)"; \
		$(CARGO) install cbindgen --version $(CBINDGEN_VERSION) --locked; \
	fi

# memcached is needed by the cargo integration tests and the C examples; say so
# at once instead of failing (or installing it) deep inside a test.
check-memcached:
	@command -v memcached >/dev/null 2>&1 || { \
		echo "make: memcached is not on PATH; the tests start throwaway memcached servers" >&2; \
		echo "make: on 127.0.0.1 and ::1 (Debian: apt-get install memcached)" >&2; \
		exit 1; }

check-header: cbindgen
	$(STEP)"check-header: include/omcache.h vs the Rust FFI src/ffi/omcache/ (cbindgen)"
	CC="$(CC)" CXX="$(CXX)" CBINDGEN="$(CBINDGEN)" BUILD_DIR="$(CURDIR)/$(BUILD)" \
		tests-c/header-check.sh

check-symbols: all
	$(STEP)"check-symbols: exports and versions of $(SHLIB) and $(LMC_SHLIB)"
	tests-c/check-symbols.sh $(SHLIB)
	tests-c/check-lmc-exports.sh $(LMC_SHLIB)

check-install: all
	$(STEP)"check-install: install to a temporary prefix, build via pkg-config, run"
	MAKE="$(MAKE)" CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" PKG_CONFIG="$(PKG_CONFIG)" \
		tests-c/install-check.sh

check-threads: all
	$(STEP)"check-threads: one handle, 8 threads, re-entrant callbacks (tests-c/threads.sh)"
	CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" tests-c/threads.sh

check-fork: all
	$(STEP)"check-fork: a handle across fork() (tests-c/fork.sh)"
	CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" tests-c/fork.sh

# The libmemcached 1.1.4 C face's public headers against Debian's: layouts, enum values,
# prototypes, C and C++ compiles (needs libmemcached-dev; LMC_STRICT: a skipped check fails).
check-lmc-header:
	$(STEP)"check-lmc-header: include/omcache_libmemcached.h vs Debian's libmemcached headers"
	CC="$(CC)" CXX="$(CXX)" LMC_STRICT=1 tests-c/lmc-header-check.sh

check-pinning: all
	$(STEP)"check-pinning: values survive resets, big multi-gets, INVALID counts (tests-c/pinning.sh)"
	CC="$(CC)" tests-c/pinning.sh

# The outside testers' probes (../shared/probes, beside the project when it is there): five
# faults that must never come back.
check-probes: all
	@if [ -f ../shared/probes/run.sh ]; then \
		printf '\n==> %s\n' "check-probes: ../shared/probes/run.sh"; \
		NO_BUILD=1 bash ../shared/probes/run.sh || exit 1; \
	else echo "check-probes: ../shared/probes not present, skipped"; fi

memcheck: all
	$(STEP)"memcheck: C programs under valgrind memcheck (tests-c/memcheck.sh)"
	CC="$(CC)" tests-c/memcheck.sh

failover-report: all
	$(STEP)"failover-report: kill -9 of one of 4 servers (benches/failover-report.sh)"
	CC="$(CC)" benches/failover-report.sh

# The portable tests: no formatting or lint tools, no valgrind, nothing
# downloaded (cbindgen and the header drift check stay in make test).
check: check-memcached all
	$(STEP)"cargo test --locked --release"
	$(CARGO) test --locked --release
	@$(MAKE) --no-print-directory check-symbols
	$(STEP)"c-examples/run.sh"
	CC="$(CC)" CFLAGS="$(CFLAGS)" LDFLAGS="$(LDFLAGS)" c-examples/run.sh
	$(STEP)"tests-c/pinning.sh (without valgrind)"
	CC="$(CC)" NO_VALGRIND=1 tests-c/pinning.sh
	$(STEP)"make check: all steps passed"

test: check-memcached all
	$(STEP)"cargo fmt --all --check"
	$(CARGO) fmt --all --check
	$(STEP)"cargo clippy --locked --workspace --all-targets -- -D warnings"
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(STEP)"cargo doc (the Rust API's documentation builds without warnings)"
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --no-deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory check-header
	@$(MAKE) --no-print-directory check-install
	$(STEP)"compat-tests/check-imports.sh (every import of the 35 Debian objects that link libmemcached is exported by ours)"
	compat-tests/check-imports.sh
	$(STEP)"compat-tests/run-keymap.sh"
	compat-tests/run-keymap.sh
	$(STEP)"compat-tests/run-config.sh (libmemcached configuration strings and server lists vs the real library)"
	compat-tests/run-config.sh
	$(STEP)"compat-tests/run-tools.sh (Debian's libmemcached-tools on the real library and on ours)"
	compat-tests/run-tools.sh
	$(STEP)"compat-tests/run-dump.sh (memcdump lists every key with ours)"
	compat-tests/run-dump.sh
	$(STEP)"tests-c/lmc-fetch.sh (libmemcached's retrieval family on the real library and on ours, and under valgrind)"
	tests-c/lmc-fetch.sh
	$(STEP)"tests-c/lmc-counters.sh (counters, *_by_key, namespaces, callbacks, allocators on the real library and on ours, and under valgrind)"
	VALGRIND=1 tests-c/lmc-counters.sh
	$(STEP)"compat-tests/run-pylibmc.sh (Debian's python3-pylibmc on the real library and on ours; SKIP while imports are missing)"
	compat-tests/run-pylibmc.sh
	$(STEP)"tests-c/lmc-instances.sh (server instances, cursor, stats, version on the real library and on ours, and under valgrind)"
	tests-c/lmc-instances.sh
	$(STEP)"tests-c/lmc-php-calls.sh and lmc-encoding.sh (distribution/bucket/errno calls; AES encoding key, values crossing between the real library and ours)"
	VALGRIND=1 tests-c/lmc-php-calls.sh
	VALGRIND=1 tests-c/lmc-encoding.sh
	$(STEP)"tests-c/lmc-misc.sh (behavior getters, reset, push, error printing, query ids, UDP adds, retry and srcport on the real library and on ours, and under valgrind)"
	VALGRIND=1 tests-c/lmc-misc.sh
	$(STEP)"tests-c/lmc-proxy.sh (behind twemproxy, a frozen backend holds only its own keys: the real library and ours)"
	tests-c/lmc-proxy.sh
	$(STEP)"tests-c/lmc-sasl.sh (SASL PLAIN against a memcached -S on the real library and on ours, and under valgrind; needs sasl2-bin)"
	VALGRIND=1 tests-c/lmc-sasl.sh
	$(STEP)"tests-c/lmc-udp.sh (USE_UDP against memcached -U on the real library and on ours: one noreply datagram per write, reads NOT_SUPPORTED; and under valgrind)"
	VALGRIND=1 tests-c/lmc-udp.sh
	$(STEP)"tests-c/lmc-replicas.sh (NUMBER_OF_REPLICAS / RANDOMIZE_REPLICA_READ: copies and replica reads after kill -9, on the real library and on ours, and under valgrind)"
	VALGRIND=1 tests-c/lmc-replicas.sh
	@$(MAKE) --no-print-directory check-python
	$(STEP)"compat-tests/run-pgmemcache.sh (PostgreSQL 15 + Debian's pgmemcache on the real library and on ours)"
	compat-tests/run-pgmemcache.sh
	$(STEP)"compat-tests/run-perl.sh (Debian's Memcached::libmemcached on the real library and on ours, and under valgrind)"
	compat-tests/run-perl.sh
	$(STEP)"compat-tests/run-apps.sh (gearmand, collectd, kamailio scenarios; opendkim, proftpd load-and-resolve)"
	compat-tests/run-apps.sh
	$(STEP)"compat-tests/run-tls.sh (unchanged Debian tools, pylibmc, php-memcached over TLS with only OMCACHE_TLS* set)"
	compat-tests/run-tls.sh
	$(STEP)"compat-tests/run-php.sh (Debian's PHP memcached extension on the real library and on ours; getAllKeys lists every key)"
	compat-tests/run-php.sh
	@$(MAKE) --no-print-directory check-lmc-header
	$(STEP)"c-examples/libmemcached/run.sh (a libmemcached program recompiled onto ours, C and C++, vs Debian's build; under valgrind)"
	VALGRIND=1 c-examples/libmemcached/run.sh
	@$(MAKE) --no-print-directory check-threads
	@$(MAKE) --no-print-directory check-fork
	@$(MAKE) --no-print-directory check-pinning
	@$(MAKE) --no-print-directory check-probes
	@$(MAKE) --no-print-directory failover-report
	@$(MAKE) --no-print-directory memcheck
	$(STEP)"make test: all steps passed"

fuzz-smoke:
	$(STEP)"fuzz/smoke.sh"
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	fuzz/smoke.sh

demo: all
	$(STEP)"scripts/demo.sh"
	scripts/demo.sh

bench: all
	$(STEP)"benches/run.sh"
	benches/run.sh
	$(STEP)"benches/phases.sh (where a request's instructions go, against libmemcached)"
	benches/phases.sh
	$(STEP)"benches/routing.sh"
	benches/routing.sh
	$(STEP)"benches/tls.sh (TLS vs plaintext, same run)"
	benches/tls.sh
	$(STEP)"benches/bigvalue.sh (16 KB, 100 KB and 1,000,000-byte gets against libmemcached)"
	benches/bigvalue.sh
	$(STEP)"benches/cluster.sh (a get with 1 to 10,000 servers configured)"
	benches/cluster.sh

# The Python package (python/, a second crate of the cargo workspace, built
# by maturin).  Debian's python3 is used for the venv because its
# python3-pylibmc (the reference in tests and benchmarks) imports only there.
PYTHON ?= /usr/bin/python3
PYENV := $(BUILD)/pyenv

$(PYENV)/bin/maturin:
	$(PYTHON) -m venv --system-site-packages $(PYENV)
	$(PYENV)/bin/pip install -q --disable-pip-version-check 'maturin>=1.5,<2' pytest 'pymemcache>=4,<5'

python: $(PYENV)/bin/maturin
	rm -f $(BUILD)/wheels/omcache-*.whl
	cd python && CARGO_TARGET_DIR=$(abspath $(CARGO_TARGET_DIR)) \
		../$(PYENV)/bin/maturin build --locked --release -q -o ../$(BUILD)/wheels
	$(PYENV)/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps \
		$(BUILD)/wheels/omcache-*.whl

check-python: check-memcached python
	$(STEP)"pytest python/tests (the omcache package against real memcached, and Debian's python3-pylibmc beside it)"
	cd python && ../$(PYENV)/bin/python -P -m pytest -q tests

clean:
	$(CARGO) clean
	rm -rf $(BUILD)

FORCE:

# ---- libmemcached family: libhashkit.so.2 and libmemcachedutil.so.2 (begin) ----
# Both beside libmemcached.so.11 in build/libmemcached, so LD_LIBRARY_PATH=build/libmemcached
# substitutes the whole family.
#  - libhashkit.so.2: another link of the Rust staticlib (src/ffi/libhashkit) with its 33
#    unversioned exports. libmemcached.so.11 needs it, as Debian's does: a hashkit_st names its
#    algorithm by function pointer, and the handle's embedded one must hold the pointers of the
#    libhashkit the program calls (src/ffi/libhashkit/mod.rs). RUNPATH $ORIGIN finds the
#    sibling when libmemcached.so.11 is loaded by path or LD_PRELOAD.
#  - libmemcachedutil.so.2: the libmemcachedutil/ crate, linked against libmemcached.so.11
#    (NEEDED, as Debian's): it calls the public libmemcached functions, owns no engine.
HASHKIT_SHLIB := $(BUILD)/libmemcached/libhashkit.so.2
LMCUTIL_SHLIB := $(BUILD)/libmemcached/libmemcachedutil.so.2
LMCUTIL_STATICLIB := $(CARGO_TARGET_DIR)/release/libomcache_libmemcachedutil.a
# Where libmemcached.so.11 is installed (LMC_LIBDIR when the Makefile defines it).
LMC_FAMILY_LIBDIR ?= $(or $(LMC_LIBDIR),$(LIBDIR)/omcache-libmemcached)

.PHONY: install-lmc-family uninstall-lmc-family check-lmc-family

all: $(HASHKIT_SHLIB) $(LMCUTIL_SHLIB)

$(HASHKIT_SHLIB): $(STATICLIB) libhashkit.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libhashkit.so.2 -Wl,--version-script=libhashkit.map \
		-Wl,--no-undefined -Wl,--gc-sections -Wl,--as-needed $(CFLAGS) $(LDFLAGS) -o $@.tmp \
		-Wl,--whole-archive $(STATICLIB) -Wl,--no-whole-archive $(NATIVE_LIBS)
	mv -f $@.tmp $@

$(LMC_SHLIB): $(HASHKIT_SHLIB)
LMC_COMPAT_LIBS += -L$(BUILD)/libmemcached -Wl,--no-as-needed -l:libhashkit.so.2 \
	-Wl,--as-needed -Wl,-rpath,'$$ORIGIN'

$(LMCUTIL_STATICLIB): FORCE
	$(CARGO) build --locked --release -p omcache-libmemcachedutil

$(LMCUTIL_SHLIB): $(LMCUTIL_STATICLIB) $(LMC_SHLIB) libmemcachedutil.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libmemcachedutil.so.2 -Wl,--version-script=libmemcachedutil.map \
		-Wl,--no-undefined -Wl,--gc-sections -Wl,--as-needed $(CFLAGS) $(LDFLAGS) -o $@.tmp \
		-Wl,--whole-archive $(LMCUTIL_STATICLIB) -Wl,--no-whole-archive \
		-L$(BUILD)/libmemcached -Wl,-rpath-link,$(BUILD)/libmemcached -l:libmemcached.so.11 \
		-Wl,-rpath,'$$ORIGIN' $(NATIVE_LIBS)
	mv -f $@.tmp $@

# Installed with libmemcached.so.11, in the face's private directory (never the system's).
install: install-lmc-family
install-lmc-family: all
	install -d $(DESTDIR)$(LMC_FAMILY_LIBDIR)
	install -m 0644 $(HASHKIT_SHLIB) $(DESTDIR)$(LMC_FAMILY_LIBDIR)/libhashkit.so.2
	install -m 0644 $(LMCUTIL_SHLIB) $(DESTDIR)$(LMC_FAMILY_LIBDIR)/libmemcachedutil.so.2
	ln -sf libhashkit.so.2 $(DESTDIR)$(LMC_FAMILY_LIBDIR)/libhashkit.so
	ln -sf libmemcachedutil.so.2 $(DESTDIR)$(LMC_FAMILY_LIBDIR)/libmemcachedutil.so

uninstall: uninstall-lmc-family
uninstall-lmc-family:
	rm -f $(DESTDIR)$(LMC_FAMILY_LIBDIR)/libhashkit.so.2 $(DESTDIR)$(LMC_FAMILY_LIBDIR)/libhashkit.so \
		$(DESTDIR)$(LMC_FAMILY_LIBDIR)/libmemcachedutil.so.2 \
		$(DESTDIR)$(LMC_FAMILY_LIBDIR)/libmemcachedutil.so

# Exports of the two libraries; libhashkit and libmemcachedutil against Debian's (same C
# programs, outputs compared), also under valgrind; memcping over the whole family.
test: check-lmc-family
check-lmc-family: all
	$(STEP)"check-lmc-family: exports, tests-c/lmc-hashkit.sh, tests-c/lmc-util.sh"
	tests-c/check-family-exports.sh
	VALGRIND=1 tests-c/lmc-hashkit.sh
	VALGRIND=1 tests-c/lmc-util.sh
# ---- libmemcached family (end) ----
