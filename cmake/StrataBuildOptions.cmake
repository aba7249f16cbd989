# Compiler settings shared by every Strata target, as an interface target rather than global
# flags, so that third-party code we build is left alone.

set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

find_program(STRATA_CCACHE ccache)
if(STRATA_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${STRATA_CCACHE}")
endif()

add_library(strata_build_options INTERFACE)
add_library(strata::build_options ALIAS strata_build_options)
target_compile_features(strata_build_options INTERFACE cxx_std_20)
target_compile_options(strata_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
  # GCC 12 reports impossible memcpy overlaps inside std::string concatenation (GCC bug 105651).
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)

if(STRATA_SANITIZE)
  if(NOT STRATA_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
    message(FATAL_ERROR
      "STRATA_SANITIZE='${STRATA_SANITIZE}' is not supported: use 'address,undefined' or 'thread' "
      "(ASan and TSan cannot be combined).")
  endif()
  target_compile_options(strata_build_options INTERFACE
    -fsanitize=${STRATA_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(strata_build_options INTERFACE -fsanitize=${STRATA_SANITIZE})
  # Asio's reference counts use atomic_thread_fence, which GCC's TSan does not model; GCC warns
  # at every use. The resulting false reports are suppressed in tests/tsan.supp, with the reason.
  if(STRATA_SANITIZE STREQUAL "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(strata_build_options INTERFACE -Wno-tsan)
  endif()
endif()

# Fuzzing: every Strata target gets libFuzzer's coverage instrumentation; the fuzzers themselves
# link libFuzzer's main (fuzz/CMakeLists.txt).
if(STRATA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "STRATA_FUZZ needs clang (libFuzzer): use the \"fuzz\" preset (clang++-15)")
  endif()
  target_compile_options(strata_build_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
