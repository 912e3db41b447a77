# cmake -DIN=FILE -DOUT=FILE.cpp -DSYMBOL=name -P cmake/embed.cmake
# Writes FILE's bytes into a C++ source as `extern const unsigned char SYMBOL[]` and
# `extern const std::size_t SYMBOL_size`, so that the binary carries the file.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" chars)
math(EXPR size "${chars} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){32})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by cmake/embed.cmake.\n#include <cstddef>\n"
  "extern const unsigned char ${SYMBOL}[];\nextern const std::size_t ${SYMBOL}_size;\n"
  "const unsigned char ${SYMBOL}[] = {\n${bytes}0x00};\nconst std::size_t ${SYMBOL}_size = ${size};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
