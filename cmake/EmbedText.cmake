# Turns text files into a C++ source that holds them as byte arrays, so
# that report.html can inline them (the browser opening it fetches nothing).
# Runs at build time: an edit to a source file rebuilds the array.
#   cmake -DOUT=x.cpp -DNAMESPACE=ns -DFILES="name1=path1;name2=path2" -P EmbedText.cmake
set(body "// Generated from the files named below; do not edit.\n#include <string_view>\nnamespace ${NAMESPACE} {\n")
foreach(pair IN LISTS FILES)
  string(REPLACE "=" ";" parts "${pair}")
  list(GET parts 0 name)
  list(GET parts 1 path)
  file(READ "${path}" hex HEX)
  string(LENGTH "${hex}" hex_len)
  math(EXPR size "${hex_len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "// ${path}\nstatic const unsigned char ${name}_bytes[] = {${bytes}0};\n"
         "extern const std::string_view ${name}{reinterpret_cast<const char*>(${name}_bytes), ${size}};\n")
endforeach()
string(APPEND body "}  // namespace ${NAMESPACE}\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
