// Interposes glibc's malloc family to count allocations per thread, attributing each to its
// immediate caller's shared object (see blas_aware_malloc_counter.hpp).
#include "blas_aware_malloc_counter.hpp"

#include <link.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* ptr, std::size_t size);
}

namespace {

struct Range {
  std::uintptr_t lo = 0, hi = 0;
};
constexpr int kMaxRanges = 16;
Range ranges[kMaxRanges];  // executable segments of the external libraries
int range_count = 0;
bool ranges_ready = false;

thread_local long own_calls = 0;  // initial-exec TLS in the executable: no allocation to reach
thread_local long external_calls = 0;

int collect(dl_phdr_info* info, std::size_t, void*) {
  const char* name = info->dlpi_name;
  if (!name || (!std::strstr(name, "openblas") && !std::strstr(name, "libgfortran") &&
                !std::strstr(name, "libblas") && !std::strstr(name, "liblapack.")))
    return 0;
  for (int i = 0; i < info->dlpi_phnum && range_count < kMaxRanges; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    ranges[range_count++] = Range{lo, lo + ph.p_memsz};
  }
  return 0;
}

void count(void* caller) {
  const auto pc = reinterpret_cast<std::uintptr_t>(caller);
  for (int i = 0; i < range_count; ++i)
    if (pc >= ranges[i].lo && pc < ranges[i].hi) {
      ++external_calls;
      return;
    }
  ++own_calls;
}

}  // namespace

extern "C" {
void* malloc(std::size_t size) {
  count(__builtin_return_address(0));
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  count(__builtin_return_address(0));
  return __libc_calloc(n, size);
}
void* realloc(void* ptr, std::size_t size) {
  count(__builtin_return_address(0));
  return __libc_realloc(ptr, size);
}
}

namespace signdyn::test {
MallocCounts malloc_counts() {
  if (!ranges_ready) {
    dl_iterate_phdr(collect, nullptr);
    ranges_ready = true;
  }
  return MallocCounts{own_calls, external_calls};
}
}  // namespace signdyn::test
