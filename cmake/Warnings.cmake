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
