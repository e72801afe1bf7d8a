# stallwatch_bpf_object(<name> <source.bpf.c>) compiles a CO-RE BPF program
# against the checked-in bpf/vmlinux/<arch>/vmlinux.h and gives an INTERFACE
# target <name>_skel carrying the generated skeleton header. The build never
# reads the build host's kernel: CO-RE relocates against the running
# kernel's BTF at load time, so the header only has to name every type and
# field the programs use (it was dumped from a 6.18 kernel, a superset of
# what 5.10 through 6.18 offer; older layouts are flavours in
# bpf/core_fixes.bpf.h). -DSTALLWATCH_BTF=<file> regenerates it from that
# BTF instead, for an architecture without a checked-in header.

find_program(STALLWATCH_CLANG NAMES clang clang-14)
find_program(STALLWATCH_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
find_program(STALLWATCH_LLVM_STRIP NAMES llvm-strip llvm-strip-14)
set(STALLWATCH_BTF "" CACHE FILEPATH
  "Kernel BTF to generate vmlinux.h from instead of the checked-in header")

if(NOT STALLWATCH_CLANG)
  message(FATAL_ERROR "clang not found: install Debian package 'clang'")
endif()
if(NOT STALLWATCH_BPFTOOL)
  message(FATAL_ERROR "bpftool not found: install Debian package 'bpftool'")
endif()
if(NOT STALLWATCH_LLVM_STRIP)
  message(FATAL_ERROR "llvm-strip not found: install Debian package 'llvm'")
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(STALLWATCH_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(STALLWATCH_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(STALLWATCH_VMLINUX_CHECKED_IN ${CMAKE_SOURCE_DIR}/bpf/vmlinux/${STALLWATCH_BPF_ARCH}/vmlinux.h)
if(NOT STALLWATCH_BTF AND NOT EXISTS ${STALLWATCH_VMLINUX_CHECKED_IN})
  message(FATAL_ERROR "no checked-in vmlinux.h for ${STALLWATCH_BPF_ARCH}: pass "
    "-DSTALLWATCH_BTF=/sys/kernel/btf/vmlinux (a kernel with CONFIG_DEBUG_INFO_BTF=y)")
endif()
if(STALLWATCH_BTF AND NOT EXISTS ${STALLWATCH_BTF})
  message(FATAL_ERROR "no kernel BTF at ${STALLWATCH_BTF}")
endif()
if(STALLWATCH_BTF)
  set(STALLWATCH_VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
else()
  get_filename_component(STALLWATCH_VMLINUX_DIR ${STALLWATCH_VMLINUX_CHECKED_IN} DIRECTORY)
endif()

# Call once, in the directory that builds the BPF objects (Makefile
# generators only see custom-command outputs of their own directory).
function(stallwatch_vmlinux_header)
  if(NOT STALLWATCH_BTF)
    add_custom_target(stallwatch_vmlinux)
    return()
  endif()
  add_custom_command(
    OUTPUT ${STALLWATCH_VMLINUX_DIR}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${STALLWATCH_VMLINUX_DIR}
    COMMAND ${STALLWATCH_BPFTOOL} btf dump file ${STALLWATCH_BTF} format c
            > ${STALLWATCH_VMLINUX_DIR}/vmlinux.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${STALLWATCH_VMLINUX_DIR}/vmlinux.h.tmp
            ${STALLWATCH_VMLINUX_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from ${STALLWATCH_BTF}"
    VERBATIM)
  # One target owns the rule; every BPF object waits for it, so parallel
  # builds never run bpftool twice into the same file.
  add_custom_target(stallwatch_vmlinux DEPENDS ${STALLWATCH_VMLINUX_DIR}/vmlinux.h)
endfunction()

function(stallwatch_bpf_object name src)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  get_filename_component(abs_src ${src} ABSOLUTE)
  file(GLOB bpf_headers ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${STALLWATCH_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${STALLWATCH_BPF_ARCH}
            -Wall -Werror
            -I${STALLWATCH_VMLINUX_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}
            -c ${abs_src} -o ${obj}.tmp
    # Keeps BTF (CO-RE needs it) but drops DWARF: 2 MB -> tens of KB embedded.
    COMMAND ${STALLWATCH_LLVM_STRIP} -g ${obj}.tmp -o ${obj}
    DEPENDS ${abs_src} ${bpf_headers} ${STALLWATCH_VMLINUX_DIR}/vmlinux.h
    COMMENT "BPF ${name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${STALLWATCH_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_dependencies(${name}_skel_gen stallwatch_vmlinux)
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
endfunction()
