# Warnings every target of the project builds with; errors unless KDR_WERROR is off.
add_library(kdr_warnings INTERFACE)
target_compile_options(kdr_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(KDR_WERROR)
  target_compile_options(kdr_warnings INTERFACE -Werror)
endif()
if(KDR_SANITIZE)
  target_compile_options(kdr_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(kdr_warnings INTERFACE -fsanitize=address,undefined)
endif()
if(KDR_FUZZ)
  # Everything instrumented for coverage; the fuzz targets add -fsanitize=fuzzer (libFuzzer's main).
  target_compile_options(kdr_warnings INTERFACE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                                                -fno-sanitize-recover=all)
  target_link_options(kdr_warnings INTERFACE -fsanitize=address,undefined)
endif()

# The third-party headers nearly every unit includes, compiled once per target instead of once
# per unit: with clang it halves the build. Not with GCC: GCC 12 reports warnings from inside
# the standard library and nlohmann/json when they come from a precompiled header
# (-Warray-bounds, -Wnull-dereference) that it rightly leaves alone in an included one.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(kdr_pch_default ON)
else()
  set(kdr_pch_default OFF)
endif()
option(KDR_PCH "Precompile the common third-party headers (default: with clang)" ${kdr_pch_default})
if(KDR_PCH)
  target_precompile_headers(kdr_warnings INTERFACE
    <string> <vector> <map> <memory> <functional> <optional> <chrono>
    <fmt/format.h> <nlohmann/json.hpp> <boost/filesystem.hpp>)
endif()
