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

# libbpf parses the kernel's BTF once per object it loads, with no way to
# share a parsed copy; agent/loader/vmlinux_btf.h shares one through these
# two wrapped calls. Its object goes on every link line that has libbpf
# (an archive member would be pulled in only if the agent's own code named
# it, and libbpf's references come after the agent's archives).
add_library(stallwatch_btf_share OBJECT ${CMAKE_CURRENT_SOURCE_DIR}/agent/loader/vmlinux_btf.cpp)
target_include_directories(stallwatch_btf_share PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/agent)
target_link_libraries(stallwatch_btf_share PRIVATE spdlog::spdlog)
target_link_libraries(stallwatch_libbpf INTERFACE $<TARGET_OBJECTS:stallwatch_btf_share> spdlog::spdlog)
target_link_options(stallwatch_libbpf INTERFACE "LINKER:--wrap=btf__load_vmlinux_btf,--wrap=btf__free")
add_dependencies(stallwatch_libbpf stallwatch_btf_share)
