# Writes a C++ header holding the text of INPUT as a raw string literal (run with cmake -P).
#   cmake -DINPUT=configs/default.toml -DOUTPUT=.../signdyn_default_config.hpp -P embed_text.cmake
file(READ "${INPUT}" text)
set(delimiter "signdyn_toml")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${delimiter}\"")
endif()
file(WRITE "${OUTPUT}"
  "// Generated from ${INPUT} by src/config/embed_text.cmake; do not edit.\n"
  "#pragma once\n#include <string_view>\n"
  "namespace signdyn::detail {\n"
  "inline constexpr std::string_view kDefaultConfigText = R\"${delimiter}(${text})${delimiter}\";\n"
  "}  // namespace signdyn::detail\n")
