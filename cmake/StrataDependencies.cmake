# Every external dependency is found here, once. All come from Debian packages that
# scripts/setup.sh installs.

# Boost 1.81 exactly (Debian's libboost1.81-dev): the default 1.74 lacks Boost.URL and has an
# older Asio, so refuse anything else rather than build against the wrong headers.
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS json url)
if(NOT Boost_VERSION VERSION_EQUAL 1.81.0)
  message(FATAL_ERROR "Strata needs Boost 1.81.0 (found ${Boost_VERSION}); run scripts/setup.sh")
endif()

find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)
# hiredis 0.14: the tests' reference for RESP. Its command formatter and reply reader are the
# oracles our own writer (src/redis/command.cpp) and reader (src/redis/resp_reader.cpp) are
# checked against; the library itself does not link it.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# Content codings the gateway decodes and encodes for clients (gzip, br; zstd above).
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(BROTLI REQUIRED IMPORTED_TARGET libbrotlienc libbrotlidec)
# SQLite: the example API's database (examples/api).
find_package(SQLite3 REQUIRED)
# toml++ 3.3 (Debian's shared build): the gateway's configuration file.
pkg_check_modules(TOMLPLUSPLUS REQUIRED IMPORTED_TARGET tomlplusplus)

# xxHash: header-only use (XXH_INLINE_ALL) so the hot path inlines XXH3.
find_path(STRATA_XXHASH_INCLUDE_DIR xxhash.h REQUIRED)

if(STRATA_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  find_program(STRATA_REDIS_SERVER redis-server REQUIRED)
  include(GoogleTest)
endif()
if(STRATA_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
