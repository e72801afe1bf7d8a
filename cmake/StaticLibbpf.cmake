# libbpf, libelf and zlib linked statically so the agent runs on a node that
# has none of them installed.
find_library(STALLWATCH_LIBBPF_A NAMES libbpf.a)
find_library(STALLWATCH_LIBELF_A NAMES libelf.a)
find_library(STALLWATCH_LIBZ_A NAMES libz.a)
foreach(lib LIBBPF_A:libbpf-dev LIBELF_A:libelf-dev LIBZ_A:zlib1g-dev)
  string(REPLACE ":" ";" parts ${lib})
  list(GET parts 0 var)
  list(GET parts 1 pkg)
  if(NOT STALLWATCH_${var})
    message(FATAL_ERROR "static ${var} not found: install Debian package '${pkg}'")
  endif()
endforeach()

add_library(stallwatch_libbpf INTERFACE)
target_link_libraries(stallwatch_libbpf INTERFACE
  ${STALLWATCH_LIBBPF_A} ${STALLWATCH_LIBELF_A} ${STALLWATCH_LIBZ_A})
