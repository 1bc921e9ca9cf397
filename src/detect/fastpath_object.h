// The compiled BPF object of the kernel's fast path (bpf/fastpath.bpf.c), embedded at build time
// (CMakeLists.txt: clang -target bpf, then cmake/embed_file.cmake).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gh::detect {
extern const uint8_t kFastpathObject[];
extern const size_t kFastpathObjectSize;
}  // namespace gh::detect
